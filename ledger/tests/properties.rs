//! Property tests of the core: tree proofs, tiles, entry bundles and the
//! calendar, over random sizes, indices and contents, for both hash suites.
//!
//! Roots are also checked against a naive recursive RFC 9162 MTH written
//! here, independently of the stored-hash layout the library uses.

use proptest::prelude::*;
use regledger::registry::calendar::{days_in_month, Date};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::proof::{verify_consistency, verify_inclusion};
use regledger::tlog::tile::{
    decode_entry_bundle, decode_hash_tile, encode_entry_bundle, hash_from_tile,
    hash_tiles_for_size, read_tile_data, TileError, TileKind,
};
use regledger::tlog::tree::{stored_hash_index, tree_hash};
use regledger::{Hash, HashSuite};

fn suite() -> impl Strategy<Value = HashSuite> {
    prop_oneof![Just(HashSuite::Sha256), Just(HashSuite::Blake3)]
}

/// leaf_data is the data of leaf i: distinct for every i.
fn leaf_data(i: u64) -> Vec<u8> {
    format!("leaf {i}").into_bytes()
}

fn tree(suite: HashSuite, n: u64) -> MemoryTree {
    let mut t = MemoryTree::with_capacity(suite, n as usize);
    for i in 0..n {
        t.append_data(&leaf_data(i));
    }
    t
}

/// mth is RFC 9162 §2.1.1 MTH over leaves [lo, hi), written from the RFC.
fn mth(suite: HashSuite, lo: u64, hi: u64) -> Hash {
    match hi - lo {
        0 => suite.empty_root(),
        1 => suite.leaf_hash(&leaf_data(lo)),
        n => {
            let k = 1u64 << (63 - (n - 1).leading_zeros());
            suite.node_hash(&mth(suite, lo, lo + k), &mth(suite, lo + k, hi))
        }
    }
}

fn flip(mut h: Hash, bit: usize) -> Hash {
    h.0[(bit / 8) % 32] ^= 1 << (bit % 8);
    h
}

/// size_and_index returns a tree size in 1..=2000 and an index below it.
fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1u64..=2000).prop_flat_map(|n| (Just(n), 0..n))
}

/// sizes returns 1 <= old <= new <= 2000.
fn sizes() -> impl Strategy<Value = (u64, u64)> {
    (1u64..=2000).prop_flat_map(|n| (1..=n, Just(n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn inclusion_proofs_verify_and_are_tamper_evident(
        s in suite(), (n, i) in size_and_index(), bit in 0usize..256, other in any::<u64>(),
    ) {
        let t = tree(s, n);
        let root = t.root_at(n).unwrap();
        prop_assert_eq!(root, mth(s, 0, n));
        let leaf = s.leaf_hash(&leaf_data(i));
        let proof = t.prove_inclusion(n, i).unwrap();
        prop_assert!(verify_inclusion(s, n, i, &leaf, &proof, &root).is_ok());

        // Any single bit of any proof hash.
        for k in 0..proof.len() {
            let mut p = proof.clone();
            p[k] = flip(p[k], bit + 37 * k);
            prop_assert!(verify_inclusion(s, n, i, &leaf, &p, &root).is_err(), "hash {} bit flipped", k);
        }
        // A shorter or longer proof.
        if !proof.is_empty() {
            prop_assert!(verify_inclusion(s, n, i, &leaf, &proof[1..], &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(s, n, i, &leaf, &longer, &root).is_err());
        // Another index (of the same tree).
        let j = other % n;
        if j != i {
            prop_assert!(verify_inclusion(s, n, j, &leaf, &proof, &root).is_err());
            prop_assert!(verify_inclusion(s, n, j, &s.leaf_hash(&leaf_data(j)), &proof, &root).is_err());
        }
        // Another leaf, a bit of the leaf hash, the root.
        prop_assert!(verify_inclusion(s, n, i, &s.leaf_hash(&leaf_data(i + 1)), &proof, &root).is_err());
        prop_assert!(verify_inclusion(s, n, i, &flip(leaf, bit), &proof, &root).is_err());
        prop_assert!(verify_inclusion(s, n, i, &leaf, &proof, &flip(root, bit)).is_err());
        // Another size, checked against that size's root: the proof does not
        // carry over. (The size is bound only through the root: with the
        // old root, a size whose proof has the same shape would verify.)
        let big = tree(s, n + 2);
        for m in [n - 1, n + 1, n + 2] {
            if m > i && m != n {
                let r = big.root_at(m).unwrap();
                prop_assert!(verify_inclusion(s, m, i, &leaf, &proof, &r).is_err(), "size {}", m);
            }
        }
        // Out of range.
        prop_assert!(verify_inclusion(s, n, n, &leaf, &proof, &root).is_err());
    }

    #[test]
    fn consistency_proofs_verify_and_are_tamper_evident(
        s in suite(), (m, n) in sizes(), bit in 0usize..256,
    ) {
        let t = tree(s, n + 1);
        let (r1, r2) = (t.root_at(m).unwrap(), t.root_at(n).unwrap());
        let proof = t.prove_consistency(m, n).unwrap();
        prop_assert!(verify_consistency(s, m, n, &proof, &r1, &r2).is_ok());
        for k in 0..proof.len() {
            let mut p = proof.clone();
            p[k] = flip(p[k], bit + 37 * k);
            prop_assert!(verify_consistency(s, m, n, &p, &r1, &r2).is_err(), "hash {} bit flipped", k);
        }
        if !proof.is_empty() {
            prop_assert!(verify_consistency(s, m, n, &proof[1..], &r1, &r2).is_err());
        }
        let mut longer = proof.clone();
        longer.push(r1);
        prop_assert!(verify_consistency(s, m, n, &longer, &r1, &r2).is_err());
        prop_assert!(verify_consistency(s, m, n, &proof, &flip(r1, bit), &r2).is_err());
        prop_assert!(verify_consistency(s, m, n, &proof, &r1, &flip(r2, bit)).is_err());
        // Other sizes with their true roots.
        for m2 in [m - 1, m + 1] {
            if m2 >= 1 && m2 <= n && m2 != m {
                let r = t.root_at(m2).unwrap();
                prop_assert!(verify_consistency(s, m2, n, &proof, &r, &r2).is_err(), "old size {}", m2);
            }
        }
        let r = t.root_at(n + 1).unwrap();
        prop_assert!(verify_consistency(s, m, n + 1, &proof, &r1, &r).is_err());
        if m != n {
            // Swapped roots.
            prop_assert!(verify_consistency(s, m, n, &proof, &r2, &r1).is_err());
        }
    }

    #[test]
    fn tree_hash_over_stored_hashes_is_the_root(s in suite(), (k, n) in sizes()) {
        let t = tree(s, n);
        let want = mth(s, 0, k);
        prop_assert_eq!(tree_hash(s, k, t.stored()).unwrap(), want);
        prop_assert_eq!(t.root_at(k).unwrap(), want);
    }

    #[test]
    fn tile_data_decodes_to_the_tree_hashes(s in suite(), n in 1u64..=2000) {
        let t = tree(s, n);
        let tiles = hash_tiles_for_size(0, n);
        prop_assert!(!tiles.is_empty());
        for tile in tiles {
            let TileKind::Hash(level) = tile.kind else { unreachable!() };
            let data = read_tile_data(&tile, t.stored()).unwrap();
            let hashes = decode_hash_tile(&tile, &data).unwrap();
            prop_assert_eq!(hashes.len(), usize::from(tile.width));
            let span = 1u64 << (8 * u32::from(level));
            for (i, h) in hashes.iter().enumerate() {
                let lo = (tile.n * 256 + i as u64) * span;
                prop_assert_eq!(*h, mth(s, lo, lo + span));
                let idx = stored_hash_index(level * 8, tile.n * 256 + i as u64);
                prop_assert_eq!(hash_from_tile(s, &tile, &data, idx).unwrap(), *h);
            }
            // A byte too few or too many is refused.
            prop_assert!(decode_hash_tile(&tile, &data[1..]).is_err());
            let mut more = data.clone();
            more.push(0);
            prop_assert!(decode_hash_tile(&tile, &more).is_err());
        }
    }
}

/// entry returns mostly small entries and sometimes ones near the u16 limit.
fn entry() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        20 => prop::collection::vec(any::<u8>(), 0..48),
        1 => prop::collection::vec(any::<u8>(), 65_000..=65_535),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn entry_bundles_round_trip_and_refuse_truncation(
        entries in prop::collection::vec(entry(), 1..=256), cut in any::<prop::sample::Index>(),
    ) {
        let refs: Vec<&[u8]> = entries.iter().map(|e| e.as_slice()).collect();
        let data = encode_entry_bundle(&refs).unwrap();
        prop_assert_eq!(data.len(), entries.iter().map(|e| e.len() + 2).sum::<usize>());
        let back = decode_entry_bundle(&data, entries.len()).unwrap();
        prop_assert_eq!(&back, &refs);
        // Every truncation fails: at a random point, by one byte, and at the last entry boundary.
        let c = cut.index(data.len());
        prop_assert!(decode_entry_bundle(&data[..c], entries.len()).is_err(), "cut at {}", c);
        prop_assert!(decode_entry_bundle(&data[..data.len() - 1], entries.len()).is_err());
        let last = entries.last().unwrap().len() + 2;
        prop_assert!(decode_entry_bundle(&data[..data.len() - last], entries.len()).is_err());
        // Another count fails.
        prop_assert!(decode_entry_bundle(&data, entries.len() - 1).is_err());
        if entries.len() < 256 {
            prop_assert!(decode_entry_bundle(&data, entries.len() + 1).is_err());
        }
    }
}

#[test]
fn entries_longer_than_u16_are_refused() {
    let e = vec![0u8; 65_536];
    assert_eq!(
        encode_entry_bundle(&[&e]),
        Err(TileError::EntryTooLarge(65_536))
    );
    let many: Vec<&[u8]> = vec![b"x"; 257];
    assert!(encode_entry_bundle(&many).is_err());
}

fn date() -> impl Strategy<Value = Date> {
    (1970i32..=9999, 1u8..=12, 1u8..=31)
        .prop_map(|(y, m, d)| Date::new(y, m, d.min(days_in_month(y, m))).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn add_days_round_trips(d in date(), n in -4_000_000i64..4_000_000) {
        let z = d.days_since_epoch();
        prop_assert_eq!(Date::from_days_since_epoch(z), Some(d));
        prop_assert_eq!(Date::parse(&d.to_string()), Some(d));
        match d.add_days(n) {
            Some(e) => {
                prop_assert_eq!(e.days_since_epoch(), z + n);
                prop_assert_eq!(e.add_days(-n), Some(d));
                prop_assert_eq!(d.days_until(&e), n);
                prop_assert_eq!(Date::new(e.year, e.month, e.day), Some(e));
                // Day steps agree with the weekday cycle.
                prop_assert_eq!(i64::from(e.weekday()), (i64::from(d.weekday()) - 1 + n).rem_euclid(7) + 1);
            }
            // Only outside 1970-01-01..=9999-12-31.
            None => {
                let last = Date::new(9999, 12, 31).unwrap().days_since_epoch();
                prop_assert!(z + n < 0 || z + n > last);
            }
        }
        if let Some(next) = d.add_days(1) {
            prop_assert!(next > d);
        }
    }

    #[test]
    fn add_months_gives_a_valid_date(d in date(), months in 0u32..200_000) {
        match d.add_months(months) {
            Some(e) => {
                prop_assert_eq!(Date::new(e.year, e.month, e.day), Some(e));
                prop_assert_eq!(Date::parse(&e.to_string()), Some(e));
                let span = (i64::from(e.year) * 12 + i64::from(e.month))
                    - (i64::from(d.year) * 12 + i64::from(d.month));
                prop_assert_eq!(span, i64::from(months));
                prop_assert_eq!(e.day, d.day.min(days_in_month(e.year, e.month)));
                prop_assert!(e >= d);
            }
            None => {
                prop_assert!(i64::from(d.year) * 12 + i64::from(d.month) - 1 + i64::from(months) >= 10_000 * 12);
            }
        }
    }
}
