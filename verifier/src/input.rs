//! Reading command inputs: files, keys given inline or as files, hashes;
//! and [`InputError`], every reason a command's input is refused (exit 2).
//!
//! Every file is read through the client crate's
//! [`regledger_client::source::read_bounded`]: regular files only (a FIFO
//! or a device is refused without blocking), at most
//! [`MAX_INPUT_BYTES`] counted as read.

use std::path::{Path, PathBuf};

use regledger::descriptor::LogDescriptor;
use regledger::tlog::note::VerifierKey;
use regledger::{Hash, HashSuite};
use regledger_client::source::read_bounded;
use regledger_client::FetchError;

use crate::audit::AuditError;

/// MAX_INPUT_BYTES bounds every file the verifier reads whole.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// InputError is why a command's input was refused (a usage or input
/// error, exit 2): nothing was verified.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Read: a file (or the tile source) could not be read.
    #[error(transparent)]
    Read(#[from] FetchError),
    /// NotUtf8: a key file is not UTF-8.
    #[error("{0}: not UTF-8")]
    NotUtf8(String),
    /// Key: a verifier key does not parse.
    #[error("verifier key {arg:?}: {reason}")]
    Key {
        /// arg is the key or file as given.
        arg: String,
        /// reason is the parser's message.
        reason: String,
    },
    /// UnknownHash: a --hash that names no suite.
    #[error("unknown hash {name:?} (want one of: {})", known_suites().join(", "), name = .0)]
    UnknownHash(String),
    /// NotAHash: not 64 hex digits.
    #[error("{0:?} is not a 64-digit hex hash")]
    NotAHash(String),
    /// Quorum: a --quorum larger than the witnesses given.
    #[error("--quorum {quorum} exceeds the {witnesses} witnesses given")]
    Quorum {
        /// quorum is the k asked for.
        quorum: usize,
        /// witnesses is how many were given.
        witnesses: usize,
    },
    /// Invalid: a file that was read is not what it should be.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// path is the file.
        path: PathBuf,
        /// reason says what is wrong with it.
        reason: String,
    },
    /// Proof: a consistency proof file that does not parse.
    #[error("{0}")]
    Proof(String),
    /// Flag: a flag value that does not parse.
    #[error("{flag} {value:?}: {want}")]
    Flag {
        /// flag is the flag, e.g. "--as-of".
        flag: &'static str,
        /// value is what was given.
        value: String,
        /// want says what is wanted.
        want: String,
    },
    /// Usage: flags that do not go together.
    #[error("{0}")]
    Usage(&'static str),
    /// Audit: the audit could not read its source.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl InputError {
    /// next_step says what to do about the error, where there is more to
    /// say than the error itself: every failure says what to do next.
    pub fn next_step(&self) -> Option<&'static str> {
        let is_log_json = |p: &Path| p.file_name().is_some_and(|n| n == "log.json");
        let fetch = match self {
            InputError::Read(f) => Some(f),
            InputError::Audit(AuditError::Read(regledger_client::Stop::Fetch(f))) => Some(f),
            _ => None,
        };
        if let InputError::Invalid { path, reason } = self {
            if is_log_json(path) || reason.contains("log descriptor") {
                return Some(LOG_JSON_HINT);
            }
        }
        if let InputError::Key { .. } = self {
            return Some(
                "a verifier key is NAME+HEX+BASE64, the log_vkey of log.json; or give --log log.json instead",
            );
        }
        match fetch? {
            FetchError::Missing(p) if is_log_json(p) => Some(LOG_JSON_HINT),
            FetchError::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound && is_log_json(path) => {
                Some(LOG_JSON_HINT)
            }
            FetchError::Missing(_) | FetchError::NotADirectory(_) => Some(
                "check the path (--dir is a tile directory: the node's DATA/tiles/, or a copy of it)",
            ),
            FetchError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Some(
                "check the path (--dir is a tile directory: the node's DATA/tiles/, or a copy of it)",
            ),
            FetchError::Network { .. } => Some(
                "is a node or mirror serving the log at that URL? Start it (`regledger-node serve`), \
                 check --url, or audit a copy of its tiles/ with --dir",
            ),
            FetchError::Status { .. } | FetchError::NotServed(_) => {
                Some("--url must be the log's base URL, the one that serves /checkpoint and /tile/…")
            }
            _ => None,
        }
    }
}

/// LOG_JSON_HINT says where a log's descriptor comes from.
const LOG_JSON_HINT: &str = "log.json is the log's descriptor: DATA/log.json in the node's data directory, \
     also served at GET /log.json; a regulator obtains it through a channel it trusts, not from the node it checks";

/// read_file reads a whole input file, refusing anything but a regular
/// file of at most [`MAX_INPUT_BYTES`]. Every path a command is given is
/// read through it.
///
/// # Errors
///
/// [`InputError::Read`]: missing, not a regular file, unreadable or too large.
pub fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    read_bounded(path, MAX_INPUT_BYTES)?
        .ok_or_else(|| InputError::Read(FetchError::Missing(path.to_path_buf())))
}

/// key_text returns a key given either as its text or as a path to a file holding it.
fn key_text(arg: &str) -> Result<String, InputError> {
    let p = Path::new(arg);
    if !arg.contains('+') || p.is_file() {
        let b = read_file(p)?;
        let s = String::from_utf8(b).map_err(|_| InputError::NotUtf8(arg.to_string()))?;
        return Ok(s.trim().to_string());
    }
    Ok(arg.trim().to_string())
}

/// verifier_key parses a vkey given inline or as a file.
///
/// # Errors
///
/// [`InputError::Read`] for an unreadable file, [`InputError::Key`] for a
/// key that does not parse.
pub fn verifier_key(arg: &str) -> Result<VerifierKey, InputError> {
    let t = key_text(arg)?;
    VerifierKey::parse(&t).map_err(|e| InputError::Key {
        arg: arg.to_string(),
        reason: e.to_string(),
    })
}

/// verifier_keys parses a list of vkeys.
///
/// # Errors
///
/// As [`verifier_key`], for the first that fails.
pub fn verifier_keys(args: &[String]) -> Result<Vec<VerifierKey>, InputError> {
    args.iter().map(|a| verifier_key(a)).collect()
}

/// suite parses a --hash value.
///
/// # Errors
///
/// [`InputError::UnknownHash`].
pub fn suite(name: &str) -> Result<HashSuite, InputError> {
    HashSuite::from_name(name).ok_or_else(|| InputError::UnknownHash(name.to_string()))
}

/// hash_hex parses a 64-digit hex hash.
///
/// # Errors
///
/// [`InputError::NotAHash`].
pub fn hash_hex(s: &str) -> Result<Hash, InputError> {
    Hash::from_hex(s.trim()).ok_or_else(|| InputError::NotAHash(s.to_string()))
}

/// quorum resolves --quorum: by default every named witness must cosign.
///
/// # Errors
///
/// [`InputError::Quorum`] if it exceeds the witnesses given.
pub fn quorum(q: Option<usize>, witnesses: usize) -> Result<usize, InputError> {
    match q {
        Some(k) if k > witnesses => Err(InputError::Quorum {
            quorum: k,
            witnesses,
        }),
        Some(k) => Ok(k),
        None => Ok(witnesses),
    }
}

/// invalid is an [`InputError::Invalid`] of `path`.
pub fn invalid(path: &Path, reason: impl std::fmt::Display) -> InputError {
    InputError::Invalid {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// SUITE_NAMES are the hash suite names a log may name. A name this build
/// does not know (`HashSuite::from_name` says None) is skipped, so the
/// list may name a suite before every build has it.
const SUITE_NAMES: &[&str] = &["sha256", "blake3", "sm3"];

/// known_suites returns the names of the hash suites this build knows.
pub fn known_suites() -> Vec<&'static str> {
    SUITE_NAMES
        .iter()
        .copied()
        .filter(|n| HashSuite::from_name(n).is_some())
        .collect()
}

/// Trust is what a proof is checked against: the log's hash suite, its
/// key and witnesses, and where they came from.
pub struct Trust {
    /// suite is the log's hash suite.
    pub suite: HashSuite,
    /// log is the log's verifier key.
    pub log: VerifierKey,
    /// witnesses are the witnesses' verifier keys.
    pub witnesses: Vec<VerifierKey>,
    /// quorum is how many of them must cosign.
    pub quorum: usize,
    /// from_log: the suite and keys come from a log.json (not flags).
    pub from_log: bool,
}

/// trust resolves `--log log.json` (suite, key, witnesses and quorum as the
/// descriptor says) or the generic C2SP flags `--vkey`, `--hash` (default
/// sha256), `--witness` and `--quorum`.
///
/// # Errors
///
/// An unreadable or invalid log.json or key, an unknown hash, a quorum
/// above the witnesses, or neither `--log` nor `--vkey`.
pub fn trust(
    log: Option<&Path>,
    vkey: Option<&str>,
    hash: Option<&str>,
    witnesses: &[String],
    q: Option<usize>,
) -> Result<Trust, InputError> {
    if let Some(p) = log {
        let d = LogDescriptor::parse(&read_file(p)?).map_err(|e| invalid(p, e))?;
        return Ok(Trust {
            suite: d.suite,
            log: d.log_key,
            witnesses: d.witnesses,
            quorum: d.quorum,
            from_log: true,
        });
    }
    let Some(vkey) = vkey else {
        return Err(InputError::Usage(
            "give --log log.json (a regledger log) or --vkey VKEY [--hash SUITE] (any C2SP log)",
        ));
    };
    let ws = verifier_keys(witnesses)?;
    Ok(Trust {
        suite: suite(hash.unwrap_or("sha256"))?,
        log: verifier_key(vkey)?,
        quorum: quorum(q, ws.len())?,
        witnesses: ws,
        from_log: false,
    })
}

impl Trust {
    /// mismatch explains a proof that leads to another root: it names the
    /// suite used and where it came from and, when another suite this
    /// build knows would have verified (`verifies(suite)`), says so, so a
    /// wrong `--hash` is not read as tampering.
    pub fn mismatch(&self, what: &str, verifies: impl Fn(HashSuite) -> bool) -> String {
        let source = if self.from_log {
            "from log.json"
        } else {
            "from --hash; sha256 unless given"
        };
        let mut m = format!("{what} (hash suite {}, {source})", self.suite.name());
        let other = known_suites()
            .into_iter()
            .filter_map(HashSuite::from_name)
            .find(|s| *s != self.suite && verifies(*s));
        match (other, self.from_log) {
            (Some(o), false) => m.push_str(&format!(
                "; with {o} it verifies: this log's log.json says {o}? Pass --log log.json (or --hash {o}); the data is not shown to be tampered with"
            )),
            (Some(o), true) => m.push_str(&format!(
                "; it would verify with {o}, which is not the suite this log.json names: the proof is not from this log"
            )),
            (None, false) => m.push_str(
                "; regledger logs are blake3 unless created with --hash sha256: pass --log log.json to take the suite from the log",
            ),
            (None, true) => {}
        }
        m
    }
}
