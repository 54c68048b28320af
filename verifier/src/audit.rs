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
use std::io::BufReader;

use regledger::cert::snapshot::{verify_header, SnapshotError, SnapshotReader};
use regledger::tlog::checkpoint::Checkpoint;
use regledger_client::{
    consistency, Accepted, Check, Collect, Consistency, Failure, Follower, Sink, Stop, TileSource,
};

use crate::replay::AuditSink;
use crate::report::{CheckpointInfo, Report, SnapshotInfo, TrustedCheck};
use crate::signatures::{Batches, WorkersStopped};

/// Options are the audit's inputs besides the source.
pub struct Options<'a> {
    /// log is the trusted log descriptor.
    pub log: &'a LogDescriptor,
    /// trusted is a checkpoint note the regulator saved earlier.
    pub trusted: Option<Vec<u8>>,
    /// as_of is the date to judge retention on (default: the last entry's day).
    pub as_of: Option<Date>,
    /// batch_signatures verifies signatures in batches instead of each
    /// alone with `verify_strict` (the default: exactly the node's rule);
    /// faster, but it can pass a deliberately malformed signature the node
    /// refuses (D9, D27).
    pub batch_signatures: bool,
    /// progress is called with the number of entries done so far.
    pub progress: &'a (dyn Fn(u64, u64) + Sync),
    /// snapshot is a state snapshot file to start from (incremental audit;
    /// needs `trusted`).
    pub snapshot: Option<std::path::PathBuf>,
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
    /// Snapshot: the snapshot cannot be used with these inputs.
    #[error("{0}")]
    Snapshot(String),
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
        signature_check: if o.batch_signatures {
            "batch"
        } else {
            "strict"
        },
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
                note: String::from_utf8_lossy(&note).into_owned(),
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
    let mut sink = AuditSink::new(log.suite, r, src, &cp);
    if let Some(path) = &o.snapshot {
        let Some(t) = trusted else {
            return Err(AuditError::Snapshot(
                "--from-snapshot needs --trusted: the checkpoint that vouches for the entries before the snapshot".into(),
            ));
        };
        if let Err(f) = start_from_snapshot(path, log, &t, &cp, &mut sink)? {
            failures.push(f);
            let mut r = std::mem::take(&mut sink.report);
            r.set_failures(failures);
            return Ok(r);
        }
    }
    if let Some(t) = trusted {
        sink.want_root(t.size);
    }
    let (complete, verified, bad) = std::thread::scope(|scope| {
        let mut sigs = Batches::start(scope, !o.batch_signatures);
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
    let mut state_root = None;
    if complete {
        state_root = Some(sink.state_root().map_err(Stop::sink)?.to_hex());
        sink.finish_tiles(&mut failures)?;
        root = Some(follower.check_root(&cp, &sink, &mut failures)?);
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
    r.prune_scope_unchecked = follower.prune_scope_unchecked();
    r.computed_root = root.map(|h| h.to_hex());
    r.state_root = state_root;
    r.trusted = trusted_check;
    r.set_failures(failures);
    Ok(r)
}

/// start_from_snapshot starts `sink` from the snapshot file at `path`:
/// its header verified against `log.json`, its size at or before the
/// trusted checkpoint's (same root at the same size), at or before the
/// log's checkpoint `cp`, its records parsed strictly and making the state
/// root leaf N−1 commits to. A snapshot that is not the log's state is a
/// failure ([`Check::Snapshot`], or [`Check::TrustedFork`] for one of
/// another tree than the trusted checkpoint's); one that cannot be used
/// with these inputs is an input error.
fn start_from_snapshot(
    path: &std::path::Path,
    log: &LogDescriptor,
    trusted: &Accepted,
    cp: &Checkpoint,
    sink: &mut AuditSink<'_>,
) -> Result<Result<(), Failure>, AuditError> {
    let bad = |e: SnapshotError| Failure::of(Check::Snapshot, e.to_string());
    let file = std::fs::File::open(path)
        .map_err(|e| AuditError::Snapshot(format!("{}: {e}", path.display())))?;
    let (header, mut reader) = match SnapshotReader::open(BufReader::new(file), log.suite) {
        Ok(x) => x,
        Err(e) => return Ok(Err(bad(e))),
    };
    let start = match verify_header(&header, log) {
        Ok(s) => s,
        Err(e) => return Ok(Err(bad(e))),
    };
    let n = start.checkpoint.size;
    if trusted.size < n {
        return Err(AuditError::Snapshot(format!(
            "the snapshot is at size {n}, past the trusted checkpoint (size {}): entries {}..{n} would go unaudited; \
             use a snapshot taken at or before the trusted checkpoint (docs/regulator.md)",
            trusted.size, trusted.size
        )));
    }
    if trusted.size == n && trusted.root != start.checkpoint.root {
        return Ok(Err(Failure::of(
            Check::TrustedFork,
            format!(
                "fork: at size {n} the trusted checkpoint signed root {} but the snapshot's checkpoint signed {}",
                trusted.root.to_hex(),
                start.checkpoint.root.to_hex()
            ),
        )));
    }
    if cp.size < n {
        return Ok(Err(Failure::of(
            Check::TrustedRollback,
            format!(
                "the log (size {}) is smaller than the snapshot's checkpoint (size {n}): it was rolled back or forked",
                cp.size
            ),
        )));
    }
    let records = match sink.start_from(&start, || reader.next_record()) {
        Ok(k) => k,
        Err(e) => return Ok(Err(bad(e))),
    };
    sink.report.from_snapshot = Some(SnapshotInfo {
        size: n,
        state_root: start.state_root.to_hex(),
        records,
    });
    Ok(Ok(()))
}
