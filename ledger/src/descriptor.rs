//! Log descriptors: `log.json`, everything a verifier needs to trust a log and
//! nothing secret (see CONTRACT.md, "Keys and log descriptors";
//! schemas/FORMATS.md), and the verification of a log's checkpoints against
//! it: [`verify_checkpoint`] (log key, origin and witness quorum) and
//! [`verify_log_signature`] (log key and origin).
//!
//! These live here rather than in [`crate::tlog::checkpoint`] because it
//! is the descriptor that says what to trust; the generic, origin-blind
//! functions are [`crate::tlog::checkpoint::open_checkpoint`] and
//! [`crate::tlog::checkpoint::open_witnessed_checkpoint`].

use serde::{Deserialize, Serialize};

use crate::tlog::checkpoint::{
    open_checkpoint, open_witnessed_checkpoint, CheckpointError, VerifiedCheckpoint,
};
use crate::tlog::hash::HashSuite;
use crate::tlog::note::{KeyType, VerifierKey};

/// MAX_DESCRIPTOR_BYTES bounds the size of a `log.json` a verifier will parse.
pub const MAX_DESCRIPTOR_BYTES: usize = 64 * 1024;

/// MAX_WITNESSES bounds the witness list of a descriptor (C2SP signed-note allows 100 signatures).
pub const MAX_WITNESSES: usize = 99;

/// DescriptorError says why a `log.json` was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DescriptorError {
    /// TooLarge: the file is over [`MAX_DESCRIPTOR_BYTES`].
    #[error("log descriptor is larger than {MAX_DESCRIPTOR_BYTES} bytes")]
    TooLarge,
    /// Json: the file is not the JSON object CONTRACT.md describes.
    #[error("log descriptor is not valid JSON of the expected shape: {0}")]
    Json(String),
    /// UnknownHash: the `hash` field names no supported suite.
    #[error("unknown hash suite {0:?} (want \"sha256\", \"blake3\" or \"sm3\")")]
    UnknownHash(String),
    /// BadLogKey: `log_vkey` does not parse as a note verifier key, or is
    /// not of the suite's algorithm (an `sm3` log's key is SM2, D19).
    #[error("log_vkey is not a valid verifier key for this log: {0}")]
    BadLogKey(String),
    /// BadWitnessKey: a witness key does not parse.
    #[error("witness key {index} is not a valid verifier key: {reason}")]
    BadWitnessKey {
        /// index is the position in `witnesses`.
        index: usize,
        /// reason is the parser's message.
        reason: String,
    },
    /// Quorum: the quorum is larger than the witness list.
    #[error("quorum {quorum} is larger than the {witnesses} witnesses listed")]
    Quorum {
        /// quorum is the requested k.
        quorum: usize,
        /// witnesses is n.
        witnesses: usize,
    },
    /// OriginMismatch: the log key's name is not the origin.
    #[error("log_vkey name {key:?} differs from origin {origin:?}")]
    OriginMismatch {
        /// key is the key's name.
        key: String,
        /// origin is the descriptor's origin.
        origin: String,
    },
    /// TooManyWitnesses: over [`MAX_WITNESSES`].
    #[error("more than {MAX_WITNESSES} witnesses")]
    TooManyWitnesses,
}

/// LogDescriptorJson is the wire form of `log.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogDescriptorJson {
    /// origin is the checkpoint origin line of the log.
    pub origin: String,
    /// log_vkey is the log's C2SP verifier key.
    pub log_vkey: String,
    /// hash is the hash suite name.
    pub hash: String,
    /// witnesses are the cosigning witnesses' verifier keys.
    #[serde(default)]
    pub witnesses: Vec<String>,
    /// quorum is how many witnesses must cosign a checkpoint.
    #[serde(default)]
    pub quorum: usize,
    /// profile is the policy profile fixed in genesis.
    pub profile: String,
}

/// LogDescriptor is a parsed and checked `log.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogDescriptor {
    /// origin is the checkpoint origin line of the log.
    pub origin: String,
    /// log_key verifies the log's checkpoints.
    pub log_key: VerifierKey,
    /// suite is the log's hash suite.
    pub suite: HashSuite,
    /// witnesses verify cosignatures.
    pub witnesses: Vec<VerifierKey>,
    /// quorum is how many witnesses must cosign.
    pub quorum: usize,
    /// profile is the policy profile name.
    pub profile: String,
}

impl LogDescriptor {
    /// parse reads and checks a `log.json`.
    ///
    /// # Errors
    ///
    /// [`DescriptorError::TooLarge`], [`DescriptorError::Json`], or an error of
    /// [`LogDescriptor::from_json`].
    pub fn parse(bytes: &[u8]) -> Result<LogDescriptor, DescriptorError> {
        if bytes.len() > MAX_DESCRIPTOR_BYTES {
            return Err(DescriptorError::TooLarge);
        }
        let j: LogDescriptorJson =
            serde_json::from_slice(bytes).map_err(|e| DescriptorError::Json(e.to_string()))?;
        LogDescriptor::from_json(&j)
    }

    /// from_json checks a decoded `log.json`.
    ///
    /// # Errors
    ///
    /// A [`DescriptorError`]: an unknown hash suite, a log or witness key that
    /// does not parse, a log key not named after the origin, too many
    /// witnesses, or a quorum above their number.
    pub fn from_json(j: &LogDescriptorJson) -> Result<LogDescriptor, DescriptorError> {
        let suite = HashSuite::from_name(&j.hash)
            .ok_or_else(|| DescriptorError::UnknownHash(j.hash.clone()))?;
        let log_key = VerifierKey::parse(&j.log_vkey)
            .map_err(|e| DescriptorError::BadLogKey(e.to_string()))?;
        if log_key.name() != j.origin {
            return Err(DescriptorError::OriginMismatch {
                key: log_key.name().to_string(),
                origin: j.origin.clone(),
            });
        }
        // An sm3 log is signed and cosigned with SM2 only: a verifier
        // reading its log.json is never led to trust an Ed25519 signature.
        let sm3 = suite == HashSuite::Sm3;
        if sm3 && log_key.key_type() != KeyType::Sm2 {
            return Err(DescriptorError::BadLogKey(format!(
                "an sm3 log's key is SM2, this one is {}",
                log_key.key_type().name()
            )));
        }
        if j.witnesses.len() > MAX_WITNESSES {
            return Err(DescriptorError::TooManyWitnesses);
        }
        let mut witnesses = Vec::with_capacity(j.witnesses.len());
        for (index, w) in j.witnesses.iter().enumerate() {
            let k = VerifierKey::parse(w).map_err(|e| DescriptorError::BadWitnessKey {
                index,
                reason: e.to_string(),
            })?;
            if sm3 && k.key_type() != KeyType::Sm2CosignatureV1 {
                return Err(DescriptorError::BadWitnessKey {
                    index,
                    reason: format!(
                        "an sm3 log's witnesses cosign with SM2 (keygen --type sm2-witness), this key is {}",
                        k.key_type().name()
                    ),
                });
            }
            witnesses.push(k);
        }
        if j.quorum > witnesses.len() {
            return Err(DescriptorError::Quorum {
                quorum: j.quorum,
                witnesses: witnesses.len(),
            });
        }
        Ok(LogDescriptor {
            origin: j.origin.clone(),
            log_key,
            suite,
            witnesses,
            quorum: j.quorum,
            profile: j.profile.clone(),
        })
    }

    /// to_json returns the wire form.
    pub fn to_json(&self) -> LogDescriptorJson {
        LogDescriptorJson {
            origin: self.origin.clone(),
            log_vkey: self.log_key.to_vkey(),
            hash: self.suite.name().to_string(),
            witnesses: self.witnesses.iter().map(|w| w.to_vkey()).collect(),
            quorum: self.quorum,
            profile: self.profile.clone(),
        }
    }
}

/// verify_checkpoint checks a signed checkpoint of the log `log` describes
/// (the model is Go's `note.Open`): signed by the log key, cosigned by at
/// least `log.quorum` of `log.witnesses`, and naming `log.origin`.
/// Signatures by keys `log.json` does not list are ignored; a listed key
/// whose signature fails refuses the note.
///
/// # Errors
///
/// - [`CheckpointError::Note`]: the note is malformed, or a listed key's signature fails.
/// - [`CheckpointError::Malformed`]: the body is not a checkpoint.
/// - [`CheckpointError::NotSignedByLog`]: no valid signature by the log key.
/// - [`CheckpointError::Quorum`]: too few witnesses cosigned.
/// - [`CheckpointError::WrongOrigin`]: the checkpoint names another log.
pub fn verify_checkpoint(
    note: &[u8],
    log: &LogDescriptor,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    let v = open_witnessed_checkpoint(note, &log.log_key, &log.witnesses, log.quorum)?;
    check_origin(v, &log.origin)
}

/// verify_log_signature checks that a checkpoint is signed by the log key
/// and names `log.origin`, without asking for cosignatures (none is checked,
/// not even a listed witness's): for a checkpoint a verifier already
/// trusts, or one a witness is asked to cosign.
///
/// # Errors
///
/// As [`verify_checkpoint`], without [`CheckpointError::Quorum`].
pub fn verify_log_signature(
    note: &[u8],
    log: &LogDescriptor,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    let v = open_checkpoint(note, &log.log_key)?;
    check_origin(v, &log.origin)
}

fn check_origin(
    v: VerifiedCheckpoint,
    origin: &str,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    if v.checkpoint.origin != origin {
        return Err(CheckpointError::WrongOrigin {
            got: v.checkpoint.origin,
            want: origin.to_string(),
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::checkpoint::{sign_checkpoint, Checkpoint};
    use crate::tlog::cosignature::{add_signatures, cosign};
    use crate::tlog::hash::Hash;
    use crate::tlog::note::{sign_note, KeyType, Signer};

    #[test]
    fn verify_checks_key_origin_and_quorum() {
        let log = Signer::generate("example.org/log", KeyType::Ed25519, [1; 32]).unwrap();
        let w = Signer::generate("witness", KeyType::CosignatureV1, [3; 32]).unwrap();
        let d = LogDescriptor::from_json(&LogDescriptorJson {
            origin: "example.org/log".into(),
            log_vkey: log.verifier().to_vkey(),
            hash: "sha256".into(),
            witnesses: vec![w.verifier().to_vkey()],
            quorum: 1,
            profile: "guangxi".into(),
        })
        .unwrap();
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 5,
            root: Hash([9; 32]),
            extensions: vec![],
        };
        let note = sign_checkpoint(&cp, &log).unwrap();
        assert!(matches!(
            verify_checkpoint(note.as_bytes(), &d),
            Err(CheckpointError::Quorum { got: 0, want: 1 })
        ));
        assert_eq!(
            verify_log_signature(note.as_bytes(), &d)
                .unwrap()
                .checkpoint,
            cp
        );
        let sig = cosign(&w, &cp.to_text(), 1234).unwrap();
        let cosigned = add_signatures(&note, &[sig]).unwrap();
        let v = verify_checkpoint(cosigned.as_bytes(), &d).unwrap();
        assert_eq!(v.witnesses, vec![w.verifier()]);
        // The same key signing another origin: refused by both.
        let wrong = Checkpoint {
            origin: "other".into(),
            ..cp.clone()
        };
        let n2 = sign_note(&wrong.to_text(), &[&log]).unwrap();
        for r in [
            verify_log_signature(n2.as_bytes(), &d),
            verify_checkpoint(
                add_signatures(&n2, &[cosign(&w, &wrong.to_text(), 1).unwrap()])
                    .unwrap()
                    .as_bytes(),
                &d,
            ),
        ] {
            assert!(
                matches!(r, Err(CheckpointError::WrongOrigin { .. })),
                "{r:?}"
            );
        }
    }
}
