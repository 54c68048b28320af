//! The node end to end on loopback: the whole registration lifecycle (docs/registry.md) over
//! HTTP, certificate bundles verified with the library, every rule refused
//! with its problem type, hostile input, restart and tile rebuild.

use regledger::cert::bundle::{verify_bundle, CertificateBundle};
use regledger::descriptor::LogDescriptor;
use regledger::registry::EntryKind;
use regledger::testkit::{Testkit, REGISTRATION_NO};
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/e2e";

fn descriptor(url: &str) -> LogDescriptor {
    let (_, t) = get_text(&format!("{url}/log.json")).unwrap();
    LogDescriptor::parse(t.as_bytes()).unwrap()
}

fn bundle(url: &str) -> CertificateBundle {
    serde_json::from_value(get_json(&format!(
        "{url}/v1/certificates/{REGISTRATION_NO}"
    )))
    .unwrap()
}

#[test]
fn lifecycle_certificate_and_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "sha256", &kit);
    let node = Node::start(&data, &[]);
    let d = descriptor(&node.url);
    assert_eq!(d.suite, HashSuite::Sha256);
    let steps = kit.lifecycle(HashSuite::Sha256, "guangxi");
    for s in steps.iter().skip(1) {
        let (code, body) = post(&node.url, &s.envelope);
        assert_eq!(code, 200, "{}: {body}", s.label);
        if s.label == "product registered" {
            assert!(body["blockchain_no"].as_str().unwrap().starts_with("RL1-"));
            let b = bundle(&node.url);
            let v = verify_bundle(&b, &d).unwrap();
            assert_eq!(v.status, "active");
            assert_eq!(v.certificate.registration_no, REGISTRATION_NO);
            assert_eq!(v.blockchain_no, body["blockchain_no"].as_str().unwrap());
        }
    }
    // After 撤销登记 a fresh bundle says revoked, and still verifies.
    let b = bundle(&node.url);
    let v = verify_bundle(&b, &d).unwrap();
    assert_eq!(v.status, "revoked");
    // The tlog-proof form verifies with the library too (sha256 log: any C2SP verifier can).
    let (c, text) = get_text(&format!(
        "{}/v1/certificates/{REGISTRATION_NO}/tlog-proof",
        node.url
    ))
    .unwrap();
    assert_eq!(c, 200);
    let p = regledger::tlog::tlog_proof::TlogProof::parse(text.as_bytes()).unwrap();
    use base64::Engine;
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(&b.entry.leaf)
        .unwrap();
    regledger::tlog::tlog_proof::verify_tlog_proof(
        &p,
        HashSuite::Sha256,
        &HashSuite::Sha256.leaf_hash(&leaf),
        &d.log_key,
        &[],
        0,
    )
    .unwrap();
    // The regulator's offline command on the same bundle: OK, then FAIL naming the tampered part.
    let bf = dir.path().join("bundle.json");
    let lf = dir.path().join("log.json");
    std::fs::write(&bf, serde_json::to_vec(&b).unwrap()).unwrap();
    std::fs::write(&lf, get_text(&format!("{}/log.json", node.url)).unwrap().1).unwrap();
    let out = std::process::Command::new(bin("regledger-verify"))
        .arg("cert")
        .arg(&bf)
        .arg("--log")
        .arg(&lf)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The node's bundle is v2: it proves the certificate revoked as of its
    // checkpoint, so the command verifies it and exits 4 (已撤销登记),
    // never 0 (issue 14; it used to exit 0 with "revoked" in English).
    assert_eq!(
        out.status.code(),
        Some(4),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("数据产品登记证书")
            && stdout.contains("区块链编号")
            && stdout.starts_with("NOT ACTIVE: 数据产品登记证书 verified, 状态 已撤销登记"),
        "{stdout}"
    );
    assert_eq!(b.format, "regledger-certificate-bundle/v2");
    let mut bad = b.clone();
    bad.certificate.product_name.push('X');
    std::fs::write(&bf, serde_json::to_vec(&bad).unwrap()).unwrap();
    let out = std::process::Command::new(bin("regledger-verify"))
        .arg("cert")
        .arg(&bf)
        .arg("--log")
        .arg(&lf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("FAIL: certificate.product_name"));
    // Registry queries and subject index.
    let prod = get_json(&format!("{}/v1/products/P-1", node.url));
    assert_eq!(prod["value"]["status"], "revoked");
    let subj = get_json(&format!("{}/v1/entries?subject=P-1", node.url));
    assert!(subj["indexes"].as_array().unwrap().len() >= 6);
    // Entries by index carry the exact envelope that was signed.
    let e = get_json(&format!("{}/v1/entries/1", node.url));
    assert_eq!(e["envelope"], steps[1].envelope.to_json());
    // OpenAPI lists every route the router serves.
    let api = get_json(&format!("{}/openapi.json", node.url));
    for p in [
        "/v1/entries",
        "/v1/entries/{index}",
        "/v1/proof/inclusion",
        "/v1/proof/consistency",
        "/v1/certificates/{no}",
        "/v1/status/{kind}/{id}",
        "/checkpoint",
        "/tile/{path}",
        "/log.json",
        "/metrics",
        "/healthz",
    ] {
        assert!(api["paths"].get(p).is_some(), "openapi lacks {p}");
    }
}

#[test]
fn rules_and_hostile_input_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let node = Node::start(&data, &["--request-timeout-s", "2"]);
    let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    let upto = steps
        .iter()
        .position(|s| s.label == "product registered")
        .unwrap();
    for s in steps[1..=upto].iter() {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    let size = tree_size(&node.url);
    let stranger =
        regledger::testkit::Party::new("stranger", "x", regledger::registry::Role::Operator, 77);
    let mut tampered = kit
        .authority
        .sign(EntryKind::ParticipantRegistered, &stranger.spec());
    tampered.payload[3] ^= 1;
    let cases: Vec<(&str, regledger::entry::envelope::Envelope, u16)> = vec![
        ("unknown-signer", stranger.sign(EntryKind::ProductSuspended, &json!({"id": "P-1", "reason": "x", "effective_on": "2025-04-01"})), 403),
        ("role-not-allowed", kit.business.sign(EntryKind::ProductSuspended, &json!({"id": "P-1", "reason": "x", "effective_on": "2025-04-01"})), 403),
        ("bad-signature", tampered, 403),
        ("invalid-transition", kit.authority.sign(EntryKind::ProductResumed, &json!({"id": "P-1", "reason": "x", "effective_on": "2025-04-01"})), 409),
        ("not-found", kit.authority.sign(EntryKind::ProductDeregistered, &json!({"id": "P-404", "reason": "x", "effective_on": "2025-04-01"})), 409),
        ("duplicate-id", kit.authority.sign(EntryKind::ParticipantRegistered, &{
            let mut s = kit.operator.spec();
            s["name"] = json!("another name, same id");
            s
        }), 409),
        ("malformed-payload", kit.authority.sign(EntryKind::ProductSuspended, &json!({"id": "P-1"})), 400),
        ("replayed-envelope", steps[1].envelope.clone(), 409),
        ("term-too-long", kit.agency.sign(EntryKind::AgreementFiled, &json!({"id": "OA-9", "agreement_type": "operation-agreement",
            "parties": [kit.agency.id, kit.operator.id], "grantee": kit.operator.id, "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2025-03-05",
            "term_start": "2025-03-06", "term_end": "2031-03-05", "document_title": "x", "document_blake3": regledger::testkit::DOC})), 409),
    ];
    for (want, env, status) in cases {
        let (code, body) = post(&node.url, &env);
        assert_eq!(
            body["type"],
            format!("https://regledger.dev/problems/{want}"),
            "{want}: {body}"
        );
        assert_eq!(code, status, "{want}");
    }
    // Hostile bodies.
    for (body, want) in [
        (b"{not json".to_vec(), "malformed-json"),
        (b"\xff\xfe".to_vec(), "malformed-json"),
        (
            json!({"payloadType": "x"}).to_string().into_bytes(),
            "malformed-envelope",
        ),
        (
            format!("{}{}", "[".repeat(200), "]".repeat(200)).into_bytes(),
            "malformed-json",
        ),
    ] {
        let (code, v) = post_raw(&node.url, "", body);
        assert_eq!(code, 400);
        assert_eq!(v["type"], format!("https://regledger.dev/problems/{want}"));
    }
    let (code, _) = post_raw(&node.url, "", vec![b' '; 200 * 1024]);
    assert_eq!(code, 413, "oversized body");
    // A slow client is cut off by the request timeout.
    {
        use std::io::{Read, Write};
        let addr = node.url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"POST /v1/entries HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || head.contains("408"), "slow client got {head:?}");
    }
    // Nothing was written by any of the above.
    assert_eq!(tree_size(&node.url), size);
    // Bad query parameters.
    for q in [
        "/v1/proof/inclusion?index=5&size=3",
        "/v1/proof/inclusion?index=01&size=3",
        "/v1/proof/consistency?old=0&new=3",
        "/v1/entries/abc",
        "/tile/0/01",
    ] {
        let (c, _) = get_text(&format!("{}{q}", node.url)).unwrap();
        assert_eq!(c, 400, "{q}");
    }
    assert_eq!(
        get_text(&format!("{}/v1/entries/999999", node.url))
            .unwrap()
            .0,
        404
    );
    assert_eq!(
        get_text(&format!("{}/v1/certificates/NOPE", node.url))
            .unwrap()
            .0,
        404
    );
}

#[test]
fn restart_keeps_state_and_rebuilds_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "sha256", &kit);
    let mut node = Node::start(&data, &[]);
    for s in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &s.envelope).0, 200);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (_, cp1) = get_text(&format!("{}/checkpoint", node.url)).unwrap();
    assert_eq!(cp1.lines().nth(1), Some("10"));
    let (c, tile1) = get_text(&format!("{}/tile/entries/000.p/10", node.url)).unwrap();
    assert_eq!(c, 200);
    node.kill9();
    std::fs::remove_dir_all(data.join("tiles")).unwrap();
    node.restart();
    let (c, tile2) = get_text(&format!("{}/tile/entries/000.p/10", node.url)).unwrap();
    assert_eq!(c, 200);
    assert_eq!(tile1, tile2);
    let (_, cp2) = get_text(&format!("{}/checkpoint", node.url)).unwrap();
    assert_eq!(cp1.lines().nth(1), cp2.lines().nth(1));
    assert_eq!(cp1.lines().nth(2), cp2.lines().nth(2));
    // State survived: the operator is still registered.
    assert_eq!(
        get_json(&format!("{}/v1/participants/gx-operator", node.url))["value"]["role"],
        "operator"
    );
}

#[test]
fn concurrent_conflicting_registrations_exactly_one_wins_and_revoked_or_unknown_roles_are_refused()
{
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let node = Node::start(&data, &[]);
    let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    let upto = steps
        .iter()
        .position(|s| s.label == "objection resolved")
        .unwrap();
    for s in steps[1..=upto].iter() {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    // A second approved product with its public notice.
    let p2 = kit.operator.sign(
        EntryKind::ProductApproved,
        &json!({"product_id": "P-2", "product_name": "公交准点率分析", "business_entity": kit.business.id,
                "authorization": "SA-1", "applied_on": kit.on("2025-03-10"), "approved_on": kit.on("2025-03-12"), "uses_non_public_data": false}),
    );
    assert_eq!(post(&node.url, &p2).0, 200);
    let n2 = kit.operator.sign(
        EntryKind::PublicNoticeOpened,
        &json!({"product_id": "P-2", "opened_on": kit.on("2025-03-13")}),
    );
    assert_eq!(post(&node.url, &n2).0, 200);
    let size = tree_size(&node.url);

    // Sixteen clients race to register one 登记号 for either product.
    let no = "GXDP-2025-000777";
    let envs: Vec<regledger::entry::envelope::Envelope> = (0..16)
        .map(|i| {
            kit.operator.sign(
                EntryKind::ProductRegistered,
                &json!({"product_id": if i % 2 == 0 { "P-1" } else { "P-2" }, "registration_no": no,
                        "certificate_name": "数据产品登记证书", "product_name": format!("产品 {i}"), "product_type": "数据服务",
                        "business_entity": kit.business.id, "business_entity_name": kit.business.name, "update_cycle": "每日",
                        "scenarios": ["公交出行规划"], "registered_on": kit.on("2025-03-24"), "authorization": "SA-1"}),
            )
        })
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(envs.len()));
    let handles: Vec<_> = envs
        .into_iter()
        .map(|env| {
            let (url, barrier) = (node.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                post(&url, &env)
            })
        })
        .collect();
    let results: Vec<(u16, serde_json::Value)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter(|(c, _)| *c == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (c, body) in results.iter().filter(|(c, _)| *c != 200) {
        assert_eq!(*c, 409, "{body}");
        let t = body["type"].as_str().unwrap();
        assert!(
            t.ends_with("/duplicate-registration-no") || t.ends_with("/invalid-transition"),
            "{body}"
        );
    }
    assert_eq!(
        tree_size(&node.url),
        size + 1,
        "exactly one entry was written"
    );
    let cert = get_json(&format!("{}/v1/certificates/{no}", node.url));
    assert_eq!(cert["entry"]["index"], winners[0].1["index"]);

    // A revoked participant's key no longer signs anything.
    let revoke = kit.authority.sign(
        EntryKind::ParticipantRevoked,
        &json!({"id": kit.venue.id, "reason": "退出交易场所"}),
    );
    assert_eq!(post(&node.url, &revoke).0, 200);
    let late = kit.venue.sign(
        EntryKind::ObjectionFiled,
        &json!({"objection_id": "OBJ-9", "product_id": "P-2", "filed_on": kit.on("2025-03-20"), "filer_name": "x", "grounds": "y"}),
    );
    let (code, body) = post(&node.url, &late);
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["type"],
        "https://regledger.dev/problems/signer-revoked"
    );
    // An unknown role is a malformed payload.
    let mut spec =
        regledger::testkit::Party::new("wizard-co", "x", regledger::registry::Role::Operator, 99)
            .spec();
    spec["role"] = json!("wizard");
    let (code, body) = post(
        &node.url,
        &kit.authority.sign(EntryKind::ParticipantRegistered, &spec),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["type"],
        "https://regledger.dev/problems/malformed-payload"
    );
    assert_eq!(tree_size(&node.url), size + 2);
}

/// flip_b64 flips one bit of byte `at` inside a base64 value.
fn flip_b64(s: &str, at: usize) -> String {
    use base64::Engine;
    let e = base64::engine::general_purpose::STANDARD;
    let mut raw = e.decode(s).unwrap();
    let i = at.min(raw.len() - 1);
    raw[i] ^= 0x01;
    e.encode(raw)
}

#[test]
fn every_part_of_a_node_bundle_is_tamper_evident_to_the_regulator() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let node = Node::start(&data, &[]);
    for s in kit.lifecycle(HashSuite::Blake3, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let good = bundle(&node.url);
    let log = dir.path().join("log.json");
    std::fs::write(&log, get_text(&format!("{}/log.json", node.url)).unwrap().1).unwrap();
    let check = |name: &str, b: &CertificateBundle, want: &[&str]| {
        let (code, err) = verify_cert(dir.path(), &log, b);
        assert_eq!(code, Some(1), "tampered {name} verified: {err}");
        assert!(
            want.iter().any(|w| err.starts_with(&format!("FAIL: {w}"))),
            "tampered {name}: {err} names none of {want:?}"
        );
    };
    // The untouched bundle verifies, and proves the product revoked (the
    // lifecycle ends revoked): exit 4, not 0 (issue 14).
    let (code, err) = verify_cert(dir.path(), &log, &good);
    assert_eq!(code, Some(4), "{err}");

    let m = |f: &dyn Fn(&mut CertificateBundle)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    check(
        "product_name",
        &m(&|b| b.certificate.product_name.push('X')),
        &["certificate.product_name"],
    );
    check(
        "registration_no",
        &m(&|b| b.certificate.registration_no.push('1')),
        &["certificate.registration_no", "blockchain_no"],
    );
    check(
        "business_entity_name",
        &m(&|b| b.certificate.business_entity_name.push('X')),
        &["certificate.business_entity_name"],
    );
    check(
        "scenarios",
        &m(&|b| b.certificate.scenarios.push("x".into())),
        &["certificate.scenarios"],
    );
    check(
        "blockchain_no",
        &m(&|b| b.blockchain_no.push('0')),
        &["blockchain_no"],
    );
    let env_len = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(good.entry.envelope.as_ref().unwrap())
            .unwrap()
            .len()
    };
    // The v2 leaf: header (index), state root, envelope hash.
    for (what, at) in [("header", 3), ("state root", 60), ("envelope hash", 100)] {
        check(
            what,
            &m(&|b| b.entry.leaf = flip_b64(&b.entry.leaf, at)),
            &[
                "entry.leaf",
                "entry.index",
                "entry.inclusion_proof",
                "certificate",
            ],
        );
    }
    // The envelope beside it: payload, signature (last bytes), key id
    // (before the signature): not what the leaf commits to.
    for (what, at) in [
        ("payload", 150),
        ("signature", env_len - 5),
        ("key id", env_len - 70),
    ] {
        check(
            what,
            &m(&|b| b.entry.envelope = Some(flip_b64(b.entry.envelope.as_ref().unwrap(), at))),
            &["entry.envelope"],
        );
    }
    check(
        "status proof",
        &m(&|b| {
            let p = b.status_proof.as_mut().unwrap();
            p.map_proof = flip_b64(&p.map_proof, 40);
        }),
        &["status_proof"],
    );
    check(
        "entry index",
        &m(&|b| b.entry.index += 1),
        &["entry.index", "entry.inclusion_proof", "blockchain_no"],
    );
    for i in 0..good.entry.inclusion_proof.len() {
        check(
            &format!("proof hash {i}"),
            &m(&|b| b.entry.inclusion_proof[i] = flip_b64(&b.entry.inclusion_proof[i], 7)),
            &["entry.inclusion_proof"],
        );
    }
    check(
        "previous leaf",
        &m(&|b| b.previous.leaf = flip_b64(&b.previous.leaf, 60)),
        &["previous"],
    );
    check(
        "signer entries",
        &m(&|b| b.signer_entries.clear()),
        &["signer"],
    );
    check(
        "status",
        &m(&|b| b.status.state = "active".into()),
        &["status"],
    );
    check(
        "checkpoint text",
        &m(&|b| b.checkpoint = b.checkpoint.replacen('\n', "x\n", 1)),
        &["checkpoint"],
    );
    check(
        "checkpoint signature",
        &m(&|b| {
            let mut n = regledger::tlog::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
            n.sigs[0].sig[3] ^= 1;
            b.checkpoint = n.to_text();
        }),
        &["checkpoint"],
    );
}

/// The harness reports a node that died on start-up at once, with its
/// exit status and log, instead of waiting out a deadline (issue 17: a
/// busy machine must not turn a slow start into a failure, and a dead
/// process must not look like a slow one).
#[test]
fn a_node_that_dies_at_start_is_reported_with_its_error_not_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("log.json"), "not a descriptor").unwrap();
    let Err(panic) = std::panic::catch_unwind(|| Node::start(&data, &[])) else {
        panic!("a node on a broken log.json came up");
    };
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    // Its exit and its own error line, not "did not come up" after a deadline.
    assert!(msg.contains("exited") && msg.contains("error:"), "{msg}");
}
