//! The appender: an entry's rows buffered in a [`PgWrite`].

use std::sync::atomic::Ordering;

use regledger::registry::{Effects, StateKey, StateObject, StateReader};
use regledger::tlog::tree::{stored_hash_count, stored_hashes_for_record, tree_hash};
use regledger::{Hash, HashSuite};
use tokio_postgres::types::Type;

use regledger::registry::commit::record_bytes;

use super::conn::{block_on, i};
use super::read::state_get;
use super::write::{Hashes, PgWrite, WriteMap};
use crate::store::append::stage_on;
use crate::store::cache::TxCache;
use crate::store::redb::tables::decode_state;
use crate::store::{Head, StoreError};

/// PgAppender appends entries into a [`PgWrite`]'s buffers.
pub struct PgAppender<'tx> {
    pub(super) suite: HashSuite,
    pub(super) w: &'tx mut PgWrite,
}

/// StateView reads the registry state of a write transaction: its own
/// writes first, then the database. A read error fails the transaction
/// (reading it as absent would judge entries against a state that is not
/// the log's).
pub struct StateView<'a>(pub(super) &'a PgWrite);

impl StateView<'_> {
    /// lookup is [`StateReader::get`] telling a failed read (`Err`: the
    /// transaction is failed) from an absent object.
    pub(in crate::store) fn lookup(&self, key: &StateKey) -> Result<Option<StateObject>, ()> {
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
                            return Err(());
                        }
                    },
                }
            }
        };
        Ok(bytes.and_then(|b| decode_state(&b)))
    }
}

impl StateReader for StateView<'_> {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        self.lookup(key).ok().flatten()
    }
}

impl PgAppender<'_> {
    /// head: see [`crate::store::Appender::head`].
    pub fn head(&self) -> Head {
        self.w.head
    }

    /// logged_at: see [`crate::store::Appender::logged_at`].
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

    /// prefetch_logged: see [`crate::store::Appender::prefetch_logged`].
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

    /// root_at: see [`crate::store::Appender::root_at`].
    pub fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        Ok(tree_hash(self.suite, size, &Hashes(self.w))?)
    }

    /// state_lookup: see [`StateView::lookup`].
    pub(in crate::store) fn state_lookup(&self, key: &StateKey) -> Result<Option<StateObject>, ()> {
        StateView(self.w).lookup(key)
    }

    /// txc is the transaction's view of the state cache.
    pub(in crate::store) fn txc(&mut self) -> &mut TxCache {
        self.w.txc.as_mut().expect("open until commit")
    }

    /// txc_ref is [`PgAppender::txc`] for reads.
    pub(in crate::store) fn txc_ref(&self) -> &TxCache {
        self.w.txc.as_ref().expect("open until commit")
    }

    /// staged: see [`crate::store::Appender::next_root`].
    pub(in crate::store) fn staged(&self) -> Option<u64> {
        self.w.pending.staged
    }

    /// stage_map stages the map writes of the entry at `index` (checked
    /// to be the head by [`crate::store::Appender::next_root`]).
    pub(in crate::store) fn stage_map(
        &mut self,
        index: u64,
        fx: &Effects,
        content_id: &[u8; 32],
    ) -> Result<Hash, StoreError> {
        let changes = std::mem::take(&mut self.w.pending.map_changes);
        let (root, changes) =
            stage_on(self.suite, WriteMap(self.w), changes, index, fx, content_id);
        self.w.pending.map_changes = changes;
        let root = root?;
        self.w.pending.staged = Some(index);
        Ok(root)
    }

    /// fail marks the transaction failed: it refuses to commit.
    pub(in crate::store) fn fail(&mut self) {
        self.w.failed.store(true, Ordering::Relaxed);
    }

    /// advance moves the head past the entry just written.
    pub(in crate::store) fn advance(&mut self, leaf_hash: Hash, time_ms: u64, version: u8) {
        self.w.head.advance(leaf_hash, time_ms, version);
        self.w.moved = true;
    }

    /// envelope: see [`crate::store::Appender::envelope`]: this
    /// transaction's own appends first (none dropped yet), then the database.
    pub(in crate::store) fn envelope(&self, at: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let p = &self.w.pending;
        if p.pruned.iter().any(|(x, _)| *x == i(at)) {
            return Ok(None);
        }
        if let Some(k) = p.env_idx.iter().position(|x| *x == i(at)) {
            return Ok(Some(p.envelopes[k].clone()));
        }
        let r = block_on(self.w.c().query_typed_opt(
            "SELECT envelope FROM regledger.envelopes WHERE idx = $1",
            &[(&i(at), Type::INT8)],
        ));
        Ok(self.w.fail_on(r)?.map(|row| row.get::<_, Vec<u8>>(0)))
    }

    /// drop_envelopes: see the redb driver's.
    pub(in crate::store) fn drop_envelopes(
        &mut self,
        indexes: &[u64],
        by: u64,
    ) -> Result<(), StoreError> {
        let p = &mut self.w.pending;
        for &x in indexes {
            // One of this transaction's own appends is never written.
            if let Some(k) = p.env_idx.iter().position(|e| *e == i(x)) {
                p.env_idx.remove(k);
                p.envelopes.remove(k);
            }
            p.pruned.push((i(x), i(by)));
        }
        Ok(())
    }

    /// write buffers the rows of the entry at index `at` (checked to be
    /// the staged head by [`crate::store::Appender::append_entry`]).
    pub(in crate::store) fn write(
        &mut self,
        at: u64,
        leaf_hash: Hash,
        leaf_bytes: &[u8],
        envelope_bytes: Option<&[u8]>,
        fx: &Effects,
        content_id: Option<[u8; 32]>,
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
        if let Some(c) = content_id {
            p.content_ids.insert(c, at);
        }
        p.state.extend(state);
        for s in &fx.subjects {
            p.subjects.push((s.clone(), i(at)));
        }
        Ok(())
    }
}
