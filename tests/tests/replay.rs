//! Replay identity against a real node (issue 12, item 1): a logged
//! envelope fetched from `GET /v1/entries/{i}` and re-posted with a junk
//! signature, a co-signature or its signatures reordered is refused and
//! writes nothing; the suspend → resume → replayed-suspend attack is
//! refused; a deliberate repeat of the act with a new `request_id` is
//! accepted.

use std::hash::{BuildHasher, Hasher};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::entry::envelope::Envelope;
use regledger::registry::EntryKind;
use regledger::testkit::{Step, Testkit};
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::{json, Value};

const ORIGIN: &str = "regledger.test/replay";

/// random64 returns 64 bytes no test can predict (std's per-process random hasher keys).
fn random64() -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    while out.len() < 64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(out.len());
        out.extend_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// node_at_resumed starts a node and submits the lifecycle up to and
/// including "product resumed"; it returns the node, the kit, the steps
/// submitted and the index of the suspension.
fn node_at_resumed() -> (tempfile::TempDir, Node, Testkit, Vec<Step>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "sha256", &kit);
    let node = Node::start(&data, &[]);
    let steps: Vec<Step> = kit
        .lifecycle(HashSuite::Sha256, "guangxi")
        .into_iter()
        .take_while(|s| s.label != "registration revoked")
        .collect();
    assert_eq!(steps.last().unwrap().label, "product resumed");
    let mut suspended_at = None;
    for s in steps.iter().skip(1) {
        let (code, body) = post(&node.url, &s.envelope);
        assert_eq!(code, 200, "{}: {body}", s.label);
        if s.label == "product suspended" {
            suspended_at = body["index"].as_u64();
        }
    }
    (dir, node, kit, steps, suspended_at.unwrap())
}

fn logged_envelope(url: &str, index: u64) -> Value {
    get_json(&format!("{url}/v1/entries/{index}"))["envelope"].clone()
}

fn problem_type(body: &Value) -> &str {
    body["type"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("https://regledger.dev/problems/")
}

fn product_status(url: &str) -> String {
    let (_, t) = get_text(&format!(
        "{url}/v1/certificates/{}",
        regledger::testkit::REGISTRATION_NO
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&t).unwrap();
    v["status"]["state"].as_str().unwrap_or("").to_string()
}

#[test]
fn a_logged_envelope_with_any_extra_or_reordered_signature_is_refused_and_writes_nothing() {
    let (_dir, node, kit, _steps, i) = node_at_resumed();
    assert_eq!(product_status(&node.url), "active");
    let size = tree_size(&node.url);
    let logged = logged_envelope(&node.url, i);
    let keyid = logged["signatures"][0]["keyid"]
        .as_str()
        .unwrap()
        .to_string();

    // The attack of the issue: the same key id, 64 random bytes. No key is needed.
    let mut junk_same = logged.clone();
    junk_same["signatures"]
        .as_array_mut()
        .unwrap()
        .push(json!({"keyid": keyid, "sig": B64.encode(random64())}));
    let (code, body) = post_raw(&node.url, "", junk_same.to_string().into_bytes());
    assert_eq!(code, 403, "{body}");
    assert_eq!(problem_type(&body), "bad-signature", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("distinct key"),
        "{body}"
    );

    // Junk under another participant's registered key id: that signature is verified, and fails.
    let mut junk_other = logged.clone();
    junk_other["signatures"]
        .as_array_mut()
        .unwrap()
        .push(json!({"keyid": kit.operator.key_id(), "sig": B64.encode(random64())}));
    let (code, body) = post_raw(&node.url, "", junk_other.to_string().into_bytes());
    assert_eq!(code, 403, "{body}");
    assert_eq!(problem_type(&body), "bad-signature", "{body}");

    // A valid co-signature by a second participant, appended or put first:
    // the signed content is the one already logged, so it is a replay.
    let env = Envelope::from_json(&logged).unwrap();
    let mut cosigned = env.clone();
    let other = Envelope::sign(
        &env.payload_type,
        env.payload.clone(),
        &kit.operator.key_id(),
        &kit.operator.key,
    );
    cosigned.signatures.push(other.signatures[0].clone());
    let mut reordered = cosigned.clone();
    reordered.signatures.reverse();
    for (what, e) in [("co-signed", &cosigned), ("reordered", &reordered)] {
        let (code, body) = post(&node.url, e);
        assert_eq!(code, 409, "{what}: {body}");
        assert_eq!(problem_type(&body), "replayed-envelope", "{what}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("entry {i}")), "{what}: {detail}");
        assert!(detail.contains("request_id"), "{what}: {detail}");
    }

    // Nothing was written, and the product is still active.
    assert_eq!(tree_size(&node.url), size);
    assert_eq!(product_status(&node.url), "active");
}

#[test]
fn suspend_resume_then_a_replayed_suspension_is_refused() {
    let (_dir, node, _kit, steps, i) = node_at_resumed();
    let size = tree_size(&node.url);
    let suspension = &steps
        .iter()
        .find(|s| s.label == "product suspended")
        .unwrap()
        .envelope;
    // The exact envelope, and the one fetched back from the log.
    let (code, body) = post(&node.url, suspension);
    assert_eq!(code, 409, "{body}");
    assert_eq!(problem_type(&body), "replayed-envelope");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("entry {i}")));
    let (code, body) = post_raw(
        &node.url,
        "",
        logged_envelope(&node.url, i).to_string().into_bytes(),
    );
    assert_eq!(code, 409, "{body}");
    assert_eq!(tree_size(&node.url), size);
    assert_eq!(product_status(&node.url), "active");
}

#[test]
fn a_deliberate_repeat_with_a_new_request_id_is_accepted() {
    let (_dir, node, kit, _steps, _) = node_at_resumed();
    let size = tree_size(&node.url);
    let act = |rid: Option<&str>| {
        let mut p = json!({"id": "P-1", "reason": "整改", "effective_on": kit.on("2025-04-01")});
        if let Some(r) = rid {
            p["request_id"] = json!(r);
        }
        kit.authority.sign(EntryKind::ProductSuspended, &p)
    };
    // Suspend again (same act, new request id): accepted.
    let (code, body) = post(
        &node.url,
        &act(Some("3f2a9c1e-7b4d-4e2a-9f10-2b6c8d0e5a71")),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(product_status(&node.url), "suspended");
    // Resume again, then suspend with yet another request id.
    let resume = kit.authority.sign(
        EntryKind::ProductResumed,
        &json!({"id": "P-1", "reason": "整改完成", "effective_on": kit.on("2025-04-08"), "request_id": "resume-2"}),
    );
    assert_eq!(post(&node.url, &resume).0, 200);
    let (code, body) = post(&node.url, &act(Some("suspend-3")));
    assert_eq!(code, 200, "{body}");
    assert_eq!(tree_size(&node.url), size + 3);
    // A request id outside its limits is refused, and writes nothing.
    for bad in ["", "has space", "控制", &"x".repeat(65)] {
        let (code, body) = post(&node.url, &act(Some(bad)));
        assert_eq!(code, 400, "{bad:?}: {body}");
        assert_eq!(problem_type(&body), "malformed-payload", "{bad:?}: {body}");
    }
    assert_eq!(tree_size(&node.url), size + 3);
}

#[test]
fn a_mirror_refuses_an_upstream_that_logged_a_replay() {
    use regledger::testkit::{chain, descriptor, tile_files, write_files, DAY_MS};
    use regledger::tlog::note::{KeyType, Signer};

    // A log a loose node could have written: the suspension logged again
    // after the resumption, with a second participant's co-signature.
    let dir = tempfile::tempdir().unwrap();
    let kit = Testkit::live(ORIGIN);
    let mut steps: Vec<Step> = kit
        .lifecycle(HashSuite::Sha256, "guangxi")
        .into_iter()
        .take_while(|s| s.label != "registration revoked")
        .collect();
    let at = steps
        .iter()
        .position(|s| s.label == "product suspended")
        .unwrap();
    let mut copy = steps[at].envelope.clone();
    let co = Envelope::sign(
        &copy.payload_type,
        copy.payload.clone(),
        &kit.operator.key_id(),
        &kit.operator.key,
    );
    copy.signatures.push(co.signatures[0].clone());
    let t = steps.last().unwrap().time_ms;
    steps.push(Step {
        label: "replayed suspension",
        envelope: copy,
        time_ms: t + DAY_MS,
    });
    let log_key = Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap();
    let logged = chain(ORIGIN, HashSuite::Sha256, &steps);
    let leaves: Vec<Vec<u8>> = logged.iter().map(|l| l.leaf_bytes()).collect();
    let envs: Vec<Vec<u8>> = logged.iter().map(|l| l.envelope_bytes()).collect();
    let served = dir.path().join("static");
    write_files(
        &served,
        &tile_files(HashSuite::Sha256, ORIGIN, &log_key, &leaves, &envs),
    )
    .unwrap();
    let log = dir.path().join("log.json");
    let d = descriptor(ORIGIN, HashSuite::Sha256, &log_key, "guangxi");
    std::fs::write(&log, serde_json::to_vec(&d).unwrap()).unwrap();
    let web = StaticServer::start(&served);
    let m = Mirror::start(&web.url, &log, &dir.path().join("mirror"), &[]);
    let deadline = std::time::Instant::now() + regledger_e2e::patience();
    while metric(&m.url, "regledger_mirror_split_view") != Some(1) {
        assert!(
            std::time::Instant::now() < deadline,
            "the replay was accepted from upstream"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Nothing of that checkpoint was taken, and the alarm names the replay.
    assert_eq!(tree_size(&m.url), 0);
    let deadline = std::time::Instant::now() + regledger_e2e::patience();
    let readme = loop {
        let found = std::fs::read_dir(m.data.join("evidence"))
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .find_map(|p| std::fs::read_to_string(p.join("README.txt")).ok());
        if let Some(t) = found {
            break t;
        }
        assert!(std::time::Instant::now() < deadline, "no evidence saved");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        readme.contains("replayed-envelope") && readme.contains(&format!("entry {at}")),
        "{readme}"
    );
}
