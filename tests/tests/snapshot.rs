//! State snapshots on loopback (issue 14 stage C): a node's and a mirror's
//! `GET /v1/state/snapshot` at the served checkpoint, and the regulator's
//! incremental audit from it (`regledger-verify audit --from-snapshot
//! --trusted`) over HTTP, which reaches the full audit's verdict and state
//! root while checking only the entries after the snapshot.

use std::path::Path;
use std::process::Command;

use regledger::testkit::Testkit;
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::Value;

const ORIGIN: &str = "snapshot.e2e.example/gx";

fn audit(url: &str, log: &Path, extra: &[&std::ffi::OsStr]) -> (i32, Value) {
    let out = Command::new(bin("regledger-verify"))
        .arg("--json")
        .arg("audit")
        .arg("--url")
        .arg(url)
        .arg("--log")
        .arg(log)
        .args(extra)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), v)
}

#[test]
fn a_node_and_its_mirror_serve_the_snapshot_an_incremental_audit_starts_from() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    let half = steps.len() / 2;
    for s in &steps[1..half] {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    let k = tree_size(&node.url);
    let cp_k = wait_for_checkpoint(&node.url, k);
    let (c, snap) = get_bytes(&format!("{}/v1/state/snapshot", node.url));
    assert_eq!(c, 200);
    assert!(snap.starts_with(b"regledger-state-snapshot/v1\n"));
    let snap_file = dir.path().join("snapshot.bin");
    std::fs::write(&snap_file, &snap).unwrap();
    let trusted = dir.path().join("trusted.cp");
    std::fs::write(&trusted, &cp_k).unwrap();

    // The mirror at the same checkpoint serves the same bytes.
    let m = Mirror::start(&node.url, &log, &dir.path().join("mirror"), &[]);
    assert_eq!(wait_for_checkpoint(&m.url, k), cp_k);
    let (c, from_mirror) = get_bytes(&format!("{}/v1/state/snapshot", m.url));
    assert_eq!(c, 200);
    assert_eq!(from_mirror, snap, "the mirror's snapshot is the node's");

    for s in &steps[half..] {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    let n = tree_size(&node.url);
    wait_for_checkpoint(&node.url, n);

    let (c, full) = audit(&node.url, &log, &[]);
    assert_eq!(c, 0, "{full}");
    let (c, inc) = audit(
        &node.url,
        &log,
        &[
            "--from-snapshot".as_ref(),
            snap_file.as_os_str(),
            "--trusted".as_ref(),
            trusted.as_os_str(),
        ],
    );
    assert_eq!(c, 0, "{inc}");
    assert_eq!(inc["state_root"], full["state_root"]);
    assert_eq!(inc["computed_root"], full["computed_root"]);
    assert_eq!(inc["entries_checked"].as_u64(), Some(n - k));
    assert_eq!(inc["from_snapshot"]["size"].as_u64(), Some(k));

    // The regulator's procedure (docs/regulator.md §3b): the snapshot
    // fetched before an audit, the checkpoint that audit verified (in its
    // report) as the trusted one: the snapshot must be a prefix of it.
    let audited = dir.path().join("audited.cp");
    std::fs::write(&audited, full["checkpoint"]["note"].as_str().unwrap()).unwrap();
    let (c, inc) = audit(
        &node.url,
        &log,
        &[
            "--from-snapshot".as_ref(),
            snap_file.as_os_str(),
            "--trusted".as_ref(),
            audited.as_os_str(),
        ],
    );
    assert_eq!(c, 0, "{inc}");
    assert_eq!(inc["trusted"]["size"].as_u64(), Some(n));
    assert_eq!(inc["trusted"]["consistent"], true);
    assert_eq!(inc["state_root"], full["state_root"]);

    // A snapshot with one byte of a record changed is refused.
    let mut bad = snap.clone();
    let last = bad.len() - 3;
    bad[last] ^= 0x01;
    std::fs::write(&snap_file, &bad).unwrap();
    let (c, v) = audit(
        &node.url,
        &log,
        &[
            "--from-snapshot".as_ref(),
            snap_file.as_os_str(),
            "--trusted".as_ref(),
            trusted.as_os_str(),
        ],
    );
    assert_eq!(c, 1, "{v}");
    assert_eq!(v["failures"][0]["check"], "snapshot", "{v}");
}
