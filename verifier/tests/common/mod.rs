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
