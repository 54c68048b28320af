//! The publisher: signs checkpoints for committed sizes only and writes the
//! C2SP tiles and entry bundles for them first (write-temp → fsync → rename
//! → fsync(dir)), so everything a checkpoint covers is durable and served.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::keysigner::{KeySigner, SignerError};
use regledger::entry::state_line::StateLine;
use regledger::tlog::checkpoint::Checkpoint;
use regledger::HashSuite;
use tokio::sync::watch;

use super::tiles::{
    remove_partials, tiles_complete, write_atomic, write_tiles, TileError, PARTIAL_SWEEP,
};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// PublishError is why a checkpoint was not published (the previous one is still served).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Store: the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Tiles: the tiles the checkpoint covers could not be written.
    #[error(transparent)]
    Tiles(#[from] TileError),
    /// Io: the checkpoint file could not be written.
    #[error("checkpoint file: {0}")]
    Io(#[from] std::io::Error),
    /// Objects: the object store did not take the tiles or the checkpoint.
    #[error(transparent)]
    Objects(#[from] super::objects::ObjectError),
    /// Sign: the log key could not sign (an external signer down, or its
    /// signature refused): no checkpoint is published.
    #[error("signing the checkpoint: {0}")]
    Sign(#[from] SignerError),
}

/// Published is the latest checkpoint, shared with the HTTP layer.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// size is its tree size.
    pub size: u64,
    /// note is the signed checkpoint.
    pub note: String,
}

/// Publisher signs checkpoints and writes tiles.
pub struct Publisher {
    /// store is the database.
    pub store: Arc<Store>,
    /// suite is the log's hash.
    pub suite: HashSuite,
    /// origin is the checkpoint origin.
    pub origin: String,
    /// signer is the log key (a key file, or an external signer).
    pub signer: KeySigner,
    /// tiles_dir is where tiles go.
    pub tiles_dir: PathBuf,
    /// latest is the published checkpoint.
    pub latest: Arc<RwLock<Published>>,
    /// notify tells waiters the published size.
    pub notify: watch::Sender<u64>,
    /// metrics are the node metrics.
    pub metrics: Arc<Metrics>,
    /// witnesses cosign each checkpoint before it is published (none: publish at once).
    pub witnesses: Option<crate::witness::client::Witnesses>,
    /// tiles_written is the size this process has written tiles for; it runs
    /// ahead of the published size while checkpoints wait for witnesses, so
    /// each retry writes only the new tiles, not everything since the last
    /// published checkpoint again.
    pub tiles_written: std::sync::atomic::AtomicU64,
    /// objects is the S3-compatible bucket every publication is copied to
    /// before it is recorded (`--tiles s3://...`, D20).
    pub objects: Option<super::objects::ObjectTiles>,
}

/// note_size is the tree size of a checkpoint note (0 if it does not parse).
fn note_size(note: &str) -> u64 {
    regledger::tlog::note::Note::parse(note.as_bytes())
        .ok()
        .and_then(|n| Checkpoint::parse(&n.text).ok())
        .map(|c| c.size)
        .unwrap_or(0)
}

/// state_line is the checkpoint's state line at `size` (D26): what leaf
/// size−1 commits to, if it is a v2 leaf.
///
/// # Errors
///
/// The store's, or a stored leaf that does not parse (a damaged store:
/// no checkpoint is signed over it).
fn state_line(view: &crate::store::ReadTx, size: u64) -> Result<Option<String>, PublishError> {
    if size == 0 {
        return Ok(None);
    }
    let bytes = view
        .leaf(size - 1)?
        .ok_or(StoreError::MissingLeaf(size - 1))?;
    let leaf =
        regledger::entry::leaf::Leaf::parse(&bytes).map_err(|source| StoreError::BadLeaf {
            index: size - 1,
            source,
        })?;
    Ok(StateLine::of_leaf(&leaf).map(|l| l.to_line()))
}

impl Publisher {
    /// publish_once makes the committed size public if it grew (or
    /// `force`): tiles, then a signed (and, with witnesses, cosigned)
    /// checkpoint. It returns whether a checkpoint was published.
    ///
    /// # Errors
    ///
    /// [`PublishError`]; nothing new is served then.
    pub fn publish_once(&self, force: bool) -> Result<bool, PublishError> {
        let leader = self.store.is_leader();
        self.metrics
            .leader
            .store(u64::from(leader), Ordering::Relaxed);
        if !leader {
            self.follow_once()?;
            return Ok(false);
        }
        let view = self.store.read()?;
        let size = view.size()?;
        let tiles_size = view.tiles_size()?;
        let current = self.latest.read().expect("lock").size;
        let has_note = !self.latest.read().expect("lock").note.is_empty();
        let tiles_ok = tiles_complete(&self.tiles_dir, tiles_size);
        // The bucket (if any) must hold this size too: at start it is read
        // first, and after an outage it is caught up.
        let bucket_ok = self.objects.as_ref().is_none_or(|o| o.holds(size));
        if size == current && !force && has_note && tiles_ok && bucket_ok {
            return Ok(false);
        }
        // Tiles first: a checkpoint is never served for data the tiles lack.
        // A missing tile directory is rebuilt from the database.
        let written = self.tiles_written.load(Ordering::Relaxed);
        let from = match tiles_ok {
            true if written > tiles_size && written <= size => written,
            true => tiles_size,
            false => 0,
        };
        write_tiles(&self.tiles_dir, &view, from, size)?;
        self.tiles_written.store(size, Ordering::Relaxed);
        if let Some(o) = &self.objects {
            o.upload_tiles(&self.tiles_dir, size)?;
        }
        let root = view.root_at(self.suite, size)?;
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: state_line(&view, size)?.into_iter().collect(),
        };
        let mut note = self.signer.sign_checkpoint(&cp)?;
        if let Some(w) = &self.witnesses {
            let o = w.cosign(&self.store, self.suite, size, &note);
            if o.verified < w.quorum {
                self.metrics.unwitnessed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    size,
                    cosigned = o.verified,
                    quorum = w.quorum,
                    "checkpoint below the witness quorum: {}",
                    o.failures.join("; ")
                );
                if w.wait {
                    // Not published: /checkpoint stays at the last witnessed size; retried next interval.
                    return Ok(false);
                }
            } else if !o.failures.is_empty() {
                // Quorum met, but a witness is failing: the margin shrank.
                tracing::warn!(
                    size,
                    cosigned = o.verified,
                    "witness(es) did not cosign: {}",
                    o.failures.join("; ")
                );
            }
            note = o.note;
        }
        if let Some(o) = &self.objects {
            // Only a node that still holds the lease writes outside the
            // database; and conditionally on the bucket's version, so
            // never over a newer checkpoint.
            self.store.check_leader()?;
            o.put_checkpoint(size, &note)?;
        }
        // The full bundles made durable become the store of record of
        // their entries (D29), checked against the rows before the write
        // lock is taken.
        let archivable = view.archivable(size)?;
        let tx = self.store.write()?;
        tx.set_published_checkpoint(size, &note)?;
        tx.set_tiles_size(size)?;
        tx.archive_below(archivable)?;
        tx.commit()?;
        write_atomic(&self.tiles_dir.join("checkpoint"), note.as_bytes())?;
        // Status proofs at size N are made from this snapshot at N (D15).
        self.store.pin(view);
        *self.latest.write().expect("lock") = Published { size, note };
        self.metrics.checkpoint_size.store(size, Ordering::Relaxed);
        let _ = self.notify.send(size);
        // Only now, with the checkpoint for `size` served, are the partials
        // of the tiles it completed redundant (D28).
        self.drop_partials(current, size);
        Ok(true)
    }

    /// drop_partials removes, locally and in the bucket, the partial tiles
    /// of the tiles completed between the published sizes `old` and `size`
    /// (D28). A failure only leaves redundant files: it is logged, and the
    /// publication stands.
    fn drop_partials(&self, old: u64, size: u64) {
        if let Some(o) = &self.objects {
            o.remove_partials(old, size);
        }
        match remove_partials(&self.tiles_dir, old, size) {
            Ok(n) if n > 0 => tracing::debug!(old, size, tiles = n, "partial tiles removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(old, size, "partial tiles not removed: {e}"),
        }
    }

    /// follow_once is a standby's publisher: it serves what the leader
    /// published (the checkpoint recorded in the shared store, and local
    /// tiles for it), so reads are answered as by the leader, and a
    /// takeover continues from complete tiles.
    ///
    /// # Errors
    ///
    /// [`PublishError`]; nothing new is served then.
    fn follow_once(&self) -> Result<(), PublishError> {
        let view = self.store.read()?;
        self.metrics
            .tree_size
            .store(view.size()?, Ordering::Relaxed);
        let Some(note) = view.published_checkpoint()? else {
            return Ok(());
        };
        let size = note_size(&note);
        let current = self.latest.read().expect("lock").clone();
        if current.note == note {
            return Ok(());
        }
        let written = self.tiles_written.load(Ordering::Relaxed);
        let from = if written <= size && tiles_complete(&self.tiles_dir, written) {
            written
        } else {
            0
        };
        write_tiles(&self.tiles_dir, &view, from, size)?;
        self.tiles_written.store(size, Ordering::Relaxed);
        drop(view);
        write_atomic(&self.tiles_dir.join("checkpoint"), note.as_bytes())?;
        *self.latest.write().expect("lock") = Published { size, note };
        self.metrics.checkpoint_size.store(size, Ordering::Relaxed);
        let _ = self.notify.send(size);
        // The leader removes the bucket's; a standby only its own directory.
        if let Err(e) = remove_partials(&self.tiles_dir, current.size.min(size), size) {
            tracing::warn!(size, "partial tiles not removed: {e}");
        }
        Ok(())
    }

    /// load restores the latest published checkpoint from the database and
    /// rewrites the tiles at the right edge of the published tree (the ones
    /// a crash or a torn write could have left behind) from the database.
    /// Older tiles are immutable once full; the audit checks all of them.
    ///
    /// # Errors
    ///
    /// [`PublishError`] if the store cannot be read or the tiles written.
    pub fn load(&self) -> Result<(), PublishError> {
        if let Some(w) = &self.witnesses {
            w.restore(&self.store)?;
        }
        let view = self.store.read()?;
        let tiles_size = view.tiles_size()?;
        if tiles_size > 0 && tiles_complete(&self.tiles_dir, tiles_size) {
            write_tiles(&self.tiles_dir, &view, tiles_size - 1, tiles_size)?;
        }
        if let Some(note) = view.published_checkpoint()? {
            let size = note_size(&note);
            if view.size()? == size {
                self.store.pin(view);
            }
            *self.latest.write().expect("lock") = Published { size, note };
            self.metrics.checkpoint_size.store(size, Ordering::Relaxed);
            let _ = self.notify.send(size);
            // A crash between a checkpoint and the removal of the partials
            // it made redundant left them: sweep the recent ones (D28).
            // Local only: a start must not wait on a bucket's listings.
            if let Err(e) =
                remove_partials(&self.tiles_dir, size.saturating_sub(PARTIAL_SWEEP), size)
            {
                tracing::warn!(size, "partial tiles not removed: {e}");
            }
        }
        Ok(())
    }

    /// run publishes every `interval` while the log grows, and re-signs at least every `idle` when it does not.
    pub fn run(self, interval: Duration, idle: Duration, stop: Arc<std::sync::atomic::AtomicBool>) {
        let mut last = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let force = last.elapsed() >= idle;
            match self.publish_once(force) {
                Ok(true) => last = Instant::now(),
                Ok(false) => {}
                Err(e) => {
                    if matches!(e, PublishError::Sign(_)) {
                        self.metrics.sign_failures.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::error!("checkpoint not published: {e}");
                    // A failed commit leaves redb's handle unusable: reopen it
                    // (only then) so publishing resumes once space returns,
                    // even if no new entry arrives to make the sequencer do it.
                    if self.store.read().is_err() {
                        if let Err(e) = self.store.reopen() {
                            tracing::error!("database not reopened: {e}");
                        }
                    }
                }
            }
            std::thread::sleep(interval);
        }
    }
}
