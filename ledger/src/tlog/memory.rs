//! An append-only tree held in memory, in the stored-hash layout of
//! [`crate::tlog::tree`].

use crate::tlog::hash::{Hash, HashSuite};
use crate::tlog::tree::{
    prove_consistency, prove_inclusion, stored_hash_index, tree_hash, HashReader, TreeError,
};

/// MemoryTree is an append-only tree held in memory in the stored-hash
/// layout; tests, benchmarks and the whole-log audit use it.
#[derive(Clone, Debug)]
pub struct MemoryTree {
    suite: HashSuite,
    size: u64,
    stored: Vec<Hash>,
}

impl MemoryTree {
    /// new returns an empty tree.
    pub fn new(suite: HashSuite) -> MemoryTree {
        MemoryTree {
            suite,
            size: 0,
            stored: Vec::new(),
        }
    }

    /// with_capacity returns an empty tree with room for `leaves` leaves.
    pub fn with_capacity(suite: HashSuite, leaves: usize) -> MemoryTree {
        MemoryTree {
            suite,
            size: 0,
            stored: Vec::with_capacity(leaves.saturating_mul(2)),
        }
    }

    /// suite returns the tree's hash suite.
    pub fn suite(&self) -> HashSuite {
        self.suite
    }

    /// append adds a leaf by its leaf hash and returns its index.
    pub fn append(&mut self, leaf: Hash) -> u64 {
        let n = self.size;
        let mut h = leaf;
        self.stored.push(h);
        let m = (n + 1).trailing_zeros();
        for i in 0..m {
            let left = self.stored[stored_hash_index(i as u8, (n >> i) - 1) as usize];
            h = self.suite.node_hash(&left, &h);
            self.stored.push(h);
        }
        self.size = n + 1;
        n
    }

    /// append_data hashes `data` as an RFC 9162 leaf and appends it.
    pub fn append_data(&mut self, data: &[u8]) -> u64 {
        let h = self.suite.leaf_hash(data);
        self.append(h)
    }

    /// size returns the number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// root returns the current tree hash.
    pub fn root(&self) -> Hash {
        self.root_at(self.size)
            .expect("a MemoryTree holds every hash of its own sizes")
    }

    /// root_at returns the tree hash of the first n leaves.
    ///
    /// # Errors
    ///
    /// [`TreeError::IndexOutOfRange`] if `n` is past this tree.
    pub fn root_at(&self, n: u64) -> Result<Hash, TreeError> {
        if n > self.size {
            return Err(TreeError::IndexOutOfRange {
                index: n,
                size: self.size,
            });
        }
        tree_hash(self.suite, n, self.stored.as_slice())
    }

    /// leaf_hash returns the leaf hash at `index`.
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        if index >= self.size {
            return None;
        }
        Some(self.stored[stored_hash_index(0, index) as usize])
    }

    /// prove_inclusion proves leaf `index` in the tree of `size` leaves.
    ///
    /// # Errors
    ///
    /// [`TreeError::IndexOutOfRange`] if `size` is past this tree, or the
    /// errors of [`prove_inclusion`].
    pub fn prove_inclusion(&self, size: u64, index: u64) -> Result<Vec<Hash>, TreeError> {
        if size > self.size {
            return Err(TreeError::IndexOutOfRange {
                index: size,
                size: self.size,
            });
        }
        prove_inclusion(self.suite, size, index, self.stored.as_slice())
    }

    /// prove_consistency proves that the tree of `new_size` leaves extends
    /// the tree of `old_size` leaves.
    ///
    /// # Errors
    ///
    /// [`TreeError::IndexOutOfRange`] if `new_size` is past this tree, or
    /// the errors of [`prove_consistency`].
    pub fn prove_consistency(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, TreeError> {
        if new_size > self.size {
            return Err(TreeError::IndexOutOfRange {
                index: new_size,
                size: self.size,
            });
        }
        prove_consistency(self.suite, old_size, new_size, self.stored.as_slice())
    }

    /// stored returns the stored hashes in layout order.
    pub fn stored(&self) -> &[Hash] {
        &self.stored
    }
}

impl HashReader for MemoryTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        self.stored.as_slice().read_hashes(indexes)
    }
}
