//! `regledger-verify proof`: a C2SP tlog-proof file.

use std::path::PathBuf;

use regledger::tlog::tlog_proof::{verify_tlog_proof, TlogProof};
use serde_json::json;

use crate::input;
use crate::outcome::Outcome;

/// Arguments of `proof`.
#[derive(clap::Args)]
pub struct Args {
    /// The tlog-proof file (c2sp.org/tlog-proof@v1).
    pub file: PathBuf,
    /// The log's verifier key (the key text, or a file holding it).
    #[arg(long)]
    pub vkey: String,
    /// The log's hash: sha256 (any C2SP log) or blake3 (regledger's default).
    #[arg(long, default_value = "sha256")]
    pub hash: String,
    /// A file whose bytes are the entry (hashed as an RFC 9162 leaf).
    #[arg(
        long,
        conflicts_with = "leaf_hash",
        required_unless_present = "leaf_hash"
    )]
    pub leaf: Option<PathBuf>,
    /// The leaf hash in hex.
    #[arg(long)]
    pub leaf_hash: Option<String>,
    /// A witness verifier key (text or file); repeat for each witness.
    #[arg(long = "witness")]
    pub witnesses: Vec<String>,
    /// How many of the witnesses must cosign (default: all given).
    #[arg(long)]
    pub quorum: Option<usize>,
}

/// run verifies the proof.
pub fn run(a: &Args) -> Outcome {
    let prep = || -> Result<_, String> {
        let suite = input::suite(&a.hash)?;
        let proof_bytes = input::read_file(&a.file)?;
        let proof =
            TlogProof::parse(&proof_bytes).map_err(|e| format!("{}: {e}", a.file.display()))?;
        let leaf = match (&a.leaf, &a.leaf_hash) {
            (Some(f), None) => suite.leaf_hash(&input::read_file(f)?),
            (None, Some(h)) => input::hash_hex(h)?,
            _ => return Err("give exactly one of --leaf and --leaf-hash".into()),
        };
        let log = input::verifier_key(&a.vkey)?;
        let ws = input::verifier_keys(&a.witnesses)?;
        let q = input::quorum(a.quorum, ws.len())?;
        Ok((suite, proof, leaf, log, ws, q))
    };
    let (suite, proof, leaf, log, ws, q) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input(e),
    };
    match verify_tlog_proof(&proof, suite, &leaf, &log, &ws, q) {
        Ok(cp) => Outcome::Verified {
            text: format!(
                "OK: entry {} is included in {} at size {}\nleaf hash: {leaf}\nroot: {}\n",
                proof.index, cp.origin, cp.size, cp.root
            ),
            json: json!({"origin": cp.origin, "index": proof.index, "size": cp.size,
                         "root": cp.root.to_hex(), "leaf_hash": leaf.to_hex(), "quorum": q}),
        },
        Err(e) => Outcome::fail(e.to_string()),
    }
}
