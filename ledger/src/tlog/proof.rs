//! Verification of RFC 9162 proofs (§2.1.3.2 inclusion, §2.1.4.2
//! consistency: <https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3>), with the edge-case semantics of transparency-dev/merkle
//! (see `docs/core.md`): what a client that holds only roots checks.

use crate::tlog::hash::{Hash, HashSuite};
use crate::tlog::tree::MAX_TREE_SIZE;

/// ProofError says why a proof did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum ProofError {
    /// IndexOutOfRange: the leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// index is the leaf index.
        index: u64,
        /// size is the tree size.
        size: u64,
    },
    /// SizeOrder: the old size is larger than the new size.
    #[error("old size {old} is larger than new size {new}")]
    SizeOrder {
        /// old is the first size.
        old: u64,
        /// new is the second size.
        new: u64,
    },
    /// OldSizeZero: consistency from the empty tree proves nothing and is refused.
    #[error("consistency proof from size 0 is not accepted")]
    OldSizeZero,
    /// WrongProofSize: the proof has more or fewer hashes than the sizes imply.
    #[error("proof has {got} hashes, want {want}")]
    WrongProofSize {
        /// got is the proof length.
        got: usize,
        /// want is the length the sizes imply.
        want: usize,
    },
    /// RootMismatch: the proof leads to a different root.
    #[error("computed root does not match the expected root")]
    RootMismatch,
    /// OldRootMismatch: a consistency proof does not reproduce the old root.
    #[error("consistency proof does not reproduce the old root")]
    OldRootMismatch,
    /// SizeTooLarge: a size above [`MAX_TREE_SIZE`].
    #[error("tree size {0} exceeds the supported maximum 2^62")]
    SizeTooLarge(u64),
}

/// root_from_inclusion computes the root an inclusion proof of leaf
/// `index` in a tree of `size` leaves leads to (RFC 9162 §2.1.3.2).
///
/// # Errors
///
/// [`ProofError::SizeTooLarge`], [`ProofError::IndexOutOfRange`] (index ≥
/// size), or [`ProofError::WrongProofSize`] when the proof's length does not
/// fit the sizes.
pub fn root_from_inclusion(
    suite: HashSuite,
    size: u64,
    index: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if size > MAX_TREE_SIZE {
        return Err(ProofError::SizeTooLarge(size));
    }
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let want = inclusion_proof_len(size, index);
    if proof.len() != want {
        return Err(ProofError::WrongProofSize {
            got: proof.len(),
            want,
        });
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf;
    for p in proof {
        if fn_ & 1 == 1 || fn_ == sn {
            r = suite.node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = suite.node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    debug_assert_eq!(sn, 0);
    Ok(r)
}

/// inclusion_proof_len is the number of hashes in an inclusion proof of
/// leaf `index` in a tree of `size` leaves (index < size).
pub(crate) fn inclusion_proof_len(size: u64, index: u64) -> usize {
    // Inner part: levels where index and size-1 differ; border part: the
    // ones on the right edge above that.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// verify_inclusion checks that `leaf` is at `index` in the tree of `size`
/// leaves whose root is `root` (RFC 9162 §2.1.3.2). Like every tree
/// function, it takes the size before the index.
///
/// # Errors
///
/// The errors of [`root_from_inclusion`], or [`ProofError::RootMismatch`]
/// when the proof leads to another root.
pub fn verify_inclusion(
    suite: HashSuite,
    size: u64,
    index: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let got = root_from_inclusion(suite, size, index, leaf, proof)?;
    if got != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// verify_consistency checks that the tree of `new_size` leaves with root
/// `new_root` extends the tree of `old_size` leaves with root `old_root`
/// (RFC 9162 §2.1.4.2). Like transparency-dev/merkle it refuses
/// `old_size == 0`, needs an empty proof and equal roots when the sizes are
/// equal, and refuses `old_size > new_size`.
///
/// # Errors
///
/// - [`ProofError::SizeTooLarge`], [`ProofError::SizeOrder`], [`ProofError::OldSizeZero`]: the sizes.
/// - [`ProofError::WrongProofSize`]: the proof's length does not fit the sizes.
/// - [`ProofError::OldRootMismatch`]: the proof does not reproduce the old root.
/// - [`ProofError::RootMismatch`]: it leads to another new root.
pub fn verify_consistency(
    suite: HashSuite,
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if new_size > MAX_TREE_SIZE {
        return Err(ProofError::SizeTooLarge(new_size));
    }
    if old_size > new_size {
        return Err(ProofError::SizeOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 {
        return Err(ProofError::OldSizeZero);
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofSize {
                got: proof.len(),
                want: 0,
            });
        }
        if old_root != new_root {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    // Length check first, as transparency-dev does: shift away the levels
    // the old tree's right edge shares with the new one.
    let shift = old_size.trailing_zeros();
    let inner = 64 - ((old_size - 1) ^ (new_size - 1)).leading_zeros() - shift;
    let border = ((old_size - 1) >> (inner + shift)).count_ones();
    let start = usize::from(old_size != 1 << shift);
    let want = start + (inner + border) as usize;
    if proof.len() != want {
        return Err(ProofError::WrongProofSize {
            got: proof.len(),
            want,
        });
    }
    // RFC 9162 §2.1.4.2: when old_size is a power of two the old root is the
    // first node of the path.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if start == 0 {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (fr, sr) =
        consistency_walk(suite, old_size, new_size, &path).ok_or(ProofError::WrongProofSize {
            got: proof.len(),
            want,
        })?;
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// consistency_walk folds a consistency path (the proof, with the old root
/// in front when the old size is a power of two) into the two roots it
/// commits to, RFC 9162 §2.1.4.2 steps 3 to 6. None when the path runs
/// past the new tree's root.
fn consistency_walk(suite: HashSuite, old: u64, new: u64, path: &[Hash]) -> Option<(Hash, Hash)> {
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = suite.node_hash(c, &fr);
            sr = suite.node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = suite.node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    Some((fr, sr))
}

/// consistency_roots recomputes the two roots a consistency proof from
/// `old` to `new` commits to (RFC 9162 §2.1.4.2, without comparing them
/// with anything): the witness server uses it to name the old root a
/// contradicting proof was built from. Only defined when `old` is not a
/// power of two: otherwise the old root is itself the first node of the
/// path and the proof alone determines neither root.
pub fn consistency_roots(
    suite: HashSuite,
    old: u64,
    new: u64,
    proof: &[Hash],
) -> Option<(Hash, Hash)> {
    if old == 0 || old >= new || old.is_power_of_two() || new > MAX_TREE_SIZE {
        return None;
    }
    let shift = old.trailing_zeros();
    let inner = 64 - ((old - 1) ^ (new - 1)).leading_zeros() - shift;
    let border = ((old - 1) >> (inner + shift)).count_ones();
    if proof.len() != 1 + (inner + border) as usize {
        return None;
    }
    consistency_walk(suite, old, new, proof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::memory::MemoryTree;

    #[test]
    fn consistency_roots_rebuild_both_roots_from_a_proof() {
        let suite = HashSuite::Sha256;
        let mut t = MemoryTree::new(suite);
        for i in 0..300u64 {
            t.append_data(&i.to_be_bytes());
        }
        let mut checked = 0;
        for old in 1..300u64 {
            for new in [old + 1, old + 7, 300]
                .into_iter()
                .filter(|n| *n > old && *n <= 300)
            {
                let proof = t.prove_consistency(old, new).unwrap();
                let got = consistency_roots(suite, old, new, &proof);
                if old.is_power_of_two() {
                    assert_eq!(got, None);
                    continue;
                }
                let want = (t.root_at(old).unwrap(), t.root_at(new).unwrap());
                assert_eq!(got, Some(want), "{old} -> {new}");
                checked += 1;
                // One node changed: the new root is no longer rebuilt.
                let mut bad = proof.clone();
                bad[0].0[0] ^= 1;
                assert_ne!(
                    consistency_roots(suite, old, new, &bad).map(|r| r.1),
                    Some(want.1)
                );
                assert_eq!(consistency_roots(suite, old, new, &proof[1..]), None);
            }
        }
        assert!(checked > 500);
    }
}
