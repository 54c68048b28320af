//! `regledger-verify digest`: the digest a filing carries of a document
//! (`document_blake3`, `evidence_blake3`), in the log's hash suite, for
//! the platform that files it and the regulator who compares it with the
//! paper file. The document itself is never in the log.

use std::path::PathBuf;

use regledger::descriptor::LogDescriptor;
use serde_json::json;

use crate::input::{self, InputError};
use crate::outcome::Outcome;

/// Arguments of `digest`.
#[derive(clap::Args)]
pub struct Args {
    /// The document file.
    pub file: PathBuf,
    /// The log descriptor (log.json): the digest is computed in its hash suite.
    #[arg(long, conflicts_with = "hash")]
    pub log: Option<PathBuf>,
    /// The hash suite by name instead (default blake3, regledger's default).
    #[arg(long)]
    pub hash: Option<String>,
}

/// run prints the file's digest: the hex digest, two spaces and the file
/// name (the layout of `b3sum` and `sha256sum`, whose output it equals).
pub fn run(a: &Args) -> Outcome {
    let prep = || -> Result<_, InputError> {
        let suite = match &a.log {
            Some(p) => {
                LogDescriptor::parse(&input::read_file(p)?)
                    .map_err(|e| input::invalid(p, e))?
                    .suite
            }
            None => input::suite(a.hash.as_deref().unwrap_or("blake3"))?,
        };
        Ok((suite, input::read_file(&a.file)?))
    };
    let (suite, bytes) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input_error(e),
    };
    // The plain digest of the bytes in the suite (not a leaf hash).
    let d = suite.digest(&[&bytes]);
    Outcome::Verified {
        text: format!("{d}  {}\n", a.file.display()),
        json: json!({"digest": d.to_hex(), "hash": suite.name(), "file": a.file, "bytes": bytes.len()}),
    }
}
