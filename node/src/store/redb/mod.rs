//! The embedded driver: redb, one file (`ledger.redb`) holding leaves,
//! stored Merkle hashes, registry state, indexes and checkpoints; every
//! write is one transaction committed with `Durability::Immediate` (fsync).
//! The default, and the two-command start.
//!
//! # On disk
//!
//! store/redb/tables.rs is the format of existing data directories: table
//! names, key and value types and encodings stay as they are. A store
//! written before D12 gets its replay index built at open (migrate.rs).

mod append;
mod migrate;
pub(crate) mod tables;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redb::{
    Database, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable,
    WriteTransaction,
};
use regledger::registry::{StateKey, StateObject, StateReader};
use regledger::tlog::tree::{stored_hash_count, tree_hash, HashReader, TreeError};
use regledger::{Hash, HashSuite};

pub use append::RedbAppender;
use tables::*;

use super::archive::{bundle_root_index, Archive};
use super::cache::{StateCache, TxCache};
use super::{Head, StoreError};
use regledger::tlog::tile::TILE_WIDTH;

/// Store is the open database. After an I/O error redb refuses every
/// further transaction on that handle (its page cache may no longer match
/// the disk), so the store can be reopened in place: the durable state on
/// disk is the truth, exactly as after a crash.
pub struct RedbStore {
    path: PathBuf,
    db: RwLock<Option<Arc<Database>>>,
    /// quick_repair makes every commit save redb's allocator state (and
    /// commit in two phases), so opening after a crash takes milliseconds
    /// instead of a walk over the whole file (decision D11).
    quick_repair: bool,
    /// pinned is the snapshot at the served checkpoint's size (see
    /// [`super::Store::pin`]): status proofs are made from it.
    pinned: RwLock<Option<Arc<super::ReadTx>>>,
    /// cache is the committed registry state in memory (store/cache.rs).
    cache: Arc<StateCache>,
    /// archive is the tile directory that is the store of record of the
    /// entries below [`M_ARCHIVED`] (D29); `None`: every entry stays a row.
    archive: Option<Arc<Archive>>,
}

/// ARCHIVE_STEP is the most entries one [`RedbWrite::archive_below`] drops
/// (64 bundles): a store written before D29 catches up over several
/// publications instead of in one long transaction.
const ARCHIVE_STEP: u64 = 64 * TILE_WIDTH;

/// begin starts a durable write transaction (fsync at commit).
fn begin(db: &Database, quick_repair: bool) -> Result<WriteTransaction, StoreError> {
    let mut tx = db.begin_write()?;
    tx.set_durability(Durability::Immediate)?;
    tx.set_quick_repair(quick_repair);
    Ok(tx)
}

impl RedbStore {
    /// open opens (or creates) the database file and its tables, with quick repair.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] if the file cannot be opened or created, or a
    /// pre-D12 store's migration fails.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        Self::open_with(path, true)
    }

    /// open_with opens (or creates) the database file and its tables; `quick_repair` as in [`RedbStore::quick_repair`].
    ///
    /// # Errors
    ///
    /// As [`RedbStore::open`].
    pub fn open_with(path: &Path, quick_repair: bool) -> Result<RedbStore, StoreError> {
        Ok(RedbStore {
            path: path.to_path_buf(),
            db: RwLock::new(Some(Arc::new(Self::open_db(path, quick_repair)?))),
            quick_repair,
            pinned: RwLock::new(None),
            cache: Arc::default(),
            archive: None,
        })
    }

    /// with_archive makes the full bundles in `tiles_dir` the store of
    /// record of old entries (D29): [`RedbWrite::archive_below`] drops their
    /// rows once they are there, and reads of them go to the bundles.
    pub fn with_archive(mut self, tiles_dir: &Path, suite: HashSuite) -> RedbStore {
        self.archive = Some(Arc::new(Archive::new(tiles_dir, suite)));
        self
    }

    /// open_db opens the file (recovering after a crash) and makes sure every table exists.
    fn open_db(path: &Path, quick_repair: bool) -> Result<Database, StoreError> {
        let db = Database::builder().set_cache_size(256 << 20).create(path)?;
        let tx = begin(&db, quick_repair)?;
        {
            tx.open_table(LEAVES)?;
            tx.open_table(HASHES)?;
            tx.open_table(STATE)?;
            tx.open_table(META)?;
            tx.open_table(CONTENT_IDS)?;
            tx.open_table(EVENT_IDS)?;
            tx.open_multimap_table(SUBJECTS)?;
            tx.open_table(CHECKPOINTS)?;
            tx.open_table(ENVELOPES)?;
            tx.open_table(STATE_MAP)?;
            tx.open_table(PRUNED)?;
        }
        tx.commit()?;
        migrate::content_ids(&db, quick_repair, migrate::CHUNK)?;
        migrate::state_map(&db, quick_repair)?;
        Ok(db)
    }

    fn db(&self) -> Result<Arc<Database>, StoreError> {
        self.db
            .read()
            .expect("store lock")
            .clone()
            .ok_or(StoreError::Closed)
    }

    /// pin_slot holds the snapshot [`super::Store::pin`] keeps: the redb
    /// read transaction the node published size N from (MVCC: writers go
    /// on; the pages it pins are freed when the next checkpoint replaces
    /// it). [`RedbStore::reopen`] drops it first.
    pub(crate) fn pin_slot(&self) -> &RwLock<Option<Arc<super::ReadTx>>> {
        &self.pinned
    }

    /// read begins a read transaction: a consistent snapshot of the log.
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`] while the handle is reopened, or
    /// [`StoreError::Database`].
    pub fn read(&self) -> Result<RedbRead, StoreError> {
        let txn = self.db()?.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(RedbRead {
            archived: meta_u64(&meta, M_ARCHIVED)?,
            archive: self.archive.clone(),
            meta,
            leaves: txn.open_table(LEAVES)?,
            hashes: txn.open_table(HASHES)?,
            state: txn.open_table(STATE)?,
            envelopes: txn.open_table(ENVELOPES)?,
            map: txn.open_table(STATE_MAP)?,
            pruned: txn.open_table(PRUNED)?,
            txn,
        })
    }

    /// write begins a durable write transaction (redb has one writer at a
    /// time: this waits for the current one).
    ///
    /// # Errors
    ///
    /// As [`RedbStore::read`].
    pub fn write(&self) -> Result<RedbWrite, StoreError> {
        let tx = begin(self.db()?.as_ref(), self.quick_repair)?;
        let head = head_of(&tx.open_table(META)?)?;
        Ok(RedbWrite {
            tx,
            head,
            moved: false,
            failed: false,
            map_changes: Default::default(),
            txc: self.cache.begin(head, 0),
            archive: self.archive.clone(),
        })
    }

    /// reopen closes the handle and opens the file again, recovering the
    /// last durable commit. Transactions still open on the old handle keep
    /// the file locked, so it retries for a few seconds; on failure the
    /// store stays closed and the next call tries again.
    ///
    /// # Errors
    ///
    /// The last open's error after about two seconds of retries.
    pub fn reopen(&self) -> Result<(), StoreError> {
        // The pinned snapshot holds the old database open.
        self.pinned.write().expect("pin lock").take();
        // What is durable is what the file says once reopened.
        self.cache.clear();
        let mut g = self.db.write().expect("store lock");
        g.take();
        let mut last = StoreError::Closed;
        for _ in 0..50 {
            match Self::open_db(&self.path, self.quick_repair) {
                Ok(db) => {
                    *g = Some(Arc::new(db));
                    return Ok(());
                }
                Err(e) => last = e,
            }
            std::thread::sleep(std::time::Duration::from_millis(40));
        }
        Err(last)
    }

    /// is_open reports whether the database handle is usable.
    pub fn is_open(&self) -> bool {
        self.db.read().expect("store lock").is_some()
    }

    /// cache is the committed registry state in memory.
    pub(crate) fn cache(&self) -> &StateCache {
        &self.cache
    }
}

/// RedbRead is a consistent snapshot of the log, for the read API, the
/// publisher and the followers. It holds redb's read transaction: a
/// long-lived one keeps old pages from being reused, so drop it when done.
pub struct RedbRead {
    leaves: ReadOnlyTable<u64, &'static [u8]>,
    hashes: ReadOnlyTable<u64, [u8; 32]>,
    state: ReadOnlyTable<&'static str, &'static [u8]>,
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
    envelopes: ReadOnlyTable<u64, &'static [u8]>,
    map: ReadOnlyTable<&'static [u8], &'static [u8]>,
    pruned: ReadOnlyTable<u64, u64>,
    txn: ReadTransaction,
    /// archived is [`M_ARCHIVED`] in this snapshot; entries below it are
    /// read from `archive`.
    archived: u64,
    archive: Option<Arc<Archive>>,
}

impl RedbRead {
    /// head returns the head in this snapshot.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn head(&self) -> Result<Head, StoreError> {
        head_of(&self.meta)
    }

    /// size returns the committed tree size in this snapshot.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn size(&self) -> Result<u64, StoreError> {
        meta_u64(&self.meta, M_SIZE)
    }

    /// leaf returns the leaf bytes at `index`, `None` past the end.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn leaf(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(a) = self.archive_of(index)? {
            return Ok(a.leaves(index, index + 1, &Hashes(&self.hashes))?.pop());
        }
        Ok(self.leaves.get(index)?.map(|v| v.value().to_vec()))
    }

    /// archived_below is [`M_ARCHIVED`] in this snapshot: entries below it
    /// are read from the archive (D29).
    pub fn archived_below(&self) -> u64 {
        self.archived
    }

    /// archivable is how far entries can be archived (D29) after the tiles
    /// for `size` were written: the end of the full bundles past the
    /// archived index (at most [`ARCHIVE_STEP`] more) that the tile
    /// directory holds byte for byte as this snapshot's rows. Pass it to
    /// [`RedbWrite::archive_below`]. Without an archive, 0.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`]. A bundle that is not in the tile
    /// directory as the rows say is not an error: it and the later ones
    /// stay rows (logged).
    pub fn archivable(&self, size: u64) -> Result<u64, StoreError> {
        let Some(archive) = &self.archive else {
            return Ok(0);
        };
        let from = self.archived;
        let target = (size.min(self.size()?) / TILE_WIDTH * TILE_WIDTH).min(from + ARCHIVE_STEP);
        let mut at = from;
        while at < target {
            let end = at + TILE_WIDTH;
            let mut rows = Vec::with_capacity(TILE_WIDTH as usize);
            for kv in self.leaves.range(at..end)? {
                rows.push(kv?.1.value().to_vec());
            }
            if rows.len() as u64 != TILE_WIDTH {
                return Err(StoreError::MissingLeaf(at + rows.len() as u64));
            }
            let mut envs = Vec::with_capacity(TILE_WIDTH as usize);
            for i in at..end {
                envs.push(self.envelopes.get(i)?.map(|v| v.value().to_vec()));
            }
            // A v2 leaf without its envelope that no prune names is a
            // mirror's open gap (D25): it stays a row, so the gap is still
            // read as "not held" (an archived entry's empty item is damage)
            // until the prune that closes it arrives.
            let mut open_gap = false;
            for (k, (leaf, env)) in rows.iter().zip(&envs).enumerate() {
                if env.is_none()
                    && leaf.first() == Some(&regledger::entry::leaf::LEAF_V2)
                    && self.pruned_by(at + k as u64)?.is_none()
                {
                    open_gap = true;
                    break;
                }
            }
            if open_gap {
                break;
            }
            if let Err(e) = archive.holds(at / TILE_WIDTH, &rows, &envs) {
                tracing::warn!("entries {at}..{end} stay in the database: {e}");
                break;
            }
            at = end;
        }
        Ok(at)
    }

    /// archive_of is the archive that holds entry `index`, if it is archived (D29).
    ///
    /// # Errors
    ///
    /// [`StoreError::Archive`] if it is archived but this store was opened
    /// without its tile directory: such an entry is not absent, and must
    /// never read as if it were.
    fn archive_of(&self, index: u64) -> Result<Option<&Archive>, StoreError> {
        if index >= self.archived {
            return Ok(None);
        }
        self.archive
            .as_deref()
            .map(Some)
            .ok_or_else(|| Archive::not_opened(index))
    }

    /// envelope returns the envelope stored beside v2 leaf `index` (None
    /// for a v1 leaf, which holds its own, or one not stored).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn envelope(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(a) = self.archive_of(index)? {
            if self.pruned_by(index)?.is_some() {
                return Ok(None);
            }
            let leaf = a.leaves(index, index + 1, &Hashes(&self.hashes))?;
            return a.envelope(index, &leaf[0]);
        }
        Ok(self.envelopes.get(index)?.map(|v| v.value().to_vec()))
    }

    /// pruned_by: see [`super::ReadTx::pruned_by`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn pruned_by(&self, index: u64) -> Result<Option<u64>, StoreError> {
        Ok(self.pruned.get(index)?.map(|v| v.value()))
    }

    /// map_nodes reads the state map's nodes as of this snapshot.
    pub(crate) fn map_nodes(&self) -> MapNodes<'_, ReadOnlyTable<&'static [u8], &'static [u8]>> {
        MapNodes(&self.map)
    }

    /// state_value returns the committed record of `key`, if the object exists.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn state_value(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StoreError> {
        let k = key.to_string();
        Ok(self
            .state
            .get(k.as_str())?
            .map(|v| v.value().to_vec())
            .filter(|v| is_record(v)))
    }

    /// state_records calls `f(key, record)` for every committed record, in
    /// key order (a state snapshot's registry objects).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`], or what `f` returns.
    pub fn state_records(&self, f: &mut super::RecordFn<'_>) -> Result<(), StoreError> {
        for kv in self.state.iter()? {
            let (k, v) = kv?;
            if is_record(v.value()) {
                f(k.value(), v.value())?;
            }
        }
        Ok(())
    }

    /// content_ids calls `f(content id, index)` for every entry's content
    /// id (D12), in id order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`], or what `f` returns.
    pub fn content_ids(&self, f: &mut super::ContentIdFn<'_>) -> Result<(), StoreError> {
        let t = self.txn.open_table(CONTENT_IDS)?;
        for kv in t.iter()? {
            let (k, v) = kv?;
            f(&k.value(), v.value())?;
        }
        Ok(())
    }

    /// leaves returns the leaf bytes at `start..end`, in order; it stops at
    /// the first missing one (past the end).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        let mut start = start;
        if let Some(a) = self.archive_of(start)? {
            let upto = end.min(self.archived);
            out = a.leaves(start, upto, &Hashes(&self.hashes))?;
            start = upto;
        }
        for (want, kv) in (start..end).zip(self.leaves.range(start..end)?) {
            let (k, v) = kv?;
            if k.value() != want {
                break;
            }
            out.push(v.value().to_vec());
        }
        Ok(out)
    }

    /// objects returns the registry objects whose state key starts with
    /// `prefix` (e.g. "product/"), in key order, at most `limit`: the public
    /// site's lists. Objects that do not decode are skipped (they cannot be
    /// disclosed, and the read API reports them where it reads them singly).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn objects(&self, prefix: &str, limit: usize) -> Result<Vec<StateObject>, StoreError> {
        let mut out = Vec::new();
        for kv in self.state.range(prefix..)? {
            let (k, v) = kv?;
            if !k.value().starts_with(prefix) || out.len() >= limit {
                break;
            }
            if let Some(o) = decode_state(v.value()) {
                out.push(o);
            }
        }
        Ok(out)
    }

    /// subjects returns the indexes of the entries concerning `subject`, in
    /// order, at most `limit`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn subjects(&self, subject: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let t = self.txn.open_multimap_table(SUBJECTS)?;
        let mut out = Vec::new();
        for v in t.get(subject)? {
            out.push(v?.value());
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// root_at returns the root of the first `size` leaves.
    ///
    /// # Errors
    ///
    /// [`StoreError::Tree`] if `size` is past the stored hashes.
    pub fn root_at(&self, suite: HashSuite, size: u64) -> Result<Hash, StoreError> {
        Ok(tree_hash(suite, size, &self.stored_hashes())?)
    }

    /// stored_hashes reads this snapshot's stored hashes, archived ones
    /// included (D30).
    fn stored_hashes(&self) -> StoredHashes<'_, ReadOnlyTable<u64, [u8; 32]>> {
        StoredHashes {
            table: &self.hashes,
            archived: self.archived,
            archive: self.archive.as_deref(),
        }
    }

    /// published_checkpoint returns the latest published (served) checkpoint note.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn published_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(&self.meta, M_CHECKPOINT)
    }

    /// tiles_size returns the size the tile directory was last completed for (0 if never).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn tiles_size(&self) -> Result<u64, StoreError> {
        meta_u64(&self.meta, M_TILES_SIZE)
    }

    /// witness_checkpoint returns the latest checkpoint this node's witness endpoint cosigned.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn witness_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(&self.meta, M_WITNESS)
    }

    /// verifying_checkpoint returns the log-signed checkpoint a mirror's
    /// verified entries are a prefix of.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn verifying_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(&self.meta, M_VERIFYING)
    }

    /// cosigned_size returns the size the witness at `url` last cosigned for this node (0 if never).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn cosigned_size(&self, url: &str) -> Result<u64, StoreError> {
        meta_u64(&self.meta, &format!("{COSIGNED_PREFIX}{url}"))
    }

    /// webhook_delivered returns the id of the last event the webhook at
    /// `url` acknowledged (`None` if none, or if the stored id does not parse).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn webhook_delivered(&self, url: &str) -> Result<Option<u64>, StoreError> {
        Ok(meta_str(&self.meta, &format!("{WEBHOOK_PREFIX}{url}"))?
            .and_then(|s| s.parse::<u64>().ok()))
    }
}

/// A snapshot reads stored hashes for proofs and tiles.
impl HashReader for RedbRead {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        self.stored_hashes().read_hashes(indexes)
    }
}

/// A snapshot reads the registry state.
impl StateReader for RedbRead {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        state_get(&self.state, key)
    }
}

/// RedbWrite is one atomic, durable change to the log. Dropping it without
/// [`RedbWrite::commit`] writes nothing.
pub struct RedbWrite {
    tx: WriteTransaction,
    /// head is the head as of the last append (loaded at begin).
    head: Head,
    /// moved says the head changed and META must get it at commit.
    moved: bool,
    /// failed says an append failed half-way: the transaction must not commit.
    failed: bool,
    /// map_changes are the state map writes staged by the appends, written
    /// once at commit (D15).
    map_changes: regledger::statemap::Changes,
    /// txc is this transaction's view of the state cache.
    txc: TxCache,
    /// archive: see [`RedbStore::with_archive`].
    archive: Option<Arc<Archive>>,
}

impl RedbWrite {
    /// head returns the head, including this transaction's appends.
    pub fn head(&self) -> Head {
        self.head
    }

    /// appender opens the log's tables for appending entries (hashes in
    /// `suite`). Open it once per transaction, not per entry: opening the
    /// tables is the costly part.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn appender(&mut self, suite: HashSuite) -> Result<RedbAppender<'_>, StoreError> {
        RedbAppender::open(self, suite)
    }

    /// root_at returns the root of the first `size` leaves, this transaction's appends included.
    ///
    /// # Errors
    ///
    /// [`StoreError::Tree`] if `size` is past the stored hashes.
    pub fn root_at(&self, suite: HashSuite, size: u64) -> Result<Hash, StoreError> {
        let archived = meta_u64(&self.tx.open_table(META)?, M_ARCHIVED)?;
        let table = self.tx.open_table(HASHES)?;
        let hashes = StoredHashes {
            table: &table,
            archived,
            archive: self.archive.as_deref(),
        };
        Ok(tree_hash(suite, size, &hashes)?)
    }

    /// witness_checkpoint is [`RedbRead::witness_checkpoint`] inside this transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn witness_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(&self.tx.open_table(META)?, M_WITNESS)
    }

    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.tx.open_table(META)?.insert(key, value)?;
        Ok(())
    }

    /// set_published_checkpoint records `note` (for tree `size`) as the
    /// published checkpoint and keeps it in the checkpoint history.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn set_published_checkpoint(&self, size: u64, note: &str) -> Result<(), StoreError> {
        self.set_meta(M_CHECKPOINT, note.as_bytes())?;
        self.tx.open_table(CHECKPOINTS)?.insert(size, note)?;
        Ok(())
    }

    /// set_tiles_size records that the tile directory is complete for `size`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn set_tiles_size(&self, size: u64) -> Result<(), StoreError> {
        self.set_meta(M_TILES_SIZE, &size.to_be_bytes())
    }

    /// archive_below drops the leaf and envelope rows of the entries below
    /// `upto` (what [`RedbRead::archivable`] found in the tile directory)
    /// and records them as archived (D29). It runs under redb's one writer
    /// lock, so the check that the bundles hold the rows was done before,
    /// on a snapshot: rows below the right edge never change after that,
    /// except that a prune may drop an envelope, which an archived entry
    /// answers from the `pruned` table anyway. It returns the archived
    /// index; without an archive it drops nothing and returns 0.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn archive_below(&self, upto: u64) -> Result<u64, StoreError> {
        if self.archive.is_none() {
            return Ok(0);
        }
        let mut meta = self.tx.open_table(META)?;
        let from = meta_u64(&meta, M_ARCHIVED)?;
        let upto = upto.min(self.head.size) / TILE_WIDTH * TILE_WIDTH;
        if upto <= from {
            return Ok(from);
        }
        self.tx
            .open_table(LEAVES)?
            .retain_in(from..upto, |_, _| false)?;
        self.tx
            .open_table(ENVELOPES)?
            .retain_in(from..upto, |_, _| false)?;
        // The levels 0–7 of each bundle are recomputed from it (D30): its
        // stored hashes from the first entry's up to, not including, the
        // level-8 hash it is checked against (written by its last entry,
        // after its lower levels).
        let mut hashes = self.tx.open_table(HASHES)?;
        for n in from / TILE_WIDTH..upto / TILE_WIDTH {
            let rows = stored_hash_count(n * TILE_WIDTH)..bundle_root_index(n);
            hashes.retain_in(rows, |_, _| false)?;
        }
        meta.insert(M_ARCHIVED, upto.to_be_bytes().as_slice())?;
        Ok(upto)
    }

    /// set_witness_checkpoint records `note` as the latest this node's witness endpoint cosigned.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn set_witness_checkpoint(&self, note: &str) -> Result<(), StoreError> {
        self.set_meta(M_WITNESS, note.as_bytes())
    }

    /// set_verifying_checkpoint records the log-signed checkpoint a mirror's verified entries are a prefix of.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn set_verifying_checkpoint(&self, note: &[u8]) -> Result<(), StoreError> {
        self.set_meta(M_VERIFYING, note)
    }

    /// set_cosigned_size records that the witness at `url` cosigned `size`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn set_cosigned_size(&self, url: &str, size: u64) -> Result<(), StoreError> {
        self.set_meta(&format!("{COSIGNED_PREFIX}{url}"), &size.to_be_bytes())
    }

    /// set_webhook_delivered records that the webhook at `url` acknowledged event `id`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn set_webhook_delivered(&self, url: &str, id: u64) -> Result<(), StoreError> {
        self.set_meta(&format!("{WEBHOOK_PREFIX}{url}"), id.to_string().as_bytes())
    }

    /// commit makes the transaction durable (fsync) with the head its appends reached.
    ///
    /// # Errors
    ///
    /// [`StoreError::Incomplete`] if an append failed (nothing is written),
    /// [`StoreError::Database`] if redb could not commit.
    pub fn commit(self) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError::Incomplete);
        }
        if self.moved {
            let mut meta = self.tx.open_table(META)?;
            meta.insert(M_SIZE, self.head.size.to_be_bytes().as_slice())?;
            meta.insert(M_LAST_HASH, self.head.last_leaf_hash.0.as_slice())?;
            meta.insert(M_LAST_TIME, self.head.last_time_ms.to_be_bytes().as_slice())?;
            meta.insert(M_LAST_VERSION, [self.head.last_version].as_slice())?;
            drop(meta);
        }
        if self.map_changes != Default::default() {
            write_map_changes(&mut self.tx.open_table(STATE_MAP)?, &self.map_changes)?;
        }
        #[cfg(test)]
        if self.txc.take_fault() {
            // Dropped unbegun: redb aborts the transaction.
            return Err(StoreError::Unreadable("commit (injected fault)"));
        }
        self.tx.commit()?;
        // Durable: only now do its writes count as committed state.
        self.txc.committed(self.head);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
