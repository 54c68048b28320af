//! The vectors of schemas/vectors/statemap.json: the state map's hashes,
//! roots and proofs in both suites, for re-implementers.
//!
//! As with formats.json (tests/format_vectors.rs), two checks: the library
//! reproduces the committed file exactly (`REGLEDGER_BLESS=1 cargo test -p
//! regledger --test statemap_vectors` rewrites it after a deliberate
//! change), and every vector is re-derived by hand from the prose of
//! schemas/FORMATS.md ("State map") with only `sha2` and `blake3`.

use regledger::statemap::{MemoryStore, StateMap, Terminal};
use regledger::HashSuite;
use serde_json::{json, Value};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../schemas/vectors/statemap.json"
);

/// The keys are registry state keys as integration will spell them
/// (docs/decisions.md, D15); the values are short stand-ins for records.
const ENTRIES: &[(&str, &str)] = &[
    ("genesis", "g"),
    ("participant/gx-operator", "p1"),
    ("key/gx-operator/c5b940ed", "k1"),
    ("resource/R-GX-TRANSPORT-001", "r1"),
    ("agreement/OA-1", "a1"),
    ("product/P-1", "approved"),
    ("regno/GXDP-2025-000001", "active"),
    ("credential/GX-CAT-AUTH-2025-0007", "c1"),
];

fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn generate() -> Value {
    let mut suites = Vec::new();
    for suite in [HashSuite::Sha256, HashSuite::Blake3] {
        let mut m = StateMap::new(suite, MemoryStore::default());
        let empty_root = m.root().unwrap();
        let mut entries = Vec::new();
        let mut roots = Vec::new();
        for (k, v) in ENTRIES {
            let kh = regledger::statemap::key_hash(suite, k.as_bytes());
            let vh = regledger::statemap::value_hash(suite, v.as_bytes());
            entries.push(json!({
                "key_utf8": k,
                "value_utf8": v,
                "key_hash": kh.to_hex(),
                "value_hash": vh.to_hex(),
                "leaf_hash": regledger::statemap::leaf_hash(suite, &kh, &vh).to_hex(),
            }));
            roots.push(m.insert(k.as_bytes(), v.as_bytes()).unwrap().to_hex());
        }
        let root = m.root().unwrap();
        let (pk, pv) = ENTRIES[6];
        let presence = m.prove(pk.as_bytes()).unwrap();
        // The first absent keys, in this order, whose paths end at an empty
        // subtree and at another key's leaf.
        let mut absent_empty = None;
        let mut absent_other = None;
        for i in 2.. {
            let k = format!("regno/GXDP-2025-{i:06}");
            let p = m.prove(k.as_bytes()).unwrap();
            match p.terminal() {
                Terminal::Empty if absent_empty.is_none() => absent_empty = Some((k, p)),
                Terminal::OtherLeaf { .. } if absent_other.is_none() => absent_other = Some((k, p)),
                _ => {}
            }
            if absent_empty.is_some() && absent_other.is_some() {
                break;
            }
        }
        let (ek, ep) = absent_empty.unwrap();
        let (ok, op) = absent_other.unwrap();
        // Updating a value, then deleting a key.
        let updated = m.insert(ENTRIES[5].0.as_bytes(), b"registered").unwrap();
        let deleted = m.remove(ENTRIES[7].0.as_bytes()).unwrap();
        suites.push(json!({
            "hash": suite.name(),
            "empty_root": empty_root.to_hex(),
            "entries": entries,
            "roots_after_each_insert": roots,
            "presence": {"root": root.to_hex(), "key_utf8": pk, "value_utf8": pv, "proof": hx(&presence.to_bytes())},
            "absence_empty": {"root": root.to_hex(), "key_utf8": ek, "proof": hx(&ep.to_bytes())},
            "absence_other_leaf": {"root": root.to_hex(), "key_utf8": ok, "proof": hx(&op.to_bytes())},
            "update": {"key_utf8": ENTRIES[5].0, "value_utf8": "registered", "root": updated.to_hex()},
            "delete_after_update": {"key_utf8": ENTRIES[7].0, "root": deleted.to_hex()},
        }));
    }
    json!({
        "about": "regledger state map vectors; see schemas/FORMATS.md, \"State map\". Hex is lowercase; keys and values are the UTF-8 bytes of the *_utf8 strings; entries are inserted in order into an empty map.",
        "suites": suites,
    })
}

#[test]
fn the_library_reproduces_the_committed_vectors() {
    let got = generate();
    if std::env::var_os("REGLEDGER_BLESS").is_some() {
        let mut s = serde_json::to_string_pretty(&got).unwrap();
        s.push('\n');
        std::fs::write(PATH, s).unwrap();
    }
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(PATH)
            .expect("schemas/vectors/statemap.json (REGLEDGER_BLESS=1 writes it)"),
    )
    .unwrap();
    assert_eq!(
        got, want,
        "the state map format changed: update FORMATS.md and bless deliberately"
    );
}

/// By hand, from FORMATS.md: H, the four tagged hashes, the tree shape, the
/// proof layout and its verification.
mod by_hand {
    pub type H = [u8; 32];

    pub fn h(suite: &str, data: &[u8]) -> H {
        use sha2::Digest;
        match suite {
            "sha256" => sha2::Sha256::digest(data).into(),
            "blake3" => *blake3::hash(data).as_bytes(),
            s => panic!("unknown suite {s}"),
        }
    }

    pub fn bit(k: &H, i: usize) -> usize {
        usize::from(k[i / 8] >> (7 - i % 8) & 1)
    }

    /// root: empty → 32 zero bytes; one key → its leaf; else 0x13 ‖ left ‖ right.
    pub fn root(suite: &str, depth: usize, leaves: &[(H, H)]) -> H {
        match leaves {
            [] => [0; 32],
            [(k, v)] => h(suite, &[&[0x12][..], k, v].concat()),
            _ => {
                let l: Vec<_> = leaves
                    .iter()
                    .copied()
                    .filter(|(k, _)| bit(k, depth) == 0)
                    .collect();
                let r: Vec<_> = leaves
                    .iter()
                    .copied()
                    .filter(|(k, _)| bit(k, depth) == 1)
                    .collect();
                let (lh, rh) = (root(suite, depth + 1, &l), root(suite, depth + 1, &r));
                h(suite, &[&[0x13][..], &lh, &rh].concat())
            }
        }
    }

    /// verify parses a proof by the layout and returns the root it leads to
    /// for key hash `k`, given the value hash when it claims presence.
    pub fn verify(suite: &str, proof: &[u8], k: &H, value: Option<&H>) -> H {
        assert_eq!(proof[0], 1, "version");
        let terminal = proof[1];
        let d = usize::from(u16::from_be_bytes([proof[2], proof[3]]));
        let bitmap = &proof[4..4 + d.div_ceil(8)];
        let mut rest = &proof[4 + d.div_ceil(8)..];
        let mut sibs = Vec::new();
        for i in 0..d {
            if bitmap[i / 8] & (0x80 >> (i % 8)) != 0 {
                sibs.push(<H>::try_from(&rest[..32]).unwrap());
                rest = &rest[32..];
            } else {
                sibs.push([0; 32]);
            }
        }
        let mut node = match terminal {
            0 => {
                assert!(value.is_none());
                [0; 32]
            }
            1 => h(suite, &[&[0x12][..], k, value.unwrap()].concat()),
            2 => {
                assert!(value.is_none());
                let (ok, ov) = rest.split_at(32);
                assert_ne!(ok, k);
                assert!((0..d).all(|i| bit(ok.try_into().unwrap(), i) == bit(k, i)));
                rest = &[];
                h(suite, &[&[0x12][..], ok, ov].concat())
            }
            t => panic!("terminal {t}"),
        };
        assert!(rest.is_empty(), "trailing bytes");
        for i in (0..d).rev() {
            node = if bit(k, i) == 0 {
                h(suite, &[&[0x13][..], &node, &sibs[i]].concat())
            } else {
                h(suite, &[&[0x13][..], &sibs[i], &node].concat())
            };
        }
        node
    }
}

#[test]
fn the_vectors_follow_the_prose_of_formats_md() {
    use by_hand::{h, root, verify, H};
    let v: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let suites = v["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 2);
    for s in suites {
        let suite = s["hash"].as_str().unwrap();
        assert_eq!(unhex(&s["empty_root"]), [0u8; 32]);
        let mut leaves: Vec<(H, H)> = Vec::new();
        let by_key = |leaves: &[(H, H)], key: &str| -> H {
            let k = h(suite, &[&[0x10], key.as_bytes()].concat());
            leaves.iter().find(|(x, _)| *x == k).unwrap().1
        };
        for (e, r) in s["entries"]
            .as_array()
            .unwrap()
            .iter()
            .zip(s["roots_after_each_insert"].as_array().unwrap())
        {
            let kh = h(
                suite,
                &[&[0x10], e["key_utf8"].as_str().unwrap().as_bytes()].concat(),
            );
            let vh = h(
                suite,
                &[&[0x11], e["value_utf8"].as_str().unwrap().as_bytes()].concat(),
            );
            assert_eq!(unhex(&e["key_hash"]), kh);
            assert_eq!(unhex(&e["value_hash"]), vh);
            assert_eq!(
                unhex(&e["leaf_hash"]),
                h(suite, &[&[0x12][..], &kh, &vh].concat())
            );
            leaves.push((kh, vh));
            assert_eq!(unhex(r), root(suite, 0, &leaves), "{suite}");
        }
        let root_all = root(suite, 0, &leaves);
        // The root after one key alone is its leaf; after all, the last listed.
        assert_eq!(
            unhex(&s["roots_after_each_insert"][0]),
            unhex(&s["entries"][0]["leaf_hash"])
        );
        let p = &s["presence"];
        assert_eq!(unhex(&p["root"]), root_all);
        let key = p["key_utf8"].as_str().unwrap();
        let kh = h(suite, &[&[0x10], key.as_bytes()].concat());
        let vh = h(
            suite,
            &[&[0x11], p["value_utf8"].as_str().unwrap().as_bytes()].concat(),
        );
        assert_eq!(by_key(&leaves, key), vh);
        assert_eq!(verify(suite, &unhex(&p["proof"]), &kh, Some(&vh)), root_all);
        for (name, terminal) in [("absence_empty", 0u8), ("absence_other_leaf", 2u8)] {
            let a = &s[name];
            let proof = unhex(&a["proof"]);
            assert_eq!(proof[1], terminal, "{name}");
            let kh = h(
                suite,
                &[&[0x10], a["key_utf8"].as_str().unwrap().as_bytes()].concat(),
            );
            assert!(leaves.iter().all(|(k, _)| *k != kh));
            assert_eq!(verify(suite, &proof, &kh, None), root_all, "{suite} {name}");
        }
        // Update: the same key, a new value hash. Delete: the key is gone.
        let u = &s["update"];
        let uk = h(
            suite,
            &[&[0x10], u["key_utf8"].as_str().unwrap().as_bytes()].concat(),
        );
        let uv = h(
            suite,
            &[&[0x11], u["value_utf8"].as_str().unwrap().as_bytes()].concat(),
        );
        for l in leaves.iter_mut() {
            if l.0 == uk {
                l.1 = uv;
            }
        }
        assert_eq!(unhex(&u["root"]), root(suite, 0, &leaves));
        let dk = h(
            suite,
            &[
                &[0x10],
                s["delete_after_update"]["key_utf8"]
                    .as_str()
                    .unwrap()
                    .as_bytes(),
            ]
            .concat(),
        );
        leaves.retain(|(k, _)| *k != dk);
        assert_eq!(
            unhex(&s["delete_after_update"]["root"]),
            root(suite, 0, &leaves)
        );
    }
}
