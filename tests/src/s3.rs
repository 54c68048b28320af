//! A real S3-protocol server for the object-storage tests (decision D20):
//! `s3s-fs` (crates.io, `cargo install s3s-fs --version 0.14.1 --features
//! binary --locked`), a separate process serving a directory, one
//! directory per bucket. Found at `REGLEDGER_S3S_FS`, on `PATH`, in
//! `~/.cargo/bin` or `/tmp/s3s-root/bin`. Without it these tests skip with
//! a note, unless `REGLEDGER_REQUIRE_S3=1` (CI), where they fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::{checkpoint_size, get_text};

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

/// credentials puts the test server's credentials in the environment the
/// nodes inherit (the usual AWS variables; the same values for every test).
pub fn credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        std::env::set_var("AWS_REGION", "us-east-1");
    });
}

/// Site is a bucket served twice from one directory: the writers' endpoint
/// (signed requests only) and a public read endpoint.
pub struct Site {
    root: tempfile::TempDir,
    /// write is the writers' endpoint.
    pub write: S3Server,
    /// read is the public read endpoint.
    pub read: S3Server,
}

/// site starts a bucket `ledger` served by `bin` (s3s-fs).
pub fn site(bin: &Path) -> Site {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("ledger")).unwrap();
    let write = S3Server::start(bin, root.path(), true);
    let read = S3Server::start(bin, root.path(), false);
    Site { root, write, read }
}

impl Site {
    /// prefix_dir is where s3s-fs keeps the prefix's objects, as files.
    pub fn prefix_dir(&self) -> PathBuf {
        self.root.path().join("ledger/gx")
    }

    /// node_args are the node's flags that publish to `s3://ledger/gx`.
    pub fn node_args(&self) -> Vec<String> {
        vec![
            "--tiles".into(),
            "s3://ledger/gx".into(),
            "--s3-endpoint".into(),
            self.write.url(),
        ]
    }

    /// public is the prefix's URL on the public read endpoint.
    pub fn public(&self) -> String {
        format!("{}/ledger/gx", self.read.url())
    }

    /// bucket_size is the size of the bucket's checkpoint (0 if none).
    pub fn bucket_size(&self) -> u64 {
        match get_text(&format!("{}/checkpoint", self.public())) {
            Ok((200, note)) => checkpoint_size(&note).unwrap_or(0),
            _ => 0,
        }
    }

    /// wait_bucket waits until the bucket's checkpoint is for `size` or more.
    pub fn wait_bucket(&self, size: u64) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.bucket_size() < size {
            assert!(
                Instant::now() < deadline,
                "the bucket's checkpoint stayed at {} below {size}",
                self.bucket_size()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
