//! The publisher: signs checkpoints for committed sizes only and writes the
//! C2SP tiles and entry bundles for them first (write-temp → fsync → rename
//! → fsync(dir)), so everything a checkpoint covers is durable and served.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::note::Signer;
use regledger::tlog::tile::{
    encode_entry_bundle, entry_tiles_for_size, hash_tiles_for_size, read_tile_data, Tile,
    TILE_WIDTH,
};
use regledger::tlog::tree::tree_hash;
use regledger::HashSuite;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::{
    meta_str, meta_u64, Hashes, Store, StoreError, CHECKPOINTS, META, M_CHECKPOINT, M_SIZE,
    M_TILES_SIZE,
};

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
    /// signer is the log key.
    pub signer: Signer,
    /// tiles_dir is where tiles go.
    pub tiles_dir: PathBuf,
    /// latest is the published checkpoint.
    pub latest: Arc<RwLock<Published>>,
    /// notify tells waiters the published size.
    pub notify: watch::Sender<u64>,
    /// metrics are the node metrics.
    pub metrics: Arc<Metrics>,
    /// witnesses cosign each checkpoint before it is published (none: publish at once).
    pub witnesses: Option<crate::witnessing::Witnesses>,
    /// tiles_written is the size this process has written tiles for; it runs
    /// ahead of the published size while checkpoints wait for witnesses, so
    /// each retry writes only the new tiles, not everything since the last
    /// published checkpoint again.
    pub tiles_written: std::sync::atomic::AtomicU64,
}

/// write_atomic writes a file so that readers see the old or the new bytes, never a mix, and it survives power loss.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("tile paths have a parent");
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

impl Publisher {
    /// publish_once makes the committed size public if it grew (or `force`).
    pub fn publish_once(&self, force: bool) -> Result<bool, StoreError> {
        let view = self.store.view()?;
        let size = meta_u64(&view.meta, M_SIZE)?;
        let tiles_size = meta_u64(&view.meta, M_TILES_SIZE)?;
        let current = self.latest.read().expect("lock").size;
        let has_note = !self.latest.read().expect("lock").note.is_empty();
        let tiles_ok = tiles_complete(&self.tiles_dir, tiles_size);
        if size == current && !force && has_note && tiles_ok {
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
        let root = tree_hash(self.suite, size, &Hashes(&view.hashes))
            .map_err(|e| StoreError(e.to_string()))?;
        drop(view);
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: vec![],
        };
        let mut note = sign_checkpoint(&cp, &self.signer).map_err(|e| StoreError(e.to_string()))?;
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
        let tx = self.store.write()?;
        {
            let mut meta = tx.open_table(META)?;
            meta.insert(M_CHECKPOINT, note.as_bytes())?;
            meta.insert(M_TILES_SIZE, size.to_be_bytes().as_slice())?;
            tx.open_table(CHECKPOINTS)?.insert(size, note.as_str())?;
        }
        tx.commit()?;
        write_atomic(&self.tiles_dir.join("checkpoint"), note.as_bytes())?;
        *self.latest.write().expect("lock") = Published { size, note };
        self.metrics.checkpoint_size.store(size, Ordering::Relaxed);
        let _ = self.notify.send(size);
        Ok(true)
    }

    /// load restores the latest published checkpoint from the database and
    /// rewrites the tiles at the right edge of the published tree (the ones
    /// a crash or a torn write could have left behind) from the database.
    /// Older tiles are immutable once full; the audit checks all of them.
    pub fn load(&self) -> Result<(), StoreError> {
        if let Some(w) = &self.witnesses {
            w.restore(&self.store)?;
        }
        let view = self.store.view()?;
        let tiles_size = meta_u64(&view.meta, M_TILES_SIZE)?;
        if tiles_size > 0 && tiles_complete(&self.tiles_dir, tiles_size) {
            write_tiles(&self.tiles_dir, &view, tiles_size - 1, tiles_size)?;
        }
        if let Some(note) = meta_str(&view.meta, M_CHECKPOINT)? {
            let size = regledger::tlog::note::Note::parse(note.as_bytes())
                .ok()
                .and_then(|n| Checkpoint::parse(&n.text).ok())
                .map(|c| c.size)
                .unwrap_or(0);
            *self.latest.write().expect("lock") = Published { size, note };
            self.metrics.checkpoint_size.store(size, Ordering::Relaxed);
            let _ = self.notify.send(size);
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

/// tile_file returns the path of a tile under the tiles dir, if the path is a valid tile path.
pub fn tile_file(tiles_dir: &Path, path: &str) -> Option<PathBuf> {
    let t = Tile::parse(path).ok()?;
    Some(tiles_dir.join(t.path()))
}

/// tiles_complete checks that the last entry bundle of `size` exists (a cheap reconcile at start).
pub fn tiles_complete(tiles_dir: &Path, size: u64) -> bool {
    if size == 0 {
        return true;
    }
    entry_tiles_for_size(size - 1, size)
        .iter()
        .all(|t| tiles_dir.join(t.path()).is_file())
}

/// write_tiles writes the hash tiles and entry bundles that grow the tree from `old` to `new`, from the database.
pub fn write_tiles(
    tiles_dir: &Path,
    view: &crate::store::ReadView,
    old: u64,
    new: u64,
) -> Result<(), StoreError> {
    if new <= old {
        return Ok(());
    }
    for t in hash_tiles_for_size(old, new) {
        let data =
            read_tile_data(&t, &Hashes(&view.hashes)).map_err(|e| StoreError(e.to_string()))?;
        write_atomic(&tiles_dir.join(t.path()), &data)?;
    }
    for t in entry_tiles_for_size(old, new) {
        let start = t.n * TILE_WIDTH;
        let mut entries = Vec::with_capacity(usize::from(t.width));
        for i in start..start + u64::from(t.width) {
            let leaf = view
                .leaf(i)?
                .ok_or_else(|| StoreError(format!("leaf {i} missing")))?;
            entries.push(leaf);
        }
        let refs: Vec<&[u8]> = entries.iter().map(|e| e.as_slice()).collect();
        let data = encode_entry_bundle(&refs).map_err(|e| StoreError(e.to_string()))?;
        write_atomic(&tiles_dir.join(t.path()), &data)?;
    }
    Ok(())
}
