//! Write transactions: the writer lock, the buffered rows and the commit.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use regledger::tlog::tree::{stored_hash_index, tree_hash, HashReader, TreeError};
use regledger::{Hash, HashSuite};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use regledger::statemap::{Changes, Child, InternalNode, NodeId, NodeReader};

use super::append::PgAppender;
use super::conn::{block_on, i, Shared};
use super::read::{hashes_get, map_err, map_get, map_key, meta_str};
use crate::store::cache::TxCache;
use crate::store::redb::tables::{
    COSIGNED_PREFIX, M_CHECKPOINT, M_LAST_HASH, M_LAST_TIME, M_LAST_VERSION, M_SIZE, M_TILES_SIZE,
    M_VERIFYING, M_WITNESS, WEBHOOK_PREFIX,
};
use crate::store::{Head, StoreError};

/// Pending is a write transaction's appended rows, sent at commit.
#[derive(Default)]
pub(super) struct Pending {
    pub(super) leaf_idx: Vec<i64>,
    pub(super) leaves: Vec<Vec<u8>>,
    pub(super) hashes: BTreeMap<u64, Hash>,
    pub(super) state: BTreeMap<String, Vec<u8>>,
    pub(super) content_ids: HashMap<[u8; 32], u64>,
    pub(super) subjects: Vec<(String, i64)>,
    pub(super) env_idx: Vec<i64>,
    pub(super) envelopes: Vec<Vec<u8>>,
    /// pruned are envelopes a `retention-pruned` drops (index, prune
    /// index), deleted at commit after this transaction's own inserts.
    pub(super) pruned: Vec<(i64, i64)>,
    /// map_changes are the state map writes staged by the appends, written
    /// once at commit (D15), as redb's.
    pub(super) map_changes: Changes,
    /// staged is the index whose map writes [`PgAppender::next_root`] staged.
    pub(super) staged: Option<u64>,
}

/// Cache holds what a write transaction read from the database: stored
/// hashes never change once committed, and state rows change only through
/// this transaction while it holds the writer lock (its own writes, in
/// [`Pending`], take precedence).
#[derive(Default)]
pub(super) struct Cache {
    pub(super) hashes: HashMap<u64, Hash>,
    pub(super) state: HashMap<String, Option<Vec<u8>>>,
    /// map holds committed state map rows read (by key; absent as `None`).
    pub(super) map: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// frontier_read says the committed tree's frontier is in `hashes`.
    pub(super) frontier_read: bool,
}

/// PgWrite is one write transaction, holding the writer lock.
pub struct PgWrite {
    pub(super) shared: Arc<Shared>,
    pub(super) c: Option<Client>,
    pub(super) head: Head,
    /// committed_size is the tree size this transaction began at.
    pub(super) committed_size: u64,
    pub(super) moved: bool,
    /// failed says an append (or a read or write it made) failed: the
    /// transaction refuses to commit.
    pub(super) failed: AtomicBool,
    pub(super) pending: Pending,
    pub(super) cache: Mutex<Cache>,
    /// prefetched is the replay index for content ids asked for at once
    /// (absent ones as `None`: valid while this transaction holds the
    /// writer lock, since only writers add to it).
    pub(super) prefetched: HashMap<[u8; 32], Option<u64>>,
    /// txc is this transaction's view of the state cache (taken at commit).
    pub(super) txc: Option<TxCache>,
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
pub(super) struct Hashes<'a>(pub(super) &'a PgWrite);

impl HashReader for Hashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        let w = self.0;
        let mut cache = w.cache.lock().expect("cache");
        let missing: Vec<u64> = {
            let absent =
                |x: &u64| !w.pending.hashes.contains_key(x) && !cache.hashes.contains_key(x);
            let mut m: Vec<u64> = indexes.iter().copied().filter(absent).collect();
            if !m.is_empty() && !cache.frontier_read {
                // Every committed hash an append reads is a root of the
                // committed tree's frontier: read them all with the first.
                m.extend(frontier(w.committed_size).into_iter().filter(absent));
            }
            m
        };
        if !missing.is_empty() {
            cache.frontier_read = true;
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
pub(super) struct WriteMap<'a>(pub(super) &'a PgWrite);

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

/// frontier lists the stored indexes of the roots of the perfect subtrees a
/// tree of `size` leaves is made of (largest first): the only committed
/// hashes appending to it needs.
pub(super) fn frontier(size: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut start = 0u64;
    for level in (0..u64::BITS as u8).rev() {
        if size & (1 << level) != 0 {
            out.push(stored_hash_index(level, start >> level));
            start += 1 << level;
        }
    }
    out
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
    pub(super) fn c(&self) -> &Client {
        self.c.as_ref().expect("open until commit or drop")
    }

    /// fail marks the transaction failed when `r` is an error, and passes it on.
    pub(super) fn fail_on<T>(&self, r: Result<T, tokio_postgres::Error>) -> Result<T, StoreError> {
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
        #[cfg(test)]
        if self.txc.as_ref().is_some_and(TxCache::take_fault) {
            // Dropped: the server rolls it back.
            return Err(StoreError::Unreadable("commit (injected fault)"));
        }
        let c = self.c.take().expect("open until commit");
        let r = self.send(&c);
        if r.is_ok() {
            self.shared.checkin(c);
            // Durable: only now do its writes count as committed state.
            if let Some(t) = self.txc.take() {
                t.committed(self.head);
            }
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
        let pruned_idx: Vec<i64> = p.pruned.iter().map(|(x, _)| *x).collect();
        let pruned_by: Vec<i64> = p.pruned.iter().map(|(_, b)| *b).collect();
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
        if !pruned_idx.is_empty() {
            sent.push(stmt(
                c,
                "DELETE FROM regledger.envelopes WHERE idx = ANY($1) AND $2::int8 IS NOT NULL",
                [(&pruned_idx, Type::INT8_ARRAY), (&0i64, Type::INT8)],
            ));
            sent.push(stmt(
                c,
                "INSERT INTO regledger.pruned (idx, by_idx) \
                 SELECT * FROM unnest($1::int8[], $2::int8[])",
                [
                    (&pruned_idx, Type::INT8_ARRAY),
                    (&pruned_by, Type::INT8_ARRAY),
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
        // COMMIT is pipelined behind them: if a statement failed, the
        // server has aborted the transaction and answers the COMMIT with a
        // rollback; every answer is checked, so nothing failed is
        // acknowledged.
        let (answers, commit) = block_on(futures_util::future::join(
            futures_util::future::join_all(sent),
            c.batch_execute("COMMIT"),
        ));
        for a in answers {
            a?;
        }
        commit?;
        Ok(())
    }
}
