//! The state snapshot vector, schemas/vectors/snapshot.json: the snapshot
//! of the testkit lifecycle at size 12 (SHA-256), for re-implementers.
//!
//! Two checks: the library reproduces the committed file exactly
//! (`REGLEDGER_BLESS=1 cargo test -p regledger --test snapshot_vectors`
//! rewrites it after a deliberate change), and the file is re-derived from
//! the prose of schemas/FORMATS.md ("State snapshot", "State map", "Leaf")
//! with only `sha2` and `serde_json`: the two lines, the right edge folding
//! to the checkpoint's root, the records' framing and key-hash order, and
//! the state map root they make equal to leaf N−1's state root.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::cert::snapshot::{build_snapshot, frontier_indexes, verify_header, SnapshotReader};
use regledger::descriptor::{LogDescriptor, LogDescriptorJson};
use regledger::testkit::{Sequencer, Testkit};
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, Signer};
use regledger::{Hash, HashSuite};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../schemas/vectors/snapshot.json"
);
const ORIGIN: &str = "vectors.regledger.example/gx";
const K: u64 = 12;

fn signer() -> Signer {
    Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap()
}

fn generate() -> Value {
    let suite = HashSuite::Sha256;
    let kit = Testkit::new(ORIGIN);
    let steps = kit.lifecycle(suite, "guangxi");
    let mut sq = Sequencer::new(ORIGIN, suite);
    let mut tree = MemoryTree::new(suite);
    let mut leaves = Vec::new();
    for s in &steps[..K as usize] {
        let l = sq.next_unchecked(&s.envelope, s.time_ms).to_bytes();
        tree.append_data(&l);
        leaves.push(l);
    }
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: K,
        root: tree.root(),
        extensions: vec![],
    };
    let note = sign_checkpoint(&cp, &signer()).unwrap();
    let frontier: Vec<Hash> = frontier_indexes(K)
        .into_iter()
        .map(|i| tree.stored()[i as usize])
        .collect();
    let snap = build_snapshot(
        suite,
        ORIGIN,
        &note,
        K,
        &leaves[(K - 1) as usize],
        &tree.prove_inclusion(K, K - 1).unwrap(),
        &frontier,
        sq.records.clone(),
    )
    .unwrap();
    json!({
        "about": "regledger-state-snapshot/v1 of the testkit lifecycle's first 12 entries (SHA-256); schemas/FORMATS.md \"State snapshot\"",
        "log": {"origin": ORIGIN, "log_vkey": signer().verifier().to_vkey(), "hash": "sha256", "witnesses": [], "quorum": 0, "profile": "guangxi"},
        "size": K,
        "tree_root": tree.root().to_hex(),
        "state_root": sq.root().to_hex(),
        "records": sq.records.len(),
        "snapshot_b64": B64.encode(&snap),
    })
}

#[test]
fn the_library_reproduces_the_committed_vector() {
    let got = generate();
    if std::env::var_os("REGLEDGER_BLESS").is_some() {
        std::fs::write(PATH, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    assert_eq!(
        got, want,
        "the snapshot format changed: bless it if on purpose"
    );
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// map_root is the state map root of (key hash, value hash) pairs sorted
/// by key hash, all sharing their first `depth` bits (FORMATS.md "State map").
fn map_root(items: &[([u8; 32], [u8; 32])], depth: usize) -> [u8; 32] {
    match items {
        [] => [0; 32],
        [(k, v)] => sha(&[&[0x12], k, v]),
        _ => {
            let split = items.partition_point(|(k, _)| k[depth / 8] & (0x80 >> (depth % 8)) == 0);
            let l = map_root(&items[..split], depth + 1);
            let r = map_root(&items[split..], depth + 1);
            sha(&[&[0x13], &l, &r])
        }
    }
}

#[test]
fn the_vector_is_what_the_prose_says() {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let snap = B64.decode(v["snapshot_b64"].as_str().unwrap()).unwrap();
    let nl = snap.iter().position(|b| *b == b'\n').unwrap();
    assert_eq!(&snap[..nl], b"regledger-state-snapshot/v1");
    let rest = &snap[nl + 1..];
    let nl2 = rest.iter().position(|b| *b == b'\n').unwrap();
    let h: Value = serde_json::from_slice(&rest[..nl2]).unwrap();
    let mut body = &rest[nl2 + 1..];
    assert_eq!(h["size"], v["size"]);
    // The checkpoint's third line is its root.
    let cp = h["checkpoint"].as_str().unwrap();
    let root = B64.decode(cp.lines().nth(2).unwrap()).unwrap();
    assert_eq!(hex::encode(&root), v["tree_root"].as_str().unwrap());
    // The right edge: 12 = 8 + 4, two subtrees, folded right to left with 0x01.
    let f: Vec<Vec<u8>> = h["frontier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| B64.decode(x.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(f.len(), 2);
    assert_eq!(sha(&[&[0x01], &f[0], &f[1]]).to_vec(), root);
    // Leaf N−1: v2, 113 bytes, its state root at bytes 49..81.
    let leaf = B64
        .decode(h["state_entry"]["leaf"].as_str().unwrap())
        .unwrap();
    assert_eq!((leaf.len(), leaf[0]), (113, 2));
    assert_eq!(u64::from_be_bytes(leaf[1..9].try_into().unwrap()), 11);
    let state_root = &leaf[49..81];
    assert_eq!(hex::encode(state_root), v["state_root"].as_str().unwrap());
    // The records: u16 key length, key, u32 value length, value, by key hash.
    let mut items = Vec::new();
    while !body.is_empty() {
        let kl = u16::from_be_bytes(body[..2].try_into().unwrap()) as usize;
        let key = &body[2..2 + kl];
        body = &body[2 + kl..];
        let vl = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
        let value = &body[4..4 + vl];
        body = &body[4 + vl..];
        let kh = sha(&[&[0x10], key]);
        if let Some((last, _)) = items.last() {
            assert!(kh > *last, "strictly increasing key hashes");
        }
        items.push((kh, sha(&[&[0x11], value])));
    }
    assert_eq!(items.len() as u64, h["records"].as_u64().unwrap());
    assert_eq!(items.len() as u64, v["records"].as_u64().unwrap());
    assert_eq!(map_root(&items, 0).to_vec(), state_root);

    // And the library accepts it against the log descriptor.
    let d: LogDescriptorJson = serde_json::from_value(v["log"].clone()).unwrap();
    let log = LogDescriptor::from_json(&d).unwrap();
    let (hd, mut r) = SnapshotReader::open(&snap[..], HashSuite::Sha256).unwrap();
    let start = verify_header(&hd, &log).unwrap();
    assert_eq!(start.state_root.0.to_vec(), state_root);
    let mut n = 0;
    while r.next_record().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, items.len());
}
