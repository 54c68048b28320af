//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): tile paths, which tiles
//! a tree size implies, tile contents, and entry bundles.
//!
//! Tiles have height 8: a full tile holds 256 hashes of one level of the
//! tree (tile level L holds tree level 8·L). A partial tile of width W holds
//! the first W. Entry bundles (`tile/entries/…`) hold up to 256 entries,
//! each prefixed with its length as a big-endian u16.

use crate::tlog::hash::{Hash, HashSuite, HASH_SIZE};
use crate::tlog::tree::{split_stored_hash_index, stored_hash_index, HashReader, TreeError};

/// TILE_HEIGHT is the C2SP tile height.
pub const TILE_HEIGHT: u8 = 8;

/// TILE_WIDTH is the number of hashes or entries in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// MAX_TILE_LEVEL bounds tile levels (8 levels of tiles cover 2^64 leaves).
pub const MAX_TILE_LEVEL: u8 = 8;

/// MAX_PATH_BYTES bounds the length of a tile path this module parses.
pub const MAX_PATH_BYTES: usize = 128;

/// TileError says why a tile path or tile content was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum TileError {
    /// BadPath: not a canonical C2SP tile path.
    #[error("malformed tile path {0:?}")]
    BadPath(String),
    /// BadData: tile or bundle bytes of the wrong shape.
    #[error("malformed tile data: {0}")]
    BadData(String),
    /// WrongTile: the index is not in this tile.
    #[error("stored hash {index} is not in tile {tile}")]
    WrongTile {
        /// index is the stored hash index asked for.
        index: u64,
        /// tile is the tile's path.
        tile: String,
    },
    /// EntryTooLarge: an entry longer than 65535 bytes cannot be bundled.
    #[error("entry of {0} bytes does not fit a u16 length prefix")]
    EntryTooLarge(usize),
}

/// TileKind says whether a tile holds hashes (of a tile level), entries,
/// or the envelopes of the entries of the entry bundle with the same index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hash is a hash tile at the given tile level.
    Hash(u8),
    /// Entries is an entry bundle.
    Entries,
    /// Envelopes is an envelope bundle (`tile/envelopes/<N>[.p/<W>]`, not
    /// C2SP: a regledger extension beside it): entry k of bundle N is the
    /// envelope of leaf 256·N+k, empty when that leaf holds its own (v1)
    /// or its envelope was pruned. Same encoding as an entry bundle.
    Envelopes,
}

/// Tile names one tile: its kind, index N at its level, and width W.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// kind is hash tile (with level) or entry bundle.
    pub kind: TileKind,
    /// n is the tile's index at its level.
    pub n: u64,
    /// width is how many hashes or entries it holds, 1..=256.
    pub width: u16,
}

fn format_index(mut n: u64) -> String {
    let mut s = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        s = format!("x{:03}/{s}", n % 1000);
    }
    s
}

impl Tile {
    /// path returns the tile's C2SP path, e.g. `tile/0/x001/234.p/5` or `tile/entries/000`.
    pub fn path(&self) -> String {
        let level = match self.kind {
            TileKind::Hash(l) => l.to_string(),
            TileKind::Entries => "entries".to_string(),
            TileKind::Envelopes => "envelopes".to_string(),
        };
        let p = if u64::from(self.width) == TILE_WIDTH {
            String::new()
        } else {
            format!(".p/{}", self.width)
        };
        format!("tile/{level}/{}{p}", format_index(self.n))
    }

    /// is_full reports whether the tile has all 256 slots.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// parse reads a canonical C2SP tile path (the form [`Tile::path`] writes).
    ///
    /// # Errors
    ///
    /// [`TileError::BadPath`] for anything but the canonical C2SP path.
    pub fn parse(path: &str) -> Result<Tile, TileError> {
        let bad = || TileError::BadPath(path.chars().take(MAX_PATH_BYTES).collect());
        if path.len() > MAX_PATH_BYTES || !path.is_ascii() {
            return Err(bad());
        }
        let mut f: Vec<&str> = path.split('/').collect();
        if f.len() < 3 || f[0] != "tile" {
            return Err(bad());
        }
        let kind = if f[1] == "entries" {
            TileKind::Entries
        } else if f[1] == "envelopes" {
            TileKind::Envelopes
        } else {
            let l: u8 = parse_small(f[1]).ok_or_else(bad)?;
            if l > MAX_TILE_LEVEL {
                return Err(bad());
            }
            TileKind::Hash(l)
        };
        let mut width = TILE_WIDTH as u16;
        if f.len() >= 4 {
            if let Some(last) = f[f.len() - 2].strip_suffix(".p") {
                let w: u16 = parse_small(f[f.len() - 1]).ok_or_else(bad)?;
                if w == 0 || u64::from(w) >= TILE_WIDTH {
                    return Err(bad());
                }
                width = w;
                let k = f.len() - 2;
                f[k] = last;
                f.pop();
            }
        }
        let groups = &f[2..];
        if groups.is_empty() || groups.len() > 7 {
            return Err(bad());
        }
        let mut n: u64 = 0;
        for (i, g) in groups.iter().enumerate() {
            let digits = if i + 1 < groups.len() {
                g.strip_prefix('x').ok_or_else(bad)?
            } else {
                g
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let d: u64 = digits.parse().map_err(|_| bad())?;
            n = n
                .checked_mul(1000)
                .and_then(|n| n.checked_add(d))
                .ok_or_else(bad)?;
        }
        let t = Tile { kind, n, width };
        // Only the canonical spelling is accepted (no "x000/" prefixes etc.).
        if t.path() != path {
            return Err(bad());
        }
        Ok(t)
    }

    /// level returns the tile level of a hash tile (0 for entry and envelope bundles).
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hash(l) => l,
            TileKind::Entries | TileKind::Envelopes => 0,
        }
    }

    /// envelopes returns the envelope bundle beside this entry bundle (the
    /// same index and width).
    pub fn envelopes(&self) -> Tile {
        Tile {
            kind: TileKind::Envelopes,
            ..*self
        }
    }

    /// full_of returns the full tile a partial one is a prefix of (None for
    /// a full tile).
    pub fn full_of(&self) -> Option<Tile> {
        (!self.is_full()).then_some(Tile {
            width: TILE_WIDTH as u16,
            ..*self
        })
    }
}

/// tiles_completed returns every tile (hash tiles at each level, entry
/// and envelope bundles) that is full at `new_size` and was not at
/// `old_size`: those whose partials become redundant (D28).
pub fn tiles_completed(old_size: u64, new_size: u64) -> impl Iterator<Item = Tile> {
    hash_tiles_for_size(old_size, new_size)
        .into_iter()
        .chain(
            entry_tiles_for_size(old_size, new_size)
                .into_iter()
                .flat_map(|t| [t, t.envelopes()]),
        )
        .filter(Tile::is_full)
}

fn parse_small<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// hash_tiles_for_size returns the hash tiles that are new or grew when a
/// tree grows from `old_size` to `new_size` (Go `tlog.NewTiles`); with
/// `old_size = 0`, every tile of the tree.
pub fn hash_tiles_for_size(old_size: u64, new_size: u64) -> Vec<Tile> {
    let h = u32::from(TILE_HEIGHT);
    let mut tiles = Vec::new();
    let mut level = 0u32;
    while level * h < 64 && new_size >> (h * level) > 0 {
        let old_n = old_size >> (h * level);
        let new_n = new_size >> (h * level);
        if old_n != new_n {
            for n in (old_n >> h)..(new_n >> h) {
                tiles.push(Tile {
                    kind: TileKind::Hash(level as u8),
                    n,
                    width: TILE_WIDTH as u16,
                });
            }
            let n = new_n >> h;
            let w = new_n - (n << h);
            if w > 0 {
                tiles.push(Tile {
                    kind: TileKind::Hash(level as u8),
                    n,
                    width: w as u16,
                });
            }
        }
        level += 1;
    }
    tiles
}

/// entry_tiles_for_size returns the entry bundles that are new or grew when
/// a tree grows from `old_size` to `new_size`.
pub fn entry_tiles_for_size(old_size: u64, new_size: u64) -> Vec<Tile> {
    hash_tiles_for_size(old_size, new_size)
        .into_iter()
        .filter(|t| t.kind == TileKind::Hash(0))
        .map(|t| Tile {
            kind: TileKind::Entries,
            ..t
        })
        .collect()
}

/// tile_at returns the tile of `kind` and index `n` as it is in a tree of
/// `size` leaves: full, partial, or None if the tree does not reach it yet.
/// (The size comes first, as in every tree function.)
pub fn tile_at(size: u64, kind: TileKind, n: u64) -> Option<Tile> {
    let level = u32::from(match kind {
        TileKind::Hash(l) => l,
        TileKind::Entries | TileKind::Envelopes => 0,
    });
    let at_level = size
        .checked_shr(u32::from(TILE_HEIGHT) * level)
        .unwrap_or(0);
    let start = n.checked_mul(TILE_WIDTH)?;
    if at_level <= start {
        return None;
    }
    let width = (at_level - start).min(TILE_WIDTH) as u16;
    Some(Tile { kind, n, width })
}

/// tile_for_stored_index returns the smallest hash tile that holds stored
/// hash `index`, and the byte range within the tile data that determines
/// it (Go `tlog.TileForIndex`).
pub fn tile_for_stored_index(index: u64) -> (Tile, usize, usize) {
    let (level, n) = split_stored_hash_index(index);
    let tl = level / TILE_HEIGHT;
    let within = level - tl * TILE_HEIGHT;
    let tn = (n << within) >> TILE_HEIGHT;
    let n_in = n - ((tn << TILE_HEIGHT) >> within);
    let width = ((n_in + 1) << within) as u16;
    let start = ((n_in << within) as usize) * HASH_SIZE;
    let end = (((n_in + 1) << within) as usize) * HASH_SIZE;
    (
        Tile {
            kind: TileKind::Hash(tl),
            n: tn,
            width,
        },
        start,
        end,
    )
}

fn tile_hash(suite: HashSuite, data: &[u8]) -> Hash {
    if data.len() == HASH_SIZE {
        return Hash::from_slice(data).expect("32 bytes");
    }
    let n = data.len() / 2;
    suite.node_hash(&tile_hash(suite, &data[..n]), &tile_hash(suite, &data[n..]))
}

/// hash_from_tile returns stored hash `index` from the data of hash tile `t`
/// (Go `tlog.HashFromTile`): hashes above the tile's bottom level are
/// recomputed from the tile's hashes.
///
/// # Errors
///
/// [`TileError::WrongTile`] if `index` is not in `t`, [`TileError::BadData`]
/// if `data` is not `t`'s size.
pub fn hash_from_tile(
    suite: HashSuite,
    t: &Tile,
    data: &[u8],
    index: u64,
) -> Result<Hash, TileError> {
    let TileKind::Hash(level) = t.kind else {
        return Err(TileError::WrongTile {
            index,
            tile: t.path(),
        });
    };
    if data.len() != usize::from(t.width) * HASH_SIZE {
        return Err(TileError::BadData(format!(
            "{} bytes for tile {} of width {}",
            data.len(),
            t.path(),
            t.width
        )));
    }
    let (t1, start, end) = tile_for_stored_index(index);
    if t1.kind != TileKind::Hash(level) || t1.n != t.n || t.width < t1.width {
        return Err(TileError::WrongTile {
            index,
            tile: t.path(),
        });
    }
    Ok(tile_hash(suite, &data[start..end]))
}

/// read_tile_data returns the bytes of hash tile `t` from stored hashes
/// (Go `tlog.ReadTileData`).
///
/// # Errors
///
/// [`TreeError::Storage`] for an entry bundle, or the reader's errors.
pub fn read_tile_data(t: &Tile, r: &(impl HashReader + ?Sized)) -> Result<Vec<u8>, TreeError> {
    let TileKind::Hash(level) = t.kind else {
        return Err(TreeError::Storage(
            "entry bundles are not hash tiles".into(),
        ));
    };
    let start = t.n << TILE_HEIGHT;
    let indexes: Vec<u64> = (0..u64::from(t.width))
        .map(|i| stored_hash_index(level * TILE_HEIGHT, start + i))
        .collect();
    let hashes = r.read_hashes(&indexes)?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::BadReaderResult {
            got: hashes.len(),
            want: indexes.len(),
        });
    }
    let mut out = Vec::with_capacity(hashes.len() * HASH_SIZE);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    Ok(out)
}

/// decode_hash_tile splits hash tile data into its hashes, checking its length.
///
/// # Errors
///
/// [`TileError::BadData`] if `data` is not `t`'s size.
pub fn decode_hash_tile(t: &Tile, data: &[u8]) -> Result<Vec<Hash>, TileError> {
    if data.len() != usize::from(t.width) * HASH_SIZE {
        return Err(TileError::BadData(format!(
            "{} bytes for tile {} of width {}",
            data.len(),
            t.path(),
            t.width
        )));
    }
    Ok(data
        .chunks_exact(HASH_SIZE)
        .map(|c| Hash::from_slice(c).expect("32 bytes"))
        .collect())
}

/// encode_entry_bundle concatenates entries, each prefixed by its length as
/// a big-endian u16.
///
/// # Errors
///
/// [`TileError::BadData`] for more than 256 entries,
/// [`TileError::EntryTooLarge`] for an entry over 65535 bytes.
pub fn encode_entry_bundle(entries: &[&[u8]]) -> Result<Vec<u8>, TileError> {
    if entries.len() as u64 > TILE_WIDTH {
        return Err(TileError::BadData(format!(
            "{} entries in one bundle",
            entries.len()
        )));
    }
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.len() + 2).sum());
    for e in entries {
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLarge(e.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// decode_entry_bundle splits an entry bundle into exactly `want_count`
/// entries; trailing bytes, truncation, or another count are errors.
///
/// # Errors
///
/// [`TileError::BadData`]: truncation, trailing bytes, or another count.
pub fn decode_entry_bundle(data: &[u8], want_count: usize) -> Result<Vec<&[u8]>, TileError> {
    if want_count as u64 > TILE_WIDTH {
        return Err(TileError::BadData(format!(
            "{want_count} entries asked of one bundle"
        )));
    }
    let mut out = Vec::with_capacity(want_count);
    let mut rest = data;
    while !rest.is_empty() {
        if out.len() == want_count {
            return Err(TileError::BadData(format!(
                "bundle has more than {want_count} entries"
            )));
        }
        if rest.len() < 2 {
            return Err(TileError::BadData("truncated length prefix".into()));
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if rest.len() < 2 + len {
            return Err(TileError::BadData(format!(
                "entry {} truncated: {} of {len} bytes",
                out.len(),
                rest.len() - 2
            )));
        }
        out.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    if out.len() != want_count {
        return Err(TileError::BadData(format!(
            "bundle has {} entries, want {want_count}",
            out.len()
        )));
    }
    Ok(out)
}

/// partial_from_full cuts partial tile `t` (width W < 256) out of the
/// bytes of its full tile: the first W hashes of a hash tile, the first W
/// items of an entry or envelope bundle. tlog-tiles lets a client read
/// the full tile in place of a partial one, and a log that removed its
/// partials (D28) serves them this way. The full tile is checked whole
/// first (8192 bytes; exactly 256 items), so a short or damaged one is an
/// error, never a wrong prefix.
///
/// # Errors
///
/// [`TileError::BadData`] if `full` is not a well-formed full tile of
/// `t`'s kind, or `t` is itself full.
pub fn partial_from_full(t: &Tile, full: &[u8]) -> Result<Vec<u8>, TileError> {
    let w = usize::from(t.width);
    let full_tile = Tile {
        width: TILE_WIDTH as u16,
        ..*t
    };
    if t.is_full() {
        return Err(TileError::BadData(format!(
            "{} is a full tile, not a partial one",
            t.path()
        )));
    }
    let bad = |e: TileError| {
        TileError::BadData(format!(
            "full tile {} cannot stand for {}: {e}",
            full_tile.path(),
            t.path()
        ))
    };
    match t.kind {
        TileKind::Hash(_) => {
            decode_hash_tile(&full_tile, full).map_err(bad)?;
            Ok(full[..w * HASH_SIZE].to_vec())
        }
        TileKind::Entries | TileKind::Envelopes => {
            let items = decode_entry_bundle(full, TILE_WIDTH as usize).map_err(bad)?;
            let len: usize = items[..w].iter().map(|i| i.len() + 2).sum();
            Ok(full[..len].to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::memory::MemoryTree;
    use crate::tlog::tree::stored_hash_count;

    #[test]
    fn the_tiles_a_growth_completes() {
        let t = |kind, n, width| Tile { kind, n, width };
        assert_eq!(
            t(TileKind::Entries, 3, 17).full_of(),
            Some(t(TileKind::Entries, 3, 256))
        );
        assert_eq!(t(TileKind::Hash(1), 0, 256).full_of(), None);
        let done: Vec<Tile> = tiles_completed(200, 300).collect();
        assert_eq!(
            done,
            vec![
                t(TileKind::Hash(0), 0, 256),
                t(TileKind::Entries, 0, 256),
                t(TileKind::Envelopes, 0, 256),
            ]
        );
        assert_eq!(tiles_completed(256, 300).count(), 0, "nothing new is full");
        assert_eq!(tiles_completed(300, 300).count(), 0);
        // At 65,536 the level-1 tile 0 completes too.
        assert!(tiles_completed(65_535, 65_536).any(|x| x == t(TileKind::Hash(1), 0, 256)));
        assert!(tiles_completed(0, 65_536).all(|x| x.is_full()));
    }

    #[test]
    fn a_partial_is_the_prefix_of_its_full_tile_and_a_damaged_full_is_refused() {
        let h = |n: u64, width: u16| Tile {
            kind: TileKind::Hash(1),
            n,
            width,
        };
        let full: Vec<u8> = (0..TILE_WIDTH as usize * HASH_SIZE)
            .map(|i| (i % 251) as u8)
            .collect();
        assert_eq!(partial_from_full(&h(3, 5), &full).unwrap(), &full[..5 * 32]);
        assert_eq!(
            partial_from_full(&h(3, 255), &full).unwrap(),
            &full[..255 * 32]
        );
        // Short by one byte, or one byte long: not a full tile.
        assert!(partial_from_full(&h(3, 5), &full[..full.len() - 1]).is_err());
        let mut long = full.clone();
        long.push(0);
        assert!(partial_from_full(&h(3, 5), &long).is_err());
        // A full tile does not stand for itself.
        assert!(partial_from_full(&h(3, 256), &full).is_err());

        let items: Vec<Vec<u8>> = (0..TILE_WIDTH)
            .map(|i| vec![i as u8; (i % 7) as usize])
            .collect();
        let refs: Vec<&[u8]> = items.iter().map(|i| i.as_slice()).collect();
        let bundle = encode_entry_bundle(&refs).unwrap();
        for kind in [TileKind::Entries, TileKind::Envelopes] {
            for w in [1u16, 2, 100, 255] {
                let t = Tile {
                    kind,
                    n: 9,
                    width: w,
                };
                let want = encode_entry_bundle(&refs[..usize::from(w)]).unwrap();
                assert_eq!(partial_from_full(&t, &bundle).unwrap(), want);
            }
            let t = Tile {
                kind,
                n: 9,
                width: 3,
            };
            // Truncated inside the last item, or one item short: refused,
            // though the first three items are intact.
            assert!(partial_from_full(&t, &bundle[..bundle.len() - 1]).is_err());
            let short = encode_entry_bundle(&refs[..255]).unwrap();
            assert!(partial_from_full(&t, &short).is_err());
        }
    }

    #[test]
    fn paths_round_trip() {
        for (t, p) in [
            (
                Tile {
                    kind: TileKind::Hash(0),
                    n: 1234067,
                    width: 256,
                },
                "tile/0/x001/x234/067",
            ),
            (
                Tile {
                    kind: TileKind::Hash(0),
                    n: 1234067,
                    width: 7,
                },
                "tile/0/x001/x234/067.p/7",
            ),
            (
                Tile {
                    kind: TileKind::Entries,
                    n: 5,
                    width: 256,
                },
                "tile/entries/005",
            ),
            (
                Tile {
                    kind: TileKind::Envelopes,
                    n: 5,
                    width: 7,
                },
                "tile/envelopes/005.p/7",
            ),
            (
                Tile {
                    kind: TileKind::Hash(3),
                    n: 0,
                    width: 1,
                },
                "tile/3/000.p/1",
            ),
        ] {
            assert_eq!(t.path(), p);
            assert_eq!(Tile::parse(p), Ok(t));
        }
    }

    #[test]
    fn hostile_paths_are_rejected() {
        for p in [
            "",
            "tile",
            "tile/0",
            "tile/0/",
            "tile/0/1",
            "tile/0/0001",
            "tile/0/x000/001",
            "tile/00/000",
            "tile/9/000",
            "tile/-1/000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/",
            "tile/0/000.p/01",
            "tile/0/000/",
            "tile/0/001/002",
            "tile/0/x001",
            "tile/data/000",
            "tiles/0/000",
            "tile/0/x1/000",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/０００",
            "/tile/0/000",
            "tile/entries/000.p/1/2",
        ] {
            assert!(Tile::parse(p).is_err(), "{p:?}");
        }
        assert!(Tile::parse(&format!("tile/0/{}000", "x001/".repeat(40))).is_err());
    }

    #[test]
    fn tiles_cover_tree_and_hash_from_tile_agrees() {
        let s = HashSuite::Sha256;
        let mut t = MemoryTree::new(s);
        for i in 0..600u64 {
            t.append_data(&i.to_be_bytes());
        }
        let tiles = hash_tiles_for_size(0, 600);
        for index in 0..stored_hash_count(600) {
            let (want_tile, _, _) = tile_for_stored_index(index);
            let tile = tiles
                .iter()
                .find(|x| x.kind == want_tile.kind && x.n == want_tile.n)
                .copied();
            let Some(tile) = tile else { continue };
            if tile.width < want_tile.width {
                continue;
            }
            let data = read_tile_data(&tile, &t).unwrap();
            assert_eq!(
                hash_from_tile(s, &tile, &data, index).unwrap(),
                t.stored()[index as usize]
            );
        }
        let mut grown = hash_tiles_for_size(0, 300);
        grown.extend(hash_tiles_for_size(300, 600));
        for x in &tiles {
            assert!(grown.contains(x));
        }
        assert_eq!(tile_at(600, TileKind::Hash(0), 2).unwrap().width, 88);
        assert_eq!(tile_at(600, TileKind::Hash(1), 0).unwrap().width, 2);
        assert_eq!(tile_at(600, TileKind::Hash(0), 3), None);
    }

    #[test]
    fn entry_bundles_are_strict() {
        let b = encode_entry_bundle(&[b"a", b"", b"xyz"]).unwrap();
        assert_eq!(
            decode_entry_bundle(&b, 3).unwrap(),
            vec![&b"a"[..], b"", b"xyz"]
        );
        assert!(decode_entry_bundle(&b, 2).is_err());
        assert!(decode_entry_bundle(&b, 4).is_err());
        assert!(decode_entry_bundle(&b[..b.len() - 1], 3).is_err());
        assert!(decode_entry_bundle(&[b.as_slice(), &[0]].concat(), 3).is_err());
        assert!(decode_entry_bundle(&[0xff, 0xff, 1], 1).is_err());
        assert!(encode_entry_bundle(&[&vec![0u8; 65536]]).is_err());
        assert!(decode_entry_bundle(&[], 300).is_err());
    }
}
