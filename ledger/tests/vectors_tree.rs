//! The tree math against every external vector in `tests/vectors/`
//! (copied unmodified from the project's shared vectors; see its README).

use regledger::tlog::memory::MemoryTree;
use regledger::tlog::proof::{root_from_inclusion, verify_consistency, verify_inclusion};
use regledger::tlog::tree::{prove_consistency, prove_inclusion};
use regledger::{Hash, HashSuite};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn h(v: &Value) -> Hash {
    Hash::from_hex(v.as_str().unwrap()).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(h).collect()
}

/// maybe_hashes returns None when any element is not a 32-byte hash: such
/// probes cannot even be expressed through the typed API.
fn maybe_hashes(v: &Value) -> Option<Vec<Hash>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| Hash::from_slice(&bytes(x)))
        .collect()
}

fn flip(mut x: Hash, bit: usize) -> Hash {
    x.0[bit / 8] ^= 1 << (bit % 8);
    x
}

#[test]
fn rfc6962_reference_tree() {
    let v = load("rfc6962_reference_tree.json");
    let s = HashSuite::Sha256;
    let leaves: Vec<Vec<u8>> = v["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(bytes)
        .collect();
    let mut t = MemoryTree::new(s);
    let roots = hashes(&v["root_hashes_by_size_hex"]);
    assert_eq!(roots.len(), 9);
    assert_eq!(t.root(), roots[0]);
    for (i, l) in leaves.iter().enumerate() {
        t.append_data(l);
        assert_eq!(t.root(), roots[i + 1], "root at size {}", i + 1);
    }
    for (level, row) in v["node_hashes_by_level_hex"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (i, want) in row.as_array().unwrap().iter().enumerate() {
            let idx = regledger::tlog::tree::stored_hash_index(level as u8, i as u64);
            assert_eq!(t.stored()[idx as usize], h(want), "node level {level} #{i}");
        }
    }
    for c in v["hasher_cases"].as_array().unwrap() {
        let got = match c["op"].as_str().unwrap() {
            "empty_root" => s.empty_root().0.to_vec(),
            "hash_leaf" => s.leaf_hash(&bytes(&c["input_hex"])).0.to_vec(),
            "hash_children" => {
                // Inputs are short strings, not hashes: hash the raw concatenation.
                s.digest(&[&[1], &bytes(&c["left_hex"]), &bytes(&c["right_hex"])])
                    .0
                    .to_vec()
            }
            op => panic!("unknown op {op}"),
        };
        assert_eq!(
            hex::encode(got),
            c["want_hex"].as_str().unwrap(),
            "{}",
            c["desc"]
        );
    }
}

#[test]
fn transparency_dev_inclusion_probes() {
    let v = load("tdmerkle_inclusion_probes.json");
    let probes = v["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 98);
    let (mut pass, mut fail) = (0, 0);
    for p in probes {
        let want_err = p["wantErr"].as_bool().unwrap();
        let root = Hash::from_slice(&bytes(&p["root"]));
        let leaf = Hash::from_slice(&bytes(&p["leafHash"]));
        let proof = maybe_hashes(&p["proof"]);
        let got_err = match (root, leaf, proof) {
            (Some(root), Some(leaf), Some(proof)) => verify_inclusion(
                HashSuite::Sha256,
                p["treeSize"].as_u64().unwrap(),
                p["leafIdx"].as_u64().unwrap(),
                &leaf,
                &proof,
                &root,
            )
            .is_err(),
            _ => true,
        };
        assert_eq!(got_err, want_err, "{}: {}", p["file"], p["desc"]);
        if got_err {
            fail += 1
        } else {
            pass += 1
        }
    }
    assert_eq!((pass, fail), (6, 92));
}

#[test]
fn transparency_dev_consistency_probes() {
    let v = load("tdmerkle_consistency_probes.json");
    let probes = v["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 98);
    let (mut pass, mut fail, mut deviations) = (0, 0, 0);
    for p in probes {
        let want_err = p["wantErr"].as_bool().unwrap();
        let file = p["file"].as_str().unwrap();
        let r1 = Hash::from_slice(&bytes(&p["root1"]));
        let r2 = Hash::from_slice(&bytes(&p["root2"]));
        let proof = maybe_hashes(&p["proof"]);
        let got_err = match (r1, r2, proof) {
            (Some(r1), Some(r2), Some(proof)) => verify_consistency(
                HashSuite::Sha256,
                p["size1"].as_u64().unwrap(),
                p["size2"].as_u64().unwrap(),
                &proof,
                &r1,
                &r2,
            )
            .is_err(),
            _ => true,
        };
        if file.ends_with("sizes-are-equal-one-and-proof-is-empty.json") {
            // Documented deviation (docs/decisions.md D6): its roots are 12
            // bytes, which our typed API cannot take; transparency-dev skips
            // the length check when sizes are equal and accepts it.
            assert!(!want_err && got_err, "deviation probe changed: {file}");
            deviations += 1;
            continue;
        }
        assert_eq!(got_err, want_err, "{file}: {}", p["desc"]);
        if got_err {
            fail += 1
        } else {
            pass += 1
        }
    }
    assert_eq!((pass, fail, deviations), (5, 92, 1));
}

fn check_tree_vectors(suite: HashSuite, t: &Value, leaf_inputs: &[Vec<u8>]) {
    let roots = hashes(&t["root_hashes_by_size_hex"]);
    let mut tree = MemoryTree::new(suite);
    for (i, l) in leaf_inputs.iter().enumerate() {
        assert_eq!(tree.root(), roots[i]);
        tree.append_data(l);
    }
    assert_eq!(tree.root(), roots[leaf_inputs.len()]);
    for c in t["inclusion"].as_array().unwrap() {
        let (size, index) = (c["size"].as_u64().unwrap(), c["index"].as_u64().unwrap());
        let want = hashes(&c["proof"]);
        let got = prove_inclusion(suite, size, index, &tree).unwrap();
        assert_eq!(got, want, "inclusion {index} in {size}");
        let leaf = tree.leaf_hash(index).unwrap();
        verify_inclusion(suite, size, index, &leaf, &want, &roots[size as usize]).unwrap();
        assert_eq!(
            root_from_inclusion(suite, size, index, &leaf, &want).unwrap(),
            roots[size as usize]
        );
    }
    for c in t["consistency"].as_array().unwrap() {
        let (s1, s2) = (c["size1"].as_u64().unwrap(), c["size2"].as_u64().unwrap());
        let want = hashes(&c["proof"]);
        assert_eq!(
            prove_consistency(suite, s1, s2, &tree).unwrap(),
            want,
            "consistency {s1}->{s2}"
        );
        verify_consistency(
            suite,
            s1,
            s2,
            &want,
            &roots[s1 as usize],
            &roots[s2 as usize],
        )
        .unwrap();
        for (i, _) in want.iter().enumerate() {
            let mut bad = want.clone();
            bad[i] = flip(bad[i], 7);
            assert!(verify_consistency(
                suite,
                s1,
                s2,
                &bad,
                &roots[s1 as usize],
                &roots[s2 as usize]
            )
            .is_err());
        }
    }
}

#[test]
fn go_tlog_sha256_tree() {
    let v = load("go_tlog_sha256.json");
    let t = &v["tree"];
    let leaves: Vec<Vec<u8>> = t["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(bytes)
        .collect();
    assert_eq!(leaves.len(), 17);
    let lh = hashes(&t["leaf_hashes_hex"]);
    for (l, want) in leaves.iter().zip(&lh) {
        assert_eq!(HashSuite::Sha256.leaf_hash(l), *want);
    }
    assert_eq!(t["inclusion"].as_array().unwrap().len(), 153);
    assert_eq!(t["consistency"].as_array().unwrap().len(), 153);
    check_tree_vectors(HashSuite::Sha256, t, &leaves);
    // RecordHash("hello world") from golang/mod note_test.go.
    let r = &v["record_and_tree_note"];
    use base64::Engine;
    let want = base64::engine::general_purpose::STANDARD
        .decode(r["record_hash_b64"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        HashSuite::Sha256
            .leaf_hash(r["record_text"].as_str().unwrap().as_bytes())
            .0
            .to_vec(),
        want
    );
}

#[test]
fn blake3_tree_vectors() {
    let v = load("blake3_tree_vectors.json");
    for (len, want) in v["blake3_primitive_check"]["hash_first32_hex_by_input_len"]
        .as_object()
        .unwrap()
    {
        let n: usize = len.parse().unwrap();
        let input: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            HashSuite::Blake3.digest(&[&input]).to_hex(),
            want.as_str().unwrap(),
            "len {n}"
        );
    }
    let t = &v["tree_17"];
    let leaves: Vec<Vec<u8>> = t["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(bytes)
        .collect();
    assert_eq!(t["inclusion"].as_array().unwrap().len(), 153);
    assert_eq!(t["consistency"].as_array().unwrap().len(), 136);
    check_tree_vectors(HashSuite::Blake3, t, &leaves);
    let r8 = &v["reference_8"];
    let roots = hashes(&r8["root_hashes_by_size_hex"]);
    let mut tree = MemoryTree::new(HashSuite::Blake3);
    for (i, l) in r8["leaf_inputs_hex"].as_array().unwrap().iter().enumerate() {
        assert_eq!(tree.root(), roots[i]);
        tree.append_data(&bytes(l));
    }
    assert_eq!(tree.root(), roots[8]);
}

#[test]
fn ct_argon2020_real_proofs() {
    let v = load("real_logs.json");
    let c = &v["ct_argon2020"];
    let s = HashSuite::Sha256;
    use base64::Engine;
    let leaf_input = base64::engine::general_purpose::STANDARD
        .decode(c["leaf_input_b64"].as_str().unwrap())
        .unwrap();
    let leaf = s.leaf_hash(&leaf_input);
    assert_eq!(leaf, h(&c["leaf_hash_hex"]));
    let size = c["tree_size"].as_u64().unwrap();
    assert_eq!(size, 961_984_011);
    let root = h(&c["root_hex"]);
    let idx = c["leaf_index"].as_u64().unwrap();
    let proof = hashes(&c["inclusion_proof_hex"]);
    verify_inclusion(s, size, idx, &leaf, &proof, &root).unwrap();
    let old = c["old_size"].as_u64().unwrap();
    let old_root = h(&c["old_root_hex"]);
    let cproof = hashes(&c["consistency_proof_hex"]);
    verify_consistency(s, old, size, &cproof, &old_root, &root).unwrap();
    for i in 0..proof.len() {
        let mut bad = proof.clone();
        bad[i] = flip(bad[i], 0);
        assert!(verify_inclusion(s, size, idx, &leaf, &bad, &root).is_err());
        let mut badc = cproof.clone();
        badc[i] = flip(badc[i], 255);
        assert!(verify_consistency(s, old, size, &badc, &old_root, &root).is_err());
    }
    assert!(verify_inclusion(s, size, idx + 1, &leaf, &proof, &root).is_err());
    assert!(verify_inclusion(s, size * 2, idx, &leaf, &proof, &root).is_err());
    assert!(verify_consistency(s, old + 1, size, &cproof, &old_root, &root).is_err());
    assert!(verify_inclusion(s, size, idx, &leaf, &proof[..29], &root).is_err());
}

/// c2sp_path converts Go's `tile/8/L/…` (height 8) spelling to C2SP's.
fn c2sp_path(go: &str) -> Option<String> {
    let rest = go.strip_prefix("tile/8/")?;
    Some(match rest.strip_prefix("data/") {
        Some(r) => format!("tile/entries/{r}"),
        None => format!("tile/{rest}"),
    })
}

#[test]
fn go_tlog_tiles() {
    use regledger::tlog::tile::{hash_tiles_for_size, read_tile_data, Tile, TileKind};
    use sha2::Digest;
    let v = load("go_tlog_sha256.json");
    let t = &v["tiles"];
    let s = HashSuite::Sha256;
    let mut tree = MemoryTree::new(s);
    let mut checked = 0;
    let mut sizes: Vec<u64> = t["tiles_by_size"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect();
    sizes.sort();
    for size in sizes {
        while tree.size() < size {
            let i = tree.size();
            tree.append_data(format!("leaf {i}").as_bytes());
        }
        assert_eq!(
            tree.root(),
            h(&t["tree_hash_by_size_hex"][size.to_string()]),
            "size {size}"
        );
        let ours = hash_tiles_for_size(0, size);
        let listed = t["tiles_by_size"][size.to_string()].as_array().unwrap();
        if size != 65537 {
            assert_eq!(ours.len(), listed.len(), "tile count at {size}");
        }
        for x in listed {
            let tile = Tile::parse(&c2sp_path(x["path"].as_str().unwrap()).unwrap()).unwrap();
            assert_eq!(
                tile.kind,
                TileKind::Hash(x["level"].as_u64().unwrap() as u8)
            );
            assert_eq!(tile.n, x["n"].as_u64().unwrap());
            assert_eq!(u64::from(tile.width), x["width"].as_u64().unwrap());
            assert!(ours.contains(&tile), "{tile:?} at size {size}");
            let data = read_tile_data(&tile, &tree).unwrap();
            assert_eq!(data.len() as u64, x["tile_bytes_len"].as_u64().unwrap());
            assert_eq!(
                hex::encode(sha2::Sha256::digest(&data)),
                x["tile_bytes_sha256"].as_str().unwrap()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 16);
    for list in ["tile_paths", "tile_paths_from_go_test"] {
        for c in t[list].as_array().unwrap() {
            let go = c["path"].as_str().unwrap();
            if c["invalid"].as_bool() == Some(true) {
                if let Some(p) = c2sp_path(go) {
                    assert!(Tile::parse(&p).is_err(), "{p}");
                }
                continue;
            }
            if c["H"].as_u64() != Some(8) {
                continue; // C2SP fixes the height at 8
            }
            let p = c2sp_path(go).unwrap();
            let tile = Tile::parse(&p).unwrap();
            assert_eq!(tile.path(), p);
            assert_eq!(tile.n, c["N"].as_u64().unwrap());
            assert_eq!(u64::from(tile.width), c["W"].as_u64().unwrap());
            match c["L"].as_i64().unwrap() {
                -1 => assert_eq!(tile.kind, TileKind::Entries),
                l => assert_eq!(tile.kind, TileKind::Hash(l as u8)),
            }
        }
    }
}
