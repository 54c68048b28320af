//! A real PostgreSQL server for the store tests: one throwaway cluster per
//! test process (tests/pg_server.sh, stopped by its watchdog when the
//! process ends), one fresh database per store.
//!
//! Without a PostgreSQL server installed the PostgreSQL runs are skipped
//! with a note, unless `REGLEDGER_REQUIRE_POSTGRES=1` (CI), where they fail.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// SERVER is the cluster's port, once started (`None`: not installed).
static SERVER: OnceLock<Option<u16>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn start() -> Option<u16> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/pg_server.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(std::process::id().to_string())
        .output()
        .expect("run tests/pg_server.sh");
    if out.status.code() == Some(2) && std::env::var_os("REGLEDGER_REQUIRE_POSTGRES").is_none() {
        eprintln!(
            "PostgreSQL is not installed: the PostgreSQL driver's runs are skipped ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    assert!(
        out.status.success(),
        "tests/pg_server.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).expect("utf-8");
    let port = line
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    Some(port)
}

/// fresh_url creates an empty database and returns its URL (`None` if no
/// PostgreSQL server is installed and none is required).
pub(crate) fn fresh_url() -> Option<String> {
    let port = (*SERVER.get_or_init(start))?;
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "regledger",
        ])
        .args(["-d", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "CREATE DATABASE: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(format!("postgres://regledger@127.0.0.1:{port}/{name}"))
}
