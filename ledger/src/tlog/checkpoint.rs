//! C2SP tlog-checkpoints (<https://c2sp.org/tlog-checkpoint>): the signed
//! statement "the log with this origin has this size and root".
//!
//! Body: `<origin>\n<decimal size>\n<base64 root>\n` followed by optional,
//! non-empty extension lines. Sizes have no leading zeros; the root decodes
//! to exactly 32 bytes.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::tlog::cosignature::{check_quorum, CosignatureV1Verifier};
use crate::tlog::hash::Hash;
use crate::tlog::note::{
    open_note, sign_note, Ed25519Verifier, KeyType, Note, NoteError, NoteVerifier, OpenedNote,
    Signer, Sm2Verifier, VerifierKey,
};

/// MAX_EXTENSION_LINES bounds the extension lines of a checkpoint.
pub const MAX_EXTENSION_LINES: usize = 64;

/// CheckpointError says why a checkpoint was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CheckpointError {
    /// Malformed: the body breaks the tlog-checkpoint grammar.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// Note: the signed note around it is malformed or a signature fails.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// NotSignedByLog: no valid signature by the log's key.
    #[error("checkpoint is not signed by the log key {0}")]
    NotSignedByLog(String),
    /// WrongOrigin: the origin line is not the log key's name.
    #[error("checkpoint origin {got:?} is not the log's origin {want:?}")]
    WrongOrigin {
        /// got is the checkpoint's origin.
        got: String,
        /// want is the log key's name.
        want: String,
    },
    /// Quorum: too few witnesses cosigned.
    #[error("witness quorum not met: {got} of {want} required cosignatures")]
    Quorum {
        /// got is how many witnesses verified.
        got: usize,
        /// want is the quorum.
        want: usize,
    },
}

/// Checkpoint is a parsed checkpoint body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// origin names the log; it is also the log key's name.
    pub origin: String,
    /// size is the tree size.
    pub size: u64,
    /// root is the tree hash at that size.
    pub root: Hash,
    /// extensions are the optional extra lines, without newlines.
    pub extensions: Vec<String>,
}

/// parse_size parses a decimal u64 with no sign and no leading zeros.
pub fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    /// to_text formats the checkpoint body (the signed note's text).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// parse reads a checkpoint body.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Malformed`] naming the grammar rule broken.
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Malformed("missing final newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or("");
        if origin.is_empty() {
            return Err(CheckpointError::Malformed("empty origin"));
        }
        if origin.chars().any(|c| c.is_control()) {
            return Err(CheckpointError::Malformed("control character in origin"));
        }
        let size = lines
            .next()
            .ok_or(CheckpointError::Malformed("missing size line"))?;
        let size = parse_size(size).ok_or(CheckpointError::Malformed("bad size"))?;
        let root = lines
            .next()
            .ok_or(CheckpointError::Malformed("missing root line"))?;
        let root = B64
            .decode(root)
            .ok()
            .and_then(|b| Hash::from_slice(&b))
            .ok_or(CheckpointError::Malformed("root is not base64 of 32 bytes"))?;
        let mut extensions = Vec::new();
        for l in lines {
            if l.is_empty() {
                return Err(CheckpointError::Malformed("empty extension line"));
            }
            if extensions.len() == MAX_EXTENSION_LINES {
                return Err(CheckpointError::Malformed("too many extension lines"));
            }
            extensions.push(l.to_string());
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

/// sign_checkpoint signs a checkpoint with the log's key.
///
/// # Errors
///
/// The [`NoteError`] of [`sign_note`] (the body is not valid note text, or
/// `log` is not an Ed25519 key).
pub fn sign_checkpoint(cp: &Checkpoint, log: &Signer) -> Result<String, NoteError> {
    sign_note(&cp.to_text(), &[log])
}

/// VerifiedCheckpoint is a checkpoint whose log signature and witness
/// quorum verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// checkpoint is the parsed body.
    pub checkpoint: Checkpoint,
    /// note is the parsed note with all its signatures.
    pub note: Note,
    /// opened sorts the signatures into verified and unverified.
    pub opened: OpenedNote,
    /// witnesses are the witness keys whose cosignatures verified.
    pub witnesses: Vec<VerifierKey>,
}

/// verifier_for returns the note verifier of `key`, by its type: plain
/// Ed25519 (0x01, [`Ed25519Verifier`]) for a log key, cosignature/v1 (0x04,
/// [`CosignatureV1Verifier`]) for a witness key. The one place a key type
/// is mapped to its verifier.
pub fn verifier_for(key: &VerifierKey) -> Box<dyn NoteVerifier> {
    match key.key_type() {
        KeyType::Ed25519 => Box::new(Ed25519Verifier::new(key).expect("an Ed25519 key")),
        KeyType::Sm2 => Box::new(Sm2Verifier::new(key).expect("an SM2 key")),
        KeyType::CosignatureV1 | KeyType::Sm2CosignatureV1 => {
            Box::new(CosignatureV1Verifier::new(key).expect("a cosignature key"))
        }
    }
}

/// open_checkpoint checks a signed checkpoint's log signature and parses
/// it; cosignatures are not checked. The origin is not compared with
/// anything (sum.golang.org's key name differs from its origin): for a
/// regledger log, whose `log.json` fixes the origin and the witnesses, use
/// [`crate::descriptor::verify_checkpoint`].
///
/// # Errors
///
/// As [`open_witnessed_checkpoint`] with no witnesses.
pub fn open_checkpoint(
    note: &[u8],
    log_key: &VerifierKey,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    open_witnessed_checkpoint(note, log_key, &[], 0)
}

/// open_witnessed_checkpoint checks a signed checkpoint: its log signature
/// and that at least `quorum` of `witnesses` cosigned it. Signatures by
/// unknown keys are ignored; a known key with a bad signature fails. The
/// origin is not compared with anything (see [`open_checkpoint`]).
///
/// # Errors
///
/// - [`CheckpointError::Note`]: the note is malformed, or a known key's signature fails.
/// - [`CheckpointError::Malformed`]: the body is not a checkpoint.
/// - [`CheckpointError::NotSignedByLog`]: no valid signature by `log_key`.
/// - [`CheckpointError::Quorum`]: fewer than `quorum` witnesses cosigned.
pub fn open_witnessed_checkpoint(
    note: &[u8],
    log_key: &VerifierKey,
    witnesses: &[VerifierKey],
    quorum: usize,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    let parsed = Note::parse(note)?;
    let checkpoint = Checkpoint::parse(&parsed.text)?;
    let verifiers: Vec<Box<dyn NoteVerifier>> = std::iter::once(log_key)
        .chain(witnesses)
        .map(verifier_for)
        .collect();
    let known: Vec<&dyn NoteVerifier> = verifiers.iter().map(|v| v.as_ref()).collect();
    let opened = match open_note(note, &known) {
        Ok(o) => o,
        Err(NoteError::NoVerifiedSignature) => {
            return Err(CheckpointError::NotSignedByLog(log_key.name().to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    if !opened
        .verified
        .iter()
        .any(|s| s.name == log_key.name() && s.key_id == log_key.key_id())
    {
        return Err(CheckpointError::NotSignedByLog(log_key.name().to_string()));
    }
    let got = check_quorum(&opened, witnesses, quorum).map_err(|e| CheckpointError::Quorum {
        got: e.got,
        want: e.want,
    })?;
    let verified_witnesses = witnesses
        .iter()
        .filter(|w| {
            opened
                .verified
                .iter()
                .any(|s| s.name == w.name() && s.key_id == w.key_id())
        })
        .cloned()
        .collect::<Vec<_>>();
    debug_assert_eq!(got, verified_witnesses.len());
    Ok(VerifiedCheckpoint {
        checkpoint,
        note: parsed,
        opened,
        witnesses: verified_witnesses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::note::KeyType;

    #[test]
    fn round_trip_and_strictness() {
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 10,
            root: Hash([3; 32]),
            extensions: vec!["ext one".into()],
        };
        assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
        let root = B64.encode([3u8; 32]);
        for bad in [
            "".to_string(),
            "o\n1\n".to_string(),
            format!("o\n01\n{root}\n"),
            format!("o\n+1\n{root}\n"),
            format!("o\n1\n{root}"),
            format!("o\n1\n{root}\n\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            "o\n1\nYmFuYW5hcw==\n".to_string(),
            format!("\n1\n{root}\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Checkpoint::parse(&format!("o\n0\n{root}\n")).unwrap().size,
            0
        );
    }

    #[test]
    fn open_checks_the_log_key_and_the_quorum() {
        let log = Signer::generate("example.org/log", KeyType::Ed25519, [1; 32]).unwrap();
        let other = Signer::generate("example.org/log", KeyType::Ed25519, [2; 32]).unwrap();
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 5,
            root: Hash([9; 32]),
            extensions: vec![],
        };
        let note = sign_checkpoint(&cp, &log).unwrap();
        let v = open_checkpoint(note.as_bytes(), &log.verifier()).unwrap();
        assert_eq!(v.checkpoint, cp);
        assert!(matches!(
            open_checkpoint(note.as_bytes(), &other.verifier()),
            Err(CheckpointError::NotSignedByLog(_))
        ));
        let w = Signer::generate("witness", KeyType::CosignatureV1, [3; 32]).unwrap();
        assert!(matches!(
            open_witnessed_checkpoint(note.as_bytes(), &log.verifier(), &[w.verifier()], 1),
            Err(CheckpointError::Quorum { got: 0, want: 1 })
        ));
        let sig = crate::tlog::cosignature::cosign(&w, &cp.to_text(), 1234).unwrap();
        let cosigned = crate::tlog::cosignature::add_signatures(&note, &[sig]).unwrap();
        let v = open_witnessed_checkpoint(cosigned.as_bytes(), &log.verifier(), &[w.verifier()], 1)
            .unwrap();
        assert_eq!(v.witnesses, vec![w.verifier()]);
    }
}
