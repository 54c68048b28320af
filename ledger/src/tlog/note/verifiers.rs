//! Verifiers of note signatures, one per key type ([`NoteVerifier`],
//! Go's `note.Verifier`).

use super::keys::{KeyError, KeyType, VerifierKey};
use ed25519_dalek::{Signature, VerifyingKey};

/// NoteVerifier verifies the signatures of one key (Go's `note.Verifier`):
/// [`open_note`] asks each signature line's key name and id of the
/// verifiers it is given and lets the matching one judge the signature.
/// Each key type implements it where its format is defined: plain Ed25519
/// and SM2 here ([`Ed25519Verifier`], [`Sm2Verifier`]), witness
/// cosignatures in [`crate::tlog::cosignature::CosignatureV1Verifier`].
pub trait NoteVerifier {
    /// name is the key name a signature line must carry.
    fn name(&self) -> &str;
    /// key_id is the key id a signature must start with.
    fn key_id(&self) -> u32;
    /// verify reports whether `sig` (the signature bytes after the key id)
    /// is this key's valid signature of the note text `text`.
    fn verify(&self, text: &str, sig: &[u8]) -> bool;
}

/// ED25519_SIGNATURE_LEN is the length of an Ed25519 signature.
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// Ed25519Verifier verifies plain Ed25519 note signatures (key type 0x01,
/// C2SP signed-note): a 64-byte signature of the note text, checked with
/// `verify_strict`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519Verifier {
    key: VerifierKey,
}

impl Ed25519Verifier {
    /// new returns the verifier of an Ed25519 key.
    ///
    /// # Errors
    ///
    /// [`KeyError::Algorithm`] if `key` is not of type 0x01.
    pub fn new(key: &VerifierKey) -> Result<Ed25519Verifier, KeyError> {
        if key.key_type() != KeyType::Ed25519 {
            return Err(KeyError::Algorithm(key.key_type().byte()));
        }
        Ok(Ed25519Verifier { key: key.clone() })
    }
}

impl NoteVerifier for Ed25519Verifier {
    fn name(&self) -> &str {
        self.key.name()
    }
    fn key_id(&self) -> u32 {
        self.key.key_id()
    }
    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        sig.len() == ED25519_SIGNATURE_LEN && self.key.verify_ed25519(text.as_bytes(), sig)
    }
}

/// Sm2Verifier verifies SM2 note signatures (0xff ‖ [`SM2_NOTE_ID`]): the
/// 64-byte `r ‖ s` SM2 signature of the note text, default signer ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sm2Verifier {
    key: VerifierKey,
}

impl Sm2Verifier {
    /// new returns the verifier of an SM2 note key.
    ///
    /// # Errors
    ///
    /// [`KeyError::Algorithm`] if `key` is not an SM2 note key.
    pub fn new(key: &VerifierKey) -> Result<Sm2Verifier, KeyError> {
        if key.key_type() != KeyType::Sm2 {
            return Err(KeyError::Algorithm(key.key_type().byte()));
        }
        Ok(Sm2Verifier { key: key.clone() })
    }
}

impl NoteVerifier for Sm2Verifier {
    fn name(&self) -> &str {
        self.key.name()
    }
    fn key_id(&self) -> u32 {
        self.key.key_id()
    }
    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        self.key.verify_sig(text.as_bytes(), sig)
    }
}

/// verify_strict checks an Ed25519 signature under the strict rule:
/// canonical encodings, no small-order A or R (RFC 8032 plus
/// ed25519-dalek's `verify_strict` checks).
pub fn verify_strict(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(sig) else {
        return false;
    };
    key.verify_strict(msg, &Signature::from_bytes(&sig)).is_ok()
}
