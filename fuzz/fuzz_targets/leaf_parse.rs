#![no_main]
//! Leaves: Leaf::parse on arbitrary bytes.
//!
//! Properties: to_bytes gives back exactly the input; Leaf::inline (v1) or
//! Leaf::compact (v2) from the parsed fields builds an equal leaf; the leaf
//! hash is the RFC 9162 leaf hash of the input.
use libfuzzer_sys::fuzz_target;
use regledger::entry::leaf::Leaf;
use regledger::HashSuite;

fuzz_target!(|data: &[u8]| {
    let Ok(l) = Leaf::parse(data) else {
        return;
    };
    assert_eq!(l.to_bytes(), data);
    let rebuilt = match (l.inline_envelope(), l.state_root(), l.envelope_hash()) {
        (Some(env), _, _) => {
            Leaf::inline(l.index, l.integrated_time_ms, l.prev_leaf_hash, env.clone())
        }
        (None, Some(root), Some(eh)) => {
            Leaf::compact(l.index, l.integrated_time_ms, l.prev_leaf_hash, root, eh)
        }
        _ => panic!("a parsed leaf is neither v1 nor v2"),
    };
    assert_eq!(rebuilt, l);
    for suite in [HashSuite::Sha256, HashSuite::Blake3, HashSuite::Sm3] {
        assert_eq!(l.hash(suite), suite.leaf_hash(data));
    }
});
