//! The read side on S3-compatible object storage (decision D20): the
//! publisher copies every tile, entry bundle and checkpoint it publishes to
//! `s3://BUCKET/PREFIX/` under the same tlog-tiles paths, so read replicas,
//! a CDN, mirrors and the audit read the bucket as they read a node.
//!
//! - Full tiles are immutable: they are created only if absent
//!   (`If-None-Match: *`); one already there must hold the same bytes, or
//!   the upload stops (two different trees under one prefix).
//! - Partial tiles are overwritten as they grow (each width is its own
//!   path, so this only rewrites the same bytes), and deleted once the
//!   bucket's checkpoint covers their full tile (D28): a reader that
//!   misses one reads the full tile and cuts the prefix.
//! - Envelope bundles, full or partial, are created only if absent too,
//!   and replaced only by a pruning of themselves (D22, D24): when a
//!   `retention-pruned` entry is uploaded, every envelope bundle it
//!   emptied items of is replaced with `If-Match` on the ETag just read,
//!   and only if the new bytes are the bucket's with more items emptied.
//!   Pruning is irreversible in the store, so the bucket only ever moves
//!   towards fewer envelopes: a stale writer (an old copy, a fenced
//!   ex-leader) whose tiles still hold a pruned envelope cannot put it
//!   back, and a concurrent replacement between the read and the write
//!   fails the precondition (retried next interval).
//! - The checkpoint is replaced only with `If-Match` on the ETag this node
//!   last wrote or read (created with `If-None-Match: *` when absent), so a
//!   stale writer (a fenced ex-leader) cannot replace a newer checkpoint:
//!   on a precondition failure the node reads the bucket's checkpoint and
//!   retries once only if it is for a smaller or equal size.
//! - Everything goes to the bucket before the checkpoint is recorded as
//!   published in the store; if the bucket is unavailable the publisher
//!   retries next interval. Submissions are acknowledged as before: the
//!   store of record is the database.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as ObjPath;
use object_store::{
    BackoffConfig, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
    UpdateVersion,
};
use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::tile::{
    decode_entry_bundle, entry_tiles_for_size, hash_tiles_for_size, Tile, TileKind, TILE_WIDTH,
};

use super::tiles::prune_of;

/// ObjectError is why the bucket did not take what was published.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Store: the object store refused or could not be reached.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// Io: a local tile to copy could not be read.
    #[error("object store: reading the local tile: {0}")]
    Io(#[from] std::io::Error),
    /// Conflict: a full tile in the bucket differs from this node's.
    #[error("object store: {0} already holds different bytes (another tree under this prefix?)")]
    Conflict(String),
    /// Unpruned: this node's envelope bundle holds envelopes the bucket's
    /// copy has pruned (this node's tiles are older than the bucket's).
    #[error("object store: the bucket's {0} has envelopes pruned that this node's copy still holds: not replaced")]
    Unpruned(String),
    /// Stale: the bucket holds a checkpoint for a larger tree than this node publishes.
    #[error("object store: the bucket's checkpoint is for size {theirs}, newer than {ours}: not replaced")]
    Stale {
        /// ours is the size this node was publishing.
        ours: u64,
        /// theirs is the bucket's.
        theirs: u64,
    },
    /// Runtime: the object store's runtime is gone.
    #[error("object store: runtime stopped")]
    Runtime,
}

/// Seen is what this node knows of the bucket's checkpoint.
#[derive(Clone, Debug)]
enum Seen {
    /// Unknown: not read yet.
    Unknown,
    /// Absent: there is none (create it).
    Absent,
    /// Version: the one this node last wrote or read, and its tree size.
    Version(UpdateVersion, u64),
}

/// ObjectTiles is the bucket the publisher copies to.
pub struct ObjectTiles {
    s3: Arc<AmazonS3>,
    prefix: String,
    rt: Option<tokio::runtime::Runtime>,
    /// uploaded is the size the bucket's tiles are complete for.
    uploaded: AtomicU64,
    seen: Mutex<Seen>,
    /// log_json is the log's descriptor, copied next to the checkpoint.
    log_json: Vec<u8>,
}

impl Drop for ObjectTiles {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// parse_url splits `s3://BUCKET/PREFIX` (the prefix may be empty).
///
/// # Errors
///
/// A message if it is not of that form.
pub fn parse_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("--tiles {url:?}: expected s3://BUCKET/PREFIX"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("--tiles {url:?}: no bucket"));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

impl ObjectTiles {
    /// open configures the bucket at `url` (`s3://BUCKET/PREFIX`). Credentials
    /// and region come from the usual environment (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, ...); `endpoint` is an
    /// S3-compatible service's URL, addressed path-style.
    ///
    /// # Errors
    ///
    /// A message if the URL or the configuration is refused.
    pub fn open(url: &str, endpoint: Option<&str>, log_json: &[u8]) -> Result<ObjectTiles, String> {
        let (bucket, prefix) = parse_url(url)?;
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            // A bucket that is down must fail this publication in seconds
            // (the publisher retries next interval), not after minutes.
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 2,
                retry_timeout: Duration::from_secs(5),
            });
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            b = b.with_region("us-east-1");
        }
        if let Some(e) = endpoint {
            b = b
                .with_endpoint(e)
                .with_virtual_hosted_style_request(false)
                .with_allow_http(e.starts_with("http://"));
        }
        let s3 = b.build().map_err(|e| format!("--tiles {url}: {e}"))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("regledger-s3")
            .enable_all()
            .build()
            .map_err(|e| format!("object store runtime: {e}"))?;
        Ok(ObjectTiles {
            s3: Arc::new(s3),
            prefix,
            rt: Some(rt),
            uploaded: AtomicU64::new(0),
            seen: Mutex::new(Seen::Unknown),
            log_json: log_json.to_vec(),
        })
    }

    fn path(&self, rel: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(rel)
        } else {
            ObjPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    /// run runs `f` on the object store's runtime and waits for it (from
    /// any thread: the publisher's, or a tokio worker at start).
    fn run<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, ObjectError> {
        let rt = self.rt.as_ref().ok_or(ObjectError::Runtime)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| ObjectError::Runtime)
    }

    /// get reads an object: its bytes and version, `None` if absent.
    fn get(&self, rel: &str) -> Result<Option<(Vec<u8>, UpdateVersion)>, ObjectError> {
        let (s3, p) = (self.s3.clone(), self.path(rel));
        let r = self.run(async move {
            match s3.get(&p).await {
                Ok(g) => {
                    let v = UpdateVersion {
                        e_tag: g.meta.e_tag.clone(),
                        version: g.meta.version.clone(),
                    };
                    Ok(Some((g.bytes().await?.to_vec(), v)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        Ok(r?)
    }

    fn put(&self, rel: &str, data: Vec<u8>, mode: PutMode) -> Result<UpdateVersion, ObjectError> {
        let (s3, p) = (self.s3.clone(), self.path(rel));
        let r = self.run(async move {
            let opts = PutOptions {
                mode,
                ..Default::default()
            };
            s3.put_opts(&p, PutPayload::from(data), opts).await
        })??;
        Ok(UpdateVersion {
            e_tag: r.e_tag,
            version: r.version,
        })
    }

    /// ensure_loaded, the first time it succeeds, copies log.json and reads
    /// the bucket's checkpoint (its tiles are complete for its size: they
    /// were copied before it). Done lazily, so a node starts while its
    /// bucket is down.
    fn ensure_loaded(&self) -> Result<(), ObjectError> {
        if matches!(*self.seen.lock().expect("seen"), Seen::Unknown) {
            self.put("log.json", self.log_json.clone(), PutMode::Overwrite)?;
            self.read_checkpoint()?;
        }
        Ok(())
    }

    /// read_checkpoint reads the bucket's checkpoint: its size, and its
    /// version for the next conditional put.
    fn read_checkpoint(&self) -> Result<Option<u64>, ObjectError> {
        let got = self.get("checkpoint")?;
        let (seen, size) = match got {
            None => (Seen::Absent, None),
            Some((bytes, v)) => {
                let size = checkpoint_size(&bytes);
                (Seen::Version(v, size.unwrap_or(0)), size)
            }
        };
        *self.seen.lock().expect("seen") = seen;
        if let Some(s) = size {
            // Never lower: tiles uploaded by this process stay uploaded.
            self.uploaded.fetch_max(s, Ordering::Relaxed);
        }
        Ok(size)
    }

    /// holds reports whether the bucket's checkpoint, as this node last saw
    /// it, is for `size`.
    pub fn holds(&self, size: u64) -> bool {
        matches!(*self.seen.lock().expect("seen"), Seen::Version(_, s) if s == size)
    }

    /// upload_tiles copies the local tiles that grow the bucket's tree to `size`.
    ///
    /// # Errors
    ///
    /// [`ObjectError`]; what was copied before stays (each object is whole).
    pub fn upload_tiles(&self, tiles_dir: &Path, size: u64) -> Result<(), ObjectError> {
        self.ensure_loaded()?;
        let from = self.uploaded.load(Ordering::Relaxed);
        if size <= from {
            return Ok(());
        }
        // An entry bundle's envelope bundle goes first (as on disk,
        // log/tiles.rs): a reader that sees the entry bundle finds the
        // envelopes of its v2 leaves beside it. A bundle of v1 leaves only
        // has none.
        let tiles = hash_tiles_for_size(from, size).into_iter().chain(
            entry_tiles_for_size(from, size).into_iter().flat_map(|t| {
                let env = t.envelopes();
                let has = tiles_dir.join(env.path()).exists();
                has.then_some(env).into_iter().chain(std::iter::once(t))
            }),
        );
        let mut pruned: Vec<u64> = Vec::new();
        for t in tiles {
            let rel = t.path();
            let data = std::fs::read(tiles_dir.join(&rel))?;
            if t.kind == TileKind::Envelopes {
                pruned.extend(prunes_in(&data, t.width));
                self.put_envelopes(&rel, data, t.width)?;
            } else if u64::from(t.width) == TILE_WIDTH {
                self.put_immutable(&rel, data)?;
            } else {
                self.put(&rel, data, PutMode::Overwrite)?;
            }
        }
        // The bundles a prune among the new entries emptied items of,
        // already in the bucket with those envelopes: the publisher
        // rewrote them on disk (log/tiles.rs) before this upload.
        pruned.sort_unstable();
        pruned.dedup_by_key(|i| *i / TILE_WIDTH);
        for n in pruned.iter().map(|i| i / TILE_WIDTH) {
            for t in envelope_bundles(n) {
                let rel = t.path();
                match std::fs::read(tiles_dir.join(&rel)) {
                    Ok(data) => self.put_envelopes(&rel, data, t.width)?,
                    // A partial removed locally (D28) whose removal from
                    // the bucket failed would keep the pruned envelope
                    // there: delete it (a no-op when it is gone already).
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && !t.is_full() => {
                        self.delete(&rel)?
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.uploaded.fetch_max(size, Ordering::Relaxed);
        Ok(())
    }

    /// remove_partials deletes from the bucket the partial tiles of every
    /// tile full at `published` and not at `old` (D28): called once the
    /// bucket's checkpoint for `published` is written, so a bucket reader
    /// that misses a partial finds the full tile (and cuts the prefix).
    /// One listing of `tile/<L>/<N>.p/` per completed tile, one delete per
    /// partial actually there. A failure leaves redundant objects (logged;
    /// the publication stands).
    pub fn remove_partials(&self, old: u64, published: u64) {
        if published <= old {
            return;
        }
        let full = regledger::tlog::tile::tiles_completed(old, published);
        for t in full {
            let (s3, dir) = (self.s3.clone(), self.path(&format!("{}.p", t.path())));
            let r = self.run(async move {
                use futures_util::TryStreamExt;
                let found: Vec<_> = s3.list(Some(&dir)).try_collect().await?;
                for o in &found {
                    s3.delete(&o.location).await?;
                }
                Ok::<usize, object_store::Error>(found.len())
            });
            match r {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(
                    "{}.p/: partial tiles not removed from the bucket: {e}",
                    t.path()
                ),
                Err(e) => tracing::warn!(
                    "{}.p/: partial tiles not removed from the bucket: {e}",
                    t.path()
                ),
            }
        }
    }

    /// delete removes an object (absent already is fine).
    fn delete(&self, rel: &str) -> Result<(), ObjectError> {
        let (s3, p) = (self.s3.clone(), self.path(rel));
        let r = self.run(async move {
            match s3.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        })?;
        Ok(r?)
    }

    /// put_immutable creates a full tile; one already there must hold the same bytes.
    fn put_immutable(&self, rel: &str, data: Vec<u8>) -> Result<(), ObjectError> {
        match self.put(rel, data.clone(), PutMode::Create) {
            Ok(_) => Ok(()),
            Err(e) if is_taken(&e) => {
                // Written before (a retry, or before a restart): it must be this one.
                match self.get(rel)? {
                    Some((there, _)) if there == data => Ok(()),
                    _ => Err(ObjectError::Conflict(rel.to_string())),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// put_envelopes creates an envelope bundle of `width` items, or
    /// replaces the bucket's with a pruning of it ([`Pruning`]), with
    /// `If-Match` on the version read: never with one that holds an
    /// envelope the bucket's has pruned.
    fn put_envelopes(&self, rel: &str, data: Vec<u8>, width: u16) -> Result<(), ObjectError> {
        let err = match self.put(rel, data.clone(), PutMode::Create) {
            Ok(_) => return Ok(()),
            Err(e) if is_taken(&e) => e,
            Err(e) => return Err(e),
        };
        // Deleted between the two requests: the next interval creates it.
        let Some((there, version)) = self.get(rel)? else {
            return Err(err);
        };
        match Pruning::of(&data, &there, width) {
            Pruning::Same => Ok(()),
            Pruning::Further => {
                self.put(rel, data, PutMode::Update(version))?;
                tracing::info!("{rel}: pruned envelopes removed from the bucket");
                Ok(())
            }
            Pruning::Behind => Err(ObjectError::Unpruned(rel.to_string())),
            Pruning::Unrelated => Err(ObjectError::Conflict(rel.to_string())),
        }
    }

    /// put_checkpoint replaces the bucket's checkpoint with `note` (for
    /// `size`), conditionally on the version this node last saw.
    ///
    /// # Errors
    ///
    /// [`ObjectError::Stale`] if the bucket holds a newer one, or the store's error.
    pub fn put_checkpoint(&self, size: u64, note: &str) -> Result<(), ObjectError> {
        for attempt in 0..2 {
            let mode = match self.seen.lock().expect("seen").clone() {
                // Never replace a checkpoint for a larger tree (this node's
                // view is stale: an older copy of the store, or an ex-leader).
                Seen::Version(_, theirs) if theirs > size => {
                    return Err(ObjectError::Stale { ours: size, theirs })
                }
                Seen::Version(v, _) => PutMode::Update(v),
                Seen::Absent => PutMode::Create,
                Seen::Unknown => {
                    self.read_checkpoint()?;
                    continue;
                }
            };
            match self.put("checkpoint", note.as_bytes().to_vec(), mode) {
                Ok(v) => {
                    *self.seen.lock().expect("seen") = Seen::Version(v, size);
                    return Ok(());
                }
                Err(ObjectError::Store(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                )) if attempt == 0 => {
                    // Someone else wrote it: retry only over an older or equal tree.
                    let theirs = self.read_checkpoint()?.unwrap_or(0);
                    if theirs > size {
                        return Err(ObjectError::Stale { ours: size, theirs });
                    }
                    tracing::warn!(
                        "the bucket's checkpoint changed under this node (size {theirs}); replacing it with size {size}"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let theirs = self.read_checkpoint()?.unwrap_or(0);
        Err(ObjectError::Stale { ours: size, theirs })
    }
}

/// checkpoint_size reads the tree size of a checkpoint note's body.
fn checkpoint_size(note: &[u8]) -> Option<u64> {
    let n = regledger::tlog::note::Note::parse(note).ok()?;
    Checkpoint::parse(&n.text).ok().map(|c| c.size)
}

/// is_taken says a conditional create failed because the object exists.
fn is_taken(e: &ObjectError) -> bool {
    matches!(
        e,
        ObjectError::Store(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }
        )
    )
}

/// envelope_bundles are the paths envelope bundle `n` may be published
/// under: each partial width and the full one.
fn envelope_bundles(n: u64) -> impl Iterator<Item = Tile> {
    (1..=TILE_WIDTH as u16).map(move |width| {
        Tile {
            kind: TileKind::Entries,
            n,
            width,
        }
        .envelopes()
    })
}

/// prunes_in lists the entries the `retention-pruned` envelopes in an
/// envelope bundle of `width` items drop (none if it does not decode:
/// the audit, not the upload, judges a bundle).
fn prunes_in(bundle: &[u8], width: u16) -> Vec<u64> {
    decode_entry_bundle(bundle, usize::from(width))
        .map(|items| {
            items
                .into_iter()
                .filter_map(prune_of)
                .flat_map(|p| p.entries)
                .collect()
        })
        .unwrap_or_default()
}

/// Pruning is how this node's envelope bundle relates to the bucket's
/// copy of the same path: the same envelopes except for items one of
/// them has emptied (a prune), or not.
#[derive(Debug, PartialEq, Eq)]
enum Pruning {
    /// Same: byte for byte.
    Same,
    /// Further: ours is the bucket's with more items emptied.
    Further,
    /// Behind: the bucket's is ours with more items emptied.
    Behind,
    /// Unrelated: anything else (another tree, a corrupt object).
    Unrelated,
}

impl Pruning {
    fn of(ours: &[u8], theirs: &[u8], width: u16) -> Pruning {
        if ours == theirs {
            return Pruning::Same;
        }
        let w = usize::from(width);
        let (Ok(a), Ok(b)) = (decode_entry_bundle(ours, w), decode_entry_bundle(theirs, w)) else {
            return Pruning::Unrelated;
        };
        // Each item is equal, or emptied on one side only.
        let (mut fewer, mut more) = (false, false);
        for (x, y) in a.iter().zip(&b) {
            if x == y {
                continue;
            }
            if x.is_empty() {
                fewer = true;
            } else if y.is_empty() {
                more = true;
            } else {
                return Pruning::Unrelated;
            }
        }
        match (fewer, more) {
            (true, false) => Pruning::Further,
            (false, true) => Pruning::Behind,
            _ => Pruning::Unrelated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regledger::tlog::tile::encode_entry_bundle;

    fn bundle(items: &[&[u8]]) -> Vec<u8> {
        encode_entry_bundle(items).unwrap()
    }

    #[test]
    fn only_a_further_pruning_replaces_an_envelope_bundle() {
        let full = bundle(&[b"a", b"b", b"c"]);
        let pruned = bundle(&[b"a", b"", b"c"]);
        let more = bundle(&[b"", b"", b"c"]);
        assert_eq!(Pruning::of(&full, &full, 3), Pruning::Same);
        assert_eq!(Pruning::of(&pruned, &full, 3), Pruning::Further);
        assert_eq!(Pruning::of(&more, &pruned, 3), Pruning::Further);
        // A stale copy cannot put a pruned envelope back.
        assert_eq!(Pruning::of(&full, &pruned, 3), Pruning::Behind);
        // Pruned in different places: neither is the other's pruning.
        let other = bundle(&[b"", b"b", b"c"]);
        assert_eq!(Pruning::of(&other, &pruned, 3), Pruning::Unrelated);
        // A changed envelope, another width, garbage: not a pruning.
        assert_eq!(
            Pruning::of(&bundle(&[b"a", b"x", b"c"]), &full, 3),
            Pruning::Unrelated
        );
        assert_eq!(Pruning::of(&pruned, &full, 2), Pruning::Unrelated);
        assert_eq!(Pruning::of(&pruned, b"\xff", 3), Pruning::Unrelated);
    }
}
