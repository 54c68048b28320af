//! Faults: a full filesystem under the data directory, a corrupted tile, a
//! data directory that cannot be written. The node must refuse cleanly,
//! never acknowledge what is not durable, lose nothing, and recover.
//!
//! The full-disk test mounts a small tmpfs and so needs root (CAP_SYS_ADMIN);
//! without it it prints `SKIPPED` and why.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use regledger::registry::EntryKind;
use regledger::testkit::{Testkit, DOC};
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/faults";

fn mount_tmpfs(dir: &Path, size: &str) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

struct Unmount<'a>(&'a Path);
impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}

#[test]
fn full_filesystem_refuses_writes_loses_nothing_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    if !mount_tmpfs(&mnt, "6m") {
        eprintln!("SKIPPED full_filesystem test: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _guard = Unmount(&mnt);
    let data = mnt.join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let node = Node::start(&data, &[]);
    for s in kit.setup(HashSuite::Blake3, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    // Large operation events (256 commitments each, ~17 KB) until the disk is full.
    let big = |i: u64| {
        kit.business.sign(
            EntryKind::OperationEvent,
            &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": kit.base_ms - 3_600_000 + i, "actor": format!("a{i}"),
                    "records": i, "personal_data_commitments": vec![DOC; 256]}),
        )
    };
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..2_000u64 {
        let (code, body) = post(&node.url, &big(i));
        match code {
            200 => acked.push((
                body["index"].as_u64().unwrap(),
                body["leaf_hash"].as_str().unwrap().to_string(),
            )),
            _ => {
                refused = Some((code, body));
                break;
            }
        }
    }
    let (code, body) = refused.expect("a 6 MB filesystem filled up");
    assert_eq!(code, 503, "{body}");
    assert_eq!(
        body["type"], "https://regledger.dev/problems/storage-unavailable",
        "{body}"
    );
    assert!(metric(&node.url, "regledger_storage_errors_total").unwrap_or(0) >= 1);
    assert!(acked.len() > 10, "some entries fit before the disk filled");
    // Still full: still refused, and the node keeps serving reads. (The
    // reopen after the failure drops the snapshot pinned for status proofs,
    // D15, whose pages redb may then reuse: a few more entries can fit in
    // the file before the disk refuses again. They are kept like the rest.)
    let mut still = None;
    for i in 0..50u64 {
        let (code, body) = post(&node.url, &big(10_000 + i));
        if code == 200 {
            acked.push((
                body["index"].as_u64().unwrap(),
                body["leaf_hash"].as_str().unwrap().to_string(),
            ));
            continue;
        }
        still = Some(code);
        break;
    }
    assert_eq!(still, Some(503), "a full disk refuses again");
    for (index, leaf_hash) in &acked {
        let e = get_json(&format!("{}/v1/entries/{index}", node.url));
        assert_eq!(e["leaf_hash"].as_str(), Some(leaf_hash.as_str()));
    }
    // Space returns: writes succeed again, without a restart.
    assert!(Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&mnt)
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + patience();
    let mut code = 0;
    let mut i = 20_000;
    while Instant::now() < deadline {
        i += 1;
        code = post(&node.url, &big(i)).0;
        if code == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(code, 200, "the node recovers when space returns");
    for (index, leaf_hash) in &acked {
        let e = get_json(&format!("{}/v1/entries/{index}", node.url));
        assert_eq!(
            e["leaf_hash"].as_str(),
            Some(leaf_hash.as_str()),
            "entry {index} survived"
        );
    }
    drop(node);
    // And the log that results audits clean.
    let out = Command::new(bin("regledger-verify"))
        .args(["audit", "--dir"])
        .arg(data.join("tiles"))
        .arg("--log")
        .arg(data.join("log.json"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_read_only_data_directory_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    if !mount_tmpfs(&mnt, "16m") {
        eprintln!("SKIPPED read_only test: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _guard = Unmount(&mnt);
    let data = mnt.join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let before = std::fs::read(data.join("ledger.redb")).unwrap();
    assert!(Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&mnt)
        .status()
        .unwrap()
        .success());
    let out = Command::new(bin("regledger-node"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error:") && err.to_lowercase().contains("read-only"),
        "{err}"
    );
    assert_eq!(std::fs::read(data.join("ledger.redb")).unwrap(), before);
}

#[test]
fn torn_or_corrupted_edge_tiles_are_rewritten_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "sha256", &kit);
    let mut node = Node::start(&data, &[]);
    for s in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    let deadline = Instant::now() + patience();
    while get_text(&format!("{}/checkpoint", node.url))
        .unwrap()
        .1
        .lines()
        .nth(1)
        != Some("10")
    {
        assert!(Instant::now() < deadline, "checkpoint for 10 entries");
        std::thread::sleep(Duration::from_millis(50));
    }
    let entries = data.join("tiles/tile/entries/000.p/10");
    let hashes = data.join("tiles/tile/0/000.p/10");
    let (good_e, good_h) = (
        std::fs::read(&entries).unwrap(),
        std::fs::read(&hashes).unwrap(),
    );
    node.kill9();
    // A torn write: half a file; and a flipped bit.
    std::fs::write(&entries, &good_e[..good_e.len() / 2]).unwrap();
    let mut bad = good_h.clone();
    bad[40] ^= 0x10;
    std::fs::write(&hashes, bad).unwrap();
    node.restart();
    let (c, served) = get_text(&format!("{}/tile/entries/000.p/10", node.url)).unwrap();
    assert_eq!(c, 200);
    // (get_text decodes lossily; the files themselves are compared byte for byte.)
    assert!(
        served == String::from_utf8_lossy(&good_e),
        "served bundle differs"
    );
    assert!(
        std::fs::read(&entries).unwrap() == good_e,
        "entry bundle not rewritten"
    );
    assert!(
        std::fs::read(&hashes).unwrap() == good_h,
        "hash tile not rewritten"
    );
    let out = Command::new(bin("regledger-verify"))
        .args(["audit", "--dir"])
        .arg(data.join("tiles"))
        .arg("--log")
        .arg(data.join("log.json"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A node whose own log is on the filesystem that fills up (stderr
/// redirected to a file on the data disk, a common setup) keeps refusing
/// cleanly: a log line it cannot write is dropped. Before, the logging
/// layer's fallback `eprintln!` panicked in the sequencer thread at the
/// first storage warning, and every later submission got `shutting-down`.
#[test]
fn a_full_disk_under_the_nodes_own_log_does_not_stop_it() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    if !mount_tmpfs(&mnt, "6m") {
        eprintln!("SKIPPED full-disk log test: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _guard = Unmount(&mnt);
    let data = mnt.join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = mnt.join("node.log");
    // Killed however the test ends (it holds the tmpfs busy otherwise).
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Command::new(bin("regledger-node"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(&data)
        .args(["--checkpoint-ms", "50"])
        .env("REGLEDGER_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_up(&url, "/checkpoint", "node", &mut child, &log);
    let _child = Killed(child);
    for s in kit.setup(HashSuite::Blake3, "guangxi").iter().skip(1) {
        assert_eq!(post(&url, &s.envelope).0, 200, "{}", s.label);
    }
    let big = |i: u64| {
        kit.business.sign(
            EntryKind::OperationEvent,
            &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": kit.base_ms - 3_600_000 + i, "actor": format!("a{i}"),
                    "records": i, "personal_data_commitments": vec![DOC; 256]}),
        )
    };
    let mut refusals = Vec::new();
    for i in 0..2_000u64 {
        let (code, body) = post(&url, &big(i));
        if code != 200 {
            refusals.push(body["type"].as_str().unwrap_or("").to_string());
            if refusals.len() == 3 {
                break;
            }
        }
    }
    assert_eq!(refusals.len(), 3, "a 6 MB filesystem filled up");
    for t in &refusals {
        assert_eq!(
            t, "https://regledger.dev/problems/storage-unavailable",
            "refusals after the disk filled: {refusals:?}"
        );
    }
}
