//! RFC 9162 Merkle tree math (<https://www.rfc-editor.org/rfc/rfc9162#section-2.1>)
//! over an append-only stored-hash layout.
//!
//! The layout is the one of Go's `golang.org/x/mod/sumdb/tlog`: every leaf
//! hash and every hash of a complete subtree is stored exactly once, in the
//! order in which appending produces them, so a tree of `n` leaves holds
//! [`stored_hash_count`]`(n)` ≤ 2n hashes. Level `L` hash `n` covers leaves
//! `[n·2^L, (n+1)·2^L)`; [`stored_hash_index`] maps it to its position.
//!
//! Tree hashes, inclusion proofs (RFC 9162 §2.1.3) and consistency proofs
//! (§2.1.4) are computed from at most `O(log n)` stored hashes read through
//! the [`HashReader`] trait, so the same code serves an in-memory tree, a
//! database, or tiles fetched over HTTP. Verification of the proofs is in
//! [`crate::tlog::proof`], the in-memory tree in [`crate::tlog::memory`].

use crate::tlog::hash::{Hash, HashSuite};

/// MAX_TREE_SIZE bounds every tree size the math accepts, so index
/// arithmetic (`2n + 1`, sums over levels) can never overflow a u64.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// TreeError says why a tree hash or proof could not be produced.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum TreeError {
    /// IndexOutOfRange: the requested leaf or size is not inside the tree.
    #[error("index {index} out of range for tree size {size}")]
    IndexOutOfRange {
        /// index is the requested leaf index or old size.
        index: u64,
        /// size is the tree size it was checked against.
        size: u64,
    },
    /// SizeTooLarge: a size above [`MAX_TREE_SIZE`].
    #[error("tree size {0} exceeds the supported maximum 2^62")]
    SizeTooLarge(u64),
    /// BadSizes: the pair of sizes does not describe a valid request.
    #[error("invalid sizes: old {old}, new {new}")]
    BadSizes {
        /// old is the smaller tree size asked for.
        old: u64,
        /// new is the larger tree size asked for.
        new: u64,
    },
    /// BadReaderResult: a HashReader returned the wrong number of hashes.
    #[error("hash reader returned {got} hashes, want {want}")]
    BadReaderResult {
        /// got is how many the reader returned.
        got: usize,
        /// want is how many were asked for.
        want: usize,
    },
    /// MissingHash: storage has no hash at a stored index it should have.
    #[error("stored hash {0} is missing")]
    MissingHash(u64),
    /// Storage: the storage behind a HashReader failed.
    #[error("storage error: {0}")]
    Storage(String),
}

/// HashReader reads stored hashes by stored index.
///
/// `read_hashes` must return exactly one hash per index, in the order asked.
pub trait HashReader {
    /// read_hashes returns the hashes stored at `indexes`.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError>;
}

impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.get(i).copied())
                    .ok_or(TreeError::MissingHash(i))
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        self.as_slice().read_hashes(indexes)
    }
}

fn read_exact(r: &(impl HashReader + ?Sized), indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
    let hashes = r.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::BadReaderResult {
            got: hashes.len(),
            want: indexes.len(),
        });
    }
    Ok(hashes)
}

/// maxpow2 returns the largest power of two strictly less than n (n ≥ 2),
/// and its log2: the RFC 9162 split point k with k < n ≤ 2k.
pub(crate) fn maxpow2(n: u64) -> (u64, u8) {
    debug_assert!(n >= 2);
    let l = 63 - (n - 1).leading_zeros() as u8;
    (1u64 << l, l)
}

/// stored_hash_index maps the tree coordinates (level, n) to the position of
/// that hash in the stored-hash layout.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    // Level L's n-th hash is written right after level L+1's (2n+1)-th hash:
    // walk down to the level-0 ordering.
    let mut n = n;
    for _ in 0..level {
        n = 2 * n + 1;
    }
    // Level 0's n-th hash is written at n + n/2 + n/4 + ...
    let mut i = 0u64;
    while n > 0 {
        i += n;
        n >>= 1;
    }
    i + u64::from(level)
}

/// split_stored_hash_index is the inverse of [`stored_hash_index`].
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // stored_hash_index(0, n) < 2n, so the record that wrote this hash is at
    // least index/2 and within log2(index) above it.
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    debug_assert!(index_n <= index);
    loop {
        // Record n adds 1 + trailing_zeros(n+1) hashes.
        let x = index_n + 1 + u64::from((n + 1).trailing_zeros());
        if x > index {
            break;
        }
        n += 1;
        index_n = x;
    }
    let level = (index - index_n) as u8;
    (level, n >> level)
}

/// stored_hash_count returns how many hashes a tree of n leaves stores.
pub fn stored_hash_count(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let mut count = stored_hash_index(0, n - 1) + 1;
    let mut i = n - 1;
    while i & 1 != 0 {
        count += 1;
        i >>= 1;
    }
    count
}

/// stored_hashes_for_record returns the hashes to append, at positions
/// `stored_hash_count(n)..`, when leaf `n` with hash `leaf` is added: the
/// leaf hash and the hash of every subtree it completes.
///
/// # Errors
///
/// [`TreeError::SizeTooLarge`], or the reader's errors.
pub fn stored_hashes_for_record(
    suite: HashSuite,
    n: u64,
    leaf: Hash,
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, TreeError> {
    if n >= MAX_TREE_SIZE {
        return Err(TreeError::SizeTooLarge(n));
    }
    // Each trailing 1 bit of n completes a subtree and consumes the hash of
    // its left sibling.
    let m = (n + 1).trailing_zeros() as usize;
    let mut indexes = vec![0u64; m];
    for i in 0..m {
        indexes[m - 1 - i] = stored_hash_index(i as u8, (n >> i) - 1);
    }
    let old = read_exact(r, &indexes)?;
    let mut out = Vec::with_capacity(m + 1);
    let mut h = leaf;
    out.push(h);
    for i in 0..m {
        h = suite.node_hash(&old[m - 1 - i], &h);
        out.push(h);
    }
    Ok(out)
}

/// sub_tree_index appends the stored indexes needed to hash leaves [lo, hi).
fn sub_tree_index(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        let (k, level) = maxpow2(hi - lo + 1);
        debug_assert_eq!(lo & (k - 1), 0);
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

/// sub_tree_hash hashes leaves [lo, hi) from the hashes sub_tree_index
/// asked for, consuming them from the front of `hashes`.
fn sub_tree_hash(suite: HashSuite, mut lo: u64, hi: u64, hashes: &mut &[Hash]) -> Hash {
    // The range splits into maximal complete subtrees left to right; the
    // root is their right-to-left fold.
    let mut num = 0usize;
    while lo < hi {
        let (k, _) = maxpow2(hi - lo + 1);
        num += 1;
        lo += k;
    }
    let (these, rest) = hashes.split_at(num);
    *hashes = rest;
    let mut h = these[num - 1];
    for i in (0..num - 1).rev() {
        h = suite.node_hash(&these[i], &h);
    }
    h
}

/// tree_hash returns the root of the tree of the first n leaves (RFC 9162
/// §2.1.1 MTH); the empty tree hashes to `suite.empty_root()`.
///
/// # Errors
///
/// [`TreeError::SizeTooLarge`], or the reader's errors (e.g.
/// [`TreeError::MissingHash`]).
pub fn tree_hash(
    suite: HashSuite,
    n: u64,
    r: &(impl HashReader + ?Sized),
) -> Result<Hash, TreeError> {
    if n == 0 {
        return Ok(suite.empty_root());
    }
    if n > MAX_TREE_SIZE {
        return Err(TreeError::SizeTooLarge(n));
    }
    let mut idx = Vec::new();
    sub_tree_index(0, n, &mut idx);
    let hashes = read_exact(r, &idx)?;
    let mut rest = hashes.as_slice();
    Ok(sub_tree_hash(suite, 0, n, &mut rest))
}

fn leaf_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if lo + 1 == hi {
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        leaf_proof_index(lo, lo + k, n, need);
        sub_tree_index(lo + k, hi, need);
    } else {
        sub_tree_index(lo, lo + k, need);
        leaf_proof_index(lo + k, hi, n, need);
    }
}

fn leaf_proof(
    suite: HashSuite,
    lo: u64,
    hi: u64,
    n: u64,
    hashes: &mut &[Hash],
    proof: &mut Vec<Hash>,
) {
    if lo + 1 == hi {
        return;
    }
    // Walk toward leaf n, recording the hash of the path not taken; the
    // recursion emits the proof bottom-up, as RFC 9162 lists it.
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        leaf_proof(suite, lo, lo + k, n, hashes, proof);
        let th = sub_tree_hash(suite, lo + k, hi, hashes);
        proof.push(th);
    } else {
        let th = sub_tree_hash(suite, lo, lo + k, hashes);
        leaf_proof(suite, lo + k, hi, n, hashes, proof);
        proof.push(th);
    }
}

/// prove_inclusion returns the inclusion proof of leaf `index` in the tree
/// of the first `size` leaves (RFC 9162 §2.1.3.1), bottom-up.
///
/// # Errors
///
/// [`TreeError::SizeTooLarge`], [`TreeError::IndexOutOfRange`] (index ≥
/// size), or the reader's errors.
pub fn prove_inclusion(
    suite: HashSuite,
    size: u64,
    index: u64,
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, TreeError> {
    if size > MAX_TREE_SIZE {
        return Err(TreeError::SizeTooLarge(size));
    }
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut idx = Vec::new();
    leaf_proof_index(0, size, index, &mut idx);
    let hashes = read_exact(r, &idx)?;
    let mut rest = hashes.as_slice();
    let mut proof = Vec::with_capacity(idx.len());
    leaf_proof(suite, 0, size, index, &mut rest, &mut proof);
    Ok(proof)
}

fn tree_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if n == hi {
        if lo != 0 {
            sub_tree_index(lo, hi, need);
        }
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        tree_proof_index(lo, lo + k, n, need);
        sub_tree_index(lo + k, hi, need);
    } else {
        sub_tree_index(lo, lo + k, need);
        tree_proof_index(lo + k, hi, n, need);
    }
}

fn tree_proof(
    suite: HashSuite,
    lo: u64,
    hi: u64,
    n: u64,
    hashes: &mut &[Hash],
    proof: &mut Vec<Hash>,
) {
    if n == hi {
        // Common ground: a subtree that is also a subtree of the old tree.
        // The old root itself is known to the verifier and not sent.
        if lo != 0 {
            let th = sub_tree_hash(suite, lo, hi, hashes);
            proof.push(th);
        }
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        tree_proof(suite, lo, lo + k, n, hashes, proof);
        let th = sub_tree_hash(suite, lo + k, hi, hashes);
        proof.push(th);
    } else {
        let th = sub_tree_hash(suite, lo, lo + k, hashes);
        tree_proof(suite, lo + k, hi, n, hashes, proof);
        proof.push(th);
    }
}

/// prove_consistency returns the consistency proof between the trees of the
/// first `old_size` and `new_size` leaves (RFC 9162 §2.1.4.1); it is empty
/// when the sizes are equal. `old_size` must be at least 1.
///
/// # Errors
///
/// [`TreeError::SizeTooLarge`], [`TreeError::BadSizes`] (old size 0 or
/// above the new size), or the reader's errors.
pub fn prove_consistency(
    suite: HashSuite,
    old_size: u64,
    new_size: u64,
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, TreeError> {
    if new_size > MAX_TREE_SIZE {
        return Err(TreeError::SizeTooLarge(new_size));
    }
    if old_size == 0 || old_size > new_size {
        return Err(TreeError::BadSizes {
            old: old_size,
            new: new_size,
        });
    }
    let mut idx = Vec::new();
    tree_proof_index(0, new_size, old_size, &mut idx);
    let hashes = read_exact(r, &idx)?;
    let mut rest = hashes.as_slice();
    let mut proof = Vec::with_capacity(idx.len());
    tree_proof(suite, 0, new_size, old_size, &mut rest, &mut proof);
    Ok(proof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::memory::MemoryTree;
    use crate::tlog::proof::{
        inclusion_proof_len, root_from_inclusion, verify_consistency, verify_inclusion,
    };

    /// naive_root is RFC 9162 §2.1.1 MTH written as the recursion in the RFC.
    fn naive_root(suite: HashSuite, leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => suite.empty_root(),
            1 => leaves[0],
            n => {
                let (k, _) = maxpow2(n as u64);
                let k = k as usize;
                suite.node_hash(
                    &naive_root(suite, &leaves[..k]),
                    &naive_root(suite, &leaves[k..]),
                )
            }
        }
    }

    fn leaves(suite: HashSuite, n: u64) -> Vec<Hash> {
        (0..n).map(|i| suite.leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn stored_hash_index_round_trips() {
        for index in 0..10_000u64 {
            let (level, n) = split_stored_hash_index(index);
            assert_eq!(stored_hash_index(level, n), index, "index {index}");
        }
    }

    #[test]
    fn stored_hash_count_matches_appends() {
        let mut t = MemoryTree::new(HashSuite::Sha256);
        for n in 0..2000u64 {
            assert_eq!(stored_hash_count(n), t.stored().len() as u64);
            t.append(HashSuite::Sha256.leaf_hash(&n.to_be_bytes()));
        }
    }

    #[test]
    fn stored_hashes_for_record_matches_memory_tree() {
        for suite in [HashSuite::Sha256, HashSuite::Blake3] {
            let mut t = MemoryTree::new(suite);
            let mut stored: Vec<Hash> = Vec::new();
            for n in 0..600u64 {
                let leaf = suite.leaf_hash(&n.to_be_bytes());
                let add = stored_hashes_for_record(suite, n, leaf, &stored).unwrap();
                stored.extend(add);
                t.append(leaf);
                assert_eq!(stored, t.stored());
            }
        }
    }

    #[test]
    fn every_api_agrees_at_every_size() {
        for suite in [HashSuite::Sha256, HashSuite::Blake3] {
            let all = leaves(suite, 130);
            let mut t = MemoryTree::new(suite);
            let mut roots = vec![suite.empty_root()];
            for l in &all {
                t.append(*l);
                roots.push(t.root());
            }
            for n in 0..=all.len() {
                assert_eq!(roots[n], naive_root(suite, &all[..n]), "size {n}");
            }
            for size in 1..=all.len() as u64 {
                for index in 0..size {
                    let p = t.prove_inclusion(size, index).unwrap();
                    verify_inclusion(
                        suite,
                        size,
                        index,
                        &all[index as usize],
                        &p,
                        &roots[size as usize],
                    )
                    .unwrap();
                    assert_eq!(p.len(), inclusion_proof_len(size, index));
                    if index + 1 < size {
                        assert!(verify_inclusion(
                            suite,
                            size,
                            index + 1,
                            &all[index as usize],
                            &p,
                            &roots[size as usize]
                        )
                        .is_err());
                    }
                }
                for old in 1..=size {
                    let p = t.prove_consistency(old, size).unwrap();
                    verify_consistency(
                        suite,
                        old,
                        size,
                        &p,
                        &roots[old as usize],
                        &roots[size as usize],
                    )
                    .unwrap_or_else(|e| panic!("{old}->{size}: {e}"));
                    if old < size {
                        assert!(verify_consistency(
                            suite,
                            old,
                            size,
                            &p,
                            &roots[old as usize - 1],
                            &roots[size as usize]
                        )
                        .is_err());
                    }
                }
            }
        }
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        let s = HashSuite::Sha256;
        let h = s.leaf_hash(b"x");
        assert!(verify_inclusion(s, u64::MAX, u64::MAX - 1, &h, &[], &h).is_err());
        assert!(verify_consistency(s, u64::MAX - 1, u64::MAX, &[], &h, &h).is_err());
        assert!(verify_consistency(s, u64::MAX, u64::MAX, &[], &h, &h).is_err());
        assert!(root_from_inclusion(s, u64::MAX, 0, &h, &[]).is_err());
        let t = MemoryTree::new(s);
        assert!(prove_inclusion(s, u64::MAX, 3, &t).is_err());
        assert!(prove_consistency(s, 1, u64::MAX, &t).is_err());
        assert!(tree_hash(s, u64::MAX, &t).is_err());
        assert!(matches!(
            tree_hash(s, 5, &t),
            Err(TreeError::MissingHash(_))
        ));
        // A verifier over the maximum size still works with a full-length proof.
        let big = MAX_TREE_SIZE;
        let want = inclusion_proof_len(big, big - 1);
        let proof = vec![h; want];
        assert!(root_from_inclusion(s, big, big - 1, &h, &proof).is_ok());
    }
}
