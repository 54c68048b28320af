//! statemap: an authenticated map from byte keys to byte values — a sparse
//! Merkle tree over 256-bit key hashes with shortcut leaves.
//!
//! The map knows nothing of the registry: keys and values are bytes, and
//! only their commitments are kept. A key is placed at `H(0x10 ‖ key)`, a
//! value is committed as `H(0x11 ‖ value)`. The tree is the binary trie of
//! the key hashes in which
//!
//! - an empty subtree is [`EMPTY`] (32 zero bytes, no hash computed),
//! - a subtree holding exactly one key is that key's leaf,
//!   `H(0x12 ‖ key hash ‖ value hash)`, wherever it is (the "shortcut" of
//!   Diem's Jellyfish Merkle tree and of the compact sparse Merkle trees of
//!   Haider et al.),
//! - any other subtree is `H(0x13 ‖ left ‖ right)`.
//!
//! So a map of `n` random keys has depth about `log2 n`, an update hashes
//! about `log2 n + 3` times, and a proof carries about `log2 n` siblings; the
//! shape depends only on the set of keys, never on the order of the writes
//! (`schemas/FORMATS.md`, "State map"; `docs/decisions.md`, D15).
//!
//! Tags `0x10..=0x13` are distinct from the RFC 9162 tree's `0x00`/`0x01`,
//! so no map hash is ever the hash of a log leaf or log node, and distinct
//! from each other, so a leaf is never an internal node.
//!
//! Nodes live behind [`NodeStore`] (the node keeps them in redb, a verifier
//! in [`MemoryStore`]); only the current tree is kept. Proofs are
//! [`MapProof`]s, checked by [`verify_presence`] and [`verify_absence`].
//! No I/O, no threads, no clock.

mod proof;
mod store;

pub use proof::{
    verify_absence, verify_absence_hashed, verify_presence, verify_presence_hashed, MapProof,
    ProofError, Terminal, MAX_PROOF_LEN, PROOF_VERSION,
};
pub use store::{
    Changes, Child, InternalNode, MemoryStore, NodeId, NodeReader, NodeStore, Overlay, StoreError,
};

use std::cell::Cell;

use crate::{Hash, HashSuite};

/// TAG_KEY prefixes a key before hashing: key hash `H(0x10 ‖ key bytes)`.
pub const TAG_KEY: u8 = 0x10;
/// TAG_VALUE prefixes a value before hashing: value hash `H(0x11 ‖ value bytes)`.
pub const TAG_VALUE: u8 = 0x11;
/// TAG_LEAF prefixes a leaf: `H(0x12 ‖ key hash ‖ value hash)`.
pub const TAG_LEAF: u8 = 0x12;
/// TAG_INTERNAL prefixes an internal node: `H(0x13 ‖ left ‖ right)`.
pub const TAG_INTERNAL: u8 = 0x13;

/// EMPTY is the hash of an empty subtree, and so the root of the empty map:
/// 32 zero bytes. It is a constant, not a digest: no preimage of it is
/// known under any suite, so no leaf or internal node can pass for it.
pub const EMPTY: Hash = Hash([0; 32]);

/// KEY_BITS is the length of a key hash in bits, and so the greatest depth
/// of a leaf (an internal node's depth is below it).
pub const KEY_BITS: usize = 256;

/// key_hash returns the position of `key` in the map, `H(0x10 ‖ key)`.
pub fn key_hash(suite: HashSuite, key: &[u8]) -> Hash {
    suite.digest(&[&[TAG_KEY], key])
}

/// value_hash returns the commitment to `value`, `H(0x11 ‖ value)`.
pub fn value_hash(suite: HashSuite, value: &[u8]) -> Hash {
    suite.digest(&[&[TAG_VALUE], value])
}

/// leaf_hash returns the hash of the leaf of a key, `H(0x12 ‖ key hash ‖ value hash)`.
pub fn leaf_hash(suite: HashSuite, key_hash: &Hash, value_hash: &Hash) -> Hash {
    suite.digest(&[&[TAG_LEAF], &key_hash.0, &value_hash.0])
}

/// internal_hash returns the hash of an internal node, `H(0x13 ‖ left ‖ right)`.
pub fn internal_hash(suite: HashSuite, left: &Hash, right: &Hash) -> Hash {
    suite.digest(&[&[TAG_INTERNAL], &left.0, &right.0])
}

/// bit returns bit `i` of `h` (0 = the most significant bit of byte 0):
/// 0 goes left, 1 goes right at depth `i`.
pub fn bit(h: &Hash, i: usize) -> u8 {
    (h.0[i / 8] >> (7 - i % 8)) & 1
}

/// MapError says why the map could not be read or updated. The map is
/// unchanged in memory; a store may hold part of a failed update (use an
/// [`Overlay`] and commit its [`Changes`] only on success).
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum MapError {
    /// Store: the storage behind the map failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// MissingNode: the tree refers to an internal node the store does not hold.
    #[error("state map node at depth {depth} is missing from the store")]
    MissingNode {
        /// depth is the missing node's depth.
        depth: usize,
    },
    /// Corrupt: the store holds a node the tree's rules forbid.
    #[error("state map store is corrupt at depth {depth}: {reason}")]
    Corrupt {
        /// depth is the offending node's depth.
        depth: usize,
        /// reason says which rule it breaks.
        reason: &'static str,
    },
}

/// Stats counts the work a map did since it was created or last reset:
/// what the benchmarks report and what a node can export as metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// hashes is the number of hash computations (keys, values, leaves, nodes).
    pub hashes: u64,
    /// reads is the number of internal nodes read from the store.
    pub reads: u64,
    /// writes is the number of internal nodes written to the store.
    pub writes: u64,
    /// deletes is the number of internal nodes deleted from the store.
    pub deletes: u64,
}

/// Write is one key write of a batch, by hashes: `(key hash, Some(value hash))`
/// sets the key, `(key hash, None)` deletes it.
pub type Write = (Hash, Option<Hash>);

/// StateMap is the sparse Merkle tree over a node store.
#[derive(Debug)]
pub struct StateMap<S> {
    suite: HashSuite,
    store: S,
    stats: Cell<Stats>,
}

impl<S> StateMap<S> {
    /// new opens the map held by `store` (an empty store is the empty map).
    pub fn new(suite: HashSuite, store: S) -> StateMap<S> {
        StateMap {
            suite,
            store,
            stats: Cell::new(Stats::default()),
        }
    }

    /// suite returns the map's hash suite.
    pub fn suite(&self) -> HashSuite {
        self.suite
    }

    /// store returns the node store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// into_store returns the node store.
    pub fn into_store(self) -> S {
        self.store
    }

    /// stats returns the work done since creation or [`StateMap::reset_stats`].
    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// reset_stats sets every counter to zero.
    pub fn reset_stats(&self) {
        self.stats.set(Stats::default());
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    fn child_hash(&self, c: &Child) -> Hash {
        match c {
            Child::Empty => EMPTY,
            Child::Internal(h) => *h,
            Child::Leaf { key, value } => {
                self.count(|s| s.hashes += 1);
                leaf_hash(self.suite, key, value)
            }
        }
    }

    /// key_hash hashes a key in the map's suite, counted in [`Stats`].
    pub fn key_hash(&self, key: &[u8]) -> Hash {
        self.count(|s| s.hashes += 1);
        key_hash(self.suite, key)
    }

    /// value_hash hashes a value in the map's suite, counted in [`Stats`].
    pub fn value_hash(&self, value: &[u8]) -> Hash {
        self.count(|s| s.hashes += 1);
        value_hash(self.suite, value)
    }
}

impl<S: NodeReader> StateMap<S> {
    /// root returns the map's root hash ([`EMPTY`] for the empty map).
    ///
    /// # Errors
    /// The store fails.
    pub fn root(&self) -> Result<Hash, MapError> {
        let r = self.store.read_root()?;
        Ok(self.child_hash(&r))
    }

    /// read reads the internal node at `depth` on the path of `path` and
    /// checks that it obeys the tree's rules.
    fn read(&self, depth: usize, path: &Hash) -> Result<InternalNode, MapError> {
        let id = NodeId::new(depth_u8(depth)?, path);
        self.count(|s| s.reads += 1);
        let n = self
            .store
            .read_node(&id)?
            .ok_or(MapError::MissingNode { depth })?;
        check_node(&id, &n)?;
        Ok(n)
    }

    /// get returns the value hash stored for `key`, or None if it is absent.
    ///
    /// # Errors
    /// The store fails or is corrupt.
    pub fn get(&self, key: &[u8]) -> Result<Option<Hash>, MapError> {
        let k = self.key_hash(key);
        self.get_hashed(&k)
    }

    /// get_hashed is [`StateMap::get`] by key hash.
    ///
    /// # Errors
    /// The store fails or is corrupt.
    pub fn get_hashed(&self, key_hash: &Hash) -> Result<Option<Hash>, MapError> {
        let mut node = self.store.read_root()?;
        let mut depth = 0;
        loop {
            match node {
                Child::Empty => return Ok(None),
                Child::Leaf { key, value } => return Ok((key == *key_hash).then_some(value)),
                Child::Internal(_) => {
                    let n = self.read(depth, key_hash)?;
                    node = n.child(bit(key_hash, depth));
                    depth += 1;
                }
            }
        }
    }

    /// prove returns the proof that `key` is present (with its current
    /// value) or absent.
    ///
    /// # Errors
    /// The store fails or is corrupt.
    pub fn prove(&self, key: &[u8]) -> Result<MapProof, MapError> {
        let k = self.key_hash(key);
        self.prove_hashed(&k)
    }

    /// prove_hashed is [`StateMap::prove`] by key hash.
    ///
    /// # Errors
    /// The store fails or is corrupt.
    pub fn prove_hashed(&self, key_hash: &Hash) -> Result<MapProof, MapError> {
        let mut node = self.store.read_root()?;
        let mut siblings = Vec::new();
        let mut depth = 0;
        let terminal = loop {
            match node {
                Child::Empty => break Terminal::Empty,
                Child::Leaf { key, .. } if key == *key_hash => break Terminal::Leaf,
                Child::Leaf { key, value } => {
                    break Terminal::OtherLeaf {
                        key_hash: key,
                        value_hash: value,
                    }
                }
                Child::Internal(_) => {
                    let n = self.read(depth, key_hash)?;
                    let b = bit(key_hash, depth);
                    siblings.push(self.child_hash(&n.child(1 - b)));
                    node = n.child(b);
                    depth += 1;
                }
            }
        };
        // A store that obeys check_node always yields a canonical proof.
        MapProof::new(terminal, siblings).map_err(|_| MapError::Corrupt {
            depth,
            reason: "a path that yields no canonical proof",
        })
    }

    /// for_each_leaf calls `f(key hash, value hash)` for every key, in
    /// increasing key-hash order: what a state snapshot lists.
    ///
    /// # Errors
    /// The store fails or is corrupt, or `f` fails (its error is returned).
    pub fn for_each_leaf<E: From<MapError>>(
        &self,
        mut f: impl FnMut(&Hash, &Hash) -> Result<(), E>,
    ) -> Result<(), E> {
        let root = self.store.read_root().map_err(MapError::from)?;
        // An explicit stack of (child, depth, a key hash on its path): no
        // recursion, so a corrupt store cannot exhaust the stack.
        let mut stack = vec![(root, 0usize, Hash([0; 32]))];
        while let Some((c, depth, path)) = stack.pop() {
            match c {
                Child::Empty => {}
                Child::Leaf { key, value } => f(&key, &value)?,
                Child::Internal(_) => {
                    let n = self.read(depth, &path)?;
                    let mut right = path;
                    right.0[depth / 8] |= 0x80 >> (depth % 8);
                    stack.push((n.right, depth + 1, right));
                    stack.push((n.left, depth + 1, path));
                }
            }
        }
        Ok(())
    }
}

impl<S: NodeStore> StateMap<S> {
    /// insert sets `key` to `value` and returns the new root.
    ///
    /// # Errors
    /// The store fails or is corrupt.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<Hash, MapError> {
        let w = (self.key_hash(key), Some(self.value_hash(value)));
        self.apply_hashed(vec![w])
    }

    /// remove deletes `key` (a no-op if it is absent) and returns the new root.
    ///
    /// # Errors
    /// The store fails or is corrupt.
    pub fn remove(&mut self, key: &[u8]) -> Result<Hash, MapError> {
        let w = (self.key_hash(key), None);
        self.apply_hashed(vec![w])
    }

    /// apply applies a batch of writes — `(key, Some(value))` sets,
    /// `(key, None)` deletes — and returns the new root. Writes to one key
    /// take effect in order (the last one wins); the result is the same as
    /// applying them one by one, with every touched node hashed and written
    /// once.
    ///
    /// # Errors
    /// The store fails or is corrupt.
    pub fn apply<'a, I>(&mut self, writes: I) -> Result<Hash, MapError>
    where
        I: IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    {
        let ws: Vec<Write> = writes
            .into_iter()
            .map(|(k, v)| (self.key_hash(k), v.map(|v| self.value_hash(v))))
            .collect();
        self.apply_hashed(ws)
    }

    /// apply_hashed is [`StateMap::apply`] by key and value hashes.
    ///
    /// # Errors
    /// The store fails or is corrupt.
    pub fn apply_hashed(&mut self, mut writes: Vec<Write>) -> Result<Hash, MapError> {
        // Reverse, then sort stably: among writes to one key the last one
        // comes first, and dedup keeps it.
        writes.reverse();
        writes.sort_by_key(|w| w.0);
        writes.dedup_by(|later, first| later.0 == first.0);
        let old = self.store.read_root()?;
        let new = self.update(0, old, &writes)?;
        if new != old {
            self.store.write_root(new)?;
        }
        Ok(self.child_hash(&new))
    }

    /// update applies `writes` (sorted, distinct keys, all on the path of
    /// this subtree) to the subtree `current` at `depth` and returns its
    /// new content. Invariant: if it returns [`Child::Internal`], that
    /// node is stored at its position; otherwise nothing is stored there.
    fn update(
        &mut self,
        depth: usize,
        current: Child,
        writes: &[Write],
    ) -> Result<Child, MapError> {
        if writes.is_empty() {
            return Ok(current);
        }
        match current {
            Child::Internal(old_hash) => {
                let path = writes[0].0;
                let n = self.read(depth, &path)?;
                let split = writes.partition_point(|(k, _)| bit(k, depth) == 0);
                let left = self.update(depth + 1, n.left, &writes[..split])?;
                let right = self.update(depth + 1, n.right, &writes[split..])?;
                if left == n.left && right == n.right {
                    // Only deletes of absent keys reached here: nothing to hash or write.
                    return Ok(Child::Internal(old_hash));
                }
                self.combine(depth, &path, true, left, right)
            }
            Child::Empty => {
                let live: Vec<(Hash, Hash)> = writes
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| (*k, v)))
                    .collect();
                self.build(depth, &live)
            }
            Child::Leaf { key, value } => {
                // The subtree holds one key, inline in its parent: merge it
                // into the writes unless they overwrite or delete it.
                let mut live = Vec::with_capacity(writes.len() + 1);
                let mut merged = writes.iter().any(|(k, _)| *k == key);
                for (k, v) in writes {
                    if !merged && key < *k {
                        live.push((key, value));
                        merged = true;
                    }
                    if let Some(v) = v {
                        live.push((*k, *v));
                    }
                }
                if !merged {
                    live.push((key, value));
                }
                if live.len() == 1 && live[0] == (key, value) {
                    return Ok(current);
                }
                self.build(depth, &live)
            }
        }
    }

    /// build builds the subtree at `depth` holding exactly `live` (sorted,
    /// distinct keys) where nothing is stored yet.
    fn build(&mut self, depth: usize, live: &[(Hash, Hash)]) -> Result<Child, MapError> {
        match live {
            [] => Ok(Child::Empty),
            [(k, v)] => Ok(Child::Leaf { key: *k, value: *v }),
            _ => {
                // Two distinct keys sharing `depth` bits differ at a bit
                // below 256, so `depth` < 256 here.
                let split = live.partition_point(|(k, _)| bit(k, depth) == 0);
                let left = self.build(depth + 1, &live[..split])?;
                let right = self.build(depth + 1, &live[split..])?;
                self.combine(depth, &live[0].0, false, left, right)
            }
        }
    }

    /// combine makes the subtree at `depth` (on the path of `path`) from
    /// its two new halves: empty, a lifted leaf, or a stored internal node.
    /// `stored` says whether an internal node is stored there now.
    fn combine(
        &mut self,
        depth: usize,
        path: &Hash,
        stored: bool,
        left: Child,
        right: Child,
    ) -> Result<Child, MapError> {
        let id = NodeId::new(depth_u8(depth)?, path);
        let lifted = match (&left, &right) {
            (Child::Empty, Child::Empty) => Some(Child::Empty),
            (Child::Empty, Child::Leaf { .. }) => Some(right),
            (Child::Leaf { .. }, Child::Empty) => Some(left),
            _ => None,
        };
        if let Some(c) = lifted {
            if stored {
                self.count(|s| s.deletes += 1);
                self.store.delete_node(&id)?;
            }
            return Ok(c);
        }
        let (lh, rh) = (self.child_hash(&left), self.child_hash(&right));
        self.count(|s| {
            s.hashes += 1;
            s.writes += 1;
        });
        let h = internal_hash(self.suite, &lh, &rh);
        self.store.write_node(&id, InternalNode { left, right })?;
        Ok(Child::Internal(h))
    }
}

fn depth_u8(depth: usize) -> Result<u8, MapError> {
    u8::try_from(depth).map_err(|_| MapError::Corrupt {
        depth,
        reason: "an internal node at depth 256",
    })
}

/// check_node refuses a stored node the tree's rules forbid: a subtree of
/// at most one key stored as an internal node, or a leaf off its path.
fn check_node(id: &NodeId, n: &InternalNode) -> Result<(), MapError> {
    let depth = usize::from(id.depth());
    let corrupt = |reason| MapError::Corrupt { depth, reason };
    if !n.is_canonical() {
        return Err(corrupt("an internal node over fewer than two keys"));
    }
    for (b, c) in [(0u8, &n.left), (1u8, &n.right)] {
        if let Child::Leaf { key, .. } = c {
            if !id.is_on_path(key) || bit(key, depth) != b {
                return Err(corrupt("a leaf off its key's path"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_map_root_is_the_empty_constant() {
        for suite in [HashSuite::Sha256, HashSuite::Blake3] {
            let m = StateMap::new(suite, MemoryStore::default());
            assert_eq!(m.root().unwrap(), EMPTY);
        }
    }

    #[test]
    fn one_key_root_is_its_leaf_and_delete_empties_the_map() {
        let s = HashSuite::Sha256;
        let mut m = StateMap::new(s, MemoryStore::default());
        let r = m.insert(b"k", b"v").unwrap();
        let want = leaf_hash(s, &key_hash(s, b"k"), &value_hash(s, b"v"));
        assert_eq!(r, want);
        assert_eq!(
            m.store().node_count(),
            0,
            "a single key needs no internal node"
        );
        assert_eq!(m.remove(b"k").unwrap(), EMPTY);
        assert_eq!(m.store().read_root().unwrap(), Child::Empty);
    }

    #[test]
    fn two_keys_differing_only_in_the_last_bit_make_a_256_deep_path() {
        let s = HashSuite::Blake3;
        let mut m = StateMap::new(s, MemoryStore::default());
        let a = Hash([0xAB; 32]);
        let mut b = a;
        b.0[31] ^= 1;
        let (va, vb) = (Hash([1; 32]), Hash([2; 32]));
        let root = m.apply_hashed(vec![(a, Some(va)), (b, Some(vb))]).unwrap();
        assert_eq!(m.store().node_count(), 256);
        let p = m.prove_hashed(&a).unwrap();
        assert_eq!(p.depth(), 256);
        verify_presence_hashed(s, &root, &a, &va, &p).unwrap();
        // Deleting one lifts the other back to the root.
        let r2 = m.apply_hashed(vec![(b, None)]).unwrap();
        assert_eq!(r2, leaf_hash(s, &a, &va));
        assert_eq!(m.store().node_count(), 0);
    }

    #[test]
    fn a_missing_node_is_an_error_not_a_panic() {
        let s = HashSuite::Sha256;
        let mut m = StateMap::new(s, MemoryStore::default());
        m.insert(b"a", b"1").unwrap();
        m.insert(b"b", b"2").unwrap();
        let mut store = m.into_store();
        store.clear_nodes();
        let m = StateMap::new(s, store);
        assert!(matches!(
            m.prove(b"a"),
            Err(MapError::MissingNode { depth: 0 })
        ));
    }
}
