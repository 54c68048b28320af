//! The audit refuses every envelope signature the node refuses (D27).
//!
//! The hostile case is the one where Ed25519 batch verification and
//! `verify_strict` part ways: a signer who holds the key makes
//! `R' = [r]B + T`, with `T` the point of order 2, and signs with it
//! (`s = r + k·a`, `k = H(R' ‖ A ‖ M)`). Then `[s]B − [k]A = [r]B ≠ R'`, so
//! the node's cofactorless check (`verify_strict`) refuses it; a batch
//! sums `z·(R' − [r]B) = z·T`, which vanishes whenever the weight `z` is
//! even, so the batch passes it about every other time (the weights are
//! derived from the inputs, so a signer can grind for it). A log holding
//! such an entry — which only a node that skipped its own check could have
//! written — must fail the default audit, as check `signature`, naming the
//! entry; `--batch-signatures` is shown to pass that signature, so the test
//! exercises exactly where the two differ. (The test's log is written as a
//! correct replay would: the entry's effects left out; both audits also
//! report the state roots after it, since they judge signatures after the
//! rules. Only the `signature` check is compared.)

mod common;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::SigningKey;
use regledger::entry::envelope::{Envelope, EnvelopeSignature, SigAlg};
use regledger::testkit::{Step, Testkit};
use regledger::HashSuite;
use serde_json::Value;
use sha2::{Digest, Sha512};

const ORIGIN: &str = "audit.example/signatures";

/// order_two is (0, −1), the point of order 2: y = p − 1, little-endian.
fn order_two() -> EdwardsPoint {
    let mut y = [0xff; 32];
    y[0] = 0xec;
    y[31] = 0x7f;
    let t = CompressedEdwardsY(y).decompress().unwrap();
    assert!(t.is_small_order() && !t.is_identity());
    t
}

/// twisted signs `msg` with `key` as described above, from nonce `r`,
/// adding `t` to R.
fn twisted(key: &SigningKey, msg: &[u8], r: u64, t: EdwardsPoint) -> Vec<u8> {
    let r = Scalar::from(r) * Scalar::from(0x9e37_79b9_7f4a_7c15u64) + Scalar::ONE;
    let big_r = (ED25519_BASEPOINT_POINT * r + t).compress();
    let k = Scalar::from_bytes_mod_order_wide(
        &Sha512::new()
            .chain_update(big_r.as_bytes())
            .chain_update(key.verifying_key().as_bytes())
            .chain_update(msg)
            .finalize()
            .into(),
    );
    let s = r + k * key.to_scalar();
    [big_r.to_bytes(), s.to_bytes()].concat()
}

/// audit publishes `steps` as a node would (no rules, no signature
/// checks) and runs `regledger-verify --json audit` on them.
fn audit(steps: &[Step], extra: &[&str]) -> (i32, Value) {
    common::audit_steps(ORIGIN, 43, steps, extra)
}

/// signature_failed_at says whether the report has a `signature` failure at `at`.
fn signature_failed_at(v: &Value, at: usize) -> bool {
    v["failures"]
        .as_array()
        .unwrap_or_else(|| panic!("no report: {v}"))
        .iter()
        .any(|f| f["check"] == "signature" && f["index"] == at as u64)
}

#[test]
fn a_signature_only_a_batch_accepts_fails_the_audit() {
    let kit = Testkit::new(ORIGIN);
    let mut steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    let (clean, v) = audit(&steps, &[]);
    assert_eq!(clean, 0, "the untouched lifecycle audits clean: {v}");
    assert_eq!(v["signature_check"], "strict");

    // The last entry the operator signed, re-signed by the operator with a
    // twisted R: the same payload, the same key id.
    let at = steps
        .iter()
        .rposition(|s| s.envelope.signatures[0].key_id == kit.operator.key_id())
        .expect("the operator signs in the lifecycle");
    let original = steps[at].envelope.clone();
    let msg = Envelope::pae(&original.payload_type, &original.payload);
    let pk = regledger::crypto::PublicKey::Ed25519(kit.operator.key.verifying_key().to_bytes());

    // The construction without the twist is an ordinary signature, which
    // the node's check accepts: what follows fails only because of T.
    let mut plain = original.clone();
    plain.signatures[0].sig = twisted(&kit.operator.key, &msg, 7, EdwardsPoint::default());
    plain
        .verify_known(|_| Some(pk.clone()))
        .expect("an untwisted signature verifies");

    // Grind the nonce until a batch accepts: then the batch and the node
    // disagree on this very log.
    let mut found = None;
    for r in 1..64u64 {
        let mut env = original.clone();
        env.signatures = vec![EnvelopeSignature {
            key_id: original.signatures[0].key_id.clone(),
            alg: SigAlg::Ed25519,
            sig: twisted(&kit.operator.key, &msg, r, order_two()),
        }];
        // What the node runs on every envelope refuses it.
        assert!(
            env.verify_known(|_| Some(pk.clone())).is_err(),
            "verify_strict accepted a twisted R"
        );
        steps[at].envelope = env;
        let (_, v) = audit(&steps, &["--batch-signatures"]);
        assert_eq!(v["signature_check"], "batch");
        if !signature_failed_at(&v, at) {
            found = Some(r);
            break;
        }
    }
    assert!(
        found.is_some(),
        "no nonce of 63 made a batch accept the twisted signature (each try passes with \
         probability about 1/2): the batch no longer differs from verify_strict here"
    );

    // The default audit refuses it, naming the entry, as the node would.
    for mode in [&[][..], &["--strict-signatures"][..]] {
        let (code, v) = audit(&steps, mode);
        assert_eq!(code, 1, "{mode:?}: {v}");
        assert_eq!(v["signature_check"], "strict");
        assert!(
            signature_failed_at(&v, at),
            "{mode:?}: no signature failure at entry {at}: {}",
            v["failures"]
        );
    }
}
