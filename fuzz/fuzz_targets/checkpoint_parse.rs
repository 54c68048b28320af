#![no_main]
//! Checkpoints: Checkpoint::parse on the input as a body, verify_checkpoint
//! on the input as a signed note.
//!
//! Properties: the encoding is canonical (a parsed body re-formats to
//! exactly the input); a body that can be signed verifies with the fixed
//! log key, returns the same checkpoint, and fails with another key or a
//! witness quorum nobody met.
use libfuzzer_sys::fuzz_target;
use regledger::tlog::checkpoint::{sign_checkpoint, verify_checkpoint, Checkpoint};
use regledger::tlog::note::{KeyType, Signer, VerifierKey};
use std::sync::OnceLock;

fn keys() -> &'static (Signer, VerifierKey, VerifierKey) {
    static K: OnceLock<(Signer, VerifierKey, VerifierKey)> = OnceLock::new();
    K.get_or_init(|| {
        let s = Signer::generate("fuzz.example/log", KeyType::Ed25519, [7; 32]).unwrap();
        let w = Signer::generate("fuzz.example/witness", KeyType::CosignatureV1, [9; 32]).unwrap();
        let v = s.verifier();
        (s, v, w.verifier())
    })
}

fuzz_target!(|data: &[u8]| {
    let (log, vkey, witness) = keys();
    // Never panics, whatever the note.
    let _ = verify_checkpoint(data, vkey, std::slice::from_ref(witness), 1);
    let _ = verify_checkpoint(data, vkey, &[], 0);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cp) = Checkpoint::parse(text) else {
        return;
    };
    assert_eq!(cp.to_text(), text, "checkpoint encoding is not canonical");
    let Ok(note) = sign_checkpoint(&cp, log) else {
        return;
    };
    let vc = verify_checkpoint(note.as_bytes(), vkey, &[], 0).expect("signed checkpoint verifies");
    assert_eq!(vc.checkpoint, cp);
    assert!(verify_checkpoint(note.as_bytes(), witness, &[], 0).is_err());
    assert!(verify_checkpoint(note.as_bytes(), vkey, std::slice::from_ref(witness), 1).is_err());
});
