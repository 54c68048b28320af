#![no_main]
//! Leaves: Leaf::parse on arbitrary bytes.
//!
//! Properties: to_bytes gives back exactly the input; Leaf::new from the
//! parsed fields builds an equal leaf; the leaf hash is the RFC 9162 leaf
//! hash of the input.
use libfuzzer_sys::fuzz_target;
use regledger::entry::leaf::Leaf;
use regledger::HashSuite;

fuzz_target!(|data: &[u8]| {
    let Ok(l) = Leaf::parse(data) else {
        return;
    };
    assert_eq!(l.to_bytes(), data);
    let rebuilt = Leaf::new(
        l.index,
        l.integrated_time_ms,
        l.prev_leaf_hash,
        l.envelope.clone(),
    );
    assert_eq!(rebuilt, l);
    for suite in [HashSuite::Sha256, HashSuite::Blake3] {
        assert_eq!(l.hash(suite), suite.leaf_hash(data));
    }
});
