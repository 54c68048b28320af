//! The leaf the node appends: `version ‖ index ‖ integrated time ‖ previous
//! leaf hash ‖ envelope`. The previous leaf hash chains every entry to the
//! one before it, independently of the Merkle tree (schemas/FORMATS.md,
//! "Leaf"; the rule that it does is [`crate::entry::chain`]).

use crate::entry::envelope::{Envelope, EnvelopeError};
use crate::tlog::hash::{Hash, HashSuite};

/// LEAF_VERSION is the first byte of every leaf.
pub const LEAF_VERSION: u8 = 1;

/// LEAF_HEADER_LEN is the size of the fixed part before the envelope.
pub const LEAF_HEADER_LEN: usize = 1 + 8 + 8 + 32;

/// LeafError says why leaf bytes were rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum LeafError {
    /// Malformed: too short or an unknown version.
    #[error("malformed leaf: {0}")]
    Malformed(&'static str),
    /// Envelope: the envelope inside is malformed.
    #[error("leaf envelope: {0}")]
    Envelope(#[from] EnvelopeError),
}

/// Leaf is one log entry as appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// version is [`LEAF_VERSION`].
    pub version: u8,
    /// index is the entry's position in the log.
    pub index: u64,
    /// integrated_time_ms is when the node sequenced it (Unix ms, strictly increasing).
    pub integrated_time_ms: u64,
    /// prev_leaf_hash is the leaf hash of entry index-1 (zeros for index 0).
    pub prev_leaf_hash: Hash,
    /// envelope is the signed entry.
    pub envelope: Envelope,
    /// envelope_bytes are the exact envelope bytes as stored.
    pub envelope_bytes: Vec<u8>,
}

impl Leaf {
    /// new builds a leaf around an envelope.
    pub fn new(
        index: u64,
        integrated_time_ms: u64,
        prev_leaf_hash: Hash,
        envelope: Envelope,
    ) -> Leaf {
        let envelope_bytes = envelope.to_bytes();
        Leaf {
            version: LEAF_VERSION,
            index,
            integrated_time_ms,
            prev_leaf_hash,
            envelope,
            envelope_bytes,
        }
    }

    /// to_bytes returns the leaf bytes (schemas/FORMATS.md, "Leaf").
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(LEAF_HEADER_LEN + self.envelope_bytes.len());
        b.push(self.version);
        b.extend_from_slice(&self.index.to_be_bytes());
        b.extend_from_slice(&self.integrated_time_ms.to_be_bytes());
        b.extend_from_slice(&self.prev_leaf_hash.0);
        b.extend_from_slice(&self.envelope_bytes);
        b
    }

    /// parse reads leaf bytes strictly.
    ///
    /// # Errors
    ///
    /// [`LeafError::Malformed`] (too short, unknown version) or
    /// [`LeafError::Envelope`] (the envelope inside does not parse).
    pub fn parse(b: &[u8]) -> Result<Leaf, LeafError> {
        if b.len() < LEAF_HEADER_LEN {
            return Err(LeafError::Malformed("shorter than the leaf header"));
        }
        if b[0] != LEAF_VERSION {
            return Err(LeafError::Malformed("unknown leaf version"));
        }
        let index = u64::from_be_bytes(b[1..9].try_into().expect("8"));
        let integrated_time_ms = u64::from_be_bytes(b[9..17].try_into().expect("8"));
        let prev_leaf_hash = Hash::from_slice(&b[17..49]).expect("32");
        let envelope_bytes = b[LEAF_HEADER_LEN..].to_vec();
        let envelope = Envelope::from_bytes(&envelope_bytes)?;
        Ok(Leaf {
            version: b[0],
            index,
            integrated_time_ms,
            prev_leaf_hash,
            envelope,
            envelope_bytes,
        })
    }

    /// hash returns the RFC 9162 leaf hash of the leaf bytes.
    pub fn hash(&self, suite: HashSuite) -> Hash {
        suite.leaf_hash(&self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::envelope::payload_type_for;

    #[test]
    fn round_trip_and_strictness() {
        let k = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let e = Envelope::sign(
            &payload_type_for("genesis"),
            b"{}".to_vec(),
            "a/00000000",
            &k,
        );
        let l = Leaf::new(7, 1_700_000_000_000, Hash([5; 32]), e);
        let b = l.to_bytes();
        assert_eq!(Leaf::parse(&b).unwrap(), l);
        assert_eq!(Leaf::parse(&b).unwrap().to_bytes(), b);
        for i in 0..b.len() {
            assert!(Leaf::parse(&b[..i]).is_err(), "prefix {i}");
        }
        let mut v = b.clone();
        v[0] = 9;
        assert!(Leaf::parse(&v).is_err());
        assert_ne!(l.hash(HashSuite::Sha256), l.hash(HashSuite::Blake3));
    }
}
