#![no_main]
//! Hash tiles: decode_hash_tile on a tile chosen by the first 6 bytes
//! (level, width, index) and data from the rest.
//!
//! Properties: it decodes exactly when the data is width·32 bytes; the
//! hashes concatenate back to the data; hash_from_tile returns each bottom
//! hash and, one level up, the node hash of each full pair.
use libfuzzer_sys::fuzz_target;
use regledger::tlog::tile::{decode_hash_tile, hash_from_tile, Tile, TileKind, MAX_TILE_LEVEL};
use regledger::tlog::tree::stored_hash_index;
use regledger::HashSuite;

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let level = data[0] % (MAX_TILE_LEVEL + 1);
    let width = u16::from(data[1]) + 1;
    let n = u64::from(u32::from_be_bytes([data[2], data[3], data[4], data[5]]));
    let body = &data[6..];
    let t = Tile {
        kind: TileKind::Hash(level),
        n,
        width,
    };
    let r = decode_hash_tile(&t, body);
    assert_eq!(r.is_ok(), body.len() == usize::from(width) * 32);
    let Ok(hashes) = r else {
        return;
    };
    assert_eq!(hashes.len(), usize::from(width));
    assert_eq!(hashes.iter().flat_map(|h| h.0).collect::<Vec<u8>>(), body);
    // Stored hash indexes exist only inside a tree of at most 2^62 leaves.
    let first_leaf_level = u32::from(level) * 8;
    if first_leaf_level >= 62 || (n + 1) * 256 > 1u64 << (62 - first_leaf_level) {
        return;
    }
    let start = n * 256;
    for suite in [HashSuite::Sha256, HashSuite::Blake3] {
        for (i, h) in hashes.iter().enumerate() {
            let idx = stored_hash_index(level * 8, start + i as u64);
            assert_eq!(hash_from_tile(suite, &t, body, idx).unwrap(), *h);
        }
        for j in 0..hashes.len() / 2 {
            let idx = stored_hash_index(level * 8 + 1, start / 2 + j as u64);
            assert_eq!(
                hash_from_tile(suite, &t, body, idx).unwrap(),
                suite.node_hash(&hashes[2 * j], &hashes[2 * j + 1])
            );
        }
    }
});
