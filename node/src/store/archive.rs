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
//! entry: a leaf must hash to the stored leaf hash the tree was built from
//! (the store keeps every stored hash), and an envelope to its leaf's
//! envelope hash. A pruned envelope (D22) is an empty item, as it is in the
//! published bundle; the store answers "pruned" from its own `pruned`
//! table, so an empty item for an entry no prune names is damage too.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use regledger::entry::leaf::Leaf;
use regledger::tlog::tile::{decode_entry_bundle, Tile, TileKind, TILE_WIDTH};
use regledger::tlog::tree::{stored_hash_index, HashReader};
use regledger::{Hash, HashSuite};

use super::StoreError;

/// CACHED is how many decoded bundles of each kind an archive keeps: a
/// page of the public site or a range read touches one or two.
const CACHED: usize = 8;

/// Items is one decoded full bundle: 256 items.
type Items = Arc<Vec<Vec<u8>>>;

/// check_leaf checks that `leaf`, read as entry `i`, hashes to `want`, the
/// stored leaf hash the tree was built from: the one check of an archived
/// or fetched leaf (the store's reads and `check-tiles`' repairs).
///
/// # Errors
///
/// Why not, naming the entry.
pub fn check_leaf(suite: HashSuite, i: u64, leaf: &[u8], want: Hash) -> Result<(), String> {
    if suite.leaf_hash(leaf) == want {
        Ok(())
    } else {
        Err(format!(
            "entry {i} does not hash to the tree's leaf hash (damaged, or a bundle of another log)"
        ))
    }
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

    /// items returns full bundle `n`, through the cache.
    fn items(&self, n: u64, envelopes: bool) -> Result<Items, StoreError> {
        if let Some((_, _, it)) = self
            .cache
            .lock()
            .expect("archive cache")
            .iter()
            .find(|(e, m, _)| *e == envelopes && *m == n)
        {
            return Ok(it.clone());
        }
        let it: Items = Arc::new(self.read_raw(n, envelopes)?);
        let mut c = self.cache.lock().expect("archive cache");
        if c.iter().filter(|(e, _, _)| *e == envelopes).count() >= CACHED {
            if let Some(pos) = c.iter().position(|(e, _, _)| *e == envelopes) {
                c.remove(pos);
            }
        }
        c.push((envelopes, n, it.clone()));
        Ok(it)
    }

    /// leaves returns the archived leaves `start..end`, each checked against
    /// its stored leaf hash in `hashes`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Archive`] if a bundle is missing or damaged, or a
    /// hash cannot be read.
    pub fn leaves(
        &self,
        start: u64,
        end: u64,
        hashes: &(impl HashReader + ?Sized),
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let indexes: Vec<u64> = (start..end).map(|i| stored_hash_index(0, i)).collect();
        let want = hashes.read_hashes(&indexes)?;
        let mut out = Vec::with_capacity(indexes.len());
        for (i, want) in (start..end).zip(want) {
            let n = i / TILE_WIDTH;
            let items = self.items(n, false)?;
            let leaf = &items[(i % TILE_WIDTH) as usize];
            if let Err(reason) = check_leaf(self.suite, i, leaf, want) {
                self.forget(n, false);
                return Err(Self::damaged(n, false, reason));
            }
            out.push(leaf.clone());
        }
        Ok(out)
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
        let items = self.items(n, true)?;
        let item = &items[(i % TILE_WIDTH) as usize];
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
