//! The node's durable state behind a narrow API, with one driver per
//! engine (decision D20): redb, the embedded default (store/redb/), and
//! PostgreSQL (store/postgres/), for a node whose state must outlive its
//! machine. Every write is one transaction, durable at commit (redb:
//! fsync; PostgreSQL: `synchronous_commit = on`).
//!
//! # The boundary
//!
//! Nothing outside this module sees a table. A driver gives these methods
//! their meaning, and nothing else:
//!
//! - [`Store`]: `open`, `open_with`, `reopen`, `is_open`, `head`, `read`,
//!   `write`. After an I/O error the handle is refused and `reopen` recovers
//!   the last durable commit, exactly as after a crash.
//! - [`ReadTx`], a consistent snapshot: `head`, `size`, `leaf`, `leaves`,
//!   `objects`, `subjects`, `root_at`, the stored hashes as a
//!   [`HashReader`] (proofs and tiles), the registry state as a
//!   [`StateReader`], and the named values `published_checkpoint`,
//!   `tiles_size`, `witness_checkpoint`, `verifying_checkpoint`,
//!   `cosigned_size`, `webhook_delivered`.
//! - [`WriteTx`], one atomic, durable change: `head`, `appender` (the log's
//!   one append path, [`Appender`]), `root_at`, `witness_checkpoint`, the
//!   setters of the named values, and `commit`. Dropping it without `commit`
//!   writes nothing.
//! - [`Appender`] (append.rs): `head`, `logged_at` (the replay index), `state`,
//!   `root_at`, `next_root` and `append_entry`, which writes one entry's leaf, stored
//!   hashes, state writes, subject index rows and content id and advances
//!   the head. The sequencer and the mirror both append through it, so what
//!   makes an entry part of the log is written once.
//!
//! The callers keep the rules: the leaf chain ([`regledger::entry::chain`])
//! and the registry ([`regledger::registry::apply`]) are checked before
//! `append_entry`; the store only refuses an entry that is not at its end.
//!
//! # Dispatch
//!
//! The driver is chosen at run time (`--store`), so the types here are
//! enums over the drivers' types and every method is one `match` (the
//! `each!` macro): no generic parameter reaches a handler. A new table
//! (say, a state-map node table) is one method per driver plus its line
//! here; nothing outside the store changes.
//!
//! This file is long (about 780 lines) because it *is* the boundary: every
//! method of the four types, with its contract, one dispatch arm per
//! driver. Splitting it would scatter the one list a driver author reads.
//! The append contract, the one piece of logic the drivers share, is in
//! `append.rs`.

mod archive;
mod cache;
mod postgres;
pub(crate) mod redb;

pub use self::append::{gap_effects, Appender};
pub use self::archive::{bundle_root, check_bundle, check_envelope, Archivable, Archive};

use regledger::entry::leaf::LeafError;
use regledger::registry::{StateKey, StateObject, StateReader};
use regledger::tlog::tree::{HashReader, TreeError};
use regledger::{Hash, HashSuite};

pub use self::postgres::{PgAppender, PgRead, PgStore, PgWrite};
pub use self::redb::{RedbAppender, RedbRead, RedbStore, RedbWrite};

/// Head is the committed head of the log: the end of its leaf chain.
pub type Head = regledger::entry::chain::ChainHead;

/// RecordFn is called with each committed state record: key, record bytes.
pub type RecordFn<'a> = dyn FnMut(&str, &[u8]) -> Result<(), StoreError> + 'a;

/// ContentIdFn is called with each entry's content id and index.
pub type ContentIdFn<'a> = dyn FnMut(&[u8; 32], u64) -> Result<(), StoreError> + 'a;

/// StoreError is a storage failure. Every variant means nothing of the
/// failed transaction was committed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Database: redb refused (I/O error, full disk, corruption). After an
    /// I/O error the handle stays refused until [`Store::reopen`].
    #[error("storage: {0}")]
    Database(#[from] ::redb::Error),
    /// Closed: the handle is being reopened after a storage error.
    #[error("storage: the database is being reopened after a storage error")]
    Closed,
    /// MissingLeaf: a leaf below the committed size is not stored.
    #[error("storage: leaf {0} is missing")]
    MissingLeaf(u64),
    /// BadEntry: a stored leaf and its envelope do not open together.
    #[error("storage: entry {index}: {reason}")]
    BadEntry {
        /// index is the leaf's index.
        index: u64,
        /// reason says what does not match.
        reason: String,
    },
    /// BadLeaf: stored leaf bytes do not parse.
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
    /// Prune: a `retention-pruned` entry names an entry that is not an
    /// operation event of its agreement still held (the node refuses such
    /// an entry before it appends it; a mirror finds it in the log: the
    /// log's fault). Nothing of the transaction commits.
    #[error("storage: {0}")]
    Prune(regledger::registry::RuleViolation),
    /// Unreadable: a stored value does not decode.
    #[error("storage: the stored {0} is unreadable")]
    Unreadable(&'static str),
    /// Postgres: PostgreSQL refused or could not be reached (the message
    /// and SQLSTATE are the server's). The transaction was rolled back.
    #[error("storage (PostgreSQL): {0}")]
    Postgres(String),
    /// NotLeader: this node is a standby (another node of the log holds
    /// the lease); nothing was written.
    #[error("storage: this node is a standby, not the leader")]
    NotLeader,
    /// Fenced: the lease moved to another node (token `current`) since
    /// this one took it (token `mine`); nothing was written and this node
    /// stands down.
    #[error("storage: fenced: the leader's token is {current}, this node's was {mine}")]
    Fenced {
        /// mine is this node's token.
        mine: i64,
        /// current is the leader's.
        current: i64,
    },
    /// Archive: an entry bundle that is the only copy of its entries (D29)
    /// is missing or damaged; nothing is served from it.
    #[error(
        "storage: {path} (the only copy of entries {first}..{}, D29) is missing or damaged: {reason}; \
         restore that file from a mirror, the bucket or a backup of tiles/ (docs/operator.md, \"Repairing tiles\")",
        first + 256
    )]
    Archive {
        /// path is the bundle's tile path.
        path: String,
        /// first is the index of its first entry.
        first: u64,
        /// reason says what is wrong with it.
        reason: String,
    },
    /// Map: the stored state map is unreadable.
    #[error("storage: the state map: {0}")]
    Map(String),
    /// Incomplete: a transaction whose append failed half-way was committed
    /// (a caller bug: it must be dropped).
    #[error("storage: refusing to commit a transaction whose append failed")]
    Incomplete,
}

// redb has one error type per operation; they all become `Database`
// (each converts into `redb::Error`), so `?` works on every redb call.
macro_rules! from_redb {
    ($($t:ident),*) => {$(
        impl From<::redb::$t> for StoreError {
            fn from(e: ::redb::$t) -> Self {
                StoreError::Database(e.into())
            }
        }
    )*};
}
from_redb!(
    DatabaseError,
    TransactionError,
    TableError,
    StorageError,
    CommitError,
    SetDurabilityError
);

/// each runs `$e` on the driver value inside `$s` (bound to `$v`).
macro_rules! each {
    ($s:expr, $v:ident => $e:expr) => {
        match $s {
            Self::Redb($v) => $e,
            Self::Postgres($v) => $e,
        }
    };
}

// After `each!`, which it uses (a macro is in scope only below its definition).
mod append;

/// Store is the open store of one driver.
pub enum Store {
    /// Redb: the embedded file `ledger.redb`.
    Redb(RedbStore),
    /// Postgres: a PostgreSQL database.
    Postgres(PgStore),
}

/// StoreSpec says where a node's store is (`--store`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSpec {
    /// Redb: the file `ledger.redb` in the data directory.
    Redb {
        /// path is the file.
        path: std::path::PathBuf,
        /// quick_repair as in redb's driver (D11).
        quick_repair: bool,
    },
    /// Postgres: a `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl StoreSpec {
    /// parse reads `--store`: absent or `redb` is the file at `redb_path`,
    /// `postgres://...`/`postgresql://...` a PostgreSQL database.
    ///
    /// # Errors
    ///
    /// A message naming what is accepted, for anything else.
    pub fn parse(
        arg: Option<&str>,
        redb_path: &std::path::Path,
        quick_repair: bool,
    ) -> Result<StoreSpec, String> {
        match arg {
            None | Some("redb") => Ok(StoreSpec::Redb {
                path: redb_path.to_path_buf(),
                quick_repair,
            }),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(StoreSpec::Postgres(u.to_string()))
            }
            Some(other) => Err(format!(
                "--store {other:?}: expected redb (the default) or a postgres:// URL"
            )),
        }
    }

    /// describe names the store for messages, without credentials.
    pub fn describe(&self) -> String {
        match self {
            StoreSpec::Redb { path, .. } => path.display().to_string(),
            StoreSpec::Postgres(u) => match u.rsplit_once('@') {
                Some((_, host)) => format!("postgres://...@{host}"),
                None => u.clone(),
            },
        }
    }
}

impl Store {
    /// open opens (or creates) the redb file at `path`, with quick repair.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] if the file cannot be opened or created, or a
    /// pre-D12 store's migration fails.
    pub fn open(path: &std::path::Path) -> Result<Store, StoreError> {
        Ok(Store::Redb(RedbStore::open(path)?))
    }

    /// open_spec opens (or creates) the store `spec` names.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn open_spec(spec: &StoreSpec) -> Result<Store, StoreError> {
        Ok(match spec {
            StoreSpec::Redb { path, quick_repair } => {
                Store::Redb(RedbStore::open_with(path, *quick_repair)?)
            }
            StoreSpec::Postgres(url) => Store::Postgres(PgStore::open(url)?),
        })
    }

    /// with_archive makes the full entry and envelope bundles in `tiles_dir`
    /// the store of record of the entries they hold (D29): the redb driver
    /// drops their rows ([`WriteTx::archive_below`]) and reads them from
    /// the bundles, each checked against the tree. The PostgreSQL driver
    /// keeps every row: its database is the copy that outlives a machine,
    /// and each node's tile directory is only that node's.
    pub fn with_archive(self, tiles_dir: &std::path::Path, suite: HashSuite) -> Store {
        match self {
            Store::Redb(s) => Store::Redb(s.with_archive(tiles_dir, suite)),
            pg @ Store::Postgres(_) => pg,
        }
    }

    /// read begins a read transaction: a consistent snapshot of the log.
    ///
    /// # Errors
    ///
    /// [`StoreError::Closed`] while the handle is reopened, or the driver's error.
    pub fn read(&self) -> Result<ReadTx, StoreError> {
        Ok(match self {
            Store::Redb(s) => ReadTx::Redb(s.read()?),
            Store::Postgres(s) => ReadTx::Postgres(s.read()?),
        })
    }

    /// write begins a durable write transaction (one writer at a time:
    /// this waits for the current one).
    ///
    /// # Errors
    ///
    /// As [`Store::read`].
    pub fn write(&self) -> Result<WriteTx, StoreError> {
        Ok(match self {
            Store::Redb(s) => WriteTx::Redb(s.write()?),
            Store::Postgres(s) => WriteTx::Postgres(s.write()?),
        })
    }

    /// reopen closes the handle and opens it again, recovering the last
    /// durable commit; on failure the store stays closed and the next call
    /// tries again.
    ///
    /// # Errors
    ///
    /// The last open's error.
    pub fn reopen(&self) -> Result<(), StoreError> {
        each!(self, s => s.reopen())
    }

    /// is_open reports whether the handle is usable.
    pub fn is_open(&self) -> bool {
        each!(self, s => s.is_open())
    }

    /// is_leader says whether this node may write: always, unless it is one
    /// of several candidates sharing a PostgreSQL database and does not
    /// hold the lease.
    pub fn is_leader(&self) -> bool {
        match self {
            Store::Redb(_) => true,
            Store::Postgres(s) => s.is_leader(),
        }
    }

    /// check_leader checks in the database that this node still holds the
    /// lease (a no-op without one).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotLeader`], [`StoreError::Fenced`], or the driver's error.
    pub fn check_leader(&self) -> Result<(), StoreError> {
        match self {
            Store::Redb(_) => Ok(()),
            Store::Postgres(s) => s.check_leader(),
        }
    }

    /// start_lease makes this node one of several candidate leaders of a
    /// log in one PostgreSQL database, named `holder`, with a lease of `ttl`.
    ///
    /// # Errors
    ///
    /// A message for the redb driver (one process owns its file).
    pub fn start_lease(&self, holder: String, ttl: std::time::Duration) -> Result<(), String> {
        match self {
            Store::Redb(_) => Err("--ha-lease-ms needs --store postgres://...".into()),
            Store::Postgres(s) => {
                s.start_lease(holder, ttl);
                Ok(())
            }
        }
    }

    /// head returns the committed head.
    ///
    /// # Errors
    ///
    /// As [`Store::read`].
    pub fn head(&self) -> Result<Head, StoreError> {
        self.read()?.head()
    }

    /// cache is the driver's committed state in memory (store/cache.rs).
    pub(crate) fn cache(&self) -> &cache::StateCache {
        each!(self, s => s.cache())
    }

    /// known_key returns the public key registered under `key_id`, if it
    /// is committed: from memory once read (no transaction, no round trip),
    /// else from a snapshot. For signature pre-verification on the request
    /// path: a key id names one key for good, and the rules check a
    /// pre-verified key against the one registered when they judge the
    /// entry. `None` also when the store cannot be read (the rules then
    /// verify the signature themselves).
    pub fn known_key(&self, key_id: &str) -> Option<regledger::crypto::PublicKey> {
        let token = match self {
            Store::Redb(_) => 0,
            Store::Postgres(s) => s.token(),
        };
        self.cache().key(key_id, token, || {
            regledger::registry::key_of(&self.read().ok()?, key_id)
        })
    }

    /// pin_slot is the driver's slot for the pinned snapshot.
    fn pin_slot(&self) -> &std::sync::RwLock<Option<std::sync::Arc<ReadTx>>> {
        each!(self, s => s.pin_slot())
    }

    /// pin keeps `view`, a snapshot at the size of the checkpoint just
    /// served, for status proofs (D15): the state map keeps only its
    /// current nodes, and a proof must be against leaf N−1's root, so the
    /// node proves from the snapshot it published size N from. One is kept
    /// at a time: the next checkpoint's replaces it, and
    /// [`Store::reopen`] drops it. On redb it is a read transaction (MVCC:
    /// writers go on; the pages it pins are freed when it is replaced); on
    /// PostgreSQL a `REPEATABLE READ` transaction holding one pooled
    /// connection, for at most one publishing interval (the server keeps
    /// the row versions it sees until then).
    pub fn pin(&self, view: ReadTx) {
        *self.pin_slot().write().expect("pin lock") = Some(std::sync::Arc::new(view));
    }

    /// pinned returns the snapshot [`Store::pin`] kept, if any.
    pub fn pinned(&self) -> Option<std::sync::Arc<ReadTx>> {
        self.pin_slot().read().expect("pin lock").clone()
    }
}

/// MapReader reads the state map's nodes from a [`ReadTx`] of either driver.
pub enum MapReader<'a> {
    /// Redb: the snapshot's `state_map` table.
    Redb(redb::tables::MapNodes<'a, ::redb::ReadOnlyTable<&'static [u8], &'static [u8]>>),
    /// Postgres: `regledger.state_map` in the snapshot's transaction.
    Postgres(postgres::PgMapNodes<'a>),
}

impl regledger::statemap::NodeReader for MapReader<'_> {
    fn read_root(&self) -> Result<regledger::statemap::Child, regledger::statemap::StoreError> {
        each!(self, m => m.read_root())
    }
    fn read_node(
        &self,
        id: &regledger::statemap::NodeId,
    ) -> Result<Option<regledger::statemap::InternalNode>, regledger::statemap::StoreError> {
        each!(self, m => m.read_node(id))
    }
}

/// ReadTx is a consistent snapshot of the log, for the read API, the
/// publisher and the followers. Drop it when done: a long-lived snapshot
/// holds back the engine's cleanup.
// One lives on the stack per transaction; boxing redb's (the default)
// would add an allocation to every read for no gain.
#[allow(clippy::large_enum_variant)]
pub enum ReadTx {
    /// Redb: a redb read transaction.
    Redb(RedbRead),
    /// Postgres: a repeatable-read, read-only transaction.
    Postgres(PgRead),
}

impl ReadTx {
    /// head returns the head in this snapshot.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn head(&self) -> Result<Head, StoreError> {
        each!(self, r => r.head())
    }

    /// size returns the committed tree size in this snapshot.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn size(&self) -> Result<u64, StoreError> {
        each!(self, r => r.size())
    }

    /// leaf returns the leaf bytes at `index`, `None` past the end.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn leaf(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        each!(self, r => r.leaf(index))
    }

    /// leaves returns the leaf bytes at `start..end`, in order; it stops at
    /// the first missing one (past the end).
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        each!(self, r => r.leaves(start, end))
    }

    /// envelope returns the envelope stored beside v2 leaf `index` (None
    /// for a v1 leaf, which holds its own, or one not stored).
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn envelope(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        each!(self, r => r.envelope(index))
    }

    /// envelopes returns the envelopes of entries `start..end`, one slot
    /// per entry ([`ReadTx::envelope`] of each): one range read on a
    /// database driver, for the publisher's envelope bundles.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn envelopes(&self, start: u64, end: u64) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        match self {
            ReadTx::Redb(r) => (start..end).map(|i| r.envelope(i)).collect(),
            ReadTx::Postgres(r) => r.envelopes(start, end),
        }
    }

    /// pruned_by returns the index of the `retention-pruned` entry that
    /// dropped the envelope of entry `index`, if one did (D22).
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn pruned_by(&self, index: u64) -> Result<Option<u64>, StoreError> {
        each!(self, r => r.pruned_by(index))
    }

    /// entry returns leaf `index` opened with its envelope (inline or
    /// beside it), checked against the leaf's envelope hash.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingLeaf`], [`StoreError::BadEntry`], or the driver's error.
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
    pub fn state_map(&self, suite: HashSuite) -> regledger::statemap::StateMap<MapReader<'_>> {
        let nodes = match self {
            ReadTx::Redb(r) => MapReader::Redb(r.map_nodes()),
            ReadTx::Postgres(r) => MapReader::Postgres(r.map_nodes()),
        };
        regledger::statemap::StateMap::new(suite, nodes)
    }

    /// state_value returns the committed value of `key` (the record
    /// bytes the state map's value hash covers), if the object exists.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn state_value(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StoreError> {
        each!(self, r => r.state_value(key))
    }

    /// state_records calls `f(key, record)` for every committed record
    /// (a state snapshot's registry objects).
    ///
    /// # Errors
    ///
    /// The driver's error, or what `f` returns.
    pub fn state_records(&self, f: &mut RecordFn<'_>) -> Result<(), StoreError> {
        each!(self, r => r.state_records(f))
    }

    /// content_ids calls `f(content id, index)` for every entry's content
    /// id (D12).
    ///
    /// # Errors
    ///
    /// The driver's error, or what `f` returns.
    pub fn content_ids(&self, f: &mut ContentIdFn<'_>) -> Result<(), StoreError> {
        each!(self, r => r.content_ids(f))
    }

    /// objects returns the registry objects whose state key starts with
    /// `prefix` (e.g. "product/"), in key order (bytewise), at most
    /// `limit`: the public site's lists. Objects that do not decode are
    /// skipped.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn objects(&self, prefix: &str, limit: usize) -> Result<Vec<StateObject>, StoreError> {
        each!(self, r => r.objects(prefix, limit))
    }

    /// subjects returns the indexes of the entries concerning `subject`, in
    /// order, at most `limit`.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn subjects(&self, subject: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        each!(self, r => r.subjects(subject, limit))
    }

    /// root_at returns the root of the first `size` leaves.
    ///
    /// # Errors
    ///
    /// [`StoreError::Tree`] if `size` is past the stored hashes.
    pub fn root_at(&self, suite: HashSuite, size: u64) -> Result<Hash, StoreError> {
        each!(self, r => r.root_at(suite, size))
    }

    /// published_checkpoint returns the latest published (served) checkpoint note.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn published_checkpoint(&self) -> Result<Option<String>, StoreError> {
        each!(self, r => r.published_checkpoint())
    }

    /// tiles_size returns the size the tile directory was last completed for (0 if never).
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn tiles_size(&self) -> Result<u64, StoreError> {
        each!(self, r => r.tiles_size())
    }

    /// archivable is how far entries can be archived once the tiles for
    /// `size` are durable: the full bundles the tile directory holds byte
    /// for byte as this snapshot's rows (D29; checked here, outside the
    /// write lock). Always 0 on PostgreSQL and without an archive.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn archivable(&self, size: u64) -> Result<Archivable, StoreError> {
        match self {
            ReadTx::Redb(r) => r.archivable(size).map(Archivable::checked),
            ReadTx::Postgres(_) => Ok(Archivable::checked(0)),
        }
    }

    /// inclusion_proof is the proof of entry `index` in the tree of `size`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Archive`], naming the file, if the proof needs hashes
    /// inside an archived bundle that is missing or damaged (see
    /// [`ReadTx::bundles_readable`]); otherwise the tree's or driver's.
    pub fn inclusion_proof(
        &self,
        suite: HashSuite,
        size: u64,
        index: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        self.bundles_readable(&[Some(index), last_in_bundle(size)])?;
        Ok(regledger::tlog::tree::prove_inclusion(
            suite, size, index, self,
        )?)
    }

    /// consistency_proof is the proof that the tree of `old` is a prefix of
    /// the tree of `new`.
    ///
    /// # Errors
    ///
    /// As [`ReadTx::inclusion_proof`].
    pub fn consistency_proof(
        &self,
        suite: HashSuite,
        old: u64,
        new: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        self.bundles_readable(&[last_in_bundle(old), last_in_bundle(new)])?;
        Ok(regledger::tlog::tree::prove_consistency(
            suite, old, new, self,
        )?)
    }

    /// bundles_readable is the archive's error if the bundle of one of
    /// `entries` is archived and missing or damaged. A proof of size N
    /// touching entry i needs hashes below level 8 only inside the bundle
    /// of i and, unless N ends a bundle, that of N−1 (elsewhere its hashes
    /// are whole bundles' and above, kept rows). Inside an archived bundle
    /// those are recomputed from it (D30), and the tree's error would carry
    /// only a string: so the bundle is read first (reading an archived leaf
    /// checks its whole bundle, D29) and a damaged one named.
    fn bundles_readable(&self, entries: &[Option<u64>]) -> Result<(), StoreError> {
        let archived = self.archived_below();
        for &i in entries.iter().flatten().filter(|&&i| i < archived) {
            if let Err(e @ StoreError::Archive { .. }) = self.leaf(i) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// archived_below is the index below which entries are read from the
    /// tile directory's full bundles (D29; see [`Store::with_archive`]):
    /// always a multiple of 256, and 0 on PostgreSQL, which keeps every row.
    pub fn archived_below(&self) -> u64 {
        match self {
            ReadTx::Redb(r) => r.archived_below(),
            ReadTx::Postgres(_) => 0,
        }
    }

    /// witness_checkpoint returns the latest checkpoint this node's witness endpoint cosigned.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn witness_checkpoint(&self) -> Result<Option<String>, StoreError> {
        each!(self, r => r.witness_checkpoint())
    }

    /// verifying_checkpoint returns the log-signed checkpoint a mirror's
    /// verified entries are a prefix of.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn verifying_checkpoint(&self) -> Result<Option<String>, StoreError> {
        each!(self, r => r.verifying_checkpoint())
    }

    /// cosigned_size returns the size the witness at `url` last cosigned for this node (0 if never).
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn cosigned_size(&self, url: &str) -> Result<u64, StoreError> {
        each!(self, r => r.cosigned_size(url))
    }

    /// webhook_delivered returns the id of the last event the webhook at
    /// `url` acknowledged (`None` if none, or if the stored id does not parse).
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn webhook_delivered(&self, url: &str) -> Result<Option<u64>, StoreError> {
        each!(self, r => r.webhook_delivered(url))
    }
}

/// last_in_bundle is the last entry of a tree of `size` whose proofs read
/// inside its bundle: none when `size` ends a bundle (or is 0).
fn last_in_bundle(size: u64) -> Option<u64> {
    (!size.is_multiple_of(regledger::tlog::tile::TILE_WIDTH)).then(|| size - 1)
}

/// A snapshot reads stored hashes for proofs and tiles.
impl HashReader for ReadTx {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        each!(self, r => r.read_hashes(indexes))
    }
}

/// A snapshot reads the registry state.
impl StateReader for ReadTx {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        each!(self, r => r.get(key))
    }
}

/// WriteTx is one atomic, durable change to the log. Dropping it without
/// [`WriteTx::commit`] writes nothing.
// One lives on the stack per transaction; boxing redb's (the default)
// would add an allocation to every read for no gain.
#[allow(clippy::large_enum_variant)]
pub enum WriteTx {
    /// Redb: a redb write transaction.
    Redb(RedbWrite),
    /// Postgres: a transaction holding the writer lock.
    Postgres(PgWrite),
}

impl WriteTx {
    /// head returns the head, including this transaction's appends.
    pub fn head(&self) -> Head {
        each!(self, w => w.head())
    }

    /// appender opens the log's tables for appending entries (hashes in
    /// `suite`). Open it once per transaction, not per entry: opening the
    /// tables is the costly part.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn appender(&mut self, suite: HashSuite) -> Result<Appender<'_>, StoreError> {
        Ok(match self {
            WriteTx::Redb(w) => Appender::Redb(w.appender(suite)?),
            WriteTx::Postgres(w) => Appender::Postgres(w.appender(suite)?),
        })
    }

    /// root_at returns the root of the first `size` leaves, this transaction's appends included.
    ///
    /// # Errors
    ///
    /// [`StoreError::Tree`] if `size` is past the stored hashes.
    pub fn root_at(&self, suite: HashSuite, size: u64) -> Result<Hash, StoreError> {
        each!(self, w => w.root_at(suite, size))
    }

    /// witness_checkpoint is [`ReadTx::witness_checkpoint`] inside this transaction.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn witness_checkpoint(&self) -> Result<Option<String>, StoreError> {
        each!(self, w => w.witness_checkpoint())
    }

    /// set_published_checkpoint records `note` (for tree `size`) as the
    /// published checkpoint and keeps it in the checkpoint history.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn set_published_checkpoint(&self, size: u64, note: &str) -> Result<(), StoreError> {
        each!(self, w => w.set_published_checkpoint(size, note))
    }

    /// archive_below drops the rows of the entries below `upto`, which
    /// [`ReadTx::archivable`] found in the tile directory (D29; see
    /// [`Store::with_archive`]), and returns the index below which entries
    /// are archived (0: none; always 0 on PostgreSQL). Call it in the
    /// transaction that records the tiles as durable.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn archive_below(&self, upto: Archivable) -> Result<u64, StoreError> {
        match self {
            WriteTx::Redb(w) => w.archive_below(upto.index()),
            WriteTx::Postgres(_) => Ok(0),
        }
    }

    /// set_tiles_size records that the tile directory is complete for `size`.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn set_tiles_size(&self, size: u64) -> Result<(), StoreError> {
        each!(self, w => w.set_tiles_size(size))
    }

    /// set_witness_checkpoint records `note` as the latest this node's witness endpoint cosigned.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn set_witness_checkpoint(&self, note: &str) -> Result<(), StoreError> {
        each!(self, w => w.set_witness_checkpoint(note))
    }

    /// set_verifying_checkpoint records the log-signed checkpoint a mirror's verified entries are a prefix of.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn set_verifying_checkpoint(&self, note: &[u8]) -> Result<(), StoreError> {
        each!(self, w => w.set_verifying_checkpoint(note))
    }

    /// set_cosigned_size records that the witness at `url` cosigned `size`.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn set_cosigned_size(&self, url: &str, size: u64) -> Result<(), StoreError> {
        each!(self, w => w.set_cosigned_size(url, size))
    }

    /// set_webhook_delivered records that the webhook at `url` acknowledged event `id`.
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn set_webhook_delivered(&self, url: &str, id: u64) -> Result<(), StoreError> {
        each!(self, w => w.set_webhook_delivered(url, id))
    }

    /// commit makes the transaction durable with the head its appends reached.
    ///
    /// # Errors
    ///
    /// [`StoreError::Incomplete`] if an append failed (nothing is written),
    /// or the driver's error (nothing is written).
    pub fn commit(self) -> Result<(), StoreError> {
        each!(self, w => w.commit())
    }
}

#[cfg(test)]
pub(crate) mod pgtest;
#[cfg(test)]
mod tests;
