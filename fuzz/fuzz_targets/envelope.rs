#![no_main]
//! Envelopes: Envelope::from_bytes on the input, and Envelope::from_json on
//! the input read as JSON.
//!
//! Properties: the binary form is canonical (to_bytes gives back exactly
//! the input); binary and JSON forms convert into each other without loss;
//! every accepted envelope meets check(); the digest is that of the bytes.
use libfuzzer_sys::fuzz_target;
use regledger::entry::envelope::Envelope;
use sha2::{Digest, Sha256};

fn both_ways(e: &Envelope) {
    assert!(e.check().is_ok());
    let b = e.to_bytes();
    assert_eq!(&Envelope::from_bytes(&b).unwrap(), e);
    assert_eq!(&Envelope::from_json(&e.to_json()).unwrap(), e);
    let d: [u8; 32] = Sha256::digest(&b).into();
    assert_eq!(e.digest(), d);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Envelope::from_bytes(data) {
        assert_eq!(
            e.to_bytes(),
            data,
            "binary envelope encoding is not canonical"
        );
        both_ways(&e);
        // One byte fewer is always refused.
        assert!(Envelope::from_bytes(&data[..data.len() - 1]).is_err());
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(e) = Envelope::from_json(&v) {
            both_ways(&e);
        }
    }
});
