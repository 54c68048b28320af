//! The node's durable state behind a narrow API: the seam a second storage
//! driver (PostgreSQL, issue 19) plugs into. redb is the implementation:
//! one file holding leaves, stored Merkle hashes, registry state, indexes
//! and checkpoints; every write is one transaction committed with
//! `Durability::Immediate` (fsync).
//!
//! # The boundary
//!
//! Nothing outside this module sees a table. A driver gives these methods
//! their meaning, and nothing else:
//!
//! - [`Store`]: `open`, `open_with`, `reopen`, `is_open`, `head`, `read`,
//!   `write`. After an I/O error the handle is refused and `reopen` recovers
//!   the last durable commit, exactly as after a crash.
//! - [`ReadTx`], a consistent snapshot: `head`, `size`, `leaf`, `subjects`,
//!   `root_at`, the stored hashes as a [`HashReader`] (proofs and tiles), the
//!   registry state as a [`StateReader`], and the named values
//!   `published_checkpoint`, `tiles_size`, `witness_checkpoint`,
//!   `verifying_checkpoint`, `cosigned_size`, `webhook_delivered`.
//! - [`WriteTx`], one atomic, durable change: `head`, `appender` (the log's
//!   one append path, [`Appender`]), `root_at`, `witness_checkpoint`, the
//!   setters of the named values, and `commit`. Dropping it without `commit`
//!   writes nothing.
//! - [`Appender`] (store/append.rs): `head`, `logged_at` (the replay index),
//!   `state`, `root_at` and `append_entry`, which writes one entry's leaf,
//!   stored hashes, state writes, subject index rows and content id and
//!   advances the head. The sequencer and the mirror both append through it,
//!   so what makes an entry part of the log is written once.
//!
//! The callers keep the rules: the leaf chain ([`regledger::entry::chain`])
//! and the registry ([`regledger::registry::apply`]) are checked before
//! `append_entry`; the store only refuses an entry that is not at its end.
//!
//! This is a struct, not yet a trait, on purpose: with one driver a trait
//! would only add generic parameters to every handler. The second driver
//! turns exactly these public methods into `trait LogStore` (with its read
//! and write transaction types); nothing else has to change.
//!
//! # On disk
//!
//! store/tables.rs is the format of existing data directories: table names,
//! key and value types and encodings stay as they are. A store written
//! before D12 gets its replay index built at open (store/migrate.rs).

mod append;
mod migrate;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redb::{
    Database, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase, WriteTransaction,
};
use regledger::entry::leaf::LeafError;
use regledger::registry::{StateKey, StateObject, StateReader};
use regledger::tlog::tree::{tree_hash, HashReader, TreeError};
use regledger::{Hash, HashSuite};

pub use append::Appender;
use tables::*;

/// Head is the committed head of the log: the end of its leaf chain.
pub type Head = regledger::entry::chain::ChainHead;

/// StoreError is a storage failure. Every variant means nothing of the
/// failed transaction was committed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Database: redb refused (I/O error, full disk, corruption). After an
    /// I/O error the handle stays refused until [`Store::reopen`].
    #[error("storage: {0}")]
    Database(#[from] redb::Error),
    /// Closed: the handle is being reopened after a storage error.
    #[error("storage: the database is being reopened after a storage error")]
    Closed,
    /// MissingLeaf: a leaf below the committed size is not stored.
    #[error("storage: leaf {0} is missing")]
    MissingLeaf(u64),
    /// BadLeaf: stored leaf bytes do not parse.
    #[error("storage: entry {index}: {reason}")]
    BadEntry { index: u64, reason: String },
    #[error("storage: leaf {index}: {source}")]
    BadLeaf {
        /// index is the leaf's index.
        index: u64,
        /// source is why it does not parse.
        source: LeafError,
    },
    /// Tree: the stored hashes do not give what was asked (a missing hash,
    /// a size out of range).
    #[error("storage: {0}")]
    Tree(#[from] TreeError),
    /// NotNext: an append at another index than the store's size (a caller
    /// bug: entries are appended only at the end, in order).
    #[error("storage: entry {index} appended to a log of size {size}")]
    NotNext {
        /// index is the entry's index.
        index: u64,
        /// size is the store's size.
        size: u64,
    },
    /// Unreadable: a stored value does not decode.
    #[error("storage: the stored {0} is unreadable")]
    Unreadable(&'static str),
    /// Incomplete: a transaction whose append failed half-way was committed
    /// (a caller bug: it must be dropped).
    #[error("storage: the state map: {0}")]
    Map(String),
    #[error("storage: refusing to commit a transaction whose append failed")]
    Incomplete,
}

// redb has one error type per operation; they all become `Database`
// (each converts into `redb::Error`), so `?` works on every redb call.
impl From<redb::DatabaseError> for StoreError {
    fn from(e: redb::DatabaseError) -> Self {
        StoreError::Database(e.into())
    }
}
impl From<redb::TransactionError> for StoreError {
    fn from(e: redb::TransactionError) -> Self {
        StoreError::Database(e.into())
    }
}
impl From<redb::TableError> for StoreError {
    fn from(e: redb::TableError) -> Self {
        StoreError::Database(e.into())
    }
}
impl From<redb::StorageError> for StoreError {
    fn from(e: redb::StorageError) -> Self {
        StoreError::Database(e.into())
    }
}
impl From<redb::CommitError> for StoreError {
    fn from(e: redb::CommitError) -> Self {
        StoreError::Database(e.into())
    }
}
impl From<redb::SetDurabilityError> for StoreError {
    fn from(e: redb::SetDurabilityError) -> Self {
        StoreError::Database(e.into())
    }
}

/// Store is the open database. After an I/O error redb refuses every
/// further transaction on that handle (its page cache may no longer match
/// the disk), so the store can be reopened in place: the durable state on
/// disk is the truth, exactly as after a crash.
pub struct Store {
    path: PathBuf,
    db: RwLock<Option<Arc<Database>>>,
    /// quick_repair makes every commit save redb's allocator state (and
    /// commit in two phases), so opening after a crash takes milliseconds
    /// instead of a walk over the whole file (decision D11).
    quick_repair: bool,
    /// pinned is the snapshot at the served checkpoint's size (see
    /// [`Store::pin`]): status proofs are made from it.
    pinned: RwLock<Option<Arc<ReadTx>>>,
}

/// begin starts a durable write transaction (fsync at commit).
fn begin(db: &Database, quick_repair: bool) -> Result<WriteTransaction, StoreError> {
    let mut tx = db.begin_write()?;
    tx.set_durability(Durability::Immediate)?;
    tx.set_quick_repair(quick_repair);
    Ok(tx)
}

impl Store {
    /// open opens (or creates) the database file and its tables, with quick repair.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] if the file cannot be opened or created, or a
    /// pre-D12 store's migration fails.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, true)
    }

    /// open_with opens (or creates) the database file and its tables; `quick_repair` as in [`Store::quick_repair`].
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    pub fn open_with(path: &Path, quick_repair: bool) -> Result<Store, StoreError> {
        Ok(Store {
            path: path.to_path_buf(),
            db: RwLock::new(Some(Arc::new(Self::open_db(path, quick_repair)?))),
            quick_repair,
            pinned: RwLock::new(None),
        })
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
            tx.open_multimap_table(SUBJECTS)?;
            tx.open_table(CHECKPOINTS)?;
            tx.open_table(ENVELOPES)?;
            tx.open_table(STATE_MAP)?;
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

    /// read begins a read transaction: a consistent snapshot of the log.
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`] while the handle is reopened, or
    /// [`StoreError::Database`].
    /// pin keeps `view`, a snapshot at the size of the checkpoint just
    /// served, for status proofs (D15): the state map keeps only its
    /// current nodes, and a proof must be against leaf N−1's root, so the
    /// node proves from the redb read transaction it published size N
    /// from (MVCC: writers go on; the pages it pins are freed when the next
    /// checkpoint replaces it). [`Store::reopen`] drops it first.
    pub fn pin(&self, view: ReadTx) {
        *self.pinned.write().expect("pin lock") = Some(Arc::new(view));
    }

    /// pinned returns the snapshot [`Store::pin`] kept, if any.
    pub fn pinned(&self) -> Option<Arc<ReadTx>> {
        self.pinned.read().expect("pin lock").clone()
    }

    pub fn read(&self) -> Result<ReadTx, StoreError> {
        let txn = self.db()?.begin_read()?;
        Ok(ReadTx {
            leaves: txn.open_table(LEAVES)?,
            hashes: txn.open_table(HASHES)?,
            state: txn.open_table(STATE)?,
            meta: txn.open_table(META)?,
            envelopes: txn.open_table(ENVELOPES)?,
            map: txn.open_table(STATE_MAP)?,
            txn,
        })
    }

    /// write begins a durable write transaction (redb has one writer at a
    /// time: this waits for the current one).
    ///
    /// # Errors
    ///
    /// As [`Store::read`].
    pub fn write(&self) -> Result<WriteTx, StoreError> {
        let tx = begin(self.db()?.as_ref(), self.quick_repair)?;
        let head = head_of(&tx.open_table(META)?)?;
        Ok(WriteTx {
            tx,
            head,
            moved: false,
            failed: false,
            map_changes: Default::default(),
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

    /// head returns the committed head.
    ///
    /// # Errors
    ///
    /// As [`Store::read`].
    pub fn head(&self) -> Result<Head, StoreError> {
        self.read()?.head()
    }
}

/// ReadTx is a consistent snapshot of the log, for the read API, the
/// publisher and the followers. It holds redb's read transaction: a
/// long-lived one keeps old pages from being reused, so drop it when done.
pub struct ReadTx {
    leaves: ReadOnlyTable<u64, &'static [u8]>,
    hashes: ReadOnlyTable<u64, [u8; 32]>,
    state: ReadOnlyTable<&'static str, &'static [u8]>,
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
    envelopes: ReadOnlyTable<u64, &'static [u8]>,
    map: ReadOnlyTable<&'static [u8], &'static [u8]>,
    txn: ReadTransaction,
}

impl ReadTx {
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
        Ok(self.leaves.get(index)?.map(|v| v.value().to_vec()))
    }

    /// envelope returns the envelope stored beside v2 leaf `index` (None
    /// for a v1 leaf, which holds its own, or one not stored).
    pub fn envelope(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.envelopes.get(index)?.map(|v| v.value().to_vec()))
    }

    /// entry returns leaf `index` opened with its envelope (inline or
    /// beside it), checked against the leaf's envelope hash.
    pub fn entry(
        &self,
        suite: HashSuite,
        index: u64,
    ) -> Result<regledger::entry::leaf::Opened, StoreError> {
        let leaf = self.leaf(index)?.ok_or(StoreError::MissingLeaf(index))?;
        let env = self.envelope(index)?;
        regledger::entry::leaf::open_entry(suite, &leaf, env.as_deref()).map_err(|e| {
            StoreError::BadEntry {
                index,
                reason: e.to_string(),
            }
        })
    }

    /// state_map returns the state map as of this snapshot (for proofs).
    pub fn state_map(
        &self,
        suite: HashSuite,
    ) -> regledger::statemap::StateMap<impl regledger::statemap::NodeReader + '_> {
        regledger::statemap::StateMap::new(suite, MapNodes(&self.map))
    }

    /// state_value returns the committed value of `key` (the record
    /// bytes the state map's value hash covers), if the object exists.
    pub fn state_value(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StoreError> {
        let k = key.to_string();
        Ok(self
            .state
            .get(k.as_str())?
            .map(|v| v.value().to_vec())
            .filter(|v| is_record(v)))
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
        Ok(tree_hash(suite, size, &Hashes(&self.hashes))?)
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
impl HashReader for ReadTx {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        Hashes(&self.hashes).read_hashes(indexes)
    }
}

/// A snapshot reads the registry state.
impl StateReader for ReadTx {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        state_get(&self.state, key)
    }
}

/// WriteTx is one atomic, durable change to the log. Dropping it without
/// [`WriteTx::commit`] writes nothing.
pub struct WriteTx {
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
}

impl WriteTx {
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
    pub fn appender(&mut self, suite: HashSuite) -> Result<Appender<'_>, StoreError> {
        Appender::open(
            &self.tx,
            suite,
            &mut self.head,
            &mut self.moved,
            &mut self.failed,
            &mut self.map_changes,
        )
    }

    /// root_at returns the root of the first `size` leaves, this transaction's appends included.
    ///
    /// # Errors
    ///
    /// [`StoreError::Tree`] if `size` is past the stored hashes.
    pub fn root_at(&self, suite: HashSuite, size: u64) -> Result<Hash, StoreError> {
        Ok(tree_hash(
            suite,
            size,
            &Hashes(&self.tx.open_table(HASHES)?),
        )?)
    }

    /// witness_checkpoint is [`ReadTx::witness_checkpoint`] inside this transaction.
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
        self.tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
