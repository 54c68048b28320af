//! The regulator's whole-log audit on what a real node wrote: its tile
//! directory, the same log over HTTP, a tampered copy, and a second node
//! run with the same keys (a fork) against a checkpoint saved earlier.

use std::process::Command;

use regledger::testkit::Testkit;
use regledger::HashSuite;
use regledger_e2e::{bin, copy_dir, init_fork, init_with_testkit, post, wait_for_checkpoint, Node};
use serde_json::Value;

const ORIGIN: &str = "audit.e2e.example/gx";

fn audit(args: &[&std::ffi::OsStr]) -> (i32, Value, String) {
    let out = Command::new(bin("regledger-verify"))
        .args(["--json", "audit"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn audit_of_a_node_log_by_dir_and_url_tampering_and_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let node = Node::start(&data, &[]);
    let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    for s in steps.iter().skip(1) {
        let (code, body) = post(&node.url, &s.envelope);
        assert_eq!(code, 200, "{}: {body}", s.label);
    }
    let n = steps.len() as u64;
    let cp = wait_for_checkpoint(&node.url, n);
    let log = data.join("log.json");
    let tiles = data.join("tiles");

    // From the tile directory on disk.
    let (code, by_dir, err) = audit(&[
        "--dir".as_ref(),
        tiles.as_os_str(),
        "--log".as_ref(),
        log.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}{by_dir}");
    assert_eq!(by_dir["entries_checked"], n);
    assert_eq!(by_dir["products"][0]["status"], "revoked");
    // From the node over HTTP: the same verdict and root.
    let (code, by_url, err) = audit(&[
        "--url".as_ref(),
        node.url.as_ref(),
        "--log".as_ref(),
        log.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(by_url["computed_root"], by_dir["computed_root"]);
    assert_eq!(by_url["entries_by_kind"], by_dir["entries_by_kind"]);

    // The regulator keeps this checkpoint.
    let trusted = dir.path().join("trusted.checkpoint");
    std::fs::write(&trusted, &cp).unwrap();

    // A tampered copy: one bit in entry 9 of the entry bundle.
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    copy_dir(&tiles, &copy);
    let bundle = copy.join(format!("tile/entries/000.p/{n}"));
    let mut b = std::fs::read(&bundle).unwrap();
    let mut off = 0usize;
    for _ in 0..9 {
        off += 2 + usize::from(u16::from_be_bytes([b[off], b[off + 1]]));
    }
    b[off + 2 + 100] ^= 0x04;
    std::fs::write(&bundle, b).unwrap();
    let (code, v, err) = audit(&[
        "--dir".as_ref(),
        copy.as_os_str(),
        "--log".as_ref(),
        log.as_os_str(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(v["failures"][0]["index"], 9, "{v}");

    // A second node with the same log key, origin and authority: a
    // different history signed by the same key (a split view).
    let data2 = dir.path().join("fork");
    init_fork(&data, &data2, ORIGIN, "blake3");
    let fork = Node::start(&data2, &[]);
    for s in steps.iter().skip(1) {
        assert_eq!(post(&fork.url, &s.envelope).0, 200, "{}", s.label);
    }
    wait_for_checkpoint(&fork.url, n);
    let tiles2 = data2.join("tiles");
    // On its own the fork is a well-formed log signed by the right key...
    let (code, _, err) = audit(&[
        "--dir".as_ref(),
        tiles2.as_os_str(),
        "--log".as_ref(),
        log.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    // ...but not the one the regulator saw.
    let (code, v, err) = audit(&[
        "--dir".as_ref(),
        tiles2.as_os_str(),
        "--log".as_ref(),
        log.as_os_str(),
        "--trusted".as_ref(),
        trusted.as_os_str(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("fork"), "{err}");
    let tr = &v["trusted"];
    assert_eq!(tr["consistent"], false);
    assert_eq!(tr["trusted_root"], by_dir["computed_root"]);
    assert_eq!(tr["log_root"], v["computed_root"]);
    assert_ne!(tr["trusted_root"], tr["log_root"]);
}
