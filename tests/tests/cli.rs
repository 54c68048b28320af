//! The node's command line as a newcomer meets it (issue 17): `kinds`,
//! `submit --example`, `--payload -`, an unknown kind, a refusal reported
//! once, a node that is not running, plain logs in a file, and a stop
//! that says so.

use std::process::{Command, Output, Stdio};

use regledger::registry::calendar::Date;
use regledger::registry::{examples, EntryKind};
use regledger::testkit::Testkit;
use regledger_e2e::*;
use serde_json::Value;

fn node_cli(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(bin("regledger-node"));
    c.args(args)
        .env_remove("REGLEDGER_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut w = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            // The command may exit before it reads its input (a refused
            // argument): a closed pipe is then not the test's failure.
            if let Err(e) = w.write_all(s.as_bytes()) {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
            }
        }
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn kinds_and_examples_cover_every_kind() {
    let out = node_cli(&["kinds", "--json"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v.iter().map(|k| k["kind"].as_str().unwrap()).collect();
    let want: Vec<&str> = EntryKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names, want);
    for k in &v {
        assert!(!k["label_zh"].as_str().unwrap().is_empty(), "{k}");
        assert!(!k["roles"].as_array().unwrap().is_empty(), "{k}");
    }
    let text_out = text(&node_cli(&["kinds"], None).stdout);
    for k in EntryKind::ALL {
        assert!(
            text_out.contains(&format!("{}  {}", k.name(), k.label_zh())),
            "{text_out}"
        );
    }

    // Today in China, as the command dates its templates (either side of
    // a midnight that falls during the test).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let today = Date::from_unix_ms(now).unwrap();
    for k in EntryKind::ALL {
        let out = node_cli(&["submit", "--example", k.name()], None);
        assert!(out.status.success(), "{}: {}", k.name(), text(&out.stderr));
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let on = |d: Date| examples::example(*k, d).payload;
        assert!(
            got == on(today) || got == on(today.add_days(1).unwrap()),
            "{}: {got}",
            k.name()
        );
        // Who signs it and what comes first, on stderr, not in the template.
        assert!(text(&out.stderr).contains("may submit"), "{}", k.name());
    }
}

#[test]
fn an_unknown_kind_lists_the_valid_ones() {
    for args in [
        &["submit", "--example", "product-revoked"][..],
        &[
            "submit",
            "--key",
            "k",
            "--kind",
            "product-revoked",
            "--payload",
            "-",
        ],
    ] {
        let out = node_cli(args, Some("{}"));
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(
            err.contains("unknown kind \"product-revoked\"")
                && err.contains("product-registration-revoked")
                && err.contains("regledger-node kinds"),
            "{err}"
        );
    }
}

#[test]
fn a_node_that_is_not_running_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    assert!(node_cli(
        &["keygen", "--name", "p-1", "--out", key.to_str().unwrap()],
        None
    )
    .status
    .success());
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = node_cli(
        &[
            "submit",
            "--url",
            &url,
            "--key",
            key.to_str().unwrap(),
            "--kind",
            "operation-event",
            "--payload",
            "-",
        ],
        Some("{}"),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&url)
            && err.contains("is the node running")
            && err.contains("regledger-node serve"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_refusal_is_reported_once_and_logs_are_plain_and_a_stop_is_announced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live("regledger.test/cli");
    init_with_testkit(&data, "regledger.test/cli", "blake3", &kit);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = dir.path().join("node.log");
    let mut child = Command::new(bin("regledger-node"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(&data)
        .env("REGLEDGER_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_up(&url, "/checkpoint", "node", &mut child, &log);

    // The authority's key: the testkit's, as init_with_testkit wrote it.
    let key = data.with_extension("authority.key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let today = Date::from_unix_ms(now).unwrap();
    let payload = format!(r#"{{"product_id": "P-404", "opened_on": "{today}"}}"#);
    let payload = payload.as_str();
    let args = [
        "submit",
        "--url",
        &url,
        "--key",
        key.to_str().unwrap(),
        "--kind",
        "public-notice-opened",
        "--payload",
        "-",
    ];
    let out = node_cli(&args, Some(payload));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("FAIL: ")
            && err.contains("submit product-approved first")
            && err.contains('《'),
        "{err}"
    );
    // With --json: the problem on stdout, nothing on stderr.
    let out = node_cli(&[&args[..], &["--json"]].concat(), Some(payload));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let problem: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        problem["type"].as_str().unwrap().ends_with("/not-found"),
        "{problem}"
    );

    // SIGTERM: the node says it is stopping and that it closed cleanly.
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {logged}");
    assert!(
        logged.contains("shutting down") && logged.contains("closed cleanly"),
        "{logged}"
    );
    // A log written to a file carries no colour codes.
    assert!(!logged.contains('\u{1b}'), "{logged:?}");
}

#[test]
fn submit_batch_signs_each_line_and_names_each_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live("regledger.test/cli-batch");
    init_with_testkit(&data, "regledger.test/cli-batch", "blake3", &kit);
    let node = Node::start(&data, &[]);
    let key = data.with_extension("authority.key");
    let party = |i: u8| {
        regledger::testkit::Party::new(
            &format!("cli-op-{i}"),
            &format!("运营机构 {i}"),
            regledger::registry::Role::Operator,
            60 + i,
        )
        .spec()
        .to_string()
    };
    let args = [
        "submit",
        "--url",
        &node.url,
        "--key",
        key.to_str().unwrap(),
        "--kind",
        "participant-registered",
        "--batch",
        "--payload",
        "-",
    ];
    // A line that is not JSON: nothing is sent, the line is named.
    let out = node_cli(&args, Some(&format!("{}\n{{\"id\": \n", party(1))));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(tree_size(&node.url), 1);
    // Three payloads, the second registered twice (a replay): two logged,
    // the refusal named by its line, exit 1.
    let body = format!("{}\n\n{}\r\n{}\n", party(1), party(2), party(2));
    let out = node_cli(&args, Some(&body));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["refused"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    let err = text(&out.stderr);
    assert!(
        err.starts_with("FAIL: ") && err.contains("payload 3 409 replayed-envelope"),
        "{err}"
    );
    assert_eq!(tree_size(&node.url), 3);
}
