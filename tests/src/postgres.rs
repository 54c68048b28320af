//! A real PostgreSQL server for the end-to-end tests of the PostgreSQL
//! driver (decision D19): one throwaway cluster per test process
//! (tests/pg_server.sh; its watchdog stops it when the process ends), one
//! fresh database per log. Without a server installed these tests skip
//! with a note, unless `REGLEDGER_REQUIRE_POSTGRES=1` (CI), where they fail.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// Postgres is the test cluster.
#[derive(Clone, Debug)]
pub struct Postgres {
    /// port is its loopback port.
    pub port: u16,
    /// dir holds its data directory (`dir/db`) and log.
    pub dir: std::path::PathBuf,
}

static SERVER: OnceLock<Option<Postgres>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn start() -> Option<Postgres> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/pg_server.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(std::process::id().to_string())
        .output()
        .expect("run tests/pg_server.sh");
    if out.status.code() == Some(2) && std::env::var_os("REGLEDGER_REQUIRE_POSTGRES").is_none() {
        eprintln!(
            "PostgreSQL is not installed: this test is skipped ({})",
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
    let mut w = line.split_whitespace();
    let port = w.next().and_then(|p| p.parse().ok()).expect("port");
    let dir = w.next().expect("dir").into();
    Some(Postgres { port, dir })
}

/// postgres returns the test cluster, started on first use (`None`: not
/// installed and not required).
pub fn postgres() -> Option<Postgres> {
    SERVER.get_or_init(start).clone()
}

impl Postgres {
    /// psql runs one SQL command on database `db` and returns its output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "regledger",
            ])
            .args(["-d", db, "-qtA", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// pg_ctl runs `pg_ctl ACTION` on the cluster (as the postgres user when root).
    fn pg_ctl(&self, action: &[&str]) {
        let bin = std::env::var("REGLEDGER_PG_BIN").unwrap_or_else(|_| {
            let mut v: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
                .expect("/usr/lib/postgresql")
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect();
            v.sort();
            v.pop().expect("a PostgreSQL version").display().to_string()
        });
        let db = self.dir.join("db");
        let log = self.dir.join("pg.log");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(format!("{bin}/pg_ctl"));
            c
        } else {
            Command::new(format!("{bin}/pg_ctl"))
        };
        let out = cmd
            .arg("-D")
            .arg(&db)
            .arg("-l")
            .arg(&log)
            .args(action)
            .output()
            .expect("run pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl {action:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// stop stops the server at once (`-m immediate`: as if its machine died;
    /// what was committed is in its WAL).
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    }

    /// start starts the server again (crash recovery from its WAL).
    pub fn start(&self) {
        self.pg_ctl(&["-w", "-t", "60", "start"]);
    }

    /// fresh_db creates an empty database and returns its URL.
    pub fn fresh_db(&self) -> String {
        let name = format!(
            "e{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        format!("postgres://regledger@127.0.0.1:{}/{name}", self.port)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
