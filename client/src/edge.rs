//! The right edge of a tree, for a reader that must not hold the whole
//! tree (the audit, issue 14): the RFC 9162 compact range (one hash per
//! bit set in the size, at most 64) and, per tile level, the hashes of the
//! tile being filled (at most 256 each). It gives the root at the current
//! size and at sizes asked for in advance, and hands back every hash tile
//! as soon as the entries complete it, with the hashes they make, so that
//! the served tile can be compared then and forgotten
//! ([`EdgeTree::take_ready`], [`compare_tile`]). Memory is O(256 × levels),
//! whatever the log's size.
//!
//! It may start from the right edge of a tree it never saw (a state
//! snapshot's frontier): hashes left of the start are then unknown, so a
//! tile that began before the start is compared only from its first hash
//! made after it. Every hash whose subtree ends after the start is known:
//! the part of such a subtree before the start is a union of the
//! frontier's subtrees.

use regledger::tlog::tile::{tile_at, Tile, TileKind, TILE_HEIGHT, TILE_WIDTH};
use regledger::{Hash, HashSuite};

use crate::failure::{Check, Failure, Policy, Stop};
use crate::source::TileSource;
use crate::tiles::first_leaf;

/// Ready is a hash tile whose hashes from slot `start` on are known.
#[derive(Clone, Debug)]
pub struct Ready {
    /// tile is the tile (its width: all the hashes it holds).
    pub tile: Tile,
    /// start is the first slot known (0 unless the tree started inside it).
    pub start: usize,
    /// hashes are the hashes of slots `start..tile.width`.
    pub hashes: Vec<Hash>,
}

#[derive(Clone, Debug, Default)]
struct Filling {
    n: u64,
    start: usize,
    hashes: Vec<Hash>,
}

/// EdgeTree is the right edge of an append-only tree.
#[derive(Clone, Debug)]
pub struct EdgeTree {
    suite: HashSuite,
    size: u64,
    /// stack holds the complete subtrees of the first `size` leaves,
    /// leftmost (largest) first.
    stack: Vec<Hash>,
    filling: Vec<Option<Filling>>,
    ready: Vec<Ready>,
    wanted: Vec<u64>,
    roots: Vec<(u64, Hash)>,
}

impl EdgeTree {
    /// new returns the empty tree.
    pub fn new(suite: HashSuite) -> EdgeTree {
        EdgeTree::from_frontier(suite, 0, Vec::new())
    }

    /// from_frontier continues a tree of `size` leaves from its right edge
    /// (the complete subtrees' hashes, leftmost first; checked by the
    /// caller against a signed root).
    ///
    /// # Panics
    ///
    /// If `frontier` does not have one hash per bit set in `size`.
    pub fn from_frontier(suite: HashSuite, size: u64, frontier: Vec<Hash>) -> EdgeTree {
        assert_eq!(
            frontier.len(),
            size.count_ones() as usize,
            "frontier of {size}"
        );
        EdgeTree {
            suite,
            size,
            stack: frontier,
            filling: Vec::new(),
            ready: Vec::new(),
            wanted: Vec::new(),
            roots: Vec::new(),
        }
    }

    /// size returns the number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// root returns the tree hash of the current size.
    pub fn root(&self) -> Hash {
        regledger::cert::snapshot::frontier_root(self.suite, &self.stack)
    }

    /// frontier returns the right edge: the complete subtrees, leftmost first.
    pub fn frontier(&self) -> &[Hash] {
        &self.stack
    }

    /// want_root asks for the root at `size` to be kept when the tree
    /// passes it (now, if it is the current size).
    pub fn want_root(&mut self, size: u64) {
        if size == self.size {
            self.roots.push((size, self.root()));
        } else if size > self.size {
            self.wanted.push(size);
        }
    }

    /// root_at returns the root at the current size or at a size asked for
    /// with [`EdgeTree::want_root`] and passed.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size == self.size {
            return Some(self.root());
        }
        self.roots.iter().find(|(s, _)| *s == size).map(|(_, h)| *h)
    }

    /// append adds a leaf by its leaf hash.
    pub fn append(&mut self, leaf: Hash) {
        let n = self.size;
        let mut h = leaf;
        self.made(0, n, h);
        for level in 1..=(n + 1).trailing_zeros() {
            let left = self.stack.pop().expect("a subtree per bit of the size");
            h = self.suite.node_hash(&left, &h);
            self.made(level, ((n + 1) >> level) - 1, h);
        }
        self.stack.push(h);
        self.size = n + 1;
        if self.wanted.contains(&self.size) {
            self.roots.push((self.size, self.root()));
            self.wanted.retain(|s| *s != self.size);
        }
    }

    /// made records hash `index` of tree level `level`, just completed.
    fn made(&mut self, level: u32, index: u64, h: Hash) {
        if !level.is_multiple_of(u32::from(TILE_HEIGHT)) {
            return;
        }
        let tl = (level / u32::from(TILE_HEIGHT)) as usize;
        if self.filling.len() <= tl {
            self.filling.resize(tl + 1, None);
        }
        let (n, slot) = (index / TILE_WIDTH, (index % TILE_WIDTH) as usize);
        let f = self.filling[tl].get_or_insert_with(|| Filling {
            n,
            start: slot,
            hashes: Vec::new(),
        });
        debug_assert_eq!((f.n, f.start + f.hashes.len()), (n, slot));
        f.hashes.push(h);
        if slot + 1 == TILE_WIDTH as usize {
            let f = self.filling[tl].take().expect("filled");
            self.ready.push(Ready {
                tile: Tile {
                    kind: TileKind::Hash(tl as u8),
                    n,
                    width: TILE_WIDTH as u16,
                },
                start: f.start,
                hashes: f.hashes,
            });
        }
    }

    /// take_ready returns the tiles completed since the last call.
    pub fn take_ready(&mut self) -> Vec<Ready> {
        std::mem::take(&mut self.ready)
    }

    /// partial returns the partial hash tiles of the current size with the
    /// hashes known in them (tiles of which no hash is known are left out).
    pub fn partial(&self) -> Vec<Ready> {
        let mut out = Vec::new();
        for (tl, f) in self.filling.iter().enumerate() {
            let Some(f) = f else { continue };
            let level = tl as u8;
            let Some(t) = tile_at(self.size, TileKind::Hash(level), f.n) else {
                continue;
            };
            if usize::from(t.width) == TILE_WIDTH as usize || f.hashes.is_empty() {
                continue;
            }
            out.push(Ready {
                tile: t,
                start: f.start,
                hashes: f.hashes.clone(),
            });
        }
        out
    }
}

/// compare_tile fetches `r.tile` from `src` and reports it to `policy` if
/// it is missing or differs from the hashes known (as
/// [`crate::tiles::compare_hash_tiles`] reports it: at the first leaf
/// under the first differing hash).
///
/// # Errors
///
/// [`Stop::Fetch`], or a failure `policy` stops at.
pub fn compare_tile(src: &dyn TileSource, r: &Ready, policy: &mut dyn Policy) -> Result<(), Stop> {
    let t = &r.tile;
    let Some(got) = src.get(&t.path())? else {
        policy.fail(Failure {
            index: first_leaf(t, r.start as u64),
            check: Check::HashTileMissing,
            detail: format!("hash tile {} is missing", t.path()),
        })?;
        return Ok(());
    };
    let want_len = usize::from(t.width) * 32;
    let differs = (r.start..)
        .zip(&r.hashes)
        .find(|(k, h)| got.get(k * 32..k * 32 + 32) != Some(&h.0[..]))
        .map(|(k, _)| k)
        .or_else(|| (got.len() != want_len).then(|| (got.len().min(want_len) / 32).max(r.start)));
    if let Some(k) = differs {
        policy.fail(Failure {
            index: first_leaf(t, k as u64),
            check: Check::HashTile,
            detail: format!(
                "hash tile {} differs from the entries at hash {k} ({} bytes served, {want_len} expected)",
                t.path(),
                got.len(),
            ),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use regledger::tlog::memory::MemoryTree;
    use regledger::tlog::tile::{hash_tiles_for_size, read_tile_data};

    fn leaf(i: u64) -> Hash {
        HashSuite::Sha256.leaf_hash(&i.to_be_bytes())
    }

    /// Every hash tile, full or partial, that a tree of n leaves has is
    /// handed back with exactly the bytes of the whole tree's tile, and
    /// the roots are the whole tree's; from a frontier too.
    #[test]
    fn the_edge_gives_every_tile_and_root_the_whole_tree_gives() {
        let suite = HashSuite::Sha256;
        for (start, n) in [
            (0u64, 70_000u64),
            (0, 65_536),
            (1, 300),
            (65_535, 70_000),
            (300, 512),
            (513, 66_000),
        ] {
            let mut full = MemoryTree::new(suite);
            for i in 0..n {
                full.append(leaf(i));
            }
            let frontier: Vec<Hash> = regledger::cert::snapshot::frontier_indexes(start)
                .into_iter()
                .map(|ix| full.stored()[ix as usize])
                .collect();
            let mut e = EdgeTree::from_frontier(suite, start, frontier);
            e.want_root(start + 1);
            let mut got = Vec::new();
            for i in start..n {
                e.append(leaf(i));
                got.extend(e.take_ready());
            }
            got.extend(e.partial());
            assert_eq!(e.root(), full.root(), "{start}..{n}");
            assert_eq!(e.root_at(start + 1), Some(full.root_at(start + 1).unwrap()));
            let want: Vec<Tile> = hash_tiles_for_size(0, n)
                .into_iter()
                .filter(|t| {
                    // the tiles with a hash whose subtree ends after the start
                    let level = u32::from(t.level()) * 8;
                    let last = (t.n * TILE_WIDTH + u64::from(t.width)) << level;
                    last > start
                })
                .collect();
            assert_eq!(got.len(), want.len(), "{start}..{n}");
            for r in &got {
                let bytes = read_tile_data(&r.tile, full.stored()).unwrap();
                let known: Vec<u8> = r.hashes.iter().flat_map(|h| h.0).collect();
                assert_eq!(&bytes[r.start * 32..], &known[..], "{}", r.tile.path());
                assert!(want.contains(&r.tile), "{}", r.tile.path());
            }
        }
    }
}
