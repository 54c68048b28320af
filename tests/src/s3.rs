//! A real S3-protocol server for the object-storage tests (decision D20):
//! `s3s-fs` (crates.io, `cargo install s3s-fs --version 0.14.1 --features
//! binary --locked`), a separate process serving a directory, one
//! directory per bucket. Found at `REGLEDGER_S3S_FS`, on `PATH`, in
//! `~/.cargo/bin` or `/tmp/s3s-root/bin`. Without it these tests skip with
//! a note, unless `REGLEDGER_REQUIRE_S3=1` (CI), where they fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// ACCESS_KEY and SECRET_KEY are the test server's credentials.
pub const ACCESS_KEY: &str = "regledger-test";
/// SECRET_KEY: see [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "regledger-test-secret";

/// s3s_fs returns the server binary, if installed.
pub fn s3s_fs() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("REGLEDGER_S3S_FS") {
        candidates.push(p.into());
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("s3s-fs")));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin/s3s-fs"));
    }
    candidates.push("/tmp/s3s-root/bin/s3s-fs".into());
    let found = candidates.into_iter().find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("REGLEDGER_REQUIRE_S3").is_none(),
            "s3s-fs is required (REGLEDGER_REQUIRE_S3) but not installed"
        );
        eprintln!("s3s-fs is not installed: this test is skipped");
    }
    found
}

/// S3Server is a running s3s-fs process.
pub struct S3Server {
    child: Option<Child>,
    bin: PathBuf,
    root: PathBuf,
    /// port is its loopback port.
    pub port: u16,
    auth: bool,
}

impl S3Server {
    /// start serves `root` (buckets are its subdirectories). With `auth`
    /// only requests signed with [`ACCESS_KEY`] are served (the writers'
    /// endpoint); without, anyone may read (a public-read bucket, or the
    /// CDN in front of it).
    pub fn start(bin: &Path, root: &Path, auth: bool) -> S3Server {
        let mut s = S3Server {
            child: None,
            bin: bin.to_path_buf(),
            root: root.to_path_buf(),
            port: crate::free_port(),
            auth,
        };
        s.restart();
        s
    }

    /// url is its endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// stop kills the process (the bucket is unavailable until [`S3Server::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// restart starts it again on the same port and root, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let mut c = Command::new(&self.bin);
        c.args(["--host", "127.0.0.1", "--port", &self.port.to_string()]);
        if self.auth {
            c.args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]);
        }
        c.arg(&self.root)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(c.spawn().expect("spawn s3s-fs"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
