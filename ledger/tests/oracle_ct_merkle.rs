//! Independent oracle: the `ct-merkle` crate (an RFC 6962 implementation
//! with its own array-based tree layout) against our tree over the Go
//! tlog stored-hash layout, SHA-256, for every tree size 1..=300.
//!
//! For each size n: the roots agree; every inclusion proof (index < n) and
//! every consistency proof (old size 1..n) made by either side verifies
//! with the other side's verifier, and the two sides' proofs are the same
//! hash lists. ct-merkle only proves at its current size, so proofs are
//! taken as its tree grows.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::proof::{verify_consistency, verify_inclusion};
use regledger::{Hash, HashSuite};
use sha2::Sha256;

const MAX: u64 = 300;

fn leaf(i: u64) -> Vec<u8> {
    // Leaves of varying length, including the empty leaf.
    (0..i % 7).map(|k| (i * 31 + k) as u8).collect::<Vec<u8>>()
}

fn to_hashes(bytes: &[u8]) -> Vec<Hash> {
    assert_eq!(bytes.len() % 32, 0);
    bytes
        .chunks_exact(32)
        .map(|c| Hash::from_slice(c).unwrap())
        .collect()
}

fn to_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

fn their_root(h: &Hash, n: u64) -> RootHash<Sha256> {
    RootHash::new(h.0.into(), n)
}

#[test]
fn ct_merkle_agrees_on_roots_and_proofs() {
    let s = HashSuite::Sha256;
    let mut ours = MemoryTree::new(s);
    let mut theirs: MemoryBackedTree<Sha256, Vec<u8>> = MemoryBackedTree::new();
    let mut roots: Vec<Hash> = vec![s.empty_root()];
    let (mut inclusion, mut consistency) = (0u64, 0u64);
    for n in 1..=MAX {
        ours.append_data(&leaf(n - 1));
        theirs.push(leaf(n - 1));
        assert_eq!(theirs.len(), n);

        let root = ours.root();
        let tr = theirs.root();
        assert_eq!(tr.as_bytes().as_slice(), &root.0, "root of size {n}");
        roots.push(root);

        for i in 0..n {
            let lh = s.leaf_hash(&leaf(i));
            let tp = theirs.prove_inclusion(i as usize);
            let their_path = to_hashes(tp.as_bytes());
            // Theirs verifies with ours.
            verify_inclusion(s, n, i, &lh, &their_path, &root)
                .unwrap_or_else(|e| panic!("their inclusion proof {i} of {n}: {e}"));
            // Ours verifies with theirs, and is the same list.
            let our_path = ours.prove_inclusion(n, i).unwrap();
            assert_eq!(our_path, their_path, "inclusion proof {i} of {n}");
            let op = InclusionProof::<Sha256>::try_from_bytes(to_bytes(&our_path)).unwrap();
            assert!(tr.verify_inclusion(&leaf(i), i, &op).is_ok());
            // Both refuse the proof for a different leaf (sampled, to keep
            // the unoptimised test quick).
            let wrong = leaf(i + 1);
            if (i + n) % 4 == 0 && wrong != leaf(i) {
                assert!(tr.verify_inclusion(&wrong, i, &op).is_err());
                assert!(verify_inclusion(s, n, i, &s.leaf_hash(&wrong), &our_path, &root).is_err());
            }
            inclusion += 1;
        }

        for m in 1..n {
            let tp = theirs.prove_consistency((n - m) as usize);
            let their_proof = to_hashes(tp.as_bytes());
            let old = roots[m as usize];
            verify_consistency(s, m, n, &their_proof, &old, &root)
                .unwrap_or_else(|e| panic!("their consistency proof {m} -> {n}: {e}"));
            let our_proof = ours.prove_consistency(m, n).unwrap();
            assert_eq!(our_proof, their_proof, "consistency proof {m} -> {n}");
            let op = ConsistencyProof::<Sha256>::try_from_bytes(to_bytes(&our_proof)).unwrap();
            assert!(tr.verify_consistency(&their_root(&old, m), &op).is_ok());
            // Both refuse a proof against the wrong old root (sampled).
            let other = roots[(m % (n - 1)) as usize + 1];
            if (m + n) % 4 == 0 && other != old {
                assert!(tr.verify_consistency(&their_root(&other, m), &op).is_err());
                assert!(verify_consistency(s, m, n, &our_proof, &other, &root).is_err());
            }
            consistency += 1;
        }
    }
    assert_eq!(inclusion, MAX * (MAX + 1) / 2);
    assert_eq!(consistency, MAX * (MAX - 1) / 2);
}
