//! Signature algorithms and typed public keys: Ed25519 (RFC 8032, checked
//! with `verify_strict`) and SM2 (GB/T 32918.2 with SM3 and a signer ID,
//! [`sm2`]). Everything that names a key — note keys, witness keys,
//! participant keys in envelopes and registry state, `log.json` — holds a
//! [`PublicKey`], so the algorithm travels with the key and a signature can
//! never be judged under the wrong one (docs/decisions.md D19).

pub mod sm2;

use ed25519_dalek::Signer as _;

pub use self::sm2::{Sm2Error, Sm2PublicKey, Sm2SecretKey};

/// DECODED_KEYS_MAX bounds each thread's cache of decoded Ed25519 keys.
const DECODED_KEYS_MAX: usize = 4096;

std::thread_local! {
    /// DECODED_KEYS maps a 32-byte Ed25519 public key to its decoded form.
    /// Decoding (point decompression) is about a tenth of `verify_strict`
    /// (docs/benchmarks.md §3, `ed25519_key_decode`), and a log's signatures
    /// come from few keys: the node's request threads, the audit's workers
    /// and a mirror verify the same participants' keys over and over. A
    /// decoded key is a pure function of its bytes, so the cache can change
    /// no verdict; keys that do not decode are not kept. Per thread, so no
    /// lock on the hot path; emptied, not evicted, when full.
    static DECODED_KEYS: std::cell::RefCell<std::collections::HashMap<[u8; 32], ed25519_dalek::VerifyingKey>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// decoded_ed25519 decodes `key`, from this thread's cache when it can.
pub(crate) fn decoded_ed25519(key: &[u8; 32]) -> Option<ed25519_dalek::VerifyingKey> {
    DECODED_KEYS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(vk) = cache.get(key) {
            return Some(*vk);
        }
        let vk = ed25519_dalek::VerifyingKey::from_bytes(key).ok()?;
        if cache.len() >= DECODED_KEYS_MAX {
            cache.clear();
        }
        cache.insert(*key, vk);
        Some(vk)
    })
}

/// SigAlg is a signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SigAlg {
    /// Ed25519 (envelope tag 1, JSON "ed25519"), verified with verify_strict.
    Ed25519,
    /// SM2 with SM3 (envelope tag 2, JSON "sm2").
    Sm2,
}

impl SigAlg {
    /// tag is the algorithm byte of the envelope's binary layout.
    pub fn tag(self) -> u8 {
        match self {
            SigAlg::Ed25519 => 1,
            SigAlg::Sm2 => 2,
        }
    }

    /// from_tag reads an algorithm byte.
    pub fn from_tag(t: u8) -> Option<SigAlg> {
        match t {
            1 => Some(SigAlg::Ed25519),
            2 => Some(SigAlg::Sm2),
            _ => None,
        }
    }

    /// name is the algorithm name of JSON forms and CLI flags.
    pub fn name(self) -> &'static str {
        match self {
            SigAlg::Ed25519 => "ed25519",
            SigAlg::Sm2 => "sm2",
        }
    }

    /// from_name reads an algorithm name.
    pub fn from_name(s: &str) -> Option<SigAlg> {
        match s {
            "ed25519" => Some(SigAlg::Ed25519),
            "sm2" => Some(SigAlg::Sm2),
            _ => None,
        }
    }
}

impl std::fmt::Display for SigAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// KeyMaterialError says why public key bytes were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum KeyMaterialError {
    /// Ed25519: not 32 bytes, not a point, or of small order.
    #[error("invalid Ed25519 public key: {0}")]
    Ed25519(&'static str),
    /// Sm2: see [`Sm2Error`].
    #[error(transparent)]
    Sm2(#[from] Sm2Error),
}

/// PublicKey is a typed public key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PublicKey {
    /// Ed25519 is a 32-byte RFC 8032 public key.
    Ed25519([u8; 32]),
    /// Sm2 is an SM2 point with its signer ID.
    Sm2(Sm2PublicKey),
}

/// SignatureError says why a signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum SignatureError {
    /// WrongAlgorithm: the signature says one algorithm, the key is another.
    #[error("a {sig} signature cannot be by the {key} key it names")]
    WrongAlgorithm {
        /// sig is the signature's algorithm.
        sig: SigAlg,
        /// key is the key's.
        key: SigAlg,
    },
    /// Ed25519: the Ed25519 signature does not verify (verify_strict).
    #[error("Ed25519 signature does not verify")]
    Ed25519,
    /// Sm2: the SM2 signature does not verify.
    #[error(transparent)]
    Sm2(#[from] Sm2Error),
}

impl PublicKey {
    /// alg returns the key's algorithm.
    pub fn alg(&self) -> SigAlg {
        match self {
            PublicKey::Ed25519(_) => SigAlg::Ed25519,
            PublicKey::Sm2(_) => SigAlg::Sm2,
        }
    }

    /// material returns the key bytes: 32 for Ed25519; the 65-byte point,
    /// then the stated signer ID if any, for SM2.
    pub fn material(&self) -> Vec<u8> {
        match self {
            PublicKey::Ed25519(k) => k.to_vec(),
            PublicKey::Sm2(k) => k.material(),
        }
    }

    /// from_material reads key bytes of a known algorithm. Ed25519 keys of
    /// small order are refused (any signature verifies under them).
    ///
    /// # Errors
    ///
    /// [`KeyMaterialError`].
    pub fn from_material(alg: SigAlg, b: &[u8]) -> Result<PublicKey, KeyMaterialError> {
        match alg {
            SigAlg::Ed25519 => {
                let k: [u8; 32] = b
                    .try_into()
                    .map_err(|_| KeyMaterialError::Ed25519("not 32 bytes"))?;
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&k)
                    .map_err(|_| KeyMaterialError::Ed25519("not a valid point"))?;
                if vk.is_weak() {
                    return Err(KeyMaterialError::Ed25519(
                        "of small order (weak): it would accept forged signatures",
                    ));
                }
                Ok(PublicKey::Ed25519(k))
            }
            SigAlg::Sm2 => Ok(PublicKey::Sm2(Sm2PublicKey::from_material(b)?)),
        }
    }

    /// from_payload_material reads key bytes whose algorithm is told by
    /// their shape, as registry payloads carry them (base64-decoded): 32
    /// bytes are Ed25519; 65 or more starting 0x04 are SM2 (the point, then
    /// a stated signer ID).
    ///
    /// # Errors
    ///
    /// [`KeyMaterialError`].
    pub fn from_payload_material(b: &[u8]) -> Result<PublicKey, KeyMaterialError> {
        if b.len() == 32 {
            PublicKey::from_material(SigAlg::Ed25519, b)
        } else if b.len() >= sm2::POINT_LEN {
            PublicKey::from_material(SigAlg::Sm2, b)
        } else {
            Err(KeyMaterialError::Ed25519(
                "not 32 bytes (nor an SM2 key of 65 bytes or more)",
            ))
        }
    }

    /// as_ed25519 returns the Ed25519 key bytes.
    pub fn as_ed25519(&self) -> Option<&[u8; 32]> {
        match self {
            PublicKey::Ed25519(k) => Some(k),
            PublicKey::Sm2(_) => None,
        }
    }

    /// verify checks a signature of `msg` that claims algorithm `alg`.
    ///
    /// # Errors
    ///
    /// [`SignatureError::WrongAlgorithm`] when `alg` is not the key's, else
    /// the algorithm's own error.
    pub fn verify(&self, alg: SigAlg, msg: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
        if alg != self.alg() {
            return Err(SignatureError::WrongAlgorithm {
                sig: alg,
                key: self.alg(),
            });
        }
        match self {
            PublicKey::Ed25519(k) => {
                let ok = match (decoded_ed25519(k), <[u8; 64]>::try_from(sig)) {
                    (Some(vk), Ok(sig)) => vk
                        .verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
                        .is_ok(),
                    _ => false,
                };
                if ok {
                    Ok(())
                } else {
                    Err(SignatureError::Ed25519)
                }
            }
            PublicKey::Sm2(k) => Ok(k.verify(msg, sig)?),
        }
    }

    /// to_state_string is the form registry state stores and the API
    /// serves: Ed25519 as 64 lowercase hex digits (unchanged since the
    /// first data directory), SM2 as `sm2:` and the hex of its material.
    pub fn to_state_string(&self) -> String {
        match self {
            PublicKey::Ed25519(k) => to_hex(k),
            PublicKey::Sm2(k) => format!("sm2:{}", to_hex(&k.material())),
        }
    }

    /// from_state_string reads [`PublicKey::to_state_string`] strictly.
    ///
    /// # Errors
    ///
    /// A message naming what is wrong.
    pub fn from_state_string(s: &str) -> Result<PublicKey, String> {
        if let Some(h) = s.strip_prefix("sm2:") {
            let b = from_hex(h).ok_or("an SM2 key is sm2: and lowercase hex")?;
            return PublicKey::from_material(SigAlg::Sm2, &b).map_err(|e| e.to_string());
        }
        // Either case, as the reader has always accepted. State was written
        // by the rules, which refused weak keys; it is read back without
        // judging again so that old directories always load.
        let b = from_hex(&s.to_ascii_lowercase())
            .filter(|b| b.len() == 32)
            .ok_or("a public key is 64 hex digits (Ed25519) or sm2:<hex> (SM2)")?;
        Ok(PublicKey::Ed25519(b.try_into().expect("32")))
    }
}

/// SecretKey is a private signing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretKey {
    /// Ed25519 key (ed25519-dalek zeroizes it on drop).
    Ed25519(ed25519_dalek::SigningKey),
    /// Sm2 key.
    Sm2(Sm2SecretKey),
}

impl SecretKey {
    /// from_seed makes a key from 32 secret bytes the caller drew from a
    /// secure source: the Ed25519 seed, or SM2's d (default signer ID).
    ///
    /// # Errors
    ///
    /// [`Sm2Error::BadSecret`] for an SM2 d outside [1, n-2] (probability
    /// about 2^-32 for random bytes: draw again).
    pub fn from_seed(alg: SigAlg, seed: &[u8; 32]) -> Result<SecretKey, Sm2Error> {
        Ok(match alg {
            SigAlg::Ed25519 => SecretKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed)),
            SigAlg::Sm2 => SecretKey::Sm2(Sm2SecretKey::from_bytes(seed, None)?),
        })
    }

    /// alg returns the key's algorithm.
    pub fn alg(&self) -> SigAlg {
        match self {
            SecretKey::Ed25519(_) => SigAlg::Ed25519,
            SecretKey::Sm2(_) => SigAlg::Sm2,
        }
    }

    /// to_seed returns the 32 secret bytes [`SecretKey::from_seed`] reads.
    pub fn to_seed(&self) -> [u8; 32] {
        match self {
            SecretKey::Ed25519(k) => k.to_bytes(),
            SecretKey::Sm2(k) => k.to_bytes(),
        }
    }

    /// public_key returns the matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            SecretKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key().to_bytes()),
            SecretKey::Sm2(k) => PublicKey::Sm2(k.public().clone()),
        }
    }

    /// sign returns the 64-byte signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        match self {
            SecretKey::Ed25519(k) => k.sign(msg).to_bytes(),
            SecretKey::Sm2(k) => k.sign(msg),
        }
    }
}

/// to_hex returns lowercase hex.
pub fn to_hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 * b.len());
    for x in b {
        s.push(char::from(b"0123456789abcdef"[usize::from(x >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(x & 15)]));
    }
    s
}

/// from_hex reads lowercase hex (an even number of digits).
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() & 1 != 0 {
        return None;
    }
    let d = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    b.chunks_exact(2)
        .map(|p| Some((d(p[0])? << 4) | d(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(seed: u8, msg: &[u8]) -> (PublicKey, Vec<u8>) {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        (
            PublicKey::Ed25519(sk.verifying_key().to_bytes()),
            sk.sign(msg).to_bytes().to_vec(),
        )
    }

    // The cache of decoded keys changes no verdict: a cached key still
    // refuses a bad signature and another message; a key that does not
    // decode is refused every time; past the bound (the cache is emptied)
    // every key verifies as before.
    #[test]
    fn the_decoded_key_cache_changes_no_verdict() {
        let (pk, sig) = signed(1, b"m");
        for _ in 0..3 {
            assert_eq!(pk.verify(SigAlg::Ed25519, b"m", &sig), Ok(()));
            assert_eq!(
                pk.verify(SigAlg::Ed25519, b"other", &sig),
                Err(SignatureError::Ed25519)
            );
            let mut bad = sig.clone();
            bad[5] ^= 1;
            assert_eq!(
                pk.verify(SigAlg::Ed25519, b"m", &bad),
                Err(SignatureError::Ed25519)
            );
        }
        // y = 2 is not the y of any curve point: the key never decodes.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        assert!(ed25519_dalek::VerifyingKey::from_bytes(&not_a_point).is_err());
        for _ in 0..2 {
            assert_eq!(
                PublicKey::Ed25519(not_a_point).verify(SigAlg::Ed25519, b"m", &sig),
                Err(SignatureError::Ed25519)
            );
        }
        DECODED_KEYS.with(|c| assert!(!c.borrow().contains_key(&not_a_point)));
        // More keys than the cache holds, each verified twice.
        let msg = b"bound";
        let keys: Vec<_> = (0..=DECODED_KEYS_MAX as u32)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..4].copy_from_slice(&i.to_le_bytes());
                let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
                (
                    PublicKey::Ed25519(sk.verifying_key().to_bytes()),
                    sk.sign(msg).to_bytes().to_vec(),
                )
            })
            .collect();
        for _ in 0..2 {
            for (pk, sig) in &keys {
                assert_eq!(pk.verify(SigAlg::Ed25519, msg, sig), Ok(()));
            }
        }
        DECODED_KEYS.with(|c| assert!(c.borrow().len() <= DECODED_KEYS_MAX));
        assert_eq!(
            keys[0].0.verify(SigAlg::Ed25519, msg, &keys[1].1),
            Err(SignatureError::Ed25519),
            "one key's signature under another key"
        );
    }
}
