//! State map proofs: the compact encoding, its strict parser, and the two
//! verifications (presence of a key with a value, absence of a key).
//!
//! Encoding (`schemas/FORMATS.md`, "State map"):
//!
//! ```text
//! version (1) = 1
//! terminal (1): 0 = empty subtree, 1 = the key's own leaf, 2 = another key's leaf
//! depth d (2, big-endian, 0..=256)
//! bitmap: ceil(d/8) bytes; bit i (byte i/8, mask 0x80 >> i%8) is 1 iff
//!         the sibling at depth i+1 is not EMPTY; bits from d on are 0
//! siblings: one 32-byte hash per set bit, root side first
//! terminal 2 only: key hash (32) ‖ value hash (32) of the other leaf
//! ```
//!
//! One encoding per proof: a listed sibling is never [`EMPTY`], and when
//! `d > 0` the deepest sibling is listed (a subtree whose sibling is empty
//! would have been lifted into its parent, so a tree built by the rules
//! never yields such a path).

use super::{bit, internal_hash, key_hash, leaf_hash, value_hash, EMPTY, KEY_BITS};
use crate::{Hash, HashSuite};

/// PROOF_VERSION is the first byte of every encoded proof.
pub const PROOF_VERSION: u8 = 1;

/// MAX_PROOF_LEN is the length of the longest encoding: a 256-deep path
/// ending at another key's leaf, every sibling listed.
pub const MAX_PROOF_LEN: usize = 4 + KEY_BITS / 8 + KEY_BITS * 32 + 64;

/// ProofError says why a proof was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum ProofError {
    /// Malformed: the bytes are not a canonical proof encoding.
    #[error("malformed state map proof: {0}")]
    Malformed(&'static str),
    /// TooDeep: a path longer than the 256 bits of a key hash.
    #[error("state map proof depth {0} exceeds 256")]
    TooDeep(usize),
    /// NotPresence: an absence proof was offered as a proof of presence.
    #[error("the proof shows the key is absent, not present")]
    NotPresence,
    /// NotAbsence: a presence proof was offered as a proof of absence.
    #[error("the proof shows the key is present, not absent")]
    NotAbsence,
    /// OtherLeafIsKey: the "other" leaf of an absence proof is the key itself.
    #[error("the absence proof's other leaf is the key itself")]
    OtherLeafIsKey,
    /// OtherLeafOffPath: the other leaf's key does not share the path to where it sits.
    #[error("the absence proof's other leaf is not on the key's path at depth {depth}")]
    OtherLeafOffPath {
        /// depth is the proof's depth.
        depth: usize,
    },
    /// RootMismatch: the proof leads to a different root.
    #[error("state map proof does not lead to the expected root")]
    RootMismatch,
}

/// Terminal is what a proof's path ends at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminal {
    /// Empty: an empty subtree, so the key is absent.
    Empty,
    /// Leaf: the key's own leaf, so the key is present (the verifier supplies its value).
    Leaf,
    /// OtherLeaf: a subtree holding only another key, so the key is absent.
    OtherLeaf {
        /// key_hash is the other key's hash.
        key_hash: Hash,
        /// value_hash is the other key's value hash.
        value_hash: Hash,
    },
}

/// MapProof is a path from the root to where a key is or would be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapProof {
    terminal: Terminal,
    /// siblings[i] is the sibling at depth i+1 ([`EMPTY`] where empty).
    siblings: Vec<Hash>,
}

impl MapProof {
    /// new builds a proof from its terminal and the siblings from the root
    /// down (`siblings[i]` at depth `i+1`, [`EMPTY`] for an empty one).
    ///
    /// # Errors
    /// More than 256 siblings, or a deepest sibling that is empty (not canonical).
    pub fn new(terminal: Terminal, siblings: Vec<Hash>) -> Result<MapProof, ProofError> {
        if siblings.len() > KEY_BITS {
            return Err(ProofError::TooDeep(siblings.len()));
        }
        if siblings.last() == Some(&EMPTY) {
            return Err(ProofError::Malformed("the deepest sibling is empty"));
        }
        Ok(MapProof { terminal, siblings })
    }

    /// terminal returns what the path ends at.
    pub fn terminal(&self) -> &Terminal {
        &self.terminal
    }

    /// siblings returns the siblings from the root down ([`EMPTY`] where empty).
    pub fn siblings(&self) -> &[Hash] {
        &self.siblings
    }

    /// depth returns the path's length: the depth at which it ends.
    pub fn depth(&self) -> usize {
        self.siblings.len()
    }

    /// is_presence says whether the proof claims the key is present.
    pub fn is_presence(&self) -> bool {
        self.terminal == Terminal::Leaf
    }

    /// to_bytes returns the canonical encoding (module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let d = self.siblings.len();
        let listed = self.siblings.iter().filter(|h| **h != EMPTY).count();
        let mut b = Vec::with_capacity(4 + d.div_ceil(8) + 32 * listed + 64);
        b.push(PROOF_VERSION);
        b.push(match self.terminal {
            Terminal::Empty => 0,
            Terminal::Leaf => 1,
            Terminal::OtherLeaf { .. } => 2,
        });
        b.extend_from_slice(&(d as u16).to_be_bytes());
        let mut bitmap = vec![0u8; d.div_ceil(8)];
        for (i, h) in self.siblings.iter().enumerate() {
            if *h != EMPTY {
                bitmap[i / 8] |= 0x80 >> (i % 8);
            }
        }
        b.extend_from_slice(&bitmap);
        for h in self.siblings.iter().filter(|h| **h != EMPTY) {
            b.extend_from_slice(&h.0);
        }
        if let Terminal::OtherLeaf {
            key_hash,
            value_hash,
        } = &self.terminal
        {
            b.extend_from_slice(&key_hash.0);
            b.extend_from_slice(&value_hash.0);
        }
        b
    }

    /// parse reads a proof strictly: the exact length, no trailing bytes,
    /// zero padding bits, no listed sibling equal to [`EMPTY`], the deepest
    /// sibling listed, depth at most 256. `parse(b)?.to_bytes() == b`.
    ///
    /// # Errors
    /// [`ProofError::Malformed`] or [`ProofError::TooDeep`], saying which rule failed.
    pub fn parse(b: &[u8]) -> Result<MapProof, ProofError> {
        let m = ProofError::Malformed;
        if b.len() < 4 {
            return Err(m("shorter than the proof header"));
        }
        if b[0] != PROOF_VERSION {
            return Err(m("unknown proof version"));
        }
        let kind = b[1];
        if kind > 2 {
            return Err(m("unknown terminal"));
        }
        let d = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if d > KEY_BITS {
            return Err(ProofError::TooDeep(d));
        }
        let rest = &b[4..];
        let bm_len = d.div_ceil(8);
        if rest.len() < bm_len {
            return Err(m("truncated bitmap"));
        }
        let (bitmap, mut rest) = rest.split_at(bm_len);
        if d % 8 != 0 && bitmap[bm_len - 1] & (0xFFu8 >> (d % 8)) != 0 {
            return Err(m("a bitmap bit beyond the depth is set"));
        }
        let listed = bitmap
            .iter()
            .map(|x| x.count_ones() as usize)
            .sum::<usize>();
        let want = 32 * listed + if kind == 2 { 64 } else { 0 };
        if rest.len() != want {
            return Err(if rest.len() < want {
                m("truncated proof")
            } else {
                m("trailing bytes")
            });
        }
        let mut siblings = Vec::with_capacity(d);
        for i in 0..d {
            if bitmap[i / 8] & (0x80 >> (i % 8)) == 0 {
                siblings.push(EMPTY);
                continue;
            }
            let (h, r) = rest.split_at(32);
            rest = r;
            let h = Hash::from_slice(h).expect("32 bytes");
            if h == EMPTY {
                return Err(m("a listed sibling is the empty hash"));
            }
            siblings.push(h);
        }
        let terminal = match kind {
            0 => Terminal::Empty,
            1 => Terminal::Leaf,
            _ => Terminal::OtherLeaf {
                key_hash: Hash::from_slice(&rest[..32]).expect("32 bytes"),
                value_hash: Hash::from_slice(&rest[32..64]).expect("32 bytes"),
            },
        };
        MapProof::new(terminal, siblings)
    }

    /// root_from computes the root the path leads to from `bottom`, the
    /// hash of what it ends at, for the key hash `key`.
    fn root_from(&self, suite: HashSuite, key: &Hash, bottom: Hash) -> Hash {
        let mut h = bottom;
        for (i, s) in self.siblings.iter().enumerate().rev() {
            h = if bit(key, i) == 0 {
                internal_hash(suite, &h, s)
            } else {
                internal_hash(suite, s, &h)
            };
        }
        h
    }
}

/// verify_presence checks that `proof` shows `key` set to `value` in the
/// map whose root is `root`.
///
/// # Errors
/// [`ProofError::NotPresence`] for an absence proof, [`ProofError::RootMismatch`]
/// when the key, the value, the proof or the root differ from what the map holds.
pub fn verify_presence(
    suite: HashSuite,
    root: &Hash,
    key: &[u8],
    value: &[u8],
    proof: &MapProof,
) -> Result<(), ProofError> {
    verify_presence_hashed(
        suite,
        root,
        &key_hash(suite, key),
        &value_hash(suite, value),
        proof,
    )
}

/// verify_presence_hashed is [`verify_presence`] by key and value hashes.
///
/// # Errors
/// As [`verify_presence`].
pub fn verify_presence_hashed(
    suite: HashSuite,
    root: &Hash,
    key_hash: &Hash,
    value_hash: &Hash,
    proof: &MapProof,
) -> Result<(), ProofError> {
    if proof.terminal != Terminal::Leaf {
        return Err(ProofError::NotPresence);
    }
    let bottom = leaf_hash(suite, key_hash, value_hash);
    if proof.root_from(suite, key_hash, bottom) != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// verify_absence checks that `proof` shows no value for `key` in the map
/// whose root is `root`.
///
/// # Errors
/// [`ProofError::NotAbsence`] for a presence proof, [`ProofError::OtherLeafIsKey`]
/// or [`ProofError::OtherLeafOffPath`] for an impossible other leaf, and
/// [`ProofError::RootMismatch`] when the proof does not lead to `root`.
pub fn verify_absence(
    suite: HashSuite,
    root: &Hash,
    key: &[u8],
    proof: &MapProof,
) -> Result<(), ProofError> {
    verify_absence_hashed(suite, root, &key_hash(suite, key), proof)
}

/// verify_absence_hashed is [`verify_absence`] by key hash.
///
/// # Errors
/// As [`verify_absence`].
pub fn verify_absence_hashed(
    suite: HashSuite,
    root: &Hash,
    key_hash: &Hash,
    proof: &MapProof,
) -> Result<(), ProofError> {
    let bottom = match &proof.terminal {
        Terminal::Leaf => return Err(ProofError::NotAbsence),
        Terminal::Empty => EMPTY,
        Terminal::OtherLeaf {
            key_hash: other,
            value_hash,
        } => {
            if other == key_hash {
                return Err(ProofError::OtherLeafIsKey);
            }
            let d = proof.depth();
            if (0..d).any(|i| bit(other, i) != bit(key_hash, i)) {
                return Err(ProofError::OtherLeafOffPath { depth: d });
            }
            leaf_hash(suite, other, value_hash)
        }
    };
    if proof.root_from(suite, key_hash, bottom) != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(b: u8) -> Hash {
        Hash([b; 32])
    }

    #[test]
    fn encoding_round_trips_and_is_compact() {
        let p = MapProof::new(
            Terminal::OtherLeaf {
                key_hash: h(7),
                value_hash: h(8),
            },
            vec![
                h(1),
                EMPTY,
                EMPTY,
                h(2),
                EMPTY,
                EMPTY,
                EMPTY,
                EMPTY,
                EMPTY,
                h(3),
            ],
        )
        .unwrap();
        let b = p.to_bytes();
        // header 4, bitmap 2, three siblings, the other leaf.
        assert_eq!(b.len(), 4 + 2 + 3 * 32 + 64);
        assert_eq!(&b[..6], &[1, 2, 0, 10, 0b1001_0000, 0b0100_0000]);
        assert_eq!(MapProof::parse(&b).unwrap(), p);
        let empty = MapProof::new(Terminal::Empty, vec![]).unwrap();
        assert_eq!(empty.to_bytes(), vec![1, 0, 0, 0]);
        assert_eq!(MapProof::parse(&[1, 0, 0, 0]).unwrap(), empty);
    }

    #[test]
    fn parser_refuses_every_non_canonical_form() {
        let good = MapProof::new(Terminal::Leaf, vec![EMPTY, h(5)])
            .unwrap()
            .to_bytes();
        assert_eq!(good, [&[1, 1, 0, 2, 0b0100_0000][..], &[5; 32]].concat());
        let cases: Vec<(Vec<u8>, ProofError)> = vec![
            (
                vec![],
                ProofError::Malformed("shorter than the proof header"),
            ),
            (
                vec![2, 1, 0, 0],
                ProofError::Malformed("unknown proof version"),
            ),
            (vec![1, 3, 0, 0], ProofError::Malformed("unknown terminal")),
            (vec![1, 1, 1, 1], ProofError::TooDeep(257)),
            (vec![1, 1, 0, 2], ProofError::Malformed("truncated bitmap")),
            (
                [&[1, 1, 0, 2, 0b0110_0000][..], &[5; 64]].concat(),
                ProofError::Malformed("a bitmap bit beyond the depth is set"),
            ),
            (
                [&good[..], &[0]].concat(),
                ProofError::Malformed("trailing bytes"),
            ),
            (
                good[..good.len() - 1].to_vec(),
                ProofError::Malformed("truncated proof"),
            ),
            (
                [&[1, 1, 0, 2, 0b0100_0000][..], &[0; 32]].concat(),
                ProofError::Malformed("a listed sibling is the empty hash"),
            ),
            (
                [&[1, 1, 0, 2, 0b1000_0000][..], &[5; 32]].concat(),
                ProofError::Malformed("the deepest sibling is empty"),
            ),
            (vec![1, 2, 0, 0], ProofError::Malformed("truncated proof")),
        ];
        for (b, want) in cases {
            assert_eq!(MapProof::parse(&b), Err(want), "{b:?}");
        }
    }

    #[test]
    fn presence_and_absence_proofs_are_not_interchangeable() {
        let s = HashSuite::Sha256;
        let k = key_hash(s, b"k");
        let v = value_hash(s, b"v");
        let root = leaf_hash(s, &k, &v);
        let present = MapProof::new(Terminal::Leaf, vec![]).unwrap();
        verify_presence_hashed(s, &root, &k, &v, &present).unwrap();
        assert_eq!(
            verify_absence_hashed(s, &root, &k, &present),
            Err(ProofError::NotAbsence)
        );
        let other = MapProof::new(
            Terminal::OtherLeaf {
                key_hash: k,
                value_hash: v,
            },
            vec![],
        )
        .unwrap();
        assert_eq!(
            verify_absence_hashed(s, &root, &k, &other),
            Err(ProofError::OtherLeafIsKey)
        );
        assert_eq!(
            verify_presence_hashed(s, &root, &k, &v, &other),
            Err(ProofError::NotPresence)
        );
        let absent = key_hash(s, b"absent");
        verify_absence_hashed(s, &root, &absent, &other).unwrap();
    }

    #[test]
    fn an_other_leaf_off_the_path_is_refused_even_under_a_matching_root() {
        // A root built (by a dishonest log) around a leaf placed where its
        // key cannot be: the path of `k` at depth 1, for a key whose first
        // bit differs from `k`'s.
        let s = HashSuite::Blake3;
        let k = Hash([0x00; 32]);
        let other = Hash([0x80; 32]);
        let v = h(9);
        let sib = h(4);
        let root = internal_hash(s, &leaf_hash(s, &other, &v), &sib);
        let p = MapProof::new(
            Terminal::OtherLeaf {
                key_hash: other,
                value_hash: v,
            },
            vec![sib],
        )
        .unwrap();
        assert_eq!(
            verify_absence_hashed(s, &root, &k, &p),
            Err(ProofError::OtherLeafOffPath { depth: 1 })
        );
    }
}
