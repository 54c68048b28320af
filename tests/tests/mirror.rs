//! Verified mirrors on loopback: a node and two mirrors with a few hundred
//! mixed entries, the change feed, the witness protocol, a mirror killed
//! mid-sync, and an upstream that forks (a split view with evidence).

use std::path::Path;
use std::process::Command;
use std::sync::mpsc;

use base64::Engine;
use regledger::cert::bundle::{verify_bundle, CertificateBundle};
use regledger::descriptor::verify_log_signature;
use regledger::descriptor::LogDescriptor;
use regledger::registry::EntryKind;
use regledger::testkit::{Step, Testkit, REGISTRATION_NO};
use regledger::tlog::checkpoint::{open_witnessed_checkpoint, sign_checkpoint, Checkpoint};
use regledger::tlog::note::{KeyType, Note, Signer, VerifierKey};
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::{json, Value};

const ORIGIN: &str = "mirror.e2e.example/gx";

/// ops returns `n` operation events by the business entity under SA-1, distinct by `salt`.
fn ops(kit: &Testkit, n: usize, salt: &str) -> Vec<regledger::entry::envelope::Envelope> {
    let t0 = kit.at(3, 0);
    (0..n)
        .map(|k| {
            kit.business.sign(
                EntryKind::OperationEvent,
                &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": t0 + k as u64,
                        "actor": format!("svc-{salt}-{}", k % 7), "records": k}),
            )
        })
        .collect()
}

fn post_all(url: &str, envs: impl IntoIterator<Item = regledger::entry::envelope::Envelope>) {
    for e in envs {
        let (code, body) = post(url, &e);
        assert_eq!(code, 200, "{body}");
    }
}

fn post_steps(url: &str, steps: &[Step]) {
    for s in steps {
        let (code, body) = post(url, &s.envelope);
        assert_eq!(code, 200, "{}: {body}", s.label);
    }
}

fn verify_cmd(args: &[&std::ffi::OsStr]) -> (i32, Value, String) {
    let out = Command::new(bin("regledger-verify"))
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// evidence waits until the mirror saved `k` complete evidence directories and returns them, oldest first.
fn evidence(m: &Mirror, k: usize) -> Vec<std::path::PathBuf> {
    let deadline = std::time::Instant::now() + regledger_e2e::patience();
    loop {
        let mut evs: Vec<_> = std::fs::read_dir(m.data.join("evidence"))
            .map(|r| {
                r.map(|e| e.unwrap().path())
                    .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        if evs.len() >= k {
            evs.sort();
            return evs;
        }
        assert!(std::time::Instant::now() < deadline, "no evidence saved");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// audit_evidence runs the regulator's audit of a split-view evidence directory.
fn audit_evidence(log: &Path, ev: &Path) -> (i32, Value, String) {
    verify_cmd(&[
        "audit".as_ref(),
        "--dir".as_ref(),
        ev.as_os_str(),
        "--log".as_ref(),
        log.as_os_str(),
        "--trusted".as_ref(),
        ev.join("accepted.checkpoint").as_os_str(),
    ])
}

fn add_checkpoint(url: &str, old: u64, proof: &[String], note: &str) -> (u16, String, String) {
    let mut body = format!("old {old}\n");
    for p in proof {
        body.push_str(p);
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    post_to(
        &format!("{url}/add-checkpoint"),
        "text/plain",
        body.into_bytes(),
    )
}

#[test]
fn two_mirrors_follow_a_node_feed_changes_and_witness() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let log = data.join("log.json");
    let d = LogDescriptor::parse(&std::fs::read(&log).unwrap()).unwrap();
    let node = Node::start(&data, &[]);
    let (wkey, wvkey) = witness_key(dir.path(), "venue-witness.example");
    let wvkey = VerifierKey::parse(&wvkey).unwrap();
    let a = Mirror::start(
        &node.url,
        &log,
        &dir.path().join("mirror-a"),
        &["--witness-key", wkey.to_str().unwrap()],
    );
    // Mirror B also pushes every change to a venue system that fails twice first.
    let sink = WebhookSink::start(2);
    let mut b = Mirror::start(
        &node.url,
        &log,
        &dir.path().join("mirror-b"),
        &["--webhook", &sink.url],
    );

    let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    let (revoke, rest) = steps[1..].split_last().unwrap();
    assert_eq!(revoke.label, "registration revoked");
    post_steps(&node.url, rest);
    post_all(&node.url, ops(&kit, 1000, "a"));
    let n1 = tree_size(&node.url);
    assert!(n1 > 1000);
    let cp1 = wait_for_checkpoint(&node.url, n1);
    // Both mirrors serve the node's own signed checkpoint: same size, same root.
    assert_eq!(wait_for_checkpoint(&a.url, n1), cp1);
    assert_eq!(wait_for_checkpoint(&b.url, n1), cp1);
    assert_eq!(metric(&a.url, "regledger_mirror_split_view"), Some(0));

    // Witness: the mirror cosigns what it verified, once per size.
    let (c, _, line) = add_checkpoint(&a.url, 0, &[], &cp1);
    assert_eq!(c, 200, "{line}");
    let cosigned = format!("{cp1}{line}");
    let v = open_witnessed_checkpoint(
        cosigned.as_bytes(),
        &d.log_key,
        std::slice::from_ref(&wvkey),
        1,
    )
    .unwrap();
    assert_eq!(v.witnesses.len(), 1);
    let (c, ct, body) = add_checkpoint(&a.url, 0, &[], &cp1);
    assert_eq!(
        (c, ct.as_str(), body.as_str()),
        (409, "text/x.tlog.size", &*format!("{n1}\n"))
    );
    let (c, _, body) = post_to(
        &format!("{}/add-checkpoint", a.url),
        "text/plain",
        b"nonsense".to_vec(),
    );
    assert_eq!(c, 400, "{body}");
    let forged = cp1.replacen(&format!("\n{n1}\n"), &format!("\n{}\n", n1 + 1), 1);
    let (c, _, body) = add_checkpoint(&a.url, n1, &[], &forged);
    assert_eq!(c, 403, "{body}");
    let other = Signer::generate("other.example/log", KeyType::Ed25519, [9; 32]).unwrap();
    let other_cp = sign_checkpoint(
        &Checkpoint {
            origin: "other.example/log".into(),
            size: 1,
            root: regledger::Hash([1; 32]),
            extensions: vec![],
        },
        &other,
    )
    .unwrap();
    let (c, _, body) = add_checkpoint(&a.url, 0, &[], &other_cp);
    assert_eq!(c, 404, "{body}");
    // The mirror (without a witness key) has no witness endpoint.
    assert_eq!(add_checkpoint(&b.url, 0, &[], &cp1).0, 404);
    // A submission to a mirror is refused with a problem: it only follows.
    let (c, body) = post(&a.url, &revoke.envelope);
    assert_eq!(c, 405, "{body}");
    assert!(body["type"].as_str().unwrap().ends_with("read-only-mirror"));

    // The mirror serves the same API description, which lists its own routes.
    let api = get_json(&format!("{}/openapi.json", b.url));
    for p in [
        "/v1/events",
        "/add-checkpoint",
        "/checkpoint",
        "/v1/certificates/{no}",
    ] {
        assert!(api["paths"].get(p).is_some(), "openapi lacks {p}");
    }
    assert_eq!(
        get_text(&format!("{}/log.json", b.url)).unwrap().1,
        std::fs::read_to_string(&log).unwrap()
    );

    // The live feed on mirror B sees the revocation.
    let (tx, rx) = mpsc::channel();
    let feed_url = format!("{}/v1/events", b.url);
    let reader = std::thread::spawn(move || {
        sse_collect(
            &feed_url,
            None,
            move || tx.send(()).unwrap(),
            |ev| ev.iter().any(|e| e.1 == "product-revoked"),
        )
    });
    rx.recv().unwrap();
    post_all(&node.url, [revoke.envelope.clone()]);
    let n2 = n1 + 1;
    let cp2 = wait_for_checkpoint(&node.url, n2);
    let live = reader.join().unwrap();
    assert_eq!(live.len(), 1, "{live:?}");
    let e: Value = serde_json::from_str(&live[0].2).unwrap();
    assert_eq!(live[0].0, n1.to_string());
    assert_eq!(
        (e["type"].as_str(), e["subject"].as_str()),
        (Some("product-revoked"), Some("P-1"))
    );
    assert_eq!(e["index"], n1);
    assert_eq!(wait_for_checkpoint(&a.url, n2), cp2);
    assert_eq!(wait_for_checkpoint(&b.url, n2), cp2);

    // Witness consistency: a bad proof is 422, the node's proof is cosigned.
    let proof = get_json(&format!(
        "{}/v1/proof/consistency?old={n1}&new={n2}",
        node.url
    ));
    let proof: Vec<String> = serde_json::from_value(proof["consistency_proof"].clone()).unwrap();
    assert!(!proof.is_empty());
    let mut bad = proof.clone();
    bad[0] = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
    assert_eq!(add_checkpoint(&a.url, n1, &bad, &cp2).0, 422);
    assert_eq!(add_checkpoint(&a.url, n2 + 1, &[], &cp2).0, 400);
    let (c, _, line) = add_checkpoint(&a.url, n1, &proof, &cp2);
    assert_eq!(c, 200, "{line}");
    open_witnessed_checkpoint(format!("{cp2}{line}").as_bytes(), &d.log_key, &[wvkey], 1).unwrap();

    // The revocation shows in both mirrors' certificate bundles, which verify.
    for m in [&a, &b] {
        let bundle: CertificateBundle = serde_json::from_value(get_json(&format!(
            "{}/v1/certificates/{REGISTRATION_NO}",
            m.url
        )))
        .unwrap();
        assert_eq!(verify_bundle(&bundle, &d).unwrap().status, "revoked");
        let p = get_json(&format!("{}/v1/products/P-1", m.url));
        assert_eq!(p["value"]["status"], "revoked");
    }
    // Resume from the stored log: every change after the registration, in order.
    let registered = get_json(&format!("{}/v1/entries?subject=P-1", b.url))["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .find(|&i| get_json(&format!("{}/v1/entries/{i}", b.url))["kind"] == "product-registered")
        .unwrap();
    let replay = sse_collect(
        &format!("{}/v1/events", b.url),
        Some(registered),
        || {},
        |ev| ev.iter().any(|e| e.1 == "product-revoked"),
    );
    let types: Vec<&str> = replay.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        types,
        ["product-suspended", "product-resumed", "product-revoked"]
    );
    assert!(replay
        .iter()
        .all(|e| e.0.parse::<u64>().unwrap() > registered));
    let (c, _) = get_text(&format!("{}/v1/events?from=01", b.url)).unwrap();
    assert_eq!(c, 400);

    // A regulator's audit of the mirror over HTTP: the node's root and verdict.
    let (c, va, err) = verify_cmd(&[
        "audit".as_ref(),
        "--url".as_ref(),
        a.url.as_ref(),
        "--log".as_ref(),
        log.as_os_str(),
    ]);
    assert_eq!(c, 0, "{err}");
    let (c, vn, err) = verify_cmd(&[
        "audit".as_ref(),
        "--dir".as_ref(),
        data.join("tiles").as_os_str(),
        "--log".as_ref(),
        log.as_os_str(),
    ]);
    assert_eq!(c, 0, "{err}");
    assert_eq!(va["computed_root"], vn["computed_root"]);
    assert_eq!(va["entries_checked"], n2);

    // The webhook got every change once, in order, despite the failures.
    let mut hooks: Vec<Value> = Vec::new();
    while hooks.last().is_none_or(|e| e["type"] != "product-revoked") {
        hooks.push(sink.bodies.recv_timeout(regledger_e2e::patience()).unwrap());
    }
    let ids: Vec<u64> = hooks.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids.contains(&registered));
    // After a SIGKILL the mirror resumes the webhook after the last delivered event.
    b.kill9();
    b.restart();
    let suspend = kit.authority.sign(
        EntryKind::AgreementSuspended,
        &json!({"id": "SA-1", "reason": "监督检查", "effective_on": kit.on("2025-05-06")}),
    );
    post_all(&node.url, [suspend]);
    let next = sink.bodies.recv_timeout(regledger_e2e::patience()).unwrap();
    assert_eq!(next["type"], "authorization-suspended", "{next}");
    assert_eq!(
        (next["id"].as_u64(), next["subject"].as_str()),
        (Some(n2), Some("SA-1"))
    );
}

#[test]
fn a_mirror_killed_mid_sync_resumes_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "sha256", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    let steps = kit.lifecycle(HashSuite::Sha256, "guangxi");
    post_steps(&node.url, &steps[1..]);
    let mut m = Mirror::start(&node.url, &log, &dir.path().join("mirror"), &[]);
    // Entries keep arriving in many checkpoints while the mirror is killed and restarted.
    let envs = ops(&kit, 400, "k");
    for (k, chunk) in envs.chunks(100).enumerate() {
        post_all(&node.url, chunk.iter().cloned());
        if k == 1 {
            m.kill9();
        }
        if k == 2 {
            m.restart();
        }
    }
    m.kill9();
    m.restart();
    let n = tree_size(&node.url);
    let cp = wait_for_checkpoint(&node.url, n);
    assert_eq!(wait_for_checkpoint(&m.url, n), cp);
    assert_eq!(tree_size(&m.url), n);
    // Its own tile directory is a complete, valid copy of the log.
    let (c, v, err) = verify_cmd(&[
        "audit".as_ref(),
        "--dir".as_ref(),
        m.data.join("tiles").as_os_str(),
        "--log".as_ref(),
        log.as_os_str(),
    ]);
    assert_eq!(c, 0, "{err}");
    assert_eq!(v["entries_checked"], n);
    assert_eq!(v["products"][0]["status"], "revoked");
}

/// start_fork starts a second node with the same log key, origin and
/// authority as the node in `data`, another history, longer than `n`.
fn start_fork(dir: &Path, data: &Path, kit: &Testkit, n: u64) -> (Node, u64, String) {
    let data2 = dir.join("fork");
    init_fork(data, &data2, ORIGIN, "blake3");
    let fork = Node::start(&data2, &[]);
    post_steps(&fork.url, &kit.setup(HashSuite::Blake3, "guangxi")[1..]);
    post_all(&fork.url, ops(kit, n as usize, "fork"));
    let fork_n = tree_size(&fork.url);
    assert!(fork_n > n);
    let fork_cp = wait_for_checkpoint(&fork.url, fork_n);
    (fork, fork_n, fork_cp)
}

#[test]
fn a_forked_upstream_is_refused_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    post_steps(&node.url, &steps[1..]);
    let n = tree_size(&node.url);
    let cp = wait_for_checkpoint(&node.url, n);
    let mut m = Mirror::start(&node.url, &log, &dir.path().join("mirror"), &[]);
    assert_eq!(wait_for_checkpoint(&m.url, n), cp);

    let (fork, fork_n, fork_cp) = start_fork(dir.path(), &data, &kit, n);
    m.kill9();
    m.upstream = fork.url.clone();
    m.restart();
    let deadline = std::time::Instant::now() + regledger_e2e::patience();
    while metric(&m.url, "regledger_mirror_split_view") != Some(1) {
        assert!(
            std::time::Instant::now() < deadline,
            "split view not detected"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // It keeps serving the last verified state and does not advance.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(get_text(&format!("{}/checkpoint", m.url)).unwrap().1, cp);
    assert_eq!(tree_size(&m.url), n);
    let p = get_json(&format!("{}/v1/products/P-1", m.url));
    assert_eq!(p["value"]["status"], "revoked");

    // The evidence: both signed checkpoints and the fork's tiles.
    let evs = evidence(&m, 1);
    assert_eq!(evs.len(), 1, "{evs:?}");
    let ev = &evs[0];
    assert_eq!(
        std::fs::read_to_string(ev.join("accepted.checkpoint")).unwrap(),
        cp
    );
    assert_eq!(
        std::fs::read_to_string(ev.join("checkpoint")).unwrap(),
        fork_cp
    );
    let readme = std::fs::read_to_string(ev.join("README.txt")).unwrap();
    assert!(readme.contains("--trusted"), "{readme}");
    let (c, v, err) = audit_evidence(&log, ev);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("fork"), "{err}");
    assert_eq!(v["trusted"]["consistent"], false);
    assert_eq!(v["checkpoint"]["size"], fork_n);
    // Both checkpoints carry valid signatures by the one log key: the key signed two histories.
    let d = LogDescriptor::parse(&std::fs::read(&log).unwrap()).unwrap();
    for note in [&cp, &fork_cp] {
        verify_log_signature(note.as_bytes(), &d).unwrap();
    }
    assert_ne!(
        Checkpoint::parse(&Note::parse(cp.as_bytes()).unwrap().text)
            .unwrap()
            .root,
        verify_log_signature(fork_cp.as_bytes(), &d)
            .unwrap()
            .checkpoint
            .root
    );

    // The stop survives a restart, even onto an honest upstream that has
    // grown: the alert stays up and the mirror does not move...
    post_all(&node.url, ops(&kit, 3, "after-fork"));
    let grown = tree_size(&node.url);
    wait_for_checkpoint(&node.url, grown);
    m.kill9();
    m.upstream = node.url.clone();
    m.restart();
    assert_eq!(metric(&m.url, "regledger_mirror_split_view"), Some(1));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(tree_size(&m.url), n);
    assert_eq!(get_text(&format!("{}/checkpoint", m.url)).unwrap().1, cp);
    // ...until the evidence is moved out of evidence/ after review.
    let reviewed = dir.path().join("reviewed");
    std::fs::rename(m.data.join("evidence"), &reviewed).unwrap();
    m.kill9();
    m.restart();
    wait_for_checkpoint(&m.url, grown);
    assert_eq!(metric(&m.url, "regledger_mirror_split_view"), Some(0));
    assert!(reviewed
        .join(ev.file_name().unwrap())
        .join("checkpoint")
        .exists());
}

#[test]
fn a_fork_shown_only_to_the_witness_is_a_split_view() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    post_steps(&node.url, &kit.lifecycle(HashSuite::Blake3, "guangxi")[1..]);
    let n = tree_size(&node.url);
    let cp = wait_for_checkpoint(&node.url, n);
    // The mirror-witness follows static files whose public `checkpoint`
    // stays the honest one, while the log shows the witness another history.
    let served = dir.path().join("static");
    copy_dir(&data.join("tiles"), &served);
    let web = StaticServer::start(&served);
    let (wkey, _) = witness_key(dir.path(), "venue-witness.example");
    let m = Mirror::start(
        &web.url,
        &log,
        &dir.path().join("mirror"),
        &["--witness-key", wkey.to_str().unwrap()],
    );
    assert_eq!(wait_for_checkpoint(&m.url, n), cp);
    let (_fork, fork_n, fork_cp) = start_fork(dir.path(), &data, &kit, n);
    copy_dir(&dir.path().join("fork/tiles/tile"), &served.join("tile"));
    std::fs::write(served.join("checkpoint"), &cp).unwrap();

    let (code, _, body) = add_checkpoint(&m.url, 0, &[], &fork_cp);
    assert_ne!(code, 200, "a fork was cosigned: {body}");
    let ev = evidence(&m, 1).remove(0);
    assert_eq!(metric(&m.url, "regledger_mirror_split_view"), Some(1));
    assert_eq!(
        std::fs::read_to_string(ev.join("checkpoint")).unwrap(),
        fork_cp
    );
    assert_eq!(
        std::fs::read_to_string(ev.join("accepted.checkpoint")).unwrap(),
        cp
    );
    assert_eq!(tree_size(&m.url), n);
    assert!(fork_n > n);
}

/// healthy reports whether the process at `url` still answers `/healthz`.
fn healthy(url: &str) -> bool {
    matches!(get_text(&format!("{url}/healthz")), Ok((200, _)))
}

/// evidence_now lists the complete evidence directories a mirror saved so far.
fn evidence_now(m: &Mirror) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(m.data.join("evidence"))
        .map(|r| {
            r.map(|e| e.unwrap().path())
                .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// log_signer reads the log key of a log made by `init_with_testkit`: what a
/// log operator (or whoever holds its key) signs checkpoints with.
fn log_signer(data: &Path) -> Signer {
    Signer::from_skey(
        std::fs::read_to_string(data.join("keys/log.key"))
            .unwrap()
            .trim(),
    )
    .unwrap()
}

/// signed signs a checkpoint of `size` and `root` for ORIGIN with `log`.
fn signed(log: &Signer, size: u64, root: [u8; 32]) -> String {
    sign_checkpoint(
        &Checkpoint {
            origin: ORIGIN.into(),
            size,
            root: regledger::Hash(root),
            extensions: vec![],
        },
        log,
    )
    .unwrap()
}

/// flip_byte flips one bit of the byte at `at` (from the end if negative) in a file.
fn flip_byte(file: &Path, at: isize) {
    let mut t = std::fs::read(file).unwrap();
    let i = if at < 0 {
        t.len() - at.unsigned_abs()
    } else {
        at as usize
    };
    t[i] ^= 1;
    std::fs::write(file, t).unwrap();
}

fn value(url: &str, name: &str) -> u64 {
    metric(url, name).unwrap_or_else(|| panic!("{url} has no metric {name}"))
}

#[test]
fn a_corrupt_unsigned_tile_is_a_source_failure_not_a_split_view() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "sha256", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    let steps = kit.lifecycle(HashSuite::Sha256, "guangxi");
    post_steps(&node.url, &steps[1..4]);
    let cp0 = wait_for_checkpoint(&node.url, 4);
    post_steps(&node.url, &steps[4..]);
    let n = tree_size(&node.url);
    let cp = wait_for_checkpoint(&node.url, n);
    // Only `checkpoint` and `tile/…` files behind a plain static server.
    let served = dir.path().join("static");
    copy_dir(&data.join("tiles"), &served);
    let web = StaticServer::start(&served);
    let mut mirror = Mirror::start(&web.url, &log, &dir.path().join("mirror"), &[]);
    assert_eq!(wait_for_checkpoint(&mirror.url, n), cp);

    // The log grows; the copy's newest level-0 hash tile is altered in its
    // last hash. Nothing the log key signed contradicts anything: the copy
    // is corrupt, which is a fetch failure, not a split view.
    post_all(&node.url, ops(&kit, 20, "t"));
    let n2 = tree_size(&node.url);
    let cp2 = wait_for_checkpoint(&node.url, n2);
    let good = dir.path().join("good");
    copy_dir(&data.join("tiles"), &good);
    let refresh = |tamper: &dyn Fn(&Path)| {
        let next = dir.path().join("next");
        copy_dir(&good, &next);
        tamper(&next);
        std::fs::remove_dir_all(&served).unwrap();
        std::fs::rename(&next, &served).unwrap();
    };
    let hash_tile = format!("tile/0/000.p/{n2}");
    let bundle = format!("tile/entries/000.p/{n2}");
    refresh(&|d| flip_byte(&d.join(&hash_tile), -1));
    wait_until("the corrupt hash tile raised no alarm", || {
        metric(&mirror.url, "regledger_mirror_bad_data_total").unwrap_or(0) >= 2
    });
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);
    assert_eq!(value(&mirror.url, "regledger_mirror_sources_failing"), 1);
    assert!(evidence_now(&mirror).is_empty());
    // Nothing of size n2 was accepted: the last good state is still served.
    assert_eq!(
        get_text(&format!("{}/checkpoint", mirror.url)).unwrap().1,
        cp
    );
    assert_eq!(tree_size(&mirror.url), n);

    // Across a restart it is not stopped: it keeps trying and alarming.
    mirror.kill9();
    mirror.restart();
    wait_until("no alarm after the restart", || {
        metric(&mirror.url, "regledger_mirror_bad_data_total").unwrap_or(0) >= 1
    });
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);

    // The hash tile repaired but one byte of an entry in the bundle flipped.
    let before = value(&mirror.url, "regledger_mirror_bad_data_total");
    refresh(&|d| flip_byte(&d.join(&bundle), -40));
    wait_until("the corrupt entry bundle raised no alarm", || {
        value(&mirror.url, "regledger_mirror_bad_data_total") > before + 1
    });
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);
    assert_eq!(tree_size(&mirror.url), n);

    // Once the source is fixed the mirror catches up; the alarm clears.
    refresh(&|_| {});
    assert_eq!(wait_for_checkpoint(&mirror.url, n2), cp2);
    wait_until("the alarm did not clear", || {
        value(&mirror.url, "regledger_mirror_sources_failing") == 0
    });
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);
    assert!(evidence_now(&mirror).is_empty());

    // A copy rolled back to an older checkpoint of the same log is stale,
    // not a fork (nothing contradicts): an alarm, no split view.
    std::fs::write(served.join("checkpoint"), &cp0).unwrap();
    let before = value(&mirror.url, "regledger_mirror_source_errors_total");
    wait_until("the stale copy raised no alarm", || {
        value(&mirror.url, "regledger_mirror_source_errors_total") > before + 1
    });
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);
    assert_eq!(
        get_text(&format!("{}/checkpoint", mirror.url)).unwrap().1,
        cp2
    );

    // A smaller checkpoint the log key signed over another tree does
    // contradict: a split view, and the audit of the evidence proves the fork.
    let forged = signed(&log_signer(&data), 4, [7; 32]);
    std::fs::write(served.join("checkpoint"), &forged).unwrap();
    let ev = evidence(&mirror, 1).remove(0);
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 1);
    assert_eq!(
        get_text(&format!("{}/checkpoint", mirror.url)).unwrap().1,
        cp2
    );
    let readme = std::fs::read_to_string(ev.join("README.txt")).unwrap();
    assert!(readme.contains("--trusted"), "{readme}");
    let (c, v, err) = audit_readme(&log, &ev);
    assert_eq!(c, 1, "{err}");
    assert!(
        v["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "trusted-fork"),
        "{v}"
    );
    assert_eq!(v["trusted"]["size"], 4);
}

/// audit_readme runs the audit command an evidence directory's README.txt gives.
fn audit_readme(log: &Path, ev: &Path) -> (i32, Value, String) {
    let readme = std::fs::read_to_string(ev.join("README.txt")).unwrap();
    let trusted = readme
        .split_whitespace()
        .skip_while(|w| *w != "--trusted")
        .nth(1)
        .unwrap_or_else(|| panic!("no --trusted in {readme}"));
    verify_cmd(&[
        "audit".as_ref(),
        "--dir".as_ref(),
        ev.as_os_str(),
        "--log".as_ref(),
        log.as_os_str(),
        "--trusted".as_ref(),
        trusted.as_ref(),
    ])
}

#[test]
fn a_mirror_falls_back_to_another_source_when_its_upstream_serves_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    post_steps(&node.url, &kit.lifecycle(HashSuite::Blake3, "guangxi")[1..]);
    let n = tree_size(&node.url);
    let cp = wait_for_checkpoint(&node.url, n);
    // The primary is a static copy with one entry byte flipped; the first
    // fallback is down; the second is the node itself.
    let served = dir.path().join("static");
    let corrupt_copy = |size: u64| {
        let next = dir.path().join("next");
        copy_dir(&data.join("tiles"), &next);
        flip_byte(&next.join(format!("tile/entries/000.p/{size}")), 100);
        let _ = std::fs::remove_dir_all(&served);
        std::fs::rename(&next, &served).unwrap();
    };
    corrupt_copy(n);
    let web = StaticServer::start(&served);
    let down = format!("http://127.0.0.1:{}", free_port());
    let mut mirror = Mirror::start(
        &web.url,
        &log,
        &dir.path().join("mirror"),
        &["--fallback", &down, "--fallback", &node.url],
    );
    assert_eq!(wait_for_checkpoint(&mirror.url, n), cp);
    assert!(value(&mirror.url, "regledger_mirror_bad_data_total") >= 1);
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);
    assert!(value(&mirror.url, "regledger_mirror_sources_failing") >= 1);
    assert!(evidence_now(&mirror).is_empty());
    // Verified from the fallback: the same state as the node.
    let p = get_json(&format!("{}/v1/products/P-1", mirror.url));
    assert_eq!(p["value"]["status"], "revoked");

    // While the mirror is down the log grows and the primary's copy is
    // refreshed, corrupt again: after the restart the primary is tried
    // first, refused, and the fallback serves the new checkpoint.
    mirror.kill9();
    post_all(&node.url, ops(&kit, 5, "f"));
    let n2 = tree_size(&node.url);
    let cp2 = wait_for_checkpoint(&node.url, n2);
    corrupt_copy(n2);
    mirror.restart();
    assert_eq!(wait_for_checkpoint(&mirror.url, n2), cp2);
    assert!(value(&mirror.url, "regledger_mirror_bad_data_total") >= 1);
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);
    assert!(evidence_now(&mirror).is_empty());
    // Caught up, the primary serves the accepted checkpoint (fine); the
    // unreachable fallback is the one source still failing.
    wait_until("the failing sources are not counted", || {
        value(&mirror.url, "regledger_mirror_sources_failing") == 1
    });
}

#[test]
fn a_log_signed_checkpoint_of_size_2_62_is_a_fetch_failure_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    post_steps(&node.url, &kit.setup(HashSuite::Blake3, "guangxi")[1..]);
    let n = tree_size(&node.url);
    let cp = wait_for_checkpoint(&node.url, n);
    let served = dir.path().join("static");
    copy_dir(&data.join("tiles"), &served);
    let web = StaticServer::start(&served);
    let (wkey, _) = witness_key(dir.path(), "venue-witness.example");
    let mirror = Mirror::start(
        &web.url,
        &log,
        &dir.path().join("mirror"),
        &["--witness-key", wkey.to_str().unwrap()],
    );
    assert_eq!(wait_for_checkpoint(&mirror.url, n), cp);
    let key = log_signer(&data);
    // The log key signs a checkpoint claiming 2^62 entries; its upstream serves it.
    let huge = signed(&key, 1 << 62, [7; 32]);
    std::fs::write(served.join("checkpoint"), &huge).unwrap();
    wait_until("the unreachable size raised no alarm", || {
        !healthy(&mirror.url)
            || metric(&mirror.url, "regledger_mirror_source_errors_total").unwrap_or(0) >= 2
    });
    assert!(healthy(&mirror.url), "the mirror died");
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);
    assert_eq!(
        get_text(&format!("{}/checkpoint", mirror.url)).unwrap().1,
        cp
    );
    // The same sizes shown to its witness endpoint: refused, not cosigned, still serving.
    for size in [1u64 << 62, (1 << 62) - 1, u64::MAX] {
        let note = signed(&key, size, [7; 32]);
        let (c, _, body) = add_checkpoint(&mirror.url, 0, &[], &note);
        assert!(c == 503 || c == 422, "size {size}: {c} {body}");
        assert!(healthy(&mirror.url), "the witness died at size {size}");
    }
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);
    // The honest checkpoint back, the log grown: the mirror follows.
    post_all(&node.url, ops(&kit, 3, "g"));
    let n2 = tree_size(&node.url);
    let cp2 = wait_for_checkpoint(&node.url, n2);
    let fresh = dir.path().join("fresh");
    copy_dir(&data.join("tiles"), &fresh);
    std::fs::remove_dir_all(&served).unwrap();
    std::fs::rename(&fresh, &served).unwrap();
    assert_eq!(wait_for_checkpoint(&mirror.url, n2), cp2);
    let (c, _, line) = add_checkpoint(&mirror.url, 0, &[], &cp2);
    assert_eq!(c, 200, "{line}");
}

#[test]
fn a_fork_shown_only_to_the_witness_endpoint_is_alarmed_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    post_steps(&node.url, &kit.setup(HashSuite::Blake3, "guangxi")[1..4]);
    let k = tree_size(&node.url);
    let cp_k = wait_for_checkpoint(&node.url, k);
    post_steps(&node.url, &kit.lifecycle(HashSuite::Blake3, "guangxi")[4..]);
    let n = tree_size(&node.url);
    let cp = wait_for_checkpoint(&node.url, n);
    let (wkey, _) = witness_key(dir.path(), "venue-witness.example");
    let mut mirror = Mirror::start(
        &node.url,
        &log,
        &dir.path().join("mirror"),
        &["--witness-key", wkey.to_str().unwrap()],
    );
    assert_eq!(wait_for_checkpoint(&mirror.url, n), cp);
    let (c, _, line) = add_checkpoint(&mirror.url, 0, &[], &cp);
    assert_eq!(c, 200, "{line}");
    let key = log_signer(&data);

    // A stale client (an older checkpoint of the same tree) is no fork: 409 with the size.
    let (c, ct, body) = add_checkpoint(&mirror.url, 0, &[], &cp_k);
    assert_eq!(
        (c, ct.as_str(), body.as_str()),
        (409, "text/x.tlog.size", &*format!("{n}\n"))
    );
    let (c, _, _) = add_checkpoint(&mirror.url, n, &[], &cp_k);
    assert_eq!(c, 400);
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);
    assert!(evidence_now(&mirror).is_empty());

    // The same size with another root, signed by the log key: 409 (tlog-witness),
    // and the alarm with evidence, saved before the answer.
    let same = signed(&key, n, [9; 32]);
    let (c, _, body) = add_checkpoint(&mirror.url, n, &[], &same);
    assert_eq!(c, 409, "{body}");
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 1);
    let evs = evidence_now(&mirror);
    assert_eq!(evs.len(), 1, "{evs:?}");
    let presented = std::fs::read_dir(&evs[0])
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .any(|t| t == same);
    assert!(presented, "the presented checkpoint is not in the evidence");
    let (c, v, err) = audit_readme(&log, &evs[0]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("fork"), "{err}");
    assert_eq!(v["trusted"]["consistent"], false, "{v}");
    assert_eq!(v["trusted"]["size"], n);
    // The alert stays up across a restart, until the evidence is moved away.
    mirror.kill9();
    mirror.restart();
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 1);
    std::fs::rename(mirror.data.join("evidence"), dir.path().join("reviewed-1")).unwrap();
    mirror.kill9();
    mirror.restart();
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);

    // A rollback to a smaller size with another tree: refused as the spec
    // says (old above the size), and alarmed with evidence.
    let back = signed(&key, k, [5; 32]);
    let (c, _, _) = add_checkpoint(&mirror.url, n, &[], &back);
    assert_eq!(c, 400);
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 1);
    let evs = evidence_now(&mirror);
    assert_eq!(evs.len(), 1, "{evs:?}");
    let (c, v, err) = audit_readme(&log, &evs[0]);
    assert_eq!(c, 1, "{err}");
    assert_eq!(v["trusted"]["size"], k, "{v}");
    assert_eq!(v["trusted"]["consistent"], false, "{v}");
    std::fs::rename(mirror.data.join("evidence"), dir.path().join("reviewed-2")).unwrap();
    mirror.kill9();
    mirror.restart();

    // A larger tree that does not extend the cosigned one, with the proof
    // from that tree: the proof rebuilds the presented root but another
    // root at the cosigned size, so it proves the fork (422, evidence with the request).
    let (_fork, fork_n, fork_cp) = start_fork(dir.path(), &data, &kit, n);
    let proof = get_json(&format!(
        "{}/v1/proof/consistency?old={n}&new={fork_n}",
        _fork.url
    ));
    let proof: Vec<String> = serde_json::from_value(proof["consistency_proof"].clone()).unwrap();
    assert!(
        !n.is_power_of_two(),
        "size {n}: the old root would be part of the proof"
    );
    let (c, _, body) = add_checkpoint(&mirror.url, n, &proof, &fork_cp);
    assert_eq!(c, 422, "{body}");
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 1);
    let evs = evidence_now(&mirror);
    assert_eq!(evs.len(), 1, "{evs:?}");
    let req = std::fs::read_to_string(evs[0].join("add-checkpoint.request")).unwrap();
    assert!(
        req.starts_with(&format!("old {n}\n{}\n", proof[0])),
        "{req}"
    );
    assert!(req.ends_with(&fork_cp), "{req}");
    // A proof that rebuilds neither root proves nothing: no alarm for garbage.
    std::fs::rename(mirror.data.join("evidence"), dir.path().join("reviewed-3")).unwrap();
    mirror.kill9();
    mirror.restart();
    let mut junk = proof.clone();
    junk[0] = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
    assert_eq!(add_checkpoint(&mirror.url, n, &junk, &fork_cp).0, 422);
    assert_eq!(value(&mirror.url, "regledger_mirror_split_view"), 0);
    assert!(evidence_now(&mirror).is_empty());
    // The witness still cosigns the honest log.
    post_all(&node.url, ops(&kit, 2, "w"));
    let n2 = tree_size(&node.url);
    let cp2 = wait_for_checkpoint(&node.url, n2);
    let p = get_json(&format!(
        "{}/v1/proof/consistency?old={n}&new={n2}",
        node.url
    ));
    let p: Vec<String> = serde_json::from_value(p["consistency_proof"].clone()).unwrap();
    let (c, _, line) = add_checkpoint(&mirror.url, n, &p, &cp2);
    assert_eq!(c, 200, "{line}");
}

#[test]
fn concurrent_add_checkpoint_requests_cannot_roll_the_witness_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    let (wkey, _) = witness_key(dir.path(), "venue-witness.example");
    let m = Mirror::start(
        &node.url,
        &log,
        &dir.path().join("m"),
        &["--witness-key", wkey.to_str().unwrap()],
    );
    post_steps(&node.url, &kit.setup(HashSuite::Blake3, "guangxi")[1..]);
    post_all(&node.url, ops(&kit, 20, "x"));
    let a = tree_size(&node.url);
    let cp_a = wait_for_checkpoint(&node.url, a);
    post_all(&node.url, ops(&kit, 20, "y"));
    let b = tree_size(&node.url);
    let cp_b = wait_for_checkpoint(&node.url, b);
    wait_for_checkpoint(&m.url, b);

    // Both race from the witness's empty state.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let racers: Vec<_> = [cp_a.clone(), cp_b.clone()]
        .into_iter()
        .map(|cp| {
            let (url, barrier) = (m.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                add_checkpoint(&url, 0, &[], &cp).0
            })
        })
        .collect();
    let codes: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 1, "{codes:?}");
    let winner = if codes[0] == 200 { a } else { b };
    // The witness holds exactly the winner's size.
    let (c, _, body) = add_checkpoint(&m.url, 0, &[], &cp_b);
    assert_eq!((c, body.trim()), (409, winner.to_string().as_str()));
    if winner == a {
        // It advances only with a proof from what it holds...
        let p = get_json(&format!(
            "{}/v1/proof/consistency?old={a}&new={b}",
            node.url
        ));
        let proof: Vec<String> = p["consistency_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect();
        assert_eq!(add_checkpoint(&m.url, a, &proof, &cp_b).0, 200);
    }
    // ...and never back to the smaller checkpoint.
    let (c, _, _) = add_checkpoint(&m.url, b, &[], &cp_a);
    assert_eq!(c, 400);
    let (c, _, body) = add_checkpoint(&m.url, a, &[], &cp_a);
    assert_eq!((c, body.trim()), (409, b.to_string().as_str()));
}
