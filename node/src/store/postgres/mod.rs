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

pub mod lease;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use regledger::entry::chain::EntryContext;
use regledger::registry::{Effects, StateKey, StateObject, StateReader};
use regledger::tlog::tree::{
    stored_hash_count, stored_hashes_for_record, tree_hash, HashReader, TreeError,
};
use regledger::{Hash, HashSuite};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

use regledger::registry::commit::{apply_writes, entry_writes, record_bytes};
use regledger::statemap::{Changes, Child, InternalNode, NodeId, NodeReader, Overlay, StateMap};

use super::redb::tables::{
    decode_state, is_record, u64_of, COSIGNED_PREFIX, M_CHECKPOINT, M_LAST_HASH, M_LAST_TIME,
    M_LAST_VERSION, M_SIZE, M_TILES_SIZE, M_VERIFYING, M_WITNESS, WEBHOOK_PREFIX,
};
use super::{Head, StoreError};

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

/// ThreadWaker wakes the thread blocked in [`block_on`].
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// block_on polls `f` to completion on the calling thread, parking it
/// between polls. The futures it runs are the client's halves of queries
/// (channels to a connection task on the driver's runtime), which need no
/// runtime of their own.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The server's message (and its SQLSTATE) says what went wrong; the
        // error's own Display is only "db error".
        StoreError::Postgres(match e.as_db_error() {
            Some(d) => format!("{e}: {} ({})", d.message(), d.code().code()),
            None => e.to_string(),
        })
    }
}

/// i is a u64 index as PostgreSQL's bigint (indexes stay far below 2^63).
fn i(v: u64) -> i64 {
    v as i64
}

/// Shared is what a store's transactions share: the connections' runtime and the pool.
struct Shared {
    config: tokio_postgres::Config,
    rt: Option<tokio::runtime::Runtime>,
    pool: Mutex<Vec<Client>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Dropping a runtime blocks; the store may be dropped on a tokio
        // worker, where blocking panics.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Shared {
    fn connect(&self) -> Result<Client, StoreError> {
        let cfg = self.config.clone();
        let rt = self.rt.as_ref().ok_or(StoreError::Closed)?;
        let client = block_on(rt.spawn(async move {
            let (client, conn) = cfg.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::warn!("PostgreSQL connection ended: {e}");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        }))
        .map_err(|_| StoreError::Closed)??;
        block_on(client.batch_execute("SET synchronous_commit = on"))?;
        Ok(client)
    }

    /// checkout takes an idle connection, or connects.
    fn checkout(&self) -> Result<Client, StoreError> {
        loop {
            let c = self.pool.lock().expect("pool").pop();
            match c {
                Some(c) if !c.is_closed() => return Ok(c),
                Some(_) => continue,
                None => return self.connect(),
            }
        }
    }

    /// checkin returns a connection that is out of any transaction.
    fn checkin(&self, c: Client) {
        let mut p = self.pool.lock().expect("pool");
        if !c.is_closed() && p.len() < POOL {
            p.push(c);
        }
    }
}

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
        let c = shared.connect()?;
        block_on(c.batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({SCHEMA_LOCK}); {SCHEMA} COMMIT;"
        )))?;
        shared.checkin(c);
        Ok(PgStore {
            shared,
            lease: OnceLock::new(),
            pinned: std::sync::RwLock::new(None),
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
    pub(crate) fn connect_raw(&self) -> Client {
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
        block_on(c.batch_execute(&begin))?;
        // Read committed: after the lock, this sees every earlier writer's
        // commit, and the token as of the last takeover (which takes the
        // writer lock to change it).
        let fenced = match (lease, mine) {
            (Some(l), Some(mine)) => match current_token(&c) {
                Ok(current) if current != mine => {
                    l.step_down();
                    Some(StoreError::Fenced { mine, current })
                }
                Ok(_) => None,
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
        let head = head_of(&c)?;
        Ok(PgWrite {
            shared: self.shared.clone(),
            c: Some(c),
            head,
            moved: false,
            failed: AtomicBool::new(false),
            pending: Pending::default(),
            cache: Mutex::new(Cache::default()),
            prefetched: HashMap::new(),
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

/// current_token reads the fencing token of the current leader.
fn current_token(c: &Client) -> Result<i64, StoreError> {
    Ok(block_on(c.query_typed_one("SELECT token FROM regledger.leader WHERE id = 1", &[]))?.get(0))
}

/// meta_get reads a META value in the transaction on `c`.
fn meta_get(c: &Client, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(block_on(c.query_typed_opt(
        "SELECT value FROM regledger.meta WHERE key = $1",
        &[(&key, Type::TEXT)],
    ))?
    .map(|r| r.get::<_, Vec<u8>>(0)))
}

fn meta_u64(c: &Client, key: &str) -> Result<u64, StoreError> {
    Ok(meta_get(c, key)?.map(|v| u64_of(&v)).unwrap_or(0))
}

fn meta_str(c: &Client, key: &str) -> Result<Option<String>, StoreError> {
    Ok(meta_get(c, key)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// head_of reads the head (three META values, one query).
fn head_of(c: &Client) -> Result<Head, StoreError> {
    let keys = vec![M_SIZE, M_LAST_HASH, M_LAST_TIME, M_LAST_VERSION];
    let rows = block_on(c.query_typed(
        "SELECT key, value FROM regledger.meta WHERE key = ANY($1)",
        &[(&keys, Type::TEXT_ARRAY)],
    ))?;
    let mut h = Head::default();
    let mut version = None;
    for r in rows {
        let k: &str = r.get(0);
        let v: Vec<u8> = r.get(1);
        match k {
            M_SIZE => h.size = u64_of(&v),
            M_LAST_HASH => h.last_leaf_hash = Hash::from_slice(&v).unwrap_or_default(),
            M_LAST_TIME => h.last_time_ms = u64_of(&v),
            M_LAST_VERSION => version = Some(v.first().copied().unwrap_or(0)),
            _ => {}
        }
    }
    // As redb's (store/redb/tables.rs): absent in a store before leaf v2.
    h.last_version = match version {
        Some(v) => v,
        None if h.size > 0 => regledger::entry::leaf::LEAF_V1,
        None => 0,
    };
    Ok(h)
}

/// hashes_get reads stored hashes by index (one query); missing ones are absent.
fn hashes_get(c: &Client, indexes: &[u64]) -> Result<HashMap<u64, Hash>, StoreError> {
    let want: Vec<i64> = indexes.iter().map(|&x| i(x)).collect();
    let rows = block_on(c.query_typed(
        "SELECT idx, hash FROM regledger.hashes WHERE idx = ANY($1)",
        &[(&want, Type::INT8_ARRAY)],
    ))?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let idx: i64 = r.get(0);
        let v: &[u8] = r.get(1);
        let h = Hash::from_slice(v).ok_or(StoreError::Unreadable("stored hash"))?;
        out.insert(idx as u64, h);
    }
    Ok(out)
}

fn state_get(c: &Client, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(block_on(c.query_typed_opt(
        "SELECT value FROM regledger.state WHERE key = $1",
        &[(&key, Type::TEXT)],
    ))?
    .map(|r| r.get::<_, Vec<u8>>(0)))
}

/// map_key is a state map node's key in `regledger.state_map` (the root
/// slot under the empty key, as redb's table).
fn map_key(id: Option<&NodeId>) -> Vec<u8> {
    id.map(NodeId::to_bytes).unwrap_or_default()
}

fn map_get(c: &Client, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(block_on(c.query_typed_opt(
        "SELECT node FROM regledger.state_map WHERE key = $1",
        &[(&key, Type::BYTEA)],
    ))?
    .map(|r| r.get::<_, Vec<u8>>(0)))
}

fn map_err(e: impl std::fmt::Display) -> regledger::statemap::StoreError {
    regledger::statemap::StoreError(e.to_string())
}

/// PgMapNodes reads the state map's nodes in a snapshot.
pub struct PgMapNodes<'a>(&'a PgRead);

impl NodeReader for PgMapNodes<'_> {
    fn read_root(&self) -> Result<Child, regledger::statemap::StoreError> {
        match map_get(self.0.c(), &map_key(None)).map_err(map_err)? {
            Some(v) => Child::from_bytes(&v),
            None => Ok(Child::Empty),
        }
    }
    fn read_node(
        &self,
        id: &NodeId,
    ) -> Result<Option<InternalNode>, regledger::statemap::StoreError> {
        match map_get(self.0.c(), &map_key(Some(id))).map_err(map_err)? {
            Some(v) => InternalNode::from_bytes(&v).map(Some),
            None => Ok(None),
        }
    }
}

/// PgRead is a snapshot (a read-only repeatable-read transaction).
pub struct PgRead {
    shared: Arc<Shared>,
    c: Option<Client>,
}

impl Drop for PgRead {
    fn drop(&mut self) {
        if let Some(c) = self.c.take() {
            if block_on(c.batch_execute("ROLLBACK")).is_ok() {
                self.shared.checkin(c);
            }
        }
    }
}

impl PgRead {
    fn c(&self) -> &Client {
        self.c.as_ref().expect("open until dropped")
    }

    /// head: see [`super::ReadTx::head`].
    pub fn head(&self) -> Result<Head, StoreError> {
        head_of(self.c())
    }

    /// size: see [`super::ReadTx::size`].
    pub fn size(&self) -> Result<u64, StoreError> {
        meta_u64(self.c(), M_SIZE)
    }

    /// leaf: see [`super::ReadTx::leaf`].
    pub fn leaf(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(block_on(self.c().query_typed_opt(
            "SELECT leaf FROM regledger.leaves WHERE idx = $1",
            &[(&i(index), Type::INT8)],
        ))?
        .map(|r| r.get::<_, Vec<u8>>(0)))
    }

    /// envelope: see [`super::ReadTx::envelope`].
    pub fn envelope(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(block_on(self.c().query_typed_opt(
            "SELECT envelope FROM regledger.envelopes WHERE idx = $1",
            &[(&i(index), Type::INT8)],
        ))?
        .map(|r| r.get::<_, Vec<u8>>(0)))
    }

    /// map_nodes reads the state map's nodes in this snapshot.
    pub fn map_nodes(&self) -> PgMapNodes<'_> {
        PgMapNodes(self)
    }

    /// state_value: see [`super::ReadTx::state_value`].
    pub fn state_value(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(state_get(self.c(), &key.to_string())?.filter(|v| is_record(v)))
    }

    /// state_records: see [`super::ReadTx::state_records`].
    pub fn state_records(&self, f: &mut super::RecordFn<'_>) -> Result<(), StoreError> {
        let rows = block_on(
            self.c()
                .query_typed("SELECT key, value FROM regledger.state ORDER BY key", &[]),
        )?;
        for r in rows {
            let v: &[u8] = r.get(1);
            if is_record(v) {
                f(r.get::<_, &str>(0), v)?;
            }
        }
        Ok(())
    }

    /// content_ids: see [`super::ReadTx::content_ids`].
    pub fn content_ids(&self, f: &mut super::ContentIdFn<'_>) -> Result<(), StoreError> {
        let rows = block_on(self.c().query_typed(
            "SELECT cid, idx FROM regledger.content_ids ORDER BY cid",
            &[],
        ))?;
        for r in rows {
            let Ok(id) = <[u8; 32]>::try_from(r.get::<_, &[u8]>(0)) else {
                continue;
            };
            f(&id, r.get::<_, i64>(1) as u64)?;
        }
        Ok(())
    }

    /// leaves: see [`super::ReadTx::leaves`].
    pub fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows = block_on(self.c().query_typed(
            "SELECT idx, leaf FROM regledger.leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            &[(&i(start), Type::INT8), (&i(end), Type::INT8)],
        ))?;
        let mut out = Vec::with_capacity(rows.len());
        for (want, r) in (start..).zip(rows) {
            if r.get::<_, i64>(0) as u64 != want {
                break;
            }
            out.push(r.get::<_, Vec<u8>>(1));
        }
        Ok(out)
    }

    /// objects: see [`super::ReadTx::objects`].
    pub fn objects(&self, prefix: &str, limit: usize) -> Result<Vec<StateObject>, StoreError> {
        let rows = block_on(self.c().query_typed(
            "SELECT value FROM regledger.state WHERE key >= $1 AND starts_with(key, $1) \
             ORDER BY key LIMIT $2",
            &[(&prefix, Type::TEXT), (&(limit as i64), Type::INT8)],
        ))?;
        Ok(rows
            .iter()
            .filter_map(|r| decode_state(r.get::<_, &[u8]>(0)))
            .collect())
    }

    /// subjects: see [`super::ReadTx::subjects`].
    pub fn subjects(&self, subject: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let rows = block_on(self.c().query_typed(
            "SELECT idx FROM regledger.subjects WHERE subject = $1 ORDER BY idx LIMIT $2",
            &[(&subject, Type::TEXT), (&(limit as i64), Type::INT8)],
        ))?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    /// root_at: see [`super::ReadTx::root_at`].
    pub fn root_at(&self, suite: HashSuite, size: u64) -> Result<Hash, StoreError> {
        Ok(tree_hash(suite, size, self)?)
    }

    /// published_checkpoint: see [`super::ReadTx::published_checkpoint`].
    pub fn published_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(self.c(), M_CHECKPOINT)
    }

    /// tiles_size: see [`super::ReadTx::tiles_size`].
    pub fn tiles_size(&self) -> Result<u64, StoreError> {
        meta_u64(self.c(), M_TILES_SIZE)
    }

    /// witness_checkpoint: see [`super::ReadTx::witness_checkpoint`].
    pub fn witness_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(self.c(), M_WITNESS)
    }

    /// verifying_checkpoint: see [`super::ReadTx::verifying_checkpoint`].
    pub fn verifying_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(self.c(), M_VERIFYING)
    }

    /// cosigned_size: see [`super::ReadTx::cosigned_size`].
    pub fn cosigned_size(&self, url: &str) -> Result<u64, StoreError> {
        meta_u64(self.c(), &format!("{COSIGNED_PREFIX}{url}"))
    }

    /// webhook_delivered: see [`super::ReadTx::webhook_delivered`].
    pub fn webhook_delivered(&self, url: &str) -> Result<Option<u64>, StoreError> {
        Ok(meta_str(self.c(), &format!("{WEBHOOK_PREFIX}{url}"))?
            .and_then(|s| s.parse::<u64>().ok()))
    }
}

impl HashReader for PgRead {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        let got = hashes_get(self.c(), indexes).map_err(|e| TreeError::Storage(e.to_string()))?;
        indexes
            .iter()
            .map(|x| got.get(x).copied().ok_or(TreeError::MissingHash(*x)))
            .collect()
    }
}

impl StateReader for PgRead {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        // As redb's: an unreadable value reads as absent. A read error does
        // too, here, on the read side only (a page answers without it); the
        // appender's reads fail their transaction instead.
        let v = state_get(self.c(), &key.to_string()).ok()??;
        decode_state(&v)
    }
}

/// Pending is a write transaction's appended rows, sent at commit.
#[derive(Default)]
struct Pending {
    leaf_idx: Vec<i64>,
    leaves: Vec<Vec<u8>>,
    hashes: BTreeMap<u64, Hash>,
    state: BTreeMap<String, Vec<u8>>,
    content_ids: HashMap<[u8; 32], u64>,
    subjects: Vec<(String, i64)>,
    env_idx: Vec<i64>,
    envelopes: Vec<Vec<u8>>,
    /// map_changes are the state map writes staged by the appends, written
    /// once at commit (D15), as redb's.
    map_changes: Changes,
    /// staged is the index whose map writes [`PgAppender::next_root`] staged.
    staged: Option<u64>,
}

/// Cache holds what a write transaction read from the database: stored
/// hashes never change once committed, and state rows change only through
/// this transaction while it holds the writer lock (its own writes, in
/// [`Pending`], take precedence).
#[derive(Default)]
struct Cache {
    hashes: HashMap<u64, Hash>,
    state: HashMap<String, Option<Vec<u8>>>,
    /// map holds committed state map rows read (by key; absent as `None`).
    map: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

/// PgWrite is one write transaction, holding the writer lock.
pub struct PgWrite {
    shared: Arc<Shared>,
    c: Option<Client>,
    head: Head,
    moved: bool,
    /// failed says an append (or a read or write it made) failed: the
    /// transaction refuses to commit.
    failed: AtomicBool,
    pending: Pending,
    cache: Mutex<Cache>,
    /// prefetched is the replay index for content ids asked for at once
    /// (absent ones as `None`: valid while this transaction holds the
    /// writer lock, since only writers add to it).
    prefetched: HashMap<[u8; 32], Option<u64>>,
}

impl Drop for PgWrite {
    fn drop(&mut self) {
        // Not committed: roll back (if the connection is gone, the server
        // rolls back on its own).
        if let Some(c) = self.c.take() {
            if block_on(c.batch_execute("ROLLBACK")).is_ok() {
                self.shared.checkin(c);
            }
        }
    }
}

/// Hashes reads stored hashes in a write transaction: its appends first,
/// then what it read before, then the database.
struct Hashes<'a>(&'a PgWrite);

impl HashReader for Hashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        let w = self.0;
        let mut cache = w.cache.lock().expect("cache");
        let missing: Vec<u64> = indexes
            .iter()
            .copied()
            .filter(|x| !w.pending.hashes.contains_key(x) && !cache.hashes.contains_key(x))
            .collect();
        if !missing.is_empty() {
            let got = hashes_get(w.c(), &missing).map_err(|e| {
                w.failed.store(true, Ordering::Relaxed);
                TreeError::Storage(e.to_string())
            })?;
            cache.hashes.extend(got);
        }
        indexes
            .iter()
            .map(|x| {
                w.pending
                    .hashes
                    .get(x)
                    .or_else(|| cache.hashes.get(x))
                    .copied()
                    .ok_or(TreeError::MissingHash(*x))
            })
            .collect()
    }
}

/// WriteMap reads the committed state map in a write transaction (for the
/// overlay [`PgAppender::next_root`] computes on): what it read before,
/// then the database. A read error fails the transaction.
struct WriteMap<'a>(&'a PgWrite);

impl WriteMap<'_> {
    fn get(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>, regledger::statemap::StoreError> {
        let w = self.0;
        let mut cache = w.cache.lock().expect("cache");
        if let Some(v) = cache.map.get(&key) {
            return Ok(v.clone());
        }
        let v = map_get(w.c(), &key).map_err(|e| {
            w.failed.store(true, Ordering::Relaxed);
            map_err(e)
        })?;
        cache.map.insert(key, v.clone());
        Ok(v)
    }
}

impl NodeReader for WriteMap<'_> {
    fn read_root(&self) -> Result<Child, regledger::statemap::StoreError> {
        match self.get(map_key(None))? {
            Some(v) => Child::from_bytes(&v),
            None => Ok(Child::Empty),
        }
    }
    fn read_node(
        &self,
        id: &NodeId,
    ) -> Result<Option<InternalNode>, regledger::statemap::StoreError> {
        match self.get(map_key(Some(id)))? {
            Some(v) => InternalNode::from_bytes(&v).map(Some),
            None => Ok(None),
        }
    }
}

/// Statement is one pipelined statement's answer.
type Statement<'a> = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send + 'a>>;

/// stmt sends `sql` with two parameters; the answer is awaited later.
fn stmt<'a>(
    c: &'a Client,
    sql: &'static str,
    params: [(&'a (dyn ToSql + Sync), Type); 2],
) -> Statement<'a> {
    let f = c.query_typed_raw(sql, params);
    Box::pin(async move {
        use futures_util::StreamExt;
        let mut rows = std::pin::pin!(f.await?);
        while let Some(r) = rows.next().await {
            r?;
        }
        Ok(())
    })
}

impl PgWrite {
    fn c(&self) -> &Client {
        self.c.as_ref().expect("open until commit or drop")
    }

    /// fail marks the transaction failed when `r` is an error, and passes it on.
    fn fail_on<T>(&self, r: Result<T, tokio_postgres::Error>) -> Result<T, StoreError> {
        if r.is_err() {
            // The transaction is aborted on the server: it cannot commit.
            self.failed.store(true, Ordering::Relaxed);
        }
        Ok(r?)
    }

    /// head: see [`super::WriteTx::head`].
    pub fn head(&self) -> Head {
        self.head
    }

    /// appender: see [`super::WriteTx::appender`].
    pub fn appender(&mut self, suite: HashSuite) -> Result<PgAppender<'_>, StoreError> {
        Ok(PgAppender { suite, w: self })
    }

    /// root_at: see [`super::WriteTx::root_at`].
    pub fn root_at(&self, suite: HashSuite, size: u64) -> Result<Hash, StoreError> {
        Ok(tree_hash(suite, size, &Hashes(self))?)
    }

    /// witness_checkpoint: see [`super::WriteTx::witness_checkpoint`].
    pub fn witness_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(self.c(), M_WITNESS)
    }

    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let r = block_on(self.c().query_typed(
            "INSERT INTO regledger.meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[(&key, Type::TEXT), (&value, Type::BYTEA)],
        ));
        self.fail_on(r)?;
        Ok(())
    }

    /// set_published_checkpoint: see [`super::WriteTx::set_published_checkpoint`].
    pub fn set_published_checkpoint(&self, size: u64, note: &str) -> Result<(), StoreError> {
        self.set_meta(M_CHECKPOINT, note.as_bytes())?;
        let r = block_on(self.c().query_typed(
            "INSERT INTO regledger.checkpoints (size, note) VALUES ($1, $2) \
             ON CONFLICT (size) DO UPDATE SET note = EXCLUDED.note",
            &[(&i(size), Type::INT8), (&note, Type::TEXT)],
        ));
        self.fail_on(r)?;
        Ok(())
    }

    /// set_tiles_size: see [`super::WriteTx::set_tiles_size`].
    pub fn set_tiles_size(&self, size: u64) -> Result<(), StoreError> {
        self.set_meta(M_TILES_SIZE, &size.to_be_bytes())
    }

    /// set_witness_checkpoint: see [`super::WriteTx::set_witness_checkpoint`].
    pub fn set_witness_checkpoint(&self, note: &str) -> Result<(), StoreError> {
        self.set_meta(M_WITNESS, note.as_bytes())
    }

    /// set_verifying_checkpoint: see [`super::WriteTx::set_verifying_checkpoint`].
    pub fn set_verifying_checkpoint(&self, note: &[u8]) -> Result<(), StoreError> {
        self.set_meta(M_VERIFYING, note)
    }

    /// set_cosigned_size: see [`super::WriteTx::set_cosigned_size`].
    pub fn set_cosigned_size(&self, url: &str, size: u64) -> Result<(), StoreError> {
        self.set_meta(&format!("{COSIGNED_PREFIX}{url}"), &size.to_be_bytes())
    }

    /// set_webhook_delivered: see [`super::WriteTx::set_webhook_delivered`].
    pub fn set_webhook_delivered(&self, url: &str, id: u64) -> Result<(), StoreError> {
        self.set_meta(&format!("{WEBHOOK_PREFIX}{url}"), id.to_string().as_bytes())
    }

    /// commit sends the appended rows and the head, then commits.
    ///
    /// # Errors
    ///
    /// [`StoreError::Incomplete`] if an append failed; [`StoreError::Postgres`]
    /// if a statement or the commit failed (nothing is written; after a lost
    /// connection during `COMMIT` the outcome is the server's, and the
    /// entries are not acknowledged either way).
    pub fn commit(mut self) -> Result<(), StoreError> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(StoreError::Incomplete);
        }
        let c = self.c.take().expect("open until commit");
        let r = self.send(&c);
        if r.is_ok() {
            self.shared.checkin(c);
        }
        // On error the connection is dropped: the server rolls back.
        r
    }

    fn send(&self, c: &Client) -> Result<(), StoreError> {
        let p = &self.pending;
        let hash_idx: Vec<i64> = p.hashes.keys().map(|&x| i(x)).collect();
        let hashes: Vec<&[u8]> = p.hashes.values().map(|h| h.0.as_slice()).collect();
        let state_keys: Vec<&str> = p.state.keys().map(String::as_str).collect();
        let state_values: Vec<&[u8]> = p.state.values().map(Vec::as_slice).collect();
        let cids: Vec<&[u8]> = p.content_ids.keys().map(|k| k.as_slice()).collect();
        let cid_idx: Vec<i64> = p.content_ids.values().map(|&x| i(x)).collect();
        let subj: Vec<&str> = p.subjects.iter().map(|(s, _)| s.as_str()).collect();
        let subj_idx: Vec<i64> = p.subjects.iter().map(|(_, x)| *x).collect();
        let meta_keys = vec![M_SIZE, M_LAST_HASH, M_LAST_TIME, M_LAST_VERSION];
        let size = self.head.size.to_be_bytes();
        let time = self.head.last_time_ms.to_be_bytes();
        let version = [self.head.last_version];
        let meta_values: Vec<&[u8]> = vec![&size, &self.head.last_leaf_hash.0, &time, &version];
        // The state map: nodes set (and the root slot), nodes removed.
        let mut map_keys: Vec<Vec<u8>> = Vec::new();
        let mut map_nodes: Vec<Vec<u8>> = Vec::new();
        let mut map_gone: Vec<Vec<u8>> = Vec::new();
        for (id, n) in &p.map_changes.nodes {
            match n {
                Some(n) => {
                    map_keys.push(map_key(Some(id)));
                    map_nodes.push(n.to_bytes());
                }
                None => map_gone.push(map_key(Some(id))),
            }
        }
        if let Some(r) = p.map_changes.root {
            map_keys.push(map_key(None));
            map_nodes.push(r.to_bytes());
        }

        // Pipelined: every statement is sent before the first answer is
        // awaited; the server runs them in order, in this transaction.
        let mut sent: Vec<Statement<'_>> = Vec::new();
        if !p.leaf_idx.is_empty() {
            sent.push(stmt(
                c,
                "INSERT INTO regledger.leaves (idx, leaf) \
                 SELECT * FROM unnest($1::int8[], $2::bytea[])",
                [
                    (&p.leaf_idx, Type::INT8_ARRAY),
                    (&p.leaves, Type::BYTEA_ARRAY),
                ],
            ));
        }
        if !p.env_idx.is_empty() {
            sent.push(stmt(
                c,
                "INSERT INTO regledger.envelopes (idx, envelope) \
                 SELECT * FROM unnest($1::int8[], $2::bytea[])",
                [
                    (&p.env_idx, Type::INT8_ARRAY),
                    (&p.envelopes, Type::BYTEA_ARRAY),
                ],
            ));
        }
        if !map_gone.is_empty() {
            sent.push(stmt(
                c,
                "DELETE FROM regledger.state_map WHERE key = ANY($1) AND $2::int8 IS NOT NULL",
                [(&map_gone, Type::BYTEA_ARRAY), (&0i64, Type::INT8)],
            ));
        }
        if !map_keys.is_empty() {
            sent.push(stmt(
                c,
                "INSERT INTO regledger.state_map (key, node) \
                 SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (key) DO UPDATE SET node = EXCLUDED.node",
                [
                    (&map_keys, Type::BYTEA_ARRAY),
                    (&map_nodes, Type::BYTEA_ARRAY),
                ],
            ));
        }
        if !hash_idx.is_empty() {
            sent.push(stmt(
                c,
                "INSERT INTO regledger.hashes (idx, hash) \
                 SELECT * FROM unnest($1::int8[], $2::bytea[])",
                [(&hash_idx, Type::INT8_ARRAY), (&hashes, Type::BYTEA_ARRAY)],
            ));
        }
        if !state_keys.is_empty() {
            sent.push(stmt(
                c,
                "INSERT INTO regledger.state (key, value) \
                 SELECT * FROM unnest($1::text[], $2::bytea[]) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                [
                    (&state_keys, Type::TEXT_ARRAY),
                    (&state_values, Type::BYTEA_ARRAY),
                ],
            ));
        }
        if !cids.is_empty() {
            sent.push(stmt(
                c,
                "INSERT INTO regledger.content_ids (cid, idx) \
                 SELECT * FROM unnest($1::bytea[], $2::int8[]) \
                 ON CONFLICT (cid) DO UPDATE SET idx = EXCLUDED.idx",
                [(&cids, Type::BYTEA_ARRAY), (&cid_idx, Type::INT8_ARRAY)],
            ));
        }
        if !subj.is_empty() {
            sent.push(stmt(
                c,
                "INSERT INTO regledger.subjects (subject, idx) \
                 SELECT * FROM unnest($1::text[], $2::int8[]) ON CONFLICT DO NOTHING",
                [(&subj, Type::TEXT_ARRAY), (&subj_idx, Type::INT8_ARRAY)],
            ));
        }
        if self.moved {
            sent.push(stmt(
                c,
                "INSERT INTO regledger.meta (key, value) \
                 SELECT * FROM unnest($1::text[], $2::bytea[]) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                [
                    (&meta_keys, Type::TEXT_ARRAY),
                    (&meta_values, Type::BYTEA_ARRAY),
                ],
            ));
        }
        block_on(futures_util::future::try_join_all(sent))?;
        block_on(c.batch_execute("COMMIT"))?;
        Ok(())
    }
}

/// PgAppender appends entries into a [`PgWrite`]'s buffers.
pub struct PgAppender<'tx> {
    suite: HashSuite,
    w: &'tx mut PgWrite,
}

/// StateView reads the registry state of a write transaction: its own
/// writes first, then the database. A read error fails the transaction
/// (reading it as absent would judge entries against a state that is not
/// the log's).
pub struct StateView<'a>(&'a PgWrite);

impl StateReader for StateView<'_> {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        let w = self.0;
        let k = key.to_string();
        let bytes = match w.pending.state.get(&k) {
            Some(v) => Some(v.clone()),
            None => {
                let mut cache = w.cache.lock().expect("cache");
                match cache.state.get(&k) {
                    Some(v) => v.clone(),
                    None => match state_get(w.c(), &k) {
                        Ok(v) => {
                            cache.state.insert(k, v.clone());
                            v
                        }
                        Err(e) => {
                            tracing::error!("state read failed; the batch will not commit: {e}");
                            w.failed.store(true, Ordering::Relaxed);
                            None
                        }
                    },
                }
            }
        }?;
        decode_state(&bytes)
    }
}

impl PgAppender<'_> {
    /// head: see [`super::Appender::head`].
    pub fn head(&self) -> Head {
        self.w.head
    }

    /// logged_at: see [`super::Appender::logged_at`].
    pub fn logged_at(&self, content_id: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        if let Some(&x) = self.w.pending.content_ids.get(content_id) {
            return Ok(Some(x));
        }
        if let Some(&x) = self.w.prefetched.get(content_id) {
            return Ok(x);
        }
        let r = block_on(self.w.c().query_typed_opt(
            "SELECT idx FROM regledger.content_ids WHERE cid = $1",
            &[(&content_id.as_slice(), Type::BYTEA)],
        ));
        Ok(self.w.fail_on(r)?.map(|row| row.get::<_, i64>(0) as u64))
    }

    /// prefetch_logged: see [`super::Appender::prefetch_logged`].
    pub fn prefetch_logged(&mut self, content_ids: &[[u8; 32]]) -> Result<(), StoreError> {
        let want: Vec<&[u8]> = content_ids.iter().map(|c| c.as_slice()).collect();
        let r = block_on(self.w.c().query_typed(
            "SELECT cid, idx FROM regledger.content_ids WHERE cid = ANY($1)",
            &[(&want, Type::BYTEA_ARRAY)],
        ));
        let rows = self.w.fail_on(r)?;
        for c in content_ids {
            self.w.prefetched.insert(*c, None);
        }
        for row in rows {
            let cid: &[u8] = row.get(0);
            if let Ok(k) = <[u8; 32]>::try_from(cid) {
                self.w
                    .prefetched
                    .insert(k, Some(row.get::<_, i64>(1) as u64));
            }
        }
        Ok(())
    }

    /// state: see [`super::Appender::state`].
    pub fn state(&self) -> StateView<'_> {
        StateView(self.w)
    }

    /// root_at: see [`super::Appender::root_at`].
    pub fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        Ok(tree_hash(self.suite, size, &Hashes(self.w))?)
    }

    /// next_root: see [`super::Appender::next_root`].
    pub fn next_root(
        &mut self,
        index: u64,
        fx: &Effects,
        content_id: &[u8; 32],
    ) -> Result<Hash, StoreError> {
        if index != self.w.head.size || self.w.pending.staged == Some(index) {
            return Err(StoreError::NotNext {
                index,
                size: self.w.head.size,
            });
        }
        let writes = entry_writes(index, fx, content_id);
        let changes = std::mem::take(&mut self.w.pending.map_changes);
        let mut map = StateMap::new(self.suite, Overlay::with_changes(WriteMap(self.w), changes));
        let root = apply_writes(&mut map, &writes);
        let changes = map.into_store().into_changes();
        self.w.pending.map_changes = changes;
        let root = root.map_err(|e| StoreError::Map(e.to_string()))?;
        self.w.pending.staged = Some(index);
        Ok(root)
    }

    /// append_entry: see [`super::Appender::append_entry`].
    pub fn append_entry(
        &mut self,
        ctx: &EntryContext,
        leaf_hash: Hash,
        leaf_bytes: &[u8],
        envelope_bytes: Option<&[u8]>,
        fx: &Effects,
        content_id: [u8; 32],
    ) -> Result<(), StoreError> {
        let at = self.w.head.size;
        if ctx.index != at || self.w.pending.staged != Some(at) {
            return Err(StoreError::NotNext {
                index: ctx.index,
                size: at,
            });
        }
        let written = self.write(
            at,
            ctx,
            leaf_hash,
            leaf_bytes,
            envelope_bytes,
            fx,
            content_id,
        );
        if written.is_err() {
            self.w.failed.store(true, Ordering::Relaxed);
        }
        written
    }

    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        at: u64,
        ctx: &EntryContext,
        leaf_hash: Hash,
        leaf_bytes: &[u8],
        envelope_bytes: Option<&[u8]>,
        fx: &Effects,
        content_id: [u8; 32],
    ) -> Result<(), StoreError> {
        let new_hashes = stored_hashes_for_record(self.suite, at, leaf_hash, &Hashes(self.w))?;
        // The committed records, the bytes the state map's value hash covers.
        let state: Vec<(String, Vec<u8>)> = fx
            .writes
            .iter()
            .map(|(k, v)| (k.to_string(), record_bytes(at, v)))
            .collect();
        let p = &mut self.w.pending;
        for (x, h) in (stored_hash_count(at)..).zip(new_hashes) {
            p.hashes.insert(x, h);
        }
        p.leaf_idx.push(i(at));
        p.leaves.push(leaf_bytes.to_vec());
        if let Some(e) = envelope_bytes {
            p.env_idx.push(i(at));
            p.envelopes.push(e.to_vec());
        }
        p.content_ids.insert(content_id, at);
        p.state.extend(state);
        for s in &fx.subjects {
            p.subjects.push((s.clone(), i(at)));
        }
        // The version byte of a leaf, as redb's (bytes that are not one,
        // which only tests append, keep the head's).
        let version = match leaf_bytes.first() {
            Some(&v)
                if v == regledger::entry::leaf::LEAF_V1 || v == regledger::entry::leaf::LEAF_V2 =>
            {
                v
            }
            _ => self.w.head.last_version,
        };
        self.w
            .head
            .advance(leaf_hash, ctx.integrated_time_ms, version);
        self.w.moved = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
