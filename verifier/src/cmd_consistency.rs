//! `regledger-verify consistency`: two checkpoints and the proof between them.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::tlog::checkpoint::open_checkpoint;
use regledger::tlog::proof::verify_consistency;
use regledger::Hash;
use serde_json::json;

use crate::input;
use crate::outcome::Outcome;

/// Arguments of `consistency`.
#[derive(clap::Args)]
pub struct Args {
    /// The log's verifier key (the key text, or a file holding it).
    #[arg(long)]
    pub vkey: String,
    /// The older signed checkpoint.
    #[arg(long)]
    pub old: PathBuf,
    /// The newer signed checkpoint.
    #[arg(long)]
    pub new: PathBuf,
    /// The consistency proof: one base64 hash per line (tlog-witness layout).
    #[arg(long)]
    pub proof: PathBuf,
    /// The log's hash: sha256 or blake3.
    #[arg(long, default_value = "sha256")]
    pub hash: String,
}

/// parse_proof_lines reads one base64 hash per line; blank lines are not allowed.
pub fn parse_proof_lines(b: &[u8]) -> Result<Vec<Hash>, String> {
    let t = std::str::from_utf8(b).map_err(|_| "proof is not UTF-8".to_string())?;
    if t.is_empty() {
        return Ok(Vec::new());
    }
    let t = t.strip_suffix('\n').unwrap_or(t);
    t.split('\n')
        .enumerate()
        .map(|(i, l)| {
            B64.decode(l.trim_end_matches('\r'))
                .ok()
                .and_then(|b| Hash::from_slice(&b))
                .ok_or_else(|| format!("proof line {} is not base64 of 32 bytes", i + 1))
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| {
            if v.len() > 64 {
                Err("proof has more than 64 lines".to_string())
            } else {
                Ok(v)
            }
        })
}

/// run verifies both checkpoints and their consistency.
pub fn run(a: &Args) -> Outcome {
    let prep = || -> Result<_, String> {
        let suite = input::suite(&a.hash)?;
        let log = input::verifier_key(&a.vkey)?;
        let old = input::read_file(&a.old)?;
        let new = input::read_file(&a.new)?;
        let proof = parse_proof_lines(&input::read_file(&a.proof)?)?;
        Ok((suite, log, old, new, proof))
    };
    let (suite, log, old, new, proof) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input(e),
    };
    let old = match open_checkpoint(&old, &log) {
        Ok(v) => v.checkpoint,
        Err(e) => return Outcome::fail(format!("old checkpoint: {e}")),
    };
    let new = match open_checkpoint(&new, &log) {
        Ok(v) => v.checkpoint,
        Err(e) => return Outcome::fail(format!("new checkpoint: {e}")),
    };
    match verify_consistency(suite, old.size, new.size, &proof, &old.root, &new.root) {
        Ok(()) => Outcome::Verified {
            text: format!(
                "OK: {} size {} is consistent with size {}\nold root: {}\nnew root: {}\n",
                new.origin, new.size, old.size, old.root, new.root
            ),
            json: json!({"origin": new.origin, "old_size": old.size, "new_size": new.size,
                         "old_root": old.root.to_hex(), "new_root": new.root.to_hex()}),
        },
        Err(e) => Outcome::Failed {
            reason: format!("consistency proof {} -> {}: {e}", old.size, new.size),
            json: json!({"old_size": old.size, "new_size": new.size,
                         "old_root": old.root.to_hex(), "new_root": new.root.to_hex()}),
            text: String::new(),
        },
    }
}
