#![no_main]
//! Entry bundles: decode_entry_bundle with a count taken from the first
//! byte (1..=256) on the rest of the input.
//!
//! Properties: when it decodes, there are exactly that many entries,
//! re-encoding gives the same bytes, and any other count is refused.
use libfuzzer_sys::fuzz_target;
use regledger::tlog::tile::{decode_entry_bundle, encode_entry_bundle};

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(w) + 1;
    let Ok(entries) = decode_entry_bundle(rest, count) else {
        return;
    };
    assert_eq!(entries.len(), count);
    assert_eq!(encode_entry_bundle(&entries).unwrap(), rest);
    assert!(decode_entry_bundle(rest, count - 1).is_err());
    assert!(decode_entry_bundle(rest, count + 1).is_err());
    if !rest.is_empty() {
        assert!(decode_entry_bundle(&rest[..rest.len() - 1], count).is_err());
    }
});
