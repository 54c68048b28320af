//! The one append path of the log: what makes an entry part of it.
//!
//! The sequencer (entries it builds) and the mirror (entries it verified
//! against a signed tree) both call [`RedbAppender::append_entry`], so the
//! writes of an entry (leaf, envelope, stored hashes, state, state map,
//! subject index, replay index, head) exist once and cannot drift between
//! the two.
//!
//! The state map (D15) is computed on an overlay: [`RedbAppender::next_root`]
//! stages an entry's map writes and returns the root its v2 leaf commits
//! to; the overlay's changes are written once, when the transaction
//! commits, so a node touched by several entries of a batch is written once.

use redb::{MultimapTable, ReadableTable, Table, WriteTransaction};
use regledger::entry::chain::EntryContext;
use regledger::registry::commit::{apply_writes, entry_writes, record_bytes};
use regledger::registry::{Effects, StateKey, StateObject, StateReader};
use regledger::statemap::{Changes, Overlay, StateMap};
use regledger::tlog::tree::{stored_hash_count, stored_hashes_for_record, tree_hash};
use regledger::{Hash, HashSuite};

use super::tables::{
    state_get, Hashes, MapNodes, CONTENT_IDS, ENVELOPES, HASHES, LEAVES, STATE, STATE_MAP, SUBJECTS,
};
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
    staged: Option<u64>,
    leaves: Table<'tx, u64, &'static [u8]>,
    envelopes: Table<'tx, u64, &'static [u8]>,
    map: Table<'tx, &'static [u8], &'static [u8]>,
    hashes: Table<'tx, u64, [u8; 32]>,
    state: Table<'tx, &'static str, &'static [u8]>,
    content_ids: Table<'tx, [u8; 32], u64>,
    subjects: MultimapTable<'tx, &'static str, u64>,
}

/// StateView reads the registry state of an [`RedbAppender`]'s transaction.
struct StateView<'a, 'tx>(&'a Table<'tx, &'static str, &'static [u8]>);

impl StateReader for StateView<'_, '_> {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        state_get(self.0, key)
    }
}

impl<'tx> RedbAppender<'tx> {
    /// open opens the tables (see [`super::RedbWrite::appender`]).
    pub(super) fn open(
        tx: &'tx WriteTransaction,
        suite: HashSuite,
        head: &'tx mut Head,
        moved: &'tx mut bool,
        failed: &'tx mut bool,
        map_changes: &'tx mut Changes,
    ) -> Result<RedbAppender<'tx>, StoreError> {
        Ok(RedbAppender {
            suite,
            head,
            moved,
            failed,
            map_changes,
            staged: None,
            leaves: tx.open_table(LEAVES)?,
            envelopes: tx.open_table(ENVELOPES)?,
            map: tx.open_table(STATE_MAP)?,
            hashes: tx.open_table(HASHES)?,
            state: tx.open_table(STATE)?,
            content_ids: tx.open_table(CONTENT_IDS)?,
            subjects: tx.open_multimap_table(SUBJECTS)?,
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
        Ok(self.content_ids.get(content_id)?.map(|v| v.value()))
    }

    /// state returns the registry state the next entry is judged against.
    pub fn state(&self) -> impl StateReader + '_ {
        StateView(&self.state)
    }

    /// root_at returns the root of the first `size` leaves, the entries appended so far included.
    ///
    /// # Errors
    ///
    /// [`StoreError::Tree`] if `size` is past the head.
    pub fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        Ok(tree_hash(self.suite, size, &Hashes(&self.hashes))?)
    }

    /// next_root stages the state map writes of the entry at the head
    /// (index `index`, effects `fx`, envelope content id `content_id`;
    /// [`entry_writes`]) and returns the state root after it: what its v2
    /// leaf commits to. Call it once per entry, before
    /// [`RedbAppender::append_entry`], which refuses an entry not staged.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotNext`] if `index` is not the head;
    /// [`StoreError::Map`] if the stored map is unreadable.
    pub fn next_root(
        &mut self,
        index: u64,
        fx: &Effects,
        content_id: &[u8; 32],
    ) -> Result<Hash, StoreError> {
        if index != self.head.size || self.staged == Some(index) {
            return Err(StoreError::NotNext {
                index,
                size: self.head.size,
            });
        }
        let writes = entry_writes(index, fx, content_id);
        let changes = std::mem::take(self.map_changes);
        let mut map = StateMap::new(
            self.suite,
            Overlay::with_changes(MapNodes(&self.map), changes),
        );
        let root = apply_writes(&mut map, &writes);
        *self.map_changes = map.into_store().into_changes();
        let root = root.map_err(|e| StoreError::Map(e.to_string()))?;
        self.staged = Some(index);
        Ok(root)
    }

    /// append_entry appends one entry at the head: its leaf bytes (hash
    /// `leaf_hash`), its envelope's bytes beside a v2 leaf, the stored
    /// hashes it completes, the state writes and subjects of its effects
    /// `fx`, its `content_id` in the replay index; then the head moves past
    /// it. `ctx` is what
    /// [`regledger::entry::chain::ChainHead::check_next`] returned for the
    /// leaf, so the chain rule was checked before; the registry rules gave
    /// `fx`, and [`RedbAppender::next_root`] staged its map writes. The entry is
    /// durable only once the transaction commits.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotNext`] if `ctx` is not at the head or its map
    /// writes were not staged (nothing is written);
    /// [`StoreError::Database`] or [`StoreError::Tree`]
    /// part-way, after which the transaction refuses
    /// to commit: drop it.
    pub fn append_entry(
        &mut self,
        ctx: &EntryContext,
        leaf_hash: Hash,
        leaf_bytes: &[u8],
        envelope_bytes: Option<&[u8]>,
        fx: &Effects,
        content_id: [u8; 32],
    ) -> Result<(), StoreError> {
        let i = self.head.size;
        if ctx.index != i || self.staged != Some(i) {
            return Err(StoreError::NotNext {
                index: ctx.index,
                size: i,
            });
        }
        let written = self.write(
            i,
            ctx,
            leaf_hash,
            leaf_bytes,
            envelope_bytes,
            fx,
            content_id,
        );
        if written.is_err() {
            *self.failed = true;
        }
        written
    }

    /// write does the writes of [`RedbAppender::append_entry`] at index `i`.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        i: u64,
        ctx: &EntryContext,
        leaf_hash: Hash,
        leaf_bytes: &[u8],
        envelope_bytes: Option<&[u8]>,
        fx: &Effects,
        content_id: [u8; 32],
    ) -> Result<(), StoreError> {
        let new_hashes = stored_hashes_for_record(self.suite, i, leaf_hash, &Hashes(&self.hashes))?;
        for (at, h) in (stored_hash_count(i)..).zip(new_hashes) {
            self.hashes.insert(at, h.0)?;
        }
        self.leaves.insert(i, leaf_bytes)?;
        if let Some(e) = envelope_bytes {
            self.envelopes.insert(i, e)?;
        }
        self.content_ids.insert(content_id, i)?;
        for (k, v) in &fx.writes {
            // The committed record, the bytes the state map's value hash covers.
            let rec = record_bytes(i, v);
            self.state.insert(k.to_string().as_str(), rec.as_slice())?;
        }
        for s in &fx.subjects {
            self.subjects.insert(s.as_str(), i)?;
        }
        // The version byte of a leaf (bytes that are not one, which only
        // tests append, keep the head's).
        let version = match leaf_bytes.first() {
            Some(&v)
                if v == regledger::entry::leaf::LEAF_V1 || v == regledger::entry::leaf::LEAF_V2 =>
            {
                v
            }
            _ => self.head.last_version,
        };
        self.head
            .advance(leaf_hash, ctx.integrated_time_ms, version);
        *self.moved = true;
        Ok(())
    }
}
