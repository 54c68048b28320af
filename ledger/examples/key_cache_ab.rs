//! A/B in one process, rounds interleaved: Ed25519 verify_strict decoding
//! the key each time (as before the key cache) against PublicKey::verify
//! (the cache). `cargo run --release -p regledger --example key_cache_ab`
use std::time::Instant;

use ed25519_dalek::{Signer, SigningKey};
use regledger::crypto::{PublicKey, SigAlg};

fn main() {
    let sk = SigningKey::from_bytes(&[7; 32]);
    let msg = b"regledger key cache a/b".to_vec();
    let sig = sk.sign(&msg).to_bytes();
    let raw = sk.verifying_key().to_bytes();
    let pk = PublicKey::Ed25519(raw);
    let n = 20_000;
    for round in 0..10 {
        let t = Instant::now();
        for _ in 0..n {
            let vk = ed25519_dalek::VerifyingKey::from_bytes(std::hint::black_box(&raw)).unwrap();
            vk.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
                .unwrap();
        }
        let old = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(&pk)
                .verify(SigAlg::Ed25519, &msg, &sig)
                .unwrap();
        }
        let new = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!(
            "round {round}: decode each time {old:.1} µs, cached {new:.1} µs, new/old {:.3}",
            new / old
        );
    }
}
