//! End-to-end test helpers: start the real binaries on loopback in temp
//! dirs, submit signed entries over HTTP, kill processes.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// patience is how long a test waits for something that must happen
/// (a process to come up, a checkpoint, a mirror to catch up) before it
/// fails: 300 s, or `REGLEDGER_E2E_PATIENCE_S`. It is a bound for a hung
/// test, not a performance claim: a busy 2-core machine running several
/// builds can take tens of seconds to start a process, and a test that
/// is merely slow must pass. Waits poll, so a fast machine waits only as
/// long as the event takes; a process that died is reported at once
/// (see [`wait_up`]), not after the deadline.
pub fn patience() -> Duration {
    let s = std::env::var("REGLEDGER_E2E_PATIENCE_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    Duration::from_secs(s)
}

use regledger::entry::envelope::Envelope;
use serde_json::Value;

mod postgres;
pub use postgres::{postgres, Postgres};
pub mod s3;

/// bin returns the path of a workspace binary built next to the test executable.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let p = dir.join(name);
    if !p.exists() || older_than_sources(&p) {
        // `cargo test -p regledger-e2e` alone does not build the other
        // packages' binaries (nor rebuild stale ones, which would test old
        // code): build them once, into the same target dir.
        build_binaries(dir);
    }
    assert!(p.exists(), "{} not built", p.display());
    p
}

/// older_than_sources says whether the binary at `p` is older than a
/// source file of the crates it is built from (`cargo test --workspace`
/// builds them first, so there they are never older).
fn older_than_sources(p: &Path) -> bool {
    fn newest(dir: &Path) -> Option<std::time::SystemTime> {
        let mut t = None;
        for e in std::fs::read_dir(dir).ok()?.flatten() {
            let path = e.path();
            let m = if path.is_dir() {
                newest(&path)
            } else {
                e.metadata().and_then(|m| m.modified()).ok()
            };
            t = t.max(m);
        }
        t
    }
    let Ok(built) = std::fs::metadata(p).and_then(|m| m.modified()) else {
        return true;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    ["ledger/src", "client/src", "node/src", "verifier/src"]
        .iter()
        .filter_map(|d| newest(&root.join(d)))
        .any(|t| t > built)
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

/// free_port returns a loopback port that was free a moment ago and that
/// this test process has not handed out before.
///
/// Asking the kernel for port 0 and releasing it let two tests of one binary,
/// running in parallel, get the same port: one node then failed to bind, the
/// other answered both tests' readiness checks, and CI failed with a 409 and
/// a refused connection. So each port is handed out once per process, and
/// ports come from below the kernel's ephemeral range (32768–60999 on
/// Linux), where a client's outgoing connection cannot take one between
/// this check and the server's bind. The start is spread by process id so
/// two test processes on one machine rarely probe the same ports.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    const LOW: u16 = 10_000;
    const HIGH: u16 = 32_000;
    static GIVEN: Mutex<Option<(u16, HashSet<u16>)>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let (next, seen) = given.get_or_insert_with(|| {
        let spread = (std::process::id() as u64 * 2_654_435_761) % u64::from(HIGH - LOW);
        (LOW + spread as u16, HashSet::new())
    });
    for _ in 0..(HIGH - LOW) {
        let port = *next;
        *next = if port + 1 >= HIGH { LOW } else { port + 1 };
        if seen.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            seen.insert(port);
            return port;
        }
    }
    panic!("no free loopback port left in {LOW}..{HIGH}")
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
    ready: &'static str,
}

impl Node {
    /// start runs `regledger-node serve` on `data` and waits until it serves a checkpoint.
    pub fn start(data: &Path, extra: &[&str]) -> Node {
        Self::spawn_at(data, free_port(), extra, "/checkpoint")
    }

    /// start_at runs `regledger-node serve` on `port` and waits only until it
    /// answers `/healthz` (a node waiting for its witnesses serves no checkpoint yet).
    pub fn start_at(data: &Path, port: u16, extra: &[&str]) -> Node {
        Self::spawn_at(data, port, extra, "/healthz")
    }

    fn spawn_at(data: &Path, port: u16, extra: &[&str], ready: &'static str) -> Node {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let child = spawn(data, port, &extra);
        let mut n = Node {
            child,
            url: format!("http://127.0.0.1:{port}"),
            data: data.to_path_buf(),
            port,
            extra,
            ready,
        };
        n.wait_ready();
        n
    }

    fn wait_ready(&mut self) {
        wait_up(
            &self.url,
            self.ready,
            "node",
            &mut self.child,
            &stderr_file(&self.data),
        );
    }

    /// kill9 kills the process with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        kill9(&mut self.child);
    }

    /// restart starts the node again on the same port and data.
    pub fn restart(&mut self) {
        self.child = spawn(&self.data, self.port, &self.extra);
        self.wait_ready();
    }

    /// restart_with starts the node again on the same port and data with other extra flags.
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.extra = extra.iter().map(|s| s.to_string()).collect();
        self.restart();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        kill9(&mut self.child);
        let _ = std::fs::remove_file(stderr_file(&self.data));
    }
}

fn spawn(data: &Path, port: u16, extra: &[String]) -> Child {
    let mut c = Command::new(bin("regledger-node"));
    c.arg("serve")
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--checkpoint-ms")
        .arg("50")
        .args(extra);
    spawn_quiet(c, &stderr_file(data))
}

/// stderr_file is where a process started on `data` writes its log,
/// appended across restarts and shown when the process dies before it is
/// up. It lives in the system temp dir, not beside the data: a test that
/// fills the data's filesystem (tests/tests/faults.rs) must not fill it
/// with the log too, nor make the log fail. Named by this test process
/// and the data path, so each process gets its own; removed on drop.
pub fn stderr_file(data: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    std::env::temp_dir().join(format!(
        "regledger-e2e-{}-{:016x}.stderr.log",
        std::process::id(),
        h.finish()
    ))
}

/// spawn_quiet starts a regledger-node process with its log at warn,
/// stdout hidden and stderr appended to `log` (shown if it dies before it
/// is up); REGLEDGER_E2E_NODE_LOG=1 shows its log live when debugging a test.
fn spawn_quiet(mut c: Command, log: &Path) -> Child {
    let stderr = if std::env::var_os("REGLEDGER_E2E_NODE_LOG").is_some() {
        Stdio::inherit()
    } else {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null())
    };
    c.env("REGLEDGER_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn regledger-node")
}

/// wait_up waits until `base` answers 200 on `path`. It fails at once,
/// with the exit status and the end of its log, when the process exits
/// first, and only after [`patience`] when it stays up without answering
/// (hung), so a slow start on a busy machine is waited for.
pub fn wait_up(base: &str, path: &str, what: &str, child: &mut Child, log: &Path) {
    let start = Instant::now();
    let deadline = start + patience();
    loop {
        if get_text(&format!("{base}{path}"))
            .map(|(c, _)| c == 200)
            .unwrap_or(false)
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} at {base} exited ({status}) before it answered {path}, after {:.1} s; the end of its log ({}):\n{}",
                start.elapsed().as_secs_f64(),
                log.display(),
                log_tail(log)
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} at {base} is running but did not answer {path} within {} s (REGLEDGER_E2E_PATIENCE_S); the end of its log ({}):\n{}",
            patience().as_secs(),
            log.display(),
            log_tail(log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// log_tail returns the last lines of a process's log file.
fn log_tail(log: &Path) -> String {
    let s = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    if tail.is_empty() {
        "(empty: REGLEDGER_E2E_NODE_LOG=1 shows it live)".into()
    } else {
        tail
    }
}

/// kill9 kills a process with SIGKILL (what `Child::kill` sends on Unix) and reaps it.
fn kill9(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
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

/// get_bytes GETs a URL and returns status and body bytes.
pub fn get_bytes(url: &str) -> (u16, Vec<u8>) {
    rt().block_on(async {
        let r = reqwest::get(url).await.unwrap();
        let s = r.status().as_u16();
        (s, r.bytes().await.unwrap().to_vec())
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
pub fn init_with_testkit(data: &Path, origin: &str, hash: &str, kit: &regledger::testkit::Testkit) {
    init_with_testkit_in(data, origin, hash, kit, None)
}

/// init_with_testkit_in is [`init_with_testkit`] with the store `store`
/// (`--store`; `None`: redb in the data directory).
pub fn init_with_testkit_in(
    data: &Path,
    origin: &str,
    hash: &str,
    kit: &regledger::testkit::Testkit,
    store: Option<&str>,
) {
    let key = data.with_extension("authority.key");
    // The authority's SM2 key when the kit has SM2 parties (Testkit::with_sm2).
    let t = match kit.authority.secret().alg() {
        regledger::crypto::SigAlg::Sm2 => regledger::tlog::note::KeyType::Sm2,
        regledger::crypto::SigAlg::Ed25519 => regledger::tlog::note::KeyType::Ed25519,
    };
    let signer =
        regledger::tlog::note::Signer::from_secret(&kit.authority.id, t, kit.authority.secret())
            .unwrap();
    std::fs::write(&key, signer.to_skey()).unwrap();
    let mut extra: Vec<&std::ffi::OsStr> = vec!["--authority-key".as_ref(), key.as_os_str()];
    if let Some(s) = store {
        extra.push("--store".as_ref());
        extra.push(s.as_ref());
    }
    init(data, origin, hash, &extra);
}

/// init_fork initialises `fork` as a second log with the log key, origin
/// and authority of the log in `data` (made by [`init_with_testkit`]): what
/// a log key that signs two histories looks like.
pub fn init_fork(data: &Path, fork: &Path, origin: &str, hash: &str) {
    let log_key = data.join("keys/log.key");
    let authority_key = data.with_extension("authority.key");
    init(
        fork,
        origin,
        hash,
        &[
            "--log-key".as_ref(),
            log_key.as_os_str(),
            "--authority-key".as_ref(),
            authority_key.as_os_str(),
        ],
    );
}

/// init runs `regledger-node init` on the guangxi profile with `extra` arguments.
fn init(data: &Path, origin: &str, hash: &str, extra: &[&std::ffi::OsStr]) {
    let out = Command::new(bin("regledger-node"))
        .args(["init", "--data"])
        .arg(data)
        .args(["--origin", origin, "--hash", hash, "--profile", "guangxi"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// witness_key makes a cosignature/v1 witness key named `name` in `dir`
/// with `regledger-node keygen` and returns its file and its vkey.
pub fn witness_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let f = dir.join(format!("{name}.key"));
    let out = Command::new(bin("regledger-node"))
        .args(["keygen", "--name", name, "--type", "witness", "--out"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (f, v["vkey"].as_str().unwrap().to_string())
}

/// verify_cert writes `bundle` into `dir` and runs the regulator's
/// `regledger-verify cert` on it against `log`: exit code and stderr.
pub fn verify_cert(
    dir: &Path,
    log: &Path,
    bundle: &regledger::cert::bundle::CertificateBundle,
) -> (Option<i32>, String) {
    let f = dir.join("cert-under-test.json");
    std::fs::write(&f, serde_json::to_vec(bundle).unwrap()).unwrap();
    let out = Command::new(bin("regledger-verify"))
        .arg("cert")
        .arg(&f)
        .arg("--log")
        .arg(log)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Mirror is a running `regledger-node mirror` process.
pub struct Mirror {
    /// child is the process.
    pub child: Child,
    /// url is its base URL.
    pub url: String,
    /// data is its data directory.
    pub data: PathBuf,
    /// upstream is the URL it follows.
    pub upstream: String,
    /// log is the log.json it trusts.
    pub log: PathBuf,
    port: u16,
    extra: Vec<String>,
}

impl Mirror {
    /// start runs `regledger-node mirror` following `upstream` and waits until it answers.
    pub fn start(upstream: &str, log: &Path, data: &Path, extra: &[&str]) -> Mirror {
        let port = free_port();
        let mut m = Mirror {
            child: Command::new("true").spawn().expect("spawn true"),
            url: format!("http://127.0.0.1:{port}"),
            data: data.to_path_buf(),
            upstream: upstream.to_string(),
            log: log.to_path_buf(),
            port,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        let _ = m.child.wait();
        m.restart();
        m
    }

    /// restart starts the mirror again on the same port, data and upstream.
    pub fn restart(&mut self) {
        let mut c = Command::new(bin("regledger-node"));
        c.arg("mirror")
            .arg("--upstream")
            .arg(&self.upstream)
            .arg("--log")
            .arg(&self.log)
            .arg("--data")
            .arg(&self.data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["--poll-ms", "50"])
            .args(&self.extra);
        let log = stderr_file(&self.data);
        self.child = spawn_quiet(c, &log);
        wait_up(&self.url, "/healthz", "mirror", &mut self.child, &log);
    }

    /// kill9 kills the process with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        kill9(&mut self.child);
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        kill9(&mut self.child);
        let _ = std::fs::remove_file(stderr_file(&self.data));
    }
}

/// checkpoint_size returns the size line of a checkpoint note, if it parses.
pub fn checkpoint_size(note: &str) -> Option<u64> {
    note.lines().nth(1).and_then(|l| l.parse().ok())
}

/// wait_for_checkpoint waits until `url` serves a checkpoint of `size` and returns it.
pub fn wait_for_checkpoint(url: &str, size: u64) -> String {
    let deadline = Instant::now() + patience();
    loop {
        if let Ok((200, cp)) = get_text(&format!("{url}/checkpoint")) {
            if checkpoint_size(&cp) == Some(size) {
                return cp;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{url} never served a checkpoint of size {size}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// wait_until polls `cond` until it holds, or panics with `what` after [`patience`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience();
    while !cond() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// metric reads one unlabelled value from `/metrics`.
pub fn metric(base: &str, name: &str) -> Option<u64> {
    let (_, m) = get_text(&format!("{base}/metrics")).ok()?;
    m.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// post_to POSTs a body to any path and returns status, content type and body text.
pub fn post_to(url: &str, content_type: &str, body: Vec<u8>) -> (u16, String, String) {
    rt().block_on(async {
        let r = reqwest::Client::new()
            .post(url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (s, ct, r.text().await.unwrap())
    })
}

/// sse_collect reads Server-Sent Events from `url` (with `Last-Event-ID` if
/// given) until `done` holds for the events so far or the deadline passes;
/// `connected` is called once the response headers arrived. Each event is
/// (id, type, data).
pub fn sse_collect(
    url: &str,
    last_event_id: Option<u64>,
    connected: impl FnOnce(),
    done: impl Fn(&[(String, String, String)]) -> bool,
) -> Vec<(String, String, String)> {
    rt().block_on(async {
        let mut req = reqwest::Client::new().get(url);
        if let Some(i) = last_event_id {
            req = req.header("last-event-id", i.to_string());
        }
        let mut r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        connected();
        let mut buf = String::new();
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + patience();
        while !done(&out) {
            let chunk = tokio::time::timeout_at(deadline, r.chunk())
                .await
                .expect("events before the deadline")
                .unwrap()
                .expect("stream open");
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let (mut id, mut ty, mut data) = (String::new(), String::new(), String::new());
                for l in block.lines() {
                    if let Some(v) = l.strip_prefix("id:") {
                        id = v.trim().to_string();
                    } else if let Some(v) = l.strip_prefix("event:") {
                        ty = v.trim().to_string();
                    } else if let Some(v) = l.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if !ty.is_empty() {
                    out.push((id, ty, data));
                }
            }
        }
        out
    })
}

/// WebhookSink is a minimal HTTP receiver on loopback that records POST
/// bodies; it answers 500 to the first `fail_first` requests (to exercise
/// retries) and 200 afterwards.
pub struct WebhookSink {
    /// url is where it listens.
    pub url: String,
    /// bodies receives each accepted body.
    pub bodies: std::sync::mpsc::Receiver<Value>,
}

impl WebhookSink {
    /// start listens on a free loopback port.
    pub fn start(fail_first: usize) -> WebhookSink {
        use std::io::{BufRead, BufReader, Read, Write};
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        let (tx, bodies) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut failed = 0usize;
            for conn in l.incoming() {
                let Ok(mut s) = conn else { continue };
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut len = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let t = line.trim_end();
                    if t.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = t.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0u8; len];
                if r.read_exact(&mut body).is_err() {
                    continue;
                }
                let status = if failed < fail_first {
                    failed += 1;
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                if status == "200 OK" {
                    if let Ok(v) = serde_json::from_slice(&body) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        WebhookSink { url, bodies }
    }
}

/// StaticServer serves a directory over plain HTTP GET on loopback (like
/// nginx or object storage in front of a tile directory): nothing
/// regledger-specific.
pub struct StaticServer {
    /// url is its base URL.
    pub url: String,
}

impl StaticServer {
    /// start serves `dir` on a free loopback port until the test process ends.
    pub fn start(dir: &Path) -> StaticServer {
        use std::io::{BufRead, BufReader, Write};
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let dir = dir.to_path_buf();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut s) = conn else { continue };
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut first = String::new();
                if r.read_line(&mut first).is_err() {
                    continue;
                }
                let mut line = String::new();
                while r.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                let path = first.split_whitespace().nth(1).unwrap_or("/");
                let rel = path.trim_start_matches('/');
                let body = if rel.split('/').any(|c| c == ".." || c.is_empty()) {
                    None
                } else {
                    std::fs::read(dir.join(rel)).ok()
                };
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", Vec::new()),
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(&body);
            }
        });
        StaticServer { url }
    }
}

/// copy_dir copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// verify_status fetches a status proof and runs `regledger-verify --json status` on it.
pub fn verify_status(
    url: &str,
    kind: &str,
    id: &str,
    log: &Path,
    dir: &Path,
) -> (i32, Value, regledger::cert::status::StatusProof) {
    let (c, body) = get_text(&format!("{url}/v1/status/{kind}/{id}")).unwrap();
    assert_eq!(c, 200, "{body}");
    let p: regledger::cert::status::StatusProof = serde_json::from_str(&body).unwrap();
    let f = dir.join(format!("status-{kind}-{id}.json"));
    std::fs::write(&f, &body).unwrap();
    let out = Command::new(bin("regledger-verify"))
        .arg("--json")
        .arg("status")
        .arg(&f)
        .arg("--log")
        .arg(log)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), v, p)
}

/// now_ms is the wall clock in Unix milliseconds (what the node stamps).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// post_setup POSTs the testkit's Guangxi setup after genesis (the
/// participants, keys, resource and agreements) as one batch.
pub fn post_setup(url: &str, kit: &regledger::testkit::Testkit, suite: regledger::HashSuite) {
    let setup: Vec<Envelope> = kit
        .setup(suite, "guangxi")
        .into_iter()
        .skip(1)
        .map(|s| s.envelope)
        .collect();
    post_all(url, &setup);
}

/// post_all POSTs `envs` as one batch (`POST /v1/entries`, a JSON array)
/// and checks each was logged.
pub fn post_all(url: &str, envs: &[Envelope]) {
    let body = Value::Array(envs.iter().map(Envelope::to_json).collect())
        .to_string()
        .into_bytes();
    let (s, _, t) = post_to(&format!("{url}/v1/entries"), "application/json", body);
    assert_eq!(s, 200, "{t}");
    let v: Value = serde_json::from_str(&t).unwrap();
    for r in v["results"].as_array().unwrap() {
        assert!(r["problem"].is_null(), "{r}");
    }
}

/// Prunable is a log with an operation agreement whose retention ran out:
/// its operation events (`ops`, their envelopes `op_envs`) and its
/// termination (`terminated`).
pub struct Prunable {
    /// ops are the indexes of the operation events.
    pub ops: Vec<u64>,
    /// op_envs are their envelopes.
    pub op_envs: Vec<Envelope>,
    /// terminated is the index of the agreement's termination.
    pub terminated: u64,
}

/// prunable appends a [`Prunable`] agreement with `n` operation events to
/// the node at `url` (set up).
pub fn prunable(url: &str, kit: &regledger::testkit::Testkit, n: u64) -> Prunable {
    // An operation agreement that ran from 250 days ago, terminated a
    // retention period (6 months, Guangxi Art. 12(3)) ago: its logs may go today.
    let today = kit.today();
    let days = |n: i64| today.add_days(n).unwrap();
    let ended: regledger::registry::calendar::Date = (150..=200)
        .map(|b| days(-b))
        .find(|d| d.add_months(6).unwrap() <= today)
        .unwrap();
    let (code, r) = post(
        url,
        &kit.agency.sign(
            regledger::registry::EntryKind::AgreementFiled,
            &serde_json::json!({"id": "OA-P", "agreement_type": "operation-agreement", "parties": [kit.agency.id, kit.operator.id],
                    "grantee": kit.operator.id, "scope": ["R-GX-TRANSPORT-001"], "signed_on": days(-250),
                    "term_start": days(-250), "term_end": days(400), "document_title": "公共数据资源授权运营协议",
                    "document_blake3": regledger::testkit::DOC}),
        ),
    );
    assert_eq!(code, 200, "{r}");
    let t0 = (days(-230).days_since_epoch() as u64) * 86_400_000 + 7_200_000;
    let mut ops = Vec::new();
    let mut op_envs = Vec::new();
    for k in 0..n {
        let env = kit.operator.sign(
            regledger::registry::EntryKind::OperationEvent,
            &serde_json::json!({"agreement_id": "OA-P", "action": "access", "occurred_at_ms": t0 + k, "actor": "svc-prune", "records": k}),
        );
        let (code, r) = post(url, &env);
        assert_eq!(code, 200, "{r}");
        ops.push(r["index"].as_u64().unwrap());
        op_envs.push(env);
    }
    let (code, r) = post(
        url,
        &kit.agency.sign(
            regledger::registry::EntryKind::AgreementTerminated,
            &serde_json::json!({"id": "OA-P", "reason": "voluntary-exit", "detail": "运营机构主动退出", "effective_on": ended}),
        ),
    );
    assert_eq!(code, 200, "{r}");
    let terminated = r["index"].as_u64().unwrap();
    Prunable {
        ops,
        op_envs,
        terminated,
    }
}

/// prune is a `retention-pruned` envelope signed by `who`.
pub fn prune(who: &regledger::testkit::Party, agreement: &str, entries: &[u64]) -> Envelope {
    who.sign(
        regledger::registry::EntryKind::RetentionPruned,
        &serde_json::json!({"agreement_id": agreement, "entries": entries}),
    )
}

/// operation_event is an operation event by `by` under agreement OA-1 of
/// the testkit's setup, numbered `i`, that occurred a second ago.
pub fn operation_event(by: &regledger::testkit::Party, i: u64) -> Envelope {
    by.sign(
        regledger::registry::EntryKind::OperationEvent,
        &serde_json::json!({"agreement_id": "OA-1", "action": "access", "occurred_at_ms": now_ms() - 1000,
                "actor": format!("svc-{i}"), "records": i, "personal_data_commitments": [regledger::testkit::DOC]}),
    )
}

/// audit_from runs `regledger-verify --json audit` on the tiles `source`
/// names (`--dir D` or `--url U`): exit code, report (Null if none), stderr.
pub fn audit_from(source: &[&std::ffi::OsStr], log: &Path) -> (i32, Value, String) {
    let out = Command::new(bin("regledger-verify"))
        .args(["--json", "audit"])
        .args(source)
        .arg("--log")
        .arg(log)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
