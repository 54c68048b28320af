//! The follower: a client-side view of one log that accepts a new
//! checkpoint only if everything under it checks out, the way Tessera's
//! `client.LogStateTracker` accepts a new checkpoint only if it is
//! consistent with the one it holds.
//!
//! For each checkpoint the [`Follower`]
//! 1. verifies it against `log.json` ([`Follower::checkpoint`]: the log key,
//!    the origin and, when asked, the witness quorum, through the core's
//!    [`verify_checkpoint`]);
//! 2. checks that its tree extends the checkpoint accepted before
//!    ([`mod@crate::consistency`]: the same root at the accepted size);
//! 3. reads the tiles and knows them to be the signed tree (see
//!    [`crate::tiles`]: authenticated before use by [`SignedTree`], or
//!    compared after by [`crate::tiles::compare_hash_tiles`]);
//! 4. replays every entry in order ([`Follower::replay_bundle`]): the leaf
//!    chain ([`regledger::entry::chain`]), a v2 leaf's envelope read from
//!    the envelope bundle beside its entry bundle and checked against the
//!    leaf's envelope hash, the replay of a signed content
//!    ([`Sink::replayed`], D12), the registry rules
//!    ([`regledger::registry::apply_preverified`]) with every signature
//!    verified by a [`SignatureCheck`] under the key the state registers
//!    for it ([`regledger::registry::key_of`]), and the genesis
//!    entry against `log.json`; then the state root: the sink applies the
//!    entry's state map writes and the root must be the one its v2 leaf
//!    commits to ([`Check::StateRoot`], `state-root-mismatch`, D15);
//! 5. hands each entry with its effects to a [`Sink`] that the consumer
//!    keeps: the mirror's database, the audit's memory;
//! 6. at the checkpoint's size, checks the root ([`Follower::check_root`])
//!    and the checkpoint's state line against the last leaf
//!    ([`regledger::entry::state_line`], `checkpoint-state`, D26).
//!
//! Every failure goes through a [`Policy`]: the mirror stops at the first
//! ([`crate::failure::StopAtFirst`]); the audit collects every one and
//! goes on where it can ([`crate::failure::Collect`]), so it judges every
//! entry even after the first that is wrong.
//!
//! The file is long (about 680 lines) because it is the one replay: the
//! checks of an entry, in the order they must run (leaf chain, envelope
//! hash or a pruned gap, signatures, registry rules, genesis, state root,
//! append), sit together so that no caller can run them in another order.
//! The parts that stand alone are their own modules (tiles, signatures,
//! consistency, the tree's right edge, failures).

use regledger::descriptor::{verify_checkpoint, verify_log_signature, LogDescriptor};
use regledger::entry::chain::{ChainHead, EntryContext};
use regledger::entry::envelope::{Envelope, Preverified};
use regledger::entry::leaf::{open_entry, Leaf, OpenError};
use regledger::entry::state_line::StateLine;
use regledger::registry::{
    apply_preverified, check_prune_scope, key_of, Effects, EntryKind, RetentionPruned, StateObject,
    StateReader,
};
use regledger::tlog::checkpoint::{Checkpoint, CheckpointError, VerifiedCheckpoint};

use crate::consistency::Accepted;
use regledger::tlog::tile::{decode_entry_bundle, tile_at, Tile, TileKind, TILE_WIDTH};
use regledger::tlog::tree::HashReader;
use regledger::Hash;

use crate::failure::{Check, Failure, Policy, Stop};
use crate::signatures::SignatureCheck;
use crate::source::TileSource;
use crate::tiles::{Bundle, SignedTree};

/// Applied is what the registry made of an accepted entry.
#[derive(Clone, Debug)]
pub struct Applied {
    /// effects are its state writes, flags and subjects.
    pub effects: Effects,
    /// content_id is its envelope's content id (the replay identity, D12).
    pub content_id: [u8; 32],
}

/// Held is what a [`Sink`] knows of an earlier entry's envelope
/// ([`Sink::held_envelope`]).
#[derive(Clone, Debug)]
pub enum Held {
    /// Envelope: the envelope, as its leaf commits to it.
    Envelope(Envelope),
    /// Gone: none to drop: a `retention-pruned` entry dropped it already,
    /// or it is inside a v1 leaf (which no prune changes).
    Gone,
    /// Unknown: none held, and nothing known of why (an entry before an
    /// incremental audit's snapshot whose envelope is not served).
    Unknown,
}

/// Entry is one entry handed to a [`Sink`], in index order. The sink's
/// head moves past it: `head.advance(leaf_hash, ctx.integrated_time_ms, version)`.
pub struct Entry<'a> {
    /// ctx is where it is: its index (the sink's head size), integrated
    /// time (the previous one's for bytes that are not a leaf) and the
    /// log's origin.
    pub ctx: &'a EntryContext,
    /// leaf_hash is the leaf hash of `bytes`.
    pub leaf_hash: Hash,
    /// version is the leaf's version (the previous one's for bytes that
    /// are not a leaf).
    pub version: u8,
    /// bytes are the leaf as logged.
    pub bytes: &'a [u8],
    /// envelope is a v2 leaf's envelope as served beside it and checked
    /// against its envelope hash (None for a v1 leaf or one missing).
    pub envelope: Option<&'a [u8]>,
    /// parsed: the bytes are a leaf (a reader that collects failures is
    /// also handed those that are not, so that its tree stays whole).
    pub parsed: bool,
    /// applied is the registry's verdict: `None` if the rules refused it
    /// (only under a policy that goes on after a failure).
    pub applied: Option<&'a Applied>,
}

/// Sink is where a follower's verified entries go: the consumer's copy of
/// the log and its registry state.
pub trait Sink {
    /// Error is the consumer's storage error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// head returns the end of the leaf chain held (size 0 when empty).
    fn head(&self) -> ChainHead;

    /// state reads the registry state after the entries held.
    fn state(&self) -> &dyn StateReader;

    /// root_at returns the root of the first `size` entries held.
    ///
    /// # Errors
    ///
    /// The consumer's storage error (also for a size past the head).
    fn root_at(&self, size: u64) -> Result<Hash, Self::Error>;

    /// replayed returns the index of the entry held whose envelope has
    /// this content id, if any.
    ///
    /// # Errors
    ///
    /// The consumer's storage error.
    fn replayed(&self, content_id: &[u8; 32]) -> Result<Option<u64>, Self::Error>;

    /// held_envelope returns what the sink holds, or its source serves, of
    /// the envelope of earlier entry `index`: asked for each entry a
    /// `retention-pruned` names (D22), to check that it is an operation
    /// event of the prune's agreement, as the node checks before it logs
    /// the prune. An envelope returned must be the one its leaf commits to
    /// (read back from the sink's store, or re-read from the source and
    /// authenticated against the signed tree).
    ///
    /// # Errors
    ///
    /// The consumer's storage error.
    fn held_envelope(&self, index: u64) -> Result<Held, Self::Error>;

    /// next_root applies the state map writes of entry `index` (none when
    /// `applied` is None: refused or unreadable) to the sink's map and
    /// returns the state root after it. Called once per entry, before
    /// [`Sink::append`].
    ///
    /// # Errors
    ///
    /// The consumer's storage error.
    fn next_root(&mut self, index: u64, applied: Option<&Applied>) -> Result<Hash, Self::Error>;

    /// append adds the next entry: its leaf, its stored hashes, and (if
    /// applied) its effects and content id.
    ///
    /// # Errors
    ///
    /// The consumer's storage error.
    fn append(&mut self, e: Entry<'_>) -> Result<(), Self::Error>;
}

/// Follower follows one log, described by `log.json`, from one source.
pub struct Follower<'a> {
    log: &'a LogDescriptor,
    src: &'a dyn TileSource,
    /// state_lost: an entry whose state writes are unknown (its envelope
    /// missing or bad, or not a leaf) was passed, so later state roots
    /// are not compared (that failure is already reported).
    state_lost: std::cell::Cell<bool>,
    /// unpruned are the entries read without their envelope whose leaf
    /// shows they wrote no state (as a pruned operation event): each is
    /// accepted once a valid `retention-pruned` after it names it, and
    /// reported `envelope-missing` by [`Follower::finish`] otherwise (D22).
    unpruned: std::cell::RefCell<std::collections::BTreeSet<u64>>,
    /// pruned counts the entries accepted as pruned.
    pruned: std::cell::Cell<u64>,
    /// start is the first entry this follower replayed: it read every
    /// entry from there, so it knows which of them were gaps.
    start: std::cell::Cell<Option<u64>>,
    /// named marks the entries from `start` on that a prune has named,
    /// one bit each (1.25 MB for 10 M entries), so that a second prune of
    /// one is refused as the node refuses it.
    named: std::cell::RefCell<Vec<u64>>,
    /// unchecked counts the entries named by a prune whose scope could not
    /// be checked: before the follower's start, with no envelope served.
    unchecked: std::cell::Cell<u64>,
    /// last is the last leaf replayed (its index and what a checkpoint's
    /// state line must say of it), for [`Follower::check_root`].
    last: std::cell::Cell<Option<(u64, Option<StateLine>)>>,
}

impl<'a> Follower<'a> {
    /// new follows the log `log` as `src` serves it.
    pub fn new(log: &'a LogDescriptor, src: &'a dyn TileSource) -> Follower<'a> {
        Follower {
            log,
            src,
            state_lost: std::cell::Cell::new(false),
            unpruned: Default::default(),
            pruned: std::cell::Cell::new(0),
            start: std::cell::Cell::new(None),
            named: Default::default(),
            unchecked: std::cell::Cell::new(0),
            last: std::cell::Cell::new(None),
        }
    }

    /// hold_open holds `gaps` open as entries read without their envelope
    /// (D22), for a reader that committed them in an earlier run and
    /// resumes past them before a prune named them (the mirror commits
    /// window by window, D25): [`Follower::finish`] then reports those no
    /// prune names, as if this follower had read them.
    pub fn hold_open(&self, gaps: impl IntoIterator<Item = u64>) {
        self.unpruned.borrow_mut().extend(gaps);
    }

    /// pruned_entries counts the entries read without their envelope and
    /// accepted because a valid `retention-pruned` named them (D22).
    pub fn pruned_entries(&self) -> u64 {
        self.pruned.get()
    }

    /// prune_scope_unchecked counts the entries a prune named whose scope
    /// (an operation event of its agreement) could not be checked: before
    /// an incremental audit's snapshot, their envelopes no longer served.
    pub fn prune_scope_unchecked(&self) -> u64 {
        self.unchecked.get()
    }

    /// finish reports every entry read without its envelope that no valid
    /// `retention-pruned` named: `envelope-missing`. Call it once the
    /// entries up to the checkpoint are read ([`Follower::replay_all`]
    /// does).
    ///
    /// # Errors
    ///
    /// The first failure `policy` stops at.
    pub fn finish(&self, policy: &mut dyn Policy) -> Result<(), Failure> {
        let left = std::mem::take(&mut *self.unpruned.borrow_mut());
        for i in left {
            policy.fail(Failure::at(
                i,
                Check::EnvelopeMissing,
                format!(
                    "the envelope of entry {i} is not served in envelope bundle {} (tile/envelopes/…), and no retention-pruned entry names it",
                    i / TILE_WIDTH
                ),
            ))?;
        }
        Ok(())
    }

    /// log returns the log descriptor followed.
    pub fn log(&self) -> &'a LogDescriptor {
        self.log
    }

    /// source returns the source read.
    pub fn source(&self) -> &'a dyn TileSource {
        self.src
    }

    /// checkpoint verifies a checkpoint note against `log.json`: signed by
    /// the log key and naming its origin, and, if `witnessed`, cosigned by
    /// its witness quorum.
    ///
    /// # Errors
    ///
    /// [`Check::Checkpoint`] if the log key did not sign it for this origin
    /// (or a signature on it is malformed), [`Check::Unwitnessed`] if it
    /// did but the quorum is missing.
    pub fn checkpoint(&self, note: &[u8], witnessed: bool) -> Result<VerifiedCheckpoint, Failure> {
        if !witnessed {
            return verify_log_signature(note, self.log)
                .map_err(|e| Failure::of(Check::Checkpoint, e.to_string()));
        }
        verify_checkpoint(note, self.log).map_err(|e| {
            // Signed by the log but not (yet) by enough witnesses: not
            // published, which is not bad data.
            let signed = matches!(e, CheckpointError::Quorum { .. })
                || verify_log_signature(note, self.log).is_ok();
            let check = if signed {
                Check::Unwitnessed
            } else {
                Check::Checkpoint
            };
            Failure::of(check, e.to_string())
        })
    }

    /// trusted verifies a checkpoint a reader kept: signed by the log key
    /// for its origin (witnesses are not asked: it was accepted before).
    ///
    /// # Errors
    ///
    /// [`Check::TrustedCheckpoint`] if it is not.
    pub fn trusted(&self, note: &[u8]) -> Result<Accepted, Failure> {
        verify_log_signature(note, self.log)
            .map(|v| Accepted {
                size: v.checkpoint.size,
                root: v.checkpoint.root,
            })
            .map_err(|e| Failure::of(Check::TrustedCheckpoint, e.to_string()))
    }

    /// open reads the right edge of `cp`'s tree and authenticates it
    /// against the signed root (see [`SignedTree`]).
    ///
    /// # Errors
    ///
    /// As [`SignedTree::open`].
    pub fn open(&self, cp: &Checkpoint) -> Result<SignedTree<'a>, Stop> {
        SignedTree::open(self.log.suite, cp, self.src)
    }

    /// window fetches and authenticates the entry bundles of `tree` from
    /// the one holding entry `from`, until the tree ends or the window
    /// holds `max_bundles` bundles or `max_bytes` bytes (at least one).
    ///
    /// # Errors
    ///
    /// As [`SignedTree::bundle`].
    pub fn window(
        &self,
        tree: &mut SignedTree<'_>,
        from: u64,
        max_bundles: usize,
        max_bytes: usize,
    ) -> Result<Vec<Bundle>, Stop> {
        let mut window = Vec::new();
        let mut bytes = 0usize;
        let mut k = from / TILE_WIDTH;
        while k * TILE_WIDTH < tree.size() && window.len() < max_bundles && bytes < max_bytes {
            let (t, data, envs) = tree.bundle(k)?;
            bytes += data.len() + envs.as_ref().map_or(0, Vec::len);
            window.push((t, data, envs));
            k += 1;
        }
        Ok(window)
    }

    /// replay_bundle replays the entries of bundle `t` (its bytes `data`,
    /// and `envelopes`, the envelope bundle beside it, if served) that
    /// follow the sink's head, in order, into `sink`. It returns
    /// false if the bundle does not decode ([`Check::EntryBundle`], given
    /// to `policy`): none of its entries can be placed.
    ///
    /// # Errors
    ///
    /// Any failure `policy` stops at, [`Stop::Sink`], or
    /// [`Stop::Internal`] if the bundle does not reach the head.
    pub fn replay_bundle<S: Sink>(
        &self,
        sink: &mut S,
        t: &Tile,
        data: &[u8],
        envelopes: Option<&[u8]>,
        policy: &mut dyn Policy,
        sigs: &mut dyn SignatureCheck,
    ) -> Result<bool, Stop> {
        let first = t.n * TILE_WIDTH;
        // An envelope bundle that does not decode is bad data from the
        // source; its entries' envelopes are then missing.
        let envs = match envelopes.map(|e| decode_entry_bundle(e, usize::from(t.width))) {
            None => None,
            Some(Ok(e)) => Some(e),
            Some(Err(e)) => {
                policy.fail(Failure::at(
                    first,
                    Check::Envelope,
                    format!("{}: {e}", t.envelopes().path()),
                ))?;
                None
            }
        };
        let entries = match decode_entry_bundle(data, usize::from(t.width)) {
            Ok(e) => e,
            Err(e) => {
                policy.fail(Failure::at(
                    first,
                    Check::EntryBundle,
                    format!("{}: {e} (an entry removed, added or cut?)", t.path()),
                ))?;
                return Ok(false);
            }
        };
        let mut head = sink.head();
        for (k, (i, bytes)) in (first..).zip(entries).enumerate() {
            if i < head.size {
                continue;
            }
            if i != head.size {
                return Err(Stop::Internal(format!(
                    "bundle {} starts past the head at {}",
                    t.path(),
                    head.size
                )));
            }
            let env = envs.as_ref().and_then(|e| e.get(k).copied());
            self.replay_entry(sink, &mut head, bytes, env, policy, sigs)?;
        }
        Ok(true)
    }

    /// replay_entry judges entry `head.size` and appends it: the chain, the
    /// envelope beside a v2 leaf, the replay of a signed content, the
    /// rules, the signatures, the state root.
    fn replay_entry<S: Sink>(
        &self,
        sink: &mut S,
        head: &mut ChainHead,
        bytes: &[u8],
        served: Option<&[u8]>,
        policy: &mut dyn Policy,
        sigs: &mut dyn SignatureCheck,
    ) -> Result<(), Stop> {
        let i = head.size;
        if self.start.get().is_none() {
            self.start.set(Some(i));
        }
        let lh = self.log.suite.leaf_hash(bytes);
        let leaf = match Leaf::parse(bytes) {
            Ok(l) => l,
            Err(e) => {
                self.last.set(None);
                policy.fail(Failure::at(i, Check::Leaf, e.to_string()))?;
                // The chain goes on from its hash; its time is unknown.
                let ctx = head.context_at(head.last_time_ms, &self.log.origin);
                let version = head.last_version;
                sink.next_root(i, None).map_err(Stop::sink)?;
                self.state_lost.set(true);
                head.advance(lh, ctx.integrated_time_ms, version);
                return Self::append(sink, &ctx, lh, version, bytes, None, false, None);
            }
        };
        self.last.set(Some((i, StateLine::of_leaf(&leaf))));
        // Every break is a failure; a policy that goes on judges the entry anyway.
        for e in head.breaks(&leaf) {
            policy.fail(Failure::at(i, Check::from(&e), e.to_string()))?;
        }
        let ctx = head.context(&leaf, &self.log.origin);
        let (env, env_bytes) = match open_entry(self.log.suite, bytes, served) {
            Ok(o) => (o.envelope, o.envelope_bytes),
            Err(e) => {
                let check = match e {
                    OpenError::EnvelopeMismatch { .. } => Check::Envelope,
                    OpenError::Envelope(_) => Check::EnvelopeMalformed,
                    OpenError::Unexpected => Check::Envelope,
                    OpenError::Leaf(_) => Check::Leaf,
                };
                // The detail names no source: the audit's report is the same
                // whichever source served it (the mirror's alarm adds it).
                policy.fail(Failure::at(i, check, e.to_string()))?;
                (None, None)
            }
        };
        let opened = env.is_some();
        let missing = env_bytes.is_none() && served.is_none_or(<[u8]>::is_empty);
        let applied = match env {
            Some(env) => self.judge(sink, &ctx, env, policy, sigs)?,
            None => None,
        };
        let root = sink.next_root(i, applied.as_ref()).map_err(Stop::sink)?;
        if !opened {
            if missing && !self.state_lost.get() && leaf.state_root() == Some(root) {
                // Its leaf repeats the state root before it: it wrote no
                // state, which no registry act does (each writes its
                // content id), so it can be a pruned operation event, and
                // the state is still known. Accepted only if a valid prune
                // after it names it (`finish` reports it otherwise).
                self.unpruned.borrow_mut().insert(i);
            } else {
                if missing {
                    policy.fail(Failure::at(
                        i,
                        Check::EnvelopeMissing,
                        format!(
                            "the envelope of entry {i} is not served in envelope bundle {} (tile/envelopes/…)",
                            i / TILE_WIDTH
                        ),
                    ))?;
                }
                // The entry's state writes are unknown: later roots cannot
                // be recomputed (the failure above says why).
                self.state_lost.set(true);
            }
        }
        if let Some(want) = leaf.state_root() {
            if root != want && !self.state_lost.get() {
                policy.fail(Failure::at(
                    i,
                    Check::StateRoot,
                    format!(
                        "leaf {i} commits to state root {} but its entries make {} (D15)",
                        want.to_hex(),
                        root.to_hex()
                    ),
                ))?;
            }
        }
        head.advance(lh, ctx.integrated_time_ms, leaf.version);
        Self::append(
            sink,
            &ctx,
            lh,
            leaf.version,
            bytes,
            env_bytes
                .as_deref()
                .filter(|_| leaf.version != regledger::entry::leaf::LEAF_V1),
            true,
            applied.as_ref(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn append<S: Sink>(
        sink: &mut S,
        ctx: &EntryContext,
        leaf_hash: Hash,
        version: u8,
        bytes: &[u8],
        envelope: Option<&[u8]>,
        parsed: bool,
        applied: Option<&Applied>,
    ) -> Result<(), Stop> {
        sink.append(Entry {
            ctx,
            leaf_hash,
            version,
            bytes,
            envelope,
            parsed,
            applied,
        })
        .map_err(Stop::sink)
    }

    /// judge applies the registry to one envelope: `None` if it is refused
    /// (under a policy that goes on).
    fn judge<S: Sink>(
        &self,
        sink: &S,
        ctx: &EntryContext,
        env: Envelope,
        policy: &mut dyn Policy,
        sigs: &mut dyn SignatureCheck,
    ) -> Result<Option<Applied>, Stop> {
        let i = ctx.index;
        // The node refuses a signed content it has logged before, whatever
        // the signatures, before any rule: so does every replay, and the
        // copy is not applied (none of its signatures is verified).
        let content_id = env.content_id();
        if let Some(first) = sink.replayed(&content_id).map_err(Stop::sink)? {
            policy.fail(Failure::at(
                i,
                Check::Rule("replayed-envelope"),
                format!(
                    "the node should have refused this entry: it logs the signed content of entry {first} again \
                     (the same payload type and payload; adding, replacing or reordering signatures is not a new act) [D12]"
                ),
            ))?;
            return Ok(None);
        }
        // Genesis carries the key that signs it: the rules check it. Every
        // other signature is by a registered key, verified by `sigs`; the
        // rules verify every signature whose key is not known yet.
        let mut keys = Vec::new();
        if i > 0 {
            for s in &env.signatures {
                match key_of(sink.state(), &s.key_id) {
                    Some(pk) => keys.push(pk),
                    None => {
                        keys.clear();
                        break;
                    }
                }
            }
        }
        let pre: Vec<Preverified> = keys
            .iter()
            .enumerate()
            .map(|(index, pk)| Preverified {
                index,
                public_key: pk.clone(),
            })
            .collect();
        let effects = match apply_preverified(sink.state(), ctx, &env, &pre) {
            Ok(fx) => fx,
            Err(v) => {
                let cite = v.citation().map(|c| format!(" [{c}]")).unwrap_or_default();
                policy.fail(Failure::at(
                    i,
                    Check::Rule(v.code()),
                    format!("the node should have refused this entry: {v}{cite}"),
                ))?;
                return Ok(None);
            }
        };
        if effects.kind == EntryKind::Genesis {
            self.check_genesis(&effects, policy)?;
        }
        if effects.kind == EntryKind::RetentionPruned {
            if let Ok(p) = serde_json::from_slice::<RetentionPruned>(&env.payload) {
                self.check_prune(sink, i, &p, policy)?;
            }
        }
        if !keys.is_empty() {
            sigs.check(i, env, keys, policy)?;
        }
        Ok(Some(Applied {
            effects,
            content_id,
        }))
    }

    /// check_prune accounts for the entries the prune at `i` names (the
    /// rules accepted it: its agreement, its signer, its dates and the
    /// order of its indexes) and checks the history half of its rules, as
    /// the node does before it logs one ([`check_prune_scope`]): each named
    /// entry must be an operation event of its agreement whose envelope is
    /// still there to drop. A gap this follower read (its leaf wrote no
    /// state) is taken as the prune says; a held or served envelope is
    /// checked; one named twice is refused. A violation is reported, and
    /// the prune still applied: its state transition passed the rules, and
    /// the leaf's state root includes it, so later roots stay comparable.
    fn check_prune<S: Sink>(
        &self,
        sink: &S,
        i: u64,
        p: &RetentionPruned,
        policy: &mut dyn Policy,
    ) -> Result<(), Stop> {
        let start = self.start.get().unwrap_or(0);
        for &x in &p.entries {
            let ours = x >= start;
            let named_before = ours && self.mark_named(x - start);
            let held = if named_before {
                None
            } else if self.unpruned.borrow_mut().remove(&x) {
                self.pruned.set(self.pruned.get() + 1);
                continue;
            } else {
                match sink.held_envelope(x).map_err(Stop::sink)? {
                    Held::Envelope(e) => Some(e),
                    Held::Unknown if !ours => {
                        self.unchecked.set(self.unchecked.get() + 1);
                        continue;
                    }
                    // From `start` on this follower knows every gap (and a
                    // reader that resumes hands it its open ones,
                    // `hold_open`): an entry it did not take as one had its
                    // envelope.
                    Held::Unknown | Held::Gone => None,
                }
            };
            if let Err(v) = check_prune_scope(p, x, held.as_ref()) {
                let cite = v.citation().map(|c| format!(" [{c}]")).unwrap_or_default();
                policy.fail(Failure::at(
                    i,
                    Check::Rule(v.code()),
                    format!("the node should have refused this entry: {v}{cite}"),
                ))?;
            }
        }
        Ok(())
    }

    /// mark_named marks entry `start + k` as named by a prune and returns
    /// whether one had named it before.
    fn mark_named(&self, k: u64) -> bool {
        let (word, bit) = ((k / 64) as usize, 1u64 << (k % 64));
        let mut named = self.named.borrow_mut();
        if named.len() <= word {
            named.resize(word + 1, 0);
        }
        let before = named[word] & bit != 0;
        named[word] |= bit;
        before
    }

    /// check_genesis checks that genesis fixes the log `log.json` describes.
    fn check_genesis(&self, fx: &Effects, policy: &mut dyn Policy) -> Result<(), Failure> {
        let log = self.log;
        for (_, obj) in &fx.writes {
            if let StateObject::Genesis(g) = obj {
                if g.hash != log.suite.name() || g.profile != log.profile || g.origin != log.origin
                {
                    policy.fail(Failure::at(
                        0,
                        Check::Genesis,
                        format!(
                            "genesis fixes origin {:?}, hash {}, profile {} but log.json says {:?}, {}, {}",
                            g.origin,
                            g.hash,
                            g.profile,
                            log.origin,
                            log.suite.name(),
                            log.profile
                        ),
                    ))?;
                }
            }
        }
        Ok(())
    }

    /// replay_all reads and replays every entry bundle of the tree `cp`
    /// claims, from the sink's head, without authenticating them first
    /// (for a reader that holds the whole tree and checks it after with
    /// [`Follower::check_tree`]). Bundles are read lazily, so a claimed
    /// size costs only the bundles served; `progress` is told the entries
    /// replayed after each bundle. It returns whether every bundle was
    /// read; a missing or undecodable one is a failure and ends the read.
    ///
    /// # Errors
    ///
    /// [`Stop::Fetch`], [`Stop::Sink`], or a failure `policy` stops at.
    pub fn replay_all<S: Sink>(
        &self,
        cp: &Checkpoint,
        sink: &mut S,
        policy: &mut dyn Policy,
        sigs: &mut dyn SignatureCheck,
        progress: &mut dyn FnMut(&S),
    ) -> Result<bool, Stop> {
        let from = sink.head().size / TILE_WIDTH;
        // Bundle by bundle, lazily: the list of every bundle a claimed
        // size implies is not built (2^62 / 256 of them).
        for t in (from..).map_while(|n| tile_at(cp.size, TileKind::Entries, n)) {
            let start = t.n * TILE_WIDTH;
            let Some(data) = self.src.get(&t.path())? else {
                policy.fail(Failure::at(
                    start,
                    Check::EntriesMissing,
                    format!("entry bundle {} is missing", t.path()),
                ))?;
                return Ok(false);
            };
            let envs = match decode_entry_bundle(&data, usize::from(t.width)) {
                Ok(e) => crate::tiles::fetch_envelopes(self.src, &t, &e)?,
                Err(_) => None,
            };
            if !self.replay_bundle(sink, &t, &data, envs.as_deref(), policy, sigs)? {
                return Ok(false);
            }
            progress(sink);
        }
        self.finish(policy)?;
        Ok(true)
    }

    /// check_tree checks, after [`Follower::replay_all`] read every entry
    /// into `sink` (whose stored hashes `tree` reads), that the served hash
    /// tiles are the tree the entries make
    /// ([`crate::tiles::compare_hash_tiles`]) and that its root is the
    /// signed one ([`Follower::check_root`]).
    ///
    /// # Errors
    ///
    /// [`Stop::Fetch`], [`Stop::Internal`] if `tree` lacks hashes,
    /// [`Stop::Sink`], or a failure `policy` stops at.
    pub fn check_tree<S: Sink>(
        &self,
        cp: &Checkpoint,
        sink: &S,
        tree: &dyn HashReader,
        policy: &mut dyn Policy,
    ) -> Result<Hash, Stop> {
        crate::tiles::compare_hash_tiles(self.src, cp.size, tree, policy)?;
        self.check_root(cp, sink, policy)
    }

    /// check_root checks that the first `cp.size` entries held hash to the
    /// root `cp` signed, and that its state line (if any) says what its
    /// last leaf commits to, and returns that root. The state line is
    /// compared only when this follower read leaf `cp.size`−1 (an audit
    /// from a snapshot at that very size read none).
    ///
    /// # Errors
    ///
    /// [`Check::Root`] or [`Check::CheckpointState`] (through `policy`),
    /// or [`Stop::Sink`] if the sink cannot give that root.
    pub fn check_root<S: Sink>(
        &self,
        cp: &Checkpoint,
        sink: &S,
        policy: &mut dyn Policy,
    ) -> Result<Hash, Stop> {
        let root = sink.root_at(cp.size).map_err(Stop::sink)?;
        if root != cp.root {
            policy.fail(Failure::of(
                Check::Root,
                format!(
                    "the entries hash to root {} but the checkpoint signed {} at size {}",
                    root.to_hex(),
                    cp.root.to_hex(),
                    cp.size
                ),
            ))?;
        }
        let line = match StateLine::of_checkpoint(cp) {
            Ok(l) => l,
            Err(e) => {
                policy.fail(Failure::of(Check::CheckpointState, e.to_string()))?;
                None
            }
        };
        if let (Some(line), Some((last, of_leaf))) = (line, self.last.get()) {
            if last + 1 == cp.size {
                if let Err(e) = line.check(last, of_leaf) {
                    policy.fail(Failure::at(
                        last,
                        Check::CheckpointState,
                        format!("checkpoint of size {}: {e} (D26)", cp.size),
                    ))?;
                }
            }
        }
        Ok(root)
    }
}
