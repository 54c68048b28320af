//! The audit refuses a replay as the node does (issue 12, item 1): logs
//! built with the library, bypassing the node, that log the same signed
//! content twice — as is, with a junk signature appended (under the signer's
//! own key id, or another registered one), or with a second participant's
//! valid co-signature — fail as `rule:replayed-envelope` naming the entry
//! and the original index, and no junk signature is counted as verified.

mod common;

use regledger::entry::envelope::{Envelope, EnvelopeSignature, SigAlg};
use regledger::registry::EntryKind;
use regledger::testkit::{Step, Testkit, DAY_MS};
use regledger::HashSuite;
use serde_json::{json, Value};

const ORIGIN: &str = "audit.example/replay";

/// audit publishes `steps` as a node would (no rules applied) and runs
/// `regledger-verify --json audit` on them.
fn audit(steps: &[Step], extra: &[&str]) -> (i32, Value) {
    common::audit_steps(ORIGIN, 42, steps, extra)
}

/// lifecycle_to_resumed is the lifecycle up to "product resumed", and the
/// position of the suspension in it.
fn lifecycle_to_resumed(kit: &Testkit) -> (Vec<Step>, usize) {
    let steps: Vec<Step> = kit
        .lifecycle(HashSuite::Blake3, "guangxi")
        .into_iter()
        .take_while(|s| s.label != "registration revoked")
        .collect();
    let at = steps
        .iter()
        .position(|s| s.label == "product suspended")
        .unwrap();
    (steps, at)
}

fn with_replay(steps: &[Step], env: Envelope) -> Vec<Step> {
    let mut v = steps.to_vec();
    v.push(Step {
        label: "replayed suspension",
        envelope: env,
        time_ms: steps.last().unwrap().time_ms + DAY_MS,
    });
    v
}

fn junk(key_id: &str) -> EnvelopeSignature {
    EnvelopeSignature {
        alg: SigAlg::Ed25519,
        key_id: key_id.into(),
        sig: (0..64u8).map(|b| b.wrapping_mul(37) ^ 0x5a).collect(),
    }
}

fn failures(v: &Value) -> Vec<(Option<u64>, String, String)> {
    v["failures"]
        .as_array()
        .unwrap_or_else(|| panic!("no report: {v}"))
        .iter()
        .map(|f| {
            (
                f["index"].as_u64(),
                f["check"].as_str().unwrap().to_string(),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_replay_of_a_signed_content_is_a_rule_failure_naming_the_original() {
    let kit = Testkit::new(ORIGIN);
    let (steps, at) = lifecycle_to_resumed(&kit);
    let (code, clean) = audit(&steps, &[]);
    assert_eq!(code, 0, "{clean}");
    let verified_clean = clean["signatures_verified"].as_u64().unwrap();
    let n = steps.len() as u64;
    let original = steps[at].envelope.clone();

    let mut same_key_junk = original.clone();
    same_key_junk
        .signatures
        .push(junk(&original.signatures[0].key_id));
    let mut other_key_junk = original.clone();
    other_key_junk.signatures.push(junk(&kit.operator.key_id()));
    let mut cosigned = original.clone();
    let co = Envelope::sign(
        &original.payload_type,
        original.payload.clone(),
        &kit.operator.key_id(),
        &kit.operator.key,
    );
    cosigned.signatures.push(co.signatures[0].clone());
    let mut reordered = cosigned.clone();
    reordered.signatures.reverse();

    for (what, env) in [
        ("as is", original.clone()),
        ("junk under the signer's key id", same_key_junk),
        ("junk under another registered key id", other_key_junk),
        ("a second participant's co-signature", cosigned),
        ("co-signed, reordered", reordered),
    ] {
        for mode in [&[][..], &["--batch-signatures"][..]] {
            let (code, v) = audit(&with_replay(&steps, env.clone()), mode);
            assert_eq!(code, 1, "{what} {mode:?}: {v}");
            let f = failures(&v);
            assert_eq!(v["failure_count"], 1, "{what} {mode:?}: {f:?}");
            let (index, check, detail) = &f[0];
            assert_eq!(*index, Some(n), "{what}: {f:?}");
            assert_eq!(check, "rule:replayed-envelope", "{what}: {f:?}");
            assert!(
                detail.contains(&format!("entry {at}")),
                "{what}: the original index is named: {detail}"
            );
            // The replay is not applied, and none of its signatures count.
            assert_eq!(
                v["signatures_verified"].as_u64(),
                Some(verified_clean),
                "{what} {mode:?}"
            );
            assert_eq!(
                v["products"][0]["status"], "active",
                "{what}: the replay changed nothing"
            );
        }
    }
}

#[test]
fn a_junk_signature_is_never_counted_as_verified() {
    // A fresh act (not a replay) with a junk second signature under the
    // signer's own key id: the rules refuse it; nothing of it is verified.
    let kit = Testkit::new(ORIGIN);
    let (steps, _) = lifecycle_to_resumed(&kit);
    let (_, clean) = audit(&steps, &[]);
    let verified_clean = clean["signatures_verified"].as_u64().unwrap();
    let mut env = kit.authority.sign(
        EntryKind::ProductSuspended,
        &json!({"id": "P-1", "reason": "再次整改", "effective_on": "2025-04-20"}),
    );
    env.signatures.push(junk(&env.signatures[0].key_id.clone()));
    for mode in [&[][..], &["--batch-signatures"][..]] {
        let (code, v) = audit(&with_replay(&steps, env.clone()), mode);
        assert_eq!(code, 1, "{mode:?}: {v}");
        let f = failures(&v);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].0, Some(steps.len() as u64), "{f:?}");
        assert!(f[0].1.starts_with("rule:"), "{f:?}");
        assert_eq!(
            v["signatures_verified"].as_u64(),
            Some(verified_clean),
            "{mode:?}"
        );
        assert_eq!(v["products"][0]["status"], "active");
    }
}

#[test]
fn a_deliberate_repeat_with_a_request_id_passes() {
    let kit = Testkit::new(ORIGIN);
    let (steps, _) = lifecycle_to_resumed(&kit);
    let env = kit.authority.sign(
        EntryKind::ProductSuspended,
        &json!({"id": "P-1", "reason": "整改", "effective_on": "2025-04-01", "request_id": "repeat-1"}),
    );
    let (code, v) = audit(&with_replay(&steps, env), &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["products"][0]["status"], "suspended");
}
