//! The leaf the node appends (schemas/FORMATS.md, "Leaf"), in two versions:
//!
//! - **v2** (every new entry): `2 ‖ index ‖ integrated time ‖ previous leaf
//!   hash ‖ state root ‖ envelope hash`, 113 bytes. The state root is the
//!   root of the registry state map after applying the entry (D15); the
//!   envelope hash is `H(envelope binary form)` in the log's suite. The
//!   envelope itself is stored and served beside the leaf, in envelope
//!   bundles aligned with the entry bundles, so a pruned envelope leaves
//!   its leaf, and with it every tile, checkpoint and proof, intact.
//! - **v1** (logs written before issue 14): `1 ‖ index ‖ integrated time ‖
//!   previous leaf hash ‖ envelope`, the envelope inline, no state root.
//!
//! The previous leaf hash chains every entry to the one before it,
//! independently of the Merkle tree (the rule that it does, and that a v1
//! leaf never follows a v2 one, is [`crate::entry::chain`]). Parsers accept
//! both versions; [`open_entry`] pairs a leaf with its envelope and checks
//! that they belong together.

use crate::entry::envelope::{Envelope, EnvelopeError};
use crate::tlog::hash::{Hash, HashSuite};

/// LEAF_V1 is the version byte of a leaf with its envelope inline.
pub const LEAF_V1: u8 = 1;

/// LEAF_V2 is the version byte of a compact leaf (state root and envelope hash).
pub const LEAF_V2: u8 = 2;

/// LEAF_VERSION is the version every new entry is written in.
pub const LEAF_VERSION: u8 = LEAF_V2;

/// LEAF_HEADER_LEN is the size of the fields both versions share
/// (version, index, time, previous leaf hash): the fixed part of a v1 leaf
/// before its envelope.
pub const LEAF_HEADER_LEN: usize = 1 + 8 + 8 + 32;

/// LEAF_V2_LEN is the size of a v2 leaf: the header, the state root and
/// the envelope hash.
pub const LEAF_V2_LEN: usize = LEAF_HEADER_LEN + 32 + 32;

/// LeafError says why leaf bytes were rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum LeafError {
    /// Malformed: too short or long, or an unknown version.
    #[error("malformed leaf: {0}")]
    Malformed(&'static str),
    /// Envelope: the envelope inside (v1) is malformed.
    #[error("leaf envelope: {0}")]
    Envelope(#[from] EnvelopeError),
}

/// Body is what follows the shared header: the envelope (v1) or the two
/// commitments (v2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Inline is a v1 leaf's envelope.
    Inline {
        /// envelope is the signed entry.
        envelope: Envelope,
        /// envelope_bytes are the exact envelope bytes as stored.
        envelope_bytes: Vec<u8>,
    },
    /// Compact is a v2 leaf's commitments.
    Compact {
        /// state_root is the state map root after applying this entry.
        state_root: Hash,
        /// envelope_hash is `H(envelope binary form)`.
        envelope_hash: Hash,
    },
}

/// Leaf is one log entry as appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// version is [`LEAF_V1`] or [`LEAF_V2`].
    pub version: u8,
    /// index is the entry's position in the log.
    pub index: u64,
    /// integrated_time_ms is when the node sequenced it (Unix ms, strictly increasing).
    pub integrated_time_ms: u64,
    /// prev_leaf_hash is the leaf hash of entry index-1 (zeros for index 0).
    pub prev_leaf_hash: Hash,
    /// body is the envelope (v1) or the state root and envelope hash (v2).
    pub body: Body,
}

/// envelope_hash returns `H(envelope bytes)` in `suite`: what a v2 leaf
/// commits to. Only ever compared with a leaf's envelope-hash field.
pub fn envelope_hash(suite: HashSuite, envelope_bytes: &[u8]) -> Hash {
    suite.digest(&[envelope_bytes])
}

impl Leaf {
    /// inline builds a v1 leaf around an envelope (logs written before
    /// issue 14, and tests of them; new entries are [`Leaf::compact`]).
    pub fn inline(
        index: u64,
        integrated_time_ms: u64,
        prev_leaf_hash: Hash,
        envelope: Envelope,
    ) -> Leaf {
        let envelope_bytes = envelope.to_bytes();
        Leaf {
            version: LEAF_V1,
            index,
            integrated_time_ms,
            prev_leaf_hash,
            body: Body::Inline {
                envelope,
                envelope_bytes,
            },
        }
    }

    /// compact builds a v2 leaf.
    pub fn compact(
        index: u64,
        integrated_time_ms: u64,
        prev_leaf_hash: Hash,
        state_root: Hash,
        envelope_hash: Hash,
    ) -> Leaf {
        Leaf {
            version: LEAF_V2,
            index,
            integrated_time_ms,
            prev_leaf_hash,
            body: Body::Compact {
                state_root,
                envelope_hash,
            },
        }
    }

    /// state_root returns the committed state root (v2), None for v1.
    pub fn state_root(&self) -> Option<Hash> {
        match &self.body {
            Body::Compact { state_root, .. } => Some(*state_root),
            Body::Inline { .. } => None,
        }
    }

    /// envelope_hash returns a v2 leaf's envelope hash (None for v1).
    pub fn envelope_hash(&self) -> Option<Hash> {
        match &self.body {
            Body::Compact { envelope_hash, .. } => Some(*envelope_hash),
            Body::Inline { .. } => None,
        }
    }

    /// inline_envelope returns a v1 leaf's envelope (None for v2: its
    /// envelope is stored beside it).
    pub fn inline_envelope(&self) -> Option<&Envelope> {
        match &self.body {
            Body::Inline { envelope, .. } => Some(envelope),
            Body::Compact { .. } => None,
        }
    }

    /// to_bytes returns the leaf bytes (schemas/FORMATS.md, "Leaf").
    pub fn to_bytes(&self) -> Vec<u8> {
        let tail = match &self.body {
            Body::Inline { envelope_bytes, .. } => envelope_bytes.len(),
            Body::Compact { .. } => 64,
        };
        let mut b = Vec::with_capacity(LEAF_HEADER_LEN + tail);
        b.push(self.version);
        b.extend_from_slice(&self.index.to_be_bytes());
        b.extend_from_slice(&self.integrated_time_ms.to_be_bytes());
        b.extend_from_slice(&self.prev_leaf_hash.0);
        match &self.body {
            Body::Inline { envelope_bytes, .. } => b.extend_from_slice(envelope_bytes),
            Body::Compact {
                state_root,
                envelope_hash,
            } => {
                b.extend_from_slice(&state_root.0);
                b.extend_from_slice(&envelope_hash.0);
            }
        }
        b
    }

    /// parse reads leaf bytes strictly (either version).
    ///
    /// # Errors
    ///
    /// [`LeafError::Malformed`] (too short, a v2 leaf not exactly 113
    /// bytes, an unknown version) or [`LeafError::Envelope`] (a v1 leaf's
    /// envelope does not parse).
    pub fn parse(b: &[u8]) -> Result<Leaf, LeafError> {
        if b.len() < LEAF_HEADER_LEN {
            return Err(LeafError::Malformed("shorter than the leaf header"));
        }
        let index = u64::from_be_bytes(b[1..9].try_into().expect("8"));
        let integrated_time_ms = u64::from_be_bytes(b[9..17].try_into().expect("8"));
        let prev_leaf_hash = Hash::from_slice(&b[17..49]).expect("32");
        let body = match b[0] {
            LEAF_V1 => {
                let envelope_bytes = b[LEAF_HEADER_LEN..].to_vec();
                let envelope = Envelope::from_bytes(&envelope_bytes)?;
                Body::Inline {
                    envelope,
                    envelope_bytes,
                }
            }
            LEAF_V2 => {
                if b.len() != LEAF_V2_LEN {
                    return Err(LeafError::Malformed("a v2 leaf is exactly 113 bytes"));
                }
                Body::Compact {
                    state_root: Hash::from_slice(&b[49..81]).expect("32"),
                    envelope_hash: Hash::from_slice(&b[81..113]).expect("32"),
                }
            }
            _ => return Err(LeafError::Malformed("unknown leaf version")),
        };
        Ok(Leaf {
            version: b[0],
            index,
            integrated_time_ms,
            prev_leaf_hash,
            body,
        })
    }

    /// hash returns the RFC 9162 leaf hash of the leaf bytes.
    pub fn hash(&self, suite: HashSuite) -> Hash {
        suite.leaf_hash(&self.to_bytes())
    }
}

/// OpenError says why a leaf and the envelope served beside it do not make
/// an entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum OpenError {
    /// Leaf: the leaf bytes do not parse.
    #[error(transparent)]
    Leaf(#[from] LeafError),
    /// EnvelopeMismatch: the bytes served as a v2 leaf's envelope do not
    /// hash to its envelope hash (they are not what the log committed to).
    #[error("the envelope served hashes to {got}, the leaf commits to {want}")]
    EnvelopeMismatch {
        /// got is the hash of the bytes served.
        got: Hash,
        /// want is the leaf's envelope hash.
        want: Hash,
    },
    /// Envelope: the envelope the leaf commits to does not parse (the log
    /// committed to malformed bytes).
    #[error("the envelope the leaf commits to is malformed: {0}")]
    Envelope(EnvelopeError),
    /// Unexpected: envelope bytes given beside a v1 leaf, which holds its own.
    #[error("a v1 leaf holds its envelope; none may be served beside it")]
    Unexpected,
}

/// Opened is a leaf with its envelope: inline (v1), served beside it and
/// matching its hash (v2), or missing (a v2 leaf whose envelope was not
/// served, or pruned: the caller decides whether that is allowed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// leaf is the parsed leaf.
    pub leaf: Leaf,
    /// envelope is its envelope, None when missing.
    pub envelope: Option<Envelope>,
    /// envelope_bytes are the envelope's exact bytes, None when missing.
    pub envelope_bytes: Option<Vec<u8>>,
}

/// open_entry parses `leaf_bytes` and pairs the leaf with `envelope`, the
/// bytes served beside it (None or empty: not served). A v1 leaf takes its
/// envelope from inside and refuses one beside it; a v2 leaf's envelope
/// must hash to its envelope hash and parse.
///
/// # Errors
///
/// An [`OpenError`].
pub fn open_entry(
    suite: HashSuite,
    leaf_bytes: &[u8],
    envelope: Option<&[u8]>,
) -> Result<Opened, OpenError> {
    let leaf = Leaf::parse(leaf_bytes)?;
    let envelope = envelope.filter(|e| !e.is_empty());
    match &leaf.body {
        Body::Inline {
            envelope: e,
            envelope_bytes,
        } => {
            if envelope.is_some() {
                return Err(OpenError::Unexpected);
            }
            let (e, b) = (e.clone(), envelope_bytes.clone());
            Ok(Opened {
                leaf,
                envelope: Some(e),
                envelope_bytes: Some(b),
            })
        }
        Body::Compact { envelope_hash, .. } => {
            let Some(bytes) = envelope else {
                return Ok(Opened {
                    leaf,
                    envelope: None,
                    envelope_bytes: None,
                });
            };
            let got = self::envelope_hash(suite, bytes);
            if got != *envelope_hash {
                return Err(OpenError::EnvelopeMismatch {
                    got,
                    want: *envelope_hash,
                });
            }
            let e = Envelope::from_bytes(bytes).map_err(OpenError::Envelope)?;
            Ok(Opened {
                leaf,
                envelope: Some(e),
                envelope_bytes: Some(bytes.to_vec()),
            })
        }
    }
}

/// open_entry_unchecked pairs a leaf with an envelope its owner stored
/// beside it without hashing it again (a node reading its own store, which
/// checked it when it appended). A v1 leaf takes its own envelope.
///
/// # Errors
///
/// The leaf or the envelope does not parse.
pub fn open_entry_unchecked(
    leaf_bytes: &[u8],
    envelope: Option<&[u8]>,
) -> Result<Opened, OpenError> {
    let leaf = Leaf::parse(leaf_bytes)?;
    if let Some(e) = leaf.inline_envelope() {
        let e = e.clone();
        let b = e.to_bytes();
        return Ok(Opened {
            leaf,
            envelope: Some(e),
            envelope_bytes: Some(b),
        });
    }
    let Some(bytes) = envelope.filter(|e| !e.is_empty()) else {
        return Ok(Opened {
            leaf,
            envelope: None,
            envelope_bytes: None,
        });
    };
    let e = Envelope::from_bytes(bytes).map_err(OpenError::Envelope)?;
    Ok(Opened {
        leaf,
        envelope: Some(e),
        envelope_bytes: Some(bytes.to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::envelope::payload_type_for;

    fn envelope() -> Envelope {
        let k = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        Envelope::sign(
            &payload_type_for("genesis"),
            b"{}".to_vec(),
            "a/00000000",
            &k,
        )
    }

    #[test]
    fn v1_round_trip_and_strictness() {
        let l = Leaf::inline(7, 1_700_000_000_000, Hash([5; 32]), envelope());
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
        assert_eq!(l.state_root(), None);
    }

    #[test]
    fn v2_is_113_bytes_exactly_and_round_trips() {
        let l = Leaf::compact(
            7,
            1_700_000_000_000,
            Hash([5; 32]),
            Hash([6; 32]),
            Hash([7; 32]),
        );
        let b = l.to_bytes();
        assert_eq!(b.len(), LEAF_V2_LEN);
        assert_eq!(LEAF_V2_LEN, 113);
        assert_eq!(b[0], 2);
        assert_eq!(&b[49..81], &[6; 32]);
        assert_eq!(&b[81..], &[7; 32]);
        assert_eq!(Leaf::parse(&b).unwrap(), l);
        assert_eq!(l.state_root(), Some(Hash([6; 32])));
        for i in 0..b.len() {
            assert!(Leaf::parse(&b[..i]).is_err(), "prefix {i}");
        }
        let mut long = b.clone();
        long.push(0);
        assert!(Leaf::parse(&long).is_err(), "a trailing byte");
    }

    #[test]
    fn an_envelope_belongs_to_a_v2_leaf_only_if_it_hashes_to_its_commitment() {
        let s = HashSuite::Sha256;
        let e = envelope();
        let eb = e.to_bytes();
        let l = Leaf::compact(3, 10, Hash([1; 32]), Hash([2; 32]), envelope_hash(s, &eb));
        let lb = l.to_bytes();
        let o = open_entry(s, &lb, Some(&eb)).unwrap();
        assert_eq!(o.envelope.as_ref(), Some(&e));
        // Not served (or served empty, as a pruned one is): missing, not an error.
        assert_eq!(open_entry(s, &lb, None).unwrap().envelope, None);
        assert_eq!(open_entry(s, &lb, Some(&[])).unwrap().envelope, None);
        // One flipped byte of the envelope: not what the log committed to.
        let mut bad = eb.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            open_entry(s, &lb, Some(&bad)),
            Err(OpenError::EnvelopeMismatch { .. })
        ));
        // The other suite's hash of the same bytes is another commitment.
        assert!(open_entry(HashSuite::Blake3, &lb, Some(&eb)).is_err());
        // Committed bytes that are not an envelope: the log's fault.
        let junk = b"not an envelope".to_vec();
        let lj = Leaf::compact(3, 10, Hash([1; 32]), Hash([2; 32]), envelope_hash(s, &junk));
        assert!(matches!(
            open_entry(s, &lj.to_bytes(), Some(&junk)),
            Err(OpenError::Envelope(_))
        ));
        // A v1 leaf holds its own envelope and takes none beside it.
        let v1 = Leaf::inline(3, 10, Hash([1; 32]), e.clone()).to_bytes();
        assert_eq!(open_entry(s, &v1, None).unwrap().envelope, Some(e));
        assert_eq!(open_entry(s, &v1, Some(&eb)), Err(OpenError::Unexpected));
    }
}
