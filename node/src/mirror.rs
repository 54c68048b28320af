//! The mirror: a verified follower of an upstream log for trading venues.
//!
//! It reads only the upstream's C2SP `checkpoint` and tiles. For every new
//! checkpoint it verifies the log signature and witness quorum, fetches the
//! new entry bundles, checks each leaf (index, hash chain, time order),
//! replays it through the registry rules with every signature verified,
//! recomputes the root from its own stored hashes plus the new leaves and
//! compares it with the checkpoint (the old leaves are the mirror's own, so
//! an equal root proves the new checkpoint extends the accepted one), checks
//! the upstream's hash tiles against its own, and commits leaves, hashes,
//! state, indexes and the checkpoint in one durable transaction. Only then
//! does it write its own tiles and serve the upstream's signed checkpoint.
//!
//! A contradiction (a smaller size, another root, a tile or entry that does
//! not match) is a split view: the mirror stops advancing, keeps serving its
//! last good state, raises `regledger_mirror_split_view` and saves evidence
//! that `regledger-verify audit --trusted` reports as a fork.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use regledger::checkpoint::{check_origin, verify_checkpoint, Checkpoint};
use regledger::descriptor::LogDescriptor;
use regledger::leaf::Leaf;
use regledger::registry::{apply, EntryContext};
use regledger::tile::{
    decode_entry_bundle, entry_tiles_for_size, hash_tiles_for_size, read_tile_data, TILE_WIDTH,
};
use regledger::tree::{stored_hash_count, stored_hashes_for_record, tree_hash};
use regledger::Hash;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::publisher::{tiles_complete, write_atomic, write_tiles, Published};
use crate::store::{
    head_of, meta_str, meta_u64, Hashes, State, Store, StoreError, CHECKPOINTS, CONTENT_IDS,
    HASHES, LEAVES, META, M_CHECKPOINT, M_LAST_HASH, M_LAST_TIME, M_SIZE, M_TILES_SIZE, STATE,
    SUBJECTS,
};
use crate::Failure;

/// MAX_FETCH_BYTES bounds one object fetched from the upstream (a full entry
/// bundle of large entries stays far below; a hostile upstream must not
/// exhaust memory).
pub const MAX_FETCH_BYTES: usize = 64 << 20;

/// MAX_EVIDENCE_TILES bounds how many tiles of a contradicting tree are saved as evidence.
pub const MAX_EVIDENCE_TILES: usize = 1 << 16;

/// MirrorArgs are the options of `regledger-node mirror`.
#[derive(clap::Args)]
pub struct MirrorArgs {
    /// Base URL of the upstream log (a node, another mirror, or a static tile server).
    #[arg(long)]
    pub upstream: String,
    /// The log descriptor to trust (log key, origin, hash, witnesses, quorum).
    #[arg(long)]
    pub log: PathBuf,
    /// Data directory of the mirror (its own database, tiles and evidence).
    #[arg(long, env = "REGLEDGER_DATA")]
    pub data: PathBuf,
    /// Listen address.
    #[arg(long, env = "REGLEDGER_LISTEN", default_value = "127.0.0.1:8471")]
    pub listen: SocketAddr,
    /// How often to poll the upstream checkpoint, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub poll_ms: u64,
    /// POST every change event as JSON to this URL (repeatable; at-least-once, resumed after restart).
    #[arg(long)]
    pub webhook: Vec<String>,
    /// Witness key (type 0x04, cosignature/v1): serve C2SP tlog-witness `POST /add-checkpoint`.
    #[arg(long)]
    pub witness_key: Option<PathBuf>,
    /// Longest time a request may take, in seconds (the event stream is exempt).
    #[arg(long, default_value_t = 30)]
    pub request_timeout_s: u64,
}

/// Mirror is the shared state of the follower, the feed and the witness.
pub struct Mirror {
    /// store is the mirror's database (same tables as a node's).
    pub store: Arc<Store>,
    /// descriptor is the trusted log descriptor.
    pub descriptor: LogDescriptor,
    /// upstream is the upstream base URL without a trailing slash.
    pub upstream: String,
    /// tiles_dir is where the mirror writes its own tiles.
    pub tiles_dir: PathBuf,
    /// evidence_dir is where split-view evidence goes.
    pub evidence_dir: PathBuf,
    /// latest is the accepted checkpoint as served.
    pub latest: Arc<RwLock<Published>>,
    /// notify announces each newly accepted size.
    pub notify: watch::Sender<u64>,
    /// metrics are shared with the HTTP side.
    pub metrics: Arc<Metrics>,
    /// sync_lock serialises syncs (the poll loop and witness catch-ups).
    pub sync_lock: std::sync::Mutex<()>,
}

/// SyncError is why one sync round did not advance.
#[derive(Debug)]
pub enum SyncError {
    /// Transient: network or upstream trouble; retried at the next poll.
    Transient(String),
    /// Split: the upstream contradicts what the mirror accepted or what its checkpoint signs.
    Split {
        /// reason says what contradicted what.
        reason: String,
        /// note is the upstream's signed checkpoint that was refused.
        note: Vec<u8>,
    },
    /// Storage: the mirror's own database failed; nothing was written.
    Storage(String),
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        SyncError::Storage(e.0)
    }
}

macro_rules! storage_err {
    ($($t:ty),*) => {$(impl From<$t> for SyncError { fn from(e: $t) -> Self { SyncError::Storage(e.to_string()) } })*};
}
storage_err!(redb::TableError, redb::StorageError, redb::CommitError);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Fetcher reads upstream objects by their tlog-tiles path.
pub struct Fetcher {
    client: reqwest::Client,
    base: String,
    rt: tokio::runtime::Runtime,
}

impl Fetcher {
    /// new builds a fetcher with its own small runtime (the sync loop is a plain thread).
    pub fn new(base: &str) -> Result<Fetcher, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Fetcher {
            client,
            base: base.trim_end_matches('/').to_string(),
            rt,
        })
    }

    /// get returns the object at `path`, `None` on 404.
    pub fn get(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let url = format!("{}/{path}", self.base);
        self.rt.block_on(async {
            let mut r = self
                .client
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            if r.status() == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !r.status().is_success() {
                return Err(format!("{url}: HTTP {}", r.status()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = r.chunk().await.map_err(|e| format!("{url}: {e}"))? {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_FETCH_BYTES {
                    return Err(format!("{url}: larger than {MAX_FETCH_BYTES} bytes"));
                }
            }
            Ok(Some(body))
        })
    }
}

/// Progress is what one sync round did.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Unchanged: the upstream checkpoint is the accepted one.
    Unchanged,
    /// Advanced: a new checkpoint was verified and committed.
    Advanced {
        /// from is the size before.
        from: u64,
        /// to is the size after.
        to: u64,
    },
}

impl SyncError {
    /// describe says what went wrong in one line.
    fn describe(&self) -> String {
        match self {
            SyncError::Transient(e) | SyncError::Storage(e) => e.clone(),
            SyncError::Split { reason, .. } => format!("split view: {reason}"),
        }
    }
}

impl Mirror {
    /// accepted returns the accepted checkpoint (size 0 and the empty root before the first).
    fn accepted(&self) -> Result<(u64, Hash), SyncError> {
        let view = self.store.view()?;
        let size = meta_u64(&view.meta, M_SIZE)?;
        let root = tree_hash(self.descriptor.suite, size, &Hashes(&view.hashes))
            .map_err(|e| SyncError::Storage(e.to_string()))?;
        Ok((size, root))
    }

    /// sync_once verifies and commits the upstream's current checkpoint if it is new.
    pub fn sync_once(&self, f: &Fetcher) -> Result<Progress, SyncError> {
        let note = f
            .get("checkpoint")
            .map_err(SyncError::Transient)?
            .ok_or_else(|| SyncError::Transient("upstream has no checkpoint".into()))?;
        self.sync_to(f, note, true)
    }

    /// catch_up verifies and commits the entries up to a checkpoint presented
    /// to this mirror's witness: signed by the log, not yet cosigned (that is
    /// what is being asked). A contradiction is recorded as a split view with
    /// evidence; other failures are left to the witness's own checks.
    pub fn catch_up(&self, note: &[u8]) {
        if self.split_seen() {
            tracing::warn!("witness catch-up skipped: this mirror has seen a split view");
            return;
        }
        let f = match Fetcher::new(&self.upstream) {
            Ok(f) => f,
            Err(e) => return tracing::warn!("witness catch-up: {e}"),
        };
        match self.sync_to(&f, note.to_vec(), false) {
            // A checkpoint signed by the log key that contradicts the accepted
            // one is a split view wherever it came from; one shown only to
            // witnesses is the very attack they exist for.
            Err(SyncError::Split { reason, note }) => self.record_split(&f, &reason, &note),
            Err(e) => tracing::warn!("witness catch-up: {}", e.describe()),
            Ok(_) => {}
        }
    }

    /// sync_to verifies and commits `note` if it is new; `witnessed` requires log.json's quorum.
    fn sync_to(&self, f: &Fetcher, note: Vec<u8>, witnessed: bool) -> Result<Progress, SyncError> {
        let _serial = self.sync_lock.lock().expect("sync lock");
        let d = &self.descriptor;
        let quorum = if witnessed { d.quorum } else { 0 };
        // A note the log key did not sign proves nothing about the log: it
        // is refused as noise, never as a split view.
        let cp = verify_checkpoint(&note, &d.log_key, &d.witnesses, quorum)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                check_origin(&v.checkpoint, &d.origin).map_err(|e| e.to_string())?;
                Ok(v.checkpoint)
            })
            .map_err(|e| SyncError::Transient(format!("upstream checkpoint refused: {e}")))?;
        // `size` is what this mirror verified entry by entry; `served` is the
        // last checkpoint it accepted from the upstream's own /checkpoint. A
        // witness catch-up can put the first ahead of the second (and of
        // what the upstream serves, while it waits for its witnesses).
        let (size, _) = self.accepted()?;
        let served = self.latest.read().expect("lock").size;
        let split = |reason: String| SyncError::Split {
            reason,
            note: note.clone(),
        };
        if cp.size < served {
            return Err(split(format!(
                "upstream checkpoint size {} is smaller than the accepted size {served}",
                cp.size
            )));
        }
        if cp.size <= size {
            let view = self.store.view()?;
            let root = tree_hash(d.suite, cp.size, &Hashes(&view.hashes))
                .map_err(|e| SyncError::Storage(e.to_string()))?;
            drop(view);
            if cp.size > 0 && cp.root != root {
                return Err(split(format!(
                    "upstream signed root {} at size {} but the verified root is {}",
                    cp.root.to_hex(),
                    cp.size,
                    root.to_hex()
                )));
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
        self.integrate(f, &cp, &note, size)?;
        self.write_tiles_to(size, cp.size)?;
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

    /// integrate fetches, checks and replays entries `old..cp.size` and commits them with the checkpoint.
    fn integrate(
        &self,
        f: &Fetcher,
        cp: &Checkpoint,
        note: &[u8],
        old: u64,
    ) -> Result<(), SyncError> {
        let suite = self.descriptor.suite;
        let split = |reason: String| SyncError::Split {
            reason,
            note: note.to_vec(),
        };
        // Everything is fetched before the write transaction opens: redb has
        // one writer, and the witness and webhooks must not wait on the network.
        let fetch = |t: &regledger::tile::Tile| {
            f.get(&t.path())
                .map_err(SyncError::Transient)?
                .ok_or_else(|| SyncError::Transient(format!("{} not served yet", t.path())))
        };
        let bundles = entry_tiles_for_size(old, cp.size)
            .into_iter()
            .map(|t| Ok((t, fetch(&t)?)))
            .collect::<Result<Vec<_>, SyncError>>()?;
        let hash_tiles = hash_tiles_for_size(old, cp.size)
            .into_iter()
            .map(|t| Ok((t, fetch(&t)?)))
            .collect::<Result<Vec<_>, SyncError>>()?;
        let tx = self.store.write()?;
        {
            let mut leaves = tx.open_table(LEAVES)?;
            let mut hashes = tx.open_table(HASHES)?;
            let mut state = tx.open_table(STATE)?;
            let mut content_ids = tx.open_table(CONTENT_IDS)?;
            let mut subjects = tx.open_multimap_table(SUBJECTS)?;
            let mut meta = tx.open_table(META)?;
            let mut head = head_of(&meta)?;
            if head.size != old {
                return Err(SyncError::Storage("head moved during sync".into()));
            }
            for (t, data) in &bundles {
                let entries = decode_entry_bundle(data, usize::from(t.width))
                    .map_err(|e| split(format!("entry bundle {}: {e}", t.path())))?;
                let first = t.n * TILE_WIDTH;
                for (i, bytes) in (first..).zip(entries) {
                    if i < head.size {
                        continue;
                    }
                    let leaf = Leaf::parse(bytes)
                        .map_err(|e| split(format!("entry {i} is not a leaf: {e}")))?;
                    if leaf.index != i {
                        return Err(split(format!("entry {i} says index {}", leaf.index)));
                    }
                    if leaf.prev_leaf_hash != head.last_leaf_hash {
                        return Err(split(format!("entry {i} breaks the hash chain")));
                    }
                    if i > 0 && leaf.integrated_time_ms <= head.last_time_ms {
                        return Err(split(format!("entry {i} goes back in time")));
                    }
                    let lh = suite.leaf_hash(bytes);
                    let ctx = EntryContext {
                        index: i,
                        integrated_time_ms: leaf.integrated_time_ms,
                        leaf_hash: lh,
                        log_id: self.descriptor.origin.clone(),
                    };
                    // A replay is refused here as the node refuses it (D12):
                    // an upstream that logged one broke a rule.
                    let content_id = leaf.envelope.content_id();
                    if let Some(first) = redb::ReadableTable::get(&content_ids, content_id)? {
                        return Err(split(format!(
                            "entry {i} breaks a registry rule: replayed-envelope: it logs the signed content of entry {} again",
                            first.value()
                        )));
                    }
                    // Every signature is verified again: the mirror trusts keys, not the upstream.
                    let fx = apply(&State(&state), &ctx, &leaf.envelope)
                        .map_err(|v| split(format!("entry {i} breaks a registry rule: {v}")))?;
                    let new_hashes = stored_hashes_for_record(suite, i, lh, &Hashes(&hashes))
                        .map_err(|e| SyncError::Storage(e.to_string()))?;
                    for (at, h) in (stored_hash_count(i)..).zip(new_hashes) {
                        hashes.insert(at, h.0)?;
                    }
                    leaves.insert(i, bytes)?;
                    content_ids.insert(content_id, i)?;
                    for (k, v) in &fx.writes {
                        let json =
                            serde_json::to_vec(v).map_err(|e| SyncError::Storage(e.to_string()))?;
                        state.insert(k.to_string().as_str(), json.as_slice())?;
                    }
                    for s in &fx.subjects {
                        subjects.insert(s.as_str(), i)?;
                    }
                    head.size = i + 1;
                    head.last_leaf_hash = lh;
                    head.last_time_ms = leaf.integrated_time_ms;
                }
            }
            if head.size != cp.size {
                return Err(split(format!(
                    "the entry bundles hold {} entries, the checkpoint {}",
                    head.size, cp.size
                )));
            }
            let root = tree_hash(suite, cp.size, &Hashes(&hashes))
                .map_err(|e| SyncError::Storage(e.to_string()))?;
            if root != cp.root {
                return Err(split(format!(
                    "the entries hash to root {} but the checkpoint signed {} at size {}",
                    root.to_hex(),
                    cp.root.to_hex(),
                    cp.size
                )));
            }
            // The hash tiles others read from the upstream must be the ones this mirror computed.
            for (t, got) in &hash_tiles {
                let want = read_tile_data(t, &Hashes(&hashes))
                    .map_err(|e| SyncError::Storage(e.to_string()))?;
                if *got != want {
                    return Err(split(format!(
                        "hash tile {} differs from the entries",
                        t.path()
                    )));
                }
            }
            meta.insert(M_SIZE, head.size.to_be_bytes().as_slice())?;
            meta.insert(M_LAST_HASH, head.last_leaf_hash.0.as_slice())?;
            meta.insert(M_LAST_TIME, head.last_time_ms.to_be_bytes().as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// write_tiles_to writes the mirror's own tiles for the verified entries `old..size`.
    fn write_tiles_to(&self, old: u64, size: u64) -> Result<(), SyncError> {
        let view = self.store.view()?;
        write_tiles(&self.tiles_dir, &view, old, size)?;
        drop(view);
        let tx = self.store.write()?;
        tx.open_table(META)?
            .insert(M_TILES_SIZE, size.to_be_bytes().as_slice())?;
        tx.commit()?;
        self.metrics.tree_size.store(size, Ordering::Relaxed);
        Ok(())
    }

    /// serve records `note` (for verified size `size`) as the accepted checkpoint and starts serving it.
    fn serve(&self, size: u64, note: &[u8]) -> Result<(), SyncError> {
        let text = String::from_utf8_lossy(note).into_owned();
        let tx = self.store.write()?;
        {
            tx.open_table(META)?.insert(M_CHECKPOINT, text.as_bytes())?;
            tx.open_table(CHECKPOINTS)?.insert(size, text.as_str())?;
        }
        tx.commit()?;
        write_atomic(&self.tiles_dir.join("checkpoint"), note).map_err(StoreError::from)?;
        *self.latest.write().expect("lock") = Published { size, note: text };
        self.metrics.checkpoint_size.store(size, Ordering::Relaxed);
        self.metrics.mirror_syncs.fetch_add(1, Ordering::Relaxed);
        let _ = self.notify.send(size);
        Ok(())
    }

    /// load restores the accepted checkpoint and repairs the tile directory (derived data) at start.
    pub fn load(&self) -> Result<(), StoreError> {
        let view = self.store.view()?;
        let size = meta_u64(&view.meta, M_SIZE)?;
        let tiles_size = meta_u64(&view.meta, M_TILES_SIZE)?;
        let note = meta_str(&view.meta, M_CHECKPOINT)?;
        let from = if tiles_complete(&self.tiles_dir, tiles_size) {
            tiles_size.min(size)
        } else {
            0
        };
        write_tiles(&self.tiles_dir, &view, from, size)?;
        drop(view);
        // The served checkpoint can be smaller than the verified size (a
        // witness catch-up the upstream has not published yet).
        let mut served = 0;
        if let Some(note) = note {
            served = note_size(note.as_bytes()).unwrap_or(0);
            write_atomic(&self.tiles_dir.join("checkpoint"), note.as_bytes())?;
            *self.latest.write().expect("lock") = Published { size: served, note };
        }
        let tx = self.store.write()?;
        tx.open_table(META)?
            .insert(M_TILES_SIZE, size.to_be_bytes().as_slice())?;
        tx.commit()?;
        self.metrics.tree_size.store(size, Ordering::Relaxed);
        self.metrics
            .checkpoint_size
            .store(served, Ordering::Relaxed);
        let _ = self.notify.send(served);
        Ok(())
    }

    /// save_evidence writes both signed checkpoints and the contradicting tree's tiles to a new evidence directory.
    pub fn save_evidence(&self, f: &Fetcher, reason: &str, bad: &[u8]) -> std::io::Result<PathBuf> {
        // Built under a hidden name and renamed when complete, so a directory
        // named by its time is always whole evidence.
        let name = now_ms().to_string();
        let dir = self.evidence_dir.join(&name);
        let tmp = self.evidence_dir.join(format!(".tmp-{name}"));
        std::fs::create_dir_all(&tmp)?;
        let accepted = self.latest.read().expect("lock").note.clone();
        // Before the first accepted checkpoint there is nothing to compare
        // with; the audit of the tiles alone then shows what was wrong.
        if !accepted.is_empty() {
            write_atomic(&tmp.join("accepted.checkpoint"), accepted.as_bytes())?;
        }
        write_atomic(&tmp.join("checkpoint"), bad)?;
        // The whole contradicting tree (as far as the upstream serves it), so
        // that the directory is a tile directory a regulator can audit alone.
        let mut saved = 0usize;
        let mut missing = Vec::new();
        if let Some(size) = note_size(bad) {
            let tiles = hash_tiles_for_size(0, size)
                .into_iter()
                .chain(entry_tiles_for_size(0, size));
            for t in tiles.take(MAX_EVIDENCE_TILES) {
                match f.get(&t.path()) {
                    Ok(Some(data)) => {
                        write_atomic(&tmp.join(t.path()), &data)?;
                        saved += 1;
                    }
                    Ok(None) => missing.push(t.path()),
                    Err(e) => missing.push(format!("{} ({e})", t.path())),
                }
            }
        }
        let readme = format!(
            "split view seen by a regledger mirror of {origin}\n\
             upstream: {up}\n\
             reason: {reason}\n\
             accepted.checkpoint: the last checkpoint this mirror verified and accepted\n\
             checkpoint: the contradicting checkpoint the upstream served (signed by the log key)\n\
             tile/: {saved} tiles of the contradicting tree as the upstream served them\n\
             {miss}\n\
             verify with:\n  regledger-verify audit --dir {dir} --log log.json --trusted {dir}/accepted.checkpoint\n",
            origin = self.descriptor.origin,
            up = self.upstream,
            dir = dir.display(),
            miss = if missing.is_empty() {
                String::new()
            } else {
                format!("not served: {}\n", missing.join(", "))
            },
        );
        write_atomic(&tmp.join("README.txt"), readme.as_bytes())?;
        std::fs::rename(&tmp, &dir)?;
        std::fs::File::open(&self.evidence_dir)?.sync_all()?;
        Ok(dir)
    }

    /// record_split raises the split-view alert and saves the evidence.
    fn record_split(&self, f: &Fetcher, reason: &str, note: &[u8]) {
        self.metrics.mirror_split_view.store(1, Ordering::Relaxed);
        match self.save_evidence(f, reason, note) {
            Ok(dir) => tracing::error!(
                evidence = %dir.display(),
                "SPLIT VIEW: {reason}; the mirror stopped advancing and keeps serving its last verified state"
            ),
            Err(e) => tracing::error!(
                "SPLIT VIEW: {reason}; the mirror stopped advancing; evidence not saved: {e}"
            ),
        }
    }

    /// split_seen reports whether this process raised the split-view alert (it stops the mirror).
    fn split_seen(&self) -> bool {
        self.metrics.mirror_split_view.load(Ordering::Relaxed) == 1
    }

    /// recorded_split returns the first split-view evidence directory saved earlier, if any.
    pub fn recorded_split(&self) -> Option<PathBuf> {
        std::fs::read_dir(&self.evidence_dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .min()
    }

    /// run polls the upstream until a split view or `stop`.
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
        let f = match Fetcher::new(&self.upstream) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!("mirror cannot build its HTTP client: {e}");
                return;
            }
        };
        while !stop.load(Ordering::Relaxed) {
            // A witness catch-up may have seen the split first.
            if self.split_seen() {
                return;
            }
            match self.sync_once(&f) {
                Ok(Progress::Advanced { from, to }) => {
                    tracing::info!(from, to, "mirror verified and committed a checkpoint");
                    // Catch up without waiting when the upstream is far ahead.
                    continue;
                }
                Ok(Progress::Unchanged) => {}
                Err(SyncError::Transient(e)) => tracing::warn!("mirror sync: {e}"),
                Err(SyncError::Storage(e)) => {
                    self.metrics.storage_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("mirror storage, nothing written: {e}");
                }
                Err(SyncError::Split { reason, note }) => {
                    self.record_split(&f, &reason, &note);
                    return;
                }
            }
            let _ = wake.recv_timeout(poll);
        }
    }
}

/// note_size returns the size of a signed checkpoint note, if it parses.
fn note_size(note: &[u8]) -> Option<u64> {
    let n = regledger::note::Note::parse(note).ok()?;
    Checkpoint::parse(&n.text).ok().map(|c| c.size)
}

/// check_data_dir binds a data directory to one log: it keeps a copy of
/// log.json and refuses another (its state was verified under that one).
fn check_data_dir(dir: &Path, descriptor_json: &str) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::Usage(format!("{}: {e}", dir.display())))?;
    let copy = dir.join("log.json");
    match std::fs::read_to_string(&copy) {
        Ok(s) if s == descriptor_json => Ok(()),
        Ok(_) => Err(Failure::Usage(format!(
            "{} belongs to another log.json than --log; use a fresh --data",
            dir.display()
        ))),
        Err(_) => write_atomic(&copy, descriptor_json.as_bytes())
            .map_err(|e| Failure::Usage(format!("{}: {e}", copy.display()))),
    }
}

/// run_mirror is `regledger-node mirror`.
pub fn run_mirror(a: MirrorArgs) -> Result<(), Failure> {
    let descriptor_json = std::fs::read_to_string(&a.log)
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.log.display())))?;
    let descriptor = LogDescriptor::parse(descriptor_json.as_bytes())
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.log.display())))?;
    if !a.upstream.starts_with("http://") && !a.upstream.starts_with("https://") {
        return Err(Failure::Usage(format!(
            "--upstream {:?} is not an http(s) URL",
            a.upstream
        )));
    }
    let witness = match &a.witness_key {
        None => None,
        Some(p) => {
            let s = crate::logdir::read_signer(p).map_err(Failure::Usage)?;
            if s.key_type() != regledger::note::KeyType::CosignatureV1 {
                return Err(Failure::Usage(format!(
                    "{}: a witness key must be of type cosignature/v1 (0x04); make one with `regledger-node keygen --type witness`",
                    p.display()
                )));
            }
            Some(s)
        }
    };
    check_data_dir(&a.data, &descriptor_json)?;
    let db = a.data.join("ledger.redb");
    let store =
        Arc::new(Store::open(&db).map_err(|e| Failure::Usage(format!("{}: {e}", db.display())))?);
    let metrics = Arc::new(Metrics::default());
    let latest = Arc::new(RwLock::new(Published::default()));
    let (notify, published) = watch::channel(0u64);
    let mirror = Arc::new(Mirror {
        store: store.clone(),
        descriptor: descriptor.clone(),
        upstream: a.upstream.trim_end_matches('/').to_string(),
        tiles_dir: a.data.join("tiles"),
        evidence_dir: a.data.join("evidence"),
        latest: latest.clone(),
        notify,
        metrics: metrics.clone(),
        sync_lock: std::sync::Mutex::new(()),
    });
    mirror
        .load()
        .map_err(|e| Failure::Usage(format!("cannot load the mirror state: {e}")))?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (wake_tx, wake_rx) = std::sync::mpsc::channel();
    let sync = {
        let (m, stop) = (mirror.clone(), stop.clone());
        let poll = Duration::from_millis(a.poll_ms.max(10));
        std::thread::Builder::new()
            .name("mirror-sync".into())
            .spawn(move || m.run(poll, stop, wake_rx))
            .map_err(|e| Failure::Usage(e.to_string()))?
    };
    let app = Arc::new(crate::http::App {
        store: store.clone(),
        descriptor,
        descriptor_json,
        queue: None,
        latest,
        published: published.clone(),
        tiles_dir: a.data.join("tiles"),
        metrics,
    });
    let feed = crate::feed::Feed {
        app: app.clone(),
        witness,
        wake: std::sync::Mutex::new(wake_tx),
        catch_up: Some({
            let m = mirror.clone();
            std::sync::Arc::new(move |note: &[u8]| m.catch_up(note))
        }),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let listen = a.listen;
    let request_timeout = Duration::from_secs(a.request_timeout_s.max(1));
    let webhooks = a.webhook.clone();
    let result = rt.block_on(async move {
        let feed = Arc::new(feed);
        for url in webhooks {
            tokio::spawn(crate::feed::webhook(feed.clone(), url));
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("listen {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("regledger-node mirror listening on http://{addr}");
        tracing::info!(%addr, origin = %app.descriptor.origin, "mirroring");
        let extra = crate::feed::routes(feed);
        let server = axum::serve(listener, crate::http::router(app, request_timeout, extra))
            .with_graceful_shutdown(crate::shutdown_signal());
        // Event streams never end by themselves: give open requests a few
        // seconds after SIGINT/SIGTERM, then stop anyway.
        tokio::select! {
            r = server => r.map_err(|e| e.to_string()),
            _ = async {
                crate::shutdown_signal().await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            } => Ok(()),
        }
    });
    stop.store(true, Ordering::Relaxed);
    drop(rt);
    let _ = sync.join();
    result.map_err(Failure::Usage)
}
