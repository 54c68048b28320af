#![no_main]
//! State snapshots: SnapshotReader on arbitrary bytes, header and records.
//!
//! Properties: it never panics nor allocates past the format's bounds (a
//! key at most MAX_KEY_BYTES, a value at most MAX_VALUE_BYTES, the header
//! line at most MAX_HEADER_BYTES); every record it returns has a canonical
//! key and record, records come in strictly increasing key-hash order, and
//! writing back what it read (header and records) gives exactly the bytes
//! it consumed when the whole input parsed.
use libfuzzer_sys::fuzz_target;
use regledger::cert::snapshot::{SnapshotReader, SnapshotWriter, MAX_KEY_BYTES, MAX_VALUE_BYTES};
use regledger::HashSuite;

fuzz_target!(|data: &[u8]| {
    for suite in [HashSuite::Sha256, HashSuite::Blake3] {
        let Ok((header, mut r)) = SnapshotReader::open(data, suite) else {
            continue;
        };
        let mut recs = Vec::new();
        let complete = loop {
            match r.next_record() {
                Ok(Some(rec)) => {
                    assert!(rec.key_bytes.len() <= MAX_KEY_BYTES);
                    assert!(rec.value.len() <= MAX_VALUE_BYTES);
                    assert_eq!(rec.key.to_string().as_bytes(), &rec.key_bytes[..]);
                    recs.push(rec);
                }
                Ok(None) => break true,
                Err(_) => break false,
            }
        };
        if complete {
            assert_eq!(recs.len() as u64, header.records);
            let mut w = SnapshotWriter::new(Vec::new(), suite, &header).unwrap();
            for rec in &recs {
                w.push(&rec.key_bytes, &rec.value).unwrap();
            }
            let out = w.finish().unwrap();
            // The header line is re-serialised; the records are byte for byte.
            let tail = |b: &[u8]| {
                let first = b.iter().position(|c| *c == b'\n').unwrap() + 1;
                first + b[first..].iter().position(|c| *c == b'\n').unwrap() + 1
            };
            assert_eq!(&out[tail(&out)..], &data[tail(data)..]);
        }
    }
});
