//! The one append path of the log, whatever the driver: what makes an
//! entry part of it.
//!
//! The sequencer (entries it builds) and the mirror (entries it verified
//! against a signed tree) both call [`Appender::append_entry`]. The
//! contract lives here once: an entry is appended only at the head and
//! only after [`Appender::next_root`] staged its state-map writes; a write
//! that fails part-way poisons the transaction (it refuses to commit); the
//! head then moves past the entry. A driver only stores rows
//! (`stage_map`, `write`, `advance`, `fail`), so the two drivers cannot
//! drift on what an append means.
//!
//! The state map (D15) is computed on an overlay ([`stage_on`]): the
//! overlay's changes are written once, when the transaction commits, so a
//! node touched by several entries of a batch is written once.

use regledger::entry::chain::EntryContext;
use regledger::entry::envelope::Envelope;
use regledger::registry::commit::{apply_writes, entry_writes};
use regledger::registry::{
    check_prune_scope, Effects, EntryKind, RetentionPruned, RuleViolation, StateKey, StateObject,
    StateReader,
};
use regledger::statemap::{Changes, NodeReader, Overlay, StateMap};
use regledger::{Hash, HashSuite};

use super::{Head, PgAppender, RedbAppender, StoreError};

/// Appender holds the log's tables open in a [`super::WriteTx`] and appends
/// entries at its head. Reads through it (state, replay index, root) see
/// the entries appended before in the same transaction, as the rules must
/// (an entry earlier in a batch counts).
// One lives on the stack per transaction; boxing redb's (the default)
// would add an allocation to every read for no gain.
#[allow(clippy::large_enum_variant)]
pub enum Appender<'tx> {
    /// Redb: redb's open tables.
    Redb(RedbAppender<'tx>),
    /// Postgres: the transaction's buffered rows.
    Postgres(PgAppender<'tx>),
}

/// AppenderState reads the registry state of an [`Appender`]'s transaction.
struct AppenderState<'a, 'tx>(&'a Appender<'tx>);

impl StateReader for AppenderState<'_, '_> {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        // Through the committed state in memory (store/cache.rs): the
        // rules read the same few objects for every entry.
        match self.0 {
            Appender::Redb(a) => a.txc_ref().get(key, || a.state_lookup(key)),
            Appender::Postgres(a) => a.txc_ref().get(key, || a.state_lookup(key)),
        }
    }
}

/// stage_on applies the state-map writes of the entry at `index` (effects
/// `fx`, envelope content id `content_id`; [`entry_writes`]) to the map
/// read through `nodes` under the transaction's pending `changes`, and
/// returns the root after it with the changes grown by its writes. On an
/// error the changes are returned as they were grown so far; the caller's
/// transaction is then refused anyway.
pub(super) fn stage_on<R: NodeReader>(
    suite: HashSuite,
    nodes: R,
    changes: Changes,
    index: u64,
    fx: &Effects,
    content_id: &[u8; 32],
) -> (Result<Hash, StoreError>, Changes) {
    let writes = entry_writes(index, fx, content_id);
    let mut map = StateMap::new(suite, Overlay::with_changes(nodes, changes));
    let root = apply_writes(&mut map, &writes).map_err(|e| StoreError::Map(e.to_string()));
    (root, map.into_store().into_changes())
}

/// gap_effects are the effects of a pruned entry whose envelope was never
/// held ([`Appender::append_gap`]): an operation event's, which write no
/// state and commit no content id.
pub fn gap_effects() -> Effects {
    Effects::new(EntryKind::OperationEvent, "")
}

/// leaf_version is the version byte of `leaf_bytes`; bytes that are not a
/// leaf (which only the store's own tests append) keep the head's.
fn leaf_version(leaf_bytes: &[u8], head: &Head) -> u8 {
    match leaf_bytes.first() {
        Some(&v)
            if v == regledger::entry::leaf::LEAF_V1 || v == regledger::entry::leaf::LEAF_V2 =>
        {
            v
        }
        _ => head.last_version,
    }
}

impl Appender<'_> {
    /// head returns the head the next entry continues.
    pub fn head(&self) -> Head {
        each!(self, a => a.head())
    }

    /// staged is the index whose state-map writes are staged, if any.
    fn staged(&self) -> Option<u64> {
        each!(self, a => a.staged())
    }

    /// logged_at returns the index of the entry that logged `content_id`
    /// ([`regledger::entry::envelope::Envelope::content_id`]), if one did: a
    /// replay (D12).
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn logged_at(&self, content_id: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        each!(self, a => a.logged_at(content_id))
    }

    /// state returns the registry state the next entry is judged against.
    pub fn state(&self) -> impl StateReader + '_ {
        AppenderState(self)
    }

    /// prefetch_logged reads the replay index for `content_ids` at once,
    /// so the [`Appender::logged_at`] calls that follow need no round trip
    /// each (a no-op on redb, whose reads are local).
    ///
    /// # Errors
    ///
    /// The driver's error (the transaction then refuses to commit).
    pub fn prefetch_logged(&mut self, content_ids: &[[u8; 32]]) -> Result<(), StoreError> {
        match self {
            Appender::Redb(_) => Ok(()),
            Appender::Postgres(a) => a.prefetch_logged(content_ids),
        }
    }

    /// root_at returns the root of the first `size` leaves, the entries appended so far included.
    ///
    /// # Errors
    ///
    /// [`StoreError::Tree`] if `size` is past the head.
    pub fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        each!(self, a => a.root_at(size))
    }

    /// envelope returns the envelope stored beside leaf `index`, the
    /// entries appended in this transaction included (None: a v1 leaf, a
    /// pruned one, or none).
    ///
    /// # Errors
    ///
    /// The driver's error.
    pub fn envelope(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        each!(self, a => a.envelope(index))
    }

    /// check_prune checks every entry a `retention-pruned` names against
    /// the envelopes this store holds ([`check_prune_scope`]): the history
    /// half of its rules, which the state cannot answer. The node asks
    /// before it appends such an entry, so a bad one is refused with
    /// nothing written; [`Appender::append_entry`] asks again.
    ///
    /// # Errors
    ///
    /// The outer error is the driver's; the inner the rule the prune breaks.
    pub fn check_prune(
        &self,
        p: &RetentionPruned,
    ) -> Result<Result<(), RuleViolation>, StoreError> {
        for &i in &p.entries {
            let held = match self.envelope(i)? {
                Some(b) => Some(Envelope::from_bytes(&b).map_err(|e| StoreError::BadEntry {
                    index: i,
                    reason: e.to_string(),
                })?),
                None => None,
            };
            if let Err(v) = check_prune_scope(p, i, held.as_ref()) {
                return Ok(Err(v));
            }
        }
        Ok(Ok(()))
    }

    /// next_root stages the state map writes of the entry at the head
    /// (index `index`, effects `fx`, envelope content id `content_id`;
    /// [`entry_writes`]) and returns the state root after it: what its v2
    /// leaf commits to. Call it once per entry, before
    /// [`Appender::append_entry`], which refuses an entry not staged.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotNext`] if `index` is not the head or is staged
    /// already; [`StoreError::Map`] if the stored map is unreadable.
    pub fn next_root(
        &mut self,
        index: u64,
        fx: &Effects,
        content_id: &[u8; 32],
    ) -> Result<Hash, StoreError> {
        let size = self.head().size;
        if index != size || self.staged() == Some(index) {
            return Err(StoreError::NotNext { index, size });
        }
        each!(self, a => a.stage_map(index, fx, content_id))
    }

    /// append_entry appends one entry at the head: its leaf bytes (hash
    /// `leaf_hash`), its envelope's bytes beside a v2 leaf, the stored
    /// hashes it completes, the state writes and subjects of its effects
    /// `fx`, its `content_id` in the replay index; then the head moves past
    /// it. `ctx` is what
    /// [`regledger::entry::chain::ChainHead::check_next`] returned for the
    /// leaf, so the chain rule was checked before; the registry rules gave
    /// `fx`, and [`Appender::next_root`] staged its map writes. The entry is
    /// durable only once the transaction commits.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotNext`] if `ctx` is not at the head or its map
    /// writes were not staged (nothing is written); any other error
    /// part-way, after which the transaction refuses to commit: drop it.
    pub fn append_entry(
        &mut self,
        ctx: &EntryContext,
        leaf_hash: Hash,
        leaf_bytes: &[u8],
        envelope_bytes: Option<&[u8]>,
        fx: &Effects,
        content_id: [u8; 32],
    ) -> Result<(), StoreError> {
        let head = self.next_at(ctx)?;
        let at = head.size;
        // Recorded before the driver writes them: from now on a read of
        // these keys is this transaction's, never taken for committed.
        each!(self, a => a.txc().wrote(&fx.writes));
        let mut written = each!(self, a => a.write(
            at,
            leaf_hash,
            leaf_bytes,
            envelope_bytes,
            fx,
            Some(content_id)
        ));
        // A prune drops the envelopes it names in the transaction that
        // appends it: durable together, or not at all (a crash between
        // the two cannot leave a prune without its effect, or the reverse).
        if written.is_ok() && fx.kind == EntryKind::RetentionPruned {
            written = self.prune(at, envelope_bytes);
        }
        self.settle(written, &head, ctx, leaf_hash, leaf_bytes)
    }

    /// append_gap appends, at the head, a v2 leaf whose envelope is gone
    /// (pruned upstream before a mirror held it, D22): its leaf and stored
    /// hashes, no envelope, no state, no content id (unknown). The follower
    /// accepts such a gap only where the leaf wrote no state, so the map
    /// writes staged for it are none: call [`Appender::next_root`] with
    /// [`gap_effects`] first, as for any entry.
    ///
    /// # Errors
    ///
    /// As [`Appender::append_entry`].
    pub fn append_gap(
        &mut self,
        ctx: &EntryContext,
        leaf_hash: Hash,
        leaf_bytes: &[u8],
    ) -> Result<(), StoreError> {
        let head = self.next_at(ctx)?;
        let at = head.size;
        let fx = gap_effects();
        let written = each!(self, a => a.write(at, leaf_hash, leaf_bytes, None, &fx, None));
        self.settle(written, &head, ctx, leaf_hash, leaf_bytes)
    }

    /// next_at returns the head if `ctx` is the entry at it and its map
    /// writes are staged: the precondition of every append.
    fn next_at(&self, ctx: &EntryContext) -> Result<Head, StoreError> {
        let head = self.head();
        if ctx.index != head.size || self.staged() != Some(head.size) {
            return Err(StoreError::NotNext {
                index: ctx.index,
                size: head.size,
            });
        }
        Ok(head)
    }

    /// settle ends an append: a failed write poisons the transaction (it
    /// refuses to commit), a good one moves the head past the leaf.
    fn settle(
        &mut self,
        written: Result<(), StoreError>,
        head: &Head,
        ctx: &EntryContext,
        leaf_hash: Hash,
        leaf_bytes: &[u8],
    ) -> Result<(), StoreError> {
        if let Err(e) = written {
            each!(self, a => a.txc().poison());
            each!(self, a => a.fail());
            return Err(e);
        }
        let version = leaf_version(leaf_bytes, head);
        each!(self, a => a.advance(leaf_hash, ctx.integrated_time_ms, version));
        Ok(())
    }

    /// prune applies the `retention-pruned` entry at `at` (its envelope
    /// `envelope_bytes`): checks its scope, then drops the envelopes it
    /// names and records which entry pruned them.
    fn prune(&mut self, at: u64, envelope_bytes: Option<&[u8]>) -> Result<(), StoreError> {
        let bad = |reason: String| StoreError::BadEntry { index: at, reason };
        let env = Envelope::from_bytes(envelope_bytes.ok_or_else(|| bad("no envelope".into()))?)
            .map_err(|e| bad(e.to_string()))?;
        let p: RetentionPruned =
            serde_json::from_slice(&env.payload).map_err(|e| bad(e.to_string()))?;
        // Every envelope held must be in scope. One not held is accepted
        // here: the node refused such a prune before it appended it
        // ([`Appender::check_prune`]), and a mirror that never held it
        // (pruned upstream before it synced) has the follower's word that
        // the entry wrote no state and that this prune names it.
        for &i in &p.entries {
            if let Some(b) = self.envelope(i)? {
                let held = Envelope::from_bytes(&b).map_err(|e| StoreError::BadEntry {
                    index: i,
                    reason: e.to_string(),
                })?;
                check_prune_scope(&p, i, Some(&held)).map_err(StoreError::Prune)?;
            }
        }
        each!(self, a => a.drop_envelopes(&p.entries, at))
    }
}
