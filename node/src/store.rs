//! The node's durable state: one redb file holding leaves, stored Merkle
//! hashes, registry state, indexes and checkpoints. Every write goes through
//! one write transaction committed with `Durability::Immediate` (fsync).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redb::{
    Database, Durability, MultimapTableDefinition, ReadOnlyTable, ReadTransaction,
    ReadableDatabase, ReadableTable, TableDefinition, TableHandle, WriteTransaction,
};
use regledger::registry::{StateKey, StateObject, StateReader};
use regledger::tlog::tree::{HashReader, TreeError};
use regledger::Hash;

/// LEAVES maps index → leaf bytes.
pub const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("leaves");
/// HASHES maps stored-hash index → hash (Go tlog layout).
pub const HASHES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("hashes");
/// STATE maps registry state key → JSON object.
pub const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
/// META holds the log's scalars (see the `M_*` keys).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// CONTENT_IDS maps an entry's content id ([`regledger::entry::envelope::Envelope::content_id`],
/// SHA-256 of what its signatures sign) → the index that logged it, to refuse replays (D12).
pub const CONTENT_IDS: TableDefinition<[u8; 32], u64> = TableDefinition::new("content_ids");
/// LEGACY_DIGESTS is the replay table of nodes before D12 (SHA-256 of the whole
/// envelope, signatures included): its presence means [`CONTENT_IDS`] must be
/// built from the leaves; it is deleted once that is done.
const LEGACY_DIGESTS: TableDefinition<[u8; 32], u64> = TableDefinition::new("digests");
/// MIGRATION_CHUNK is how many leaves one migration transaction indexes.
const MIGRATION_CHUNK: u64 = 65_536;
/// SUBJECTS maps a subject id → indexes of the entries concerning it.
pub const SUBJECTS: MultimapTableDefinition<&str, u64> = MultimapTableDefinition::new("subjects");
/// CHECKPOINTS maps size → the signed checkpoint note published for it.
pub const CHECKPOINTS: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");

/// M_SIZE is the committed tree size (u64 BE).
pub const M_SIZE: &str = "size";
/// M_LAST_HASH is the last leaf hash.
pub const M_LAST_HASH: &str = "last_leaf_hash";
/// M_LAST_TIME is the last integrated time (u64 BE ms).
pub const M_LAST_TIME: &str = "last_time_ms";
/// M_CHECKPOINT is the latest published checkpoint note.
pub const M_CHECKPOINT: &str = "checkpoint";
/// M_TILES_SIZE is the tree size the tile directory is complete for.
pub const M_TILES_SIZE: &str = "tiles_size";
/// M_CONTENT_IDS_BUILT is, while a pre-D12 store is migrated, how many
/// leaves [`CONTENT_IDS`] already holds (u64 BE); absent otherwise.
const M_CONTENT_IDS_BUILT: &str = "content_ids_built";

/// StoreError is a storage failure.
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub String);

macro_rules! from_err {
    ($($t:ty),*) => {$(impl From<$t> for StoreError { fn from(e: $t) -> Self { StoreError(e.to_string()) } })*};
}
from_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
    std::io::Error
);

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
}

/// Head is the committed head of the log: the end of its leaf chain.
pub type Head = regledger::entry::chain::ChainHead;

fn u64_of(b: &[u8]) -> u64 {
    b.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

impl Store {
    /// open opens (or creates) the database file and its tables, with quick repair.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, true)
    }

    /// open_with opens (or creates) the database file and its tables; `quick_repair` as in [`Store::quick_repair`].
    pub fn open_with(path: &Path, quick_repair: bool) -> Result<Store, StoreError> {
        Ok(Store {
            path: path.to_path_buf(),
            db: RwLock::new(Some(Arc::new(Self::open_db(path, quick_repair)?))),
            quick_repair,
        })
    }

    /// open_db opens the file (recovering after a crash) and makes sure every table exists.
    fn open_db(path: &Path, quick_repair: bool) -> Result<Database, StoreError> {
        let db = Database::builder().set_cache_size(256 << 20).create(path)?;
        let tx = Self::begin(&db, quick_repair)?;
        {
            tx.open_table(LEAVES)?;
            tx.open_table(HASHES)?;
            tx.open_table(STATE)?;
            tx.open_table(META)?;
            tx.open_table(CONTENT_IDS)?;
            tx.open_multimap_table(SUBJECTS)?;
            tx.open_table(CHECKPOINTS)?;
        }
        tx.commit()?;
        Self::migrate_content_ids(&db, quick_repair, MIGRATION_CHUNK)?;
        Ok(db)
    }

    /// migrate_content_ids builds [`CONTENT_IDS`] from the leaves of a store
    /// written before D12, whose replay table held whole-envelope digests
    /// (which a re-signed or co-signed copy escapes). Every logged entry is
    /// protected again before the node serves: there is no window in which
    /// an old entry can be replayed. It runs in chunks of
    /// [`MIGRATION_CHUNK`] leaves, one durable transaction each, with its
    /// progress in META, so a crash resumes it; the old table goes in the
    /// last transaction. A content logged twice by an old node keeps its
    /// first index (the audit reports the second).
    fn migrate_content_ids(
        db: &Database,
        quick_repair: bool,
        chunk: u64,
    ) -> Result<(), StoreError> {
        loop {
            let tx = Self::begin(db, quick_repair)?;
            let legacy = tx.list_tables()?.any(|t| t.name() == LEGACY_DIGESTS.name());
            if !legacy {
                return Ok(());
            }
            let done = {
                let leaves = tx.open_table(LEAVES)?;
                let mut ids = tx.open_table(CONTENT_IDS)?;
                let mut meta = tx.open_table(META)?;
                let size = head_of(&meta)?.size;
                let from = meta_u64(&meta, M_CONTENT_IDS_BUILT)?;
                let to = size.min(from.saturating_add(chunk));
                for i in from..to {
                    let bytes = leaves
                        .get(i)?
                        .ok_or_else(|| StoreError(format!("leaf {i} is missing")))?;
                    let leaf = regledger::entry::leaf::Leaf::parse(bytes.value())
                        .map_err(|e| StoreError(format!("leaf {i}: {e}")))?;
                    let id = leaf.envelope.content_id();
                    if let Some(first) = ids.get(id)?.map(|v| v.value()) {
                        if first != i {
                            tracing::warn!(
                                "entry {i} replays the signed content of entry {first} (logged before replay identity was the signed content)"
                            );
                            continue;
                        }
                    }
                    ids.insert(id, i)?;
                }
                meta.insert(M_CONTENT_IDS_BUILT, to.to_be_bytes().as_slice())?;
                if to == size {
                    meta.remove(M_CONTENT_IDS_BUILT)?;
                }
                tracing::info!("replay table migration (D12): {to} of {size} entries indexed");
                to == size
            };
            if done {
                tx.delete_table(LEGACY_DIGESTS)?;
            }
            tx.commit()?;
        }
    }

    /// begin starts a durable write transaction (fsync at commit).
    fn begin(db: &Database, quick_repair: bool) -> Result<WriteTransaction, StoreError> {
        let mut tx = db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        tx.set_quick_repair(quick_repair);
        Ok(tx)
    }

    fn db(&self) -> Result<Arc<Database>, StoreError> {
        self.db.read().expect("store lock").clone().ok_or_else(|| {
            StoreError("the database is being reopened after a storage error".into())
        })
    }

    /// write begins a durable write transaction.
    pub fn write(&self) -> Result<WriteTransaction, StoreError> {
        Self::begin(self.db()?.as_ref(), self.quick_repair)
    }

    /// read begins a read transaction (a consistent snapshot).
    pub fn read(&self) -> Result<ReadTransaction, StoreError> {
        Ok(self.db()?.begin_read()?)
    }

    /// reopen closes the handle and opens the file again, recovering the
    /// last durable commit. Transactions still open on the old handle keep
    /// the file locked, so it retries for a few seconds; on failure the
    /// store stays closed and the next call tries again.
    pub fn reopen(&self) -> Result<(), StoreError> {
        let mut g = self.db.write().expect("store lock");
        g.take();
        let mut last = StoreError("not reopened".into());
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
    pub fn head(&self) -> Result<Head, StoreError> {
        let r = self.read()?;
        head_of(&r.open_table(META)?)
    }
}

/// head_of reads the head from the META table.
pub fn head_of(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Head, StoreError> {
    let size = meta.get(M_SIZE)?.map(|v| u64_of(v.value())).unwrap_or(0);
    let last_leaf_hash = meta
        .get(M_LAST_HASH)?
        .and_then(|v| Hash::from_slice(v.value()))
        .unwrap_or_default();
    let last_time_ms = meta
        .get(M_LAST_TIME)?
        .map(|v| u64_of(v.value()))
        .unwrap_or(0);
    Ok(Head {
        size,
        last_leaf_hash,
        last_time_ms,
    })
}

/// meta_str reads a string from META.
pub fn meta_str(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<String>, StoreError> {
    Ok(meta
        .get(key)?
        .map(|v| String::from_utf8_lossy(v.value()).into_owned()))
}

/// meta_u64 reads a u64 from META.
pub fn meta_u64(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<u64, StoreError> {
    Ok(meta.get(key)?.map(|v| u64_of(v.value())).unwrap_or(0))
}

/// Hashes reads stored hashes from any readable HASHES table.
pub struct Hashes<'a, T: ReadableTable<u64, [u8; 32]>>(pub &'a T);

impl<T: ReadableTable<u64, [u8; 32]>> HashReader for Hashes<'_, T> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        indexes
            .iter()
            .map(|&i| match self.0.get(i) {
                Ok(Some(v)) => Ok(Hash(v.value())),
                Ok(None) => Err(TreeError::MissingHash(i)),
                Err(e) => Err(TreeError::Storage(e.to_string())),
            })
            .collect()
    }
}

/// State reads registry objects from any readable STATE table.
pub struct State<'a, T: ReadableTable<&'static str, &'static [u8]>>(pub &'a T);

impl<T: ReadableTable<&'static str, &'static [u8]>> StateReader for State<'_, T> {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        let k = key.to_string();
        let v = self.0.get(k.as_str()).ok()??;
        serde_json::from_slice(v.value()).ok()
    }
}

/// ReadView is a snapshot for the read API.
pub struct ReadView {
    /// leaves is the LEAVES table.
    pub leaves: ReadOnlyTable<u64, &'static [u8]>,
    /// hashes is the HASHES table.
    pub hashes: ReadOnlyTable<u64, [u8; 32]>,
    /// state is the STATE table.
    pub state: ReadOnlyTable<&'static str, &'static [u8]>,
    /// meta is the META table.
    pub meta: ReadOnlyTable<&'static str, &'static [u8]>,
    /// txn keeps the snapshot alive.
    pub txn: ReadTransaction,
}

impl Store {
    /// view opens a consistent snapshot of the main tables.
    pub fn view(&self) -> Result<ReadView, StoreError> {
        let txn = self.read()?;
        Ok(ReadView {
            leaves: txn.open_table(LEAVES)?,
            hashes: txn.open_table(HASHES)?,
            state: txn.open_table(STATE)?,
            meta: txn.open_table(META)?,
            txn,
        })
    }
}

impl ReadView {
    /// leaf returns leaf bytes at index.
    pub fn leaf(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.leaves.get(index)?.map(|v| v.value().to_vec()))
    }

    /// objects returns the registry objects whose state key starts with
    /// `prefix` (e.g. "product/"), in key order, at most `limit` (the public site's lists).
    pub fn objects(&self, prefix: &str, limit: usize) -> Result<Vec<StateObject>, StoreError> {
        let mut out = Vec::new();
        for kv in self.state.range(prefix..)? {
            let (k, v) = kv?;
            if !k.value().starts_with(prefix) || out.len() >= limit {
                break;
            }
            if let Ok(o) = serde_json::from_slice(v.value()) {
                out.push(o);
            }
        }
        Ok(out)
    }

    /// subjects returns the indexes concerning `subject`, at most `limit`.
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
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use regledger::testkit::{chain, Testkit};
    use regledger::HashSuite;

    /// old_store writes `leaves` the way a node before D12 did: a META
    /// head and a replay table of whole-envelope digests, no CONTENT_IDS.
    pub(crate) fn old_store(path: &Path, leaves: &[regledger::entry::leaf::Leaf]) {
        let db = Database::create(path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut l = tx.open_table(LEAVES).unwrap();
            let mut d = tx.open_table(LEGACY_DIGESTS).unwrap();
            let mut m = tx.open_table(META).unwrap();
            for (i, leaf) in leaves.iter().enumerate() {
                l.insert(i as u64, leaf.to_bytes().as_slice()).unwrap();
                d.insert(leaf.envelope.digest(), i as u64).unwrap();
            }
            m.insert(M_SIZE, (leaves.len() as u64).to_be_bytes().as_slice())
                .unwrap();
            if let Some(last) = leaves.last() {
                m.insert(
                    M_LAST_TIME,
                    last.integrated_time_ms.to_be_bytes().as_slice(),
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }

    fn tables(db: &Database) -> Vec<String> {
        let r = db.begin_write().unwrap();
        let v = r
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_string())
            .collect();
        r.abort().unwrap();
        v
    }

    fn content_ids(store: &Store) -> Vec<([u8; 32], u64)> {
        let r = store.read().unwrap();
        let t = r.open_table(CONTENT_IDS).unwrap();
        t.iter()
            .unwrap()
            .map(|x| {
                let (k, v) = x.unwrap();
                (k.value(), v.value())
            })
            .collect()
    }

    #[test]
    fn an_old_store_gets_every_logged_content_protected_at_open() {
        let kit = Testkit::new("store.test/migrate");
        let mut steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
        // An old node let a re-signed copy in: the last entry is entry 17's
        // content (the suspension) with a second signature appended.
        let n = steps.len();
        let mut copy = steps[17].clone();
        copy.envelope
            .signatures
            .push(copy.envelope.signatures[0].clone());
        copy.time_ms = steps.last().unwrap().time_ms + 1;
        steps.push(copy);
        let leaves = chain(HashSuite::Blake3, &steps);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.redb");
        old_store(&path, &leaves);

        let store = Store::open(&path).unwrap();
        let mut want: Vec<([u8; 32], u64)> = leaves[..n]
            .iter()
            .enumerate()
            .map(|(i, l)| (l.envelope.content_id(), i as u64))
            .collect();
        want.sort();
        assert_eq!(content_ids(&store), want, "every entry, first index kept");
        let db = store.db().unwrap();
        assert!(!tables(&db).contains(&"digests".to_string()));
        let r = store.read().unwrap();
        assert_eq!(
            meta_u64(&r.open_table(META).unwrap(), M_CONTENT_IDS_BUILT).unwrap(),
            0
        );
        assert_eq!(store.head().unwrap().size, n as u64 + 1);
        drop(r);
        drop(db);
        // Opening again finds nothing to do.
        store.reopen().unwrap();
        assert_eq!(content_ids(&store), want);
    }

    #[test]
    fn an_interrupted_migration_resumes_where_it_stopped() {
        let kit = Testkit::new("store.test/resume");
        let leaves = chain(
            HashSuite::Blake3,
            &kit.lifecycle(HashSuite::Blake3, "guangxi"),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.redb");
        old_store(&path, &leaves);
        let db = Database::create(&path).unwrap();
        // As if a crash had stopped it after 7 leaves: the progress key says
        // 7, CONTENT_IDS holds 0..7, the old table is still there.
        {
            let tx = db.begin_write().unwrap();
            {
                let mut ids = tx.open_table(CONTENT_IDS).unwrap();
                for (i, l) in leaves[..7].iter().enumerate() {
                    ids.insert(l.envelope.content_id(), i as u64).unwrap();
                }
                tx.open_table(META)
                    .unwrap()
                    .insert(M_CONTENT_IDS_BUILT, 7u64.to_be_bytes().as_slice())
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        // Small chunks: several transactions.
        Store::migrate_content_ids(&db, false, 3).unwrap();
        assert!(!tables(&db).contains(&"digests".to_string()));
        drop(db);
        let store = Store::open(&path).unwrap();
        let mut want: Vec<([u8; 32], u64)> = leaves
            .iter()
            .enumerate()
            .map(|(i, l)| (l.envelope.content_id(), i as u64))
            .collect();
        want.sort();
        assert_eq!(content_ids(&store), want);
    }

    #[test]
    fn a_new_store_has_no_legacy_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("ledger.redb")).unwrap();
        let db = store.db().unwrap();
        let t = tables(&db);
        assert!(t.contains(&"content_ids".to_string()), "{t:?}");
        assert!(!t.contains(&"digests".to_string()), "{t:?}");
    }
}
