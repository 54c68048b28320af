//! Where a log is read from: objects named by their C2SP tlog-tiles path
//! (`checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`) from
//! a tile directory ([`DirSource`]), a node, mirror or static server over
//! HTTP ([`HttpSource`]), or several of them in turn
//! ([`crate::fallback::Fallback`]).
//!
//! A source only delivers bytes. Nothing it serves is trusted: the
//! [`crate::follower`] checks every object against what the log signed, so
//! a source that serves bad data is a failing source, not evidence about
//! the log (docs/decisions.md D10).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::note::Note;

/// MAX_OBJECT_BYTES bounds one tile, bundle or checkpoint read from any
/// source (a full entry bundle of 256 entries at the node's 1 MiB entry
/// limit would be 256 MiB; real ones are far smaller, and a hostile source
/// must not exhaust memory). The one size limit of every source.
pub const MAX_OBJECT_BYTES: u64 = 64 << 20;

/// HTTP_ATTEMPTS is how many times [`HttpSource`] tries one object before
/// it reports the source down (transient network errors and 5xx only).
pub const HTTP_ATTEMPTS: u32 = 3;

/// HTTP_TIMEOUT bounds one HTTP request, body included.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// FetchError is why a source could not deliver an object. It says
/// nothing about the log: the object was not read at all.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Io: the file system refused (permissions, an I/O error).
    #[error("{}: {source}", path.display())]
    Io {
        /// path is the file as the caller named it.
        path: PathBuf,
        /// source is the system's error.
        source: std::io::Error,
    },
    /// Missing: a file the caller required does not exist.
    #[error("{}: No such file or directory", .0.display())]
    Missing(PathBuf),
    /// NotServed: an object a source must serve is not there (404).
    #[error("{0}: not served")]
    NotServed(String),
    /// NotADirectory: a tile directory that is not a directory.
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// NotRegular: a directory, device, FIFO or socket where a file was wanted.
    #[error("{}: not a regular file ({what}); refused: give a copy of the file", path.display())]
    NotRegular {
        /// path is the file as the caller named it.
        path: PathBuf,
        /// what says what it is instead, e.g. "a FIFO".
        what: &'static str,
    },
    /// LinkOutside: a link in a tile directory that leads out of it.
    #[error("{}: a link to {}, outside the tile directory {}; refused", path.display(), target.display(), dir.display())]
    LinkOutside {
        /// path is the link as the caller named it.
        path: PathBuf,
        /// target is where it leads.
        target: PathBuf,
        /// dir is the tile directory.
        dir: PathBuf,
    },
    /// TooLarge: the object is larger than the bound.
    #[error("{what}: larger than {max} bytes")]
    TooLarge {
        /// what is the file or URL.
        what: String,
        /// max is the bound.
        max: u64,
    },
    /// NotHttp: a source URL that is not http:// or https://.
    #[error("{0:?}: want an http:// or https:// URL")]
    NotHttp(String),
    /// Status: the server answered with an HTTP status other than 200 or 404.
    #[error("{url}: HTTP {status}")]
    Status {
        /// url is the object's URL.
        url: String,
        /// status is the HTTP status.
        status: u16,
    },
    /// BadFull: a partial tile is not there, and the full tile that
    /// replaced it (D28) does not hold a prefix of the partial's width
    /// (short, truncated or damaged).
    #[error("{path}: not there, and its full tile does not stand for it: {reason}")]
    BadFull {
        /// path is the partial tile asked for.
        path: String,
        /// reason says what is wrong with the full tile.
        reason: String,
    },
    /// Network: the request failed (connection, timeout, TLS, protocol).
    #[error("{url}: {reason}")]
    Network {
        /// url is the object's URL.
        url: String,
        /// reason is the client's message.
        reason: String,
    },
}

/// TileSource reads log objects by their tlog-tiles path.
pub trait TileSource: Send + Sync {
    /// get returns the object at `path`, or `Ok(None)` if the source does
    /// not have it.
    ///
    /// # Errors
    ///
    /// A [`FetchError`] when the source could not be read.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, FetchError>;

    /// describe names the source for reports and log lines.
    fn describe(&self) -> String;
}

/// or_full is `get` of a tile path, and, when that is a partial tile the
/// source does not have, the prefix of its full tile: a log removes a
/// tile's partials once the full tile is published (D28), and tlog-tiles
/// lets a client read the full tile in place of a partial one. Every other
/// path, and a partial whose full tile is missing too, is `get` alone.
///
/// # Errors
///
/// `get`'s, and [`FetchError::BadFull`] if the full tile is not a
/// well-formed full tile (never a wrong prefix).
pub fn or_full(
    path: &str,
    get: impl Fn(&str) -> Result<Option<Vec<u8>>, FetchError>,
) -> Result<Option<Vec<u8>>, FetchError> {
    if let Some(got) = get(path)? {
        return Ok(Some(got));
    }
    let Some((t, full)) = regledger::tlog::tile::Tile::parse(path)
        .ok()
        .and_then(|t| Some((t, t.full_of()?)))
    else {
        return Ok(None);
    };
    let Some(data) = get(&full.path())? else {
        return Ok(None);
    };
    regledger::tlog::tile::partial_from_full(&t, &data)
        .map(Some)
        .map_err(|e| FetchError::BadFull {
            path: path.to_string(),
            reason: e.to_string(),
        })
}

/// open_regular opens `path` for reading if it is a regular file, and
/// refuses anything else (directory, device, FIFO, socket). It opens
/// without blocking, so that a FIFO cannot stall the open itself, then
/// checks the type of what it opened, so that nothing can be swapped in
/// between the check and the read. `Ok(None)`: the path does not exist.
///
/// # Errors
///
/// [`FetchError::NotRegular`] for anything but a regular file,
/// [`FetchError::Io`] when the open fails otherwise.
pub fn open_regular(path: &Path) -> Result<Option<File>, FetchError> {
    open_regular_as(path, path)
}

/// open_regular_as is [`open_regular`] of `path`, naming `shown` in errors.
fn open_regular_as(path: &Path, shown: &Path) -> Result<Option<File>, FetchError> {
    let io = |source| FetchError::Io {
        path: shown.to_path_buf(),
        source,
    };
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    {
        // No O_NONBLOCK: check the type first (a race remains, and only
        // Unix has FIFOs that block an open).
        if let Ok(m) = std::fs::metadata(path) {
            if !m.is_file() {
                return Err(not_regular(shown, &m.file_type()));
            }
        }
    }
    let f = match o.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let m = f.metadata().map_err(io)?;
    if !m.is_file() {
        return Err(not_regular(shown, &m.file_type()));
    }
    Ok(Some(f))
}

fn not_regular(path: &Path, t: &std::fs::FileType) -> FetchError {
    let what = if t.is_dir() {
        "a directory"
    } else {
        file_type_name(t)
    };
    FetchError::NotRegular {
        path: path.to_path_buf(),
        what,
    }
}

#[cfg(unix)]
fn file_type_name(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn file_type_name(_: &std::fs::FileType) -> &'static str {
    "a special file"
}

/// read_bounded reads a whole regular file of at most `max` bytes. The
/// bound counts the bytes actually read, not the length the file system
/// reports (0 for a device, and a file may grow while it is read).
/// `Ok(None)`: the path does not exist.
///
/// # Errors
///
/// As [`open_regular`], and [`FetchError::TooLarge`] past `max` bytes.
pub fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, FetchError> {
    read_bounded_as(path, path, max)
}

/// read_bounded_as is [`read_bounded`] of `path`, naming `shown` in errors.
fn read_bounded_as(path: &Path, shown: &Path, max: u64) -> Result<Option<Vec<u8>>, FetchError> {
    let Some(f) = open_regular_as(path, shown)? else {
        return Ok(None);
    };
    let mut buf = Vec::new();
    f.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|source| FetchError::Io {
            path: shown.to_path_buf(),
            source,
        })?;
    if buf.len() as u64 > max {
        return Err(FetchError::TooLarge {
            what: shown.display().to_string(),
            max,
        });
    }
    Ok(Some(buf))
}

/// DirSource reads a tile directory (a node's `tiles/`, or a copy).
///
/// Only regular files are read, each bounded by [`MAX_OBJECT_BYTES`]
/// (see [`read_bounded`]). Links are resolved: one that stays inside the
/// directory is followed (a layout choice of whoever copied the tiles; the
/// bytes are verified like any others), one that leads outside is refused,
/// since an audit is of what was handed over, not of other files on the
/// reader's machine.
pub struct DirSource {
    /// dir is the directory as given, for messages.
    dir: PathBuf,
    /// root is its canonical path, which every object must resolve under.
    root: PathBuf,
}

impl DirSource {
    /// new checks that `dir` is a directory and resolves it.
    ///
    /// # Errors
    ///
    /// [`FetchError::Io`] if it cannot be resolved,
    /// [`FetchError::NotADirectory`] if it is not a directory.
    pub fn new(dir: &Path) -> Result<DirSource, FetchError> {
        let root = std::fs::canonicalize(dir).map_err(|source| FetchError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if !root.is_dir() {
            return Err(FetchError::NotADirectory(dir.to_path_buf()));
        }
        Ok(DirSource {
            dir: dir.to_path_buf(),
            root,
        })
    }
}

impl TileSource for DirSource {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, FetchError> {
        or_full(path, |p| self.get_exact(p))
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}

impl DirSource {
    /// get_exact reads the file at `path`, and only that.
    fn get_exact(&self, path: &str) -> Result<Option<Vec<u8>>, FetchError> {
        let shown = self.dir.join(path);
        let real = match std::fs::canonicalize(self.root.join(path)) {
            Ok(r) => r,
            // Missing, or a link to nothing: the object is not there.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(FetchError::Io {
                    path: shown,
                    source,
                })
            }
        };
        if !real.starts_with(&self.root) {
            return Err(FetchError::LinkOutside {
                path: shown,
                target: real,
                dir: self.dir.clone(),
            });
        }
        // Read what was checked, under the name the reader knows.
        read_bounded_as(&real, &shown, MAX_OBJECT_BYTES)
    }
}

/// HttpSource fetches from a node, a mirror or any static file server with
/// a small blocking client (no async runtime): the one HTTP fetcher of the
/// verifier and the mirror.
///
/// 200 is the object, 404 is "not there"; a network error or a 5xx is
/// retried [`HTTP_ATTEMPTS`] times with a doubling delay, any other status
/// is an error at once. A body past [`MAX_OBJECT_BYTES`] is refused.
pub struct HttpSource {
    /// base is the base URL without a trailing slash.
    base: String,
    agent: ureq::Agent,
}

impl HttpSource {
    /// new checks the URL scheme and builds the client.
    ///
    /// # Errors
    ///
    /// [`FetchError::NotHttp`] unless `base` starts with http:// or https://.
    pub fn new(base: &str) -> Result<HttpSource, FetchError> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(FetchError::NotHttp(base.to_string()));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(HTTP_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(HttpSource {
            base: base.trim_end_matches('/').to_string(),
            agent,
        })
    }

    /// base returns the base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }
}

impl TileSource for HttpSource {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, FetchError> {
        or_full(path, |p| self.get_exact(p))
    }

    fn describe(&self) -> String {
        self.base.clone()
    }
}

impl HttpSource {
    /// get_exact fetches the object at `path`, and only that.
    fn get_exact(&self, path: &str) -> Result<Option<Vec<u8>>, FetchError> {
        let url = format!("{}/{path}", self.base);
        let network = |e: ureq::Error| match e {
            ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge {
                what: url.clone(),
                max: MAX_OBJECT_BYTES,
            },
            e => FetchError::Network {
                url: url.clone(),
                reason: e.to_string(),
            },
        };
        let mut last = None;
        // Transient network errors are retried; a clear answer is not.
        for attempt in 0..HTTP_ATTEMPTS {
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
                        let e = FetchError::Status {
                            url: url.clone(),
                            status,
                        };
                        if status >= 500 {
                            last = Some(e);
                            continue;
                        }
                        return Err(e);
                    }
                    return r
                        .body_mut()
                        .with_config()
                        .limit(MAX_OBJECT_BYTES)
                        .read_to_vec()
                        .map(Some)
                        .map_err(network);
                }
                Err(e) => last = Some(network(e)),
            }
        }
        Err(last.expect("at least one attempt"))
    }
}

/// note_size returns the size of a signed checkpoint note, if it parses
/// (before any signature is checked: for ordering and messages only).
pub fn note_size(note: &[u8]) -> Option<u64> {
    let n = Note::parse(note).ok()?;
    Checkpoint::parse(&n.text).ok().map(|c| c.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dir_source_refuses_links_out_and_special_files() {
        let d = tempfile::tempdir().unwrap();
        let tiles = d.path().join("tiles");
        std::fs::create_dir(&tiles).unwrap();
        std::fs::write(tiles.join("checkpoint"), b"x").unwrap();
        std::fs::write(d.path().join("secret"), b"s").unwrap();
        let src = DirSource::new(&tiles).unwrap();
        assert_eq!(src.get("checkpoint").unwrap(), Some(b"x".to_vec()));
        assert!(src.get("tile/0/000").unwrap().is_none());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.path().join("secret"), tiles.join("out")).unwrap();
            let e = src.get("out").unwrap_err();
            assert!(matches!(e, FetchError::LinkOutside { .. }), "{e}");
            assert!(e.to_string().contains("outside"), "{e}");
            std::fs::create_dir(tiles.join("tile")).unwrap();
            let e = src.get("tile").unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        assert!(matches!(
            DirSource::new(&tiles.join("checkpoint")),
            Err(FetchError::NotADirectory(_))
        ));
    }

    #[test]
    fn a_missing_partial_is_cut_from_its_full_tile_and_a_short_full_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let src = DirSource::new(d.path()).unwrap();
        std::fs::create_dir_all(d.path().join("tile/0")).unwrap();
        std::fs::create_dir_all(d.path().join("tile/entries/001.p")).unwrap();
        let full: Vec<u8> = (0..8192u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(d.path().join("tile/0/000"), &full).unwrap();
        assert_eq!(src.get("tile/0/000.p/7").unwrap().unwrap(), &full[..7 * 32]);
        // A partial that is there is read as it is (a log that keeps them).
        std::fs::write(d.path().join("tile/entries/001.p/2"), b"\0\x01a\0\x01b").unwrap();
        assert_eq!(
            src.get("tile/entries/001.p/2").unwrap().unwrap(),
            b"\0\x01a\0\x01b"
        );
        // Neither partial nor full: not there.
        assert!(src.get("tile/0/001.p/7").unwrap().is_none());
        assert!(src.get("tile/entries/002.p/1").unwrap().is_none());
        // A short full tile gives a clear error, not a prefix.
        std::fs::write(d.path().join("tile/0/000"), &full[..8191]).unwrap();
        let e = src.get("tile/0/000.p/7").unwrap_err();
        assert!(matches!(e, FetchError::BadFull { .. }), "{e}");
        assert!(e.to_string().contains("tile/0/000.p/7"), "{e}");
        std::fs::write(d.path().join("tile/entries/000"), b"\0\x01a").unwrap();
        let e = src.get("tile/entries/000.p/1").unwrap_err();
        assert!(matches!(e, FetchError::BadFull { .. }), "{e}");
    }

    #[test]
    fn a_bounded_read_counts_the_bytes_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, vec![0u8; 11]).unwrap();
        assert_eq!(read_bounded(&p, 11).unwrap().unwrap().len(), 11);
        assert!(matches!(
            read_bounded(&p, 10),
            Err(FetchError::TooLarge { max: 10, .. })
        ));
        assert!(read_bounded(&d.path().join("none"), 10).unwrap().is_none());
    }

    #[test]
    fn only_http_urls_are_sources() {
        assert!(matches!(
            HttpSource::new("file:///etc"),
            Err(FetchError::NotHttp(_))
        ));
        assert_eq!(
            HttpSource::new("http://127.0.0.1:1/x/").unwrap().base(),
            "http://127.0.0.1:1/x"
        );
    }
}
