//! C2SP tlog-witness (<https://c2sp.org/tlog-witness>): the bodies of
//! `POST /add-checkpoint`, its request and its answers. Sending them is the
//! node's business (its witness client and witness server); this module
//! only writes and reads the bytes, so the two sides cannot drift apart.
//!
//! ```text
//! old <decimal size the witness last cosigned>
//! <base64 consistency proof hash>      (zero or more)
//!
//! <signed checkpoint, verbatim>
//! ```
//!
//! A witness answers 200 with its cosignature lines (`— <name> <base64>`,
//! see [`crate::tlog::cosignature`]), or 409 with its own size
//! (`text/x.tlog.size`, one decimal line) when `old` is not the size it
//! last cosigned.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::tlog::checkpoint::parse_size;
use crate::tlog::hash::Hash;

/// MAX_PROOF_HASHES bounds the consistency proof of a request (a tree of
/// 2^63 leaves needs fewer).
pub const MAX_PROOF_HASHES: usize = 63;

/// SIZE_CONTENT_TYPE is the content type of a 409 answer that carries the
/// witness's size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// WitnessError says why an add-checkpoint body was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum WitnessError {
    /// Malformed: the body breaks the tlog-witness grammar.
    #[error("{0}")]
    Malformed(&'static str),
}

/// AddCheckpoint is an add-checkpoint request: the size the client thinks
/// the witness last cosigned, a consistency proof from it, and the note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// old is the size the witness is believed to have cosigned last (0 for none).
    pub old: u64,
    /// proof is the consistency proof from `old` to the checkpoint's size
    /// (empty when `old` is 0 or equals that size).
    pub proof: Vec<Hash>,
    /// note is the signed checkpoint, verbatim.
    pub note: Vec<u8>,
}

impl AddCheckpoint {
    /// to_body returns the request body.
    pub fn to_body(&self) -> Vec<u8> {
        let mut body = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            body.extend_from_slice(B64.encode(h.0).as_bytes());
            body.push(b'\n');
        }
        body.push(b'\n');
        body.extend_from_slice(&self.note);
        body
    }

    /// parse reads a request body strictly: `old` without leading zeros,
    /// each proof line base64 of 32 bytes, at most [`MAX_PROOF_HASHES`].
    ///
    /// # Errors
    ///
    /// [`WitnessError::Malformed`] names the first rule the body breaks.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, WitnessError> {
        let m = WitnessError::Malformed;
        let text = std::str::from_utf8(body).map_err(|_| m("body is not UTF-8"))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or(m("no blank line between the header and the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(parse_size)
            .ok_or(m("the first line must be `old <size>`"))?;
        let mut proof = Vec::new();
        for l in lines {
            let h = B64
                .decode(l)
                .ok()
                .and_then(|b| Hash::from_slice(&b))
                .ok_or(m("a proof line is not a base64 hash"))?;
            proof.push(h);
            if proof.len() > MAX_PROOF_HASHES {
                return Err(m("more than 63 proof hashes"));
            }
        }
        Ok(AddCheckpoint {
            old,
            proof,
            note: note.as_bytes().to_vec(),
        })
    }
}

/// size_body returns the body of a 409 answer: the witness's size.
pub fn size_body(size: u64) -> String {
    format!("{size}\n")
}

/// parse_size_body reads the size of a 409 answer.
pub fn parse_size_body(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok()
}

/// cosignature_lines returns the signature lines of a 200 answer (each
/// still to be verified against the checkpoint).
pub fn cosignature_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| l.starts_with("— "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_checkpoint_requests_parse_strictly() {
        let r = AddCheckpoint::parse(b"old 0\n\nlog\n1\nAAAA\n\n").unwrap();
        assert_eq!(r.old, 0);
        assert!(r.proof.is_empty());
        let h = B64.encode([7u8; 32]);
        let r = AddCheckpoint::parse(format!("old 5\n{h}\n{h}\n\nnote").as_bytes()).unwrap();
        assert_eq!((r.old, r.proof.len()), (5, 2));
        assert_eq!(r.note, b"note");
        assert_eq!(AddCheckpoint::parse(&r.to_body()).unwrap(), r);
        for bad in [
            &b"old 05\n\nx"[..],
            b"old x\n\nx",
            b"new 1\n\nx",
            b"old 1\nnot-base64!\n\nx",
            b"old 1\nAAAA\n\nx",
            b"old 1",
            b"\xff\xfe",
        ] {
            assert!(AddCheckpoint::parse(bad).is_err(), "{bad:?}");
        }
        let long = AddCheckpoint {
            old: 1,
            proof: vec![Hash([1; 32]); MAX_PROOF_HASHES + 1],
            note: b"n".to_vec(),
        };
        assert!(AddCheckpoint::parse(&long.to_body()).is_err());
    }

    #[test]
    fn size_answers_round_trip() {
        assert_eq!(parse_size_body(&size_body(42)), Some(42));
        assert_eq!(parse_size_body("x\n"), None);
        let lines: Vec<&str> = cosignature_lines("— w AAAA\nnoise\n— v BBBB\n").collect();
        assert_eq!(lines, vec!["— w AAAA", "— v BBBB"]);
    }
}
