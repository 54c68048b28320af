//! The leaf chain: the rule that links every leaf to the one before it,
//! independently of the Merkle tree (schemas/FORMATS.md, "Leaf").
//!
//! Leaf `i` must say it is entry `i`, carry the leaf hash of entry `i-1`
//! (zeros for entry 0), have an integrated time strictly after entry
//! `i-1`'s, and not be of an older leaf version than entry `i-1` (a log
//! switches from v1 to v2 leaves once, and never back). The sequencer builds leaves that keep it; the mirror, the
//! whole-log audit and the certificate bundle check it on what they read.
//! This is the one place the rule is written: [`ChainHead::check_next`]
//! (the first break, for a follower that stops) and [`ChainHead::breaks`]
//! (every break, for an audit that reports all of them).

use crate::entry::leaf::Leaf;
use crate::tlog::hash::Hash;

/// EntryContext is what the log knows about an entry besides its envelope:
/// where it is, when it was integrated and the log's origin. The registry
/// rules judge an entry in this context. It holds nothing that depends on
/// the entry's own leaf: a v2 leaf commits to the state the rules make, so
/// the rules cannot read its hash (D15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryContext {
    /// index is the entry's index.
    pub index: u64,
    /// integrated_time_ms is its integrated time.
    pub integrated_time_ms: u64,
    /// log_id is the log's origin.
    pub log_id: String,
}

/// ChainHead is the end of a leaf chain: how many leaves it holds, the
/// leaf hash of the last one and its integrated time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainHead {
    /// size is the number of leaves in the chain.
    pub size: u64,
    /// last_leaf_hash is the hash of leaf size-1 (zeros when empty).
    pub last_leaf_hash: Hash,
    /// last_time_ms is the integrated time of leaf size-1 (0 when empty).
    pub last_time_ms: u64,
    /// last_version is the leaf version of leaf size-1 (0 when empty).
    pub last_version: u8,
}

/// ChainError is a leaf that does not continue the chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// IndexMismatch: the leaf says another index than its position.
    #[error("entry at position {position} says it is entry {index} (reordered?)")]
    IndexMismatch {
        /// position is where the leaf is.
        position: u64,
        /// index is what the leaf says.
        index: u64,
    },
    /// BrokenLink: the leaf's previous-leaf hash is not the previous leaf's hash.
    #[error(
        "previous-leaf hash {got} does not match entry {}'s leaf hash {want}",
        position.saturating_sub(1)
    )]
    BrokenLink {
        /// position is where the leaf is.
        position: u64,
        /// got is the previous-leaf hash the leaf carries.
        got: Hash,
        /// want is the leaf hash of the entry before it.
        want: Hash,
    },
    /// TimeNotIncreasing: the leaf's integrated time is not after the previous one's.
    #[error("integrated time {time_ms} ms is not after the previous entry's {last_time_ms} ms")]
    TimeNotIncreasing {
        /// position is where the leaf is.
        position: u64,
        /// time_ms is the leaf's integrated time.
        time_ms: u64,
        /// last_time_ms is the previous entry's.
        last_time_ms: u64,
    },
    /// VersionDowngrade: a v1 leaf after a v2 leaf.
    #[error("leaf version {version} after a leaf of version {last_version}: a log never goes back to an older leaf version")]
    VersionDowngrade {
        /// position is where the leaf is.
        position: u64,
        /// version is the leaf's version.
        version: u8,
        /// last_version is the previous leaf's.
        last_version: u8,
    },
}

impl ChainError {
    /// check names the broken rule as the audit report does:
    /// "leaf-index", "hash-chain", "time-order" or "leaf-version".
    pub fn check(&self) -> &'static str {
        match self {
            ChainError::IndexMismatch { .. } => "leaf-index",
            ChainError::BrokenLink { .. } => "hash-chain",
            ChainError::TimeNotIncreasing { .. } => "time-order",
            ChainError::VersionDowngrade { .. } => "leaf-version",
        }
    }
}

impl ChainHead {
    /// breaks returns every rule `leaf`, placed next, breaks, in the order
    /// index, link, time, version (empty when it continues the chain).
    pub fn breaks(&self, leaf: &Leaf) -> Vec<ChainError> {
        let position = self.size;
        let mut out = Vec::new();
        if leaf.index != position {
            out.push(ChainError::IndexMismatch {
                position,
                index: leaf.index,
            });
        }
        if leaf.prev_leaf_hash != self.last_leaf_hash {
            out.push(ChainError::BrokenLink {
                position,
                got: leaf.prev_leaf_hash,
                want: self.last_leaf_hash,
            });
        }
        if position > 0 && leaf.integrated_time_ms <= self.last_time_ms {
            out.push(ChainError::TimeNotIncreasing {
                position,
                time_ms: leaf.integrated_time_ms,
                last_time_ms: self.last_time_ms,
            });
        }
        if leaf.version < self.last_version {
            out.push(ChainError::VersionDowngrade {
                position,
                version: leaf.version,
                last_version: self.last_version,
            });
        }
        out
    }

    /// check_next checks that `leaf` continues the chain and returns the
    /// context the registry judges it in, for the log `origin`.
    ///
    /// # Errors
    ///
    /// The first [`ChainError`] of [`ChainHead::breaks`].
    pub fn check_next(&self, leaf: &Leaf, origin: &str) -> Result<EntryContext, ChainError> {
        if let Some(e) = self.breaks(leaf).into_iter().next() {
            return Err(e);
        }
        Ok(self.context(leaf, origin))
    }

    /// context returns the context of `leaf` placed next, whether or not it
    /// continues the chain (an audit judges a broken entry's rules too).
    pub fn context(&self, leaf: &Leaf, origin: &str) -> EntryContext {
        self.context_at(leaf.integrated_time_ms, origin)
    }

    /// context_at returns the context of the next entry integrated at
    /// `time_ms` (for bytes that are not a leaf, whose time is unknown).
    pub fn context_at(&self, time_ms: u64, origin: &str) -> EntryContext {
        EntryContext {
            index: self.size,
            integrated_time_ms: time_ms,
            log_id: origin.to_string(),
        }
    }

    /// advance moves the head past a leaf of `version` with hash
    /// `leaf_hash` integrated at `time_ms`.
    pub fn advance(&mut self, leaf_hash: Hash, time_ms: u64, version: u8) {
        self.size += 1;
        self.last_leaf_hash = leaf_hash;
        self.last_time_ms = time_ms;
        self.last_version = self.last_version.max(version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::envelope::{payload_type_for, Envelope};
    use crate::tlog::hash::HashSuite;

    fn leaf(index: u64, time: u64, prev: Hash) -> Leaf {
        Leaf::compact(index, time, prev, Hash([3; 32]), Hash([4; 32]))
    }

    fn v1_leaf(index: u64, time: u64, prev: Hash) -> Leaf {
        let k = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let e = Envelope::sign(&payload_type_for("genesis"), b"{}".to_vec(), "a/00", &k);
        Leaf::inline(index, time, prev, e)
    }

    #[test]
    fn a_chain_accepts_its_next_leaf_and_names_every_break() {
        let s = HashSuite::Sha256;
        let mut head = ChainHead::default();
        let l0 = leaf(0, 10, Hash::default());
        let ctx = head.check_next(&l0, "o").unwrap();
        assert_eq!((ctx.index, ctx.integrated_time_ms), (0, 10));
        head.advance(l0.hash(s), 10, l0.version);
        let l1 = leaf(1, 11, l0.hash(s));
        assert!(head.breaks(&l1).is_empty());
        // Wrong index, wrong link and the same time: three breaks, in order.
        let bad = leaf(2, 10, Hash([9; 32]));
        let checks: Vec<&str> = head.breaks(&bad).iter().map(ChainError::check).collect();
        assert_eq!(checks, vec!["leaf-index", "hash-chain", "time-order"]);
        assert!(matches!(
            head.check_next(&bad, "o"),
            Err(ChainError::IndexMismatch {
                position: 1,
                index: 2
            })
        ));
        // Entry 0 has no time to follow.
        assert!(ChainHead::default()
            .breaks(&leaf(0, 0, Hash::default()))
            .is_empty());
    }

    #[test]
    fn a_log_switches_from_v1_to_v2_leaves_once_and_never_back() {
        let s = HashSuite::Sha256;
        let mut head = ChainHead::default();
        let l0 = v1_leaf(0, 10, Hash::default());
        head.check_next(&l0, "o").unwrap();
        head.advance(l0.hash(s), 10, l0.version);
        // v1 after v1, v2 after v1: both continue the chain.
        assert!(head.breaks(&v1_leaf(1, 11, l0.hash(s))).is_empty());
        let l1 = leaf(1, 11, l0.hash(s));
        head.check_next(&l1, "o").unwrap();
        head.advance(l1.hash(s), 11, l1.version);
        let back = v1_leaf(2, 12, l1.hash(s));
        let checks: Vec<&str> = head.breaks(&back).iter().map(ChainError::check).collect();
        assert_eq!(checks, vec!["leaf-version"]);
        assert!(head.breaks(&leaf(2, 12, l1.hash(s))).is_empty());
    }
}
