//! `regledger-verify proof`: a C2SP tlog-proof file, against a regledger
//! `log.json` (`--log`: suite, key and witnesses from the descriptor) or
//! any C2SP log (`--vkey`, `--hash`, `--witness`, `--quorum`).

use std::path::PathBuf;

use regledger::tlog::proof::ProofError;
use regledger::tlog::tlog_proof::{verify_tlog_proof, TlogProof, TlogProofError};
use regledger::{Hash, HashSuite};
use serde_json::json;

use crate::input::{self, InputError};
use crate::outcome::Outcome;

/// Arguments of `proof`.
#[derive(clap::Args)]
pub struct Args {
    /// The tlog-proof file (c2sp.org/tlog-proof@v1).
    pub file: PathBuf,
    /// The log descriptor (log.json): the hash suite, log key, witnesses and quorum are taken from it.
    #[arg(long, conflicts_with_all = ["vkey", "hash", "witnesses", "quorum"])]
    pub log: Option<PathBuf>,
    /// The log's verifier key (the key text, or a file holding it), for a log without log.json.
    #[arg(long, required_unless_present = "log")]
    pub vkey: Option<String>,
    /// The log's hash with --vkey: sha256 (the default; any C2SP log) or blake3 (regledger's default).
    #[arg(long)]
    pub hash: Option<String>,
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
    let prep = || -> Result<_, InputError> {
        let t = input::trust(
            a.log.as_deref(),
            a.vkey.as_deref(),
            a.hash.as_deref(),
            &a.witnesses,
            a.quorum,
        )?;
        let proof_bytes = input::read_file(&a.file)?;
        let proof = TlogProof::parse(&proof_bytes).map_err(|e| input::invalid(&a.file, e))?;
        let leaf_data = a.leaf.as_deref().map(input::read_file).transpose()?;
        let given = a.leaf_hash.as_deref().map(input::hash_hex).transpose()?;
        Ok((t, proof, leaf_data, given))
    };
    let (t, proof, leaf_data, given) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input_error(e),
    };
    // The leaf hash in a suite: the file's bytes hashed as a leaf, or the hash given.
    let leaf_in = |s: HashSuite| -> Hash {
        match (&leaf_data, &given) {
            (Some(d), _) => s.leaf_hash(d),
            (None, Some(h)) => *h,
            (None, None) => unreachable!("clap requires --leaf or --leaf-hash"),
        }
    };
    let leaf = leaf_in(t.suite);
    match verify_tlog_proof(&proof, t.suite, &leaf, &t.log, &t.witnesses, t.quorum) {
        Ok(cp) => Outcome::Verified {
            text: format!(
                "OK: entry {} is included in {} at size {}\nhash suite: {}\nleaf hash: {leaf}\nroot: {}\n",
                proof.index, cp.origin, cp.size, t.suite, cp.root
            ),
            json: json!({"origin": cp.origin, "index": proof.index, "size": cp.size, "hash": t.suite.name(),
                         "root": cp.root.to_hex(), "leaf_hash": leaf.to_hex(), "quorum": t.quorum}),
        },
        Err(TlogProofError::Inclusion(ProofError::RootMismatch)) => {
            Outcome::fail(t.mismatch("inclusion proof: computed root does not match", |s| {
                verify_tlog_proof(&proof, s, &leaf_in(s), &t.log, &t.witnesses, t.quorum).is_ok()
            }))
        }
        Err(e) => Outcome::fail(e.to_string()),
    }
}
