//! Property tests of the state map against a naive reference written here.
//!
//! The reference keeps the map as a `BTreeMap` of key hash → value hash and
//! recomputes the whole tree from it, from the definition in
//! schemas/FORMATS.md ("State map"), with `sha2` and `blake3` called
//! directly: no library code is shared. Random maps and random sequences of
//! inserts, updates and deletes must give the reference's root after every
//! step and the reference's proofs, whatever the order of the writes; every
//! present key must prove presence and every absent key absence; every
//! tampered proof, value, key or root must fail.

use std::collections::BTreeMap;

use proptest::prelude::*;
use regledger::statemap::{
    self, verify_absence, verify_absence_hashed, verify_presence, verify_presence_hashed, MapProof,
    MemoryStore, NodeReader, Overlay, StateMap, Terminal, EMPTY,
};
use regledger::{Hash, HashSuite};

/// The reference implementation: the definition, recomputed in full.
mod reference {
    use super::*;

    pub fn h(suite: HashSuite, parts: &[&[u8]]) -> [u8; 32] {
        match suite {
            HashSuite::Sha256 => {
                use sha2::Digest;
                let mut d = sha2::Sha256::new();
                for p in parts {
                    d.update(p);
                }
                d.finalize().into()
            }
            HashSuite::Blake3 => {
                let mut d = blake3::Hasher::new();
                for p in parts {
                    d.update(p);
                }
                *d.finalize().as_bytes()
            }
            HashSuite::Sm3 => {
                use sm3::Digest;
                let mut d = sm3::Sm3::new();
                for p in parts {
                    d.update(p);
                }
                d.finalize().into()
            }
        }
    }

    pub fn key(suite: HashSuite, k: &[u8]) -> [u8; 32] {
        h(suite, &[&[0x10], k])
    }

    pub fn value(suite: HashSuite, v: &[u8]) -> [u8; 32] {
        h(suite, &[&[0x11], v])
    }

    fn bit(k: &[u8; 32], i: usize) -> bool {
        k[i / 8] & (0x80 >> (i % 8)) != 0
    }

    /// Map is the reference map: key hash → value hash.
    pub type Map = BTreeMap<[u8; 32], [u8; 32]>;

    /// subtree hashes the keys of `items` (all sharing the first `depth` bits).
    fn subtree(suite: HashSuite, depth: usize, items: &[([u8; 32], [u8; 32])]) -> [u8; 32] {
        match items {
            [] => [0; 32],
            [(k, v)] => h(suite, &[&[0x12], k, v]),
            _ => {
                let (l, r): (Vec<_>, Vec<_>) = items.iter().partition(|(k, _)| !bit(k, depth));
                let lh = subtree(suite, depth + 1, &l);
                let rh = subtree(suite, depth + 1, &r);
                h(suite, &[&[0x13], &lh, &rh])
            }
        }
    }

    pub fn root(suite: HashSuite, m: &Map) -> [u8; 32] {
        let items: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
        subtree(suite, 0, &items)
    }

    /// proof returns (siblings root side first, terminal) for `key`:
    /// terminal None = empty, Some(key, value) = the leaf where the path ends.
    #[allow(clippy::type_complexity)]
    pub fn proof(
        suite: HashSuite,
        m: &Map,
        key: &[u8; 32],
    ) -> (Vec<[u8; 32]>, Option<([u8; 32], [u8; 32])>) {
        let mut items: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
        let mut sibs = Vec::new();
        let mut depth = 0;
        while items.len() > 1 {
            let (mine, other): (Vec<_>, Vec<_>) = items
                .iter()
                .partition(|(k, _)| bit(k, depth) == bit(key, depth));
            sibs.push(subtree(suite, depth + 1, &other));
            items = mine;
            depth += 1;
        }
        (sibs, items.first().copied())
    }
}

fn suite() -> impl Strategy<Value = HashSuite> {
    prop_oneof![Just(HashSuite::Sha256), Just(HashSuite::Blake3)]
}

/// Op is one write: a key from a small universe (so keys repeat and
/// deletes hit) and a value, or None to delete.
#[derive(Clone, Debug)]
struct Op {
    key: u8,
    value: Option<Vec<u8>>,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0u8..48,
        prop::option::weighted(0.7, prop::collection::vec(any::<u8>(), 0..12)),
    )
        .prop_map(|(key, value)| Op { key, value })
}

fn key_bytes(k: u8) -> Vec<u8> {
    format!("participant/p-{k}").into_bytes()
}

/// check_all checks the map against the reference: root, every key of the
/// universe proves presence or absence exactly as the reference says, and
/// the proof is the reference's proof.
fn check_all(
    suite: HashSuite,
    m: &StateMap<MemoryStore>,
    values: &BTreeMap<u8, Vec<u8>>,
) -> Result<(), TestCaseError> {
    let mut rmap = reference::Map::new();
    for (k, v) in values {
        rmap.insert(
            reference::key(suite, &key_bytes(*k)),
            reference::value(suite, v),
        );
    }
    let root = m.root().unwrap();
    prop_assert_eq!(root.0, reference::root(suite, &rmap));
    for k in 0u8..56 {
        let kb = key_bytes(k);
        let p = m.prove(&kb).unwrap();
        // The encoding is canonical and round-trips.
        prop_assert_eq!(&MapProof::parse(&p.to_bytes()).unwrap(), &p);
        let (rsibs, rterm) = reference::proof(suite, &rmap, &reference::key(suite, &kb));
        let sibs: Vec<[u8; 32]> = p.siblings().iter().map(|h| h.0).collect();
        prop_assert_eq!(sibs, rsibs);
        match values.get(&k) {
            Some(v) => {
                prop_assert!(p.is_presence());
                prop_assert_eq!(rterm.map(|t| t.0), Some(reference::key(suite, &kb)));
                verify_presence(suite, &root, &kb, v, &p).unwrap();
                prop_assert_eq!(m.get(&kb).unwrap().map(|h| h.0), rterm.map(|t| t.1));
                prop_assert!(verify_absence(suite, &root, &kb, &p).is_err());
                // A tampered value, another key, a tampered root.
                let mut v2 = v.clone();
                v2.push(0);
                prop_assert!(verify_presence(suite, &root, &kb, &v2, &p).is_err());
                prop_assert!(verify_presence(suite, &root, &key_bytes(k + 100), v, &p).is_err());
                let mut r2 = root;
                r2.0[k as usize % 32] ^= 1;
                prop_assert!(verify_presence(suite, &r2, &kb, v, &p).is_err());
            }
            None => {
                prop_assert!(!p.is_presence());
                match p.terminal() {
                    Terminal::Empty => prop_assert_eq!(rterm, None),
                    Terminal::OtherLeaf {
                        key_hash,
                        value_hash,
                    } => prop_assert_eq!(rterm, Some((key_hash.0, value_hash.0))),
                    Terminal::Leaf => unreachable!(),
                }
                verify_absence(suite, &root, &kb, &p).unwrap();
                prop_assert_eq!(m.get(&kb).unwrap(), None);
                prop_assert!(verify_presence(suite, &root, &kb, b"", &p).is_err());
                let mut r2 = root;
                r2.0[31] ^= 0x80;
                prop_assert!(verify_absence(suite, &r2, &kb, &p).is_err());
            }
        }
    }
    Ok(())
}

/// tampered_bytes_never_verify flips bits of an encoded proof: each flip
/// must make it unparsable or make the same claim fail.
fn tampered_bytes_never_verify(
    suite: HashSuite,
    root: &Hash,
    key: &[u8],
    value: Option<&[u8]>,
    p: &MapProof,
    positions: &[usize],
) -> Result<(), TestCaseError> {
    let b = p.to_bytes();
    for &pos in positions {
        let mut t = b.clone();
        let i = pos % t.len();
        t[i] ^= 1 << (pos % 8);
        let Ok(tp) = MapProof::parse(&t) else {
            continue;
        };
        let ok = match value {
            Some(v) => verify_presence(suite, root, key, v, &tp).is_ok(),
            None => verify_absence(suite, root, key, &tp).is_ok(),
        };
        prop_assert!(!ok, "a proof with byte {} flipped still verifies", i);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random insert/update/delete sequences: the reference's root after
    /// every write, the reference's proofs at the end.
    #[test]
    fn random_sequences_match_the_reference(suite in suite(), ops in prop::collection::vec(op(), 0..80)) {
        let mut m = StateMap::new(suite, MemoryStore::default());
        let mut values = BTreeMap::new();
        let mut rmap = reference::Map::new();
        for o in &ops {
            let kb = key_bytes(o.key);
            let root = match &o.value {
                Some(v) => {
                    values.insert(o.key, v.clone());
                    rmap.insert(reference::key(suite, &kb), reference::value(suite, v));
                    m.insert(&kb, v).unwrap()
                }
                None => {
                    values.remove(&o.key);
                    rmap.remove(&reference::key(suite, &kb));
                    m.remove(&kb).unwrap()
                }
            };
            prop_assert_eq!(root.0, reference::root(suite, &rmap));
        }
        check_all(suite, &m, &values)?;
    }

    /// The root, and the stored nodes themselves, depend only on the final
    /// contents: not on the order of the writes, the deletes on the way,
    /// nor on batching or an overlay.
    #[test]
    fn contents_alone_decide_root_and_storage(
        suite in suite(),
        ops in prop::collection::vec(op(), 0..80),
        seed in any::<u64>(),
    ) {
        let mut seq = StateMap::new(suite, MemoryStore::default());
        let mut values = BTreeMap::new();
        for o in &ops {
            match &o.value {
                Some(v) => { values.insert(o.key, v.clone()); seq.insert(&key_bytes(o.key), v).unwrap(); }
                None => { values.remove(&o.key); seq.remove(&key_bytes(o.key)).unwrap(); }
            }
        }
        // The final contents, inserted in a shuffled order.
        let mut finals: Vec<(Vec<u8>, Vec<u8>)> =
            values.iter().map(|(k, v)| (key_bytes(*k), v.clone())).collect();
        let mut s = seed;
        for i in (1..finals.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            finals.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut shuffled = StateMap::new(suite, MemoryStore::default());
        for (k, v) in &finals {
            shuffled.insert(k, v).unwrap();
        }
        // The whole sequence as one batch (last write to a key wins).
        let mut batch = StateMap::new(suite, MemoryStore::default());
        let writes: Vec<(Vec<u8>, Option<&[u8]>)> =
            ops.iter().map(|o| (key_bytes(o.key), o.value.as_deref())).collect();
        let root_b = batch.apply(writes.iter().map(|(k, v)| (k.as_slice(), *v))).unwrap();
        prop_assert_eq!(seq.root().unwrap(), shuffled.root().unwrap());
        prop_assert_eq!(seq.root().unwrap(), root_b);
        prop_assert_eq!(seq.store(), shuffled.store());
        prop_assert_eq!(seq.store(), batch.store());
        // The same writes through an overlay over an empty store, one
        // entry at a time, then committed at once.
        let base = MemoryStore::default();
        let mut ov = StateMap::new(suite, Overlay::new(&base));
        for o in &ops {
            match &o.value {
                Some(v) => ov.insert(&key_bytes(o.key), v).unwrap(),
                None => ov.remove(&key_bytes(o.key)).unwrap(),
            };
        }
        prop_assert_eq!(ov.root().unwrap(), root_b);
        let changes = ov.into_store().into_changes();
        let mut committed = base.clone();
        changes.apply_to(&mut committed).unwrap();
        prop_assert_eq!(&committed, seq.store());
    }

    /// Every tampered proof byte fails, for presence and for absence.
    #[test]
    fn tampered_proofs_fail(
        suite in suite(),
        keys in prop::collection::btree_set(0u8..48, 1..40),
        probe in 0u8..64,
        positions in prop::collection::vec(any::<usize>(), 24),
    ) {
        let mut m = StateMap::new(suite, MemoryStore::default());
        for k in &keys {
            m.insert(&key_bytes(*k), &[*k]).unwrap();
        }
        let root = m.root().unwrap();
        let kb = key_bytes(probe);
        let p = m.prove(&kb).unwrap();
        let value = keys.contains(&probe).then_some(vec![probe]);
        tampered_bytes_never_verify(suite, &root, &kb, value.as_deref(), &p, &positions)?;
        // A present key's proof never proves any other present key.
        for k in &keys {
            if *k != probe {
                prop_assert!(verify_presence(suite, &root, &key_bytes(*k), &[*k], &p).is_err());
            }
        }
    }

    /// Adversarial key hashes sharing long prefixes (deep paths, up to 256).
    #[test]
    fn deep_paths_match_the_reference(
        suite in suite(),
        base in any::<[u8; 32]>(),
        flips in prop::collection::vec((150usize..256, any::<[u8; 32]>(), any::<bool>()), 1..24),
    ) {
        let mut m = StateMap::new(suite, MemoryStore::default());
        let mut rmap = reference::Map::new();
        for (bitpos, value, delete) in &flips {
            let mut k = base;
            k[bitpos / 8] ^= 0x80 >> (bitpos % 8);
            let root = if *delete {
                rmap.remove(&k);
                m.apply_hashed(vec![(Hash(k), None)]).unwrap()
            } else {
                rmap.insert(k, *value);
                m.apply_hashed(vec![(Hash(k), Some(Hash(*value)))]).unwrap()
            };
            prop_assert_eq!(root.0, reference::root(suite, &rmap));
        }
        let root = m.root().unwrap();
        let mut probes: Vec<[u8; 32]> = rmap.keys().copied().collect();
        probes.push(base);
        let mut far = base;
        far[0] ^= 0x80;
        probes.push(far);
        for k in probes {
            let p = m.prove_hashed(&Hash(k)).unwrap();
            prop_assert!(p.depth() <= 256);
            prop_assert_eq!(&MapProof::parse(&p.to_bytes()).unwrap(), &p);
            let (rsibs, _) = reference::proof(suite, &rmap, &k);
            prop_assert_eq!(p.siblings().iter().map(|h| h.0).collect::<Vec<_>>(), rsibs);
            match rmap.get(&k) {
                Some(v) => verify_presence_hashed(suite, &root, &Hash(k), &Hash(*v), &p).unwrap(),
                None => verify_absence_hashed(suite, &root, &Hash(k), &p).unwrap(),
            }
        }
    }

    /// One key write reads and writes at most one node per level of its
    /// path (O(log n) per key), and leaves no stale node behind.
    #[test]
    fn one_write_touches_one_node_per_level(
        suite in suite(),
        keys in prop::collection::btree_set(any::<u16>(), 0..300),
        probe in any::<u16>(),
        pick in any::<prop::sample::Index>(),
        delete in any::<bool>(),
    ) {
        // Deletes mostly hit a present key (lifting its sibling), inserts
        // mostly add a new one (splitting a leaf).
        let probe = if delete && !keys.is_empty() {
            *keys.iter().nth(pick.index(keys.len())).unwrap()
        } else {
            probe
        };
        let mut m = StateMap::new(suite, MemoryStore::default());
        let initial: Vec<[u8; 2]> = keys.iter().map(|k| k.to_be_bytes()).collect();
        m.apply(initial.iter().map(|k| (&k[..], Some(&b"v"[..])))).unwrap();
        let kb = probe.to_be_bytes();
        let before = m.prove(&kb).unwrap().depth();
        m.reset_stats();
        if delete { m.remove(&kb).unwrap(); } else { m.insert(&kb, b"w").unwrap(); }
        let st = m.stats();
        let after = m.prove(&kb).unwrap().depth();
        prop_assert!(st.reads as usize <= before, "{} reads on a path of {}", st.reads, before);
        prop_assert!(st.writes as usize <= after.max(before), "{} writes", st.writes);
        prop_assert!((st.writes + st.deletes) as usize <= before.max(after) + 1);
        // Hashes: key, value, one per written node, at most one per leaf sibling.
        prop_assert!(st.hashes as usize <= 4 + 2 * after.max(before), "{} hashes", st.hashes);
        // Every stored node is reachable: the count matches a fresh build.
        let mut fresh = StateMap::new(suite, MemoryStore::default());
        let mut finals: Vec<(Vec<u8>, &[u8])> = keys.iter().filter(|k| **k != probe).map(|k| (k.to_be_bytes().to_vec(), &b"v"[..])).collect();
        if !delete { finals.push((kb.to_vec(), b"w")); }
        fresh.apply(finals.iter().map(|(k, v)| (k.as_slice(), Some(*v)))).unwrap();
        prop_assert_eq!(m.store(), fresh.store());
    }
}

#[test]
fn empty_map_proves_absence_of_everything() {
    for suite in [HashSuite::Sha256, HashSuite::Blake3, HashSuite::Sm3] {
        let m = StateMap::new(suite, MemoryStore::default());
        let p = m.prove(b"anything").unwrap();
        assert_eq!(p.to_bytes(), vec![1, 0, 0, 0]);
        verify_absence(suite, &EMPTY, b"anything", &p).unwrap();
        assert!(verify_presence(suite, &EMPTY, b"anything", b"", &p).is_err());
        assert_eq!(m.store().read_root().unwrap(), statemap::Child::Empty);
    }
}

#[test]
fn for_each_leaf_lists_every_key_in_hash_order() {
    let suite = HashSuite::Blake3;
    let mut m = StateMap::new(suite, MemoryStore::default());
    let mut want = Vec::new();
    for i in 0u32..500 {
        m.insert(&i.to_be_bytes(), &i.to_le_bytes()).unwrap();
        want.push((
            statemap::key_hash(suite, &i.to_be_bytes()),
            statemap::value_hash(suite, &i.to_le_bytes()),
        ));
    }
    want.sort();
    let mut got = Vec::new();
    m.for_each_leaf::<statemap::MapError>(|k, v| {
        got.push((*k, *v));
        Ok(())
    })
    .unwrap();
    assert_eq!(got, want);
}
