//! The one append path of the log: what makes an entry part of it.
//!
//! The sequencer (entries it builds) and the mirror (entries it verified
//! against a signed tree) both call [`RedbAppender::append_entry`], so the
//! writes of an entry (leaf, stored hashes, state, subject index, replay
//! index, head) exist once and cannot drift between the two.

use redb::{MultimapTable, ReadableTable, Table, WriteTransaction};
use regledger::entry::chain::EntryContext;
use regledger::registry::{Effects, StateKey, StateObject, StateReader};
use regledger::tlog::tree::{stored_hash_count, stored_hashes_for_record, tree_hash};
use regledger::{Hash, HashSuite};

use super::tables::{state_get, Hashes, CONTENT_IDS, HASHES, LEAVES, STATE, SUBJECTS};
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
    leaves: Table<'tx, u64, &'static [u8]>,
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
    ) -> Result<RedbAppender<'tx>, StoreError> {
        Ok(RedbAppender {
            suite,
            head,
            moved,
            failed,
            leaves: tx.open_table(LEAVES)?,
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

    /// append_entry appends one entry at the head: its leaf bytes, the
    /// stored hashes it completes, the state writes and subjects of its
    /// effects `fx`, its `content_id` in the replay index; then the head
    /// moves past it. `ctx` is what
    /// [`regledger::entry::chain::ChainHead::check_next`] returned for the
    /// leaf, so the chain rule was checked before; the registry rules gave
    /// `fx`. The entry is durable only once the transaction commits.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotNext`] if `ctx` is not at the head (nothing is
    /// written); [`StoreError::Database`], [`StoreError::Tree`] or
    /// [`StoreError::Encode`] part-way, after which the transaction refuses
    /// to commit: drop it.
    pub fn append_entry(
        &mut self,
        ctx: &EntryContext,
        leaf_bytes: &[u8],
        fx: &Effects,
        content_id: [u8; 32],
    ) -> Result<(), StoreError> {
        let i = self.head.size;
        if ctx.index != i {
            return Err(StoreError::NotNext {
                index: ctx.index,
                size: i,
            });
        }
        let written = self.write(i, ctx, leaf_bytes, fx, content_id);
        if written.is_err() {
            *self.failed = true;
        }
        written
    }

    /// write does the writes of [`RedbAppender::append_entry`] at index `i`.
    fn write(
        &mut self,
        i: u64,
        ctx: &EntryContext,
        leaf_bytes: &[u8],
        fx: &Effects,
        content_id: [u8; 32],
    ) -> Result<(), StoreError> {
        let new_hashes =
            stored_hashes_for_record(self.suite, i, ctx.leaf_hash, &Hashes(&self.hashes))?;
        for (at, h) in (stored_hash_count(i)..).zip(new_hashes) {
            self.hashes.insert(at, h.0)?;
        }
        self.leaves.insert(i, leaf_bytes)?;
        self.content_ids.insert(content_id, i)?;
        for (k, v) in &fx.writes {
            let json = serde_json::to_vec(v).map_err(StoreError::Encode)?;
            self.state.insert(k.to_string().as_str(), json.as_slice())?;
        }
        for s in &fx.subjects {
            self.subjects.insert(s.as_str(), i)?;
        }
        self.head.advance(ctx.leaf_hash, ctx.integrated_time_ms);
        *self.moved = true;
        Ok(())
    }
}
