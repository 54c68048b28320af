#![no_main]
//! Log descriptors: LogDescriptor::parse on arbitrary bytes.
//!
//! Properties: a parsed descriptor's wire form (to_json) checks back to an
//! equal descriptor, survives a JSON round trip, and keeps the checks
//! (quorum within the witnesses, origin = log key name).
use libfuzzer_sys::fuzz_target;
use regledger::descriptor::{LogDescriptor, LogDescriptorJson};

fuzz_target!(|data: &[u8]| {
    let Ok(d) = LogDescriptor::parse(data) else {
        return;
    };
    assert!(d.quorum <= d.witnesses.len());
    assert_eq!(d.log_key.name(), d.origin);
    let j = d.to_json();
    assert_eq!(LogDescriptor::from_json(&j).unwrap(), d);
    let bytes = serde_json::to_vec(&j).unwrap();
    let j2: LogDescriptorJson = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(j2, j);
    assert_eq!(LogDescriptor::parse(&bytes).unwrap(), d);
});
