//! `regledger-verify consistency`: two checkpoints and the proof between them.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::tlog::checkpoint::open_checkpoint;
use regledger::tlog::proof::{verify_consistency, ProofError};
use regledger::Hash;
use serde_json::json;

use crate::input::{self, InputError};
use crate::outcome::Outcome;

/// Arguments of `consistency`.
#[derive(clap::Args)]
pub struct Args {
    /// The log descriptor (log.json): the hash suite and log key are taken from it.
    #[arg(long, conflicts_with_all = ["vkey", "hash"])]
    pub log: Option<PathBuf>,
    /// The log's verifier key (the key text, or a file holding it), for a log without log.json.
    #[arg(long, required_unless_present = "log")]
    pub vkey: Option<String>,
    /// The older signed checkpoint.
    #[arg(long)]
    pub old: PathBuf,
    /// The newer signed checkpoint.
    #[arg(long)]
    pub new: PathBuf,
    /// The consistency proof: one base64 hash per line (tlog-witness layout).
    #[arg(long)]
    pub proof: PathBuf,
    /// The log's hash with --vkey: sha256 (the default) or blake3.
    #[arg(long)]
    pub hash: Option<String>,
}

/// parse_proof_lines reads one base64 hash per line; blank lines are not allowed.
///
/// # Errors
///
/// [`InputError::Proof`] naming the first line that is not a hash.
pub fn parse_proof_lines(b: &[u8]) -> Result<Vec<Hash>, InputError> {
    let t = std::str::from_utf8(b).map_err(|_| InputError::Proof("proof is not UTF-8".into()))?;
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
                .ok_or_else(|| {
                    InputError::Proof(format!("proof line {} is not base64 of 32 bytes", i + 1))
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| {
            if v.len() > 64 {
                Err(InputError::Proof("proof has more than 64 lines".into()))
            } else {
                Ok(v)
            }
        })
}

/// run verifies both checkpoints and their consistency.
pub fn run(a: &Args) -> Outcome {
    let prep = || -> Result<_, InputError> {
        // Witnesses are not checked here: only the log's signature on each checkpoint.
        let t = input::trust(
            a.log.as_deref(),
            a.vkey.as_deref(),
            a.hash.as_deref(),
            &[],
            None,
        )?;
        let old = input::read_file(&a.old)?;
        let new = input::read_file(&a.new)?;
        let proof = parse_proof_lines(&input::read_file(&a.proof)?)?;
        Ok((t, old, new, proof))
    };
    let (t, old, new, proof) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input_error(e),
    };
    let old = match open_checkpoint(&old, &t.log) {
        Ok(v) => v.checkpoint,
        Err(e) => return Outcome::fail(format!("old checkpoint: {e}")),
    };
    let new = match open_checkpoint(&new, &t.log) {
        Ok(v) => v.checkpoint,
        Err(e) => return Outcome::fail(format!("new checkpoint: {e}")),
    };
    let check = |s| verify_consistency(s, old.size, new.size, &proof, &old.root, &new.root);
    match check(t.suite) {
        Ok(()) => Outcome::Verified {
            text: format!(
                "OK: {} size {} is consistent with size {}\nhash suite: {}\nold root: {}\nnew root: {}\n",
                new.origin, new.size, old.size, t.suite, old.root, new.root
            ),
            json: json!({"origin": new.origin, "old_size": old.size, "new_size": new.size, "hash": t.suite.name(),
                         "old_root": old.root.to_hex(), "new_root": new.root.to_hex()}),
        },
        Err(e) => {
            let what = format!("consistency proof {} -> {}: {e}", old.size, new.size);
            let reason = match e {
                ProofError::RootMismatch | ProofError::OldRootMismatch => {
                    t.mismatch(&what, |s| check(s).is_ok())
                }
                _ => what,
            };
            Outcome::Failed {
                reason,
                json: json!({"old_size": old.size, "new_size": new.size, "hash": t.suite.name(),
                             "old_root": old.root.to_hex(), "new_root": new.root.to_hex()}),
                text: String::new(),
            }
        }
    }
}
