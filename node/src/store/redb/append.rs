//! redb's rows of an appended entry: leaf, envelope, stored hashes, state,
//! state map, subject index, replay index. The contract of an append (at
//! the head, staged first, a failure poisons the transaction) is
//! [`crate::store::Appender`]'s, once for both drivers.

use redb::{MultimapTable, ReadableTable, Table, WriteTransaction};
use regledger::registry::commit::record_bytes;
use regledger::registry::{Effects, StateKey, StateObject};
use regledger::statemap::Changes;
use regledger::tlog::tree::{stored_hash_count, stored_hashes_for_record, tree_hash};
use regledger::{Hash, HashSuite};

use super::tables::{
    decode_state, meta_u64, Hashes, MapNodes, StoredHashes, CONTENT_IDS, ENVELOPES, EVENT_IDS,
    HASHES, LEAVES, META, M_ARCHIVED, PRUNED, STATE, STATE_MAP, SUBJECTS,
};
use crate::store::append::stage_on;
use crate::store::cache::TxCache;
use crate::store::{Head, StoreError};

/// RedbAppender holds the log's tables open in a [`super::RedbWrite`] and appends
/// entries at its head. Reads through it (state, replay index, root) see
/// the entries appended before in the same transaction, as the rules must
/// (an entry earlier in a batch counts).
pub struct RedbAppender<'tx> {
    suite: HashSuite,
    head: &'tx mut Head,
    moved: &'tx mut bool,
    failed: &'tx mut bool,
    map_changes: &'tx mut Changes,
    txc: &'tx mut TxCache,
    staged: Option<u64>,
    leaves: Table<'tx, u64, &'static [u8]>,
    envelopes: Table<'tx, u64, &'static [u8]>,
    map: Table<'tx, &'static [u8], &'static [u8]>,
    hashes: Table<'tx, u64, [u8; 32]>,
    state: Table<'tx, &'static str, &'static [u8]>,
    content_ids: Table<'tx, [u8; 32], u64>,
    event_ids: Table<'tx, [u8; 16], u64>,
    subjects: MultimapTable<'tx, &'static str, u64>,
    pruned: Table<'tx, u64, u64>,
    /// archive holds the entries below `archived` (D29).
    archive: Option<std::sync::Arc<crate::store::Archive>>,
    archived: u64,
}

impl<'tx> RedbAppender<'tx> {
    /// open opens the tables (see [`super::RedbWrite::appender`]).
    pub(super) fn open(
        w: &'tx mut super::RedbWrite,
        suite: HashSuite,
    ) -> Result<RedbAppender<'tx>, StoreError> {
        let super::RedbWrite {
            tx,
            head,
            moved,
            failed,
            map_changes,
            txc,
            archive,
        } = w;
        let tx: &'tx WriteTransaction = tx;
        Ok(RedbAppender {
            suite,
            head,
            moved,
            failed,
            map_changes,
            txc,
            staged: None,
            leaves: tx.open_table(LEAVES)?,
            envelopes: tx.open_table(ENVELOPES)?,
            map: tx.open_table(STATE_MAP)?,
            hashes: tx.open_table(HASHES)?,
            state: tx.open_table(STATE)?,
            content_ids: tx.open_table(CONTENT_IDS)?,
            event_ids: tx.open_table(EVENT_IDS)?,
            subjects: tx.open_multimap_table(SUBJECTS)?,
            pruned: tx.open_table(PRUNED)?,
            archived: meta_u64(&tx.open_table(META)?, M_ARCHIVED)?,
            archive: archive.clone(),
        })
    }

    /// head returns the head the next entry continues.
    pub fn head(&self) -> Head {
        *self.head
    }

    /// logged_at returns the index of the entry that logged `content_id`
    /// ([`regledger::entry::envelope::Envelope::content_id`]), if one did: a
    /// replay (D12).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub fn logged_at(&self, content_id: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        if let Some(i) = self.content_ids.get(content_id)? {
            return Ok(Some(i.value()));
        }
        let Some(i) = self
            .event_ids
            .get(event_key(content_id))?
            .map(|v| v.value())
        else {
            return Ok(None);
        };
        // The same first 16 bytes: the same content only if the envelope
        // logged at `i` has this whole content id (D31).
        match self.envelope(i)? {
            Some(bytes) => {
                let logged = regledger::entry::envelope::Envelope::from_bytes(&bytes)
                    .map_err(|_| StoreError::Unreadable("a logged envelope (replay check)"))?;
                Ok((logged.content_id() == *content_id).then_some(i))
            }
            // Pruned (D22), or a mirror's open gap (D25): the bytes are
            // gone, so the prefix stands for the id, as the whole id did
            // before D31 (two contents share it with probability 2^-128).
            None => Ok(Some(i)),
        }
    }

    /// state_lookup reads the object at `key` in this transaction, telling
    /// a failed read (`Err`) from an absent object; a stored value that
    /// does not decode reads as absent, as [`super::tables::state_get`] reads it.
    pub(in crate::store) fn state_lookup(&self, key: &StateKey) -> Result<Option<StateObject>, ()> {
        let k = key.to_string();
        match self.state.get(k.as_str()) {
            Ok(v) => Ok(v.and_then(|v| decode_state(v.value()))),
            Err(_) => Err(()),
        }
    }

    /// root_at returns the root of the first `size` leaves, the entries appended so far included.
    ///
    /// # Errors
    ///
    /// [`StoreError::Tree`] if `size` is past the head.
    pub fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        Ok(tree_hash(self.suite, size, &self.stored_hashes())?)
    }

    /// stored_hashes reads the stored hashes, this transaction's and
    /// archived ones included (D30).
    fn stored_hashes(&self) -> StoredHashes<'_, redb::Table<'_, u64, [u8; 32]>> {
        StoredHashes {
            table: &self.hashes,
            archived: self.archived,
            archive: self.archive.as_deref(),
        }
    }

    /// txc is the transaction's view of the state cache.
    pub(in crate::store) fn txc(&mut self) -> &mut TxCache {
        self.txc
    }

    /// txc_ref is [`RedbAppender::txc`] for reads.
    pub(in crate::store) fn txc_ref(&self) -> &TxCache {
        self.txc
    }

    /// staged: see [`crate::store::Appender::next_root`].
    pub(in crate::store) fn staged(&self) -> Option<u64> {
        self.staged
    }

    /// stage_map stages the map writes of the entry at `index` (checked
    /// to be the head by [`crate::store::Appender::next_root`]).
    pub(in crate::store) fn stage_map(
        &mut self,
        index: u64,
        fx: &Effects,
        content_id: &[u8; 32],
    ) -> Result<Hash, StoreError> {
        let changes = std::mem::take(self.map_changes);
        let (root, changes) = stage_on(
            self.suite,
            MapNodes(&self.map),
            changes,
            index,
            fx,
            content_id,
        );
        *self.map_changes = changes;
        let root = root?;
        self.staged = Some(index);
        Ok(root)
    }

    /// write writes the rows of the entry at index `i` (checked to be the
    /// staged head by [`crate::store::Appender::append_entry`]).
    pub(in crate::store) fn write(
        &mut self,
        i: u64,
        leaf_hash: Hash,
        leaf_bytes: &[u8],
        envelope_bytes: Option<&[u8]>,
        fx: &Effects,
        content_id: Option<[u8; 32]>,
    ) -> Result<(), StoreError> {
        let new_hashes = stored_hashes_for_record(self.suite, i, leaf_hash, &self.stored_hashes())?;
        for (at, h) in (stored_hash_count(i)..).zip(new_hashes) {
            self.hashes.insert(at, h.0)?;
        }
        self.leaves.insert(i, leaf_bytes)?;
        if let Some(e) = envelope_bytes {
            self.envelopes.insert(i, e)?;
        }
        if let Some(c) = content_id {
            // Operation events, the high-volume kind, by their first 16
            // bytes unless other content holds those (D31).
            // One insert on the common path; the rare event whose 16 bytes
            // another content holds puts that index back and goes whole.
            if fx.kind == regledger::registry::EntryKind::OperationEvent {
                let key = event_key(&c);
                let taken = self.event_ids.insert(key, i)?.map(|v| v.value());
                if let Some(first) = taken {
                    self.event_ids.insert(key, first)?;
                    self.content_ids.insert(c, i)?;
                }
            } else {
                self.content_ids.insert(c, i)?;
            }
        }
        for (k, v) in &fx.writes {
            // The committed record, the bytes the state map's value hash covers.
            let rec = record_bytes(i, v);
            self.state.insert(k.to_string().as_str(), rec.as_slice())?;
        }
        for s in &fx.subjects {
            self.subjects.insert(s.as_str(), i)?;
        }
        Ok(())
    }

    /// envelope: see [`crate::store::Appender::envelope`].
    pub(in crate::store) fn envelope(&self, i: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if i < self.archived {
            let a = self
                .archive
                .as_deref()
                .ok_or_else(|| crate::store::Archive::not_opened(i))?;
            if self.pruned.get(i)?.is_some() {
                return Ok(None);
            }
            let leaf = a.leaves(i, i + 1, &Hashes(&self.hashes))?;
            return a.envelope(i, &leaf[0]);
        }
        Ok(self.envelopes.get(i)?.map(|v| v.value().to_vec()))
    }

    /// drop_envelopes removes the envelopes of `indexes` and records that
    /// entry `by` pruned them (see [`crate::store::Appender::append_entry`]).
    pub(in crate::store) fn drop_envelopes(
        &mut self,
        indexes: &[u64],
        by: u64,
    ) -> Result<(), StoreError> {
        for &i in indexes {
            self.envelopes.remove(i)?;
            self.pruned.insert(i, by)?;
        }
        Ok(())
    }

    /// fail marks the transaction failed: it refuses to commit.
    pub(in crate::store) fn fail(&mut self) {
        *self.failed = true;
    }

    /// advance moves the head past the entry just written.
    pub(in crate::store) fn advance(&mut self, leaf_hash: Hash, time_ms: u64, version: u8) {
        self.head.advance(leaf_hash, time_ms, version);
        *self.moved = true;
    }
}

/// event_key is the [`EVENT_IDS`] key of a content id: its first 16 bytes.
fn event_key(content_id: &[u8; 32]) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(&content_id[..16]);
    k
}
