//! Tiles, entry bundles and the checkpoint on S3-compatible object storage
//! (issue 19, decision D20), against a real S3-protocol server process
//! (s3s-fs): the node copies every publication to the bucket; the audit
//! reads the bucket's public endpoint as it reads a node; a stale writer
//! cannot replace a newer checkpoint; with the bucket down entries are
//! still acknowledged and the bucket catches up when it returns.

use std::path::Path;
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regledger::registry::EntryKind;
use regledger::testkit::{Testkit, DOC};
use regledger::HashSuite;
use regledger_e2e::s3::{s3s_fs, S3Server, ACCESS_KEY, SECRET_KEY};
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/s3";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// credentials puts the test server's credentials in the environment the
/// nodes inherit (the usual AWS variables; the same values for every test).
fn credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        std::env::set_var("AWS_REGION", "us-east-1");
    });
}

fn event(kit: &Testkit, actor: &str) -> regledger::entry::envelope::Envelope {
    kit.business.sign(
        EntryKind::OperationEvent,
        &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": now_ms() - 1000,
                "actor": actor, "records": 1, "personal_data_commitments": [DOC]}),
    )
}

/// Site is a bucket served twice from one directory: the writers' endpoint
/// (signed requests only) and a public read endpoint.
struct Site {
    _root: tempfile::TempDir,
    write: S3Server,
    read: S3Server,
}

fn site(bin: &Path) -> Site {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("ledger")).unwrap();
    let write = S3Server::start(bin, root.path(), true);
    let read = S3Server::start(bin, root.path(), false);
    Site {
        _root: root,
        write,
        read,
    }
}

impl Site {
    fn node_args(&self) -> Vec<String> {
        vec![
            "--tiles".into(),
            "s3://ledger/gx".into(),
            "--s3-endpoint".into(),
            self.write.url(),
        ]
    }

    fn public(&self) -> String {
        format!("{}/ledger/gx", self.read.url())
    }

    /// bucket_size is the size of the bucket's checkpoint (0 if none).
    fn bucket_size(&self) -> u64 {
        match get_text(&format!("{}/checkpoint", self.public())) {
            Ok((200, note)) => checkpoint_size(&note).unwrap_or(0),
            _ => 0,
        }
    }

    fn wait_bucket(&self, size: u64) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.bucket_size() < size {
            assert!(
                Instant::now() < deadline,
                "the bucket's checkpoint stayed at {} below {size}",
                self.bucket_size()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn start_node(dir: &Path, kit: &Testkit, s: &Site) -> Node {
    credentials();
    let data = dir.join("node");
    init_with_testkit(&data, ORIGIN, "sha256", kit);
    let args = s.node_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = Node::start(&data, &args);
    for st in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &st.envelope).0, 200, "{}", st.label);
    }
    node
}

fn audit_url(url: &str, log: &Path) -> (Option<i32>, serde_json::Value, String) {
    let out = std::process::Command::new(bin("regledger-verify"))
        .args(["--json", "audit", "--url", url, "--log"])
        .arg(log)
        .output()
        .unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn publications_go_to_the_bucket_and_the_audit_reads_them_there() {
    let Some(bin) = s3s_fs() else { return };
    let s = site(&bin);
    let dir = tempfile::tempdir().unwrap();
    let kit = Testkit::live(ORIGIN);
    let node = start_node(dir.path(), &kit, &s);
    // Past one full tile (256 entries), so full tiles are created once and
    // the partial right edge is replaced as it grows.
    for i in 0..300 {
        assert_eq!(post(&node.url, &event(&kit, &format!("a{i}"))).0, 200);
    }
    let size = tree_size(&node.url);
    s.wait_bucket(size);
    // The bucket serves the same tlog-tiles paths as the node, byte for byte.
    for p in ["tile/0/000", "tile/entries/000", "tile/1/000.p/1"] {
        let (c1, from_node) = get_bytes(&format!("{}/{p}", node.url));
        let (c2, from_bucket) = get_bytes(&format!("{}/{p}", s.public()));
        assert_eq!((c1, c2), (200, 200), "{p}");
        assert_eq!(from_node, from_bucket, "{p}");
    }
    let (_, log_json) = get_text(&format!("{}/log.json", s.public())).unwrap();
    assert_eq!(
        log_json,
        std::fs::read_to_string(dir.path().join("node/log.json")).unwrap()
    );
    // The regulator's audit reads the bucket as it reads a node.
    let (code, report, err) = audit_url(&s.public(), &dir.path().join("node/log.json"));
    assert_eq!(code, Some(0), "audit of the bucket: {err}{report}");
    assert!(report["checkpoint"]["size"].as_u64().unwrap() >= size);
}

#[test]
fn a_stale_writer_cannot_replace_a_newer_checkpoint() {
    let Some(bin) = s3s_fs() else { return };
    let s = site(&bin);
    let dir = tempfile::tempdir().unwrap();
    let kit = Testkit::live(ORIGIN);
    let mut node = start_node(dir.path(), &kit, &s);
    let old_size = tree_size(&node.url);
    s.wait_bucket(old_size);
    // An old copy of the node (its data directory as of now) ...
    node.kill9();
    let old = dir.path().join("old");
    copy_dir(&dir.path().join("node"), &old);
    node.restart();
    // ... while the log grows and the bucket follows.
    for i in 0..20 {
        assert_eq!(post(&node.url, &event(&kit, &format!("b{i}"))).0, 200);
    }
    let size = tree_size(&node.url);
    s.wait_bucket(size);
    node.kill9();
    let (_, newer) = get_text(&format!("{}/checkpoint", s.public())).unwrap();
    // The old copy starts against the same bucket: it serves its own
    // (older) checkpoint, but must not put it in the bucket.
    let args = s.node_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stale = Node::start(&old, &args);
    assert_eq!(tree_size(&stale.url), old_size);
    let log = stderr_file(&old);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // Until it tried and was refused, or it replaced the checkpoint.
        let l = std::fs::read_to_string(&log).unwrap_or_default();
        let (_, there) = get_text(&format!("{}/checkpoint", s.public())).unwrap();
        if l.contains("not replaced") || there != newer {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stale node never tried to publish: {l}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, now) = get_text(&format!("{}/checkpoint", s.public())).unwrap();
    assert_eq!(
        now, newer,
        "a stale node replaced the bucket's newer checkpoint"
    );
    assert_eq!(checkpoint_size(&now), Some(size));
}

#[test]
fn with_the_bucket_down_entries_are_acknowledged_and_the_bucket_catches_up() {
    let Some(bin) = s3s_fs() else { return };
    let mut s = site(&bin);
    let dir = tempfile::tempdir().unwrap();
    let kit = Testkit::live(ORIGIN);
    let node = start_node(dir.path(), &kit, &s);
    let before = tree_size(&node.url);
    s.wait_bucket(before);
    s.write.stop();
    // The store of record is the node's database: acknowledged as before.
    for i in 0..10 {
        let (code, v) = post(&node.url, &event(&kit, &format!("c{i}")));
        assert_eq!(code, 200, "{v}");
    }
    let size = tree_size(&node.url);
    assert_eq!(size, before + 10);
    assert!(s.bucket_size() < size, "the bucket moved while down");
    s.write.restart();
    s.wait_bucket(size);
    let (code, report, err) = audit_url(&s.public(), &dir.path().join("node/log.json"));
    assert_eq!(
        code,
        Some(0),
        "audit of the bucket after the outage: {err}{report}"
    );
}
