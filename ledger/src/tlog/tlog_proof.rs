//! C2SP tlog-proof (<https://c2sp.org/tlog-proof>): an offline-verifiable
//! proof that an entry is in a log, as one text file.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]
//! index <decimal, no leading zeros>
//! <base64 proof hash>            (zero or more, leaf's sibling first)
//!
//! <signed checkpoint, verbatim>
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::tlog::checkpoint::{open_witnessed_checkpoint, parse_size, Checkpoint, CheckpointError};
use crate::tlog::hash::{Hash, HashSuite};
use crate::tlog::note::VerifierKey;
use crate::tlog::proof::{verify_inclusion, ProofError};

/// HEADER is the first line of every tlog-proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// MAX_PROOF_BYTES bounds the size of a tlog-proof file this module parses.
pub const MAX_PROOF_BYTES: usize = 1 << 20;

/// MAX_PROOF_HASHES bounds the inclusion proof length (a 2^63-leaf tree needs 63).
pub const MAX_PROOF_HASHES: usize = 64;

/// TlogProofError says why a tlog-proof was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum TlogProofError {
    /// Malformed: the file breaks the tlog-proof grammar or a limit.
    #[error("malformed tlog-proof: {0}")]
    Malformed(&'static str),
    /// Checkpoint: the embedded checkpoint does not verify.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// Inclusion: the inclusion proof does not lead to the checkpoint's root.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
}

/// TlogProof is a parsed tlog-proof file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// extra is the optional, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// index is the entry's index in the log.
    pub index: u64,
    /// proof is the inclusion proof, bottom-up.
    pub proof: Vec<Hash>,
    /// checkpoint is the signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// parse reads a tlog-proof file.
    ///
    /// # Errors
    ///
    /// [`TlogProofError::Malformed`] naming the grammar rule broken.
    pub fn parse(b: &[u8]) -> Result<TlogProof, TlogProofError> {
        if b.len() > MAX_PROOF_BYTES {
            return Err(TlogProofError::Malformed("file too large"));
        }
        let text = std::str::from_utf8(b).map_err(|_| TlogProofError::Malformed("not UTF-8"))?;
        let mut rest = text;
        let mut next_line = |what: &'static str| -> Result<&str, TlogProofError> {
            let i = rest.find('\n').ok_or(TlogProofError::Malformed(what))?;
            let line = &rest[..i];
            rest = &rest[i + 1..];
            Ok(line)
        };
        if next_line("missing header")? != HEADER {
            return Err(TlogProofError::Malformed(
                "first line is not c2sp.org/tlog-proof@v1",
            ));
        }
        let mut line = next_line("missing index line")?;
        let mut extra = None;
        if let Some(e) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(e)
                    .map_err(|_| TlogProofError::Malformed("extra is not base64"))?,
            );
            line = next_line("missing index line")?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_size)
            .ok_or(TlogProofError::Malformed("bad index line"))?;
        let mut proof = Vec::new();
        loop {
            let l = next_line("missing blank line before the checkpoint")?;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(TlogProofError::Malformed("proof too long"));
            }
            let h = B64
                .decode(l)
                .ok()
                .and_then(|b| Hash::from_slice(&b))
                .ok_or(TlogProofError::Malformed(
                    "proof line is not base64 of 32 bytes",
                ))?;
            proof.push(h);
        }
        if rest.is_empty() {
            return Err(TlogProofError::Malformed("missing checkpoint"));
        }
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint: rest.to_string(),
        })
    }

    /// to_text formats the file.
    pub fn to_text(&self) -> String {
        let mut s = format!("{HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            s.push_str(&B64.encode(h.0));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }
}

/// verify_tlog_proof checks a tlog-proof for the leaf hash `leaf`: the
/// checkpoint's log signature and witness quorum, then the inclusion proof
/// against the checkpoint's root. It returns the verified checkpoint.
///
/// # Errors
///
/// [`TlogProofError::Checkpoint`] (see
/// [`crate::tlog::checkpoint::open_witnessed_checkpoint`]) or
/// [`TlogProofError::Inclusion`].
pub fn verify_tlog_proof(
    p: &TlogProof,
    suite: HashSuite,
    leaf: &Hash,
    log_key: &VerifierKey,
    witnesses: &[VerifierKey],
    quorum: usize,
) -> Result<Checkpoint, TlogProofError> {
    let vc = open_witnessed_checkpoint(p.checkpoint.as_bytes(), log_key, witnesses, quorum)?;
    let cp = vc.checkpoint;
    verify_inclusion(suite, cp.size, p.index, leaf, &p.proof, &cp.root)?;
    Ok(cp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::checkpoint::sign_checkpoint;
    use crate::tlog::memory::MemoryTree;
    use crate::tlog::note::{KeyType, Signer};

    fn sample() -> (TlogProof, Hash, Signer) {
        let log = Signer::generate("example.org/log", KeyType::Ed25519, [4; 32]).unwrap();
        let mut t = MemoryTree::new(HashSuite::Sha256);
        for i in 0..13u8 {
            t.append_data(&[i]);
        }
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 13,
            root: t.root(),
            extensions: vec![],
        };
        let p = TlogProof {
            extra: Some(b"ctx".to_vec()),
            index: 6,
            proof: t.prove_inclusion(13, 6).unwrap(),
            checkpoint: sign_checkpoint(&cp, &log).unwrap(),
        };
        (p, t.leaf_hash(6).unwrap(), log)
    }

    #[test]
    fn round_trip_verify_and_tamper() {
        let (p, leaf, log) = sample();
        let text = p.to_text();
        let q = TlogProof::parse(text.as_bytes()).unwrap();
        assert_eq!(q, p);
        verify_tlog_proof(&q, HashSuite::Sha256, &leaf, &log.verifier(), &[], 0).unwrap();
        let mut r = q.clone();
        r.index = 7;
        assert!(verify_tlog_proof(&r, HashSuite::Sha256, &leaf, &log.verifier(), &[], 0).is_err());
        assert!(verify_tlog_proof(&q, HashSuite::Blake3, &leaf, &log.verifier(), &[], 0).is_err());
        // Every single-bit flip of the file fails to parse or to verify.
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] ^= 0x01;
            if let Ok(x) = TlogProof::parse(&b) {
                if x.extra != q.extra
                    && x.index == q.index
                    && x.proof == q.proof
                    && x.checkpoint == q.checkpoint
                {
                    continue; // extra data is not authenticated, by design
                }
                assert!(
                    verify_tlog_proof(&x, HashSuite::Sha256, &leaf, &log.verifier(), &[], 0)
                        .is_err(),
                    "flip at byte {i} still verifies"
                );
            }
        }
    }

    #[test]
    fn hostile_files_are_rejected() {
        let (p, _, _) = sample();
        let t = p.to_text();
        for bad in [
            String::new(),
            "c2sp.org/tlog-proof@v2\nindex 1\n\nx".to_string(),
            t.replacen("index 6", "index 06", 1),
            t.replacen("index 6", "index -6", 1),
            t.replacen("index 6", "index", 1),
            t.replacen("extra Y3R4", "extra !!", 1),
            t.split("\n\n").next().unwrap().to_string(),
            format!("{HEADER}\nindex 1\n{}\n\ncp", "AAAA\n".repeat(3)),
            format!("{HEADER}\nindex 1\n{}\ncp", "A".repeat(44)),
            format!(
                "{HEADER}\nindex 1\n{}\n\ncp",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(65)
            ),
        ] {
            assert!(TlogProof::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(TlogProof::parse(&vec![b'a'; MAX_PROOF_BYTES + 1]).is_err());
        assert!(TlogProof::parse(b"c2sp.org/tlog-proof@v1\nindex 1\n\xff\n\ncp").is_err());
    }
}
