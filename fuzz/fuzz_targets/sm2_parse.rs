#![no_main]
//! The SM2 parsers (D19): PEM private and public keys, key material (point
//! and stated signer ID), the state string, SM2 signatures, and SM2 note
//! signature lines.
//!
//! Properties: nothing panics; whatever parses re-encodes to something that
//! parses to the same key; a signature made over the input verifies and
//! one with a flipped bit does not; a note signed by an SM2 key opens, and
//! the input read as a note opens only with a signature that verifies.
use libfuzzer_sys::fuzz_target;
use regledger::crypto::sm2::{pem, Sm2PublicKey};
use regledger::crypto::{PublicKey, SigAlg};
use regledger::tlog::checkpoint::verifier_for;
use regledger::tlog::note::{open_note, sign_note, KeyType, Signer};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(k) = pem::private_from_pem(s, None) {
            let again = pem::private_from_pem(&pem::private_to_pem(&k), None).unwrap();
            assert_eq!(again.to_bytes(), k.to_bytes());
        }
        if let Ok(p) = pem::public_from_pem(s, None) {
            assert_eq!(pem::public_from_pem(&pem::public_to_pem(&p), None).unwrap(), p);
        }
        if let Ok(k) = PublicKey::from_state_string(s) {
            assert_eq!(PublicKey::from_state_string(&k.to_state_string()).unwrap(), k);
        }
    }
    if let Ok(k) = Sm2PublicKey::from_material(data) {
        assert_eq!(k.material(), data);
        // Any 64 bytes as a signature: no panic, and r‖s from the input.
        let sig: [u8; 64] = std::array::from_fn(|i| data.get(i + 1).copied().unwrap_or(0));
        let _ = k.verify(data, &sig);
    }
    if let Ok(k) = PublicKey::from_payload_material(data) {
        assert_eq!(k.material(), data);
    }
    // A note key from the input as seed: sign the input as a note text.
    let seed: [u8; 32] = std::array::from_fn(|i| data.get(i).copied().unwrap_or(1));
    if let Ok(s) = Signer::generate("fuzz.example/log", KeyType::Sm2, seed) {
        let v = s.verifier();
        let sig = s.sign(data);
        assert!(v.public_key().verify(SigAlg::Sm2, data, &sig).is_ok());
        let mut bad = sig;
        bad[data.len() % 64] ^= 1;
        assert!(v.public_key().verify(SigAlg::Sm2, data, &bad).is_err());
        let verifier = verifier_for(&v);
        if let Ok(text) = std::str::from_utf8(data) {
            if let Ok(note) = sign_note(text, &[&s]) {
                assert!(open_note(note.as_bytes(), &[&*verifier]).is_ok());
            }
        }
        let _ = open_note(data, &[&*verifier]);
    }
});
