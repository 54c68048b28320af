//! What the audit tests share: running `regledger-verify --json audit` on
//! a published log.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// audit_json runs `regledger-verify --json audit --dir TILES --log LOG
/// EXTRA…` and returns its exit code and report (Null if it printed none).
pub fn audit_json(tiles: &Path, log: &Path, extra: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_regledger-verify"))
        .args(["--json", "audit", "--dir"])
        .arg(tiles)
        .arg("--log")
        .arg(log)
        .args(extra)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), v)
}

/// audit_steps publishes `steps` as a node without the rules would (blake3,
/// Guangxi, a log key from `seed`) and audits them with `extra` flags.
#[allow(dead_code)] // not every test binary that shares this module uses it
pub fn audit_steps(
    origin: &str,
    seed: u8,
    steps: &[regledger::testkit::Step],
    extra: &[&str],
) -> (i32, Value) {
    use regledger::tlog::note::{KeyType, Signer};
    let dir = tempfile::tempdir().unwrap();
    let key = Signer::generate(origin, KeyType::Ed25519, [seed; 32]).unwrap();
    let (p, _) = regledger::testkit::publish_steps(
        dir.path(),
        regledger::HashSuite::Blake3,
        origin,
        &key,
        "guangxi",
        steps,
    )
    .unwrap();
    audit_json(&p.tiles, &p.log_json, extra)
}
