//! C2SP tlog-cosignature (<https://c2sp.org/tlog-cosignature>): witness
//! cosignatures (`cosignature/v1`, key type 0x04) and k-of-n quorums.
//!
//! A witness signs `"cosignature/v1\ntime <ts>\n" ‖ checkpoint text`; the
//! note signature is the 8-byte big-endian timestamp followed by the 64-byte
//! Ed25519 signature.

use crate::tlog::note::{KeyType, Note, NoteError, NoteSignature, OpenedNote, Signer, VerifierKey};

/// cosignature_message returns the bytes a witness signs for a checkpoint.
pub fn cosignature_message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(checkpoint_text.as_bytes());
    m
}

/// cosign returns a witness's cosignature line for a checkpoint text.
pub fn cosign(
    witness: &Signer,
    checkpoint_text: &str,
    timestamp: u64,
) -> Result<NoteSignature, NoteError> {
    if witness.key_type() != KeyType::CosignatureV1 {
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
    (sig.sig.len() == 72).then(|| u64::from_be_bytes(sig.sig[..8].try_into().expect("8 bytes")))
}

/// add_signatures merges extra signature lines into a signed note,
/// dropping any exact duplicates.
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
    use crate::tlog::note::open_note;

    #[test]
    fn cosignature_round_trip_and_tamper() {
        let w = Signer::generate("w.example", KeyType::CosignatureV1, [5; 32]).unwrap();
        let text = "example.org/log\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let sig = cosign(&w, text, 1234).unwrap();
        assert_eq!(cosignature_timestamp(&sig), Some(1234));
        assert!(w.verifier().verify_note_sig(text, &sig.sig));
        let mut bad = sig.sig.clone();
        bad[7] ^= 1; // the timestamp is signed too
        assert!(!w.verifier().verify_note_sig(text, &bad));
        assert!(!w.verifier().verify_note_sig(text, &sig.sig[8..]));
        let note = format!("{text}\n{}", sig.to_line());
        let o = open_note(note.as_bytes(), &[w.verifier(), w.verifier()]).unwrap();
        assert_eq!(check_quorum(&o, &[w.verifier(), w.verifier()], 1), Ok(1));
        assert_eq!(
            check_quorum(&o, &[w.verifier(), w.verifier()], 2),
            Err(QuorumError { got: 1, want: 2 })
        );
        let plain = Signer::generate("p", KeyType::Ed25519, [6; 32]).unwrap();
        assert!(cosign(&plain, text, 1).is_err());
    }
}
