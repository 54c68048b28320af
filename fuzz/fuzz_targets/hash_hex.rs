#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(h) = regledger::Hash::from_hex(s) {
            assert_eq!(h.to_hex(), s.to_ascii_lowercase());
        }
    }
});
