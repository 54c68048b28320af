//! The mirror's sync: the client crate's follower run from the mirror's
//! verified size, stopping at the first failure, committing window by
//! window through the store's one append path.
//!
//! For each checkpoint a source serves (newest first, [`Fallback`]):
//! verify it ([`Follower::checkpoint`]); if it is no larger than what the
//! mirror verified, it must have the mirror's root at its size; otherwise
//! open its tree with every tile authenticated ([`SignedTree`]), check that
//! it extends the mirror's ([`consistency`]), then fetch windows of
//! bundles and replay each in one write transaction ([`MirrorSink`] over
//! the store's [`Appender`]). What a failure means comes from its
//! [`Check::fault`]: a source that is down or serves bad data is backed
//! off and the next source tried; a log-signed entry that breaks the rules
//! or a tree that contradicts the mirror's is a split view.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use regledger::entry::chain::ChainHead;
use regledger::entry::envelope::Envelope;
use regledger::registry::{StateKey, StateObject, StateReader};
use regledger::tlog::checkpoint::Checkpoint;
use regledger::Hash;
use regledger_client::source::note_size;
use regledger_client::tiles::Bundle;
use regledger_client::{
    consistency, Accepted, Applied, Check, Consistency, Entry, Fallback, Fault, Follower, Held,
    Inline, SignedTree, Sink, Stop, StopAtFirst, TileSource,
};

use super::WINDOW_BYTES;
use super::{note_root, Contradiction, Mirror, Progress, Shape, SyncError};
use crate::store::{gap_effects, Appender, StoreError};
use regledger::entry::leaf::LEAF_V2;
use regledger::tlog::tile::TILE_WIDTH;

/// OwnNote is a log-signed checkpoint whose tree the mirror holds (or holds a prefix of).
pub(super) struct OwnNote {
    pub(super) size: u64,
    pub(super) note: Vec<u8>,
    /// complete: every entry of its tree is in the mirror's store.
    pub(super) complete: bool,
}

/// SinkError is why the mirror's sink refused an entry.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Store: the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// NotApplied: an entry the rules refused; the mirror only appends
    /// accepted entries (it stops at the first failure).
    #[error("entry {0} was not accepted and cannot be appended")]
    NotApplied(u64),
}

/// MirrorSink is the follower's sink over one write transaction of the
/// mirror's store: the store's one append path.
struct MirrorSink<'tx> {
    log: Appender<'tx>,
}

impl StateReader for MirrorSink<'_> {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        self.log.state().get(key)
    }
}

impl Sink for MirrorSink<'_> {
    type Error = SinkError;

    fn head(&self) -> ChainHead {
        self.log.head()
    }

    fn state(&self) -> &dyn StateReader {
        self
    }

    fn root_at(&self, size: u64) -> Result<Hash, SinkError> {
        Ok(self.log.root_at(size)?)
    }

    fn replayed(&self, content_id: &[u8; 32]) -> Result<Option<u64>, SinkError> {
        Ok(self.log.logged_at(content_id)?)
    }

    fn held_envelope(&self, index: u64) -> Result<Held, SinkError> {
        if let Some(b) = self.log.envelope(index)? {
            let e = Envelope::from_bytes(&b).map_err(|e| StoreError::BadEntry {
                index,
                reason: e.to_string(),
            })?;
            return Ok(Held::Envelope(e));
        }
        // No envelope held: pruned already, or inside a v1 leaf. A gap not
        // yet named is never asked about: the follower holds every open
        // one (`open_gaps`, D25) and takes it before asking the sink.
        Ok(Held::Gone)
    }

    fn next_root(&mut self, index: u64, applied: Option<&Applied>) -> Result<Hash, SinkError> {
        // Under StopAtFirst an entry reaches the sink unapplied only as a
        // gap the follower holds open for a prune (D22): it writes no state.
        let Some(a) = applied else {
            return Ok(self.log.next_root(index, &gap_effects(), &[0; 32])?);
        };
        Ok(self.log.next_root(index, &a.effects, &a.content_id)?)
    }

    fn append(&mut self, e: Entry<'_>) -> Result<(), SinkError> {
        let Some(a) = e.applied else {
            if e.parsed && e.envelope.is_none() && e.version == regledger::entry::leaf::LEAF_V2 {
                return Ok(self.log.append_gap(e.ctx, e.leaf_hash, e.bytes)?);
            }
            return Err(SinkError::NotApplied(e.ctx.index));
        };
        Ok(self.log.append_entry(
            e.ctx,
            e.leaf_hash,
            e.bytes,
            e.envelope,
            &a.effects,
            a.content_id,
        )?)
    }
}

/// open_gap says why a checkpoint of `size` is not served while entry
/// `g` is an open gap.
fn open_gap(g: u64, size: u64) -> String {
    format!(
        "[{}] entry {g} is held without its envelope and no retention-pruned entry up to size {size} names it: the checkpoint is not served until one does or the envelope is served (D22, D25)",
        Check::EnvelopeMissing
    )
}

/// source_error says what a stop that is not the log's doing means for
/// the source it came from.
fn source_error(src: &dyn TileSource, e: Stop) -> SyncError {
    match e {
        Stop::Fetch(e) => SyncError::Unavailable(e.to_string()),
        Stop::Failed(f) => match f.check.fault() {
            Fault::Unavailable => SyncError::Unavailable(format!("{}: {f}", src.describe())),
            Fault::BadData => SyncError::BadData(format!("{}: {f}", src.describe())),
            // Only the replay reports the log's faults; reaching here is a bug.
            Fault::Log => SyncError::Storage(format!("unexpected: {f}")),
        },
        Stop::Sink(e) => SyncError::Storage(e.to_string()),
        Stop::Internal(e) => SyncError::Storage(format!("internal: {e}")),
    }
}

impl Mirror {
    /// accepted returns the verified size and the mirror's root at it.
    pub(super) fn accepted(&self) -> Result<(u64, Hash), SyncError> {
        let view = self.store.read()?;
        let size = view.size()?;
        let root = view.root_at(self.descriptor.suite, size)?;
        Ok((size, root))
    }

    /// own_notes returns the log-signed checkpoints the mirror's tree rests
    /// on: the served one, the witness's cosigned one and the one being
    /// integrated (each verified against the mirror's own entries).
    pub(super) fn own_notes(&self) -> Result<Vec<OwnNote>, SyncError> {
        let view = self.store.read()?;
        let size = view.size()?;
        let mut out: Vec<OwnNote> = Vec::new();
        let notes = [
            view.published_checkpoint()?,
            view.witness_checkpoint()?,
            view.verifying_checkpoint()?,
        ];
        for n in notes.into_iter().flatten() {
            if let Some(s) = note_size(n.as_bytes()) {
                if !out.iter().any(|o| o.note == n.as_bytes()) {
                    out.push(OwnNote {
                        size: s,
                        note: n.into_bytes(),
                        complete: s <= size,
                    });
                }
            }
        }
        out.sort_by_key(|o| (o.size, !o.complete));
        Ok(out)
    }

    /// own_note_for picks the mirror's checkpoint to set against a
    /// contradicting one of size `b`: the smallest whose tree covers `b`
    /// (complete ones first), else the largest complete one.
    pub(super) fn own_note_for(&self, b: u64) -> Option<Vec<u8>> {
        let notes = self.own_notes().ok()?;
        notes
            .iter()
            .filter(|o| o.size >= b && o.complete)
            .chain(notes.iter().filter(|o| o.size >= b))
            .chain(notes.iter().rev().filter(|o| o.complete))
            .next()
            .map(|o| o.note.clone())
    }

    /// catch_up verifies and commits the entries up to a checkpoint presented
    /// to this mirror's witness: signed by the log, not yet cosigned (that is
    /// what is being asked), from the first source that serves its tree. A
    /// contradiction is recorded as a split view with evidence; other
    /// failures are returned for the witness's answer.
    ///
    /// # Errors
    ///
    /// Why no source let it verify the entries, one reason per source.
    pub fn catch_up(&self, note: &[u8]) -> Result<(), String> {
        if self.split_seen() {
            return Err("this mirror has seen a split view".into());
        }
        let mut errors = Vec::new();
        for i in 0..self.sources.len() {
            match self.sync_to(i, note.to_vec(), false) {
                Ok(_) => return Ok(()),
                // A checkpoint signed by the log key that contradicts the
                // mirror is a split view wherever it came from; one shown
                // only to witnesses is the very attack they exist for.
                Err(SyncError::Split(c)) => {
                    self.record_split(&c);
                    return Err(format!("split view: {}", c.reason));
                }
                Err(e) => errors.push(e.describe()),
            }
        }
        Err(errors.join("; "))
    }

    /// sync_to verifies and commits `note` if it is new, reading tiles from
    /// source `src`; `witnessed` requires log.json's quorum (and serves it).
    pub(super) fn sync_to(
        &self,
        src: usize,
        note: Vec<u8>,
        witnessed: bool,
    ) -> Result<Progress, SyncError> {
        let _serial = self.sync_lock.lock().expect("sync lock");
        let d = &self.descriptor;
        let source = self.sources[src].as_ref();
        let follower = Follower::new(d, source);
        // A note the log key did not sign proves nothing about the log: bad
        // data from that source, never a split view. One without the quorum
        // is not published yet.
        let cp = follower
            .checkpoint(&note, witnessed)
            .map_err(|f| source_error(source, f.into()))?
            .checkpoint;
        // `size` is what this mirror verified entry by entry; `served` is the
        // last checkpoint it accepted with the quorum. A witness catch-up
        // can put the first ahead of the second (and of what the sources
        // serve, while the log waits for its witnesses).
        let (size, own_root) = self.accepted()?;
        let served = self.latest.read().expect("lock").size;
        // Entries an earlier sync committed without their envelope, that
        // no prune names yet: open, across retries and restarts (D25).
        let gaps = self.open_gaps(size)?;
        if cp.size <= size {
            // The mirror's entries up to `size` are authenticated by a
            // checkpoint the log signed; one that signs another root at a
            // size they cover means the key signed two histories.
            let presented = Accepted {
                size: cp.size,
                root: cp.root,
            };
            let view = self.store.read()?;
            let c = consistency(&presented, size, |n| {
                view.root_at(d.suite, n).map_err(Stop::sink)
            })
            .map_err(|e| source_error(source, e))?;
            drop(view);
            if let Consistency::Forked { root_at } = c {
                let own = self.own_note_for(cp.size).unwrap_or_default();
                return Err(SyncError::Split(Box::new(Contradiction {
                    reason: format!(
                        "[{}] the log signed root {} at size {}, but the entries this mirror verified (under another checkpoint the log signed) have root {} at that size",
                        Check::TrustedFork,
                        cp.root.to_hex(),
                        cp.size,
                        root_at.to_hex()
                    ),
                    presented: note,
                    shape: Shape::Ours { own, request: None },
                })));
            }
            if cp.size < served {
                return Err(SyncError::Stale(cp.size));
            }
            // Its tree holds a gap no prune up to its size names: what the
            // follower's `finish` refuses at the end of a checkpoint.
            if let Some(g) = gaps.iter().find(|&&g| g < cp.size) {
                return Err(SyncError::Unavailable(open_gap(*g, cp.size)));
            }
            // Entries already verified (by a catch-up), or the same tree now
            // with the witnesses' cosignatures: serve that note.
            if witnessed && self.latest.read().expect("lock").note.as_bytes() != note.as_slice() {
                self.serve(cp.size, &note)?;
                if cp.size > served {
                    return Ok(Progress::Advanced {
                        from: served,
                        to: cp.size,
                    });
                }
            }
            return Ok(Progress::Unchanged);
        }
        let mut tree = follower.open(&cp).map_err(|e| source_error(source, e))?;
        // The new tree extends the mirror's only if its root at the
        // mirror's size is the mirror's root. The tiles that say so are
        // authenticated by the new signed root, so a difference is a fork
        // the log key signed, not bad data.
        let own = Accepted {
            size,
            root: own_root,
        };
        let c =
            consistency(&own, cp.size, |n| tree.root_at(n)).map_err(|e| source_error(source, e))?;
        if let Consistency::Forked { root_at } = c {
            let theirs = self.contradicted_note(&mut tree, size)?;
            return Err(SyncError::Split(Box::new(Contradiction {
                reason: format!(
                    "[{}] the log signed a tree of size {} whose root at size {size} is {} (its tiles from {} hash to its signed root), but this mirror verified root {} at that size",
                    Check::TrustedFork,
                    cp.size,
                    root_at.to_hex(),
                    source.describe(),
                    own_root.to_hex()
                ),
                presented: note,
                shape: match theirs {
                    Some(own) => Shape::Theirs {
                        source: src,
                        own: Some(own),
                    },
                    None => Shape::Ours {
                        own: self.own_note_for(cp.size).unwrap_or_default(),
                        request: None,
                    },
                },
            })));
        }
        follower.hold_open(gaps);
        self.integrate(src, &follower, &mut tree, &cp, &note, size)?;
        self.write_tiles_to(cp.size)?;
        if !witnessed {
            // Verified for the witness, not yet served: the log has not
            // published it with its quorum (it may never: then the poll
            // loop's next checkpoint covers these entries).
            return Ok(Progress::Unchanged);
        }
        self.serve(cp.size, &note)?;
        Ok(Progress::Advanced {
            from: served,
            to: cp.size,
        })
    }

    /// open_gaps re-derives the entries this mirror holds without their
    /// envelope that no prune it holds names (D22, D25). A sync commits
    /// window by window, so an entry the follower holds open for a later
    /// prune can be committed before the checkpoint's end; if the sync
    /// stops there (a source failure, a restart), the next follower must
    /// hold it open again, or a gap no prune ever names would pass. Only
    /// the entries past the largest checkpoint this mirror finished are
    /// read: at the end of each, none was open.
    fn open_gaps(&self, size: u64) -> Result<Vec<u64>, SyncError> {
        let from = self
            .own_notes()?
            .iter()
            .filter(|o| o.complete)
            .map(|o| o.size)
            .max()
            .unwrap_or(0);
        let view = self.store.read()?;
        let mut gaps = Vec::new();
        let mut at = from;
        while at < size {
            let end = size.min(at + TILE_WIDTH);
            for (i, leaf) in (at..).zip(view.leaves(at, end)?) {
                if leaf.first() == Some(&LEAF_V2)
                    && view.envelope(i)?.is_none()
                    && view.pruned_by(i)?.is_none()
                {
                    gaps.push(i);
                }
            }
            at = end;
        }
        Ok(gaps)
    }

    /// contradicted_note returns a checkpoint of the mirror's, no larger than
    /// `tree`, whose root `tree` contradicts (so the regulator's audit of
    /// `tree` with it as trusted shows the fork); None if only a larger one does.
    fn contradicted_note(
        &self,
        tree: &mut SignedTree,
        size: u64,
    ) -> Result<Option<Vec<u8>>, SyncError> {
        let source = tree.source();
        for o in self.own_notes()? {
            if o.size == 0 || o.size > tree.size() {
                continue;
            }
            // One the mirror holds only a prefix of (beyond `size`) shares
            // that prefix, which `tree` contradicts; a complete one is
            // contradicted only if the fork is at or before its size.
            let contradicts = if o.size > size {
                true
            } else {
                let at = tree.root_at(o.size).map_err(|e| source_error(source, e))?;
                Some(at) != note_root(&o.note)
            };
            if contradicts {
                return Ok(Some(o.note));
            }
        }
        Ok(None)
    }

    /// integrate fetches, authenticates, checks and replays entries
    /// `old..cp.size` window by window, each window in one transaction.
    fn integrate(
        &self,
        src: usize,
        follower: &Follower,
        tree: &mut SignedTree,
        cp: &Checkpoint,
        note: &[u8],
        old: u64,
    ) -> Result<(), SyncError> {
        let mut next = old;
        while next < cp.size {
            // Fetched and authenticated before the write transaction opens:
            // redb has one writer, and the witness and webhooks must not wait
            // on the network.
            let window = follower
                .window(tree, next, self.window_bundles, WINDOW_BYTES)
                .map_err(|e| source_error(follower.source(), e))?;
            let end = self.commit_window(src, follower, cp, note, &window)?;
            if end <= next {
                return Err(SyncError::Storage(format!(
                    "window at {next} added no entry"
                )));
            }
            next = end;
        }
        Ok(())
    }

    /// commit_window replays the entries of authenticated bundles through
    /// the follower and commits them; the last window of a checkpoint also
    /// checks the root.
    fn commit_window(
        &self,
        src: usize,
        follower: &Follower,
        cp: &Checkpoint,
        note: &[u8],
        bundles: &[Bundle],
    ) -> Result<u64, SyncError> {
        // The entries are the ones the log signed (authenticated against its
        // root), so an invalid one is the log's misbehaviour, provable from
        // its tiles: a stop with evidence, like a fork.
        let stopped = |e: Stop| match e {
            Stop::Failed(f) if f.check.fault() == Fault::Log => {
                SyncError::Split(Box::new(Contradiction {
                    reason: format!("the log signed a tree of size {} in which {f}", cp.size),
                    presented: note.to_vec(),
                    shape: Shape::Theirs {
                        source: src,
                        own: {
                            let a = self.latest.read().expect("lock").note.clone();
                            (!a.is_empty()).then(|| a.into_bytes())
                        },
                    },
                }))
            }
            // Implied by the authentication; checked so that a served
            // checkpoint always has the mirror's own root.
            Stop::Failed(f) if f.check == Check::Root => {
                SyncError::Storage(format!("authenticated entries: {f}"))
            }
            e => source_error(follower.source(), e),
        };
        let mut tx = self.store.write()?;
        let end = {
            let mut sink = MirrorSink {
                log: tx.appender(self.descriptor.suite)?,
            };
            // Every signature is verified again, each at once: the mirror
            // trusts keys, not the upstream, and commits nothing unverified.
            let mut sigs = Inline::default();
            for (t, data, envs) in bundles {
                follower
                    .replay_bundle(
                        &mut sink,
                        t,
                        data,
                        envs.as_deref(),
                        &mut StopAtFirst,
                        &mut sigs,
                    )
                    .map_err(stopped)?;
            }
            let end = sink.head().size;
            if end == cp.size {
                // An envelope missing that no prune up to the checkpoint
                // names is the source's to serve: retried, not committed.
                follower
                    .finish(&mut StopAtFirst)
                    .map_err(|f| stopped(Stop::Failed(f)))?;
                follower
                    .check_root(cp, &sink, &mut StopAtFirst)
                    .map_err(stopped)?;
            }
            end
        };
        tx.set_verifying_checkpoint(note)?;
        tx.commit()?;
        Ok(end)
    }

    /// source_failed raises the alarm for one failed attempt of source `i` and backs it off.
    fn source_failed(&self, fb: &mut Fallback, i: usize, e: &SyncError) {
        let max_seen = fb.health(i).max_seen;
        let delay = fb.failed(i);
        self.metrics
            .mirror_source_errors
            .fetch_add(1, Ordering::Relaxed);
        let others = if self.sources.len() > 1 {
            "; the other sources are tried"
        } else {
            ""
        };
        let url = fb.source(i).describe();
        match e {
            SyncError::BadData(why) => {
                self.metrics.mirror_bad_data.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    source = %url,
                    "SOURCE SERVED BAD DATA (不一致数据): {why}; not a split view (the log key signed nothing contradictory); retrying in {delay:?}{others}"
                );
            }
            SyncError::Stale(n) => tracing::error!(
                source = %url,
                "SOURCE ROLLED BACK (回退): it served size {max_seen} before and serves {n} now; retrying in {delay:?}{others}",
            ),
            e => {
                let d = e.describe();
                // A refused or timed-out connection is most often a node
                // that is not running, or a wrong --upstream: say so.
                let hint = if d.contains("refused") || d.contains("timed out") || d.contains("dns")
                {
                    " (is the upstream node running at this URL? check --upstream/--fallback and the network)"
                } else {
                    ""
                };
                tracing::warn!(
                    source = %url,
                    "source failed: {d}{hint}; retrying in {delay:?}{others}"
                )
            }
        }
    }

    /// round reads every due source's checkpoint and syncs to them, newest
    /// first, each with tiles from the source that served it. Only a split
    /// view or a storage failure is returned as an error.
    fn round(&self, fb: &mut Fallback) -> Result<Progress, SyncError> {
        let (candidates, failed) = fb.checkpoints();
        for (i, e) in failed {
            self.source_failed(fb, i, &SyncError::Unavailable(e.to_string()));
        }
        let mut progress = Progress::Unchanged;
        for (i, note) in candidates {
            let size = note_size(&note).unwrap_or(0);
            match self.sync_to(i, note, true) {
                Ok(p) => {
                    if let Progress::Advanced { from, to } = p {
                        progress = match progress {
                            Progress::Advanced { from: f0, .. } => Progress::Advanced {
                                from: f0.min(from),
                                to,
                            },
                            Progress::Unchanged => Progress::Advanced { from, to },
                        };
                    }
                    fb.served(i, size);
                }
                // Behind what is served but never behind what it served
                // before: a lagging copy, not a failure.
                Err(SyncError::Stale(n)) if fb.behind(i, n) => {}
                Err(e @ (SyncError::Split(_) | SyncError::Storage(_))) => {
                    self.update_failing(fb);
                    return Err(e);
                }
                Err(e) => self.source_failed(fb, i, &e),
            }
        }
        self.update_failing(fb);
        Ok(progress)
    }

    fn update_failing(&self, fb: &Fallback) {
        self.metrics
            .mirror_sources_failing
            .store(fb.failing() as u64, Ordering::Relaxed);
    }

    /// run polls the sources until a split view or `stop`.
    pub fn run(
        &self,
        poll: Duration,
        stop: Arc<std::sync::atomic::AtomicBool>,
        wake: std::sync::mpsc::Receiver<()>,
    ) {
        // A split view is an incident, not a transient error: a restart must
        // not clear the alert or let the mirror follow the upstream again
        // before someone has looked at the evidence and moved it away.
        if let Some(dir) = self.recorded_split() {
            self.metrics.mirror_split_view.store(1, Ordering::Relaxed);
            tracing::error!(
                evidence = %dir.display(),
                "SPLIT VIEW recorded earlier: the mirror does not advance until the evidence is moved out of {}",
                self.evidence_dir.display()
            );
            return;
        }
        let mut fb = Fallback::new(self.sources.clone(), poll);
        while !stop.load(Ordering::Relaxed) {
            // A witness request may have seen the split first.
            if self.split_seen() {
                return;
            }
            match self.round(&mut fb) {
                Ok(Progress::Advanced { from, to }) => {
                    tracing::info!(from, to, "mirror verified and committed a checkpoint");
                    // Catch up without waiting when a source is far ahead.
                    continue;
                }
                Ok(Progress::Unchanged) => {}
                Err(SyncError::Split(c)) => {
                    self.record_split(&c);
                    return;
                }
                Err(e) => {
                    self.metrics.storage_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("mirror storage, nothing written: {}", e.describe());
                }
            }
            // The next poll, or later if every source is backing off.
            let _ = wake.recv_timeout(fb.wait());
        }
    }
}
