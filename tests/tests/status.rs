//! Status proofs on loopback (issue 14): a node's `GET /v1/status/{kind}/{id}`
//! verified offline by `regledger-verify status` with its exit codes, the
//! same proof from a mirror that follows the node (it recomputed every
//! state root), absence for an unknown 登记号, and the certificate bundle v2
//! that carries the same proof.

use regledger::testkit::{Testkit, REGISTRATION_NO};
use regledger::HashSuite;
use regledger_e2e::*;

const ORIGIN: &str = "status.e2e.example/gx";

#[test]
fn a_node_and_its_mirror_prove_the_same_current_status_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    let upto = |label: &str| steps.iter().position(|s| s.label == label).unwrap();

    // Registered: 有效, exit 0; a certificate bundle v2 proves it too.
    for s in &steps[1..=upto("product registered")] {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    wait_for_checkpoint(&node.url, tree_size(&node.url));
    let (c, v, _) = verify_status(&node.url, "product", REGISTRATION_NO, &log, dir.path());
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["state"]["status_zh"], "有效");
    let (c, err) = verify_cert(
        dir.path(),
        &log,
        &serde_json::from_value(get_json(&format!(
            "{}/v1/certificates/{REGISTRATION_NO}",
            node.url
        )))
        .unwrap(),
    );
    assert_eq!(c, Some(0), "{err}");

    // Suspended: exit 3, from the node and from a mirror that follows it.
    for s in &steps[upto("product registered") + 1..=upto("product suspended")] {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    let size = tree_size(&node.url);
    let cp = wait_for_checkpoint(&node.url, size);
    let m = Mirror::start(&node.url, &log, &dir.path().join("mirror"), &[]);
    assert_eq!(wait_for_checkpoint(&m.url, size), cp);
    let (c, v, from_node) = verify_status(&node.url, "product", REGISTRATION_NO, &log, dir.path());
    assert_eq!(c, 3, "{v}");
    assert_eq!(v["state"]["status"], "suspended");
    let (c, v, from_mirror) = verify_status(&m.url, "product", REGISTRATION_NO, &log, dir.path());
    assert_eq!(c, 3, "{v}");
    // The mirror's proof is the node's: the same checkpoint, leaf and record.
    assert_eq!(from_mirror, from_node);
    // Both serve v2 (D26): the state root is the checkpoint's state line,
    // so the proof carries no state entry.
    assert_eq!(from_node.format, regledger::cert::status::STATUS_FORMAT);
    assert!(from_node.state_entry.is_none());
    let (c, err) = verify_cert(
        dir.path(),
        &log,
        &serde_json::from_value(get_json(&format!(
            "{}/v1/certificates/{REGISTRATION_NO}",
            m.url
        )))
        .unwrap(),
    );
    assert_eq!(c, Some(3), "{err}");

    // No product has this 登记号: absence, exit 6, from either.
    for url in [&node.url, &m.url] {
        let (c, v, p) = verify_status(url, "product", "GXDP-2025-999999", &log, dir.path());
        assert_eq!(c, 6, "{v}");
        assert!(p.record.is_none());
    }
    // A participant: 有效; an id outside the grammar: a 400, not a proof.
    let (c, v, _) = verify_status(&node.url, "participant", &kit.business.id, &log, dir.path());
    assert_eq!(c, 0, "{v}");
    let (c, _) = get_text(&format!("{}/v1/status/product/gxdp-lower", node.url)).unwrap();
    assert_eq!(c, 400);
    let (c, _) = get_text(&format!("{}/v1/status/nothing/x", node.url)).unwrap();
    assert_eq!(c, 404);

    // Revoked: exit 4 once the mirror has the entry too.
    let r = upto("registration revoked");
    for s in &steps[upto("product suspended") + 1..=r] {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    let size = tree_size(&node.url);
    wait_for_checkpoint(&node.url, size);
    wait_for_checkpoint(&m.url, size);
    for url in [&node.url, &m.url] {
        let (c, v, _) = verify_status(url, "product", REGISTRATION_NO, &log, dir.path());
        assert_eq!(c, 4, "{v}");
        assert_eq!(v["state"]["status_zh"], "已撤销登记");
    }
}
