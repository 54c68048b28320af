//! The external signer seam (docs/operator.md, "Keys in a signing device"):
//! a node whose log key lives outside it (here the reference software
//! signer `regledger-node sign` behind a script standing in for a 密码机's
//! adapter) publishes SM2-signed checkpoints; with the signer down, or
//! hanging past `--signer-timeout-ms` (10 s by default, D19), it keeps
//! logging entries but publishes no checkpoint, says so in a metric and its
//! log, and recovers when the signer is back; a signer answering with
//! another key's signature is refused before anything is published. A mirror's witness
//! key behind the same interface cosigns.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use regledger::descriptor::{verify_checkpoint, LogDescriptor};
use regledger::registry::EntryKind;
use regledger::testkit::Testkit;
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/device";

fn script(dir: &Path, key: &Path) -> std::path::PathBuf {
    let p = dir.join("device-signer.sh");
    let node = bin("regledger-node");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\n\
             # Stands in for a signing device's adapter: same interface.\n\
             touch '{d}/called'\n\
             if [ -e '{d}/down' ]; then echo 'device offline' >&2; exit 1; fi\n\
             if [ -e '{d}/wrong' ]; then exec env -u REGLEDGER_SIGNER_VKEY '{n}' sign --key '{d}/other.key'; fi\n\
             # A device that never answers (exec: the node's kill reaches the sleeper itself).\n\
             if [ -e '{d}/hang' ]; then exec sleep 600; fi\n\
             exec '{n}' sign --key '{k}'\n",
            d = dir.display(),
            n = node.display(),
            k = key.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// until polls `f` until it is true (the node publishes on its own clock).
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn op(kit: &Testkit, i: u64) -> regledger::entry::envelope::Envelope {
    kit.business.sign(
        EntryKind::OperationEvent,
        &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": kit.base_ms + i, "actor": format!("d{i}"), "records": i}),
    )
}

#[test]
fn log_key_in_an_external_signer_down_wrong_and_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("node");
    let kit = Testkit::live(ORIGIN).with_sm2();
    init_with_testkit(&data, ORIGIN, "sm3", &kit);
    // The device takes the key: nothing private about the log stays in the node's directory.
    let device_key = d.join("device.key");
    std::fs::rename(data.join("keys/log.key"), &device_key).unwrap();
    let other = d.join("other.key");
    let o = Command::new(bin("regledger-node"))
        .args(["keygen", "--alg", "sm2", "--name", ORIGIN, "--out"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(o.status.success());
    let signer = script(d, &device_key);
    let spec = format!("cmd:{}", signer.display());

    // Without the key file and without --log-signer the node cannot start.
    let o = Command::new(bin("regledger-node"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A short signer timeout, so the hanging case does not wait the default 10 s.
    let node = Node::start(
        &data,
        &["--log-signer", &spec, "--signer-timeout-ms", "1500"],
    );
    let desc = LogDescriptor::parse(&std::fs::read(data.join("log.json")).unwrap()).unwrap();
    let steps = kit.setup(HashSuite::Sm3, "guangxi");
    for s in steps.iter().skip(1) {
        let (code, body) = post(&node.url, &s.envelope);
        assert_eq!(code, 200, "{}: {body}", s.label);
    }
    let mut n = steps.len() as u64;
    let cp = wait_for_checkpoint(&node.url, n);
    verify_checkpoint(cp.as_bytes(), &desc).expect("signed by the device's key");

    for (flag, what, said) in [
        ("down", "the signer down", "device offline"),
        ("wrong", "another key's signature", "does not verify under"),
        ("hang", "the signer hanging", "no answer within 1.5s"),
    ] {
        let failures = metric(&node.url, "regledger_checkpoint_sign_failures_total").unwrap();
        std::fs::write(d.join(flag), b"").unwrap();
        let (code, body) = post(&node.url, &op(&kit, n));
        assert_eq!(code, 200, "entries are still logged with {what}: {body}");
        n += 1;
        until(&format!("a failed signature with {what}"), || {
            metric(&node.url, "regledger_checkpoint_sign_failures_total").unwrap() > failures
        });
        // Nothing was published for the new entry, and what is served verifies.
        let (_, served) = get_text(&format!("{}/checkpoint", node.url)).unwrap();
        assert_eq!(
            checkpoint_size(&served),
            Some(n - 1),
            "{what}: nothing published"
        );
        verify_checkpoint(served.as_bytes(), &desc).unwrap();
        // The node says why in its log.
        until(&format!("the log to report {what}"), || {
            std::fs::read_to_string(stderr_file(&data))
                .unwrap_or_default()
                .lines()
                .any(|l| l.contains("checkpoint not published") && l.contains(said))
        });
        // Back to normal: the next interval publishes.
        std::fs::remove_file(d.join(flag)).unwrap();
        let cp = wait_for_checkpoint(&node.url, n);
        verify_checkpoint(cp.as_bytes(), &desc).unwrap();
    }
}

/// A mirror's SM2 witness key behind the same interface cosigns the log's
/// checkpoints, and the log publishes them with the quorum.
#[test]
fn witness_key_in_an_external_signer_cosigns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wkey = d.join("witness.key");
    let o = Command::new(bin("regledger-node"))
        .args([
            "keygen",
            "--alg",
            "sm2",
            "--type",
            "witness",
            "--name",
            "venue.example",
            "--out",
        ])
        .arg(&wkey)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let wv: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let wvkey = wv["vkey"].as_str().unwrap().to_string();
    let signer = script(d, &wkey);
    std::fs::write(d.join("other.key"), b"unused").unwrap();

    let data = d.join("node");
    let kit = Testkit::live(ORIGIN).with_sm2();
    let auth = d.join("authority.key");
    let a = regledger::tlog::note::Signer::from_secret(
        &kit.authority.id,
        regledger::tlog::note::KeyType::Sm2,
        kit.authority.secret(),
    )
    .unwrap();
    std::fs::write(&auth, a.to_skey()).unwrap();
    let o = Command::new(bin("regledger-node"))
        .args([
            "init",
            "--hash",
            "sm3",
            "--origin",
            ORIGIN,
            "--witness",
            &wvkey,
            "--quorum",
            "1",
            "--data",
        ])
        .arg(&data)
        .arg("--authority-key")
        .arg(&auth)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = data.join("log.json");
    let desc = LogDescriptor::parse(&std::fs::read(&log).unwrap()).unwrap();

    // The mirror (the witness) follows the node; the node publishes
    // only what the witness cosigned (quorum 1).
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let spec = format!("cmd:{}", signer.display());
    let m = Mirror::start(
        &url,
        &log,
        &d.join("mirror"),
        &["--witness-signer", &spec, "--witness-vkey", &wvkey],
    );
    let node = Node::start_at(
        &data,
        port,
        &["--witness", &m.url, "--witness-timeout-ms", "5000"],
    );
    let steps = kit.setup(HashSuite::Sm3, "guangxi");
    for s in steps.iter().skip(1) {
        let (code, body) = post(&node.url, &s.envelope);
        assert_eq!(code, 200, "{}: {body}", s.label);
    }
    let cp = wait_for_checkpoint(&node.url, steps.len() as u64);
    verify_checkpoint(cp.as_bytes(), &desc).expect("cosigned through the external witness signer");
    assert!(d.join("called").exists());
    // The regulator's checkpoint command in sm3 mode agrees.
    let f = d.join("cp.txt");
    std::fs::write(&f, &cp).unwrap();
    let out = Command::new(bin("regledger-verify"))
        .arg("checkpoint")
        .arg(&f)
        .args([
            "--vkey",
            &desc.log_key.to_vkey(),
            "--witness",
            &wvkey,
            "--quorum",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
