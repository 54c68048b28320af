//! `regledger-verify status` and its exit codes (CONTRACT.md, issue 14):
//! status proofs made as a node makes them (the testkit's replay, the
//! state map, a checkpoint with its state line) at each point of a
//! product's life, checked by the command: 0 only for 有效, 3 暂停,
//! 4 已撤销登记, 5 已注销登记, 6 不存在 (absent), 1 for a tampered proof or
//! one older than `--max-age`, Chinese status first in text, the state in
//! --json.

use std::process::Command;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use regledger::cert::status::{build_status, StatusKind, StatusProof};
use regledger::descriptor::LogDescriptorJson;
use regledger::entry::state_line::StateLine;
use regledger::registry::commit::MapKey;
use regledger::registry::EntryKind;
use regledger::testkit::{replay, Step, Testkit, DAY_MS, REGISTRATION_NO};
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, Signer};
use regledger::HashSuite;
use serde_json::{json, Value};

const ORIGIN: &str = "status.test/log";
const SUITE: HashSuite = HashSuite::Blake3;

fn log_signer() -> Signer {
    Signer::generate(ORIGIN, KeyType::Ed25519, [44; 32]).unwrap()
}

/// prove replays `steps` and returns the status proof of `kind`/`id` at
/// their end, as a node serves it.
fn prove(steps: &[Step], kind: StatusKind, id: &str) -> StatusProof {
    let r = replay(ORIGIN, SUITE, steps).unwrap();
    let mut t = MemoryTree::new(SUITE);
    for l in &r.leaves {
        t.append_data(&l.to_bytes());
    }
    // The checkpoint a node signs: with its state line (D26), so the proof
    // is v2 and carries no leaf.
    let last = r.leaves.last().unwrap();
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: t.size(),
        root: t.root(),
        extensions: vec![StateLine::of_leaf(last).unwrap().to_line()],
    };
    let note = sign_checkpoint(&cp, &log_signer()).unwrap();
    let key = MapKey::State(kind.key(id).unwrap()).bytes();
    let proof = r.map().prove(&key).unwrap();
    build_status(
        SUITE,
        ORIGIN,
        kind,
        id,
        &note,
        None,
        &proof,
        r.records.get(&key).map(Vec::as_slice),
    )
    .unwrap()
}

/// run writes `p` and log.json and runs `regledger-verify [--json] status`.
fn run(p: &StatusProof, json: bool, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("status.json");
    std::fs::write(&f, serde_json::to_vec(p).unwrap()).unwrap();
    let log = dir.path().join("log.json");
    let d = LogDescriptorJson {
        origin: ORIGIN.into(),
        log_vkey: log_signer().verifier().to_vkey(),
        hash: SUITE.name().into(),
        witnesses: vec![],
        quorum: 0,
        profile: "guangxi".into(),
    };
    std::fs::write(&log, serde_json::to_vec(&d).unwrap()).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_regledger-verify"));
    if json {
        c.arg("--json");
    }
    let out = c
        .arg("status")
        .arg(&f)
        .arg("--log")
        .arg(&log)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn upto(steps: &[Step], label: &str) -> Vec<Step> {
    let end = steps.iter().position(|s| s.label == label).unwrap();
    steps[..=end].to_vec()
}

#[test]
fn each_status_has_its_exit_code_and_the_chinese_status_comes_first() {
    let kit = Testkit::new(ORIGIN);
    let all = kit.lifecycle(SUITE, "guangxi");
    let resumed = upto(&all, "product resumed");
    let mut deregistered = resumed.clone();
    let t = resumed.last().unwrap().time_ms + DAY_MS;
    let on = regledger::registry::calendar::Date::from_unix_ms(t)
        .unwrap()
        .to_string();
    deregistered.push(Step {
        label: "product deregistered",
        envelope: kit.authority.sign(
            EntryKind::ProductDeregistered,
            &json!({"id": "P-1", "reason": "经营主体申请注销", "effective_on": on}),
        ),
        time_ms: t,
    });
    let cases: Vec<(&str, Vec<Step>, i32, &str)> = vec![
        ("registered", upto(&all, "product registered"), 0, "有效"),
        ("suspended", upto(&all, "product suspended"), 3, "暂停"),
        ("resumed", resumed, 0, "有效"),
        (
            "revoked",
            upto(&all, "registration revoked"),
            4,
            "已撤销登记",
        ),
        ("deregistered", deregistered, 5, "已注销登记"),
    ];
    for (name, steps, code, zh) in cases {
        let p = prove(&steps, StatusKind::Product, REGISTRATION_NO);
        let (c, out, err) = run(&p, false, &[]);
        assert_eq!(c, code, "{name}: {out}{err}");
        let first = out.lines().next().unwrap_or_default();
        assert!(
            first.contains(zh),
            "{name}: the first line lacks {zh}: {out}"
        );
        let (c, out, _) = run(&p, true, &[]);
        assert_eq!(c, code, "{name}");
        let j: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["state"]["status_zh"], zh, "{name}: {j}");
        assert_eq!(
            j["active"].as_bool().unwrap_or(true),
            code == 0,
            "{name}: {j}"
        );
    }
    // No product has this 登记号: a proof of absence, exit 6.
    let p = prove(&all, StatusKind::Product, "GXDP-2025-999999");
    assert!(p.record.is_none());
    let (c, out, err) = run(&p, true, &[]);
    assert_eq!(c, 6, "{out}{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["state"]["status"], "absent");
    // Another kind: a participant that exists is 有效.
    let p = prove(&all, StatusKind::Participant, &kit.business.id);
    assert_eq!(run(&p, false, &[]).0, 0);
}

#[test]
fn a_tampered_swapped_or_edited_proof_fails_and_a_stale_one_is_refused() {
    let kit = Testkit::new(ORIGIN);
    let steps = upto(&kit.lifecycle(SUITE, "guangxi"), "product suspended");
    let p = prove(&steps, StatusKind::Product, REGISTRATION_NO);
    assert_eq!(run(&p, false, &[]).0, 3);

    // The status edited to active, with no key: refused, not believed.
    let mut edited = p.clone();
    edited.state.status = "active".into();
    edited.state.status_zh = "有效".into();
    let (c, _, err) = run(&edited, false, &[]);
    assert_eq!(c, 1, "{err}");
    assert!(err.starts_with("FAIL: state"), "{err}");

    // The record edited to active (its bytes no longer match the map).
    let mut rec = p.clone();
    let bytes = B64.decode(rec.record.as_ref().unwrap()).unwrap();
    let text = String::from_utf8(bytes)
        .unwrap()
        .replace("\"suspended\"", "\"active\"");
    rec.record = Some(B64.encode(text));
    rec.state.status = "active".into();
    rec.state.status_zh = "有效".into();
    let (c, _, err) = run(&rec, false, &[]);
    assert_eq!(c, 1, "{err}");
    assert!(err.starts_with("FAIL: map_proof"), "{err}");

    // Another object's proof presented for this 登记号.
    let other = prove(&steps, StatusKind::Product, "GXDP-2025-999999");
    let mut swapped = other.clone();
    swapped.id = REGISTRATION_NO.into();
    let (c, _, err) = run(&swapped, false, &[]);
    assert_eq!(c, 1, "{err}");
    let mut swapped = p.clone();
    swapped.id = "GXDP-2025-999999".into();
    assert_eq!(run(&swapped, false, &[]).0, 1);

    // One flipped bit of the map proof.
    let mut flipped = p.clone();
    let mut mp = B64.decode(&flipped.map_proof).unwrap();
    let n = mp.len();
    mp[n - 1] ^= 1;
    flipped.map_proof = B64.encode(mp);
    assert_eq!(run(&flipped, false, &[]).0, 1);

    // --max-age: the testkit's entries are from 2025; the proof is genuine
    // but its checkpoint (no witnesses: as fresh as its last entry) is old.
    let (c, _, err) = run(&p, false, &["--max-age", "1d"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("stale"), "{err}");
    let (c, _, err) = run(&p, false, &["--max-age", "36500d"]);
    assert_eq!(c, 3, "{err}");
    let (c, _, err) = run(&p, false, &["--max-age", "soon"]);
    assert_eq!(c, 2, "{err}");
}
