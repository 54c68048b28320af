//! Each entry stored once (issue 18 item 5, D29), on a real node: once its
//! full bundles are published, an entry is read from them (the database
//! drops its rows), and everything that reads entries still works across
//! the archived range: the read API, a retention prune of archived
//! operation events, the audit, a mirror, SIGKILL and restart. A node
//! whose tile directory is lost refuses to start, saying that those
//! bundles were the only copy, and starts again once they are restored; a
//! prune that needs a lost bundle is refused alone.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use regledger::testkit::Testkit;
use regledger::tlog::tile::{decode_entry_bundle, TILE_WIDTH};
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::Value;

const ORIGIN: &str = "regledger.test/archive";

/// envelope_items is the items of the full envelope bundle 0 in `tiles`.
fn envelope_items(tiles: &Path) -> Vec<Vec<u8>> {
    let b = std::fs::read(tiles.join("tile/envelopes/000")).unwrap();
    decode_entry_bundle(&b, TILE_WIDTH as usize)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect()
}

/// entry is `GET /v1/entries/{i}`: status and body.
fn entry(url: &str, i: u64) -> (u16, Value) {
    let (c, t) = get_text(&format!("{url}/v1/entries/{i}")).unwrap();
    (c, serde_json::from_str(&t).unwrap_or(Value::Null))
}

#[test]
fn archived_entries_read_prune_audit_mirror_and_restart_and_a_lost_tile_directory_stops_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "sha256", &kit);
    let log = data.join("log.json");
    let tiles = data.join("tiles");
    let mut node = Node::start(&data, &[]);
    for s in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    // Operation events whose retention ran out, early in bundle 0 ...
    let Prunable { ops, op_envs, .. } = prunable(&node.url, &kit, 3);
    // ... and enough after them that bundles 0 and 1 are full.
    let pad: Vec<_> = (0..2 * TILE_WIDTH)
        .map(|i| operation_event(&kit.operator, i))
        .collect();
    for chunk in pad.chunks(128) {
        post_all(&node.url, chunk);
    }
    let n = tree_size(&node.url);
    assert!(n > 2 * TILE_WIDTH, "{n}");
    // The checkpoint for n is served after the transaction that archived
    // the full bundles below it committed.
    wait_for_checkpoint(&node.url, n);
    assert!(tiles.join("tile/entries/001").is_file());

    // Read back from the bundles: the same entry, envelope and all.
    let (c, e) = entry(&node.url, ops[2]);
    assert_eq!(c, 200, "{e}");
    assert_eq!(e["envelope"], op_envs[2].to_json(), "{e}");
    for i in [0, 255, 256, 300, n - 1] {
        assert_eq!(entry(&node.url, i).0, 200, "entry {i}");
    }
    // Replays of archived operation events are refused, naming the
    // original: their replay index keeps 16 bytes of each id and confirms
    // a match on the envelope read back from the bundle (D31).
    let replayed = |env: &regledger::entry::envelope::Envelope, original: Option<u64>| {
        let (c, b) = post(&node.url, env);
        assert_eq!(c, 409, "{b}");
        assert!(
            b["type"].as_str().unwrap().ends_with("replayed-envelope"),
            "{b}"
        );
        if let Some(i) = original {
            let d = b["detail"].as_str().unwrap();
            assert!(d.contains(&format!("already entry {i};")), "{b}");
        }
    };
    replayed(&op_envs[2], Some(ops[2]));
    replayed(&pad[0], None);
    replayed(&pad[pad.len() - 1], None);

    // A retention prune of archived events: the node reads their
    // envelopes from the bundle to check them, then empties their items.
    let (c, r) = post(&node.url, &prune(&kit.authority, "OA-P", &ops[..2]));
    assert_eq!(c, 200, "{r}");
    let p = r["index"].as_u64().unwrap();
    wait_for_checkpoint(&node.url, p + 1);
    let check = |url: &str, tiles: &Path| {
        let items = envelope_items(tiles);
        assert!(items[ops[0] as usize].is_empty() && items[ops[1] as usize].is_empty());
        assert_eq!(items[ops[2] as usize], op_envs[2].to_bytes());
        let (c, e) = entry(url, ops[0]);
        assert_eq!(c, 410, "{e}");
        assert_eq!(e["pruned_by"], p.to_string(), "{e}");
        let (c, e) = entry(url, ops[2]);
        assert_eq!(c, 200, "{e}");
        assert_eq!(e["envelope"], op_envs[2].to_json(), "{e}");
    };
    check(&node.url, &tiles);
    // A pruned event's envelope is gone, and a replay of it is still refused.
    replayed(&op_envs[0], Some(ops[0]));
    let (code, report, err) = audit_from(&["--dir".as_ref(), tiles.as_os_str()], &log);
    assert_eq!(code, 0, "{report}{err}");

    // A mirror archives its own bundles the same way and audits clean.
    let mirror = Mirror::start(&node.url, &log, &dir.path().join("mirror"), &[]);
    wait_for_checkpoint(&mirror.url, p + 1);
    let mtiles = mirror.data.join("tiles");
    let (code, report, err) = audit_from(&["--dir".as_ref(), mtiles.as_os_str()], &log);
    assert_eq!(code, 0, "{report}{err}");
    drop(mirror);

    // SIGKILL and restart: everything reads as before, and the log grows.
    node.kill9();
    node.restart();
    check(&node.url, &tiles);
    assert_eq!(
        post(&node.url, &operation_event(&kit.operator, 9_999)).0,
        200
    );
    let n2 = tree_size(&node.url);
    wait_for_checkpoint(&node.url, n2);

    // The tile directory is lost: the node cannot rebuild the bundles it
    // archived, and says so instead of serving a log without them.
    node.kill9();
    let kept = dir.path().join("tiles.kept");
    std::fs::rename(&tiles, &kept).unwrap();
    let mut c = Command::new(bin("regledger-node"));
    c.arg("serve")
        .arg("--data")
        .arg(&data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()));
    let out = stderr_file(&data).with_extension("refused");
    let mut child = c
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(out.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > patience() {
            let _ = child.kill();
            panic!("a node without its archived bundles kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let said = std::fs::read_to_string(out.with_extension("err")).unwrap()
        + &std::fs::read_to_string(&out).unwrap();
    assert!(!status.success(), "{said}");
    assert!(
        said.contains("tile/entries/000") && said.contains("only copy"),
        "{said}"
    );
    // Restored from the copy: it starts and serves the same log.
    std::fs::remove_dir_all(&tiles).ok();
    std::fs::rename(&kept, &tiles).unwrap();
    node.restart();
    check(&node.url, &tiles);
    assert_eq!(tree_size(&node.url), n2);

    // A prune that needs an archived envelope whose bundle is gone cannot
    // be judged: refused alone (500 damaged-tile, nothing written), while
    // the entry beside it in the same batch is logged.
    node.kill9();
    let envs0 = tiles.join("tile/envelopes/000");
    let kept0 = dir.path().join("envelopes-000.kept");
    std::fs::rename(&envs0, &kept0).unwrap();
    node.restart();
    let late = prune(&kit.authority, "OA-P", &ops[2..3]);
    let event = operation_event(&kit.operator, 10_000);
    let body = Value::Array(vec![late.to_json(), event.to_json()])
        .to_string()
        .into_bytes();
    let (s, _, t) = post_to(
        &format!("{}/v1/entries", node.url),
        "application/json",
        body,
    );
    assert_eq!(s, 200, "{t}");
    let v: Value = serde_json::from_str(&t).unwrap();
    let r = &v["results"];
    assert_eq!(r[0]["status"], 500, "{v}");
    assert!(
        r[0]["problem"]["type"]
            .as_str()
            .unwrap()
            .ends_with("damaged-tile")
            && r[0]["problem"]["detail"]
                .as_str()
                .unwrap()
                .contains("tile/envelopes/000"),
        "{v}"
    );
    assert_eq!(r[1]["status"], 200, "{v}");
    assert_eq!(tree_size(&node.url), n2 + 1);
    // Restored, the same prune is judged and logged.
    std::fs::rename(&kept0, &envs0).unwrap();
    let (c, r) = post(&node.url, &late);
    assert_eq!(c, 200, "{r}");
    wait_for_checkpoint(&node.url, n2 + 2);
    assert!(envelope_items(&tiles)[ops[2] as usize].is_empty());
}
