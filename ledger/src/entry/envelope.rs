//! The signed entry envelope (DSSE-style): a payload type, the exact payload
//! bytes, and signatures over the DSSE pre-authentication encoding (PAE,
//! <https://github.com/secure-systems-lab/dsse/blob/master/protocol.md>).
//!
//! The bytes signed are the bytes stored and hashed; nothing is re-encoded.
//! The JSON form is for the HTTP API; the binary form ([`Envelope::to_bytes`])
//! is what a leaf carries. Layouts are in `schemas/FORMATS.md`.

pub use crate::crypto::SigAlg;
use crate::crypto::{PublicKey, SecretKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// MAX_PAYLOAD bounds a payload so that any leaf fits a tile entry (u16 length).
pub const MAX_PAYLOAD: usize = 60 * 1024;

/// MAX_SIGNATURES bounds the signatures of one envelope.
pub const MAX_SIGNATURES: usize = 8;

/// MAX_TYPE_BYTES bounds the payload type.
pub const MAX_TYPE_BYTES: usize = 128;

/// MAX_KEY_ID_BYTES bounds a signature's key id.
pub const MAX_KEY_ID_BYTES: usize = 128;

/// PAYLOAD_TYPE_PREFIX starts every regledger payload type.
pub const PAYLOAD_TYPE_PREFIX: &str = "application/vnd.regledger.";

/// PAYLOAD_TYPE_SUFFIX ends every regledger payload type.
pub const PAYLOAD_TYPE_SUFFIX: &str = "+json";

/// ENVELOPE_VERSION is the first byte of the binary layout.
pub const ENVELOPE_VERSION: u8 = 1;

/// EnvelopeError says why an envelope was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum EnvelopeError {
    /// Malformed: the bytes or JSON break the layout or a limit.
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// UnknownType: the payload type is not a regledger type.
    #[error("unknown payload type {0:?}")]
    UnknownType(String),
    /// NoSignature: no signature by the given key id.
    #[error("no signature by key {0:?}")]
    NoSignature(String),
    /// BadSignature: the signature does not verify.
    #[error("signature by key {0:?} does not verify")]
    BadSignature(String),
    /// Sm2Unverified: a well-formed SM2 signature that does not verify
    /// under its key and the signer ID that key is registered with. The ID
    /// is named: a signature made under another ID (most often the default
    /// where the key states one, or the reverse) fails only here.
    #[error("SM2 signature by key {key_id:?} does not verify under the key's signer ID {signer_id:?} (signed under another ID, by another key, or over another message)")]
    Sm2Unverified {
        /// key_id is the signature's key id.
        key_id: String,
        /// signer_id is the signer ID the key is registered with.
        signer_id: String,
    },
    /// UnknownKey: no public key is known for a signature's key id.
    #[error("no key is registered under key id {0:?}; every signature must be by a known key")]
    UnknownKey(String),
    /// WrongAlgorithm: a signature's algorithm is not its key's (an SM2
    /// signature on an Ed25519 key id, or the reverse).
    #[error("signature by key {key_id:?} says {sig}, but the key registered under it is {key}")]
    WrongAlgorithm {
        /// key_id is the signature's key id.
        key_id: String,
        /// sig is the signature's algorithm.
        sig: SigAlg,
        /// key is the key's.
        key: SigAlg,
    },
    /// DuplicateKey: two signatures share a key id or a public key.
    #[error("two signatures by the same key {0:?}; every signature must come from a distinct key")]
    DuplicateKey(String),
}

/// Preverified records that signature `index` of one envelope was verified
/// (with `verify_strict`) against `public_key`, so that a later check of
/// the same envelope need not verify it again. It names one signature by
/// position: a signature it does not name is verified, so a junk signature
/// can never ride on a verified one (issue 12).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preverified {
    /// index is the signature's position in [`Envelope::signatures`].
    pub index: usize,
    /// public_key is the key it verified with.
    pub public_key: PublicKey,
}

/// EnvelopeSignature is one signature of an envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// alg is the signature algorithm.
    pub alg: SigAlg,
    /// key_id names the signing key (see [`participant_key_id`]).
    pub key_id: String,
    /// sig is the signature over the PAE.
    pub sig: Vec<u8>,
}

/// Envelope is a signed payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// payload_type names the entry kind.
    pub payload_type: String,
    /// payload is the exact JSON bytes that were signed.
    pub payload: Vec<u8>,
    /// signatures are the signatures over the PAE.
    pub signatures: Vec<EnvelopeSignature>,
}

/// participant_key_id returns the key id of a participant's key:
/// `<participant id>/<first 8 hex digits of SHA-256(key material)>`, the
/// material being the 32-byte Ed25519 key or the SM2 point (and stated
/// signer ID, if any): [`PublicKey::material`].
pub fn participant_key_id(participant_id: &str, public_key: &PublicKey) -> String {
    let d = Sha256::digest(public_key.material());
    format!("{participant_id}/{}", hex8(&d[..4]))
}

fn hex8(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// payload_type_for returns the payload type of an entry kind name.
pub fn payload_type_for(kind: &str) -> String {
    format!("{PAYLOAD_TYPE_PREFIX}{kind}{PAYLOAD_TYPE_SUFFIX}")
}

/// kind_name_of returns the kind name inside a regledger payload type.
pub fn kind_name_of(payload_type: &str) -> Option<&str> {
    payload_type
        .strip_prefix(PAYLOAD_TYPE_PREFIX)?
        .strip_suffix(PAYLOAD_TYPE_SUFFIX)
}

fn valid_text(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| (0x21..0x7f).contains(&b))
}

impl Envelope {
    /// pae returns the DSSE pre-authentication encoding:
    /// `"DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload`.
    pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
        let mut m = format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .into_bytes();
        m.extend_from_slice(payload);
        m
    }

    /// sign returns an envelope with one Ed25519 signature.
    pub fn sign(payload_type: &str, payload: Vec<u8>, key_id: &str, key: &SigningKey) -> Envelope {
        Envelope::sign_with(
            payload_type,
            payload,
            key_id,
            &SecretKey::Ed25519(key.clone()),
        )
    }

    /// sign_with returns an envelope with one signature by `key` (Ed25519,
    /// or SM2 under the key's signer ID).
    pub fn sign_with(
        payload_type: &str,
        payload: Vec<u8>,
        key_id: &str,
        key: &SecretKey,
    ) -> Envelope {
        let sig = key.sign(&Envelope::pae(payload_type, &payload)).to_vec();
        Envelope {
            payload_type: payload_type.to_string(),
            payload,
            signatures: vec![EnvelopeSignature {
                alg: key.alg(),
                key_id: key_id.to_string(),
                sig,
            }],
        }
    }

    /// check enforces the limits every envelope must meet.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::Malformed`] naming the limit broken.
    pub fn check(&self) -> Result<(), EnvelopeError> {
        let m = |s: &str| Err(EnvelopeError::Malformed(s.to_string()));
        if !valid_text(&self.payload_type, MAX_TYPE_BYTES) {
            return m("payload type must be 1..128 printable ASCII bytes");
        }
        if self.payload.len() > MAX_PAYLOAD {
            return m("payload larger than 60 KiB");
        }
        if self.signatures.is_empty() || self.signatures.len() > MAX_SIGNATURES {
            return m("an envelope carries 1 to 8 signatures");
        }
        for s in &self.signatures {
            if !valid_text(&s.key_id, MAX_KEY_ID_BYTES) {
                return m("key id must be 1..128 printable ASCII bytes");
            }
            if s.sig.len() != 64 {
                return m("a signature is 64 bytes (Ed25519, or SM2 r ‖ s)");
            }
        }
        Ok(())
    }

    /// content_id is the replay identity: SHA-256 of the DSSE PAE, that is
    /// of exactly what every signature signs (payload type and payload
    /// bytes). Signatures are not part of it, so reordering them, adding a
    /// co-signature or a junk one never makes a new identity (D12).
    pub fn content_id(&self) -> [u8; 32] {
        Sha256::digest(Envelope::pae(&self.payload_type, &self.payload)).into()
    }

    /// distinct_key_ids refuses two signatures under one key id.
    fn distinct_key_ids(&self) -> Result<(), EnvelopeError> {
        for (i, s) in self.signatures.iter().enumerate() {
            if self.signatures[..i].iter().any(|t| t.key_id == s.key_id) {
                return Err(EnvelopeError::DuplicateKey(s.key_id.clone()));
            }
        }
        Ok(())
    }

    /// verify_at verifies signature `index` with `public_key`: the
    /// signature's algorithm must be the key's; Ed25519 with verify_strict
    /// (refusing small-order keys), SM2 under the key's signer ID.
    fn verify_at(&self, index: usize, public_key: &PublicKey) -> Result<(), EnvelopeError> {
        let s = &self.signatures[index];
        if s.alg != public_key.alg() {
            return Err(EnvelopeError::WrongAlgorithm {
                key_id: s.key_id.clone(),
                sig: s.alg,
                key: public_key.alg(),
            });
        }
        if let PublicKey::Ed25519(k) = public_key {
            let weak = crate::crypto::decoded_ed25519(k).is_none_or(|vk| vk.is_weak());
            if weak {
                return Err(EnvelopeError::BadSignature(s.key_id.clone()));
            }
        }
        public_key
            .verify(
                s.alg,
                &Envelope::pae(&self.payload_type, &self.payload),
                &s.sig,
            )
            .map_err(|e| match e {
                crate::crypto::SignatureError::Sm2(crate::crypto::Sm2Error::Unverified { id }) => {
                    EnvelopeError::Sm2Unverified {
                        key_id: s.key_id.clone(),
                        signer_id: id,
                    }
                }
                _ => EnvelopeError::BadSignature(s.key_id.clone()),
            })
    }

    /// verify_all verifies every signature: each must be under a key id
    /// that `key_of` knows, with a public key no other signature uses, and
    /// must verify (verify_strict). It returns the public keys, in
    /// signature order. There is no way to accept an envelope on some of
    /// its signatures.
    ///
    /// # Errors
    ///
    /// As [`Envelope::verify_all_preverified`].
    pub fn verify_all(
        &self,
        key_of: impl FnMut(&str) -> Option<PublicKey>,
    ) -> Result<Vec<PublicKey>, EnvelopeError> {
        self.verify_all_preverified(key_of, &[])
    }

    /// verify_all_preverified is [`Envelope::verify_all`] that skips the
    /// cryptographic check of a signature listed in `preverified` with the
    /// very public key `key_of` gives now (a key replaced since is verified
    /// again). Every other condition is checked for every signature.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::DuplicateKey`] (a key id or public key used twice),
    /// [`EnvelopeError::UnknownKey`] (a key id `key_of` does not know), or
    /// [`EnvelopeError::BadSignature`].
    pub fn verify_all_preverified(
        &self,
        mut key_of: impl FnMut(&str) -> Option<PublicKey>,
        preverified: &[Preverified],
    ) -> Result<Vec<PublicKey>, EnvelopeError> {
        self.distinct_key_ids()?;
        let mut keys: Vec<PublicKey> = Vec::with_capacity(self.signatures.len());
        for (index, s) in self.signatures.iter().enumerate() {
            let public_key =
                key_of(&s.key_id).ok_or_else(|| EnvelopeError::UnknownKey(s.key_id.clone()))?;
            if keys.contains(&public_key) {
                return Err(EnvelopeError::DuplicateKey(s.key_id.clone()));
            }
            if !preverified
                .iter()
                .any(|p| p.index == index && p.public_key == public_key)
            {
                self.verify_at(index, &public_key)?;
            }
            keys.push(public_key);
        }
        Ok(keys)
    }

    /// verify_known verifies every signature whose key `key_of` already
    /// knows and returns them as [`Preverified`]; a signature by a key not
    /// known yet is left for [`Envelope::verify_all_preverified`]. Two
    /// signatures under one key id, or any known signature that fails,
    /// refuse the envelope. (The node calls it before sequencing.)
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::DuplicateKey`] or [`EnvelopeError::BadSignature`].
    pub fn verify_known(
        &self,
        mut key_of: impl FnMut(&str) -> Option<PublicKey>,
    ) -> Result<Vec<Preverified>, EnvelopeError> {
        self.distinct_key_ids()?;
        let mut out = Vec::with_capacity(self.signatures.len());
        for (index, s) in self.signatures.iter().enumerate() {
            if let Some(public_key) = key_of(&s.key_id) {
                self.verify_at(index, &public_key)?;
                out.push(Preverified { index, public_key });
            }
        }
        Ok(out)
    }

    /// verify_signature proves that the key `key_id` signed this content
    /// (verify_strict): the certificate bundle uses it to check who
    /// registered a product. It says nothing of the other signatures; to
    /// accept an envelope use [`Envelope::verify_all`]. An envelope with two
    /// signatures under `key_id` is refused, not judged on the first.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::NoSignature`] (none under `key_id`),
    /// [`EnvelopeError::DuplicateKey`] (two), or [`EnvelopeError::BadSignature`].
    pub fn verify_signature(
        &self,
        key_id: &str,
        public_key: &PublicKey,
    ) -> Result<(), EnvelopeError> {
        let mut at = self
            .signatures
            .iter()
            .enumerate()
            .filter(|(_, s)| s.key_id == key_id)
            .map(|(i, _)| i);
        let i = at
            .next()
            .ok_or_else(|| EnvelopeError::NoSignature(key_id.to_string()))?;
        if at.next().is_some() {
            return Err(EnvelopeError::DuplicateKey(key_id.to_string()));
        }
        self.verify_at(i, public_key)
    }

    /// kind_name returns the entry kind named by the payload type.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::UnknownType`] if the payload type is not a regledger type.
    pub fn kind_name(&self) -> Result<&str, EnvelopeError> {
        kind_name_of(&self.payload_type)
            .ok_or_else(|| EnvelopeError::UnknownType(self.payload_type.clone()))
    }

    /// to_bytes returns the binary layout (schemas/FORMATS.md, "Envelope").
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.payload.len() + 128);
        b.push(ENVELOPE_VERSION);
        b.extend_from_slice(&(self.payload_type.len() as u16).to_be_bytes());
        b.extend_from_slice(self.payload_type.as_bytes());
        b.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        b.extend_from_slice(&self.payload);
        b.push(self.signatures.len() as u8);
        for s in &self.signatures {
            b.push(s.alg.tag());
            b.push(s.key_id.len() as u8);
            b.extend_from_slice(s.key_id.as_bytes());
            b.extend_from_slice(&(s.sig.len() as u16).to_be_bytes());
            b.extend_from_slice(&s.sig);
        }
        b
    }

    /// from_bytes parses the binary layout strictly: limits, no trailing bytes.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::Malformed`]: a length, version, algorithm or limit is
    /// wrong, or bytes are left over.
    pub fn from_bytes(b: &[u8]) -> Result<Envelope, EnvelopeError> {
        let mut r = Reader { b, at: 0 };
        if r.u8()? != ENVELOPE_VERSION {
            return Err(EnvelopeError::Malformed("unknown envelope version".into()));
        }
        let tl = usize::from(r.u16()?);
        let payload_type = String::from_utf8(r.take(tl)?.to_vec())
            .map_err(|_| EnvelopeError::Malformed("payload type is not UTF-8".into()))?;
        let pl = r.u32()? as usize;
        if pl > MAX_PAYLOAD {
            return Err(EnvelopeError::Malformed(
                "payload larger than 60 KiB".into(),
            ));
        }
        let payload = r.take(pl)?.to_vec();
        let n = usize::from(r.u8()?);
        let mut signatures = Vec::with_capacity(n.min(MAX_SIGNATURES));
        for _ in 0..n {
            let t = r.u8()?;
            let alg = SigAlg::from_tag(t).ok_or_else(|| {
                EnvelopeError::Malformed(format!(
                    "unknown signature algorithm {t} (1 is ed25519, 2 is sm2)"
                ))
            })?;
            let kl = usize::from(r.u8()?);
            let key_id = String::from_utf8(r.take(kl)?.to_vec())
                .map_err(|_| EnvelopeError::Malformed("key id is not UTF-8".into()))?;
            let sl = usize::from(r.u16()?);
            let sig = r.take(sl)?.to_vec();
            signatures.push(EnvelopeSignature { alg, key_id, sig });
        }
        if r.at != b.len() {
            return Err(EnvelopeError::Malformed("trailing bytes".into()));
        }
        let e = Envelope {
            payload_type,
            payload,
            signatures,
        };
        e.check()?;
        Ok(e)
    }

    /// to_json returns the API form.
    pub fn to_json(&self) -> Value {
        json!({
            "payloadType": self.payload_type,
            "payload": B64.encode(&self.payload),
            "signatures": self.signatures.iter().map(|s| json!({
                "keyid": s.key_id, "sig": B64.encode(&s.sig), "alg": s.alg.name()
            })).collect::<Vec<_>>(),
        })
    }

    /// from_json parses the API form strictly (no unknown fields).
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::Malformed`]: a member is missing, unknown, of the wrong
    /// type or not base64, or a limit is broken.
    pub fn from_json(v: &Value) -> Result<Envelope, EnvelopeError> {
        let m = |s: &str| EnvelopeError::Malformed(s.to_string());
        let o = v
            .as_object()
            .ok_or_else(|| m("envelope must be a JSON object"))?;
        if o.keys()
            .any(|k| !matches!(k.as_str(), "payloadType" | "payload" | "signatures"))
        {
            return Err(m("unknown field in envelope"));
        }
        let payload_type = o
            .get("payloadType")
            .and_then(Value::as_str)
            .ok_or_else(|| m("payloadType must be a string"))?
            .to_string();
        let payload = o
            .get("payload")
            .and_then(Value::as_str)
            .ok_or_else(|| m("payload must be a base64 string"))?;
        if payload.len() > MAX_PAYLOAD * 4 / 3 + 4 {
            return Err(m("payload larger than 60 KiB"));
        }
        let payload = B64
            .decode(payload)
            .map_err(|_| m("payload is not base64"))?;
        let sigs = o
            .get("signatures")
            .and_then(Value::as_array)
            .ok_or_else(|| m("signatures must be an array"))?;
        if sigs.len() > MAX_SIGNATURES {
            return Err(m("an envelope carries 1 to 8 signatures"));
        }
        let mut signatures = Vec::with_capacity(sigs.len());
        for s in sigs {
            let so = s
                .as_object()
                .ok_or_else(|| m("signature must be an object"))?;
            if so
                .keys()
                .any(|k| !matches!(k.as_str(), "keyid" | "sig" | "alg"))
            {
                return Err(m("unknown field in signature"));
            }
            let alg = match so.get("alg").map(|a| a.as_str()) {
                None => SigAlg::Ed25519,
                Some(Some(a)) => SigAlg::from_name(a).ok_or_else(|| {
                    m("unsupported signature algorithm (alg is \"ed25519\" or \"sm2\")")
                })?,
                Some(None) => return Err(m("alg must be a string")),
            };
            let key_id = so
                .get("keyid")
                .and_then(Value::as_str)
                .ok_or_else(|| m("keyid must be a string"))?
                .to_string();
            let sig = so
                .get("sig")
                .and_then(Value::as_str)
                .and_then(|x| B64.decode(x).ok())
                .ok_or_else(|| m("sig must be base64"))?;
            signatures.push(EnvelopeSignature { alg, key_id, sig });
        }
        let e = Envelope {
            payload_type,
            payload,
            signatures,
        };
        e.check()?;
        Ok(e)
    }

    /// digest returns SHA-256 of the binary form, signatures included. It
    /// is NOT the replay identity (signatures can be added or reordered
    /// without a key): that is [`Envelope::content_id`].
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EnvelopeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| EnvelopeError::Malformed("truncated".into()))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, EnvelopeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, EnvelopeError> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2")))
    }
    fn u32(&mut self) -> Result<u32, EnvelopeError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4")))
    }
}

/// verify_batch verifies every signature of many envelopes. Each item is
/// an envelope and the public keys of its signatures, one per signature in
/// order; it returns `(item, signature index)` of each signature that fails.
/// An item whose key count is not its signature count fails on every
/// signature: no envelope can pass on some of its signatures.
///
/// When all are good this costs one multiscalar multiplication
/// (ed25519-dalek `verify_batch`: the cofactorless equation with 128-bit
/// weights derived from all inputs), about half the cost of checking each.
/// When the batch fails, every signature is checked with
/// [`crate::tlog::note::verify_strict`] to name the failures. Small-order (weak)
/// public keys always fail. A batch can accept a signature `verify_strict`
/// refuses only if the key's holder deliberately malformed it (a
/// non-canonical or small-order-twisted R); docs/decisions.md D9 explains
/// why the audit accepts that trade.
pub fn verify_batch(items: &[(&Envelope, &[PublicKey])]) -> Vec<(usize, usize)> {
    let n: usize = items.iter().map(|(e, _)| e.signatures.len()).sum();
    let mut msgs = Vec::with_capacity(items.len());
    let mut sigs = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    let mut msg_of = Vec::with_capacity(n);
    let mut structurally_bad = false;
    for (env, pks) in items {
        if pks.len() != env.signatures.len() {
            structurally_bad = true;
            break;
        }
        msgs.push(Envelope::pae(&env.payload_type, &env.payload));
        for (s, pk) in env.signatures.iter().zip(pks.iter()) {
            // Only Ed25519 batches; an SM2 key or signature (or a mismatch)
            // sends the whole batch to the one-by-one check.
            let vk = match (pk, s.alg) {
                (PublicKey::Ed25519(pk), SigAlg::Ed25519) => {
                    VerifyingKey::from_bytes(pk).ok().filter(|k| !k.is_weak())
                }
                _ => None,
            };
            let sig = <[u8; 64]>::try_from(s.sig.as_slice()).ok();
            match (vk, sig) {
                (Some(vk), Some(sig)) => {
                    sigs.push(ed25519_dalek::Signature::from_bytes(&sig));
                    keys.push(vk);
                    msg_of.push(msgs.len() - 1);
                }
                _ => structurally_bad = true,
            }
        }
    }
    if !structurally_bad {
        let refs: Vec<&[u8]> = msg_of.iter().map(|&m| msgs[m].as_slice()).collect();
        if ed25519_dalek::verify_batch(&refs, &sigs, &keys).is_ok() {
            return Vec::new();
        }
    }
    verify_each(items)
}

/// verify_each is [`verify_batch`] checking each signature alone with
/// `verify_strict` (exactly the node's rule; slower).
pub fn verify_each(items: &[(&Envelope, &[PublicKey])]) -> Vec<(usize, usize)> {
    let mut bad = Vec::new();
    for (i, (env, pks)) in items.iter().enumerate() {
        if pks.len() != env.signatures.len() {
            bad.extend((0..env.signatures.len().max(1)).map(|j| (i, j)));
            continue;
        }
        for (j, pk) in pks.iter().enumerate() {
            if env.verify_at(j, pk).is_err() {
                bad.push((i, j));
            }
        }
    }
    bad
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
