#![no_main]
//! Checkpoints: Checkpoint::parse on the input as a body,
//! open_witnessed_checkpoint and (against a log.json) verify_checkpoint on
//! the input as a signed note.
//!
//! Properties: the encoding is canonical (a parsed body re-formats to
//! exactly the input); a body that can be signed verifies with the fixed
//! log key, returns the same checkpoint, and fails with another key or a
//! witness quorum nobody met.
use libfuzzer_sys::fuzz_target;
use regledger::descriptor::{verify_checkpoint, LogDescriptor, LogDescriptorJson};
use regledger::tlog::checkpoint::{
    open_checkpoint, open_witnessed_checkpoint, sign_checkpoint, Checkpoint,
};
use regledger::tlog::note::{KeyType, Signer, VerifierKey};
use std::sync::OnceLock;

fn descriptor() -> &'static LogDescriptor {
    static D: OnceLock<LogDescriptor> = OnceLock::new();
    D.get_or_init(|| {
        let (_, vkey, witness) = keys();
        LogDescriptor::from_json(&LogDescriptorJson {
            origin: vkey.name().to_string(),
            log_vkey: vkey.to_vkey(),
            hash: "sha256".into(),
            witnesses: vec![witness.to_vkey()],
            quorum: 1,
            profile: "guangxi".into(),
        })
        .unwrap()
    })
}

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
    let _ = open_witnessed_checkpoint(data, vkey, std::slice::from_ref(witness), 1);
    let _ = open_checkpoint(data, vkey);
    let _ = verify_checkpoint(data, descriptor());
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
    let vc = open_checkpoint(note.as_bytes(), vkey).expect("signed checkpoint verifies");
    assert_eq!(vc.checkpoint, cp);
    assert!(open_checkpoint(note.as_bytes(), witness).is_err());
    assert!(
        open_witnessed_checkpoint(note.as_bytes(), vkey, std::slice::from_ref(witness), 1).is_err()
    );
    // Without the witness, log.json's quorum is not met, whatever the origin.
    assert!(verify_checkpoint(note.as_bytes(), descriptor()).is_err());
});
