#![no_main]
//! State map proofs: MapProof::parse on arbitrary bytes.
//!
//! Properties: a parsed proof re-encodes to exactly the input (one encoding
//! per proof) and parses back equal; it is never deeper than 256; verifying
//! it for presence or absence never panics, and never verifies both ways
//! for one key against one root.
use libfuzzer_sys::fuzz_target;
use regledger::statemap::{verify_absence, verify_presence, MapProof};
use regledger::{Hash, HashSuite};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = MapProof::parse(data) else {
        return;
    };
    assert_eq!(
        p.to_bytes(),
        data,
        "state map proof encoding is not canonical"
    );
    assert_eq!(MapProof::parse(&p.to_bytes()).unwrap(), p);
    assert!(p.depth() <= 256);
    for suite in [HashSuite::Sha256, HashSuite::Blake3] {
        let root = Hash([0x5a; 32]);
        let present = verify_presence(suite, &root, b"key", b"value", &p).is_ok();
        let absent = verify_absence(suite, &root, b"key", &p).is_ok();
        assert!(!(present && absent));
    }
});
