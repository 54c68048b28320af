//! `regledger-verify checkpoint`: a signed checkpoint note.

use std::path::PathBuf;

use regledger::tlog::checkpoint::open_witnessed_checkpoint;
use serde_json::json;

use crate::input::{self, InputError};
use crate::outcome::Outcome;

/// Arguments of `checkpoint`.
#[derive(clap::Args)]
pub struct Args {
    /// The signed checkpoint note file.
    pub file: PathBuf,
    /// The log's verifier key (the key text, or a file holding it).
    #[arg(long)]
    pub vkey: String,
    /// A witness verifier key (text or file); repeat for each witness.
    #[arg(long = "witness")]
    pub witnesses: Vec<String>,
    /// How many of the witnesses must cosign (default: all given).
    #[arg(long)]
    pub quorum: Option<usize>,
}

/// run verifies the checkpoint.
pub fn run(a: &Args) -> Outcome {
    let prep = || -> Result<_, InputError> {
        let note = input::read_file(&a.file)?;
        let log = input::verifier_key(&a.vkey)?;
        let ws = input::verifier_keys(&a.witnesses)?;
        let q = input::quorum(a.quorum, ws.len())?;
        Ok((note, log, ws, q))
    };
    let (note, log, ws, q) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input_error(e),
    };
    match open_witnessed_checkpoint(&note, &log, &ws, q) {
        Ok(v) => {
            let cp = v.checkpoint;
            let names: Vec<&str> = v.witnesses.iter().map(|w| w.name()).collect();
            Outcome::Verified {
                text: format!(
                    "OK: checkpoint verified\norigin: {}\nsize: {}\nroot: {}\nwitnesses: {} of {} (quorum {q})\n",
                    cp.origin,
                    cp.size,
                    cp.root,
                    names.len(),
                    ws.len()
                ),
                json: json!({"origin": cp.origin, "size": cp.size, "root": cp.root.to_hex(), "witnesses": names, "quorum": q}),
            }
        }
        Err(e) => Outcome::fail(format!("checkpoint: {e}")),
    }
}
