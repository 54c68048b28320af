//! CLI tests of `regledger-node` that need no server: init, its refusals and
//! usage errors. (Having an integration test here also makes
//! `cargo test --workspace` build the node binary the e2e crate drives.)

use std::process::Command;

fn node() -> Command {
    Command::new(env!("CARGO_BIN_EXE_regledger-node"))
}

#[test]
fn init_creates_a_log_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = node()
        .args(["init", "--origin", "test.example/cli", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let desc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("log.json")).unwrap()).unwrap();
    assert_eq!(desc["origin"], "test.example/cli");
    assert!(data.join("keys/log.key").exists());
    let before = std::fs::read(data.join("ledger.redb")).unwrap();

    let again = node()
        .args(["init", "--origin", "other.example/x", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
    let desc2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("log.json")).unwrap()).unwrap();
    assert_eq!(desc2["origin"], "test.example/cli", "descriptor untouched");
    assert_eq!(before, std::fs::read(data.join("ledger.redb")).unwrap());
}

#[test]
fn init_rejects_unknown_hash_and_profile_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [["--hash", "md5"], ["--profile", "atlantis"]] {
        let data = dir.path().join(args[1]);
        let out = node()
            .args(["init", "--origin", "t.example/x"])
            .args(args)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            !data.join("log.json").exists(),
            "{args:?} wrote a descriptor"
        );
        assert!(
            !data.join("ledger.redb").exists(),
            "{args:?} wrote a database"
        );
    }
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let out = node().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn mirror_refuses_bad_arguments_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let out = node()
        .args(["init", "--origin", "test.example/mirror", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let log = data.join("log.json");
    let mirror =
        |upstream: &str, log: &std::path::Path, mdata: &std::path::Path, extra: &[&str]| {
            let out = node()
                .args([
                    "mirror",
                    "--upstream",
                    upstream,
                    "--listen",
                    "127.0.0.1:0",
                    "--log",
                ])
                .arg(log)
                .arg("--data")
                .arg(mdata)
                .args(extra)
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
    let m = dir.path().join("m");
    let (c, err) = mirror("ftp://x", &log, &m, &[]);
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("error: --upstream"), "{err}");
    let (c, err) = mirror("http://127.0.0.1:9", &dir.path().join("nope.json"), &m, &[]);
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("nope.json"), "{err}");
    // A log key is not a witness key (cosignature/v1, type 0x04).
    let (c, err) = mirror(
        "http://127.0.0.1:9",
        &log,
        &m,
        &["--witness-key", data.join("keys/log.key").to_str().unwrap()],
    );
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("cosignature/v1"), "{err}");
    assert!(!m.exists(), "nothing created on refusal");
    // A mirror directory belongs to one log.
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("log.json"), "{\"other\": true}").unwrap();
    let (c, err) = mirror("http://127.0.0.1:9", &log, &m, &[]);
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("another log.json"), "{err}");
    assert!(!m.join("ledger.redb").exists());
}
