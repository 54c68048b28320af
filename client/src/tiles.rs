//! The two ways a follower knows that the tiles it read are the tree the
//! log signed, one for each way of reading.
//!
//! - [`SignedTree`] authenticates every tile *before* it is used, like Go's
//!   `tlog.TileHashReader`: the right-edge hash tiles must hash to the
//!   signed root, every full tile to its entry in its parent tile, every
//!   entry bundle to its level-0 hashes. A reader that commits as it goes
//!   (the mirror, window by window) needs this: nothing unauthenticated
//!   may reach its store.
//! - [`compare_hash_tiles`] checks *after* the fact, against a tree
//!   recomputed from every entry: each served hash tile must equal the
//!   recomputed one. A reader that holds the whole tree (the audit) uses
//!   this, because it names the exact hash that differs and still judges
//!   every entry when the tiles are wrong.
//!
//! Neither is sized by what a checkpoint claims: [`SignedTree`] holds the
//! edge tiles and one full tile per level; [`compare_hash_tiles`] walks
//! only the tiles of a tree whose every entry was read.

use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::tile::{
    decode_entry_bundle, hash_from_tile, read_tile_data, tile_at, tile_for_stored_index, Tile,
    TileKind, MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH,
};
use regledger::tlog::tree::{stored_hash_index, HashReader, MAX_TREE_SIZE};
use regledger::{Hash, HashSuite};

use crate::failure::{Check, Failure, Policy, Stop};
use crate::source::TileSource;

/// first_leaf returns the first leaf under hash `k` of tile `t`, if it is below 2^64.
pub fn first_leaf(t: &Tile, k: u64) -> Option<u64> {
    (t.n.checked_mul(TILE_WIDTH)?.checked_add(k)?)
        .checked_shl(u32::from(TILE_HEIGHT) * u32::from(t.level()))
}

/// decomposition returns the stored indexes of the complete subtrees that
/// make up the first `n` leaves, left to right (RFC 9162 MTH): at most 64.
fn decomposition(n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut lo = 0u64;
    for level in (0..64u8).rev() {
        let k = 1u64 << level;
        if n & k != 0 {
            out.push(stored_hash_index(level, lo >> level));
            lo += k;
        }
    }
    out
}

/// fold hashes complete subtree hashes (left to right) into the tree root.
fn fold(suite: HashSuite, hashes: &[Hash]) -> Hash {
    let Some((last, rest)) = hashes.split_last() else {
        return suite.empty_root();
    };
    rest.iter()
        .rev()
        .fold(*last, |h, left| suite.node_hash(left, &h))
}

/// full_tile_root hashes a full tile's 256 hashes into the node above them.
fn full_tile_root(suite: HashSuite, data: &[u8]) -> Hash {
    let mut level: Vec<Hash> = data
        .chunks_exact(32)
        .map(|c| Hash::from_slice(c).expect("32 bytes"))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| suite.node_hash(&p[0], &p[1]))
            .collect();
    }
    level[0]
}

/// Bundle is an authenticated entry bundle: its tile, its bytes and, when
/// it holds v2 leaves, the bytes of the envelope bundle beside it (None if
/// not served). The envelopes are not authenticated by the tiles: each is
/// checked against its leaf's envelope hash when the entry is replayed.
pub type Bundle = (Tile, Vec<u8>, Option<Vec<u8>>);

/// fetch_envelopes reads the envelope bundle beside entry bundle `t`, if
/// any of its `entries` is a v2 leaf (None: not needed, or not served).
///
/// # Errors
///
/// [`Stop::Fetch`].
pub fn fetch_envelopes(
    src: &dyn TileSource,
    t: &Tile,
    entries: &[&[u8]],
) -> Result<Option<Vec<u8>>, Stop> {
    let v2 = entries
        .iter()
        .any(|e| e.first() == Some(&regledger::entry::leaf::LEAF_V2));
    if !v2 {
        return Ok(None);
    }
    Ok(src.get(&t.envelopes().path())?)
}

/// SignedTree reads the tree a log-signed checkpoint commits to from one
/// source and authenticates each tile before use. A tile that does not
/// match is bad data from that source ([`Check::HashTile`],
/// [`Check::EntryBundle`]), never evidence of a fork; one not served is
/// unavailable ([`Check::HashTileMissing`], [`Check::EntriesMissing`]).
pub struct SignedTree<'a> {
    suite: HashSuite,
    size: u64,
    src: &'a dyn TileSource,
    edge: Vec<(Tile, Vec<u8>)>,
    cache: Vec<Option<(Tile, Vec<u8>)>>,
}

impl<'a> SignedTree<'a> {
    /// open fetches the right-edge tiles of `cp`'s tree from `src` and
    /// checks them against its root.
    ///
    /// # Errors
    ///
    /// [`Check::TreeSize`] for a size no tree has, a missing or bad edge
    /// tile as above, or [`Stop::Fetch`].
    pub fn open(
        suite: HashSuite,
        cp: &Checkpoint,
        src: &'a dyn TileSource,
    ) -> Result<SignedTree<'a>, Stop> {
        if cp.size == 0 || cp.size > MAX_TREE_SIZE {
            return Err(Failure::of(
                Check::TreeSize,
                format!(
                    "the checkpoint claims {} entries; a tree holds 1 to {MAX_TREE_SIZE}",
                    cp.size
                ),
            )
            .into());
        }
        let mut edge = Vec::new();
        for level in 0..=MAX_TILE_LEVEL {
            let at = cp
                .size
                .checked_shr(u32::from(TILE_HEIGHT) * u32::from(level))
                .unwrap_or(0);
            if at == 0 {
                break;
            }
            let width = at % TILE_WIDTH;
            if width > 0 {
                let t = Tile {
                    kind: TileKind::Hash(level),
                    n: at / TILE_WIDTH,
                    width: width as u16,
                };
                let data = fetch(src, &t, cp.size)?;
                check_len(src, &t, &data)?;
                edge.push((t, data));
            }
        }
        let mut tree = SignedTree {
            suite,
            size: cp.size,
            src,
            edge,
            cache: vec![None; usize::from(MAX_TILE_LEVEL) + 1],
        };
        // Every subtree of the root's decomposition lies in an edge tile, so
        // this reads nothing else; if it hashes to the signed root, the edge
        // tiles are the signed tree's.
        let root = tree.root_at(cp.size)?;
        if root != cp.root {
            let paths: Vec<String> = tree.edge.iter().map(|(t, _)| t.path()).collect();
            return Err(Failure::of(
                Check::HashTile,
                format!(
                    "{}: the hash tiles {} do not hash to the root the log signed at size {}",
                    src.describe(),
                    paths.join(", "),
                    cp.size
                ),
            )
            .into());
        }
        Ok(tree)
    }

    /// size returns the size of the signed tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// source returns where the tiles are read from.
    pub fn source(&self) -> &'a dyn TileSource {
        self.src
    }

    /// tile returns the data of hash tile `t` (at this tree's width), authenticated.
    fn tile(&mut self, t: &Tile) -> Result<Vec<u8>, Stop> {
        if let Some((_, d)) = self.edge.iter().find(|(e, _)| e == t) {
            return Ok(d.clone());
        }
        let level = usize::from(t.level());
        if let Some((c, d)) = &self.cache[level] {
            if c == t {
                return Ok(d.clone());
            }
        }
        // Only the right edge is partial, and the edge tiles are all held.
        let bug = || {
            Stop::Internal(format!(
                "no parent for tile {} of size {}",
                t.path(),
                self.size
            ))
        };
        if !t.is_full() || level >= usize::from(MAX_TILE_LEVEL) {
            return Err(bug());
        }
        let data = fetch(self.src, t, self.size)?;
        check_len(self.src, t, &data)?;
        let parent =
            tile_at(self.size, TileKind::Hash(t.level() + 1), t.n / TILE_WIDTH).ok_or_else(bug)?;
        let pdata = self.tile(&parent)?;
        let want = hash_from_tile(
            self.suite,
            &parent,
            &pdata,
            stored_hash_index((t.level() + 1) * TILE_HEIGHT, t.n),
        )
        .map_err(|e| Stop::Internal(e.to_string()))?;
        if full_tile_root(self.suite, &data) != want {
            return Err(Failure {
                index: first_leaf(t, 0),
                check: Check::HashTile,
                detail: format!(
                    "{}: {} does not match the tree the log signed at size {}",
                    self.src.describe(),
                    t.path(),
                    self.size
                ),
            }
            .into());
        }
        self.cache[level] = Some((*t, data.clone()));
        Ok(data)
    }

    /// hash returns stored hash `index` of this tree, authenticated.
    fn hash(&mut self, index: u64) -> Result<Hash, Stop> {
        let (t, _, _) = tile_for_stored_index(index);
        let tb = tile_at(self.size, t.kind, t.n)
            .filter(|tb| tb.width >= t.width)
            .ok_or_else(|| {
                Stop::Internal(format!(
                    "stored hash {index} is not in a tree of {}",
                    self.size
                ))
            })?;
        let data = self.tile(&tb)?;
        hash_from_tile(self.suite, &tb, &data, index).map_err(|e| Stop::Internal(e.to_string()))
    }

    /// root_at returns this tree's root at size `n` ≤ its size, from
    /// authenticated tiles: the root of a prefix the log signed.
    ///
    /// # Errors
    ///
    /// A missing or bad tile, as for [`SignedTree::open`].
    pub fn root_at(&mut self, n: u64) -> Result<Hash, Stop> {
        let hashes = decomposition(n)
            .into_iter()
            .map(|i| self.hash(i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(fold(self.suite, &hashes))
    }

    /// bundle fetches entry bundle `k` of this tree and checks every entry
    /// against the authenticated level-0 hashes.
    ///
    /// # Errors
    ///
    /// [`Check::EntriesMissing`] if it is not served,
    /// [`Check::EntryBundle`] if it does not decode, [`Check::HashTile`] for
    /// an entry that is not the one the log signed, or a missing or bad
    /// hash tile.
    pub fn bundle(&mut self, k: u64) -> Result<Bundle, Stop> {
        let bug = || Stop::Internal(format!("bundle {k} is not in a tree of {}", self.size));
        let t = tile_at(self.size, TileKind::Entries, k).ok_or_else(bug)?;
        let data = fetch(self.src, &t, self.size)?;
        let level0 = tile_at(self.size, TileKind::Hash(0), k).ok_or_else(bug)?;
        let hashes = self.tile(&level0)?;
        let first = k * TILE_WIDTH;
        let entries = decode_entry_bundle(&data, usize::from(t.width)).map_err(|e| {
            Failure::at(
                first,
                Check::EntryBundle,
                format!(
                    "{}: entry bundle {} {e} (the log signed other entries at size {})",
                    self.src.describe(),
                    t.path(),
                    self.size
                ),
            )
        })?;
        for (j, (e, want)) in entries.iter().zip(hashes.chunks_exact(32)).enumerate() {
            if self.suite.leaf_hash(e).0 != want {
                let i = first + j as u64;
                return Err(Failure::at(
                    i,
                    Check::HashTile,
                    format!(
                        "{}: entry {i} of {} differs from hash {j} of {}, which the log signed at size {}",
                        self.src.describe(),
                        t.path(),
                        level0.path(),
                        self.size
                    ),
                )
                .into());
            }
        }
        let envelopes = fetch_envelopes(self.src, &t, &entries)?;
        Ok((t, data, envelopes))
    }
}

/// fetch reads a tile of a tree of `size` leaves; one not served is
/// unavailable (the tree the checkpoint claims is not, or not yet, there).
fn fetch(src: &dyn TileSource, t: &Tile, size: u64) -> Result<Vec<u8>, Stop> {
    let path = t.path();
    src.get(&path)?.ok_or_else(|| {
        let (check, index) = match t.kind {
            TileKind::Entries | TileKind::Envelopes => {
                (Check::EntriesMissing, Some(t.n * TILE_WIDTH))
            }
            TileKind::Hash(_) => (Check::HashTileMissing, first_leaf(t, 0)),
        };
        Failure {
            index,
            check,
            detail: format!(
                "{}/{path} is not served (the checkpoint claims {size} entries)",
                src.describe()
            ),
        }
        .into()
    })
}

fn check_len(src: &dyn TileSource, t: &Tile, data: &[u8]) -> Result<(), Stop> {
    let want = usize::from(t.width) * 32;
    if data.len() != want {
        return Err(Failure {
            index: first_leaf(t, 0),
            check: Check::HashTile,
            detail: format!(
                "{}: {} has {} bytes, not {want}",
                src.describe(),
                t.path(),
                data.len()
            ),
        }
        .into());
    }
    Ok(())
}

/// compare_hash_tiles compares every hash tile of a tree of `size` leaves
/// that `src` serves with the one recomputed from the entries (`tree`,
/// which must hold all `size` of them), and reports each one missing or
/// different to `policy`, at the first leaf under its first differing hash.
///
/// # Errors
///
/// [`Stop::Fetch`] if a tile cannot be read, [`Stop::Failed`] if the
/// policy stops, [`Stop::Internal`] if `tree` lacks a hash.
pub fn compare_hash_tiles(
    src: &dyn TileSource,
    size: u64,
    tree: &dyn HashReader,
    policy: &mut dyn Policy,
) -> Result<(), Stop> {
    // Only reached with every entry read, but still lazy: nothing is
    // sized by the checkpoint's claim.
    let tiles = (0..MAX_TILE_LEVEL)
        .flat_map(|level| (0u64..).map_while(move |n| tile_at(size, TileKind::Hash(level), n)));
    for t in tiles {
        let want = read_tile_data(&t, tree).map_err(|e| Stop::Internal(e.to_string()))?;
        match src.get(&t.path())? {
            None => policy.fail(Failure {
                index: first_leaf(&t, 0),
                check: Check::HashTileMissing,
                detail: format!("hash tile {} is missing", t.path()),
            })?,
            Some(got) if got != want => {
                let k = got
                    .chunks(32)
                    .zip(want.chunks(32))
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.len().min(want.len()) / 32) as u64;
                policy.fail(Failure {
                    index: first_leaf(&t, k),
                    check: Check::HashTile,
                    detail: format!(
                        "hash tile {} differs from the entries at hash {k} ({} bytes served, {} expected)",
                        t.path(),
                        got.len(),
                        want.len()
                    ),
                })?;
            }
            Some(_) => {}
        }
    }
    Ok(())
}
