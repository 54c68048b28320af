//! Note keys: their types (Ed25519, SM2 and the cosignature types), key
//! ids, and the signer and verifier key strings
//! `<name>+<8 hex id>+<base64(type ‖ key)>`.

use super::is_valid_name;
use crate::crypto::{PublicKey, SecretKey, SigAlg};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

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
