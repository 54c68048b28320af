//! Where an audit reads a log from: a tile directory on disk, or (only when
//! a URL is given) a node or mirror over HTTP. Both serve the same C2SP
//! tlog-tiles paths: `checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/…`.

use std::io::Read;
use std::path::PathBuf;
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
pub struct DirSource {
    /// dir is the directory holding `checkpoint` and `tile/`.
    pub dir: PathBuf,
}

impl Source for DirSource {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let p = self.dir.join(path);
        let f = match std::fs::File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        let mut buf = Vec::new();
        f.take(MAX_OBJECT_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("{}: {e}", p.display()))?;
        if buf.len() as u64 > MAX_OBJECT_BYTES {
            return Err(format!(
                "{}: larger than {MAX_OBJECT_BYTES} bytes",
                p.display()
            ));
        }
        Ok(Some(buf))
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
