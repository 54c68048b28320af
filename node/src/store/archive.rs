//! The tile directory as the store of record of old entries (D29).
//!
//! A full entry bundle (`tile/entries/<N>`) and its envelope bundle
//! (`tile/envelopes/<N>`) hold the same bytes as the store's leaf and
//! envelope rows of entries `256·N .. 256·N+256`. Once both are durable and
//! read back equal to the rows, the redb driver drops the rows
//! ([`super::WriteTx::archive_below`]) and reads those entries here: each
//! entry is then stored once, in the form clients already read (Tessera and
//! Sunlight keep their entries only in the tiles, too).
//!
//! What is read here is checked before it is returned, so a damaged or
//! replaced bundle is an error ([`StoreError::Archive`]) and never a wrong
//! entry: the 256 leaves of a full bundle must hash, as a subtree, to the
//! tree's level-8 hash of that bundle, which the store keeps; an envelope
//! must hash to its leaf's envelope hash. A pruned envelope (D22) is an
//! empty item, as it is in the published bundle; the store answers
//! "pruned" from its own `pruned` table, so an empty item for an entry no
//! prune names is damage too.
//!
//! The stored hashes of levels 0–7 inside an archived bundle (510 of every
//! 512 stored hashes, 80 bytes an entry) are dropped with its rows (D30):
//! [`Archive::hash`] recomputes them from the checked bundle, as Go's
//! `tlog.TileHashReader` reads them from hash tiles. Levels 8 and up stay
//! rows: one hash per bundle is what every check here is made against.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use regledger::entry::leaf::Leaf;
use regledger::tlog::tile::{
    decode_entry_bundle, hash_from_tile, Tile, TileKind, TILE_HEIGHT, TILE_WIDTH,
};
use regledger::tlog::tree::{split_stored_hash_index, stored_hash_index, HashReader};
use regledger::{Hash, HashSuite};

use super::StoreError;

/// CACHED is how many decoded bundles of each kind an archive keeps: a
/// page of the public site or a range read touches one or two.
const CACHED: usize = 8;

/// Bundle is one decoded full bundle: 256 items and, for an entry bundle
/// checked against the tree, their leaf hashes as the data of the level-0
/// hash tile of the same 256 entries.
struct Bundle {
    items: Vec<Vec<u8>>,
    leaf_hashes: Vec<u8>,
}

/// Items is a cached bundle.
type Items = Arc<Bundle>;

/// bundle_root_index is the stored-hash index of the level-8 hash of full
/// bundle `n`: the root of its 256 leaves, the hash it is checked against.
pub fn bundle_root_index(n: u64) -> u64 {
    stored_hash_index(TILE_HEIGHT, n)
}

/// bundle_root reads the level-8 hash of full bundle `n` from `kept` (the
/// rows the store keeps): what [`check_bundle`] checks the bundle against.
///
/// # Errors
///
/// The reader's.
pub fn bundle_root(
    kept: &(impl HashReader + ?Sized),
    n: u64,
) -> Result<Hash, regledger::tlog::tree::TreeError> {
    let index = bundle_root_index(n);
    kept.read_hashes(&[index])?
        .pop()
        .ok_or(regledger::tlog::tree::TreeError::MissingHash(index))
}

/// check_bundle checks that `leaves`, read as full bundle `n`, hash to
/// `root`, the tree's level-8 hash of entries `256·n .. 256·n+256`, and
/// returns their leaf hashes as level-0 hash tile data: the one check of
/// an archived or fetched entry bundle (the store's reads and
/// `check-tiles`' repairs).
///
/// # Errors
///
/// Why not, naming the entries.
pub fn check_bundle(
    suite: HashSuite,
    n: u64,
    leaves: &[impl AsRef<[u8]>],
    root: Hash,
) -> Result<Vec<u8>, String> {
    let first = n * TILE_WIDTH;
    if leaves.len() != TILE_WIDTH as usize {
        return Err(format!(
            "the bundle of entries {first}.. holds {} entries, not {TILE_WIDTH}",
            leaves.len()
        ));
    }
    let mut data = Vec::with_capacity(TILE_WIDTH as usize * 32);
    for leaf in leaves {
        data.extend_from_slice(&suite.leaf_hash(leaf.as_ref()).0);
    }
    if subtree_root(suite, n, &data) != root {
        return Err(format!(
            "entries {first}..{} do not hash to the tree's hash of their bundle (damaged, or a bundle of another log)",
            first + TILE_WIDTH
        ));
    }
    Ok(data)
}

/// subtree_root is the level-8 hash over the 256 leaf hashes `data` of
/// bundle `n`: the two level-7 halves the tile determines, joined.
fn subtree_root(suite: HashSuite, n: u64, data: &[u8]) -> Hash {
    let tile = level0_tile(n);
    let half = |k: u64| {
        hash_from_tile(suite, &tile, data, stored_hash_index(TILE_HEIGHT - 1, k))
            .expect("256 hashes of level-0 tile n determine its level-7 hashes")
    };
    suite.node_hash(&half(2 * n), &half(2 * n + 1))
}

/// level0_tile is the full level-0 hash tile of entries `256·n ..`.
fn level0_tile(n: u64) -> Tile {
    Tile {
        kind: TileKind::Hash(0),
        n,
        width: TILE_WIDTH as u16,
    }
}

/// in_archived_bundle says whether stored hash `index` is one of the
/// levels 0–7 inside a full bundle below `archived` (an entry index):
/// those are dropped with the bundle's rows and read through
/// [`Archive::hash`] (D30).
pub fn in_archived_bundle(index: u64, archived: u64) -> bool {
    let (level, n) = split_stored_hash_index(index);
    level < TILE_HEIGHT && (n << level) / TILE_WIDTH < archived / TILE_WIDTH
}

/// check_envelope checks `item`, read as the envelope bundle's item of
/// entry `i` beside its (checked) `leaf`, and returns the envelope to keep:
/// `None` for a v1 leaf (whose item must be empty) and for an entry a
/// prune dropped (`pruned`: its item is written empty, whatever was
/// read; a non-empty one must still be its envelope). An empty item for an
/// entry no prune names is a lost envelope, not "pruned". The one check of
/// an archived or fetched envelope.
///
/// # Errors
///
/// Why not, naming the entry.
pub fn check_envelope<'a>(
    suite: HashSuite,
    i: u64,
    leaf: &Leaf,
    item: &'a [u8],
    pruned: bool,
) -> Result<Option<&'a [u8]>, String> {
    let Some(want) = leaf.envelope_hash() else {
        return match item.is_empty() {
            true => Ok(None),
            false => Err(format!(
                "entry {i} is a v1 leaf, but its envelope item is not empty"
            )),
        };
    };
    if !item.is_empty() && regledger::entry::leaf::envelope_hash(suite, item) != want {
        return Err(format!(
            "the envelope of entry {i} does not hash to its leaf's envelope hash"
        ));
    }
    match (pruned, item.is_empty()) {
        (true, _) => Ok(None),
        (false, true) => Err(format!(
            "the envelope of entry {i} is empty, and no prune of it is logged"
        )),
        (false, false) => Ok(Some(item)),
    }
}

/// Archivable is how far a store may archive: an index that
/// [`super::ReadTx::archivable`] checked against the tile directory. Only
/// the store makes one, so [`super::WriteTx::archive_below`] cannot be
/// handed a size nobody checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Archivable(u64);

impl Archivable {
    /// checked wraps an index the store checked (or 0: nothing to archive).
    pub(in crate::store) fn checked(index: u64) -> Archivable {
        Archivable(index)
    }

    /// index is the entry index below which entries may be archived.
    pub fn index(self) -> u64 {
        self.0
    }
}

/// Archive reads archived entries from a tile directory.
pub struct Archive {
    dir: PathBuf,
    suite: HashSuite,
    cache: Mutex<Vec<(bool, u64, Items)>>,
}

impl Archive {
    /// new is the archive in tile directory `dir` of a log hashed with `suite`.
    pub fn new(dir: &Path, suite: HashSuite) -> Archive {
        Archive {
            dir: dir.to_path_buf(),
            suite,
            cache: Mutex::new(Vec::new()),
        }
    }

    /// bundle_path is the tile path of full bundle `n` (envelopes or entries).
    fn bundle_tile(n: u64, envelopes: bool) -> Tile {
        let t = Tile {
            kind: TileKind::Entries,
            n,
            width: TILE_WIDTH as u16,
        };
        if envelopes {
            t.envelopes()
        } else {
            t
        }
    }

    /// damaged is the error for bundle `n` that is missing or unreadable.
    fn damaged(n: u64, envelopes: bool, reason: impl Into<String>) -> StoreError {
        StoreError::Archive {
            path: Self::bundle_tile(n, envelopes).path(),
            first: n * TILE_WIDTH,
            reason: reason.into(),
        }
    }

    /// not_opened is the error for archived entry `i` read from a store
    /// opened without its tile directory (a caller bug, or a tool that
    /// forgot [`super::Store::with_archive`]).
    pub fn not_opened(i: u64) -> StoreError {
        let n = i / TILE_WIDTH;
        Self::damaged(
            n,
            false,
            format!("entry {i} is archived, and the store was opened without its tile directory"),
        )
    }

    /// read_raw reads and splits full bundle `n` from disk, uncached.
    ///
    /// # Errors
    ///
    /// [`StoreError::Archive`]: the file is missing, unreadable or not 256 items.
    fn read_raw(&self, n: u64, envelopes: bool) -> Result<Vec<Vec<u8>>, StoreError> {
        let path = self.dir.join(Self::bundle_tile(n, envelopes).path());
        let data = std::fs::read(&path).map_err(|e| Self::damaged(n, envelopes, e.to_string()))?;
        let items = decode_entry_bundle(&data, TILE_WIDTH as usize)
            .map_err(|e| Self::damaged(n, envelopes, e.to_string()))?;
        Ok(items.into_iter().map(<[u8]>::to_vec).collect())
    }

    /// entries returns full entry bundle `n`, through the cache, checked
    /// against its root: the level-8 hash in `kept` (the rows the store keeps).
    fn entries(&self, n: u64, kept: &(impl HashReader + ?Sized)) -> Result<Items, StoreError> {
        self.cached(n, false, || {
            let items = self.read_raw(n, false)?;
            let root = bundle_root(kept, n)?;
            let leaf_hashes = check_bundle(self.suite, n, &items, root)
                .map_err(|reason| Self::damaged(n, false, reason))?;
            Ok(Bundle { items, leaf_hashes })
        })
    }

    /// envelopes returns full envelope bundle `n`, through the cache, as
    /// read: each envelope is checked against its leaf where it is used.
    fn envelopes(&self, n: u64) -> Result<Items, StoreError> {
        self.cached(n, true, || {
            Ok(Bundle {
                items: self.read_raw(n, true)?,
                leaf_hashes: Vec::new(),
            })
        })
    }

    /// cached returns bundle `n` from the cache, or `load`s and keeps it.
    fn cached(
        &self,
        n: u64,
        envelopes: bool,
        load: impl FnOnce() -> Result<Bundle, StoreError>,
    ) -> Result<Items, StoreError> {
        if let Some((_, _, it)) = self
            .cache
            .lock()
            .expect("archive cache")
            .iter()
            .find(|(e, m, _)| *e == envelopes && *m == n)
        {
            return Ok(it.clone());
        }
        let it: Items = Arc::new(load()?);
        let mut c = self.cache.lock().expect("archive cache");
        if c.iter().filter(|(e, _, _)| *e == envelopes).count() >= CACHED {
            if let Some(pos) = c.iter().position(|(e, _, _)| *e == envelopes) {
                c.remove(pos);
            }
        }
        c.push((envelopes, n, it.clone()));
        Ok(it)
    }

    /// leaves returns the archived leaves `start..end`, their bundles
    /// checked against the level-8 hashes in `kept`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Archive`] if a bundle is missing or damaged, or a
    /// hash cannot be read.
    pub fn leaves(
        &self,
        start: u64,
        end: u64,
        kept: &(impl HashReader + ?Sized),
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        let mut bundle: Option<(u64, Items)> = None;
        for i in start..end {
            let n = i / TILE_WIDTH;
            if bundle.as_ref().is_none_or(|(m, _)| *m != n) {
                bundle = Some((n, self.entries(n, kept)?));
            }
            let (_, items) = bundle.as_ref().expect("just loaded");
            out.push(items.items[(i % TILE_WIDTH) as usize].clone());
        }
        Ok(out)
    }

    /// hash returns stored hash `index`, one of the levels 0–7 inside an
    /// archived bundle ([`in_archived_bundle`]), recomputed from the
    /// bundle checked against the level-8 hash in `kept` (D30).
    ///
    /// # Errors
    ///
    /// [`StoreError::Archive`] if the bundle is missing or damaged.
    pub fn hash(&self, index: u64, kept: &(impl HashReader + ?Sized)) -> Result<Hash, StoreError> {
        let (level, n) = split_stored_hash_index(index);
        let b = (n << level) / TILE_WIDTH;
        let items = self.entries(b, kept)?;
        hash_from_tile(self.suite, &level0_tile(b), &items.leaf_hashes, index)
            .map_err(|e| Self::damaged(b, false, e.to_string()))
    }

    /// envelope returns the archived envelope of entry `i`, whose leaf
    /// bytes are `leaf` (already checked): `None` for a v1 leaf (which holds
    /// its own). Ask only for an entry no prune dropped (the store's
    /// `pruned` table says so; its item is empty on disk).
    ///
    /// # Errors
    ///
    /// [`StoreError::Archive`] if the bundle is missing or damaged, or
    /// the item does not hash to the leaf's envelope hash.
    pub fn envelope(&self, i: u64, leaf: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let n = i / TILE_WIDTH;
        let parsed =
            Leaf::parse(leaf).map_err(|source| StoreError::BadLeaf { index: i, source })?;
        if parsed.envelope_hash().is_none() {
            // v1: no envelope bundle needs to exist for an all-v1 bundle.
            return Ok(None);
        }
        let items = self.envelopes(n)?;
        let item = &items.items[(i % TILE_WIDTH) as usize];
        // The caller asks only for entries the store holds no prune of.
        match check_envelope(self.suite, i, &parsed, item, false) {
            Ok(Some(item)) => Ok(Some(item.to_vec())),
            Ok(None) => Ok(None),
            Err(reason) => {
                self.forget(n, true);
                Err(Self::damaged(n, true, reason))
            }
        }
    }

    /// forget drops bundle `n` from the cache (it was found damaged: the
    /// next read goes to the disk again, where it may have been repaired).
    fn forget(&self, n: u64, envelopes: bool) {
        self.cache
            .lock()
            .expect("archive cache")
            .retain(|(e, m, _)| !(*e == envelopes && *m == n));
    }

    /// holds checks that bundle `n` on disk holds exactly `leaves` and
    /// `envelopes` (`None`: an empty item), the rows the store is about to
    /// drop: what it drops must be readable here first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Archive`] saying what differs.
    pub fn holds(
        &self,
        n: u64,
        leaves: &[Vec<u8>],
        envelopes: &[Option<Vec<u8>>],
    ) -> Result<(), StoreError> {
        if self.read_raw(n, false)? != leaves {
            return Err(Self::damaged(n, false, "differs from the stored leaves"));
        }
        let has_v2 = leaves
            .iter()
            .any(|l| l.first() == Some(&regledger::entry::leaf::LEAF_V2));
        if has_v2 {
            let on_disk = self.read_raw(n, true)?;
            let stored = envelopes.iter().map(|e| e.as_deref().unwrap_or_default());
            if !on_disk.iter().map(Vec::as_slice).eq(stored) {
                return Err(Self::damaged(n, true, "differs from the stored envelopes"));
            }
        }
        Ok(())
    }
}
