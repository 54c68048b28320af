//! Reading command inputs: files, keys given inline or as files, hashes.

use std::path::Path;

use regledger::note::VerifierKey;
use regledger::{Hash, HashSuite};

/// MAX_INPUT_BYTES bounds every file the verifier reads whole.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// read_file reads a whole file, refusing anything over [`MAX_INPUT_BYTES`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_INPUT_BYTES {
        return Err(format!(
            "{}: larger than {MAX_INPUT_BYTES} bytes",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
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
