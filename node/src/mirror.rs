//! The mirror: a verified follower of an upstream log for trading venues.
//!
//! It reads only the C2SP `checkpoint` and tiles of its sources (the
//! upstream, then any `--fallback`). For every new checkpoint it verifies
//! the log signature and witness quorum, then reads that checkpoint's tree
//! tile by tile, authenticating every tile before use: the right-edge hash
//! tiles must hash to the signed root, every full tile to its entry in its
//! parent tile, every entry bundle to its level-0 tile. With the tree so
//! authenticated it checks that the new tree extends the mirror's own
//! (the new tree's root at the mirror's size must be the mirror's root),
//! then checks each entry (index, hash chain, time order), replays it
//! through the registry rules with every signature verified, and commits in
//! windows of bundles (one durable transaction each). The checkpoint is
//! served only when all of its entries are committed and the mirror's own
//! root equals the signed one.
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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regledger::descriptor::{verify_checkpoint, verify_log_signature, LogDescriptor};
use regledger::entry::leaf::Leaf;
use regledger::registry::apply;
use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::tile::{
    decode_entry_bundle, encode_entry_bundle, hash_from_tile, read_tile_data, tile_at,
    tile_for_stored_index, Tile, TileKind, MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH,
};
use regledger::tlog::tree::{
    stored_hash_count, stored_hash_index, stored_hashes_for_record, tree_hash, MAX_TREE_SIZE,
};
use regledger::{Hash, HashSuite};
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::publisher::{tiles_complete, write_atomic, write_tiles, Published};
use crate::store::{
    head_of, meta_str, meta_u64, Hashes, State, Store, StoreError, CHECKPOINTS, CONTENT_IDS,
    HASHES, LEAVES, META, M_CHECKPOINT, M_LAST_HASH, M_LAST_TIME, M_SIZE, M_TILES_SIZE, STATE,
    SUBJECTS,
};
use crate::Failure;

/// MAX_FETCH_BYTES bounds one object fetched from a source (a full entry
/// bundle of large entries stays far below; a hostile source must not
/// exhaust memory).
pub const MAX_FETCH_BYTES: usize = 64 << 20;

/// MAX_EVIDENCE_TILES bounds how many tiles of a contradicting tree are fetched for evidence.
pub const MAX_EVIDENCE_TILES: usize = 1 << 16;

/// WINDOW_BUNDLES and WINDOW_BYTES bound one window of entry bundles: what
/// is fetched, authenticated and committed in one transaction.
pub const WINDOW_BUNDLES: usize = 64;
/// WINDOW_BYTES: see [`WINDOW_BUNDLES`].
pub const WINDOW_BYTES: usize = 32 << 20;

/// MAX_SOURCE_BACKOFF caps the delay before a failing source is tried again.
pub const MAX_SOURCE_BACKOFF: Duration = Duration::from_secs(30);

/// M_VERIFYING is the META key of the log-signed checkpoint whose tree the
/// mirror's verified entries are a prefix of (the one it integrates or last
/// integrated): the signed statement its entries beyond the served
/// checkpoint rest on, kept for evidence.
pub const M_VERIFYING: &str = "mirror_verifying_checkpoint";

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
    /// Witness key (type 0x04, cosignature/v1): serve C2SP tlog-witness `POST /add-checkpoint`.
    #[arg(long)]
    pub witness_key: Option<PathBuf>,
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
    #[command(flatten)]
    pub site: crate::site::SiteArgs,
}

/// Mirror is the shared state of the follower, the feed and the witness.
pub struct Mirror {
    /// store is the mirror's database (same tables as a node's).
    pub store: Arc<Store>,
    /// descriptor is the trusted log descriptor.
    pub descriptor: LogDescriptor,
    /// sources are the base URLs (no trailing slash): the upstream, then the fallbacks.
    pub sources: Vec<String>,
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

/// Fetcher reads one source's objects by their tlog-tiles path.
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

    /// tile fetches a tile of a tree of `size` leaves; a tile not served is
    /// unavailable (the tree the checkpoint claims is not, or not yet, there).
    fn tile(&self, t: &Tile, size: u64) -> Result<Vec<u8>, SyncError> {
        let path = t.path();
        self.get(&path)
            .map_err(SyncError::Unavailable)?
            .ok_or_else(|| {
                SyncError::Unavailable(format!(
                    "{}/{path} is not served (the checkpoint claims {size} entries)",
                    self.base
                ))
            })
    }
}

/// decomposition returns the stored indexes of the complete subtrees that
/// make up the first `n` leaves, left to right (RFC 9162 MTH): at most 64.
fn decomposition(n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut lo = 0u64;
    for level in (0..64u8).rev() {
        let k = 1u64 << level;
        if n & k != 0 {
            out.push(stored_hash_index(level, lo >> level));
            lo += k;
        }
    }
    out
}

/// fold hashes complete subtree hashes (left to right) into the tree root.
fn fold(suite: HashSuite, hashes: &[Hash]) -> Hash {
    let Some((last, rest)) = hashes.split_last() else {
        return suite.empty_root();
    };
    rest.iter()
        .rev()
        .fold(*last, |h, left| suite.node_hash(left, &h))
}

/// full_tile_root hashes a full tile's 256 hashes into the node above them.
fn full_tile_root(suite: HashSuite, data: &[u8]) -> Hash {
    let mut level: Vec<Hash> = data
        .chunks_exact(32)
        .map(|c| Hash::from_slice(c).expect("32 bytes"))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| suite.node_hash(&p[0], &p[1]))
            .collect();
    }
    level[0]
}

/// SignedTree reads the hash tiles of the tree a log-signed checkpoint
/// commits to from one source and authenticates each before use (like Go's
/// `tlog.TileHashReader`): the right-edge tiles (at most one partial tile
/// per level) must hash to the signed root, every full tile to its entry in
/// its parent tile. A tile that does not match is bad data from that
/// source, named as such; it is never evidence of a fork. It holds the edge
/// tiles and one full tile per level, whatever size the checkpoint claims.
struct SignedTree<'a> {
    suite: HashSuite,
    size: u64,
    f: &'a Fetcher,
    edge: Vec<(Tile, Vec<u8>)>,
    cache: Vec<Option<(Tile, Vec<u8>)>>,
}

impl<'a> SignedTree<'a> {
    /// open fetches the right-edge tiles of `cp`'s tree and checks them against its root.
    fn open(
        suite: HashSuite,
        cp: &Checkpoint,
        f: &'a Fetcher,
    ) -> Result<SignedTree<'a>, SyncError> {
        if cp.size == 0 || cp.size > MAX_TREE_SIZE {
            return Err(SyncError::Unavailable(format!(
                "the checkpoint claims {} entries; a tree holds 1 to {MAX_TREE_SIZE}",
                cp.size
            )));
        }
        let mut edge = Vec::new();
        for level in 0..=MAX_TILE_LEVEL {
            let at = cp
                .size
                .checked_shr(u32::from(TILE_HEIGHT) * u32::from(level))
                .unwrap_or(0);
            if at == 0 {
                break;
            }
            let width = at % TILE_WIDTH;
            if width > 0 {
                let t = Tile {
                    kind: TileKind::Hash(level),
                    n: at / TILE_WIDTH,
                    width: width as u16,
                };
                let data = f.tile(&t, cp.size)?;
                check_len(f, &t, &data)?;
                edge.push((t, data));
            }
        }
        let mut tree = SignedTree {
            suite,
            size: cp.size,
            f,
            edge,
            cache: vec![None; usize::from(MAX_TILE_LEVEL) + 1],
        };
        // Every subtree of the root's decomposition lies in an edge tile, so
        // this reads nothing else; if it hashes to the signed root, the edge
        // tiles are the signed tree's.
        let root = tree.root_at(cp.size)?;
        if root != cp.root {
            let paths: Vec<String> = tree.edge.iter().map(|(t, _)| t.path()).collect();
            return Err(SyncError::BadData(format!(
                "{}: the hash tiles {} do not hash to the root the log signed at size {}",
                f.base,
                paths.join(", "),
                cp.size
            )));
        }
        Ok(tree)
    }

    /// tile returns the data of hash tile `t` (at this tree's width), authenticated.
    fn tile(&mut self, t: &Tile) -> Result<Vec<u8>, SyncError> {
        if let Some((_, d)) = self.edge.iter().find(|(e, _)| e == t) {
            return Ok(d.clone());
        }
        let level = usize::from(t.level());
        if let Some((c, d)) = &self.cache[level] {
            if c == t {
                return Ok(d.clone());
            }
        }
        // Only the right edge is partial, and the edge tiles are all held.
        let bug = || {
            SyncError::Storage(format!(
                "no parent for tile {} of size {}",
                t.path(),
                self.size
            ))
        };
        if !t.is_full() || level >= usize::from(MAX_TILE_LEVEL) {
            return Err(bug());
        }
        let data = self.f.tile(t, self.size)?;
        check_len(self.f, t, &data)?;
        let parent =
            tile_at(self.size, TileKind::Hash(t.level() + 1), t.n / TILE_WIDTH).ok_or_else(bug)?;
        let pdata = self.tile(&parent)?;
        let want = hash_from_tile(
            self.suite,
            &parent,
            &pdata,
            stored_hash_index((t.level() + 1) * TILE_HEIGHT, t.n),
        )
        .map_err(|e| SyncError::Storage(e.to_string()))?;
        if full_tile_root(self.suite, &data) != want {
            return Err(SyncError::BadData(format!(
                "{}: {} does not match the tree the log signed at size {}",
                self.f.base,
                t.path(),
                self.size
            )));
        }
        self.cache[level] = Some((*t, data.clone()));
        Ok(data)
    }

    /// hash returns stored hash `index` of this tree, authenticated.
    fn hash(&mut self, index: u64) -> Result<Hash, SyncError> {
        let (t, _, _) = tile_for_stored_index(index);
        let tb = tile_at(self.size, t.kind, t.n)
            .filter(|tb| tb.width >= t.width)
            .ok_or_else(|| {
                SyncError::Storage(format!(
                    "stored hash {index} is not in a tree of {}",
                    self.size
                ))
            })?;
        let data = self.tile(&tb)?;
        hash_from_tile(self.suite, &tb, &data, index).map_err(|e| SyncError::Storage(e.to_string()))
    }

    /// root_at returns this tree's root at size `n` ≤ its size.
    fn root_at(&mut self, n: u64) -> Result<Hash, SyncError> {
        let hashes = decomposition(n)
            .into_iter()
            .map(|i| self.hash(i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(fold(self.suite, &hashes))
    }

    /// bundle fetches entry bundle `k` of this tree and checks every entry
    /// against the authenticated level-0 hashes.
    fn bundle(&mut self, k: u64) -> Result<(Tile, Vec<u8>), SyncError> {
        let bug = || SyncError::Storage(format!("bundle {k} is not in a tree of {}", self.size));
        let t = tile_at(self.size, TileKind::Entries, k).ok_or_else(bug)?;
        let data = self.f.tile(&t, self.size)?;
        let level0 = tile_at(self.size, TileKind::Hash(0), k).ok_or_else(bug)?;
        let hashes = self.tile(&level0)?;
        let bad = |why: String| {
            SyncError::BadData(format!(
                "{}: entry bundle {} {why} (the log signed other entries at size {})",
                self.f.base,
                t.path(),
                self.size
            ))
        };
        let entries =
            decode_entry_bundle(&data, usize::from(t.width)).map_err(|e| bad(e.to_string()))?;
        for (j, (e, want)) in entries.iter().zip(hashes.chunks_exact(32)).enumerate() {
            if self.suite.leaf_hash(e).0 != want {
                return Err(bad(format!(
                    "holds entry {} that does not match",
                    k * TILE_WIDTH + j as u64
                )));
            }
        }
        Ok((t, data))
    }
}

fn check_len(f: &Fetcher, t: &Tile, data: &[u8]) -> Result<(), SyncError> {
    if data.len() != usize::from(t.width) * 32 {
        return Err(SyncError::BadData(format!(
            "{}: {} has {} bytes, not {}",
            f.base,
            t.path(),
            data.len(),
            usize::from(t.width) * 32
        )));
    }
    Ok(())
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

/// Trusted is an evidence file to give `--trusted`: its name and the note.
type Trusted<'a> = (&'static str, &'a [u8]);

/// OwnNote is a log-signed checkpoint whose tree the mirror holds (or holds a prefix of).
struct OwnNote {
    size: u64,
    note: Vec<u8>,
    /// complete: every entry of its tree is in the mirror's store.
    complete: bool,
}

/// SourceState is what the poll loop remembers of one source.
struct SourceState {
    failures: u32,
    next_try: Instant,
    /// max_seen is the largest checkpoint size this source served since the start.
    max_seen: u64,
    failing: bool,
}

/// WitnessFork is a contradiction the witness endpoint found in a request.
pub struct WitnessFork {
    /// reason says what contradicts what.
    pub reason: String,
    /// presented is the log-signed checkpoint of the request.
    pub presented: Vec<u8>,
    /// request is the whole add-checkpoint body.
    pub request: Vec<u8>,
}

impl Mirror {
    /// accepted returns the verified size and the mirror's root at it.
    fn accepted(&self) -> Result<(u64, Hash), SyncError> {
        let view = self.store.view()?;
        let size = meta_u64(&view.meta, M_SIZE)?;
        let root = tree_hash(self.descriptor.suite, size, &Hashes(&view.hashes))
            .map_err(|e| SyncError::Storage(e.to_string()))?;
        Ok((size, root))
    }

    /// own_notes returns the log-signed checkpoints the mirror's tree rests
    /// on: the served one, the witness's cosigned one and the one being
    /// integrated (each verified against the mirror's own entries).
    fn own_notes(&self) -> Result<Vec<OwnNote>, SyncError> {
        let view = self.store.view()?;
        let size = meta_u64(&view.meta, M_SIZE)?;
        let mut out: Vec<OwnNote> = Vec::new();
        for key in [M_CHECKPOINT, crate::feed::M_WITNESS, M_VERIFYING] {
            if let Some(n) = meta_str(&view.meta, key)? {
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
        }
        out.sort_by_key(|o| (o.size, !o.complete));
        Ok(out)
    }

    /// own_note_for picks the mirror's checkpoint to set against a
    /// contradicting one of size `b`: the smallest whose tree covers `b`
    /// (complete ones first), else the largest complete one.
    fn own_note_for(&self, b: u64) -> Option<Vec<u8>> {
        let notes = self.own_notes().ok()?;
        notes
            .iter()
            .filter(|o| o.size >= b && o.complete)
            .chain(notes.iter().filter(|o| o.size >= b))
            .chain(notes.iter().rev().filter(|o| o.complete))
            .next()
            .map(|o| o.note.clone())
    }

    /// fetchers builds one fetcher per source.
    fn fetchers(&self) -> Result<Vec<Fetcher>, String> {
        self.sources.iter().map(|s| Fetcher::new(s)).collect()
    }

    /// catch_up verifies and commits the entries up to a checkpoint presented
    /// to this mirror's witness: signed by the log, not yet cosigned (that is
    /// what is being asked), from the first source that serves its tree. A
    /// contradiction is recorded as a split view with evidence; other
    /// failures are returned for the witness's answer.
    pub fn catch_up(&self, note: &[u8]) -> Result<(), String> {
        if self.split_seen() {
            return Err("this mirror has seen a split view".into());
        }
        let fetchers = self.fetchers()?;
        let mut errors = Vec::new();
        for (i, f) in fetchers.iter().enumerate() {
            match self.sync_to(i, f, note.to_vec(), false) {
                Ok(_) => return Ok(()),
                // A checkpoint signed by the log key that contradicts the
                // mirror is a split view wherever it came from; one shown
                // only to witnesses is the very attack they exist for.
                Err(SyncError::Split(c)) => {
                    self.record_split(&fetchers, &c);
                    return Err(format!("split view: {}", c.reason));
                }
                Err(e) => errors.push(e.describe()),
            }
        }
        Err(errors.join("; "))
    }

    /// sync_to verifies and commits `note` if it is new, reading tiles from
    /// source `src`; `witnessed` requires log.json's quorum (and serves it).
    fn sync_to(
        &self,
        src: usize,
        f: &Fetcher,
        note: Vec<u8>,
        witnessed: bool,
    ) -> Result<Progress, SyncError> {
        let _serial = self.sync_lock.lock().expect("sync lock");
        let d = &self.descriptor;
        // A note the log key did not sign proves nothing about the log: bad
        // data from that source, never a split view. One without the quorum
        // is not published yet.
        let cp = verify_log_signature(&note, d)
            .map(|v| v.checkpoint)
            .map_err(|e| SyncError::BadData(format!("{}: checkpoint refused: {e}", f.base)))?;
        if witnessed {
            verify_checkpoint(&note, d).map_err(|e| {
                SyncError::Unavailable(format!("{}: checkpoint not witnessed: {e}", f.base))
            })?;
        }
        // `size` is what this mirror verified entry by entry; `served` is the
        // last checkpoint it accepted with the quorum. A witness catch-up
        // can put the first ahead of the second (and of what the sources
        // serve, while the log waits for its witnesses).
        let (size, own_root) = self.accepted()?;
        let served = self.latest.read().expect("lock").size;
        if cp.size <= size {
            let view = self.store.view()?;
            let root = tree_hash(d.suite, cp.size, &Hashes(&view.hashes))
                .map_err(|e| SyncError::Storage(e.to_string()))?;
            drop(view);
            if cp.root != root {
                // The mirror's entries up to `size` are authenticated by a
                // checkpoint the log signed; this one signs another root at
                // a size they cover: the key signed two histories.
                let own = self.own_note_for(cp.size).unwrap_or_default();
                return Err(SyncError::Split(Box::new(Contradiction {
                    reason: format!(
                        "the log signed root {} at size {}, but the entries this mirror verified (under another checkpoint the log signed) have root {} at that size",
                        cp.root.to_hex(),
                        cp.size,
                        root.to_hex()
                    ),
                    presented: note,
                    shape: Shape::Ours { own, request: None },
                })));
            }
            if cp.size < served {
                return Err(SyncError::Stale(cp.size));
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
        let mut tree = SignedTree::open(d.suite, &cp, f)?;
        // The new tree extends the mirror's only if its root at the
        // mirror's size is the mirror's root. The tiles that say so are
        // authenticated by the new signed root, so a difference is a fork
        // the log key signed, not bad data.
        if size > 0 {
            let theirs = tree.root_at(size)?;
            if theirs != own_root {
                let own = self.contradicted_note(&mut tree, size)?;
                return Err(SyncError::Split(Box::new(Contradiction {
                    reason: format!(
                        "the log signed a tree of size {} whose root at size {size} is {} (its tiles from {} hash to its signed root), but this mirror verified root {} at that size",
                        cp.size,
                        theirs.to_hex(),
                        f.base,
                        own_root.to_hex()
                    ),
                    presented: note,
                    shape: match own {
                        Some(own) => Shape::Theirs { source: src, own: Some(own) },
                        None => Shape::Ours {
                            own: self.own_note_for(cp.size).unwrap_or_default(),
                            request: None,
                        },
                    },
                })));
            }
        }
        self.integrate(src, &mut tree, &cp, &note, size)?;
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

    /// contradicted_note returns a checkpoint of the mirror's, no larger than
    /// `tree`, whose root `tree` contradicts (so the regulator's audit of
    /// `tree` with it as trusted shows the fork); None if only a larger one does.
    fn contradicted_note(
        &self,
        tree: &mut SignedTree,
        size: u64,
    ) -> Result<Option<Vec<u8>>, SyncError> {
        for o in self.own_notes()? {
            if o.size == 0 || o.size > tree.size {
                continue;
            }
            // One the mirror holds only a prefix of (beyond `size`) shares
            // that prefix, which `tree` contradicts; a complete one is
            // contradicted only if the fork is at or before its size.
            let contradicts = if o.size > size {
                true
            } else {
                Some(tree.root_at(o.size)?) != note_root(&o.note)
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
            let mut window = Vec::new();
            let mut bytes = 0usize;
            let mut k = next / TILE_WIDTH;
            while k * TILE_WIDTH < cp.size && window.len() < WINDOW_BUNDLES && bytes < WINDOW_BYTES
            {
                let (t, data) = tree.bundle(k)?;
                bytes += data.len();
                window.push((t, data));
                k += 1;
            }
            let end = self.commit_window(src, cp, note, &window)?;
            if end <= next {
                return Err(SyncError::Storage(format!(
                    "window at {next} added no entry"
                )));
            }
            next = end;
        }
        Ok(())
    }

    /// commit_window checks and replays the entries of authenticated bundles
    /// and commits them; the last window of a checkpoint also checks the root.
    fn commit_window(
        &self,
        src: usize,
        cp: &Checkpoint,
        note: &[u8],
        bundles: &[(Tile, Vec<u8>)],
    ) -> Result<u64, SyncError> {
        let suite = self.descriptor.suite;
        // The entries are the ones the log signed (authenticated against its
        // root), so an invalid one is the log's misbehaviour, provable from
        // its tiles: a stop with evidence, like a fork.
        let invalid = |reason: String| {
            SyncError::Split(Box::new(Contradiction {
                reason: format!(
                    "the log signed a tree of size {} in which {reason}",
                    cp.size
                ),
                presented: note.to_vec(),
                shape: Shape::Theirs {
                    source: src,
                    own: {
                        let a = self.latest.read().expect("lock").note.clone();
                        (!a.is_empty()).then(|| a.into_bytes())
                    },
                },
            }))
        };
        let tx = self.store.write()?;
        let end;
        {
            let mut leaves = tx.open_table(LEAVES)?;
            let mut hashes = tx.open_table(HASHES)?;
            let mut state = tx.open_table(STATE)?;
            let mut content_ids = tx.open_table(CONTENT_IDS)?;
            let mut subjects = tx.open_multimap_table(SUBJECTS)?;
            let mut meta = tx.open_table(META)?;
            let mut head = head_of(&meta)?;
            for (t, data) in bundles {
                let entries = decode_entry_bundle(data, usize::from(t.width))
                    .map_err(|e| SyncError::Storage(e.to_string()))?;
                let first = t.n * TILE_WIDTH;
                for (i, bytes) in (first..).zip(entries) {
                    if i < head.size {
                        continue;
                    }
                    if i != head.size {
                        return Err(SyncError::Storage("head moved during sync".into()));
                    }
                    let leaf = Leaf::parse(bytes)
                        .map_err(|e| invalid(format!("entry {i} is not a leaf: {e}")))?;
                    let lh = suite.leaf_hash(bytes);
                    let ctx = head
                        .check_next(&leaf, lh, &self.descriptor.origin)
                        .map_err(|e| invalid(format!("entry {i} breaks the leaf chain: {e}")))?;
                    // A replay is refused here as the node refuses it (D12):
                    // an upstream that logged one broke a rule.
                    let content_id = leaf.envelope.content_id();
                    if let Some(first) = redb::ReadableTable::get(&content_ids, content_id)? {
                        return Err(invalid(format!(
                            "entry {i} breaks a registry rule: replayed-envelope: it logs the signed content of entry {} again",
                            first.value()
                        )));
                    }
                    // Every signature is verified again: the mirror trusts keys, not the upstream.
                    let fx = apply(&State(&state), &ctx, &leaf.envelope)
                        .map_err(|v| invalid(format!("entry {i} breaks a registry rule: {v}")))?;
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
                    head.advance(lh, leaf.integrated_time_ms);
                }
            }
            if head.size == cp.size {
                // Implied by the authentication; checked so that a served
                // checkpoint always has the mirror's own root.
                let root = tree_hash(suite, cp.size, &Hashes(&hashes))
                    .map_err(|e| SyncError::Storage(e.to_string()))?;
                if root != cp.root {
                    return Err(SyncError::Storage(format!(
                        "authenticated entries hash to root {} but the checkpoint signed {}",
                        root.to_hex(),
                        cp.root.to_hex()
                    )));
                }
            }
            meta.insert(M_SIZE, head.size.to_be_bytes().as_slice())?;
            meta.insert(M_LAST_HASH, head.last_leaf_hash.0.as_slice())?;
            meta.insert(M_LAST_TIME, head.last_time_ms.to_be_bytes().as_slice())?;
            meta.insert(M_VERIFYING, note)?;
            end = head.size;
        }
        tx.commit()?;
        Ok(end)
    }

    /// write_tiles_to writes the mirror's own tiles from the size last written up to `size`.
    fn write_tiles_to(&self, size: u64) -> Result<(), SyncError> {
        let view = self.store.view()?;
        let old = meta_u64(&view.meta, M_TILES_SIZE)?.min(size);
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

    /// own_tile returns tile `t` from the mirror's own store if the store
    /// holds every leaf under it (the first `upto`).
    fn own_tile(&self, view: &crate::store::ReadView, t: &Tile, upto: u64) -> Option<Vec<u8>> {
        let end =
            t.n.checked_mul(TILE_WIDTH)?
                .checked_add(u64::from(t.width))?;
        match t.kind {
            TileKind::Hash(l) => {
                let span = 1u64.checked_shl(u32::from(TILE_HEIGHT) * u32::from(l))?;
                if end.checked_mul(span)? > upto {
                    return None;
                }
                read_tile_data(t, &Hashes(&view.hashes)).ok()
            }
            TileKind::Entries => {
                if end > upto {
                    return None;
                }
                let mut entries = Vec::with_capacity(usize::from(t.width));
                for i in t.n * TILE_WIDTH..end {
                    entries.push(view.leaf(i).ok()??);
                }
                let refs: Vec<&[u8]> = entries.iter().map(|e| e.as_slice()).collect();
                encode_entry_bundle(&refs).ok()
            }
        }
    }

    /// save_evidence writes both signed checkpoints and one of their trees to a new evidence directory.
    fn save_evidence(&self, fetchers: &[Fetcher], c: &Contradiction) -> std::io::Result<PathBuf> {
        // Built under a hidden name and renamed when complete, so a directory
        // named by its time is always whole evidence.
        let mut name = now_ms().to_string();
        let mut k = 0;
        while self.evidence_dir.join(&name).exists() {
            k += 1;
            name = format!("{}-{k}", now_ms());
        }
        let dir = self.evidence_dir.join(&name);
        let tmp = self.evidence_dir.join(format!(".tmp-{name}"));
        std::fs::create_dir_all(&tmp)?;
        // tree: the checkpoint whose tree tile/ holds; trusted: the file to
        // give `--trusted`; own_upto: how much of the tree the own store has.
        let (tree, trusted, own_upto, order): (&[u8], Option<Trusted>, u64, Vec<usize>) =
            match &c.shape {
                Shape::Theirs { source, own } => {
                    let mut order = vec![*source];
                    order.extend((0..fetchers.len()).filter(|i| i != source));
                    (
                        &c.presented,
                        own.as_deref().map(|o| ("accepted.checkpoint", o)),
                        0,
                        order,
                    )
                }
                Shape::Ours { own, request } => {
                    if let Some(r) = request {
                        write_atomic(&tmp.join("add-checkpoint.request"), r)?;
                    }
                    let m = self.accepted().map(|(s, _)| s).unwrap_or(0);
                    (
                        own,
                        Some(("presented.checkpoint", &c.presented)),
                        m,
                        (0..fetchers.len()).collect(),
                    )
                }
            };
        if let Some((file, note)) = trusted {
            write_atomic(&tmp.join(file), note)?;
        }
        if !tree.is_empty() {
            write_atomic(&tmp.join("checkpoint"), tree)?;
        }
        // The whole tree (the mirror's own part from its store, the rest as
        // the sources serve it, at most MAX_EVIDENCE_TILES fetched), so the
        // directory is a tile directory a regulator audits alone.
        let (mut saved, mut fetched) = (0usize, 0usize);
        let mut missing = Vec::new();
        let view = self.store.view().map_err(|e| std::io::Error::other(e.0))?;
        if let Some(size) = note_size(tree).filter(|s| *s <= MAX_TREE_SIZE) {
            let kinds = (0..=MAX_TILE_LEVEL)
                .map(TileKind::Hash)
                .chain(std::iter::once(TileKind::Entries));
            'kinds: for kind in kinds {
                let at = match kind {
                    TileKind::Hash(l) => size
                        .checked_shr(u32::from(TILE_HEIGHT) * u32::from(l))
                        .unwrap_or(0),
                    TileKind::Entries => size,
                };
                for n in 0..at.div_ceil(TILE_WIDTH) {
                    let Some(t) = tile_at(size, kind, n) else {
                        continue 'kinds;
                    };
                    let data = match self.own_tile(&view, &t, own_upto) {
                        Some(d) => Some(d),
                        // The mirror's own tiles are a prefix of each level;
                        // past the fetch budget the rest of the level is left.
                        None if fetched >= MAX_EVIDENCE_TILES => {
                            missing.push(format!("{} and the rest of its level", t.path()));
                            continue 'kinds;
                        }
                        None => {
                            fetched += 1;
                            order
                                .iter()
                                .find_map(|&i| fetchers.get(i)?.get(&t.path()).ok().flatten())
                        }
                    };
                    match data {
                        Some(d) => {
                            write_atomic(&tmp.join(t.path()), &d)?;
                            saved += 1;
                        }
                        None if missing.len() < 16 => missing.push(t.path()),
                        None => {}
                    }
                }
            }
        }
        drop(view);
        let (tree_says, trusted_says) = match &c.shape {
            Shape::Theirs { .. } => (
                "the contradicting checkpoint (signed by the log key); tile/ holds its tree as the sources served it",
                "accepted.checkpoint: the checkpoint this mirror verified entry by entry and accepted",
            ),
            Shape::Ours { .. } => (
                "a checkpoint this mirror verified entry by entry (signed by the log key); tile/ holds its tree from the mirror's own copy",
                "presented.checkpoint: the contradicting checkpoint (signed by the same key), as it was presented; add-checkpoint.request, if present, is the witness request that carried it",
            ),
        };
        let command = match trusted {
            Some((file, _)) => format!(
                "regledger-verify audit --dir {d} --log log.json --trusted {d}/{file}",
                d = dir.display()
            ),
            None => format!(
                "regledger-verify audit --dir {} --log log.json",
                dir.display()
            ),
        };
        let readme = format!(
            "split view seen by a regledger mirror of {origin}\n\
             sources: {up}\n\
             reason: {reason}\n\
             checkpoint: {tree_says}\n\
             {trusted_says}\n\
             tile/: {saved} tiles\n\
             {miss}\
             verify with:\n  {command}\n",
            origin = self.descriptor.origin,
            up = self.sources.join(", "),
            reason = c.reason,
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
    fn record_split(&self, fetchers: &[Fetcher], c: &Contradiction) {
        self.metrics.mirror_split_view.store(1, Ordering::Relaxed);
        match self.save_evidence(fetchers, c) {
            Ok(dir) => tracing::error!(
                evidence = %dir.display(),
                "SPLIT VIEW: {}; the mirror stopped advancing and keeps serving its last verified state",
                c.reason
            ),
            Err(e) => tracing::error!(
                "SPLIT VIEW: {}; the mirror stopped advancing; evidence not saved: {e}",
                c.reason
            ),
        }
    }

    /// record_witness_fork records a contradiction shown to the witness
    /// endpoint: the alert, the log line and the evidence (the mirror's own
    /// tree, the presented checkpoint and the request), before it answers.
    pub fn record_witness_fork(&self, w: &WitnessFork) {
        // One incident, one evidence directory until it is reviewed: anyone
        // can replay a signed forked checkpoint, and must not fill the disk.
        if let Some(dir) = self.recorded_split() {
            self.metrics.mirror_split_view.store(1, Ordering::Relaxed);
            return tracing::error!(
                evidence = %dir.display(),
                "SPLIT VIEW presented to the witness endpoint again: {}",
                w.reason
            );
        }
        let own = self
            .own_note_for(note_size(&w.presented).unwrap_or(0))
            .unwrap_or_default();
        let c = Contradiction {
            reason: format!("presented to the witness endpoint: {}", w.reason),
            presented: w.presented.clone(),
            shape: Shape::Ours {
                own,
                request: Some(w.request.clone()),
            },
        };
        let fetchers = self.fetchers().unwrap_or_default();
        self.record_split(&fetchers, &c);
    }

    /// split_seen reports whether this process raised the split-view alert (it stops the mirror).
    pub fn split_seen(&self) -> bool {
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

    /// source_failed raises the alarm for one failed attempt of source `i` and backs it off.
    fn source_failed(&self, i: usize, s: &mut SourceState, e: &SyncError, poll: Duration) {
        s.failures = s.failures.saturating_add(1);
        s.failing = true;
        let delay = poll
            .saturating_mul(1 << (s.failures - 1).min(6))
            .min(MAX_SOURCE_BACKOFF.max(poll));
        s.next_try = Instant::now() + delay;
        self.metrics
            .mirror_source_errors
            .fetch_add(1, Ordering::Relaxed);
        let others = if self.sources.len() > 1 {
            "; the other sources are tried"
        } else {
            ""
        };
        let url = &self.sources[i];
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
                "SOURCE ROLLED BACK (回退): it served size {} before and serves {n} now; retrying in {delay:?}{others}",
                s.max_seen
            ),
            e => tracing::warn!(
                source = %url,
                "source failed: {}; retrying in {delay:?}{others}",
                e.describe()
            ),
        }
    }

    /// round reads every due source's checkpoint and syncs to them, newest
    /// first, each with tiles from the source that served it. Only a split
    /// view or a storage failure is returned as an error.
    fn round(
        &self,
        fetchers: &[Fetcher],
        st: &mut [SourceState],
        poll: Duration,
    ) -> Result<Progress, SyncError> {
        let now = Instant::now();
        let mut candidates = Vec::new();
        for (i, f) in fetchers.iter().enumerate() {
            if st[i].next_try > now {
                continue;
            }
            match f.get("checkpoint") {
                Ok(Some(note)) => candidates.push((i, note)),
                Ok(None) => {
                    let e = SyncError::Unavailable(format!("{}: no checkpoint", f.base));
                    self.source_failed(i, &mut st[i], &e, poll);
                }
                Err(e) => self.source_failed(i, &mut st[i], &SyncError::Unavailable(e), poll),
            }
        }
        // Newest first: a fallback ahead of a lagging upstream is followed.
        candidates.sort_by_key(|(i, note)| (std::cmp::Reverse(note_size(note).unwrap_or(0)), *i));
        let mut progress = Progress::Unchanged;
        for (i, note) in candidates {
            let size = note_size(&note).unwrap_or(0);
            match self.sync_to(i, &fetchers[i], note, true) {
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
                    st[i] = SourceState {
                        failures: 0,
                        next_try: now,
                        max_seen: st[i].max_seen.max(size),
                        failing: false,
                    };
                }
                // Behind what is served but never ahead of what it served
                // before: a lagging copy, not a failure.
                Err(SyncError::Stale(n)) if n >= st[i].max_seen => {
                    st[i].max_seen = n;
                    st[i].failing = false;
                    st[i].failures = 0;
                }
                Err(e @ (SyncError::Split(_) | SyncError::Storage(_))) => {
                    self.update_failing(st);
                    return Err(e);
                }
                Err(e) => self.source_failed(i, &mut st[i], &e, poll),
            }
        }
        self.update_failing(st);
        Ok(progress)
    }

    fn update_failing(&self, st: &[SourceState]) {
        let n = st.iter().filter(|s| s.failing).count() as u64;
        self.metrics
            .mirror_sources_failing
            .store(n, Ordering::Relaxed);
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
        let fetchers = match self.fetchers() {
            Ok(f) => f,
            Err(e) => {
                tracing::error!("mirror cannot build its HTTP client: {e}");
                return;
            }
        };
        let mut st: Vec<SourceState> = fetchers
            .iter()
            .map(|_| SourceState {
                failures: 0,
                next_try: Instant::now(),
                max_seen: 0,
                failing: false,
            })
            .collect();
        while !stop.load(Ordering::Relaxed) {
            // A witness request may have seen the split first.
            if self.split_seen() {
                return;
            }
            match self.round(&fetchers, &mut st, poll) {
                Ok(Progress::Advanced { from, to }) => {
                    tracing::info!(from, to, "mirror verified and committed a checkpoint");
                    // Catch up without waiting when a source is far ahead.
                    continue;
                }
                Ok(Progress::Unchanged) => {}
                Err(SyncError::Split(c)) => {
                    self.record_split(&fetchers, &c);
                    return;
                }
                Err(e) => {
                    self.metrics.storage_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("mirror storage, nothing written: {}", e.describe());
                }
            }
            // The next poll, or later if every source is backing off.
            let now = Instant::now();
            let wait = st
                .iter()
                .map(|s| s.next_try.saturating_duration_since(now))
                .min()
                .unwrap_or(poll)
                .max(poll);
            let _ = wake.recv_timeout(wait);
        }
    }
}

/// note_size returns the size of a signed checkpoint note, if it parses.
fn note_size(note: &[u8]) -> Option<u64> {
    let n = regledger::tlog::note::Note::parse(note).ok()?;
    Checkpoint::parse(&n.text).ok().map(|c| c.size)
}

/// note_root returns the root of a signed checkpoint note, if it parses.
fn note_root(note: &[u8]) -> Option<Hash> {
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
pub fn run_mirror(a: MirrorArgs) -> Result<(), Failure> {
    let descriptor_json = std::fs::read_to_string(&a.log)
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.log.display())))?;
    let descriptor = LogDescriptor::parse(descriptor_json.as_bytes())
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.log.display())))?;
    let mut sources = vec![("--upstream", a.upstream.clone())];
    sources.extend(a.fallback.iter().map(|u| ("--fallback", u.clone())));
    for (flag, url) in &sources {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(Failure::Usage(format!(
                "{flag} {url:?} is not an http(s) URL"
            )));
        }
    }
    let witness = match &a.witness_key {
        None => None,
        Some(p) => {
            let s = crate::logdir::read_signer(p).map_err(Failure::Usage)?;
            if s.key_type() != regledger::tlog::note::KeyType::CosignatureV1 {
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
        sources: sources
            .iter()
            .map(|(_, u)| u.trim_end_matches('/').to_string())
            .collect(),
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
    let feed = crate::feed::Feed {
        app: app.clone(),
        witness,
        wake: std::sync::Mutex::new(wake_tx),
        catch_up: Some({
            let m = mirror.clone();
            std::sync::Arc::new(move |note: &[u8]| m.catch_up(note))
        }),
        on_fork: Some({
            let m = mirror.clone();
            std::sync::Arc::new(move |w: &WitnessFork| m.record_witness_fork(w))
        }),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let listen = a.listen;
    let request_timeout = Duration::from_secs(a.request_timeout_s.max(1));
    let limits = crate::http::Limits {
        idle_timeout: Duration::from_secs(a.idle_timeout_s.max(1)),
        max_connections: a.max_connections.max(1),
    };
    let webhooks = a.webhook.clone();
    let (site_args, upstream) = (a.site.clone(), a.upstream.clone());
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
        let site = crate::site::routes(app.clone(), &site_args, addr, Some(upstream))?;
        let extra = crate::feed::routes(feed).merge(site);
        // The node's accept loop: idle connections close and open ones are
        // bounded here too (a venue's mirror is as exposed as the node).
        let server = crate::http::serve(
            listener,
            crate::http::router(app, request_timeout, extra),
            limits,
            crate::shutdown_signal(),
        );
        // Event streams never end by themselves: give open requests a few
        // seconds after SIGINT/SIGTERM, then stop anyway.
        tokio::select! {
            () = server => Ok(()),
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
