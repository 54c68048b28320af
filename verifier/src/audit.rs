//! The whole-log audit: everything a regulator can check about a log from
//! its public tiles and its `log.json`, without trusting the operator.
//!
//! The audit is the client crate's [`Follower`] run from index 0 with a
//! policy that collects every failure ([`Collect`]): the checkpoint is
//! verified (log key, origin, witness quorum); every entry bundle is read
//! in order, every leaf hashed into a fresh tree, checked against the leaf
//! chain and replayed through the registry rules into a fresh state
//! ([`crate::replay::AuditSink`]), while worker threads on the other cores
//! verify the envelope signatures ([`crate::signatures::Batches`]). Then
//! every hash tile is compared with the recomputed tree, the root with the
//! signed checkpoint, and the tree at the trusted size with the trusted
//! checkpoint. The mirror runs the same follower and stops at the first
//! failure, so both name a tampered log's fault the same way.

use regledger::descriptor::LogDescriptor;
use regledger::registry::calendar::Date;
use regledger_client::{consistency, Collect, Consistency, Follower, Sink, Stop, TileSource};

use crate::replay::AuditSink;
use crate::report::{CheckpointInfo, Report, TrustedCheck};
use crate::signatures::{Batches, WorkersStopped};

/// Options are the audit's inputs besides the source.
pub struct Options<'a> {
    /// log is the trusted log descriptor.
    pub log: &'a LogDescriptor,
    /// trusted is a checkpoint note the regulator saved earlier.
    pub trusted: Option<Vec<u8>>,
    /// as_of is the date to judge retention on (default: the last entry's day).
    pub as_of: Option<Date>,
    /// strict_signatures checks each signature alone with `verify_strict`
    /// instead of in batches (slower; exactly the node's rule, see D9).
    pub strict_signatures: bool,
    /// progress is called with the number of entries done so far.
    pub progress: &'a (dyn Fn(u64, u64) + Sync),
}

/// AuditError is why an audit could not be run at all (an input error):
/// everything the log itself gets wrong is a failure in the report.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// NoCheckpoint: the source serves no `checkpoint`.
    #[error("{0}: no checkpoint")]
    NoCheckpoint(String),
    /// Read: the source could not be read, or the replay stopped.
    #[error(transparent)]
    Read(#[from] Stop),
    /// Workers: the signature workers stopped.
    #[error(transparent)]
    Workers(#[from] WorkersStopped),
}

/// run audits the log read from `src`.
///
/// # Errors
///
/// An [`AuditError`] only for input errors (an unreadable source);
/// everything the log gets wrong is a failure in the report.
pub fn run(src: &dyn TileSource, o: &Options) -> Result<Report, AuditError> {
    let log = o.log;
    let mut r = Report {
        source: src.describe(),
        origin: log.origin.clone(),
        hash: log.suite.name().to_string(),
        profile: log.profile.clone(),
        as_of: o.as_of,
        ..Report::default()
    };
    let follower = Follower::new(log, src);
    let mut failures = Collect::default();

    let note = src
        .get("checkpoint")
        .map_err(Stop::from)?
        .ok_or_else(|| AuditError::NoCheckpoint(src.describe()))?;
    let cp = match follower.checkpoint(&note, true) {
        Ok(v) => {
            r.checkpoint = Some(CheckpointInfo {
                size: v.checkpoint.size,
                root: v.checkpoint.root.to_hex(),
                witnesses: v.witnesses.iter().map(|w| w.name().to_string()).collect(),
            });
            v.checkpoint
        }
        Err(e) => {
            failures.push(e);
            r.set_failures(failures);
            return Ok(r);
        }
    };
    let trusted = match &o.trusted {
        None => None,
        Some(t) => follower.trusted(t).map_err(|e| failures.push(e)).ok(),
    };

    // The tree grows with the entries actually read: the checkpoint's size
    // is only a claim (a signed 2^62 over three tiles must fail, not abort).
    let mut sink = AuditSink::new(log.suite, r);
    let (complete, verified, bad) = std::thread::scope(|scope| {
        let mut sigs = Batches::start(scope, o.strict_signatures);
        let mut progress = |s: &AuditSink| (o.progress)(s.entries_checked, cp.size);
        let read = follower.replay_all(&cp, &mut sink, &mut failures, &mut sigs, &mut progress);
        // The workers are joined whatever the read did.
        let sigs = sigs.finish();
        read.map_err(AuditError::from)
            .and_then(|c| Ok((c, sigs?)))
            .map(|(c, (n, bad))| (c, n, bad))
    })?;
    for f in bad {
        failures.push(f);
    }
    let mut root = None;
    let mut trusted_check = None;
    if complete {
        root = Some(follower.check_tree(&cp, &sink, sink.tree(), &mut failures)?);
        if let Some(t) = trusted {
            let c = consistency(&t, cp.size, |n| sink.root_at(n).map_err(Stop::sink))?;
            trusted_check = Some(TrustedCheck {
                size: t.size,
                trusted_root: t.root.to_hex(),
                log_root: match c {
                    Consistency::RolledBack => None,
                    Consistency::Extends => Some(t.root.to_hex()),
                    Consistency::Forked { root_at } => Some(root_at.to_hex()),
                },
                consistent: c == Consistency::Extends,
            });
            if let Some(f) = c.failure(&t, cp.size) {
                failures.push(f);
            }
        }
    }
    let mut r = sink.finish(o.as_of);
    r.signatures_verified = verified;
    r.pruned_entries = follower.pruned_entries();
    r.computed_root = root.map(|h| h.to_hex());
    r.trusted = trusted_check;
    r.set_failures(failures);
    Ok(r)
}
