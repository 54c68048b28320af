//! The audit's signature check: the envelope signatures the follower
//! accepted entries on are verified by worker threads on every core while
//! the main thread replays, in batches (one multiscalar multiplication per
//! batch) or, with `--strict-signatures`, each alone with `verify_strict`
//! (docs/decisions.md D9). A failure names the entry and the key; it is
//! reported when the batch finishes, and the report keeps the lowest
//! indexes whatever the order they arrive in.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};

use regledger::entry::envelope::{verify_batch, verify_each, Envelope};
use regledger_client::signatures::signature_failure;
use regledger_client::{Failure, Policy, SignatureCheck};

/// BATCH_ENTRIES is how many entries' signatures go to a worker at once
/// (one entry bundle's worth).
const BATCH_ENTRIES: usize = 256;

/// SigJob is one entry's signatures to verify off the main thread: the
/// public key of every signature, in signature order.
struct SigJob {
    index: u64,
    envelope: Envelope,
    keys: Vec<regledger::crypto::PublicKey>,
}

/// Outcome is what one worker verified: the signatures that held and the failures.
type Outcome = (u64, Vec<Failure>);

/// Batches queues signatures to the workers of a thread scope.
pub struct Batches<'scope> {
    tx: Option<mpsc::SyncSender<Vec<SigJob>>>,
    pending: Vec<SigJob>,
    workers: Vec<ScopedJoinHandle<'scope, Outcome>>,
    stopped: bool,
}

impl<'scope> Batches<'scope> {
    /// start spawns one worker per core in `scope`; `strict` verifies each
    /// signature alone with `verify_strict` instead of in batches.
    pub fn start<'env>(scope: &'scope Scope<'scope, 'env>, strict: bool) -> Batches<'scope> {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .max(1);
        let (tx, rx) = mpsc::sync_channel::<Vec<SigJob>>(n * 4);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..n)
            .map(|_| {
                let rx = rx.clone();
                scope.spawn(move || work(&rx, strict))
            })
            .collect();
        Batches {
            tx: Some(tx),
            pending: Vec::with_capacity(BATCH_ENTRIES),
            workers,
            stopped: false,
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_ENTRIES));
        if let Some(tx) = &self.tx {
            if tx.send(batch).is_err() {
                self.stopped = true;
            }
        }
    }

    /// finish sends what is queued, waits for the workers and returns how
    /// many signatures verified and every failure.
    ///
    /// # Errors
    ///
    /// [`WorkersStopped`] if a worker ended early (it panicked).
    pub fn finish(mut self) -> Result<Outcome, WorkersStopped> {
        self.flush();
        drop(self.tx.take());
        let mut verified = 0;
        let mut failures = Vec::new();
        let mut lost = self.stopped;
        for w in self.workers {
            match w.join() {
                Ok((n, f)) => {
                    verified += n;
                    failures.extend(f);
                }
                Err(_) => lost = true,
            }
        }
        if lost {
            return Err(WorkersStopped);
        }
        Ok((verified, failures))
    }
}

/// WorkersStopped: a signature worker ended before its work was done.
#[derive(Debug, thiserror::Error)]
#[error("signature workers stopped")]
pub struct WorkersStopped;

impl SignatureCheck for Batches<'_> {
    fn check(
        &mut self,
        index: u64,
        envelope: Envelope,
        keys: Vec<regledger::crypto::PublicKey>,
        _policy: &mut dyn Policy,
    ) -> Result<(), Failure> {
        self.pending.push(SigJob {
            index,
            envelope,
            keys,
        });
        if self.pending.len() >= BATCH_ENTRIES {
            self.flush();
        }
        Ok(())
    }
}

/// work verifies batches until the channel closes.
fn work(rx: &Mutex<mpsc::Receiver<Vec<SigJob>>>, strict: bool) -> Outcome {
    let mut verified = 0u64;
    let mut failures = Vec::new();
    loop {
        let batch = match rx.lock().expect("lock").recv() {
            Ok(b) => b,
            Err(_) => break,
        };
        // Every signature of every entry, one key each: an entry never
        // passes on some of its signatures.
        let items: Vec<(&Envelope, &[regledger::crypto::PublicKey])> = batch
            .iter()
            .map(|j| (&j.envelope, j.keys.as_slice()))
            .collect();
        let bad = if strict {
            verify_each(&items)
        } else {
            verify_batch(&items)
        };
        let total: usize = batch.iter().map(|j| j.envelope.signatures.len()).sum();
        verified += total.saturating_sub(bad.len()) as u64;
        for (b, sig) in bad {
            failures.push(signature_failure(batch[b].index, &batch[b].envelope, sig));
        }
    }
    (verified, failures)
}
