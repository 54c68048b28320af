#![no_main]
//! Signed notes: Note::parse and open_note on arbitrary bytes.
//!
//! Properties: a parsed note re-serialises (to_text) to a note that parses
//! to the same value; open_note agrees with parse on the text and only
//! reports signatures the note has; text that is valid to sign, signed with
//! the fixed key, opens with that key and no other.
use libfuzzer_sys::fuzz_target;
use regledger::tlog::note::{
    check_text, open_note, sign_note, Ed25519Verifier, KeyType, Note, Signer, VerifierKey,
};
use std::sync::OnceLock;

fn keys() -> &'static (Signer, VerifierKey, VerifierKey) {
    static K: OnceLock<(Signer, VerifierKey, VerifierKey)> = OnceLock::new();
    K.get_or_init(|| {
        let s = Signer::generate("fuzz.example/log", KeyType::Ed25519, [7; 32]).unwrap();
        let other = Signer::generate("fuzz.example/log", KeyType::Ed25519, [8; 32]).unwrap();
        let v = s.verifier();
        (s, v, other.verifier())
    })
}

fuzz_target!(|data: &[u8]| {
    let (signer, vkey, other) = keys();
    let (mine, theirs) = (
        Ed25519Verifier::new(vkey).unwrap(),
        Ed25519Verifier::new(other).unwrap(),
    );
    if let Ok(n) = Note::parse(data) {
        assert!(n.text.ends_with('\n'));
        let again = Note::parse(n.to_text().as_bytes()).expect("to_text output parses");
        assert_eq!(again, n);
        if let Ok(o) = open_note(data, &[&mine]) {
            assert_eq!(o.text, n.text);
            assert!(!o.verified.is_empty());
            for s in o.verified.iter().chain(&o.unverified) {
                assert!(n.sigs.contains(s));
            }
            for s in &o.verified {
                assert_eq!((s.name.as_str(), s.key_id), (vkey.name(), vkey.key_id()));
            }
        }
    } else {
        assert!(open_note(data, &[&mine]).is_err());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if check_text(text).is_ok() {
            let signed = sign_note(text, &[signer]).expect("checked text signs");
            let o = open_note(signed.as_bytes(), &[&mine]).expect("signed note opens");
            assert_eq!(o.text, text);
            assert_eq!(o.verified.len(), 1);
            // The same name and id with another key is a different key id,
            // so the signature is unknown to it: no verified signature.
            assert!(open_note(signed.as_bytes(), &[&theirs]).is_err());
        }
    }
});
