//! The audit's replay set (D12, issue 14): every content id applied so
//! far, in bounded memory, and still exact.
//!
//! Each id is kept as its first 8 bytes and the low 32 bits of its entry's
//! index: 12 bytes a slot, in 256 open-addressing tables (by the id's first
//! byte) so that growing one moves 1/256 of the set, not all of it. A
//! lookup returns the candidate indexes whose 8 bytes match; the caller
//! confirms each by re-reading that entry, authenticated against the signed
//! tree, and comparing all 32 bytes ([`crate::replay::AuditSink`]). So a
//! match on 8 bytes alone (2^-64 by chance, or forced with ~2^32 work by a
//! signer) never makes a false `replayed-envelope`, and a true replay always
//! matches: no replay is missed.

/// SHARDS is the number of tables (by the id's first byte).
const SHARDS: usize = 256;

#[derive(Clone, Debug, Default)]
struct Shard {
    /// keys are the 8-byte prefixes (0: an empty slot; a prefix of 0 is
    /// stored as 1, a collision like any other, resolved by the re-read).
    keys: Vec<u64>,
    /// low are the low 32 bits of the index of the entry in that slot.
    low: Vec<u32>,
    len: usize,
}

impl Shard {
    fn slot(&self, key: u64) -> usize {
        // The top byte is the shard's: place by the other 56 bits.
        ((u128::from(key.rotate_left(8)) * self.keys.len() as u128) >> 64) as usize
    }

    fn grow(&mut self) {
        let cap = (self.keys.len() * 2).max(16);
        let old = std::mem::replace(
            self,
            Shard {
                keys: vec![0; cap],
                low: vec![0; cap],
                len: 0,
            },
        );
        for (k, l) in old.keys.into_iter().zip(old.low) {
            if k != 0 {
                self.put(k, l);
            }
        }
    }

    fn put(&mut self, key: u64, low: u32) {
        let mut s = self.slot(key);
        while self.keys[s] != 0 {
            s = (s + 1) % self.keys.len();
        }
        self.keys[s] = key;
        self.low[s] = low;
        self.len += 1;
    }
}

/// Seen is the compact replay set.
#[derive(Clone, Debug)]
pub struct Seen {
    shards: Vec<Shard>,
    /// mask keeps the prefix's bits: all 64, except in tests that force
    /// collisions by keeping fewer.
    mask: u64,
}

#[cfg(test)]
thread_local! {
    /// PREFIX_BITS is how many bits of the prefix a test's sets keep.
    pub static PREFIX_BITS: std::cell::Cell<u32> = const { std::cell::Cell::new(64) };
}

impl Default for Seen {
    fn default() -> Seen {
        #[cfg(not(test))]
        let bits = 64;
        #[cfg(test)]
        let bits = PREFIX_BITS.with(std::cell::Cell::get).clamp(8, 64);
        Seen {
            shards: vec![Shard::default(); SHARDS],
            mask: u64::MAX << (64 - bits),
        }
    }
}

impl Seen {
    fn prefix(&self, id: &[u8; 32]) -> u64 {
        let k = u64::from_be_bytes(id[..8].try_into().expect("8 of 32 bytes")) & self.mask;
        k.max(1)
    }

    /// insert records that entry `index` applied content `id`.
    pub fn insert(&mut self, id: &[u8; 32], index: u64) {
        let key = self.prefix(id);
        let sh = &mut self.shards[usize::from(id[0])];
        // At most 7/8 full, so a probe ends soon.
        if (sh.len + 1) * 8 > sh.keys.len() * 7 {
            sh.grow();
        }
        sh.put(key, index as u32);
    }

    /// candidates returns the indexes below `before` of the entries whose
    /// ids share `id`'s first 8 bytes, in increasing order (for a log past
    /// 2^32 entries, every index with the kept low 32 bits).
    pub fn candidates(&self, id: &[u8; 32], before: u64) -> Vec<u64> {
        let key = self.prefix(id);
        let sh = &self.shards[usize::from(id[0])];
        let mut out = Vec::new();
        if sh.keys.is_empty() {
            return out;
        }
        let mut s = sh.slot(key);
        while sh.keys[s] != 0 {
            if sh.keys[s] == key {
                let mut i = u64::from(sh.low[s]);
                while i < before {
                    out.push(i);
                    i += 1 << 32;
                }
            }
            s = (s + 1) % sh.keys.len();
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// len returns the number of ids held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u64) -> [u8; 32] {
        regledger::HashSuite::Blake3.leaf_hash(&i.to_be_bytes()).0
    }

    #[test]
    fn every_id_is_found_and_others_rarely_match() {
        let mut s = Seen::default();
        for i in 0..100_000u64 {
            s.insert(&id(i), i);
        }
        assert_eq!(s.len(), 100_000);
        for i in 0..100_000u64 {
            assert_eq!(s.candidates(&id(i), 1_000_000), vec![i]);
        }
        let stray = (100_000..200_000u64)
            .filter(|i| !s.candidates(&id(*i), 1_000_000).is_empty())
            .count();
        assert_eq!(stray, 0);
    }

    #[test]
    fn ids_sharing_eight_bytes_are_all_candidates() {
        let mut s = Seen::default();
        let mut a = [7u8; 32];
        let mut b = a;
        b[31] = 8;
        a[8] = 0; // same first 8 bytes, different ids
        s.insert(&a, 3);
        s.insert(&b, 9);
        assert_eq!(s.candidates(&a, 100), vec![3, 9]);
        assert_eq!(
            s.candidates(&a, 5),
            vec![3],
            "only entries before the one asking"
        );
        let zero = [0u8; 32];
        s.insert(&zero, 11);
        assert_eq!(s.candidates(&zero, 100), vec![11]);
    }
}
