//! C2SP tlog-cosignature (<https://c2sp.org/tlog-cosignature>): witness
//! cosignatures (`cosignature/v1`, key type 0x04) and k-of-n quorums.
//!
//! A witness signs `"cosignature/v1\ntime <ts>\n" ‖ checkpoint text`; the
//! note signature is the 8-byte big-endian timestamp followed by the 64-byte
//! Ed25519 signature.

use crate::tlog::note::{
    KeyError, Note, NoteError, NoteSignature, NoteVerifier, OpenedNote, Signer, VerifierKey,
    ED25519_SIGNATURE_LEN,
};

/// TIMESTAMP_LEN is the length of the big-endian timestamp that starts a
/// cosignature/v1 signature.
pub const TIMESTAMP_LEN: usize = 8;

/// COSIGNATURE_LEN is the length of a cosignature/v1 signature: the
/// timestamp and an Ed25519 signature.
pub const COSIGNATURE_LEN: usize = TIMESTAMP_LEN + ED25519_SIGNATURE_LEN;

/// cosignature_message returns the bytes a witness signs for a checkpoint.
pub fn cosignature_message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(checkpoint_text.as_bytes());
    m
}

/// cosign returns a witness's cosignature line for a checkpoint text.
///
/// # Errors
///
/// [`NoteError::InvalidSigner`] if `witness` is not a cosignature/v1 key,
/// or [`NoteError::Malformed`] if the text is not valid note text.
pub fn cosign(
    witness: &Signer,
    checkpoint_text: &str,
    timestamp: u64,
) -> Result<NoteSignature, NoteError> {
    if !witness.key_type().is_cosignature() {
        return Err(NoteError::InvalidSigner);
    }
    crate::tlog::note::check_text(checkpoint_text)?;
    let mut sig = timestamp.to_be_bytes().to_vec();
    sig.extend_from_slice(&witness.sign(&cosignature_message(checkpoint_text, timestamp)));
    Ok(NoteSignature {
        name: witness.name().to_string(),
        key_id: witness.key_id(),
        sig,
    })
}

/// cosignature_timestamp returns the timestamp of a cosignature/v1 signature.
pub fn cosignature_timestamp(sig: &NoteSignature) -> Option<u64> {
    split_cosignature(&sig.sig).map(|(ts, _)| ts)
}

/// split_cosignature splits a cosignature/v1 signature into its timestamp
/// and its Ed25519 signature.
fn split_cosignature(sig: &[u8]) -> Option<(u64, &[u8])> {
    if sig.len() != COSIGNATURE_LEN {
        return None;
    }
    let (ts, ed) = sig.split_at(TIMESTAMP_LEN);
    Some((u64::from_be_bytes(ts.try_into().expect("8 bytes")), ed))
}

/// CosignatureV1Verifier verifies a witness's cosignature/v1 signatures
/// (key type 0x04): timestamp ‖ Ed25519 signature of the cosignature/v1
/// message for the note text; for an SM2 witness key (0xff ‖
/// `regledger/sm2-cosignature/v1`) the same layout with the SM2 signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureV1Verifier {
    key: VerifierKey,
}

impl CosignatureV1Verifier {
    /// new returns the verifier of a cosignature/v1 witness key.
    ///
    /// # Errors
    ///
    /// [`KeyError::Algorithm`] if `key` is not of type 0x04.
    pub fn new(key: &VerifierKey) -> Result<CosignatureV1Verifier, KeyError> {
        if !key.key_type().is_cosignature() {
            return Err(KeyError::Algorithm(key.key_type().byte()));
        }
        Ok(CosignatureV1Verifier { key: key.clone() })
    }
}

impl NoteVerifier for CosignatureV1Verifier {
    fn name(&self) -> &str {
        self.key.name()
    }
    fn key_id(&self) -> u32 {
        self.key.key_id()
    }
    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        let Some((ts, ed)) = split_cosignature(sig) else {
            return false;
        };
        self.key.verify_sig(&cosignature_message(text, ts), ed)
    }
}

/// add_signatures merges extra signature lines into a signed note,
/// dropping any exact duplicates.
///
/// # Errors
///
/// [`NoteError::Malformed`] if the note does not parse or would carry more
/// than [`crate::tlog::note::MAX_SIGNATURES`] signatures.
pub fn add_signatures(note_text: &str, extra: &[NoteSignature]) -> Result<String, NoteError> {
    let mut note = Note::parse(note_text.as_bytes())?;
    for s in extra {
        if !note.sigs.contains(s) {
            note.sigs.push(s.clone());
        }
    }
    if note.sigs.len() > crate::tlog::note::MAX_SIGNATURES {
        return Err(NoteError::Malformed("more than 100 signatures"));
    }
    Ok(note.to_text())
}

/// QuorumError says a quorum was not met.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("{got} of the required {want} witness cosignatures verified")]
pub struct QuorumError {
    /// got is how many distinct witnesses verified.
    pub got: usize,
    /// want is the quorum.
    pub want: usize,
}

/// check_quorum counts the distinct `witnesses` among the verified
/// signatures of an opened note and checks that at least `quorum` did.
///
/// # Errors
///
/// [`QuorumError`] with the count when fewer than `quorum` witnesses verified.
pub fn check_quorum(
    opened: &OpenedNote,
    witnesses: &[VerifierKey],
    quorum: usize,
) -> Result<usize, QuorumError> {
    let got = witnesses
        .iter()
        .enumerate()
        .filter(|(i, w)| {
            // A key listed twice counts once.
            !witnesses[..*i].contains(w)
                && opened
                    .verified
                    .iter()
                    .any(|s| s.name == w.name() && s.key_id == w.key_id())
        })
        .count();
    if got < quorum {
        return Err(QuorumError { got, want: quorum });
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::note::{open_note, KeyType};

    fn verifier(w: &Signer) -> CosignatureV1Verifier {
        CosignatureV1Verifier::new(&w.verifier()).unwrap()
    }

    #[test]
    fn cosignature_round_trip_and_tamper() {
        let w = Signer::generate("w.example", KeyType::CosignatureV1, [5; 32]).unwrap();
        let text = "example.org/log\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let sig = cosign(&w, text, 1234).unwrap();
        assert_eq!(cosignature_timestamp(&sig), Some(1234));
        assert!(verifier(&w).verify(text, &sig.sig));
        let mut bad = sig.sig.clone();
        bad[7] ^= 1; // the timestamp is signed too
        assert!(!verifier(&w).verify(text, &bad));
        assert!(!verifier(&w).verify(text, &sig.sig[8..]));
        let note = format!("{text}\n{}", sig.to_line());
        let o = open_note(note.as_bytes(), &[&verifier(&w), &verifier(&w)]).unwrap();
        assert_eq!(check_quorum(&o, &[w.verifier(), w.verifier()], 1), Ok(1));
        assert_eq!(
            check_quorum(&o, &[w.verifier(), w.verifier()], 2),
            Err(QuorumError { got: 1, want: 2 })
        );
        let plain = Signer::generate("p", KeyType::Ed25519, [6; 32]).unwrap();
        assert!(cosign(&plain, text, 1).is_err());
    }

    #[test]
    fn each_verifier_judges_only_its_own_key_type_and_format() {
        let w = Signer::generate("w.example", KeyType::CosignatureV1, [5; 32]).unwrap();
        let p = Signer::generate("p.example", KeyType::Ed25519, [6; 32]).unwrap();
        assert!(CosignatureV1Verifier::new(&p.verifier()).is_err());
        assert!(crate::tlog::note::Ed25519Verifier::new(&w.verifier()).is_err());
        let text = "example.org/log\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        // A witness key's plain signature of the text is not a cosignature,
        // with or without a timestamp in front.
        let plain = w.sign(text.as_bytes());
        assert!(!verifier(&w).verify(text, &plain));
        let mut stamped = 7u64.to_be_bytes().to_vec();
        stamped.extend_from_slice(&plain);
        assert!(!verifier(&w).verify(text, &stamped));
        // And a cosignature is not a plain signature.
        let cosig = cosign(&w, text, 7).unwrap();
        let ev = crate::tlog::note::Ed25519Verifier::new(&p.verifier()).unwrap();
        assert!(!ev.verify(text, &cosig.sig));
        assert!(ev.verify(text, &p.sign(text.as_bytes())));
    }
}
