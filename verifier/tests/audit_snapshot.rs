//! The incremental audit (issue 14 stage C): `audit --from-snapshot FILE
//! --trusted CHECKPOINT` starts from a state snapshot at size k and audits
//! entries k.. through the same follower and rules as a full audit.
//!
//! Hostile snapshots (a record changed, added or removed, another log's, a
//! frontier that is not the checkpoint's, a trusted checkpoint it is not
//! consistent with, a truncated file) are refused; on honest logs, and on
//! logs with violations after k, the incremental audit reaches the full
//! audit's verdict, failures and final state root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use regledger::cert::snapshot::{build_snapshot, frontier_indexes};
use regledger::registry::EntryKind;
use regledger::testkit::{
    chain, publish as write_published, Logged, Sequencer, Step, Testkit, DAY_MS,
};
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, Signer};
use regledger::{Hash, HashSuite};
use serde_json::{json, Value};

const ORIGIN: &str = "audit.example/snapshot";
const SUITE: HashSuite = HashSuite::Sha256;

fn log_signer() -> Signer {
    Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap()
}

/// Log is a published log in a temp dir, with what a snapshot is made of.
struct Log {
    dir: tempfile::TempDir,
    steps: Vec<Step>,
    tree: MemoryTree,
    leaves: Vec<Vec<u8>>,
}

impl Log {
    fn tiles(&self) -> PathBuf {
        self.dir.path().join("tiles")
    }
    fn log_json(&self) -> PathBuf {
        self.dir.path().join("log.json")
    }
}

fn publish(steps: Vec<Step>, signer: &Signer, origin: &str) -> Log {
    let dir = tempfile::tempdir().unwrap();
    let logged = chain(origin, SUITE, &steps);
    let leaves: Vec<Vec<u8>> = logged.iter().map(Logged::leaf_bytes).collect();
    let envs: Vec<Vec<u8>> = logged.iter().map(Logged::envelope_bytes).collect();
    write_published(dir.path(), SUITE, origin, signer, "guangxi", &leaves, &envs).unwrap();
    let mut tree = MemoryTree::new(SUITE);
    for l in &leaves {
        tree.append_data(l);
    }
    Log {
        dir,
        steps,
        tree,
        leaves,
    }
}

/// checkpoint_at is the log-signed checkpoint of the first k entries.
fn checkpoint_at(log: &Log, signer: &Signer, origin: &str, k: u64) -> String {
    let cp = Checkpoint {
        origin: origin.into(),
        size: k,
        root: log.tree.root_at(k).unwrap(),
        extensions: vec![],
    };
    sign_checkpoint(&cp, signer).unwrap()
}

/// records_at are the state map's records after the first k entries, as
/// a correct node holds them.
fn records_at(log: &Log, origin: &str, k: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut sq = Sequencer::new(origin, SUITE);
    for s in &log.steps[..k] {
        sq.next_unchecked(&s.envelope, s.time_ms);
    }
    sq.records
}

fn snapshot_with(
    log: &Log,
    signer: &Signer,
    origin: &str,
    k: u64,
    records: BTreeMap<Vec<u8>, Vec<u8>>,
) -> Vec<u8> {
    let incl = log.tree.prove_inclusion(k, k - 1).unwrap();
    let frontier: Vec<Hash> = frontier_indexes(k)
        .into_iter()
        .map(|i| log.tree.stored()[i as usize])
        .collect();
    build_snapshot(
        SUITE,
        origin,
        &checkpoint_at(log, signer, origin, k),
        k,
        &log.leaves[(k - 1) as usize],
        &incl,
        &frontier,
        records,
    )
    .unwrap()
}

fn snapshot_at(log: &Log, k: u64) -> Vec<u8> {
    let recs = records_at(log, ORIGIN, k as usize);
    snapshot_with(log, &log_signer(), ORIGIN, k, recs)
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn audit(log: &Log, extra: &[&std::ffi::OsStr]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_regledger-verify"))
        .arg("--json")
        .arg("audit")
        .arg("--dir")
        .arg(log.tiles())
        .arg("--log")
        .arg(log.log_json())
        .args(extra)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), v)
}

/// incremental audits `log` from `snapshot` with the trusted checkpoint `trusted`.
fn incremental(log: &Log, snapshot: &[u8], trusted: &str) -> (i32, Value) {
    let s = write(log.dir.path(), "snapshot.bin", snapshot);
    let t = write(log.dir.path(), "trusted.cp", trusted.as_bytes());
    audit(
        log,
        &[
            "--from-snapshot".as_ref(),
            s.as_os_str(),
            "--trusted".as_ref(),
            t.as_os_str(),
        ],
    )
}

/// steps is the testkit lifecycle with `ops` operation events after its
/// first one (so the log spans several tiles), and `tail` appended.
fn steps(kit: &Testkit, ops: usize, tail: impl Fn(&Testkit, &[Step]) -> Vec<Step>) -> Vec<Step> {
    let life = kit.lifecycle(SUITE, "guangxi");
    let at = life
        .iter()
        .position(|s| s.label == "operation event")
        .unwrap()
        + 1;
    let t0 = life[at - 1].time_ms;
    let mut v: Vec<Step> = life[..at].to_vec();
    for j in 0..ops {
        v.push(Step {
            label: "more operation events",
            envelope: kit.business.sign(
                EntryKind::OperationEvent,
                &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": t0, "actor": "svc-forecast",
                        "records": j + 1, "request_id": format!("op-{j}")}),
            ),
            time_ms: t0 + 1 + j as u64,
        });
    }
    v.extend(life[at..].iter().cloned());
    let extra = tail(kit, &v);
    v.extend(extra);
    v
}

fn no_tail(_: &Testkit, _: &[Step]) -> Vec<Step> {
    Vec::new()
}

/// with_violations appends, a week after the last entry, a replay of the
/// product suspension (a registry act from long before: caught through the
/// snapshot's committed content ids) and an operation event under an
/// agreement never filed.
fn with_violations(kit: &Testkit, v: &[Step]) -> Vec<Step> {
    let last = v.last().unwrap().time_ms;
    let susp = v.iter().find(|s| s.label == "product suspended").unwrap();
    vec![
        Step {
            label: "replayed suspension",
            envelope: susp.envelope.clone(),
            time_ms: last + 7 * DAY_MS,
        },
        Step {
            label: "operation under no agreement",
            envelope: kit.business.sign(
                EntryKind::OperationEvent,
                &json!({"agreement_id": "SA-404", "action": "access", "occurred_at_ms": last, "actor": "svc-forecast", "records": 1}),
            ),
            time_ms: last + 7 * DAY_MS + 1,
        },
    ]
}

fn failures(v: &Value) -> Vec<(Option<u64>, String)> {
    v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["index"].as_u64(),
                f["check"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_incremental_audit_reaches_the_full_audits_verdict_and_state_root() {
    let kit = Testkit::new(ORIGIN);
    let log = publish(steps(&kit, 600, no_tail), &log_signer(), ORIGIN);
    let n = log.leaves.len() as u64;
    let (code, full) = audit(&log, &[]);
    assert_eq!(code, 0, "{full}");
    assert!(full["state_root"].is_string());
    // Inside the first tile, at a tile boundary, inside a later tile, at the end.
    for k in [3, 256, 300, n] {
        let (code, inc) = incremental(
            &log,
            &snapshot_at(&log, k),
            &checkpoint_at(&log, &log_signer(), ORIGIN, k),
        );
        assert_eq!(code, 0, "k = {k}: {inc}");
        assert_eq!(inc["state_root"], full["state_root"], "k = {k}");
        assert_eq!(inc["computed_root"], full["computed_root"], "k = {k}");
        assert_eq!(inc["entries_checked"].as_u64(), Some(n - k), "k = {k}");
        assert_eq!(inc["from_snapshot"]["size"].as_u64(), Some(k));
        assert_eq!(inc["trusted"]["consistent"], true);
        assert_eq!(
            inc["products"],
            full["products"]
                .as_array()
                .map(|p| {
                    // 区块链编号 of a product registered before the snapshot needs its leaf hash,
                    // which the snapshot does not carry (the incremental report omits it).
                    let mut p = p.clone();
                    for r in &mut p {
                        let reg_index = log
                            .steps
                            .iter()
                            .position(|s| s.label == "product registered")
                            .unwrap() as u64;
                        if reg_index < k {
                            r["blockchain_no"] = Value::Null;
                        }
                    }
                    Value::Array(p)
                })
                .unwrap(),
            "k = {k}"
        );
    }
    // A trusted checkpoint after the snapshot: the entries between are
    // audited again and the log must extend it.
    let (code, inc) = incremental(
        &log,
        &snapshot_at(&log, 256),
        &checkpoint_at(&log, &log_signer(), ORIGIN, 400),
    );
    assert_eq!(code, 0, "{inc}");
    assert_eq!(inc["trusted"]["size"].as_u64(), Some(400));
    assert_eq!(inc["trusted"]["consistent"], true);
}

#[test]
fn violations_after_the_snapshot_are_caught_as_in_a_full_audit() {
    let kit = Testkit::new(ORIGIN);
    let log = publish(steps(&kit, 300, with_violations), &log_signer(), ORIGIN);
    let n = log.leaves.len() as u64;
    let (code, full) = audit(&log, &[]);
    assert_eq!(code, 1, "{full}");
    let want = failures(&full);
    assert_eq!(
        want,
        vec![
            (Some(n - 2), "rule:replayed-envelope".to_string()),
            (Some(n - 1), "rule:not-found".to_string())
        ],
        "{full}"
    );
    for k in [5, 300, n - 2] {
        let (code, inc) = incremental(
            &log,
            &snapshot_at(&log, k),
            &checkpoint_at(&log, &log_signer(), ORIGIN, k),
        );
        assert_eq!(code, 1, "k = {k}: {inc}");
        assert_eq!(failures(&inc), want, "k = {k}: {inc}");
        assert_eq!(inc["state_root"], full["state_root"], "k = {k}");
    }
}

/// The records of a snapshot at k of the default test log.
fn hostile_setup() -> (Log, u64, BTreeMap<Vec<u8>, Vec<u8>>, String) {
    let kit = Testkit::new(ORIGIN);
    let log = publish(steps(&kit, 40, no_tail), &log_signer(), ORIGIN);
    let k = 30;
    let recs = records_at(&log, ORIGIN, k as usize);
    let cp = checkpoint_at(&log, &log_signer(), ORIGIN, k);
    (log, k, recs, cp)
}

fn assert_refused(r: (i32, Value), check: &str, says: &str) {
    let (code, v) = r;
    assert_eq!(code, 1, "{v}");
    let f = &v["failures"][0];
    assert_eq!(f["check"], check, "{v}");
    assert!(f["detail"].as_str().unwrap().contains(says), "{v}");
    assert_eq!(
        v["entries_checked"], 0,
        "nothing is audited from a bad snapshot: {v}"
    );
}

#[test]
fn a_snapshot_with_a_record_changed_added_or_removed_is_refused() {
    let (log, k, recs, cp) = hostile_setup();
    let (code, v) = incremental(
        &log,
        &snapshot_with(&log, &log_signer(), ORIGIN, k, recs.clone()),
        &cp,
    );
    assert_eq!(code, 0, "the honest snapshot passes: {v}");

    // Changed: a content record says another entry set it (still canonical).
    let mut changed = recs.clone();
    let (key, _) = changed
        .iter()
        .find(|(k, _)| k.starts_with(b"content/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    changed.insert(key, br#"{"set_by":1}"#.to_vec());
    assert_refused(
        incremental(
            &log,
            &snapshot_with(&log, &log_signer(), ORIGIN, k, changed),
            &cp,
        ),
        "snapshot",
        "state root",
    );

    // Changed: a product's status edited to active in its 登记号 record.
    let mut edited = recs.clone();
    let (rk, rv) = edited
        .iter()
        .find(|(k, _)| k.starts_with(b"product/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    let text = String::from_utf8(rv).unwrap();
    let other = if text.contains("\"active\"") {
        text.replacen("\"active\"", "\"suspended\"", 1)
    } else {
        text.replacen("\"suspended\"", "\"active\"", 1)
    };
    assert_ne!(other, text);
    edited.insert(rk, other.into_bytes());
    assert_refused(
        incremental(
            &log,
            &snapshot_with(&log, &log_signer(), ORIGIN, k, edited),
            &cp,
        ),
        "snapshot",
        "state root",
    );

    // Added: a content id no entry logged.
    let mut added = recs.clone();
    added.insert(
        format!("content/{}", "ab".repeat(32)).into_bytes(),
        br#"{"set_by":2}"#.to_vec(),
    );
    assert_refused(
        incremental(
            &log,
            &snapshot_with(&log, &log_signer(), ORIGIN, k, added),
            &cp,
        ),
        "snapshot",
        "state root",
    );

    // Removed: a participant's key.
    let mut removed = recs;
    let key = removed
        .keys()
        .find(|k| k.starts_with(b"key/"))
        .cloned()
        .unwrap();
    removed.remove(&key);
    assert_refused(
        incremental(
            &log,
            &snapshot_with(&log, &log_signer(), ORIGIN, k, removed),
            &cp,
        ),
        "snapshot",
        "state root",
    );
}

/// edit_header rewrites a snapshot's JSON header line.
fn edit_header(snap: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let first = snap.iter().position(|b| *b == b'\n').unwrap() + 1;
    let second = first + snap[first..].iter().position(|b| *b == b'\n').unwrap();
    let mut h: Value = serde_json::from_slice(&snap[first..second]).unwrap();
    f(&mut h);
    let mut out = snap[..first].to_vec();
    out.extend(serde_json::to_vec(&h).unwrap());
    out.extend(&snap[second..]);
    out
}

#[test]
fn a_snapshot_of_another_log_a_wrong_frontier_or_a_cut_file_is_refused() {
    let (log, k, recs, cp) = hostile_setup();
    let snap = snapshot_with(&log, &log_signer(), ORIGIN, k, recs);

    // Another log: same entries, another origin and key.
    let other_origin = "other.example/log";
    let other_key = Signer::generate(other_origin, KeyType::Ed25519, [7; 32]).unwrap();
    let kit = Testkit::new(other_origin);
    let other = publish(steps(&kit, 40, no_tail), &other_key, other_origin);
    let other_recs = records_at(&other, other_origin, k as usize);
    let foreign = snapshot_with(&other, &other_key, other_origin, k, other_recs);
    assert_refused(incremental(&log, &foreign, &cp), "snapshot", "origin");

    // The frontier is not the checkpoint's tree.
    let bad = edit_header(&snap, |h| {
        let f = h["frontier"].as_array_mut().unwrap();
        f[0] = json!(base64_of(&[9u8; 32]));
    });
    assert_refused(incremental(&log, &bad, &cp), "snapshot", "frontier");
    let bad = edit_header(&snap, |h| {
        h["frontier"].as_array_mut().unwrap().pop();
    });
    assert_refused(incremental(&log, &bad, &cp), "snapshot", "frontier");

    // Cut short, and one byte more.
    assert_refused(
        incremental(&log, &snap[..snap.len() - 5], &cp),
        "snapshot",
        "truncated",
    );
    let mut longer = snap.clone();
    longer.push(0);
    assert_refused(incremental(&log, &longer, &cp), "snapshot", "after");
    // A record count that says fewer records than follow, or more.
    let bad = edit_header(&snap, |h| {
        h["records"] = json!(h["records"].as_u64().unwrap() + 1)
    });
    assert_refused(incremental(&log, &bad, &cp), "snapshot", "truncated");
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn a_trusted_checkpoint_the_snapshot_does_not_extend_is_a_fork() {
    let (log, k, recs, _) = hostile_setup();
    let snap = snapshot_with(&log, &log_signer(), ORIGIN, k, recs);
    // A fork signed by the same key: the same steps but one operation event fewer.
    let kit = Testkit::new(ORIGIN);
    let mut forked_steps = steps(&kit, 40, no_tail);
    forked_steps.remove(12);
    let fork = publish(forked_steps, &log_signer(), ORIGIN);
    for at in [k, k + 5] {
        let trusted = checkpoint_at(&fork, &log_signer(), ORIGIN, at);
        let (code, v) = incremental(&log, &snap, &trusted);
        assert_eq!(code, 1, "{v}");
        assert!(
            failures(&v).iter().any(|(_, c)| c == "trusted-fork"),
            "trusted at {at}: {v}"
        );
    }
    // A snapshot past the trusted checkpoint would leave entries unaudited.
    let (code, v) = incremental(
        &log,
        &snap,
        &checkpoint_at(&log, &log_signer(), ORIGIN, k - 1),
    );
    assert_eq!(code, 2, "{v}");
}
