//! The node's HTTP stack against hostile and unlucky clients, on loopback
//! with raw sockets where the exact bytes matter: a huge declared body is
//! refused before it is sent, every error is an RFC 9457 problem document,
//! idle connections are closed, entry bundles are gzip-compressed on
//! request, and no timeout ever hides a commit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use regledger::entry::envelope::Envelope;
use regledger::registry::Role;
use regledger::testkit::{Party, Testkit};
use regledger_e2e::*;
use serde_json::Value;

const ORIGIN: &str = "regledger.test/http";
const PROBLEMS: &str = "https://regledger.dev/problems/";

/// Resp is one HTTP/1.1 response as read off the socket.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// assert_problem checks that this is an RFC 9457 problem document of `status` and `code`.
    fn assert_problem(&self, status: u16, code: &str, what: &str) {
        let body = String::from_utf8_lossy(&self.body);
        assert_eq!(self.status, status, "{what}: {body}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{what}: {:?} {body}",
            self.headers
        );
        let v = self.json();
        assert_eq!(v["type"], format!("{PROBLEMS}{code}"), "{what}: {body}");
        assert_eq!(v["status"], status, "{what}: {body}");
        assert!(
            v["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{what}: {body}"
        );
    }
}

fn connect(url: &str) -> TcpStream {
    let s = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    // A bound on every read, so a regression fails the test instead of hanging it.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// read_resp reads one response (Content-Length, chunked, or to EOF).
fn read_resp(s: &mut TcpStream) -> Resp {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            other => panic!(
                "connection ended inside a response head ({other:?}): {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut r = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if let Some(n) = r.header("content-length") {
        let mut body = vec![0u8; n.parse().unwrap()];
        s.read_exact(&mut body).unwrap();
        r.body = body;
    } else if r
        .header("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                s.read_exact(&mut byte).unwrap();
                line.push(byte[0]);
            }
            let n = usize::from_str_radix(String::from_utf8_lossy(&line).trim(), 16).unwrap();
            let mut chunk = vec![0u8; n + 2];
            s.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            r.body.extend_from_slice(&chunk[..n]);
        }
    } else if status >= 200 && status != 204 && status != 304 {
        s.read_to_end(&mut r.body).unwrap();
    }
    r
}

/// request sends raw request bytes on a fresh connection and reads the response.
fn request(url: &str, raw: &[u8]) -> Resp {
    let mut s = connect(url);
    s.write_all(raw).unwrap();
    read_resp(&mut s)
}

/// is_closed reads until the peer closes (true) or the read bound passes (false).
fn is_closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn start(extra: &[&str]) -> (tempfile::TempDir, Testkit, Node) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let node = Node::start(&data, extra);
    (dir, kit, node)
}

/// participants returns `n` registrations of fresh operators by the authority (each acceptable once).
fn participants(kit: &Testkit, n: u8) -> Vec<Envelope> {
    (0..n)
        .map(|i| {
            let p = Party::new(
                &format!("http-op-{i}"),
                &format!("运营机构 {i}"),
                Role::Operator,
                100 + i,
            );
            kit.register(&p)
        })
        .collect()
}

/// log_envelopes reads every entry's envelope back from the node.
fn log_envelopes(url: &str) -> Vec<Value> {
    (0..tree_size(url))
        .map(|i| get_json(&format!("{url}/v1/entries/{i}"))["envelope"].clone())
        .collect()
}

#[test]
fn a_declared_oversized_body_is_refused_before_any_body_byte_is_sent() {
    // A long request timeout: a server that waits for the body answers
    // 408 only after it, not the 413 this test wants right away.
    let (_d, _kit, node) = start(&["--request-timeout-s", "20"]);
    for (method, path, expect) in [
        ("POST", "/v1/entries", ""),
        ("POST", "/v1/entries", "expect: 100-continue\r\n"),
        ("GET", "/checkpoint", ""),
        ("POST", "/no/such/path", ""),
    ] {
        let what = format!("{method} {path} {expect}");
        let mut s = connect(&node.url);
        // Headers only: not one byte of the 64 MiB body is ever sent.
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{expect}content-length: 67108864\r\n\r\n"
        )
        .unwrap();
        let r = read_resp(&mut s);
        r.assert_problem(413, "body-too-large", &what);
    }
    // Nothing was written.
    assert_eq!(tree_size(&node.url), 1);
}

#[test]
fn every_error_the_stack_produces_is_a_problem_document() {
    let (_d, _kit, node) = start(&["--request-timeout-s", "1"]);
    let u = &node.url;
    let nested = format!("{}{}", "[".repeat(100 * 1024), "]".repeat(100 * 1024));
    let chunked = {
        let mut b = b"POST /v1/entries HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for c in nested.as_bytes().chunks(8192) {
            b.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            b.extend_from_slice(c);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"0\r\n\r\n");
        b
    };
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-filler: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\n{}\r\n",
        (0..150)
            .map(|i| format!("x-h{i}: v\r\n"))
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("unknown path", b"GET /no/such/path HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(), 404, "not-found"),
        ("DELETE on entries", b"DELETE /v1/entries HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(), 405, "method-not-allowed"),
        ("PUT on checkpoint", b"PUT /checkpoint HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n".to_vec(), 405, "method-not-allowed"),
        ("invalid UTF-8 in a path parameter", b"GET /v1/entries/%FF HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(), 400, "bad-parameter"),
        ("invalid UTF-8 in a tile path", b"GET /tile/%FF%FE HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(), 400, "bad-parameter"),
        ("deeply nested JSON over the limit, with its length", format!(
            "POST /v1/entries HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{nested}", nested.len()).into_bytes(), 413, "body-too-large"),
        ("deeply nested JSON over the limit, chunked", chunked, 413, "body-too-large"),
        ("a body slower than the request timeout", b"POST /v1/entries HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{".to_vec(), 408, "request-timeout"),
        ("one 20 KiB header", big_header.into_bytes(), 431, "headers-too-large"),
        ("150 headers", many_headers.into_bytes(), 431, "headers-too-large"),
    ];
    for (what, raw, status, code) in cases {
        let r = request(u, &raw);
        r.assert_problem(status, code, what);
        if status == 405 {
            assert!(r.header("allow").is_some(), "{what}: no Allow header");
        }
    }
    // Nothing was written by any of the above.
    assert_eq!(tree_size(u), 1);
}

#[test]
fn idle_connections_are_closed_and_the_node_still_answers() {
    let (_d, _kit, node) = start(&["--idle-timeout-s", "1", "--max-connections", "64"]);
    let mut socks = Vec::new();
    // Keep-alive connections that made one request and then fall silent...
    for _ in 0..100 {
        let mut s = connect(&node.url);
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        assert_eq!(read_resp(&mut s).status, 200);
        socks.push(s);
    }
    // ...and connections that never send a byte (more than --max-connections
    // of them: those beyond wait in the listen backlog, and are closed in turn).
    for _ in 0..100 {
        socks.push(connect(&node.url));
    }
    for (i, s) in socks.iter_mut().enumerate() {
        assert!(is_closed(s), "idle connection {i} was never closed");
    }
    assert_eq!(get_text(&format!("{}/healthz", node.url)).unwrap().0, 200);
}

#[test]
fn a_mirror_closes_idle_connections_too() {
    let (d, _kit, node) = start(&[]);
    let log = d.path().join("node").join("log.json");
    let mirror = Mirror::start(
        &node.url,
        &log,
        &d.path().join("mirror"),
        &["--idle-timeout-s", "1", "--max-connections", "16"],
    );
    let mut socks: Vec<_> = (0..40).map(|_| connect(&mirror.url)).collect();
    for (i, s) in socks.iter_mut().enumerate() {
        assert!(is_closed(s), "idle mirror connection {i} was never closed");
    }
    assert_eq!(get_text(&format!("{}/healthz", mirror.url)).unwrap().0, 200);
}

#[test]
fn entry_bundles_are_gzip_compressed_when_the_client_accepts_it() {
    let (_d, kit, node) = start(&[]);
    for e in participants(&kit, 5) {
        assert_eq!(post(&node.url, &e).0, 200);
    }
    let size = tree_size(&node.url);
    wait_for_checkpoint(&node.url, size);
    let get = |path: &str, gzip: bool| {
        let accept = if gzip {
            "accept-encoding: gzip\r\n"
        } else {
            ""
        };
        request(
            &node.url,
            format!("GET {path} HTTP/1.1\r\nhost: x\r\n{accept}connection: close\r\n\r\n")
                .as_bytes(),
        )
    };
    let bundle = format!("/tile/entries/000.p/{size}");
    let plain = get(&bundle, false);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    let zipped = get(&bundle, true);
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    for r in [&plain, &zipped] {
        assert!(
            r.header("vary")
                .is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")),
            "{:?}",
            r.headers
        );
    }
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain.body, "gzip changes the bytes served");
    assert!(
        zipped.body.len() < plain.body.len(),
        "{} ≥ {}",
        zipped.body.len(),
        plain.body.len()
    );
    // Hash tiles are random bytes: served as they are, even to a gzip client.
    let tile = get(&format!("/tile/0/000.p/{size}"), true);
    assert_eq!(tile.status, 200);
    assert_eq!(tile.header("content-encoding"), None);
}

#[test]
fn no_deadline_hides_a_commit() {
    // A slow disk (every batch of one entry takes 400 ms to commit) and a
    // 1 s request deadline: a flood of submissions must each end either
    // with a receipt whose entry is in the log, or with a timeout whose
    // envelope never appears in it.
    let (_d, kit, node) = start(&[
        "--request-timeout-s",
        "1",
        "--test-commit-delay-ms",
        "400",
        "--max-batch",
        "1",
    ]);
    let envs = participants(&kit, 24);
    let answers: Vec<(Envelope, u16, Value)> = std::thread::scope(|sc| {
        let hs: Vec<_> = envs
            .iter()
            .map(|e| {
                let url = node.url.clone();
                sc.spawn(move || {
                    let (c, b) = post(&url, e);
                    (e.clone(), c, b)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // A last submission, after the flood: once it is sequenced, every
    // submission queued before it has been either sequenced or dropped.
    let sentinel = kit.register(&Party::new("http-sentinel", "哨兵", Role::Operator, 99));
    let deadline = Instant::now() + patience();
    loop {
        let (c, b) = post(&node.url, &sentinel);
        if c == 200 || b["type"] == format!("{PROBLEMS}replayed-envelope") {
            break;
        }
        assert!(Instant::now() < deadline, "the sentinel never got in: {b}");
    }
    let log = log_envelopes(&node.url);
    let (mut receipts, mut timeouts) = (0, 0);
    for (env, code, body) in &answers {
        let json = env.to_json();
        match code {
            200 => {
                receipts += 1;
                let i = body["index"].as_u64().expect("receipt index") as usize;
                assert_eq!(log.get(i), Some(&json), "receipt {i} is not that entry");
            }
            408 | 503 => {
                timeouts += 1;
                assert!(
                    body["type"]
                        .as_str()
                        .is_some_and(|t| t.starts_with(PROBLEMS)),
                    "{body}"
                );
                assert!(
                    !log.contains(&json),
                    "answered {code} {body}, yet the envelope is in the log"
                );
            }
            other => panic!("unexpected answer {other}: {body}"),
        }
    }
    // Both outcomes happened, or the test proved nothing.
    assert!(
        receipts > 0 && timeouts > 0,
        "{receipts} receipts, {timeouts} timeouts"
    );
}

#[test]
fn a_client_that_disconnects_while_waiting_loses_nothing() {
    let (_d, kit, node) = start(&["--test-commit-delay-ms", "1000"]);
    let env = participants(&kit, 1).remove(0);
    let body = env.to_json().to_string();
    {
        let mut s = connect(&node.url);
        write!(
            s,
            "POST /v1/entries HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        // Let the node queue it, then hang up while it waits for the commit.
        std::thread::sleep(Duration::from_millis(200));
    }
    let deadline = Instant::now() + patience();
    while tree_size(&node.url) < 2 {
        assert!(Instant::now() < deadline, "the entry was lost");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(log_envelopes(&node.url)[1], env.to_json());
    // A retry learns where it is.
    let (c, b) = post(&node.url, &env);
    assert_eq!(c, 409, "{b}");
    assert_eq!(b["type"], format!("{PROBLEMS}replayed-envelope"));
    // It names index 1 (the genesis is 0).
    let detail = b["detail"].as_str().unwrap();
    assert!(
        detail
            .split(|c: char| !c.is_ascii_digit())
            .any(|n| n == "1"),
        "{b}"
    );
}
