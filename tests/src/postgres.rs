//! A real PostgreSQL server for the end-to-end tests of the PostgreSQL
//! driver (decision D20): one throwaway cluster per test process
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
    /// dir is the test cluster's work directory (its sockets).
    pub dir: std::path::PathBuf,
    /// data is its data directory (`dir/db`, or `dir/replica`).
    pub data: std::path::PathBuf,
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
    let dir: std::path::PathBuf = w.next().expect("dir").into();
    Some(Postgres {
        port,
        data: dir.join("db"),
        dir,
    })
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
        let bin = pg_bin();
        let db = self.data.clone();
        let log = self.data.with_extension("log");
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

    /// replica adds a synchronous streaming standby of this cluster in
    /// `dir/replica` (pg_basebackup, a second site's copy) on its own port,
    /// and makes the primary wait for it at every commit
    /// (`synchronous_standby_names = '*'`). It returns the standby.
    pub fn replica(&self) -> Postgres {
        let bin = pg_bin();
        let dir = self.dir.join("replica");
        let port = crate::free_port();
        run_as_postgres(
            &format!("{bin}/pg_basebackup"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "regledger",
                "-D",
                &dir.display().to_string(),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        );
        let conf = dir.join("postgresql.conf");
        let mut c = std::fs::read_to_string(&conf).unwrap();
        c.push_str(&format!(
            "\nport = {port}\nunix_socket_directories = '{}'\n",
            self.dir.display()
        ));
        std::fs::write(&conf, c).unwrap();
        let r = Postgres {
            port,
            dir: self.dir.clone(),
            data: dir,
        };
        r.start();
        self.psql(
            "postgres",
            "ALTER SYSTEM SET synchronous_standby_names = '*'",
        );
        self.psql("postgres", "SELECT pg_reload_conf()");
        r
    }

    /// promote makes a standby the primary (the second site takes over).
    pub fn promote(&self) {
        self.pg_ctl(&["-w", "promote"]);
    }

    /// destroy stops the server at once and deletes its data: the site is lost.
    pub fn destroy(&self) {
        self.stop();
        std::fs::remove_dir_all(&self.data).unwrap();
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

/// pg_bin is the PostgreSQL server's bin directory.
fn pg_bin() -> String {
    std::env::var("REGLEDGER_PG_BIN").unwrap_or_else(|_| {
        let mut v: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("/usr/lib/postgresql")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .collect();
        v.sort();
        v.pop().expect("a PostgreSQL version").display().to_string()
    })
}

/// run_as_postgres runs a server tool as the postgres user when root.
fn run_as_postgres(prog: &str, args: &[&str]) {
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", prog]);
        c
    } else {
        Command::new(prog)
    };
    let out = c
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
