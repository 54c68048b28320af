//! The sequencer: one thread that drains submissions into batches, applies
//! the registry rules (entries earlier in the batch count), builds leaves
//! with the hash chain, extends the tree, and commits the whole batch in one
//! durable transaction (redb or PostgreSQL, through the store's one append
//! path). Submitters are answered only after the commit.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regledger::entry::blockchain_no::BlockchainNo;
use regledger::entry::chain::ChainError;
use regledger::entry::envelope::{Envelope, Preverified};
use regledger::entry::leaf::{envelope_hash, Leaf};
use regledger::registry::{apply_preverified, EntryKind, RuleViolation};
use regledger::HashSuite;
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::store::{Appender, Store, StoreError};

/// Receipt is what a submitter gets once its entry is durable.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Receipt {
    /// index is the entry's position.
    pub index: u64,
    /// leaf_hash is its leaf hash (hex).
    pub leaf_hash: String,
    /// integrated_time_ms is when it was sequenced.
    pub integrated_time_ms: u64,
    /// kind is the entry kind.
    pub kind: String,
    /// blockchain_no is the 区块链编号 for product registrations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blockchain_no: Option<String>,
}

/// Rejection is why a submission was not appended.
#[derive(Debug)]
pub enum Rejection {
    /// Rule: a registry rule refused it.
    Rule(RuleViolation),
    /// Replay: the same signed content (payload type and payload, whatever
    /// the signatures) is already in the log at that index (D12).
    Replay(u64),
    /// Storage: the batch could not be made durable; nothing was written.
    Storage(String),
    /// DamagedArchive: judging it needs an archived entry whose bundle is
    /// missing or damaged (D29); nothing was written, and a retry fails
    /// the same way until the file is restored.
    DamagedArchive(String),
}

/// Submission is one envelope waiting to be sequenced.
pub struct Submission {
    /// envelope is the signed entry.
    pub envelope: Envelope,
    /// preverified lists signatures already verified by the HTTP handler
    /// ([`Envelope::verify_known`]); the rules verify every other one.
    pub preverified: Vec<Preverified>,
    /// reply answers the submitter.
    pub reply: oneshot::Sender<Result<Receipt, Rejection>>,
    /// claim is shared with the submitter: see [`Claim`].
    pub claim: Claim,
}

/// Claim decides, exactly once, who owns a queued submission, so that a
/// submitter told "timed out" can never find its entry in the log: either
/// the sequencer takes it into a batch (the submitter then waits for the
/// durable result, whatever its deadline), or the submitter abandons it
/// first (the sequencer then drops it unread). A submitter that simply goes
/// away (a client disconnect drops its handler) abandons nothing: the entry
/// is sequenced, and a retry of it is answered as a replay naming its index.
#[derive(Clone, Debug, Default)]
pub struct Claim(Arc<AtomicU8>);

const PENDING: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

impl Claim {
    /// take is the sequencer's side: true if the submission is now its to sequence.
    pub fn take(&self) -> bool {
        self.0
            .compare_exchange(PENDING, TAKEN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// abandon is the submitter's side: true if the submission will never be
    /// sequenced; false if the sequencer already took it (wait for its result).
    pub fn abandon(&self) -> bool {
        self.0
            .compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Config tunes batching.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// max_batch is the most entries per commit.
    pub max_batch: usize,
    /// max_wait is how long a batch waits to fill after its first entry.
    pub max_wait: Duration,
    /// test_commit_delay holds every batch this long between taking its
    /// submissions and committing them. Test-only (`serve
    /// --test-commit-delay-ms`, hidden): it stands for a slow disk, so the
    /// end-to-end tests can show that no deadline hides a commit. Zero in
    /// production.
    pub test_commit_delay: Duration,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// integrated_time is the time given to the next entry: the clock, but
/// always after the previous entry, whatever the clock does (NTP steps back,
/// a restored VM snapshot, a wrong RTC at boot).
fn integrated_time(now_ms: u64, last_ms: u64) -> u64 {
    now_ms.max(last_ms.saturating_add(1))
}

/// run is the sequencer loop; it returns when every sender is dropped.
pub fn run(
    store: Arc<Store>,
    suite: HashSuite,
    origin: String,
    cfg: Config,
    rx: Receiver<Submission>,
    metrics: Arc<Metrics>,
) {
    match store.head() {
        Ok(h) => metrics.tree_size.store(h.size, Ordering::Relaxed),
        Err(e) => {
            tracing::error!("sequencer cannot read the head: {e}");
            return;
        }
    }
    loop {
        let first = match rx.recv() {
            Ok(s) => s,
            Err(_) => return,
        };
        // A submission whose submitter gave up waiting is dropped unread:
        // it was answered "nothing was written", so nothing may be.
        if !first.claim.take() {
            continue;
        }
        let mut batch = vec![first];
        let deadline = Instant::now() + cfg.max_wait;
        while batch.len() < cfg.max_batch {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(s) if s.claim.take() => batch.push(s),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if !cfg.test_commit_delay.is_zero() {
            std::thread::sleep(cfg.test_commit_delay);
        }
        let t0 = Instant::now();
        if !store.is_open() {
            reopen(&store);
        }
        match commit_batch(&store, suite, &origin, batch, &metrics) {
            Ok(()) => {}
            // A standby (or a fenced ex-leader) refuses writes by design
            // (D20): the store is fine, there is nothing to reopen.
            Err((
                CommitError::Store(e @ (StoreError::NotLeader | StoreError::Fenced { .. })),
                waiting,
            )) => {
                tracing::debug!("batch refused, nothing acknowledged: {e}");
                for reply in waiting {
                    let _ = reply.send(Err(Rejection::Storage(e.to_string())));
                }
            }
            Err((e, waiting)) => {
                metrics.storage_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!("batch not committed, nothing acknowledged: {e}");
                // After an I/O error redb refuses the handle: reopen it and
                // continue from what is durable, as after a crash. Reopen
                // before answering, so a client that reads after its 503
                // finds the store serving again.
                reopen(&store);
                for reply in waiting {
                    let _ = reply.send(Err(Rejection::Storage(e.to_string())));
                }
            }
        }
        metrics.observe_commit(t0.elapsed());
    }
}

/// reopen reopens the database; the next batch continues from its committed head.
fn reopen(store: &Store) {
    match store.reopen().and_then(|()| store.head()) {
        Ok(h) => tracing::warn!("database reopened at size {}", h.size),
        Err(e) => tracing::error!("database not reopened (will retry with the next batch): {e}"),
    }
}

/// CommitError is why a batch was not committed (nothing of it was written).
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Store: the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// OffChain: the sequencer built a leaf that does not continue the
    /// chain (a bug; refused rather than logged, since the mirror and the
    /// audit would refuse it).
    #[error("sequencer built a leaf off the chain: {0}")]
    OffChain(ChainError),
}

type ReplyTo = oneshot::Sender<Result<Receipt, Rejection>>;
type Reply = (ReplyTo, Receipt);

/// Sequenced is what sequencing a batch decided before its commit.
#[derive(Default)]
struct Sequenced {
    /// accepted are answered once the batch is durable.
    accepted: Vec<Reply>,
    /// rejected wrote nothing and are answered at once.
    rejected: Vec<(ReplyTo, Rejection)>,
}

fn commit_batch(
    store: &Store,
    suite: HashSuite,
    origin: &str,
    batch: Vec<Submission>,
    metrics: &Metrics,
) -> Result<(), (CommitError, Vec<ReplyTo>)> {
    let mut tx = match store.write() {
        Ok(t) => t,
        Err(e) => return Err((e.into(), batch.into_iter().map(|s| s.reply).collect())),
    };
    let mut out = Sequenced::default();
    let result = tx
        .appender(suite)
        .map_err(CommitError::from)
        .and_then(|mut log| sequence(&mut log, suite, origin, batch, metrics, &mut out));
    if let Err(e) = result {
        drop(tx);
        return Err((e, out.accepted.into_iter().map(|(r, _)| r).collect()));
    }
    // Rejections wrote nothing; answer them now.
    for (reply, why) in out.rejected {
        metrics.reject(match &why {
            Rejection::Rule(v) => v.code(),
            Rejection::Replay(_) => "replay",
            Rejection::DamagedArchive(_) => "damaged-tile",
            Rejection::Storage(_) => "storage",
        });
        let _ = reply.send(Err(why));
    }
    if out.accepted.is_empty() {
        // Nothing to make durable.
        drop(tx);
        return Ok(());
    }
    let size = tx.head().size;
    if let Err(e) = tx.commit() {
        return Err((e.into(), out.accepted.into_iter().map(|(r, _)| r).collect()));
    }
    // Durable: now, and only now, answer the submitters.
    metrics.batches.fetch_add(1, Ordering::Relaxed);
    metrics
        .accepted
        .fetch_add(out.accepted.len() as u64, Ordering::Relaxed);
    metrics.tree_size.store(size, Ordering::Relaxed);
    for (reply, r) in out.accepted {
        let _ = reply.send(Ok(r));
    }
    Ok(())
}

/// sequence builds, checks and appends the leaves of `batch` in order:
/// each entry is judged with the entries before it in the batch counted.
fn sequence(
    log: &mut Appender<'_>,
    suite: HashSuite,
    origin: &str,
    batch: Vec<Submission>,
    metrics: &Metrics,
    out: &mut Sequenced,
) -> Result<(), CommitError> {
    // Replay identity is the signed content, not the envelope: a copy
    // with signatures added, replaced or reordered is the same act. Asked
    // for the whole batch at once (one query on a database driver).
    let ids: Vec<[u8; 32]> = batch.iter().map(|s| s.envelope.content_id()).collect();
    log.prefetch_logged(&ids)?;
    for (sub, content_id) in batch.into_iter().zip(ids) {
        match log.logged_at(&content_id) {
            Ok(Some(i)) => {
                out.rejected.push((sub.reply, Rejection::Replay(i)));
                continue;
            }
            Ok(None) => {}
            // Its first 16 bytes match an archived event whose bundle is
            // missing or damaged (D31): whether it is a replay cannot be
            // told until the file is restored. Refused alone, as a prune.
            Err(e @ StoreError::Archive { .. }) => {
                out.rejected
                    .push((sub.reply, Rejection::DamagedArchive(e.to_string())));
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let head = log.head();
        let time = integrated_time(now_ms(), head.last_time_ms);
        // The rules judge the entry in its context (which holds nothing of
        // its own leaf); the leaf then commits to the state they make (D15).
        let ctx = head.context_at(time, origin);
        let fx = match apply_preverified(&log.state(), &ctx, &sub.envelope, &sub.preverified) {
            Ok(fx) => fx,
            Err(v) => {
                out.rejected.push((sub.reply, Rejection::Rule(v)));
                continue;
            }
        };
        // A prune's scope is a fact of the history the state cannot
        // answer (D22): refused here, before anything of it is staged.
        if fx.kind == EntryKind::RetentionPruned {
            match check_prune(log, &sub.envelope) {
                Ok(Ok(())) => {}
                Ok(Err(v)) => {
                    out.rejected.push((sub.reply, Rejection::Rule(v)));
                    continue;
                }
                // An entry it names is archived in a bundle that is
                // missing or damaged (D29): this prune cannot be judged
                // until the file is restored. Refused alone, nothing
                // written; the rest of the batch goes on.
                Err(CommitError::Store(e @ StoreError::Archive { .. })) => {
                    out.rejected
                        .push((sub.reply, Rejection::DamagedArchive(e.to_string())));
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        let root = log.next_root(ctx.index, &fx, &content_id)?;
        let envelope_bytes = sub.envelope.to_bytes();
        let leaf = Leaf::compact(
            head.size,
            time,
            head.last_leaf_hash,
            root,
            envelope_hash(suite, &envelope_bytes),
        );
        let bytes = leaf.to_bytes();
        let lh = suite.leaf_hash(&bytes);
        head.check_next(&leaf, origin)
            .map_err(CommitError::OffChain)?;
        log.append_entry(&ctx, lh, &bytes, Some(&envelope_bytes), &fx, content_id)?;
        let kind = fx.kind.name().to_string();
        let blockchain_no = (fx.kind == EntryKind::ProductRegistered)
            .then(|| BlockchainNo::new(origin, ctx.index, &lh).to_string());
        out.accepted.push((
            sub.reply,
            Receipt {
                index: ctx.index,
                leaf_hash: lh.to_hex(),
                integrated_time_ms: time,
                kind,
                blockchain_no,
            },
        ));
        metrics
            .flags
            .fetch_add(fx.flags.len() as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// check_prune checks the entries a `retention-pruned` envelope names
/// against the store (its payload parsed, which the rules have checked).
fn check_prune(
    log: &Appender<'_>,
    env: &Envelope,
) -> Result<Result<(), RuleViolation>, CommitError> {
    match serde_json::from_slice::<regledger::registry::RetentionPruned>(&env.payload) {
        Ok(p) => Ok(log.check_prune(&p)?),
        Err(e) => Ok(Err(RuleViolation::MalformedPayload(e.to_string()))),
    }
}

/// append_genesis commits entry 0 directly (used by `init`).
///
/// # Errors
///
/// The log is not empty, the store failed, or the genesis entry breaks a rule.
pub fn append_genesis(
    store: &Store,
    suite: HashSuite,
    origin: &str,
    env: Envelope,
) -> Result<Receipt, String> {
    let head = store.head().map_err(|e| e.to_string())?;
    if head.size != 0 {
        return Err("log is not empty".into());
    }
    let (tx, rx) = oneshot::channel();
    let metrics = Metrics::default();
    let claim = Claim::default();
    claim.take();
    commit_batch(
        store,
        suite,
        origin,
        vec![Submission {
            envelope: env,
            preverified: vec![],
            reply: tx,
            claim,
        }],
        &metrics,
    )
    .map_err(|(e, _)| e.to_string())?;
    match rx.blocking_recv() {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(Rejection::Rule(v))) => Err(v.to_string()),
        Ok(Err(other)) => Err(format!("{other:?}")),
        Err(_) => Err("no reply".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_decided_once_by_whoever_comes_first() {
        let taken = Claim::default();
        assert!(taken.clone().take());
        assert!(!taken.abandon(), "a taken submission cannot be abandoned");
        assert!(!taken.take());
        let abandoned = Claim::default();
        assert!(abandoned.abandon());
        assert!(
            !abandoned.clone().take(),
            "an abandoned submission is never sequenced"
        );
    }

    #[test]
    fn after_an_upgrade_a_resigned_copy_of_an_old_entry_is_a_replay() {
        use regledger::testkit::{chain_v1 as chain, Testkit};
        let kit = Testkit::new("sequencer.test/upgrade");
        let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
        let leaves = chain(HashSuite::Blake3, &steps);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.redb");
        crate::store::redb::tests::old_store(&path, &leaves);
        let store = Store::open(&path).unwrap();
        let at = steps
            .iter()
            .position(|s| s.label == "product suspended")
            .unwrap();
        // The suspension, with its signature appended again under another
        // registered key id: new bytes, the same signed content.
        let mut copy = steps[at].envelope.clone();
        let mut extra = copy.signatures[0].clone();
        extra.key_id = kit.operator.key_id();
        copy.signatures.push(extra);
        assert_ne!(copy.digest(), steps[at].envelope.digest());
        match submit(&store, &kit.origin, &copy).unwrap() {
            Err(Rejection::Replay(i)) => assert_eq!(i, at as u64),
            other => panic!("not refused as a replay: {other:?}"),
        }
        assert_eq!(store.head().unwrap().size, steps.len() as u64);
    }

    /// every_driver opens an empty store on each driver this machine has:
    /// redb in `dir`, and a fresh PostgreSQL database if a server is there.
    fn every_driver(dir: &std::path::Path) -> Vec<(&'static str, Store)> {
        let mut stores = vec![("redb", Store::open(&dir.join("ledger.redb")).unwrap())];
        if let Some(url) = crate::store::pgtest::fresh_url() {
            let spec = crate::store::StoreSpec::Postgres(url);
            stores.push(("postgres", Store::open_spec(&spec).unwrap()));
        }
        stores
    }

    #[test]
    fn every_driver_commits_the_roots_a_replay_computes() {
        use regledger::entry::leaf::Leaf;
        use regledger::testkit::{replay, Testkit};
        let kit = Testkit::live("sequencer.test/drivers");
        let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
        let want = replay(&kit.origin, HashSuite::Blake3, &steps).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let stores = every_driver(dir.path());
        for (name, store) in stores {
            // One entry per transaction: each stages on the map the last committed.
            for step in &steps {
                submit(&store, &kit.origin, &step.envelope)
                    .unwrap()
                    .unwrap();
            }
            let view = store.read().unwrap();
            for (i, w) in want.leaves.iter().enumerate() {
                let leaf = Leaf::parse(&view.leaf(i as u64).unwrap().unwrap()).unwrap();
                assert_eq!(leaf.state_root(), w.state_root(), "{name}: leaf {i}");
            }
        }
    }

    #[test]
    fn a_v1_store_switches_to_v2_leaves_whose_first_root_covers_the_whole_state() {
        use regledger::entry::leaf::{Leaf, LEAF_V1, LEAF_V2};
        use regledger::testkit::{chain_v1, replay, Testkit};
        // Dated now: the sequencer judges the last entry at the clock.
        let kit = Testkit::live("sequencer.test/switch");
        let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
        let (last, before) = steps.split_last().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.redb");
        crate::store::redb::tests::old_store(&path, &chain_v1(HashSuite::Blake3, before));
        // Open migrates: the state map is rebuilt from the v1 leaves.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.head().unwrap().last_version, LEAF_V1);
        let r = submit(&store, &kit.origin, &last.envelope)
            .unwrap()
            .unwrap();
        assert_eq!(r.index, before.len() as u64);
        let view = store.read().unwrap();
        let leaf = Leaf::parse(&view.leaf(r.index).unwrap().unwrap()).unwrap();
        assert_eq!(leaf.version, LEAF_V2);
        // Its root is the root of replaying every entry (v1 ones included)
        // into the map: what any follower computes.
        let want = replay(&kit.origin, HashSuite::Blake3, &steps).unwrap();
        assert_eq!(leaf.state_root(), want.leaves.last().unwrap().state_root());
        assert_eq!(store.head().unwrap().last_version, LEAF_V2);
        // The migrated rows are committed records, readable as before.
        use regledger::registry::StateReader;
        assert!(view.get(&regledger::registry::StateKey::Genesis).is_some());
    }

    /// submit commits `env` alone in one batch: the commit's error, or the
    /// submitter's answer.
    fn submit(
        store: &Store,
        origin: &str,
        env: &Envelope,
    ) -> Result<Result<Receipt, Rejection>, CommitError> {
        let (tx, rx) = oneshot::channel();
        let claim = Claim::default();
        claim.take();
        let sub = Submission {
            envelope: env.clone(),
            preverified: vec![],
            reply: tx,
            claim,
        };
        commit_batch(
            store,
            HashSuite::Blake3,
            origin,
            vec![sub],
            &Metrics::default(),
        )
        .map_err(|(e, _)| e)?;
        Ok(rx.blocking_recv().expect("answered"))
    }

    #[test]
    fn an_entry_after_a_failed_commit_is_judged_against_the_durable_state() {
        use regledger::testkit::Testkit;
        let kit = Testkit::live("sequencer.test/fault");
        let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
        let at = |label| steps.iter().position(|s| s.label == label).unwrap();
        let (approved, notice) = (at("product approved"), at("public notice opened"));
        assert_eq!(notice, approved + 1);
        let dir = tempfile::tempdir().unwrap();
        let stores = every_driver(dir.path());
        for (name, store) in stores {
            for step in &steps[..approved] {
                submit(&store, &kit.origin, &step.envelope)
                    .unwrap()
                    .unwrap();
            }
            // The product's approval is sequenced, then its commit fails.
            store
                .cache()
                .fail_commit
                .store(true, std::sync::atomic::Ordering::SeqCst);
            assert!(
                submit(&store, &kit.origin, &steps[approved].envelope).is_err(),
                "{name}"
            );
            // Its notice names a product the log does not hold.
            match submit(&store, &kit.origin, &steps[notice].envelope).unwrap() {
                Err(Rejection::Rule(_)) => {}
                other => panic!("{name}: judged against a failed batch's state: {other:?}"),
            }
            assert_eq!(store.head().unwrap().size, approved as u64, "{name}");
            // Once the approval is durable, the notice is accepted.
            submit(&store, &kit.origin, &steps[approved].envelope)
                .unwrap()
                .unwrap();
            let r = submit(&store, &kit.origin, &steps[notice].envelope)
                .unwrap()
                .unwrap();
            assert_eq!(r.index, notice as u64, "{name}");
        }
    }

    #[test]
    fn integrated_time_is_strictly_increasing_when_the_clock_goes_back() {
        let mut last = 0;
        // The clock jumps forward, stalls, then goes back an hour.
        for now in [
            1_000,
            5_000,
            5_000,
            5_000,
            4_000,
            1_000,
            3_600_000,
            3_600_000 - 3_600_000 / 2,
        ] {
            let t = integrated_time(now, last);
            // Strictly after the previous entry, and the clock itself when it allows.
            assert!(t > last && (t == now || t == last + 1), "{now} {last} {t}");
            last = t;
        }
    }
}
