//! End-to-end test helpers: start the real binaries on loopback in temp
//! dirs, submit signed entries over HTTP, kill processes.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use regledger::envelope::Envelope;
use serde_json::Value;

/// bin returns the path of a workspace binary built next to the test executable.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let p = dir.join(name);
    if !p.exists() {
        // `cargo test -p regledger-e2e` alone does not build the other
        // packages' binaries: build them once, into the same target dir.
        build_binaries(dir);
    }
    assert!(p.exists(), "{} not built", p.display());
    p
}

fn build_binaries(profile_dir: &Path) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target = profile_dir.parent().expect("target dir");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "regledger-node", "-p", "regledger-verify"])
            .arg("--target-dir")
            .arg(target)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build of the binaries failed");
    });
}

/// free_port returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Node is a running regledger-node process.
pub struct Node {
    /// child is the process.
    pub child: Child,
    /// url is its base URL.
    pub url: String,
    /// data is its data directory.
    pub data: PathBuf,
    port: u16,
    extra: Vec<String>,
}

impl Node {
    /// start runs `regledger-node serve` on `data` and waits until it answers.
    pub fn start(data: &Path, extra: &[&str]) -> Node {
        let port = free_port();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let child = spawn(data, port, &extra);
        let n = Node {
            child,
            url: format!("http://127.0.0.1:{port}"),
            data: data.to_path_buf(),
            port,
            extra,
        };
        n.wait_ready();
        n
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                drop(s);
                if get_text(&format!("{}/checkpoint", self.url))
                    .map(|(c, _)| c == 200)
                    .unwrap_or(false)
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node on port {} did not come up", self.port);
    }

    /// kill9 kills the process with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        let _ = Command::new("kill")
            .arg("-9")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    /// restart starts the node again on the same port and data.
    pub fn restart(&mut self) {
        self.child = spawn(&self.data, self.port, &self.extra);
        self.wait_ready();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(data: &Path, port: u16, extra: &[String]) -> Child {
    Command::new(bin("regledger-node"))
        .arg("serve")
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--checkpoint-ms")
        .arg("50")
        .args(extra)
        .env("REGLEDGER_LOG", "warn")
        .stdout(Stdio::null())
        // REGLEDGER_E2E_NODE_LOG=1 shows the node's own log when debugging a test.
        .stderr(if std::env::var_os("REGLEDGER_E2E_NODE_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("spawn regledger-node")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// get_text GETs a URL and returns status and body.
pub fn get_text(url: &str) -> Result<(u16, String), String> {
    rt().block_on(async {
        let r = reqwest::get(url).await.map_err(|e| e.to_string())?;
        let s = r.status().as_u16();
        Ok((s, r.text().await.map_err(|e| e.to_string())?))
    })
}

/// get_json GETs a URL and parses JSON (panics unless 200).
pub fn get_json(url: &str) -> Value {
    let (s, b) = get_text(url).unwrap();
    assert_eq!(s, 200, "{url}: {b}");
    serde_json::from_str(&b).unwrap()
}

/// post_raw POSTs raw bytes to /v1/entries and returns status and JSON body.
pub fn post_raw(base: &str, query: &str, body: Vec<u8>) -> (u16, Value) {
    rt().block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{base}/v1/entries{query}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let t = r.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    })
}

/// post submits an envelope and returns status and body.
pub fn post(base: &str, env: &Envelope) -> (u16, Value) {
    post_raw(base, "", env.to_json().to_string().into_bytes())
}

/// tree_size reads the committed size from /metrics.
pub fn tree_size(base: &str) -> u64 {
    let (_, m) = get_text(&format!("{base}/metrics")).unwrap();
    m.lines()
        .find_map(|l| l.strip_prefix("regledger_tree_size "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// init_with_testkit initialises a log whose root authority is the testkit's.
pub fn init_with_testkit(
    data: &Path,
    origin: &str,
    hash: &str,
    kit: &regledger::registry::testkit::Testkit,
) {
    let key = data.with_extension("authority.key");
    let signer = regledger::note::Signer::generate(
        &kit.authority.id,
        regledger::note::KeyType::Ed25519,
        kit.authority.key.to_bytes(),
    )
    .unwrap();
    std::fs::write(&key, signer.to_skey()).unwrap();
    let out = Command::new(bin("regledger-node"))
        .args(["init", "--data"])
        .arg(data)
        .args([
            "--origin",
            origin,
            "--hash",
            hash,
            "--profile",
            "guangxi",
            "--authority-key",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
