//! Why the node does not use Ed25519 batch verification (docs/decisions.md
//! D21), shown on every case of the CCTV edge-case vectors
//! (tests/vectors/ed25519_cctv_edge_cases.json, 914 cases):
//!
//! 1. the check the node runs on every envelope signature, on every core
//!    ([`regledger::crypto::PublicKey::verify`], which the envelope's
//!    `verify_known` / `verify_all` call) accepts exactly what
//!    `verify_strict` accepts, case by case;
//! 2. ed25519-dalek's `verify_batch`, even behind the strongest cheap
//!    pre-filter (canonical s, canonical and not small-order A and R),
//!    disagrees with `verify_strict` both ways: it accepts
//!    `low_order_residue` cases (R differs from [s]B − [k]A by a
//!    small-order point that the batch's weight z can cancel) and refuses
//!    mixed-order cases `verify_strict` accepts (the batch multiplies A by
//!    z·k reduced mod ℓ, which no longer cancels A's small-order part).
//!    Only torsion checks of A and R (a scalar multiplication per
//!    signature, about what the batch saves) would make them agree.

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, VerifyingKey};
use regledger::crypto::{PublicKey, SigAlg};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = format!(
        "{}/tests/vectors/ed25519_cctv_edge_cases.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

struct Case {
    n: u64,
    key: [u8; 32],
    sig: [u8; 64],
    msg: Vec<u8>,
    flags: String,
    want_strict: bool,
}

fn cases() -> Vec<Case> {
    vectors()
        .iter()
        .map(|r| Case {
            n: r[0].as_u64().unwrap(),
            key: hex::decode(r[1].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
            sig: hex::decode(r[2].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
            msg: r[3].as_str().unwrap().as_bytes().to_vec(),
            flags: r[4].as_str().unwrap().to_string(),
            want_strict: r[7].as_bool().unwrap(),
        })
        .collect()
}

fn strict(c: &Case) -> bool {
    VerifyingKey::from_bytes(&c.key)
        .map(|k| {
            k.verify_strict(&c.msg, &Signature::from_bytes(&c.sig))
                .is_ok()
        })
        .unwrap_or(false)
}

/// canonical_point decodes a point that is canonically encoded and not of small order.
fn canonical_point(b: &[u8; 32]) -> bool {
    CompressedEdwardsY(*b)
        .decompress()
        .is_some_and(|p| p.compress().to_bytes() == *b && !p.is_small_order())
}

/// prefiltered_batch is a one-signature `verify_batch` behind the pre-filter.
fn prefiltered_batch(c: &Case) -> bool {
    let r: [u8; 32] = c.sig[..32].try_into().unwrap();
    let s: [u8; 32] = c.sig[32..].try_into().unwrap();
    if Scalar::from_canonical_bytes(s).is_none().into()
        || !canonical_point(&c.key)
        || !canonical_point(&r)
    {
        return false;
    }
    let Ok(vk) = VerifyingKey::from_bytes(&c.key) else {
        return false;
    };
    ed25519_dalek::verify_batch(&[&c.msg[..]], &[Signature::from_bytes(&c.sig)], &[vk]).is_ok()
}

#[test]
fn the_nodes_signature_check_accepts_exactly_what_verify_strict_accepts() {
    let cases = cases();
    assert_eq!(cases.len(), 914);
    let mut accepted = 0;
    for c in &cases {
        let node = PublicKey::Ed25519(c.key)
            .verify(SigAlg::Ed25519, &c.msg, &c.sig)
            .is_ok();
        assert_eq!(node, strict(c), "vector {}", c.n);
        assert_eq!(node, c.want_strict, "vector {} ({})", c.n, c.flags);
        accepted += usize::from(node);
    }
    assert_eq!(accepted, 43);
}

#[test]
fn batch_verification_even_prefiltered_disagrees_with_verify_strict_both_ways() {
    let has = |flags: &str, f: &str| flags.split(',').any(|x| x == f);
    let all = cases();
    let (mut extra, mut missing) = (Vec::new(), Vec::new());
    for c in &all {
        match (prefiltered_batch(c), strict(c)) {
            (true, false) => extra.push(c),
            (false, true) => missing.push(c),
            _ => {}
        }
    }
    // Accepted by the batch, refused by verify_strict: R is off by a
    // small-order point that the batch weight cancelled.
    for c in &extra {
        assert!(
            has(&c.flags, "low_order_residue"),
            "vector {} ({}): an extra acceptance that is not a small-order residue",
            c.n,
            c.flags
        );
    }
    // Refused by the batch, accepted by verify_strict: a mixed-order key or
    // R, whose small-order part the batch's z·k (mod ℓ) no longer cancels.
    for c in &missing {
        assert!(
            has(&c.flags, "low_order_component_A") || has(&c.flags, "low_order_component_R"),
            "vector {} ({}): a refusal that is not a mixed-order point",
            c.n,
            c.flags
        );
    }
    // With the fallback (a failed batch checks each signature alone), the
    // extra refusals disappear and the extra acceptances stay: the path
    // accepts exactly verify_strict's set plus the residues.
    let with_fallback = |c: &Case| prefiltered_batch(c) || strict(c);
    let differ: Vec<u64> = all
        .iter()
        .filter(|c| with_fallback(c) != strict(c))
        .map(|c| c.n)
        .collect();
    assert_eq!(differ, extra.iter().map(|c| c.n).collect::<Vec<_>>());
    println!(
        "prefiltered verify_batch vs verify_strict: {} extra acceptances, {} extra refusals",
        extra.len(),
        missing.len()
    );
    assert!(
        !extra.is_empty() && !missing.is_empty(),
        "prefiltered batch verification now agrees with verify_strict one way: D21 is out of date \
         ({} extra, {} missing)",
        extra.len(),
        missing.len()
    );
}
