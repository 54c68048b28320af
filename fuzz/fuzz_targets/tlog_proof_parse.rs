#![no_main]
//! Offline proofs: TlogProof::parse on arbitrary bytes.
//!
//! Properties: to_text of a parsed proof is exactly the input (one
//! encoding per proof) and parses back to an equal proof;
//! verify_tlog_proof never panics on it.
use libfuzzer_sys::fuzz_target;
use regledger::tlog::note::{KeyType, Signer, VerifierKey};
use regledger::tlog::tlog_proof::{verify_tlog_proof, TlogProof};
use regledger::{Hash, HashSuite};
use std::sync::OnceLock;

fn key() -> &'static VerifierKey {
    static K: OnceLock<VerifierKey> = OnceLock::new();
    K.get_or_init(|| {
        Signer::generate("fuzz.example/log", KeyType::Ed25519, [7; 32])
            .unwrap()
            .verifier()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(p) = TlogProof::parse(data) else {
        return;
    };
    let text = p.to_text();
    assert_eq!(
        text.as_bytes(),
        data,
        "tlog-proof encoding is not canonical"
    );
    assert_eq!(TlogProof::parse(text.as_bytes()).unwrap(), p);
    let _ = verify_tlog_proof(&p, HashSuite::Sha256, &Hash([0; 32]), key(), &[], 0);
});
