//! 区块链编号 (the certificate's "blockchain number"): the ledger's own,
//! offline-verifiable identifier of the entry that registered a product.
//!
//! Syntax: `RL1-<log id: 8 hex>-<index: decimal>-<leaf hash prefix: 16 hex>`,
//! e.g. `RL1-3f2a9c01-1042-9c2b3799f232761f`. The log id is the first four
//! bytes of SHA-256(origin). The number is derived by the ledger from the
//! registering entry's index and leaf hash (both known only after
//! sequencing), so the signed payload does not contain it; a certificate
//! bundle carries the entry, its inclusion proof and the checkpoint, and
//! [`BlockchainNo::matches`] ties the number to them.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::tlog::hash::Hash;

/// PREFIX_HEX_DIGITS is how many hex digits of the leaf hash the number carries (64 bits).
pub const PREFIX_HEX_DIGITS: usize = 16;

/// BlockchainNo is a parsed blockchain number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlockchainNo {
    /// log_id is the first 4 bytes of SHA-256(origin).
    pub log_id: [u8; 4],
    /// index is the registering entry's index.
    pub index: u64,
    /// leaf_prefix is the first 8 bytes of its leaf hash.
    pub leaf_prefix: [u8; 8],
}

/// log_id returns the 4-byte log id of an origin.
pub fn log_id(origin: &str) -> [u8; 4] {
    let d = Sha256::digest(origin.as_bytes());
    [d[0], d[1], d[2], d[3]]
}

impl BlockchainNo {
    /// new derives the number of entry `index` with `leaf_hash` in the log `origin`.
    pub fn new(origin: &str, index: u64, leaf_hash: &Hash) -> BlockchainNo {
        BlockchainNo {
            log_id: log_id(origin),
            index,
            leaf_prefix: leaf_hash.0[..8].try_into().expect("8"),
        }
    }

    /// parse reads the canonical text form.
    pub fn parse(s: &str) -> Option<BlockchainNo> {
        let mut p = s.split('-');
        let (tag, id, idx, pre) = (p.next()?, p.next()?, p.next()?, p.next()?);
        if p.next().is_some() || tag != "RL1" {
            return None;
        }
        let hex = |h: &str, n: usize| -> Option<Vec<u8>> {
            if h.len() != n
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return None;
            }
            (0..n / 2)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok())
                .collect()
        };
        let index = crate::tlog::checkpoint::parse_size(idx)?;
        Some(BlockchainNo {
            log_id: hex(id, 8)?.try_into().ok()?,
            index,
            leaf_prefix: hex(pre, PREFIX_HEX_DIGITS)?.try_into().ok()?,
        })
    }

    /// matches reports whether the number names entry `index` with `leaf_hash` in log `origin`.
    pub fn matches(&self, origin: &str, index: u64, leaf_hash: &Hash) -> bool {
        *self == BlockchainNo::new(origin, index, leaf_hash)
    }
}

impl fmt::Display for BlockchainNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RL1-")?;
        for b in self.log_id {
            write!(f, "{b:02x}")?;
        }
        write!(f, "-{}-", self.index)?;
        for b in self.leaf_prefix {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_matching() {
        let h = Hash([0xab; 32]);
        let n = BlockchainNo::new("regledger.example/gx", 1042, &h);
        let s = n.to_string();
        assert!(
            s.starts_with("RL1-") && s.ends_with("-1042-abababababababab"),
            "{s}"
        );
        assert_eq!(BlockchainNo::parse(&s), Some(n.clone()));
        assert!(n.matches("regledger.example/gx", 1042, &h));
        assert!(!n.matches("regledger.example/gx", 1043, &h));
        assert!(!n.matches("other", 1042, &h));
        assert!(!n.matches("regledger.example/gx", 1042, &Hash([0xac; 32])));
        for bad in [
            "",
            "RL1",
            "RL2-00000000-1-0000000000000000",
            "RL1-0000000-1-0000000000000000",
            "RL1-00000000-01-0000000000000000",
            "RL1-00000000-1-000000000000000",
            "RL1-00000000-1-000000000000000G",
            "RL1-ABCDEF00-1-0000000000000000",
            "RL1-00000000-1-0000000000000000-x",
            "RL1-00000000--0000000000000000",
        ] {
            assert!(BlockchainNo::parse(bad).is_none(), "{bad}");
        }
    }
}
