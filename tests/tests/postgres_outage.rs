//! PostgreSQL unavailable (issue 19, bad input and faults): a node on the
//! PostgreSQL driver answers 503 while its database is down and
//! acknowledges nothing; when the database comes back the node continues
//! without a restart, with every entry acknowledged before the outage and
//! none of those refused during it. Its own test binary: it stops the
//! test cluster, which no other test may share meanwhile.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regledger::registry::EntryKind;
use regledger::testkit::{Testkit, DOC};
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/pg-outage";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn event(kit: &Testkit, actor: &str) -> regledger::entry::envelope::Envelope {
    kit.business.sign(
        EntryKind::OperationEvent,
        &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": now_ms() - 1000,
                "actor": actor, "records": 1, "personal_data_commitments": [DOC]}),
    )
}

#[test]
fn postgres_down_gets_503_with_nothing_acknowledged_and_the_node_recovers_without_restart() {
    let Some(pg) = postgres() else { return };
    let url = pg.fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit_in(&data, ORIGIN, "sha256", &kit, Some(&url));
    let mut node = Node::start(&data, &["--store", &url]);
    for s in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    let (code, before) = post(&node.url, &event(&kit, "before"));
    assert_eq!(code, 200, "{before}");
    let size_before = tree_size(&node.url);

    pg.stop();
    // While the database is down nothing is acknowledged.
    let refused = event(&kit, "during");
    for _ in 0..3 {
        let (code, v) = post(&node.url, &refused);
        assert_eq!(
            code, 503,
            "an entry was answered {code} with the database down: {v}"
        );
    }
    pg.start();

    // The same process serves again once the database is back.
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        let (code, v) = post(&node.url, &event(&kit, "after"));
        if code == 200 {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not recover: {code} {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        node.child.try_wait().unwrap().is_none(),
        "the node exited during the outage"
    );
    // Nothing was written while refused: the next entry follows the last
    // acknowledged one, and the refused envelope is not in the log.
    assert_eq!(after["index"].as_u64().unwrap(), size_before);
    assert_eq!(
        before["index"].as_u64().unwrap() + 1,
        size_before,
        "the entry acknowledged before the outage is the last one before it"
    );
    let (code, v) = post(&node.url, &refused);
    assert_eq!(
        code, 200,
        "the refused entry was not logged, so it is accepted now: {v}"
    );
    assert_eq!(v["index"].as_u64().unwrap(), size_before + 1);
    node.kill9();
}

/// A node started while its PostgreSQL server is down (nothing listens at
/// the URL's port) exits at once with an error that says so (D24: it does
/// not wait; a supervisor restarts it), and nothing is served meanwhile.
#[test]
fn a_node_started_while_postgres_is_down_exits_at_once_saying_so() {
    let Some(pg) = postgres() else { return };
    let url = pg.fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit_in(&data, ORIGIN, "sha256", &kit, Some(&url));
    let down = format!("postgres://regledger@127.0.0.1:{}/gone", free_port());
    let mut child = std::process::Command::new(bin("regledger-node"))
        .args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--store", &down])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + patience();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the node kept running with its database down");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{err}");
    assert!(err.contains("not reachable"), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
    // The URL is named, without credentials.
    assert!(err.contains("postgres://...@127.0.0.1:"), "{err}");
}
