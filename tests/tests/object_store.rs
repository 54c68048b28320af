//! Tiles, entry bundles and the checkpoint on S3-compatible object storage
//! (issue 19, decision D20), against a real S3-protocol server process
//! (s3s-fs): the node copies every publication to the bucket; the audit
//! reads the bucket's public endpoint as it reads a node; a stale writer
//! cannot replace a newer checkpoint; with the bucket down entries are
//! still acknowledged and the bucket catches up when it returns; a mirror
//! follows the bucket's public endpoint and its status proofs verify (D24).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regledger::registry::EntryKind;
use regledger::testkit::{Testkit, DOC, REGISTRATION_NO};
use regledger::HashSuite;
use regledger_e2e::s3::{credentials, s3s_fs, site, Site};
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/s3";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn event(kit: &Testkit, actor: &str) -> regledger::entry::envelope::Envelope {
    kit.business.sign(
        EntryKind::OperationEvent,
        &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": now_ms() - 1000,
                "actor": actor, "records": 1, "personal_data_commitments": [DOC]}),
    )
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
    // The partials of the full tiles are deleted from the bucket once its
    // checkpoint covers them (D28); the right edge's stay.
    let files_under = |d: &Path| -> usize {
        fn walk(d: &Path) -> usize {
            std::fs::read_dir(d).map_or(0, |r| {
                r.filter_map(|e| e.ok())
                    .map(|e| match e.file_type().map(|t| t.is_dir()) {
                        Ok(true) => walk(&e.path()),
                        _ => 1,
                    })
                    .sum()
            })
        }
        walk(d)
    };
    let bucket = s.prefix_dir();
    for kind in ["0", "entries", "envelopes"] {
        wait_until(&format!("bucket's tile/{kind}/000.p/ emptied"), || {
            files_under(&bucket.join(format!("tile/{kind}/000.p"))) == 0
        });
        assert!(files_under(&bucket.join(format!("tile/{kind}/001.p"))) > 0);
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

/// A mirror follows the bucket's public read endpoint as it follows a node
/// (D20: the bucket serves the same tlog-tiles paths), recomputes every
/// state root from the bucket's tiles and envelope bundles, and its status
/// proofs verify offline, as it follows the bucket's growth.
#[test]
fn a_mirror_follows_the_buckets_public_endpoint_and_its_status_proofs_verify() {
    let Some(bin) = s3s_fs() else { return };
    let s = site(&bin);
    let dir = tempfile::tempdir().unwrap();
    let kit = Testkit::live(ORIGIN);
    let node = start_node(dir.path(), &kit, &s);
    let log = dir.path().join("node/log.json");
    let steps = kit.lifecycle(HashSuite::Sha256, "guangxi");
    let upto = |label: &str| steps.iter().position(|st| st.label == label).unwrap();
    let setup = kit.setup(HashSuite::Sha256, "guangxi").len();
    let post_upto = |from: usize, label: &str| {
        for st in &steps[from..=upto(label)] {
            assert_eq!(post(&node.url, &st.envelope).0, 200, "{}", st.label);
        }
    };
    post_upto(setup, "product registered");
    let size = tree_size(&node.url);
    s.wait_bucket(size);
    let (_, in_bucket) = get_text(&format!("{}/checkpoint", s.public())).unwrap();

    // The mirror's only upstream is the bucket.
    let m = Mirror::start(&s.public(), &log, &dir.path().join("mirror"), &[]);
    assert_eq!(wait_for_checkpoint(&m.url, size), in_bucket);
    let (c, v, from_mirror) = verify_status(&m.url, "product", REGISTRATION_NO, &log, dir.path());
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["state"]["status_zh"], "有效");
    let (c, v, from_node) = verify_status(&node.url, "product", REGISTRATION_NO, &log, dir.path());
    assert_eq!(c, 0, "{v}");
    assert_eq!(from_mirror.record, from_node.record);

    // The log grows; the bucket, then the mirror, follow: suspended, exit 3.
    post_upto(upto("product registered") + 1, "product suspended");
    let size = tree_size(&node.url);
    s.wait_bucket(size);
    let (_, in_bucket) = get_text(&format!("{}/checkpoint", s.public())).unwrap();
    assert_eq!(wait_for_checkpoint(&m.url, size), in_bucket);
    let (c, v, _) = verify_status(&m.url, "product", REGISTRATION_NO, &log, dir.path());
    assert_eq!(c, 3, "{v}");
    assert_eq!(v["state"]["status"], "suspended");
}
