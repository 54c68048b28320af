//! C2SP signed notes (<https://c2sp.org/signed-note>) and their keys, with the
//! semantics of Go's `golang.org/x/mod/sumdb/note`.
//!
//! A note is UTF-8 text ending in a newline, a blank line, and one or more
//! signature lines `— <name> <base64(key id ‖ signature)>`. The text ends at
//! the *last* blank line, so the text itself may contain blank lines.
//! Key ids are the first four bytes of SHA-256(name ‖ "\n" ‖ type ‖ key).
//!
//! Ed25519 signatures are checked with `verify_strict` (see
//! `docs/decisions.md` D7 and the CCTV vector test). SM2 keys (GB/T 32918.2
//! with SM3 and the default signer ID, D19) use signature type 0xff, which
//! signed-note reserves for types it does not assign, followed by a
//! regledger identifier ([`SM2_NOTE_ID`], [`SM2_COSIGNATURE_ID`]); the key
//! id is derived exactly as for the assigned types, over those bytes
//! (schemas/FORMATS.md, "SM2 note keys").

mod keys;
mod verifiers;

pub use keys::{key_id, KeyError, KeyType, Signer, VerifierKey, SM2_COSIGNATURE_ID, SM2_NOTE_ID};
pub use verifiers::{
    verify_strict, Ed25519Verifier, NoteVerifier, Sm2Verifier, ED25519_SIGNATURE_LEN,
};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// MAX_NOTE_BYTES bounds the size of a note this module parses.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// MAX_SIGNATURES is the most signature lines a note may carry (Go's limit).
pub const MAX_SIGNATURES: usize = 100;

/// MAX_NAME_BYTES bounds key names.
pub const MAX_NAME_BYTES: usize = 256;

/// NoteError says why a note was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum NoteError {
    /// Malformed: the note breaks the signed-note grammar or a limit.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// InvalidSignature: a known key's signature does not verify.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature {
        /// name is the key name.
        name: String,
        /// key_id is the key id.
        key_id: u32,
    },
    /// NoVerifiedSignature: no signature is by a known key.
    #[error("no verifiable signatures")]
    NoVerifiedSignature,
    /// InvalidSigner: a signer's name is not a valid key name.
    #[error("invalid signer")]
    InvalidSigner,
}

/// is_valid_name reports whether `name` may name a key: non-empty, no
/// Unicode white space, no '+', and at most [`MAX_NAME_BYTES`].
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// NoteSignature is one signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// name is the signing key's name.
    pub name: String,
    /// key_id is the signing key's id.
    pub key_id: u32,
    /// sig is the signature without the key id.
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// to_line formats the signature line, with its trailing newline.
    pub fn to_line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.sig);
        format!("— {} {}\n", self.name, B64.encode(raw))
    }
}

/// Note is a parsed signed note whose signatures are not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// text is the signed text, ending in a newline.
    pub text: String,
    /// sigs are the signature lines in order (identical lines collapsed).
    pub sigs: Vec<NoteSignature>,
}

fn check_chars(msg: &str) -> Result<(), NoteError> {
    if msg.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character"));
    }
    Ok(())
}

impl Note {
    /// parse splits a signed note into text and signature lines.
    ///
    /// # Errors
    ///
    /// [`NoteError::Malformed`] naming the grammar rule or limit broken.
    pub fn parse(msg: &[u8]) -> Result<Note, NoteError> {
        if msg.len() > MAX_NOTE_BYTES {
            return Err(NoteError::Malformed("note too large"));
        }
        let msg = std::str::from_utf8(msg).map_err(|_| NoteError::Malformed("not UTF-8"))?;
        check_chars(msg)?;
        let split = msg
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before signatures"))?;
        let text = &msg[..split + 1];
        let mut sigs_block = &msg[split + 2..];
        if sigs_block.is_empty() || !sigs_block.ends_with('\n') {
            return Err(NoteError::Malformed(
                "signature block must end in a newline",
            ));
        }
        let mut sigs: Vec<NoteSignature> = Vec::new();
        let mut lines = 0usize;
        while !sigs_block.is_empty() {
            let i = sigs_block.find('\n').expect("block ends in newline");
            let line = &sigs_block[..i];
            sigs_block = &sigs_block[i + 1..];
            let rest = line.strip_prefix("— ").ok_or(NoteError::Malformed(
                "signature line must start with \"— \"",
            ))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or(NoteError::Malformed("signature line has no signature"))?;
            if !is_valid_name(name) || b64.is_empty() {
                return Err(NoteError::Malformed("bad signature line"));
            }
            let raw = B64
                .decode(b64)
                .map_err(|_| NoteError::Malformed("signature is not base64"))?;
            if raw.len() < 5 {
                return Err(NoteError::Malformed("signature too short"));
            }
            lines += 1;
            if lines > MAX_SIGNATURES {
                return Err(NoteError::Malformed("more than 100 signatures"));
            }
            let sig = NoteSignature {
                name: name.to_string(),
                key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                sig: raw[4..].to_vec(),
            };
            if !sigs.contains(&sig) {
                sigs.push(sig);
            }
        }
        Ok(Note {
            text: text.to_string(),
            sigs,
        })
    }

    /// to_text formats the note: text, blank line, signature lines.
    pub fn to_text(&self) -> String {
        let mut s = self.text.clone();
        s.push('\n');
        for sig in &self.sigs {
            s.push_str(&sig.to_line());
        }
        s
    }
}

/// check_text checks note text for signing: UTF-8 (given), ends in a
/// newline, no control characters, within the size limit.
///
/// # Errors
///
/// [`NoteError::Malformed`] naming the rule broken.
pub fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::Malformed("text must end in a newline"));
    }
    if text.len() > MAX_NOTE_BYTES {
        return Err(NoteError::Malformed("note too large"));
    }
    check_chars(text)
}

/// sign_note signs `text` with Ed25519 or SM2 note signers (Go `note.Sign`).
///
/// # Errors
///
/// [`NoteError::Malformed`] (see [`check_text`]) or
/// [`NoteError::InvalidSigner`] for a witness (cosignature) key.
pub fn sign_note(text: &str, signers: &[&Signer]) -> Result<String, NoteError> {
    check_text(text)?;
    let mut out = text.to_string();
    out.push('\n');
    for s in signers {
        if s.key_type().is_cosignature() {
            return Err(NoteError::InvalidSigner);
        }
        let sig = NoteSignature {
            name: s.name().to_string(),
            key_id: s.key_id(),
            sig: s.sign(text.as_bytes()).to_vec(),
        };
        out.push_str(&sig.to_line());
    }
    Ok(out)
}

/// OpenedNote is a note with its signatures sorted into verified ones (by a
/// known key) and unverified ones (by a key not given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedNote {
    /// text is the signed text.
    pub text: String,
    /// verified are the signatures that verified with a known key.
    pub verified: Vec<NoteSignature>,
    /// unverified are the signatures by unknown keys.
    pub unverified: Vec<NoteSignature>,
}

/// open_note parses a note and verifies its signatures against `known`
/// (Go `note.Open`): a signature is judged by the verifier with its key name
/// and id; a known key whose signature fails fails the note, signatures by
/// unknown keys are kept as unverified, and at least one signature must
/// verify.
///
/// # Errors
///
/// - [`NoteError::Malformed`]: the note breaks the signed-note grammar or a limit.
/// - [`NoteError::InvalidSignature`]: a known key's signature does not verify.
/// - [`NoteError::NoVerifiedSignature`]: no signature is by a known key.
pub fn open_note(msg: &[u8], known: &[&dyn NoteVerifier]) -> Result<OpenedNote, NoteError> {
    let note = Note::parse(msg)?;
    let mut verified: Vec<NoteSignature> = Vec::new();
    let mut unverified = Vec::new();
    for sig in note.sigs {
        let Some(k) = known
            .iter()
            .find(|k| k.name() == sig.name && k.key_id() == sig.key_id)
        else {
            unverified.push(sig);
            continue;
        };
        // One verified signature per key: further ones by the same key are dropped.
        if verified
            .iter()
            .any(|v| v.name == sig.name && v.key_id == sig.key_id)
        {
            continue;
        }
        if !k.verify(&note.text, &sig.sig) {
            return Err(NoteError::InvalidSignature {
                name: sig.name,
                key_id: sig.key_id,
            });
        }
        verified.push(sig);
    }
    if verified.is_empty() {
        return Err(NoteError::NoVerifiedSignature);
    }
    Ok(OpenedNote {
        text: note.text,
        verified,
        unverified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_open_round_trip_and_tamper() {
        let s = Signer::generate("example.com/log", KeyType::Ed25519, [7; 32]).unwrap();
        let v = s.verifier();
        assert_eq!(VerifierKey::parse(&v.to_vkey()).unwrap(), v);
        assert_eq!(
            Signer::from_skey(&s.to_skey()).unwrap().key_id(),
            s.key_id()
        );
        let note = sign_note("hello\nworld\n", &[&s]).unwrap();
        let ev = Ed25519Verifier::new(&v).unwrap();
        let o = open_note(note.as_bytes(), &[&ev]).unwrap();
        assert_eq!(o.text, "hello\nworld\n");
        let bad = note.replacen("hello", "hellp", 1);
        assert!(matches!(
            open_note(bad.as_bytes(), &[&ev]),
            Err(NoteError::InvalidSignature { .. })
        ));
        assert_eq!(
            open_note(note.as_bytes(), &[]),
            Err(NoteError::NoVerifiedSignature)
        );
    }

    #[test]
    fn hostile_notes_are_rejected() {
        for m in [
            &b""[..],
            b"\n\n",
            b"text\n\n",
            b"text\n\n\xe2\x80\x94 a AAAA\n",
            b"text\n\n- a AAAAAAAAAAAA\n",
            b"text\n\n\xe2\x80\x94 a b c\n",
            b"text\x00\n\n\xe2\x80\x94 a AAAAAAAAAAAA\n",
            b"\xfftext\n\n\xe2\x80\x94 a AAAAAAAAAAAA\n",
            b"text\n\n\xe2\x80\x94 a AAAAAAAAAAAA",
            b"text\n\n\xe2\x80\x94 a+b AAAAAAAAAAAA\n",
            b"text\n\n\xe2\x80\x94  AAAAAAAAAAAA\n",
        ] {
            assert!(Note::parse(m).is_err(), "{:?}", String::from_utf8_lossy(m));
        }
        let big = vec![b'a'; MAX_NOTE_BYTES + 1];
        assert!(Note::parse(&big).is_err());
    }

    #[test]
    fn hostile_keys_are_rejected() {
        let s = Signer::generate("k", KeyType::Ed25519, [1; 32]).unwrap();
        let vk = s.verifier().to_vkey();
        for i in 0..vk.len() {
            assert!(VerifierKey::parse(&vk[..i]).is_err(), "prefix {i}");
        }
        for bad in [
            "",
            "+",
            "a+b+c+d",
            "k+zzzzzzzz+AAAA",
            "k k+00000000+AAAA",
            &format!("{vk}+"),
        ] {
            assert!(VerifierKey::parse(bad).is_err(), "{bad}");
        }
        assert!(Signer::from_skey(&vk).is_err());
        assert!(Signer::generate("bad name", KeyType::Ed25519, [0; 32]).is_err());
        assert!(
            Signer::generate(&"x".repeat(MAX_NAME_BYTES + 1), KeyType::Ed25519, [0; 32]).is_err()
        );
    }
}
