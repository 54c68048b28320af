//! Publishing with a witness policy: a node whose log.json names two
//! witnesses (two venues' mirrors) with quorum 2 publishes only checkpoints
//! both cosigned; with one witness down it keeps acknowledging entries but
//! does not publish (and says so in a metric); with `best-effort` it
//! publishes with the one cosignature it gets. A certificate from the
//! witnessed log fails `regledger-verify cert` with a forged or missing
//! cosignature.

use std::process::Command;
use std::time::{Duration, Instant};

use regledger::descriptor::LogDescriptor;
use regledger::registry::EntryKind;
use regledger::testkit::{Testkit, DOC};
use regledger::tlog::checkpoint::open_witnessed_checkpoint;
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/witnessed";

fn op(kit: &Testkit, i: u64) -> regledger::entry::envelope::Envelope {
    kit.business.sign(
        EntryKind::OperationEvent,
        &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": kit.base_ms - 3_600_000 + i, "actor": format!("w{i}"),
                "records": i, "personal_data_commitments": [DOC]}),
    )
}

#[test]
fn quorum_two_publishes_only_cosigned_checkpoints_and_stops_when_a_witness_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    let (k1, v1) = witness_key(dir.path(), "venue-one.example");
    let (k2, v2) = witness_key(dir.path(), "venue-two.example");
    // init with the testkit's authority and both witnesses, quorum 2.
    let auth = dir.path().join("authority.key");
    let signer = regledger::tlog::note::Signer::generate(
        &kit.authority.id,
        regledger::tlog::note::KeyType::Ed25519,
        kit.authority.key.to_bytes(),
    )
    .unwrap();
    std::fs::write(&auth, signer.to_skey()).unwrap();
    let out = Command::new(bin("regledger-node"))
        .args(["init", "--data"])
        .arg(&data)
        .args([
            "--origin",
            ORIGIN,
            "--profile",
            "guangxi",
            "--witness",
            &v1,
            "--witness",
            &v2,
            "--quorum",
            "2",
            "--authority-key",
        ])
        .arg(&auth)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = data.join("log.json");
    let d = LogDescriptor::parse(&std::fs::read(&log).unwrap()).unwrap();
    assert_eq!((d.witnesses.len(), d.quorum), (2, 2));

    // Without --witness the node refuses to start: it could never publish.
    let refused = Command::new(bin("regledger-node"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--witness"));

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let m1 = Mirror::start(
        &url,
        &log,
        &dir.path().join("m1"),
        &["--witness-key", k1.to_str().unwrap()],
    );
    let mut m2 = Mirror::start(
        &url,
        &log,
        &dir.path().join("m2"),
        &["--witness-key", k2.to_str().unwrap()],
    );
    let (u1, u2) = (m1.url.clone(), m2.url.clone());
    let witness_args = ["--witness", u1.as_str(), "--witness", u2.as_str()];
    let witness_args = [witness_args.as_slice(), &["--witness-timeout-ms", "1000"]].concat();
    let mut node = Node::start_at(&data, port, &witness_args);
    for s in kit.setup(HashSuite::Blake3, "guangxi").iter().skip(1) {
        assert_eq!(post(&url, &s.envelope).0, 200, "{}", s.label);
    }
    let cp = wait_for_checkpoint(&url, 10);
    let v = open_witnessed_checkpoint(cp.as_bytes(), &d.log_key, &d.witnesses, 2)
        .expect("2-of-2 cosigned");
    assert_eq!(v.witnesses.len(), 2);
    // The regulator's command agrees.
    let f = dir.path().join("cp.txt");
    std::fs::write(&f, &cp).unwrap();
    let out = Command::new(bin("regledger-verify"))
        .arg("checkpoint")
        .arg(&f)
        .args([
            "--vkey",
            &d.log_key.to_vkey(),
            "--witness",
            &v1,
            "--witness",
            &v2,
            "--quorum",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One witness down: entries are still acknowledged, the checkpoint does not grow.
    m2.kill9();
    for i in 0..3 {
        assert_eq!(post(&url, &op(&kit, i)).0, 200);
    }
    assert_eq!(tree_size(&url), 13);
    let deadline = Instant::now() + patience();
    while metric(&url, "regledger_checkpoint_unwitnessed_total").unwrap_or(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "no unwitnessed checkpoint was counted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The retries write only new tiles: the bundle for 13 entries, written
    // once, is not rewritten at every attempt (inode unchanged).
    use std::os::unix::fs::MetadataExt;
    let bundle = data.join("tiles/tile/entries/000.p/13");
    let deadline = Instant::now() + patience();
    while !bundle.exists() {
        assert!(Instant::now() < deadline, "tiles for 13 never written");
        std::thread::sleep(Duration::from_millis(20));
    }
    let inode = std::fs::metadata(&bundle).unwrap().ino();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(std::fs::metadata(&bundle).unwrap().ino(), inode);
    let (_, still) = get_text(&format!("{url}/checkpoint")).unwrap();
    assert_eq!(
        checkpoint_size(&still),
        Some(10),
        "published without the quorum"
    );
    // The live witness verified 13 to cosign it, but serves only what the
    // log published, and the log being "behind" it is no split view.
    let (_, m1_cp) = get_text(&format!("{u1}/checkpoint")).unwrap();
    assert_eq!(checkpoint_size(&m1_cp), Some(10));
    assert_eq!(metric(&u1, "regledger_mirror_split_view"), Some(0));

    // Best effort: published with the one cosignature that arrived.
    node.kill9();
    node.restart_with(
        &[
            witness_args.as_slice(),
            &["--witness-policy", "best-effort"],
        ]
        .concat(),
    );
    let cp = wait_for_checkpoint(&url, 13);
    let v = open_witnessed_checkpoint(cp.as_bytes(), &d.log_key, &d.witnesses, 1)
        .expect("1 cosignature");
    assert_eq!(v.witnesses.len(), 1);
    assert!(open_witnessed_checkpoint(cp.as_bytes(), &d.log_key, &d.witnesses, 2).is_err());
    // The live mirror holds log.json's quorum 2: it keeps serving the
    // 2-of-2 checkpoint 10 (the 1-cosignature 13 is refused as not
    // witnessed, not taken for a split view).
    std::thread::sleep(Duration::from_millis(500));
    let (_, m1_cp) = get_text(&format!("{u1}/checkpoint")).unwrap();
    assert_eq!(checkpoint_size(&m1_cp), Some(10));
    open_witnessed_checkpoint(m1_cp.as_bytes(), &d.log_key, &d.witnesses, 2)
        .expect("mirror serves 2-of-2");
    assert_eq!(metric(&u1, "regledger_mirror_split_view"), Some(0));

    // Both witnesses back, policy wait again: witness two restarts behind
    // (it cosigned 10), the node's saved old size for it is 10, and 2-of-2
    // checkpoints are published again; mirror one follows to them.
    node.kill9();
    m2.restart();
    node.restart_with(&witness_args);
    assert_eq!(post(&url, &op(&kit, 3)).0, 200);
    let cp = wait_for_checkpoint(&url, 14);
    open_witnessed_checkpoint(cp.as_bytes(), &d.log_key, &d.witnesses, 2).expect("2-of-2 again");
    let deadline = Instant::now() + patience();
    loop {
        let (_, m1_cp) = get_text(&format!("{u1}/checkpoint")).unwrap();
        if checkpoint_size(&m1_cp) == Some(14) {
            break;
        }
        assert!(Instant::now() < deadline, "mirror one stayed at {m1_cp}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(metric(&u1, "regledger_mirror_split_view"), Some(0));
    assert_eq!(metric(&u2, "regledger_mirror_split_view"), Some(0));

    // A certificate from this log carries the 2-of-2 cosigned checkpoint;
    // the regulator's `verify cert` holds log.json's quorum, so a forged or
    // missing cosignature fails it.
    let setup_len = kit.setup(HashSuite::Blake3, "guangxi").len();
    let lifecycle = kit.lifecycle(HashSuite::Blake3, "guangxi");
    let registered = lifecycle
        .iter()
        .position(|s| s.label == "product registered")
        .unwrap();
    for s in &lifecycle[setup_len..=registered] {
        assert_eq!(post(&url, &s.envelope).0, 200, "{}", s.label);
    }
    let n = tree_size(&url);
    wait_for_checkpoint(&url, n);
    let bundle: regledger::cert::bundle::CertificateBundle =
        serde_json::from_value(get_json(&format!(
            "{url}/v1/certificates/{}",
            regledger::testkit::REGISTRATION_NO
        )))
        .unwrap();
    let (code, err) = verify_cert(dir.path(), &log, &bundle);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = bundle.checkpoint.lines().collect();
    let sigs: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("— "))
        .collect();
    assert_eq!(
        sigs.len(),
        3,
        "log signature and two cosignatures: {}",
        bundle.checkpoint
    );
    for (name, drop_line, flip, want) in [
        (
            "a forged cosignature",
            None,
            Some(sigs[2]),
            "invalid signature for key venue-two.example",
        ),
        (
            "a missing cosignature",
            Some(sigs[2]),
            None,
            "witness quorum not met: 1 of 2",
        ),
    ] {
        let mut b = bundle.clone();
        let mut ls: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        if let Some(i) = flip {
            // One bit of the cosignature itself (key hint and timestamp kept).
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD;
            let (head, sig) = ls[i].rsplit_once(' ').unwrap();
            let mut raw = b64.decode(sig).unwrap();
            *raw.last_mut().unwrap() ^= 1;
            ls[i] = format!("{head} {}", b64.encode(raw));
        }
        if let Some(i) = drop_line {
            ls.remove(i);
        }
        b.checkpoint = ls.join("\n") + "\n";
        let (code, err) = verify_cert(dir.path(), &log, &b);
        assert_eq!(code, Some(1), "{name} verified: {err}");
        assert!(
            err.starts_with("FAIL: checkpoint: ") && err.contains(want),
            "{name}: {err}"
        );
    }
}
