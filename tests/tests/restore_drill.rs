//! The restore drill of docs/operator.md (issue 19, item 4): the primary
//! site is lost (the node killed, its PostgreSQL server stopped and its
//! data deleted) and the log comes back from the off-site copies: the
//! synchronous standby of PostgreSQL in the second site (promoted) and the
//! off-site copy of the data directory (log.json, keys). A verified mirror
//! at a venue, the independent copy, saw the log up to some checkpoint:
//! the restored log extends it (consistency proof), holds every entry
//! acknowledged before the loss, and passes the audit. Its own test
//! binary: it destroys the test cluster.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::descriptor::{verify_log_signature, LogDescriptor};
use regledger::registry::EntryKind;
use regledger::testkit::{Testkit, DOC};
use regledger::tlog::proof::verify_consistency;
use regledger::{Hash, HashSuite};
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/restore";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn lose_the_primary_site_and_restore_from_the_off_site_copies() {
    let Some(primary) = postgres() else { return };
    let url = primary.fresh_db();
    // The second site: a synchronous standby, in place before any entry.
    let standby = primary.replica();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit_in(&data, ORIGIN, "sha256", &kit, Some(&url));
    // The off-site copy of the data directory: its descriptor and keys.
    let offsite = dir.path().join("offsite");
    copy_dir(&data, &offsite);
    let mut node = Node::start(&data, &["--store", &url]);
    for s in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    let mirror = Mirror::start(
        &node.url,
        &data.join("log.json"),
        &dir.path().join("mirror"),
        &[],
    );
    let mut acked = Vec::new();
    for i in 0..40 {
        let env = kit.business.sign(
            EntryKind::OperationEvent,
            &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": now_ms() - 1000,
                    "actor": format!("r{i}"), "records": i, "personal_data_commitments": [DOC]}),
        );
        let (code, v) = post(&node.url, &env);
        assert_eq!(code, 200, "{v}");
        acked.push((v["index"].as_u64().unwrap(), B64.encode(env.to_bytes())));
    }
    // The mirror has verified up to some checkpoint when disaster strikes.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mirror_note = loop {
        if let Ok((200, note)) = get_text(&format!("{}/checkpoint", mirror.url)) {
            if checkpoint_size(&note).unwrap_or(0) > 20 {
                break note;
            }
        }
        assert!(Instant::now() < deadline, "the mirror did not follow");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(mirror);

    // The primary site is lost: node, database server and its data.
    node.kill9();
    primary.destroy();
    std::fs::remove_dir_all(&data).unwrap();

    // Restore: promote the standby, start a node from the off-site copy.
    standby.promote();
    let restored_url = format!(
        "postgres://regledger@127.0.0.1:{}/{}",
        standby.port,
        url.rsplit('/').next().unwrap()
    );
    let restored = Node::start(&offsite, &["--store", &restored_url]);
    let d = LogDescriptor::parse(&std::fs::read(offsite.join("log.json")).unwrap()).unwrap();

    // Nothing acknowledged is lost (the standby confirmed every commit).
    for (index, env_b64) in &acked {
        // The envelope as stored (beside a v2 leaf), in its binary form.
        let e = get_json(&format!("{}/v1/entries/{index}", restored.url));
        let env = regledger::entry::envelope::Envelope::from_json(&e["envelope"]).unwrap();
        assert_eq!(B64.encode(env.to_bytes()), *env_b64, "entry {index}");
    }
    // The restored log extends what the mirror saw.
    let seen = verify_log_signature(mirror_note.as_bytes(), &d)
        .unwrap()
        .checkpoint;
    let (_, now_note) = get_text(&format!("{}/checkpoint", restored.url)).unwrap();
    let now = verify_log_signature(now_note.as_bytes(), &d)
        .unwrap()
        .checkpoint;
    assert!(now.size >= seen.size);
    let p = get_json(&format!(
        "{}/v1/proof/consistency?old={}&new={}",
        restored.url, seen.size, now.size
    ));
    let proof: Vec<Hash> = p["consistency_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_slice(&B64.decode(h.as_str().unwrap()).unwrap()).unwrap())
        .collect();
    verify_consistency(d.suite, seen.size, now.size, &proof, &seen.root, &now.root)
        .expect("the restored log is consistent with the mirror's last checkpoint");
    // And the regulator's audit of the restored node, trusting the mirror's checkpoint.
    let trusted = dir.path().join("mirror-checkpoint");
    std::fs::write(&trusted, &mirror_note).unwrap();
    let out = std::process::Command::new(bin("regledger-verify"))
        .args(["--json", "audit", "--url", &restored.url, "--log"])
        .arg(offsite.join("log.json"))
        .arg("--trusted")
        .arg(&trusted)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "audit of the restored log: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    // The restored node takes new entries on the same tree.
    let (code, v) = post(
        &restored.url,
        &kit.business.sign(
            EntryKind::OperationEvent,
            &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": now_ms() - 1000,
                    "actor": "after", "records": 1, "personal_data_commitments": [DOC]}),
        ),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["index"].as_u64().unwrap(), now.size);
}
