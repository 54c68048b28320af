//! Reading command inputs: files, keys given inline or as files, hashes.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use regledger::tlog::note::VerifierKey;
use regledger::{Hash, HashSuite};

/// MAX_INPUT_BYTES bounds every file the verifier reads whole.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// open_regular opens `path` for reading if it is a regular file, and
/// refuses anything else (directory, device, FIFO, socket). It opens
/// without blocking, so that a FIFO cannot stall the open itself, then
/// checks the type of what it opened, so that nothing can be swapped in
/// between the check and the read. `Ok(None)`: the path does not exist.
pub fn open_regular(path: &Path) -> Result<Option<File>, String> {
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
                return Err(not_regular(path, &m.file_type()));
            }
        }
    }
    let f = match o.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let m = f
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !m.is_file() {
        return Err(not_regular(path, &m.file_type()));
    }
    Ok(Some(f))
}

fn not_regular(path: &Path, t: &std::fs::FileType) -> String {
    let what = if t.is_dir() {
        "a directory"
    } else {
        file_type_name(t)
    };
    format!(
        "{}: not a regular file ({what}); refused: give a copy of the file",
        path.display()
    )
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
pub fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, String> {
    let Some(f) = open_regular(path)? else {
        return Ok(None);
    };
    let mut buf = Vec::new();
    f.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if buf.len() as u64 > max {
        return Err(format!("{}: larger than {max} bytes", path.display()));
    }
    Ok(Some(buf))
}

/// read_file reads a whole input file, refusing anything but a regular
/// file of at most [`MAX_INPUT_BYTES`]. Every path a command is given is
/// read through it (or through [`read_bounded`]).
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    read_bounded(path, MAX_INPUT_BYTES)?
        .ok_or_else(|| format!("{}: No such file or directory", path.display()))
}

/// key_text returns a key given either as its text or as a path to a file holding it.
fn key_text(arg: &str) -> Result<String, String> {
    let p = Path::new(arg);
    if !arg.contains('+') || p.is_file() {
        let b = read_file(p)?;
        let s = String::from_utf8(b).map_err(|_| format!("{arg}: not UTF-8"))?;
        return Ok(s.trim().to_string());
    }
    Ok(arg.trim().to_string())
}

/// verifier_key parses a vkey given inline or as a file.
pub fn verifier_key(arg: &str) -> Result<VerifierKey, String> {
    let t = key_text(arg)?;
    VerifierKey::parse(&t).map_err(|e| format!("verifier key {arg:?}: {e}"))
}

/// verifier_keys parses a list of vkeys.
pub fn verifier_keys(args: &[String]) -> Result<Vec<VerifierKey>, String> {
    args.iter().map(|a| verifier_key(a)).collect()
}

/// suite parses a --hash value.
pub fn suite(name: &str) -> Result<HashSuite, String> {
    HashSuite::from_name(name)
        .ok_or_else(|| format!("unknown hash {name:?} (want sha256 or blake3)"))
}

/// hash_hex parses a 64-digit hex hash.
pub fn hash_hex(s: &str) -> Result<Hash, String> {
    Hash::from_hex(s.trim()).ok_or_else(|| format!("{s:?} is not a 64-digit hex hash"))
}

/// quorum resolves --quorum: by default every named witness must cosign.
pub fn quorum(q: Option<usize>, witnesses: usize) -> Result<usize, String> {
    match q {
        Some(k) if k > witnesses => Err(format!(
            "--quorum {k} exceeds the {witnesses} witnesses given"
        )),
        Some(k) => Ok(k),
        None => Ok(witnesses),
    }
}
