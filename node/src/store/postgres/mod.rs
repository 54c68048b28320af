//! The PostgreSQL driver (decision D20): the node's durable state in tables
//! of the schema `regledger` of one database, for nodes whose state must
//! outlive their machine (a synchronous standby in a second site, a managed
//! PostgreSQL-compatible service).
//!
//! # Transactions
//!
//! - A read is a `REPEATABLE READ READ ONLY` transaction whose snapshot is
//!   taken at begin (its first statement), so it sees the log at one size.
//! - A write is one transaction. It begins by locking the one row of
//!   `writer` (`FOR UPDATE`): writers queue there, across processes, as
//!   redb's single writer queues in one process. An appender buffers the
//!   entries' rows in memory (reads through it see them) and the commit
//!   sends them as a few multi-row inserts, pipelined, then `COMMIT`: one
//!   transaction per batch, durable with `synchronous_commit = on` (set on
//!   every connection, whatever the server's default).
//! - A failed statement or a lost connection fails the transaction:
//!   nothing of it is written. The connection is dropped, the next
//!   transaction connects again: when the server comes back the node
//!   continues without a restart.
//!
//! # Values
//!
//! The rows hold the bytes the redb tables hold (leaf bytes, 32-byte
//! hashes, state JSON, META values with the same keys and encodings,
//! store/redb/tables.rs), so the two drivers read the same log the same
//! way. Text keys are `COLLATE "C"`: the byte order redb iterates in.
//!
//! # Calling it from async code
//!
//! The node's handlers call the store synchronously (redb blocks on disk
//! I/O the same way). The connections run on this driver's own small
//! tokio runtime; a call blocks the calling thread on the query's future
//! with [`block_on`], which needs no runtime, so it works from a tokio
//! worker, the sequencer's thread or a test alike.

mod append;
mod conn;
pub mod lease;
mod read;
mod write;

pub use append::PgAppender;
pub use read::{PgMapNodes, PgRead};
pub use write::PgWrite;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::cache::StateCache;
use super::StoreError;

use conn::{block_on, Shared};
use read::{current_token, head_query, token_query};
use write::{Cache, Pending};

/// SCHEMA creates the tables (idempotent). One statement per table: a new
/// table (say, state-map nodes) is one line here, one buffer in
/// [`Pending`] and one insert in [`PgWrite::commit`].
const SCHEMA: &str = r#"
CREATE SCHEMA IF NOT EXISTS regledger;
CREATE TABLE IF NOT EXISTS regledger.leaves (idx bigint PRIMARY KEY, leaf bytea NOT NULL);
CREATE TABLE IF NOT EXISTS regledger.hashes (idx bigint PRIMARY KEY, hash bytea NOT NULL);
CREATE TABLE IF NOT EXISTS regledger.state (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE IF NOT EXISTS regledger.meta (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE IF NOT EXISTS regledger.content_ids (cid bytea PRIMARY KEY, idx bigint NOT NULL);
CREATE TABLE IF NOT EXISTS regledger.subjects (subject text COLLATE "C" NOT NULL, idx bigint NOT NULL, PRIMARY KEY (subject, idx));
CREATE TABLE IF NOT EXISTS regledger.checkpoints (size bigint PRIMARY KEY, note text NOT NULL);
CREATE TABLE IF NOT EXISTS regledger.envelopes (idx bigint PRIMARY KEY, envelope bytea NOT NULL);
CREATE TABLE IF NOT EXISTS regledger.state_map (key bytea PRIMARY KEY, node bytea NOT NULL);
CREATE TABLE IF NOT EXISTS regledger.pruned (idx bigint PRIMARY KEY, by_idx bigint NOT NULL);
CREATE TABLE IF NOT EXISTS regledger.writer (id int PRIMARY KEY);
INSERT INTO regledger.writer VALUES (1) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS regledger.leader (id int PRIMARY KEY, holder text NOT NULL, token bigint NOT NULL, expires_at timestamptz NOT NULL);
INSERT INTO regledger.leader VALUES (1, '', 0, '-infinity') ON CONFLICT DO NOTHING;
"#;

/// SCHEMA_LOCK is the advisory lock key that serialises schema creation
/// (two nodes starting at once would race on `CREATE TABLE IF NOT EXISTS`).
const SCHEMA_LOCK: i64 = 0x7265_676c_6564_6701;

/// POOL is how many idle connections a store keeps.
const POOL: usize = 16;

/// PgStore is a store in one PostgreSQL database.
pub struct PgStore {
    shared: Arc<Shared>,
    /// lease, once started, fences every write (store/postgres/lease.rs).
    lease: OnceLock<Arc<lease::Lease>>,
    /// pinned is the snapshot [`super::Store::pin`] keeps: a REPEATABLE
    /// READ transaction on one pooled connection. Bounded: one at a time,
    /// replaced at the next checkpoint (so held for about one publishing
    /// interval) and dropped by [`PgStore::reopen`]; meanwhile the server
    /// keeps the row versions it can see (vacuum waits for it).
    pinned: std::sync::RwLock<Option<Arc<super::ReadTx>>>,
    /// cache is the committed registry state in memory (store/cache.rs),
    /// tagged with the lease token it was read under.
    cache: Arc<StateCache>,
}

impl PgStore {
    /// open connects to `url` (a libpq URL or key=value string) and creates
    /// the schema if missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the URL does not parse, the server cannot
    /// be reached or the schema cannot be created.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| {
                StoreError::Postgres(format!("bad PostgreSQL URL: {e}"))
            })?;
        // A server that vanishes without closing the connection must fail
        // the transaction, not hang the sequencer.
        config
            .connect_timeout(Duration::from_secs(5))
            .keepalives_idle(Duration::from_secs(5))
            .tcp_user_timeout(Duration::from_secs(10));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("regledger-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Postgres(format!("runtime: {e}")))?;
        let shared = Arc::new(Shared {
            config,
            rt: Some(rt),
            pool: Mutex::new(Vec::new()),
        });
        // Fail fast, saying so: a node does not wait for its database at
        // start (a supervisor restarts it); once running, it rides out an
        // outage (503s) and reconnects by itself.
        let c = shared.connect().map_err(|e| {
            StoreError::Postgres(format!(
                "the server is not reachable ({e}); the node does not wait for it: \
                 start PostgreSQL or correct --store, then start the node again"
            ))
        })?;
        block_on(c.batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({SCHEMA_LOCK}); {SCHEMA} COMMIT;"
        )))?;
        shared.checkin(c);
        Ok(PgStore {
            shared,
            lease: OnceLock::new(),
            pinned: std::sync::RwLock::new(None),
            cache: Arc::default(),
        })
    }

    /// start_lease makes this store one candidate leader named `holder`
    /// (lease `ttl`): from now on it writes only while it holds the lease,
    /// and every write checks the fencing token in its transaction.
    pub fn start_lease(&self, holder: String, ttl: Duration) -> Arc<lease::Lease> {
        let l = self
            .lease
            .get_or_init(|| Arc::new(lease::Lease::new(holder, ttl)))
            .clone();
        let (shared, l2) = (self.shared.clone(), l.clone());
        std::thread::Builder::new()
            .name("leadership".into())
            .spawn(move || lease::run(shared, l2))
            .expect("spawn the leadership thread");
        l
    }

    /// with_lease attaches `lease` without its thread: the tests drive
    /// the rounds themselves.
    #[cfg(test)]
    pub(crate) fn with_lease(&self, lease: Arc<lease::Lease>) {
        assert!(self.lease.set(lease).is_ok());
    }

    /// connect_raw is a connection outside the pool, for the tests.
    #[cfg(test)]
    pub(crate) fn connect_raw(&self) -> tokio_postgres::Client {
        self.shared.connect().unwrap()
    }

    /// is_leader says whether this store may write (always, without a lease).
    pub fn is_leader(&self) -> bool {
        self.lease.get().is_none_or(|l| l.token() != 0)
    }

    /// check_leader checks, in the database, that this node still holds
    /// the token (before it publishes outside the database).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotLeader`], [`StoreError::Fenced`] or [`StoreError::Postgres`].
    pub fn check_leader(&self) -> Result<(), StoreError> {
        let Some(l) = self.lease.get() else {
            return Ok(());
        };
        let mine = l.token();
        if mine == 0 {
            return Err(StoreError::NotLeader);
        }
        let c = self.shared.checkout()?;
        let current = current_token(&c)?;
        self.shared.checkin(c);
        if current != mine {
            l.step_down();
            return Err(StoreError::Fenced { mine, current });
        }
        Ok(())
    }

    /// cache is the committed registry state in memory.
    pub(crate) fn cache(&self) -> &StateCache {
        &self.cache
    }

    /// token is this node's lease token (0 without a lease or as a standby).
    pub(crate) fn token(&self) -> i64 {
        self.lease.get().map_or(0, |l| l.token())
    }

    /// pin_slot holds the snapshot [`super::Store::pin`] keeps (see `pinned`).
    pub(crate) fn pin_slot(&self) -> &std::sync::RwLock<Option<Arc<super::ReadTx>>> {
        &self.pinned
    }

    /// read begins a snapshot.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`].
    pub fn read(&self) -> Result<PgRead, StoreError> {
        let c = self.shared.checkout()?;
        // The snapshot is taken by the first statement, not by BEGIN: take
        // it now, so the view is the log as of this call.
        block_on(c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT 1"))?;
        Ok(PgRead {
            shared: self.shared.clone(),
            c: Some(c),
        })
    }

    /// write begins a write transaction, waiting for the writer lock.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`].
    pub fn write(&self) -> Result<PgWrite, StoreError> {
        let lease = self.lease.get();
        let mine = lease.map(|l| l.token());
        if mine == Some(0) {
            return Err(StoreError::NotLeader);
        }
        let c = self.shared.checkout()?;
        let begin = match lease {
            // A paused leader's open transaction must not hold the writer
            // lock past its lease: the server ends it.
            Some(l) => format!(
                "BEGIN; SET LOCAL idle_in_transaction_session_timeout = '{}ms'; \
                 SELECT id FROM regledger.writer WHERE id = 1 FOR UPDATE",
                l.idle_timeout_ms()
            ),
            None => "BEGIN; SELECT id FROM regledger.writer WHERE id = 1 FOR UPDATE".into(),
        };
        // One round trip: the lock, then (each statement with its own
        // read-committed snapshot, taken after the one before finished)
        // the token, the head and the state map's root, pipelined. After the lock they see every
        // earlier writer's commit, and the token as of the last takeover
        // (which takes the writer lock to change it).
        let root_key = read::map_key(None);
        let (locked, current, head, root) = block_on(futures_util::future::join4(
            c.batch_execute(&begin),
            async {
                match lease {
                    Some(_) => token_query(&c).await.map(Some),
                    None => Ok(None),
                }
            },
            head_query(&c),
            // The state map's root: every entry's staging reads it.
            read::map_query(&c, &root_key),
        ));
        locked?;
        let fenced = match (lease, mine) {
            (Some(l), Some(mine)) => match current {
                Ok(Some(current)) if current != mine => {
                    l.step_down();
                    Some(StoreError::Fenced { mine, current })
                }
                Ok(Some(_)) => None,
                Ok(None) => Some(StoreError::Unreadable("the fencing token")),
                Err(e) => Some(e),
            },
            _ => None,
        };
        if let Some(e) = fenced {
            if block_on(c.batch_execute("ROLLBACK")).is_ok() {
                self.shared.checkin(c);
            }
            return Err(e);
        }
        let head = head?;
        let mut cache = Cache::default();
        cache.map.insert(root_key, root?);
        Ok(PgWrite {
            shared: self.shared.clone(),
            c: Some(c),
            head,
            moved: false,
            failed: AtomicBool::new(false),
            pending: Pending::default(),
            cache: Mutex::new(cache),
            committed_size: head.size,
            prefetched: HashMap::new(),
            // Valid only at this head and under this token: another
            // leader's appends, or a takeover and back, empty it.
            txc: Some(self.cache.begin(head, mine.unwrap_or(0))),
        })
    }

    /// reopen drops the idle connections; the next transaction connects
    /// again (to the server as it is now).
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the server cannot be reached yet.
    pub fn reopen(&self) -> Result<(), StoreError> {
        // The pinned snapshot's connection may be the one that failed.
        self.pinned.write().expect("pin lock").take();
        self.cache.clear();
        self.shared.pool.lock().expect("pool").clear();
        let c = self.shared.connect()?;
        self.shared.checkin(c);
        Ok(())
    }

    /// is_open is always true: a connection that failed is dropped, and
    /// the next transaction connects again.
    pub fn is_open(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
