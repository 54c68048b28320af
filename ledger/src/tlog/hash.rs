//! Hash suites and the RFC 9162 §2.1 hashing primitives
//! (<https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1>; schemas/FORMATS.md, "Tree").
//!
//! Every suite regledger supports produces 32-byte digests (SHA-256,
//! BLAKE3-256 and SM3), so [`struct@Hash`] is a fixed 32-byte newtype and a
//! suite only decides which function fills it. Adding a suite means adding a
//! variant here; the tree math never changes.

use std::fmt;

/// HASH_SIZE is the size in bytes of every digest regledger handles.
pub const HASH_SIZE: usize = 32;

/// Hash is a 32-byte digest: a leaf hash, an interior node or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

impl Hash {
    /// from_slice returns the hash held in `b`, or None unless it is exactly 32 bytes.
    pub fn from_slice(b: &[u8]) -> Option<Hash> {
        <[u8; HASH_SIZE]>::try_from(b).ok().map(Hash)
    }

    /// as_bytes returns the digest bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }

    /// to_hex returns the lowercase hex form.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s
    }

    /// from_hex parses exactly 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<Hash> {
        let b = s.as_bytes();
        if b.len() != 2 * HASH_SIZE {
            return None;
        }
        let mut out = [0u8; HASH_SIZE];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Hash(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// HashSuite is the hash function a log fixes in its genesis entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HashSuite {
    /// Sha256 interoperates with every C2SP tool and public witness.
    Sha256,
    /// Blake3 is BLAKE3 with 32-byte output; regledger's default.
    #[default]
    Blake3,
    /// Sm3 is SM3 (GB/T 32905-2016), the suite of a log assessed under
    /// GB/T 39786 (密评); its log and witness keys are SM2 (D19).
    Sm3,
}

impl HashSuite {
    /// name returns the suite's name as written in log.json and genesis:
    /// "sha256", "blake3" or "sm3".
    pub fn name(self) -> &'static str {
        match self {
            HashSuite::Sha256 => "sha256",
            HashSuite::Blake3 => "blake3",
            HashSuite::Sm3 => "sm3",
        }
    }

    /// from_name parses a suite name as written by [`HashSuite::name`].
    pub fn from_name(s: &str) -> Option<HashSuite> {
        match s {
            "sha256" => Some(HashSuite::Sha256),
            "blake3" => Some(HashSuite::Blake3),
            "sm3" => Some(HashSuite::Sm3),
            _ => None,
        }
    }

    /// digest hashes the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Hash {
        match self {
            HashSuite::Sha256 => {
                use sha2::Digest;
                let mut h = sha2::Sha256::new();
                for p in parts {
                    h.update(p);
                }
                Hash(h.finalize().into())
            }
            HashSuite::Blake3 => {
                let mut h = blake3::Hasher::new();
                for p in parts {
                    h.update(p);
                }
                Hash(*h.finalize().as_bytes())
            }
            HashSuite::Sm3 => {
                use sm3::Digest;
                let mut h = sm3::Sm3::new();
                for p in parts {
                    h.update(p);
                }
                Hash(h.finalize().into())
            }
        }
    }

    /// empty_root returns the root of the empty tree, H("") (RFC 9162 §2.1.1).
    pub fn empty_root(self) -> Hash {
        self.digest(&[])
    }

    /// leaf_hash returns H(0x00 ‖ data) (RFC 9162 §2.1.1).
    pub fn leaf_hash(self, data: &[u8]) -> Hash {
        self.digest(&[&[0x00], data])
    }

    /// node_hash returns H(0x01 ‖ left ‖ right) (RFC 9162 §2.1.1).
    pub fn node_hash(self, left: &Hash, right: &Hash) -> Hash {
        self.digest(&[&[0x01], &left.0, &right.0])
    }
}

impl fmt::Display for HashSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_roots_match_known_digests() {
        assert_eq!(
            HashSuite::Sha256.empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            HashSuite::Blake3.empty_root().to_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        // SM3("") as OpenSSL 3 computes it (`openssl dgst -sm3 /dev/null`).
        assert_eq!(
            HashSuite::Sm3.empty_root().to_hex(),
            "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
        );
        for s in [HashSuite::Sha256, HashSuite::Blake3, HashSuite::Sm3] {
            assert_eq!(HashSuite::from_name(s.name()), Some(s));
        }
        assert_eq!(HashSuite::from_name("SM3"), None);
    }

    #[test]
    fn hex_round_trip_and_rejects_bad_input() {
        let h = HashSuite::Sha256.leaf_hash(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Hash::from_hex("00"), None);
        assert_eq!(Hash::from_hex(&"g".repeat(64)), None);
        assert_eq!(Hash::from_hex(&"é".repeat(32)), None);
        assert_eq!(Hash::from_slice(&[0u8; 31]), None);
    }
}
