//! Where an audit reads a log from: a tile directory on disk, or (only when
//! a URL is given) a node or mirror over HTTP. Both serve the same C2SP
//! tlog-tiles paths: `checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/…`.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// MAX_OBJECT_BYTES bounds one tile or checkpoint (a full entry bundle of
/// 256 entries at the node's 1 MiB entry limit would be 256 MiB; real ones
/// are far smaller, and a hostile server must not exhaust memory).
pub const MAX_OBJECT_BYTES: u64 = 64 << 20;

/// Source reads log objects by their tlog-tiles path.
pub trait Source: Sync {
    /// get returns the object at `path`, or `Ok(None)` if it does not exist.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, String>;
    /// describe names the source for the report.
    fn describe(&self) -> String;
}

/// DirSource reads a tile directory (the node's `tiles/`, or a copy).
///
/// Only regular files are read, each bounded by [`MAX_OBJECT_BYTES`]
/// (see [`crate::input::read_bounded`]). Links are resolved: one that stays
/// inside the directory is followed (a layout choice of whoever copied the
/// tiles; the bytes are verified like any others), one that leads outside
/// is refused, since the audit is of what was handed over, not of other
/// files on the regulator's machine.
pub struct DirSource {
    /// dir is the directory as given, for messages.
    dir: PathBuf,
    /// root is its canonical path, which every object must resolve under.
    root: PathBuf,
}

impl DirSource {
    /// new checks that `dir` is a directory and resolves it.
    pub fn new(dir: &Path) -> Result<DirSource, String> {
        let root = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if !root.is_dir() {
            return Err(format!("{}: not a directory", dir.display()));
        }
        Ok(DirSource {
            dir: dir.to_path_buf(),
            root,
        })
    }
}

impl Source for DirSource {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let shown = self.dir.join(path);
        let real = match std::fs::canonicalize(self.root.join(path)) {
            Ok(r) => r,
            // Missing, or a link to nothing: the object is not there.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", shown.display())),
        };
        if !real.starts_with(&self.root) {
            return Err(format!(
                "{}: a link to {}, outside the tile directory {}; refused",
                shown.display(),
                real.display(),
                self.dir.display()
            ));
        }
        // Read what was checked, under the name the regulator knows.
        crate::input::read_bounded(&real, MAX_OBJECT_BYTES)
            .map_err(|e| e.replacen(&real.display().to_string(), &shown.display().to_string(), 1))
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}

/// UrlSource fetches from a node or mirror with a small blocking client.
pub struct UrlSource {
    /// base is the base URL without a trailing slash.
    base: String,
    agent: ureq::Agent,
}

impl UrlSource {
    /// new checks the URL scheme and builds the client.
    pub fn new(base: &str) -> Result<UrlSource, String> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("--url {base:?}: want an http:// or https:// URL"));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(UrlSource {
            base: base.trim_end_matches('/').to_string(),
            agent,
        })
    }
}

impl Source for UrlSource {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let url = format!("{}/{path}", self.base);
        let mut last = String::new();
        // Transient network errors are retried; a clear answer is not.
        for attempt in 0..3 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 << attempt));
            }
            match self.agent.get(&url).call() {
                Ok(mut r) => {
                    let status = r.status().as_u16();
                    if status == 404 {
                        return Ok(None);
                    }
                    if status != 200 {
                        last = format!("{url}: HTTP {status}");
                        if status >= 500 {
                            continue;
                        }
                        return Err(last);
                    }
                    return r
                        .body_mut()
                        .with_config()
                        .limit(MAX_OBJECT_BYTES)
                        .read_to_vec()
                        .map(Some)
                        .map_err(|e| format!("{url}: {e}"));
                }
                Err(e) => last = format!("{url}: {e}"),
            }
        }
        Err(last)
    }

    fn describe(&self) -> String {
        self.base.clone()
    }
}
