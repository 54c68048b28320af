//! What a follower found wrong, named the same way wherever it is found:
//! a [`Check`] (the audit report's `check` field, the mirror's log lines
//! and evidence), an index and a detail; and the [`Policy`] that decides
//! whether a failure stops the follower ([`StopAtFirst`], the mirror) or is
//! collected while it goes on where it can ([`Collect`], the audit).

use regledger::entry::chain::ChainError;

/// MAX_FAILURES bounds the failures a [`Collect`] keeps (its count is
/// always exact): the lowest indexes, whatever the order they arrive in.
pub const MAX_FAILURES: usize = 100;

/// Check names a check that did not hold. [`Check::name`] is the stable
/// code of the audit report and of the mirror's alarms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Check {
    /// Checkpoint: the checkpoint is not signed by the log key, names
    /// another origin, or lacks the witness quorum the reader asked for
    /// while the log key did sign it ([`Check::Unwitnessed`] then, for a
    /// reader that tells them apart).
    Checkpoint,
    /// Unwitnessed: signed by the log key, without the witness quorum
    /// (named "checkpoint" too): not published yet, not bad data.
    Unwitnessed,
    /// TrustedCheckpoint: the checkpoint the reader trusted is not signed by the log key.
    TrustedCheckpoint,
    /// TreeSize: the checkpoint claims a size no tree has (0 where
    /// entries are needed, or over 2^62).
    TreeSize,
    /// EntriesMissing: an entry bundle the tree needs is not served.
    EntriesMissing,
    /// EntryBundle: an entry bundle does not decode to its entries.
    EntryBundle,
    /// Leaf: an entry is not a leaf (schemas/FORMATS.md, "Leaf").
    Leaf,
    /// LeafIndex: a leaf says another index than its position.
    LeafIndex,
    /// HashChain: a leaf's previous-leaf hash is not the previous leaf's hash.
    HashChain,
    /// TimeOrder: a leaf's integrated time is not after the previous one's.
    TimeOrder,
    /// LeafVersion: a v1 leaf after a v2 leaf.
    LeafVersion,
    /// StateRoot: a v2 leaf's state root is not the root of the state its
    /// entries make (D15): the log signed a wrong state.
    StateRoot,
    /// CheckpointState: the checkpoint's state line (D26) is malformed, or
    /// says another state root or time than its last leaf: the log key
    /// signed a state the tree does not commit to.
    CheckpointState,
    /// EnvelopeMissing: a v2 leaf's envelope is not served beside it.
    EnvelopeMissing,
    /// Envelope: the envelope served beside a v2 leaf does not hash to the
    /// leaf's envelope hash (bad data from the source: the log signed only
    /// the hash), or the envelope bundle does not decode.
    Envelope,
    /// EnvelopeMalformed: the bytes a v2 leaf commits to are not an
    /// envelope (the log signed them).
    EnvelopeMalformed,
    /// Rule: the registry rules refuse the entry (the code of its
    /// [`regledger::registry::RuleViolation`], or "replayed-envelope").
    Rule(&'static str),
    /// Signature: an envelope signature does not verify with its registered key.
    Signature,
    /// Genesis: the genesis entry fixes another origin, hash or profile than `log.json`.
    Genesis,
    /// HashTile: a hash tile is not the tree the log signed (or the entries
    /// differ from it).
    HashTile,
    /// HashTileMissing: a hash tile is not served.
    HashTileMissing,
    /// Root: the entries hash to another root than the signed one.
    Root,
    /// TrustedRollback: the log is smaller than a checkpoint accepted before.
    TrustedRollback,
    /// TrustedFork: the log has another root at the size of a checkpoint accepted before.
    TrustedFork,
    /// Snapshot: a state snapshot an audit starts from is not the log's
    /// state at its checkpoint (issue 14).
    Snapshot,
}

impl Check {
    /// name is the check's code, e.g. "hash-chain" or "rule:unknown-signer".
    pub fn name(&self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow::{Borrowed, Owned};
        match self {
            Check::Checkpoint | Check::Unwitnessed => Borrowed("checkpoint"),
            Check::TrustedCheckpoint => Borrowed("trusted-checkpoint"),
            Check::TreeSize => Borrowed("tree-size"),
            Check::EntriesMissing => Borrowed("entries-missing"),
            Check::EntryBundle => Borrowed("entry-bundle"),
            Check::Leaf => Borrowed("leaf"),
            Check::LeafIndex => Borrowed("leaf-index"),
            Check::HashChain => Borrowed("hash-chain"),
            Check::TimeOrder => Borrowed("time-order"),
            Check::LeafVersion => Borrowed("leaf-version"),
            Check::StateRoot => Borrowed("state-root-mismatch"),
            Check::CheckpointState => Borrowed("checkpoint-state"),
            Check::EnvelopeMissing => Borrowed("envelope-missing"),
            Check::Envelope => Borrowed("envelope"),
            Check::EnvelopeMalformed => Borrowed("envelope-malformed"),
            Check::Rule(code) => Owned(format!("rule:{code}")),
            Check::Signature => Borrowed("signature"),
            Check::Genesis => Borrowed("genesis"),
            Check::HashTile => Borrowed("hash-tile"),
            Check::HashTileMissing => Borrowed("hash-tile-missing"),
            Check::Root => Borrowed("root"),
            Check::TrustedRollback => Borrowed("trusted-rollback"),
            Check::TrustedFork => Borrowed("trusted-fork"),
            Check::Snapshot => Borrowed("snapshot"),
        }
    }

    /// fault says whose trouble a failed check is (docs/decisions.md D10).
    pub fn fault(&self) -> Fault {
        match self {
            Check::Unwitnessed
            | Check::TreeSize
            | Check::EntriesMissing
            | Check::EnvelopeMissing
            | Check::HashTileMissing => Fault::Unavailable,
            Check::Checkpoint
            | Check::TrustedCheckpoint
            | Check::EntryBundle
            | Check::Envelope
            | Check::HashTile
            | Check::Snapshot
            | Check::Root => Fault::BadData,
            Check::Leaf
            | Check::LeafIndex
            | Check::HashChain
            | Check::TimeOrder
            | Check::LeafVersion
            | Check::StateRoot
            | Check::CheckpointState
            | Check::EnvelopeMalformed
            | Check::Rule(_)
            | Check::Signature
            | Check::Genesis
            | Check::TrustedRollback
            | Check::TrustedFork => Fault::Log,
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl From<&ChainError> for Check {
    fn from(e: &ChainError) -> Check {
        match e {
            ChainError::IndexMismatch { .. } => Check::LeafIndex,
            ChainError::BrokenLink { .. } => Check::HashChain,
            ChainError::TimeNotIncreasing { .. } => Check::TimeOrder,
            ChainError::VersionDowngrade { .. } => Check::LeafVersion,
        }
    }
}

/// Fault is whose trouble a failed check is, for a reader that must tell
/// a bad source from a misbehaving log (the mirror).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Unavailable: the source does not (yet) show what the checkpoint
    /// claims; a later try or another source may.
    Unavailable,
    /// BadData: the source served bytes that are not what the log signed;
    /// nothing signed contradicts anything.
    BadData,
    /// Log: the log key signed it: an entry that breaks the leaf chain or
    /// the registry rules, or a tree that contradicts one accepted before.
    Log,
}

/// Failure is one check that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// index is the first entry concerned, when one is known.
    pub index: Option<u64>,
    /// check names the check.
    pub check: Check,
    /// detail says what was found.
    pub detail: String,
}

impl Failure {
    /// at is a failure at entry `index`.
    pub fn at(index: u64, check: Check, detail: impl Into<String>) -> Failure {
        Failure {
            index: Some(index),
            check,
            detail: detail.into(),
        }
    }

    /// of is a failure concerning no entry in particular.
    pub fn of(check: Check, detail: impl Into<String>) -> Failure {
        Failure {
            index: None,
            check,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "[{}] entry {i}: {}", self.check, self.detail),
            None => write!(f, "[{}] {}", self.check, self.detail),
        }
    }
}

impl std::error::Error for Failure {}

/// Policy decides what a failure does to the follower.
pub trait Policy {
    /// fail records `f`.
    ///
    /// # Errors
    ///
    /// `f` back, to stop the follower there.
    fn fail(&mut self, f: Failure) -> Result<(), Failure>;
}

/// StopAtFirst stops at the first failure (the mirror: nothing after a
/// failure is committed).
#[derive(Clone, Copy, Debug, Default)]
pub struct StopAtFirst;

impl Policy for StopAtFirst {
    fn fail(&mut self, f: Failure) -> Result<(), Failure> {
        Err(f)
    }
}

/// Collect keeps every failure and lets the follower go on where it can
/// (the audit): it counts all of them and keeps the [`MAX_FAILURES`]
/// lowest by index, in bounded memory.
#[derive(Clone, Debug, Default)]
pub struct Collect {
    count: u64,
    failures: Vec<Failure>,
}

impl Policy for Collect {
    fn fail(&mut self, f: Failure) -> Result<(), Failure> {
        self.push(f);
        Ok(())
    }
}

impl Collect {
    /// push records a failure.
    pub fn push(&mut self, f: Failure) {
        self.count += 1;
        self.failures.push(f);
        // Failures arrive nearly but not exactly in index order (signature
        // batches finish late): keep a bounded list that still holds the
        // MAX_FAILURES lowest at the end, since a failure dropped here has
        // MAX_FAILURES lower ones before it.
        if self.failures.len() >= MAX_FAILURES * 4 {
            self.compact();
        }
    }

    /// absorb records every failure `other` recorded (its count too).
    pub fn absorb(&mut self, other: Collect) {
        let (count, failures) = other.finish();
        self.count += count - failures.len() as u64;
        for f in failures {
            self.push(f);
        }
    }

    /// count returns how many failures were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// len returns how many failures are held now (at most 4 × [`MAX_FAILURES`]).
    pub fn len(&self) -> usize {
        self.failures.len()
    }

    /// is_empty reports whether no failure was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn compact(&mut self) {
        self.failures
            .sort_by_cached_key(|f| (f.index.unwrap_or(u64::MAX), f.check.name()));
        self.failures.truncate(MAX_FAILURES);
    }

    /// finish returns the count and the [`MAX_FAILURES`] lowest failures,
    /// ordered by index (failures concerning no entry last), then check.
    pub fn finish(mut self) -> (u64, Vec<Failure>) {
        self.compact();
        (self.count, self.failures)
    }
}

/// Stop is why a follower stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// Fetch: the source could not be read (nothing about the log).
    #[error(transparent)]
    Fetch(#[from] crate::source::FetchError),
    /// Failed: a check failed and the [`Policy`] said stop.
    #[error(transparent)]
    Failed(#[from] Failure),
    /// Sink: the consumer's store failed; what it committed stays.
    #[error("storage: {0}")]
    Sink(Box<dyn std::error::Error + Send + Sync>),
    /// Internal: an invariant of the follower did not hold (a bug).
    #[error("internal: {0}")]
    Internal(String),
}

impl Stop {
    /// sink wraps a consumer's storage error.
    pub fn sink(e: impl std::error::Error + Send + Sync + 'static) -> Stop {
        Stop::Sink(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_keep_the_lowest_indexes_whatever_the_arrival_order() {
        let mut r = Collect::default();
        // Highest first: the worst order for a list that keeps the first arrivals.
        let n = MAX_FAILURES as u64 * 10;
        for i in (0..n).rev() {
            r.push(Failure::at(i, Check::Leaf, "x"));
            assert!(r.len() < MAX_FAILURES * 4);
        }
        let (count, failures) = r.finish();
        assert_eq!(count, n);
        let got: Vec<u64> = failures.iter().map(|f| f.index.unwrap()).collect();
        assert_eq!(got, (0..MAX_FAILURES as u64).collect::<Vec<_>>());
    }

    #[test]
    fn stop_at_first_hands_the_failure_back() {
        let f = Failure::at(3, Check::Rule("unknown-signer"), "d");
        assert_eq!(StopAtFirst.fail(f.clone()), Err(f.clone()));
        assert_eq!(f.check.name(), "rule:unknown-signer");
        assert_eq!(f.to_string(), "[rule:unknown-signer] entry 3: d");
    }
}
