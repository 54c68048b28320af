//! Node storage for the state map: the minimal trait the map reads and
//! writes through, an in-memory store and a write overlay.
//!
//! Only internal nodes are stored, each under the position it occupies
//! ([`NodeId`]: depth and path prefix). A leaf lives inline in its parent's
//! slot ([`Child::Leaf`]), so splitting or lifting a leaf rewrites only its
//! parent, and an update of one key writes one node per level of its path.
//! The root slot is stored apart ([`NodeReader::read_root`]). The byte
//! encodings here ([`NodeId::to_bytes`], [`InternalNode::to_bytes`]) are
//! storage formats, not commitments: nothing hashes them.

use std::collections::BTreeMap;

use super::EMPTY;
use crate::Hash;

/// StoreError says why node storage failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("state map storage: {0}")]
pub struct StoreError(pub String);

/// Child is one slot of the tree: an empty subtree, a subtree holding one
/// key (its leaf, inline), or an internal node (by hash; the node itself
/// is stored at the slot's position).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Child {
    /// Empty: no key below.
    #[default]
    Empty,
    /// Leaf: exactly one key below.
    Leaf {
        /// key is the key hash.
        key: Hash,
        /// value is the value hash.
        value: Hash,
    },
    /// Internal: two or more keys below; the node's hash.
    Internal(Hash),
}

impl Child {
    /// to_bytes encodes the slot: `0x00` empty, `0x01 ‖ key ‖ value` leaf,
    /// `0x02 ‖ hash` internal.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(65);
        self.write(&mut b);
        b
    }

    fn write(&self, b: &mut Vec<u8>) {
        match self {
            Child::Empty => b.push(0),
            Child::Leaf { key, value } => {
                b.push(1);
                b.extend_from_slice(&key.0);
                b.extend_from_slice(&value.0);
            }
            Child::Internal(h) => {
                b.push(2);
                b.extend_from_slice(&h.0);
            }
        }
    }

    /// read decodes one slot from the front of `b`, returning the rest.
    fn read(b: &[u8]) -> Result<(Child, &[u8]), StoreError> {
        let bad = || StoreError("malformed state map slot".into());
        let (&tag, rest) = b.split_first().ok_or_else(bad)?;
        match tag {
            0 => Ok((Child::Empty, rest)),
            1 if rest.len() >= 64 => Ok((
                Child::Leaf {
                    key: Hash::from_slice(&rest[..32]).ok_or_else(bad)?,
                    value: Hash::from_slice(&rest[32..64]).ok_or_else(bad)?,
                },
                &rest[64..],
            )),
            2 if rest.len() >= 32 => {
                let h = Hash::from_slice(&rest[..32]).ok_or_else(bad)?;
                if h == EMPTY {
                    return Err(bad());
                }
                Ok((Child::Internal(h), &rest[32..]))
            }
            _ => Err(bad()),
        }
    }

    /// from_bytes decodes a slot written by [`Child::to_bytes`], strictly.
    ///
    /// # Errors
    /// An unknown tag, a wrong length, or an internal hash equal to [`EMPTY`].
    pub fn from_bytes(b: &[u8]) -> Result<Child, StoreError> {
        match Child::read(b)? {
            (c, []) => Ok(c),
            _ => Err(StoreError("trailing bytes after a state map slot".into())),
        }
    }
}

/// InternalNode is a stored internal node: its two slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InternalNode {
    /// left is the subtree of keys with a 0 bit at this depth.
    pub left: Child,
    /// right is the subtree of keys with a 1 bit at this depth.
    pub right: Child,
}

impl InternalNode {
    /// child returns the slot on side `bit` (0 left, 1 right).
    pub fn child(&self, bit: u8) -> Child {
        if bit == 0 {
            self.left
        } else {
            self.right
        }
    }

    /// is_canonical says whether the node holds at least two keys, as
    /// every stored node must: two empty slots, or an empty slot beside a
    /// leaf, would be an empty subtree or a lifted leaf instead.
    pub fn is_canonical(&self) -> bool {
        !matches!(
            (&self.left, &self.right),
            (Child::Empty, Child::Empty | Child::Leaf { .. }) | (Child::Leaf { .. }, Child::Empty)
        )
    }

    /// to_bytes encodes the node: left slot ‖ right slot ([`Child::to_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(130);
        self.left.write(&mut b);
        self.right.write(&mut b);
        b
    }

    /// from_bytes decodes a node written by [`InternalNode::to_bytes`], strictly.
    ///
    /// # Errors
    /// A malformed slot, trailing bytes, or a node that is not canonical.
    pub fn from_bytes(b: &[u8]) -> Result<InternalNode, StoreError> {
        let (left, rest) = Child::read(b)?;
        let (right, rest) = Child::read(rest)?;
        if !rest.is_empty() {
            return Err(StoreError("trailing bytes after a state map node".into()));
        }
        let n = InternalNode { left, right };
        if !n.is_canonical() {
            return Err(StoreError(
                "a state map node over fewer than two keys".into(),
            ));
        }
        Ok(n)
    }
}

/// NodeId is the position of an internal node: its depth (0 is the root;
/// internal nodes sit at depths 0..=255) and the first `depth` bits of
/// every key hash below it (the other bits are zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    depth: u8,
    prefix: [u8; 32],
}

impl NodeId {
    /// ROOT is the position of the root node.
    pub const ROOT: NodeId = NodeId {
        depth: 0,
        prefix: [0; 32],
    };

    /// new returns the position at `depth` on the path of `path` (its first
    /// `depth` bits; the rest are ignored).
    pub fn new(depth: u8, path: &Hash) -> NodeId {
        let mut prefix = path.0;
        let d = usize::from(depth);
        let full = d / 8;
        if full < 32 {
            prefix[full] &= !(0xFFu8 >> (d % 8));
            prefix[full + 1..].fill(0);
        }
        NodeId { depth, prefix }
    }

    /// depth returns the node's depth.
    pub fn depth(&self) -> u8 {
        self.depth
    }

    /// prefix returns the path bits, zero beyond the depth.
    pub fn prefix(&self) -> &[u8; 32] {
        &self.prefix
    }

    /// is_on_path says whether a key hash passes through this position.
    pub fn is_on_path(&self, key_hash: &Hash) -> bool {
        NodeId::new(self.depth, key_hash) == *self
    }

    /// to_bytes encodes the position as `depth (1) ‖ the first
    /// ceil(depth/8) bytes of the prefix`: 1 to 33 bytes, for a store's key.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = usize::from(self.depth).div_ceil(8);
        let mut b = Vec::with_capacity(1 + n);
        b.push(self.depth);
        b.extend_from_slice(&self.prefix[..n]);
        b
    }

    /// from_bytes decodes [`NodeId::to_bytes`] strictly.
    ///
    /// # Errors
    /// A wrong length or a set bit beyond the depth.
    pub fn from_bytes(b: &[u8]) -> Result<NodeId, StoreError> {
        let bad = || StoreError("malformed state map node id".into());
        let (&depth, rest) = b.split_first().ok_or_else(bad)?;
        if rest.len() != usize::from(depth).div_ceil(8) {
            return Err(bad());
        }
        let mut prefix = [0u8; 32];
        prefix[..rest.len()].copy_from_slice(rest);
        let id = NodeId { depth, prefix };
        if NodeId::new(depth, &Hash(prefix)) != id {
            return Err(bad());
        }
        Ok(id)
    }
}

/// NodeReader reads a map's nodes (like Go tlog's `HashReader`): the node
/// reads it from redb, a verifier from memory.
pub trait NodeReader {
    /// read_root returns the root slot ([`Child::Empty`] for a new store).
    ///
    /// # Errors
    /// The storage fails.
    fn read_root(&self) -> Result<Child, StoreError>;

    /// read_node returns the internal node at `id`, if one is stored.
    ///
    /// # Errors
    /// The storage fails.
    fn read_node(&self, id: &NodeId) -> Result<Option<InternalNode>, StoreError>;
}

/// NodeStore also writes a map's nodes. An update of one key reads and
/// writes at most one node per level of its path.
pub trait NodeStore: NodeReader {
    /// write_root replaces the root slot.
    ///
    /// # Errors
    /// The storage fails.
    fn write_root(&mut self, root: Child) -> Result<(), StoreError>;

    /// write_node stores `node` at `id`, replacing any node there.
    ///
    /// # Errors
    /// The storage fails.
    fn write_node(&mut self, id: &NodeId, node: InternalNode) -> Result<(), StoreError>;

    /// delete_node removes the node at `id` (a no-op if there is none).
    ///
    /// # Errors
    /// The storage fails.
    fn delete_node(&mut self, id: &NodeId) -> Result<(), StoreError>;
}

impl<T: NodeReader + ?Sized> NodeReader for &T {
    fn read_root(&self) -> Result<Child, StoreError> {
        (**self).read_root()
    }
    fn read_node(&self, id: &NodeId) -> Result<Option<InternalNode>, StoreError> {
        (**self).read_node(id)
    }
}

impl<T: NodeReader + ?Sized> NodeReader for &mut T {
    fn read_root(&self) -> Result<Child, StoreError> {
        (**self).read_root()
    }
    fn read_node(&self, id: &NodeId) -> Result<Option<InternalNode>, StoreError> {
        (**self).read_node(id)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for &mut T {
    fn write_root(&mut self, root: Child) -> Result<(), StoreError> {
        (**self).write_root(root)
    }
    fn write_node(&mut self, id: &NodeId, node: InternalNode) -> Result<(), StoreError> {
        (**self).write_node(id, node)
    }
    fn delete_node(&mut self, id: &NodeId) -> Result<(), StoreError> {
        (**self).delete_node(id)
    }
}

/// MemoryStore keeps the nodes in memory, ordered by position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStore {
    root: Child,
    nodes: BTreeMap<NodeId, InternalNode>,
}

impl MemoryStore {
    /// node_count returns the number of stored internal nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// nodes iterates over the stored nodes in position order.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeId, &InternalNode)> {
        self.nodes.iter()
    }

    /// clear_nodes drops every internal node but keeps the root slot: a
    /// damaged store, for tests of the map's errors.
    pub fn clear_nodes(&mut self) {
        self.nodes.clear();
    }
}

impl NodeReader for MemoryStore {
    fn read_root(&self) -> Result<Child, StoreError> {
        Ok(self.root)
    }
    fn read_node(&self, id: &NodeId) -> Result<Option<InternalNode>, StoreError> {
        Ok(self.nodes.get(id).copied())
    }
}

impl NodeStore for MemoryStore {
    fn write_root(&mut self, root: Child) -> Result<(), StoreError> {
        self.root = root;
        Ok(())
    }
    fn write_node(&mut self, id: &NodeId, node: InternalNode) -> Result<(), StoreError> {
        self.nodes.insert(*id, node);
        Ok(())
    }
    fn delete_node(&mut self, id: &NodeId) -> Result<(), StoreError> {
        self.nodes.remove(id);
        Ok(())
    }
}

/// Changes are the writes an [`Overlay`] collected: the new root slot if it
/// changed, and each touched position's final node (None: deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// root is the new root slot, if it changed.
    pub root: Option<Child>,
    /// nodes maps each touched position to its final node, or None if deleted.
    pub nodes: BTreeMap<NodeId, Option<InternalNode>>,
}

impl Changes {
    /// apply_to writes the changes into `store` (a node does it inside the
    /// transaction that commits the entries they belong to).
    ///
    /// # Errors
    /// The store fails; it may then hold part of the changes.
    pub fn apply_to<S: NodeStore + ?Sized>(&self, store: &mut S) -> Result<(), StoreError> {
        for (id, n) in &self.nodes {
            match n {
                Some(n) => store.write_node(id, *n)?,
                None => store.delete_node(id)?,
            }
        }
        if let Some(r) = self.root {
            store.write_root(r)?;
        }
        Ok(())
    }
}

/// Overlay is a write buffer over a read-only store: reads see the
/// buffered writes first. A sequencer applies each entry of a batch to one
/// overlay (one root per entry), then commits the [`Changes`] once, so a
/// node rewritten by several entries of a batch is written to disk once.
#[derive(Debug)]
pub struct Overlay<R> {
    base: R,
    changes: Changes,
}

impl<R: NodeReader> Overlay<R> {
    /// new starts an empty overlay over `base` (e.g. `&MemoryStore`).
    pub fn new(base: R) -> Overlay<R> {
        Overlay {
            base,
            changes: Changes::default(),
        }
    }

    /// with_changes continues an overlay over `base` whose buffered writes
    /// so far are `changes` (a sequencer that keeps them between entries
    /// of one batch while the base is borrowed only per entry).
    pub fn with_changes(base: R, changes: Changes) -> Overlay<R> {
        Overlay { base, changes }
    }

    /// changes returns the buffered writes.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// into_changes returns the buffered writes.
    pub fn into_changes(self) -> Changes {
        self.changes
    }
}

impl<R: NodeReader> NodeReader for Overlay<R> {
    fn read_root(&self) -> Result<Child, StoreError> {
        match self.changes.root {
            Some(r) => Ok(r),
            None => self.base.read_root(),
        }
    }
    fn read_node(&self, id: &NodeId) -> Result<Option<InternalNode>, StoreError> {
        match self.changes.nodes.get(id) {
            Some(n) => Ok(*n),
            None => self.base.read_node(id),
        }
    }
}

impl<R: NodeReader> NodeStore for Overlay<R> {
    fn write_root(&mut self, root: Child) -> Result<(), StoreError> {
        self.changes.root = Some(root);
        Ok(())
    }
    fn write_node(&mut self, id: &NodeId, node: InternalNode) -> Result<(), StoreError> {
        self.changes.nodes.insert(*id, Some(node));
        Ok(())
    }
    fn delete_node(&mut self, id: &NodeId) -> Result<(), StoreError> {
        self.changes.nodes.insert(*id, None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_mask_the_path_and_round_trip() {
        let path = Hash([0xFF; 32]);
        let id = NodeId::new(3, &path);
        assert_eq!(id.prefix()[0], 0xE0);
        assert!(id.prefix()[1..].iter().all(|b| *b == 0));
        assert_eq!(id.to_bytes(), vec![3, 0xE0]);
        assert_eq!(NodeId::from_bytes(&id.to_bytes()).unwrap(), id);
        assert_eq!(NodeId::new(0, &path), NodeId::ROOT);
        assert_eq!(NodeId::ROOT.to_bytes(), vec![0]);
        let deep = NodeId::new(255, &path);
        assert_eq!(deep.to_bytes().len(), 33);
        assert_eq!(deep.prefix()[31], 0xFE);
        assert_eq!(NodeId::from_bytes(&deep.to_bytes()).unwrap(), deep);
        // A bit set beyond the depth, a wrong length, nothing at all.
        assert!(NodeId::from_bytes(&[3, 0xF0]).is_err());
        assert!(NodeId::from_bytes(&[3, 0xE0, 0]).is_err());
        assert!(NodeId::from_bytes(&[9, 0xE0]).is_err());
        assert!(NodeId::from_bytes(&[]).is_err());
    }

    #[test]
    fn nodes_round_trip_and_refuse_non_canonical_shapes() {
        let leaf = Child::Leaf {
            key: Hash([1; 32]),
            value: Hash([2; 32]),
        };
        let inner = Child::Internal(Hash([3; 32]));
        for n in [
            InternalNode {
                left: leaf,
                right: leaf,
            },
            InternalNode {
                left: Child::Empty,
                right: inner,
            },
            InternalNode {
                left: inner,
                right: leaf,
            },
        ] {
            assert_eq!(InternalNode::from_bytes(&n.to_bytes()).unwrap(), n);
        }
        for bad in [
            InternalNode {
                left: Child::Empty,
                right: Child::Empty,
            },
            InternalNode {
                left: leaf,
                right: Child::Empty,
            },
        ] {
            assert!(InternalNode::from_bytes(&bad.to_bytes()).is_err());
        }
        let mut b = InternalNode {
            left: inner,
            right: inner,
        }
        .to_bytes();
        b.push(0);
        assert!(InternalNode::from_bytes(&b).is_err());
        assert!(Child::from_bytes(&[2; 33][..1]).is_err());
        let mut zero_internal = vec![2u8];
        zero_internal.extend_from_slice(&[0; 32]);
        assert!(Child::from_bytes(&zero_internal).is_err());
        assert!(Child::from_bytes(&[3]).is_err());
        assert_eq!(Child::from_bytes(&leaf.to_bytes()).unwrap(), leaf);
    }
}
