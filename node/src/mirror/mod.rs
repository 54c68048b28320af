//! The mirror: a verified follower of an upstream log for trading venues.
//!
//! It reads only the C2SP `checkpoint` and tiles of its sources (the
//! upstream, then any `--fallback`) and runs the client crate's follower
//! (`regledger_client`, the same view of a log the regulator's audit
//! runs) from its own verified size, stopping at the first failure. For
//! every new checkpoint it verifies the log signature and witness quorum,
//! reads that checkpoint's tree with every tile authenticated before use,
//! checks that the new tree extends the mirror's own, then checks each
//! entry (the leaf chain, the replay of a signed content, the registry
//! rules, every signature) and commits in windows of bundles, one durable
//! transaction each, through the store's one append path. The checkpoint
//! is served only when all of its entries are committed and the mirror's
//! own root equals the signed one. Failures carry the audit's check codes
//! (`[hash-tile]`, `[rule:role-not-allowed]`, …) in the alarms, log lines
//! and evidence, so a venue and a regulator name a bad log the same way.
//!
//! The folder: this file (arguments, shared state, serving, wiring),
//! `sync.rs` (the follower's loop), `evidence.rs` (split-view evidence),
//! `feed.rs` (the change feed).
//!
//! Two kinds of trouble are kept apart (issue 12 item 7):
//! - A source that is down, lacks a tile, is stale, or serves bytes that do
//!   not match what the log signed is a *source failure*: retried with
//!   backoff, alarmed (`regledger_mirror_source_errors_total`,
//!   `regledger_mirror_bad_data_total`, `regledger_mirror_sources_failing`,
//!   an error log line), and the other sources are tried. Nothing signed
//!   contradicts anything, so nothing is stopped.
//! - Two checkpoints signed by the log key that contradict (another root at
//!   one size, a tree that does not extend the other, shown by the mirror's
//!   upstream or to its witness endpoint), or a signed tree holding an
//!   entry that breaks the rules, is a *split view*: the mirror stops
//!   advancing, keeps serving its last good state, raises
//!   `regledger_mirror_split_view` and saves evidence that
//!   `regledger-verify audit --trusted` reports as a fork.
//!
//! Nothing is sized by what a checkpoint claims: at most one hash tile per
//! level and one window of bundles is held, so a signed size of 2^62 costs
//! one missing tile, not an allocation.

mod evidence;
pub mod feed;
mod sync;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use regledger::descriptor::LogDescriptor;
use regledger::tlog::checkpoint::Checkpoint;
use regledger::Hash;
use regledger_client::source::note_size;
use regledger_client::{HttpSource, TileSource};
use tokio::sync::watch;

use crate::log::publisher::Published;
use crate::log::tiles::{
    remove_partials, tiles_complete, write_atomic, write_tiles, TileError, PARTIAL_SWEEP,
};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
pub use crate::witness::server::WitnessFork;
use crate::Failure;

/// MAX_EVIDENCE_TILES bounds how many tiles of a contradicting tree are fetched for evidence.
pub const MAX_EVIDENCE_TILES: usize = 1 << 16;

/// WINDOW_BUNDLES and WINDOW_BYTES bound one window of entry bundles: what
/// is fetched, authenticated and committed in one transaction.
pub const WINDOW_BUNDLES: usize = 64;
/// WINDOW_BYTES: see [`WINDOW_BUNDLES`].
pub const WINDOW_BYTES: usize = 32 << 20;

/// MirrorArgs are the options of `regledger-node mirror`.
#[derive(clap::Args)]
pub struct MirrorArgs {
    /// Base URL of the upstream log (a node, another mirror, or a static tile server).
    #[arg(long)]
    pub upstream: String,
    /// Another source of the same log's checkpoint and tiles, tried when the
    /// upstream fails, is behind, or serves data that does not match what the
    /// log signed (repeatable; tried in order).
    #[arg(long)]
    pub fallback: Vec<String>,
    /// The log descriptor to trust (log key, origin, hash, witnesses, quorum).
    #[arg(long)]
    pub log: PathBuf,
    /// Data directory of the mirror (its own database, tiles and evidence).
    #[arg(long, env = "REGLEDGER_DATA")]
    pub data: PathBuf,
    /// Listen address.
    #[arg(long, env = "REGLEDGER_LISTEN", default_value = "127.0.0.1:8471")]
    pub listen: SocketAddr,
    /// How often to poll the sources' checkpoints, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub poll_ms: u64,
    /// POST every change event as JSON to this URL (repeatable; at-least-once, resumed after restart).
    #[arg(long)]
    pub webhook: Vec<String>,
    /// Witness key (cosignature/v1, or sm2-witness for an sm3 log): serve C2SP tlog-witness `POST /add-checkpoint`.
    #[arg(long)]
    pub witness_key: Option<PathBuf>,
    /// Keep the witness key in a device instead: sign through `cmd:<program> [args]`
    /// (the external signer interface, docs/operator.md); needs --witness-vkey.
    #[arg(long, requires = "witness_vkey", conflicts_with = "witness_key")]
    pub witness_signer: Option<String>,
    /// The witness's verifier key, for --witness-signer.
    #[arg(long, requires = "witness_signer")]
    pub witness_vkey: Option<String>,
    /// How long the --witness-signer may take to answer, in milliseconds
    /// (as `serve --signer-timeout-ms`). 1..=300000.
    #[arg(long, env = "REGLEDGER_SIGNER_TIMEOUT_MS", default_value_t = 10_000)]
    pub signer_timeout_ms: u64,
    /// Longest time a request may take, in seconds (the event stream is exempt).
    #[arg(long, default_value_t = 30)]
    pub request_timeout_s: u64,
    /// Close a connection that sends no complete request head for this long, in seconds
    /// (as `serve --idle-timeout-s`; an open event stream is not idle).
    #[arg(long, default_value_t = 20)]
    pub idle_timeout_s: u64,
    /// Most open connections (event streams included); more wait in the listen backlog.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Most entry bundles fetched and committed in one transaction (a test
    /// knob: small windows make a sync commit part of a checkpoint).
    #[arg(long, default_value_t = WINDOW_BUNDLES as u64, hide = true, value_parser = clap::value_parser!(u64).range(1..=WINDOW_BUNDLES as u64))]
    pub window_bundles: u64,
    #[command(flatten)]
    pub site: crate::site::SiteArgs,
}

/// Mirror is the shared state of the follower, the feed and the witness.
pub struct Mirror {
    /// store is the mirror's database (same tables as a node's).
    pub store: Arc<Store>,
    /// descriptor is the trusted log descriptor.
    pub descriptor: LogDescriptor,
    /// urls are the sources' base URLs (no trailing slash): the upstream, then the fallbacks.
    pub urls: Vec<String>,
    /// sources read each URL (the client crate's one HTTP fetcher).
    pub sources: Vec<Arc<dyn TileSource>>,
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
    /// window_bundles bounds the entry bundles of one window (at most [`WINDOW_BUNDLES`]).
    pub window_bundles: usize,
}

/// SyncError is why one sync from one source did not advance.
#[derive(Debug)]
pub enum SyncError {
    /// Unavailable: the source is down, lacks a tile or a checkpoint, or its
    /// checkpoint lacks the quorum; another source or a later try may do.
    Unavailable(String),
    /// BadData: the source served bytes that do not match what the log
    /// signed (a corrupt or altered tile, a checkpoint not signed by the
    /// log key). A fetch failure: nothing signed contradicts anything.
    BadData(String),
    /// Stale: the source's checkpoint (this size) is older than the one
    /// served, and consistent with it.
    Stale(u64),
    /// Split: two log-signed statements contradict (or the log signed an invalid entry).
    Split(Box<Contradiction>),
    /// Storage: the mirror's own database failed; nothing was written.
    Storage(String),
}

/// Contradiction is a split view and how to save its evidence.
#[derive(Debug)]
pub struct Contradiction {
    /// reason says what contradicted what.
    pub reason: String,
    /// presented is the log-signed checkpoint that contradicts the mirror.
    pub presented: Vec<u8>,
    /// shape says which tree the evidence directory holds.
    pub shape: Shape,
}

/// Shape is which signed tree an evidence directory holds.
#[derive(Debug)]
pub enum Shape {
    /// Theirs: the presented checkpoint's tree as `source` serves it, with
    /// `own` (a checkpoint this mirror verified) as the trusted one.
    Theirs {
        /// source is the index in `Mirror::sources` that served the tree.
        source: usize,
        /// own is the mirror's checkpoint the tree is checked against.
        own: Option<Vec<u8>>,
    },
    /// Ours: the mirror's own tree (its checkpoint `own`), with the
    /// presented checkpoint as the trusted one; `request` is the witness
    /// request that presented it, if any.
    Ours {
        /// own is a checkpoint this mirror verified whose tree it holds.
        own: Vec<u8>,
        /// request is the add-checkpoint body, saved as it arrived.
        request: Option<Vec<u8>>,
    },
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        SyncError::Storage(e.to_string())
    }
}

impl From<TileError> for SyncError {
    fn from(e: TileError) -> Self {
        SyncError::Storage(e.to_string())
    }
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
            SyncError::Unavailable(e) | SyncError::BadData(e) | SyncError::Storage(e) => e.clone(),
            SyncError::Stale(n) => format!("checkpoint of size {n} is older than the one served"),
            SyncError::Split(c) => format!("split view: {}", c.reason),
        }
    }
}

impl Mirror {
    /// write_tiles_to writes the mirror's own tiles from the size last written up to `size`.
    fn write_tiles_to(&self, size: u64) -> Result<(), SyncError> {
        let view = self.store.read()?;
        let old = view.tiles_size()?.min(size);
        write_tiles(&self.tiles_dir, &view, old, size)?;
        let archivable = view.archivable(size)?;
        drop(view);
        let tx = self.store.write()?;
        tx.set_tiles_size(size)?;
        tx.archive_below(archivable)?;
        tx.commit()?;
        self.metrics.tree_size.store(size, Ordering::Relaxed);
        Ok(())
    }

    /// pin_at keeps a snapshot of the mirror's store for status proofs at
    /// the served size, if the store holds exactly that many entries (a
    /// witness catch-up past it leaves none: proofs wait for the next).
    fn pin_at(&self, size: u64) {
        if let Ok(view) = self.store.read() {
            if view.size().ok() == Some(size) {
                self.store.pin(view);
            }
        }
    }

    /// serve records `note` (for verified size `size`) as the accepted checkpoint and starts serving it.
    fn serve(&self, size: u64, note: &[u8]) -> Result<(), SyncError> {
        let text = String::from_utf8_lossy(note).into_owned();
        let tx = self.store.write()?;
        tx.set_published_checkpoint(size, &text)?;
        tx.commit()?;
        write_atomic(&self.tiles_dir.join("checkpoint"), note).map_err(TileError::from)?;
        self.pin_at(size);
        let old = self.latest.read().expect("lock").size.min(size);
        *self.latest.write().expect("lock") = Published { size, note: text };
        // The mirror's own tiles: partials of the tiles this checkpoint
        // completed are redundant once it is served (D28).
        if let Err(e) = remove_partials(&self.tiles_dir, old, size) {
            tracing::warn!(size, "partial tiles not removed: {e}");
        }
        self.metrics.checkpoint_size.store(size, Ordering::Relaxed);
        self.metrics.mirror_syncs.fetch_add(1, Ordering::Relaxed);
        let _ = self.notify.send(size);
        Ok(())
    }

    /// load restores the accepted checkpoint and rewrites the tile directory's right edge at start
    /// (its full bundles are the store of record of their entries, D29: a missing one is an error).
    ///
    /// # Errors
    ///
    /// A [`TileError`] if the store cannot be read or the tiles written.
    pub fn load(&self) -> Result<(), TileError> {
        let view = self.store.read()?;
        let size = view.size()?;
        let tiles_size = view.tiles_size()?;
        let note = view.published_checkpoint()?;
        let from = if tiles_complete(&self.tiles_dir, tiles_size) {
            tiles_size.min(size)
        } else {
            0
        };
        write_tiles(&self.tiles_dir, &view, from, size)?;
        let archivable = view.archivable(size)?;
        drop(view);
        // The served checkpoint can be smaller than the verified size (a
        // witness catch-up the upstream has not published yet).
        let mut served = 0;
        if let Some(note) = note {
            served = note_size(note.as_bytes()).unwrap_or(0);
            write_atomic(&self.tiles_dir.join("checkpoint"), note.as_bytes())?;
            self.pin_at(served);
            *self.latest.write().expect("lock") = Published { size: served, note };
            if let Err(e) = remove_partials(
                &self.tiles_dir,
                served.saturating_sub(PARTIAL_SWEEP),
                served,
            ) {
                tracing::warn!(served, "partial tiles not removed: {e}");
            }
        }
        let tx = self.store.write()?;
        tx.set_tiles_size(size)?;
        tx.archive_below(archivable)?;
        tx.commit()?;
        self.metrics.tree_size.store(size, Ordering::Relaxed);
        self.metrics
            .checkpoint_size
            .store(served, Ordering::Relaxed);
        let _ = self.notify.send(served);
        Ok(())
    }
}

/// note_root returns the root of a signed checkpoint note, if it parses.
pub(super) fn note_root(note: &[u8]) -> Option<Hash> {
    let n = regledger::tlog::note::Note::parse(note).ok()?;
    Checkpoint::parse(&n.text).ok().map(|c| c.root)
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
///
/// # Errors
///
/// [`Failure::Usage`] for a bad argument, descriptor, key or data
/// directory, or when the server cannot start.
pub fn run_mirror(a: MirrorArgs) -> Result<(), Failure> {
    let descriptor_json = std::fs::read_to_string(&a.log)
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.log.display())))?;
    let descriptor = LogDescriptor::parse(descriptor_json.as_bytes())
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.log.display())))?;
    let mut flags = vec![("--upstream", a.upstream.clone())];
    flags.extend(a.fallback.iter().map(|u| ("--fallback", u.clone())));
    let mut sources: Vec<Arc<dyn TileSource>> = Vec::new();
    for (flag, url) in &flags {
        let s = HttpSource::new(url)
            .map_err(|_| Failure::Usage(format!("{flag} {url:?} is not an http(s) URL")))?;
        sources.push(Arc::new(s));
    }
    let witness = match (&a.witness_key, &a.witness_signer, &a.witness_vkey) {
        (Some(p), _, _) => {
            let s = crate::logdir::read_signer(p).map_err(Failure::Usage)?;
            if !s.key_type().is_cosignature() {
                return Err(Failure::Usage(format!(
                    "{}: a witness key must be a cosignature key (cosignature/v1, or SM2 for an sm3 log); make one with `regledger-node keygen --type witness [--alg sm2]`",
                    p.display()
                )));
            }
            Some(crate::keysigner::KeySigner::Local(s))
        }
        (None, Some(spec), Some(vkey)) => {
            let v = regledger::tlog::note::VerifierKey::parse(vkey)
                .map_err(|e| Failure::Usage(format!("--witness-vkey: {e}")))?;
            if !v.key_type().is_cosignature() {
                return Err(Failure::Usage(
                    "--witness-vkey must be a witness (cosignature) key".into(),
                ));
            }
            Some(
                crate::keysigner::KeySigner::external(spec, v)
                    .map_err(Failure::Usage)?
                    .with_timeout(
                        crate::keysigner::signer_timeout(a.signer_timeout_ms)
                            .map_err(Failure::Usage)?,
                    ),
            )
        }
        _ => None,
    };
    check_data_dir(&a.data, &descriptor_json)?;
    let db = a.data.join("ledger.redb");
    // The mirror's full bundles are the store of record of its old
    // entries, as a node's are (D29).
    let store = Arc::new(
        Store::open(&db)
            .map_err(|e| Failure::Usage(format!("{}: {e}", db.display())))?
            .with_archive(&a.data.join("tiles"), descriptor.suite),
    );
    let metrics = Arc::new(Metrics::default());
    let latest = Arc::new(RwLock::new(Published::default()));
    let (notify, published) = watch::channel(0u64);
    let mirror = Arc::new(Mirror {
        store: store.clone(),
        descriptor: descriptor.clone(),
        urls: flags
            .iter()
            .map(|(_, u)| u.trim_end_matches('/').to_string())
            .collect(),
        sources,
        tiles_dir: a.data.join("tiles"),
        evidence_dir: a.data.join("evidence"),
        latest: latest.clone(),
        notify,
        metrics: metrics.clone(),
        sync_lock: std::sync::Mutex::new(()),
        window_bundles: usize::try_from(a.window_bundles).unwrap_or(WINDOW_BUNDLES),
    });
    mirror
        .load()
        .map_err(|e| Failure::Usage(format!("cannot load the mirror state: {e}")))?;
    // Raised before the first request is answered (the sync thread says why).
    if mirror.recorded_split().is_some() {
        metrics.mirror_split_view.store(1, Ordering::Relaxed);
    }
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
    let feed = Arc::new(feed::Feed { app: app.clone() });
    let witness = witness.map(|key| {
        Arc::new(crate::witness::server::Witness {
            app: app.clone(),
            key,
            wake: std::sync::Mutex::new(wake_tx.clone()),
            catch_up: Some({
                let m = mirror.clone();
                Arc::new(move |note: &[u8]| m.catch_up(note))
            }),
            on_fork: Some({
                let m = mirror.clone();
                Arc::new(move |w: &WitnessFork| m.record_witness_fork(w))
            }),
        })
    });
    let server = crate::http::Server {
        name: "regledger-node mirror",
        listen: a.listen,
        request_timeout: Duration::from_secs(a.request_timeout_s.max(1)),
        limits: crate::http::Limits {
            idle_timeout: Duration::from_secs(a.idle_timeout_s.max(1)),
            max_connections: a.max_connections.max(1),
        },
        // Event streams never end by themselves: give open requests a few
        // seconds after SIGINT/SIGTERM, then stop anyway.
        drain: Some(Duration::from_secs(5)),
    };
    let webhooks = a.webhook.clone();
    // The node's accept loop: idle connections close and open ones are
    // bounded here too (a venue's mirror is as exposed as the node).
    let (site_args, upstream) = (a.site.clone(), a.upstream.clone());
    let result = crate::http::run(server, move |addr| {
        for url in webhooks {
            tokio::spawn(feed::webhook(feed.clone(), url));
        }
        let mut extra = feed::routes(feed);
        if let Some(w) = witness {
            extra = extra.merge(crate::witness::server::routes(w));
        }
        extra = extra.merge(crate::site::routes(
            app.clone(),
            &site_args,
            addr,
            Some(upstream),
        )?);
        Ok((app, extra))
    });
    // Held to here: a closed wake channel would make the sync loop spin.
    drop(wake_tx);
    stop.store(true, Ordering::Relaxed);
    if sync.join().is_ok() && result.is_ok() {
        tracing::info!("mirror 已正常关闭 (closed cleanly: what it verified is committed)");
    }
    result.map_err(Failure::Usage)
}
