#![no_main]
//! Tile paths: Tile::parse on arbitrary text.
//!
//! Properties: a parsed tile's path() is exactly the input (only canonical
//! spellings parse) and parses back to an equal Tile; the width is 1..=256
//! and a hash tile's level is at most MAX_TILE_LEVEL.
use libfuzzer_sys::fuzz_target;
use regledger::tlog::tile::{Tile, TileKind, MAX_TILE_LEVEL, TILE_WIDTH};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(t) = Tile::parse(s) else {
        return;
    };
    assert_eq!(t.path(), s);
    assert_eq!(Tile::parse(&t.path()), Ok(t));
    assert!(t.width >= 1 && u64::from(t.width) <= TILE_WIDTH);
    if let TileKind::Hash(l) = t.kind {
        assert!(l <= MAX_TILE_LEVEL);
    }
});
