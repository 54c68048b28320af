//! The read side on S3-compatible object storage (decision D20): the
//! publisher copies every tile, entry bundle and checkpoint it publishes to
//! `s3://BUCKET/PREFIX/` under the same tlog-tiles paths, so read replicas,
//! a CDN, mirrors and the audit read the bucket as they read a node.
//!
//! - Full tiles are immutable: they are created only if absent
//!   (`If-None-Match: *`); one already there must hold the same bytes, or
//!   the upload stops (two different trees under one prefix).
//! - Partial tiles are overwritten as they grow.
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
use regledger::tlog::tile::{entry_tiles_for_size, hash_tiles_for_size, TILE_WIDTH};

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
        for t in tiles {
            let rel = t.path();
            let data = std::fs::read(tiles_dir.join(&rel))?;
            if u64::from(t.width) == TILE_WIDTH {
                match self.put(&rel, data.clone(), PutMode::Create) {
                    Ok(_) => {}
                    Err(ObjectError::Store(object_store::Error::AlreadyExists { .. }))
                    | Err(ObjectError::Store(object_store::Error::Precondition { .. })) => {
                        // Written before (a retry, or before a restart): it must be this one.
                        match self.get(&rel)? {
                            Some((there, _)) if there == data => {}
                            _ => return Err(ObjectError::Conflict(rel)),
                        }
                    }
                    Err(e) => return Err(e),
                }
            } else {
                self.put(&rel, data, PutMode::Overwrite)?;
            }
        }
        self.uploaded.fetch_max(size, Ordering::Relaxed);
        Ok(())
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
