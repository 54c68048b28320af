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

use crate::crypto::{PublicKey, SecretKey, SigAlg};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

/// MAX_NOTE_BYTES bounds the size of a note this module parses.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// MAX_SIGNATURES is the most signature lines a note may carry (Go's limit).
pub const MAX_SIGNATURES: usize = 100;

/// MAX_NAME_BYTES bounds key names.
pub const MAX_NAME_BYTES: usize = 256;

/// SM2_NOTE_ID follows the 0xff type byte of an SM2 note key: the note
/// signature is the 64-byte SM2 signature `r ‖ s` of the note text.
pub const SM2_NOTE_ID: &[u8] = b"regledger/sm2-note/v1";

/// SM2_COSIGNATURE_ID follows the 0xff type byte of an SM2 witness key: the
/// signature is an 8-byte timestamp and the SM2 signature of the
/// cosignature/v1 message (as type 0x04 does with Ed25519).
pub const SM2_COSIGNATURE_ID: &[u8] = b"regledger/sm2-cosignature/v1";

/// KeyType is the signature type of a note key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Ed25519 is a plain Ed25519 note signature (0x01).
    Ed25519,
    /// CosignatureV1 is a C2SP tlog-cosignature witness key (0x04): the
    /// signature is an 8-byte timestamp followed by an Ed25519 signature
    /// over the cosignature/v1 message (verified by
    /// [`crate::tlog::cosignature::CosignatureV1Verifier`]).
    CosignatureV1,
    /// Sm2 is an SM2 note signature (0xff ‖ [`SM2_NOTE_ID`]).
    Sm2,
    /// Sm2CosignatureV1 is an SM2 witness key (0xff ‖ [`SM2_COSIGNATURE_ID`]).
    Sm2CosignatureV1,
}

impl KeyType {
    /// byte returns the first (signed-note type) byte.
    pub fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => 0x01,
            KeyType::CosignatureV1 => 0x04,
            KeyType::Sm2 | KeyType::Sm2CosignatureV1 => 0xff,
        }
    }

    /// type_bytes returns the bytes that precede the public key in a vkey
    /// and in the key id hash: the type byte, and for 0xff the identifier.
    pub fn type_bytes(self) -> Vec<u8> {
        let mut b = vec![self.byte()];
        match self {
            KeyType::Sm2 => b.extend_from_slice(SM2_NOTE_ID),
            KeyType::Sm2CosignatureV1 => b.extend_from_slice(SM2_COSIGNATURE_ID),
            _ => {}
        }
        b
    }

    /// from_byte returns the key type of a one-byte type (0x01 or 0x04).
    pub fn from_byte(b: u8) -> Option<KeyType> {
        match b {
            0x01 => Some(KeyType::Ed25519),
            0x04 => Some(KeyType::CosignatureV1),
            _ => None,
        }
    }

    /// split reads the type at the start of `raw` (type ‖ key material),
    /// returning it and the key material.
    ///
    /// # Errors
    ///
    /// [`KeyError::Algorithm`] for an unknown type byte or identifier.
    pub fn split(raw: &[u8]) -> Result<(KeyType, &[u8]), KeyError> {
        let (&t, rest) = raw.split_first().ok_or(KeyError::Format("empty key"))?;
        if t != 0xff {
            return KeyType::from_byte(t)
                .map(|k| (k, rest))
                .ok_or(KeyError::Algorithm(t));
        }
        for (k, id) in [
            (KeyType::Sm2, SM2_NOTE_ID),
            (KeyType::Sm2CosignatureV1, SM2_COSIGNATURE_ID),
        ] {
            if let Some(m) = rest.strip_prefix(id) {
                return Ok((k, m));
            }
        }
        Err(KeyError::Algorithm(0xff))
    }

    /// alg returns the signature algorithm of the type.
    pub fn alg(self) -> SigAlg {
        match self {
            KeyType::Ed25519 | KeyType::CosignatureV1 => SigAlg::Ed25519,
            KeyType::Sm2 | KeyType::Sm2CosignatureV1 => SigAlg::Sm2,
        }
    }

    /// is_cosignature reports a witness (timestamped cosignature) type.
    pub fn is_cosignature(self) -> bool {
        matches!(self, KeyType::CosignatureV1 | KeyType::Sm2CosignatureV1)
    }

    /// name returns a short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "Ed25519 (0x01)",
            KeyType::CosignatureV1 => "cosignature/v1 (0x04)",
            KeyType::Sm2 => "SM2 (0xff regledger/sm2-note/v1)",
            KeyType::Sm2CosignatureV1 => "SM2 cosignature (0xff regledger/sm2-cosignature/v1)",
        }
    }
}

/// KeyError says why a key string was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum KeyError {
    /// Format: the string does not have the `name+id+key` shape.
    #[error("malformed key: {0}")]
    Format(&'static str),
    /// Name: the key name is empty, has spaces or '+', or is too long.
    #[error("invalid key name")]
    Name,
    /// Algorithm: the algorithm byte is not supported.
    #[error("unsupported key algorithm 0x{0:02x}")]
    Algorithm(u8),
    /// IdMismatch: the key id does not match name and key.
    #[error("key id does not match the key")]
    IdMismatch,
    /// BadPublicKey: the bytes are not a valid public key of the type.
    #[error("invalid Ed25519 public key")]
    BadPublicKey,
    /// Key: the key material is refused (an SM2 point off the curve, an
    /// SM2 private key out of range, a stated signer ID on a note key).
    #[error("invalid key: {0}")]
    Key(String),
}

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

/// key_id returns the C2SP key id of a key: the first 4 bytes, big-endian,
/// of SHA-256(name ‖ 0x0A ‖ type bytes ‖ public key), where the type bytes
/// are [`KeyType::type_bytes`] and the public key is 32 bytes (Ed25519) or
/// the 65-byte uncompressed point (SM2).
pub fn key_id(name: &str, key_type: KeyType, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(key_type.type_bytes());
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn parse_hex8(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// split_key reads `<name>+<8 hex id>+<base64(type ‖ key bytes)>`, the
/// common tail of signer and verifier key text.
fn split_key(s: &str) -> Result<(&str, u32, KeyType, Vec<u8>), KeyError> {
    // Base64 may contain '+': split at the first two only (Go's chop).
    let mut parts = s.splitn(3, '+');
    let (name, id, key) = match (parts.next(), parts.next(), parts.next()) {
        (Some(n), Some(i), Some(k)) => (n, i, k),
        _ => return Err(KeyError::Format("want name+id+key")),
    };
    if !is_valid_name(name) {
        return Err(KeyError::Name);
    }
    let id = parse_hex8(id).ok_or(KeyError::Format("key id is not 8 hex digits"))?;
    let raw = B64
        .decode(key)
        .map_err(|_| KeyError::Format("key is not base64"))?;
    let (key_type, bytes) = KeyType::split(&raw)?;
    Ok((name, id, key_type, bytes.to_vec()))
}

/// public_of reads note public key material of a type: a 32-byte Ed25519
/// key, or a 65-byte SM2 point (note keys sign under the default signer
/// ID; a stated ID is refused so that a vkey has one meaning).
fn public_of(key_type: KeyType, b: &[u8]) -> Result<PublicKey, KeyError> {
    match key_type.alg() {
        SigAlg::Ed25519 => {
            let k: [u8; 32] = b
                .try_into()
                .map_err(|_| KeyError::Format("key is not 32 bytes"))?;
            VerifyingKey::from_bytes(&k).map_err(|_| KeyError::BadPublicKey)?;
            Ok(PublicKey::Ed25519(k))
        }
        SigAlg::Sm2 => {
            if b.len() != crate::crypto::sm2::POINT_LEN {
                return Err(KeyError::Key(
                    "an SM2 note key is the 65-byte uncompressed point".into(),
                ));
            }
            PublicKey::from_material(SigAlg::Sm2, b).map_err(|e| KeyError::Key(e.to_string()))
        }
    }
}

/// Signer holds a private note key.
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    key_type: KeyType,
    key: SecretKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}+{:08x})", self.name, self.key_id)
    }
}

impl Signer {
    /// from_skey parses `PRIVATE+KEY+<name>+<8 hex id>+<base64(type ‖ seed)>`
    /// (the seed is the 32-byte Ed25519 seed, or SM2's d big-endian).
    ///
    /// # Errors
    ///
    /// A [`KeyError`]: a missing prefix, a malformed key, or an id that does
    /// not match.
    pub fn from_skey(s: &str) -> Result<Signer, KeyError> {
        let s = s.trim_end_matches(['\n', '\r']);
        let rest = s
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::Format("missing PRIVATE+KEY+ prefix"))?;
        let (name, id, key_type, seed) = split_key(rest)?;
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Format("key is not 32 bytes"))?;
        let signer = Signer::generate(name, key_type, seed)?;
        if signer.key_id != id {
            return Err(KeyError::IdMismatch);
        }
        Ok(signer)
    }

    /// generate makes a signer from a 32-byte seed the caller drew from a
    /// secure random source (the core does no I/O).
    ///
    /// # Errors
    ///
    /// [`KeyError::Name`] if `name` is not a valid key name;
    /// [`KeyError::Key`] for an SM2 seed outside [1, n-2] (draw again).
    pub fn generate(name: &str, key_type: KeyType, seed: [u8; 32]) -> Result<Signer, KeyError> {
        let key = SecretKey::from_seed(key_type.alg(), &seed)
            .map_err(|e| KeyError::Key(e.to_string()))?;
        Signer::from_secret(name, key_type, key)
    }

    /// from_secret makes a signer of a secret key (SM2 keys sign under the
    /// default signer ID, whatever `key` states).
    ///
    /// # Errors
    ///
    /// [`KeyError::Name`], or [`KeyError::Algorithm`] if the key is not of
    /// the type's algorithm.
    pub fn from_secret(name: &str, key_type: KeyType, key: SecretKey) -> Result<Signer, KeyError> {
        if !is_valid_name(name) {
            return Err(KeyError::Name);
        }
        if key.alg() != key_type.alg() {
            return Err(KeyError::Algorithm(key_type.byte()));
        }
        let key = match key {
            SecretKey::Sm2(k) if k.public().stated_id().is_some() => SecretKey::Sm2(
                crate::crypto::Sm2SecretKey::from_bytes(&k.to_bytes(), None)
                    .map_err(|e| KeyError::Key(e.to_string()))?,
            ),
            k => k,
        };
        let id = key_id(name, key_type, &key.public_key().material());
        Ok(Signer {
            name: name.to_string(),
            key_id: id,
            key_type,
            key,
        })
    }

    /// to_skey formats the private key text.
    pub fn to_skey(&self) -> String {
        let mut raw = self.key_type.type_bytes();
        raw.extend_from_slice(&self.key.to_seed());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            B64.encode(raw)
        )
    }

    /// name returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// key_id returns the key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// key_type returns the key's algorithm.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// secret returns the private key (for envelopes signed by the same key).
    pub fn secret(&self) -> &SecretKey {
        &self.key
    }

    /// verifier returns the matching public key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key_type: self.key_type,
            public: self.key.public_key(),
        }
    }

    /// sign returns the raw 64-byte signature of `msg` (Ed25519, or SM2 `r ‖ s`).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg)
    }
}

/// VerifierKey is a public note key: `<name>+<8 hex id>+<base64(type ‖ key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    key_type: KeyType,
    public: PublicKey,
}

impl VerifierKey {
    /// parse reads a verifier key string, checking the id against the key.
    ///
    /// # Errors
    ///
    /// A [`KeyError`]: the text is not `name+id+key`, the name is invalid, the
    /// algorithm unknown, the id does not match, or the key is not a valid
    /// point of its algorithm.
    pub fn parse(vkey: &str) -> Result<VerifierKey, KeyError> {
        let vkey = vkey.trim_end_matches(['\n', '\r']);
        let (name, id, key_type, pubkey) = split_key(vkey)?;
        let public = public_of(key_type, &pubkey)?;
        if key_id(name, key_type, &pubkey) != id {
            return Err(KeyError::IdMismatch);
        }
        Ok(VerifierKey {
            name: name.to_string(),
            key_id: id,
            key_type,
            public,
        })
    }

    /// from_public_key builds a verifier key from its parts.
    ///
    /// # Errors
    ///
    /// [`KeyError::Name`] or [`KeyError::BadPublicKey`].
    pub fn from_public_key(
        name: &str,
        key_type: KeyType,
        public_key: &[u8],
    ) -> Result<VerifierKey, KeyError> {
        if !is_valid_name(name) {
            return Err(KeyError::Name);
        }
        let public = public_of(key_type, public_key)?;
        Ok(VerifierKey {
            name: name.to_string(),
            key_id: key_id(name, key_type, public_key),
            key_type,
            public,
        })
    }

    /// to_vkey formats the verifier key text.
    pub fn to_vkey(&self) -> String {
        let mut raw = self.key_type.type_bytes();
        raw.extend_from_slice(&self.public.material());
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }

    /// name returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// key_id returns the key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// key_type returns the key's algorithm.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// public_key returns the typed public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// verify_sig checks a raw 64-byte signature of `msg` under the key's
    /// algorithm (Ed25519 verify_strict, or SM2 with the default ID).
    pub fn verify_sig(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.public.verify(self.key_type.alg(), msg, sig).is_ok()
    }

    /// verify_ed25519 checks a raw Ed25519 signature with `verify_strict`;
    /// false for a key of another algorithm.
    pub fn verify_ed25519(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.key_type.alg() == SigAlg::Ed25519 && self.verify_sig(msg, sig)
    }
}

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
