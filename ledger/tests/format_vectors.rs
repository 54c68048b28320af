//! The vectors of schemas/vectors/formats.json: every byte string regledger
//! hashes or signs, for re-implementers in other languages.
//!
//! Two checks: the library reproduces the committed file exactly (a format
//! change fails here; `REGLEDGER_BLESS=1 cargo test -p regledger --test
//! format_vectors` rewrites it after a deliberate change), and every vector
//! is re-derived by hand from the prose of schemas/FORMATS.md with only
//! `sha2`, `blake3` and `ed25519-dalek`, so the document and the code agree.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};
use regledger::entry::blockchain_no::BlockchainNo;
use regledger::entry::envelope::{participant_key_id, payload_type_for, Envelope};
use regledger::entry::leaf::Leaf;
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::cosignature::cosignature_message;
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, Signer};
use regledger::tlog::tile::encode_entry_bundle;
use regledger::{Hash, HashSuite};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../schemas/vectors/formats.json"
);
const ORIGIN: &str = "vectors.regledger.example/gx";

fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

/// generate computes every vector with the library.
fn generate() -> Value {
    let key = SigningKey::from_bytes(&[0x11; 32]);
    let pk = key.verifying_key().to_bytes();
    let key_id = participant_key_id("gx-operator", &regledger::crypto::PublicKey::Ed25519(pk));
    let payload = r#"{"product_id":"P-1","registration_no":"GXDP-2025-000001","product_name":"公交客流预测服务"}"#;
    let ptype = payload_type_for("product-registered");
    let env = Envelope::sign(&ptype, payload.as_bytes().to_vec(), &key_id, &key);
    let env_bytes = env.to_bytes();

    let prev = Hash(Sha256::digest(b"previous leaf").into());
    let leaf = Leaf::inline(1042, 1_742_781_600_000, prev, env.clone());
    let leaf_bytes = leaf.to_bytes();
    let state_root = Hash(Sha256::digest(b"state root").into());
    let leaf_v2 = Leaf::compact(
        1042,
        1_742_781_600_000,
        prev,
        state_root,
        regledger::entry::leaf::envelope_hash(HashSuite::Sha256, &env_bytes),
    );
    let leaf_v2_bytes = leaf_v2.to_bytes();

    let mut trees = Vec::new();
    for suite in [HashSuite::Sha256, HashSuite::Blake3] {
        let mut t = MemoryTree::new(suite);
        let mut roots = Vec::new();
        for i in 0..17u32 {
            roots.push(t.root().to_hex());
            t.append_data(format!("leaf {i}").as_bytes());
        }
        roots.push(t.root().to_hex());
        let inc = t.prove_inclusion(17, 6).expect("proof");
        let cons = t.prove_consistency(7, 17).expect("proof");
        trees.push(json!({
            "hash": suite.name(),
            "leaves": "UTF-8 \"leaf 0\" … \"leaf 16\"",
            "roots_by_size": roots,
            "inclusion": {"size": 17, "index": 6, "proof": inc.iter().map(Hash::to_hex).collect::<Vec<_>>()},
            "consistency": {"old_size": 7, "new_size": 17, "proof": cons.iter().map(Hash::to_hex).collect::<Vec<_>>()},
        }));
    }

    let log_signer = Signer::generate(ORIGIN, KeyType::Ed25519, [0x22; 32]).expect("key");
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 17,
        root: Hash::from_hex(trees[1]["roots_by_size"][17].as_str().unwrap()).unwrap(),
        extensions: vec![],
    };
    let note = sign_checkpoint(&cp, &log_signer).expect("sign");

    let entries: Vec<Vec<u8>> = vec![b"".to_vec(), b"a".to_vec(), leaf_bytes.clone()];
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    let bundle = encode_entry_bundle(&refs).expect("bundle");

    let leaf_hash_b3 = HashSuite::Blake3.leaf_hash(&leaf_bytes);
    // The participant key file that signs the envelope vector (same seed).
    let participant = Signer::generate("gx-operator", KeyType::Ed25519, [0x11; 32]).expect("key");
    json!({
        "participant_key_file": {
            "about": "what `regledger-node keygen --name gx-operator --out FILE` writes (one line, then a newline; mode 0600) and `submit --key FILE` reads: the key that signs the envelope vector",
            "file": format!("{}\n", participant.to_skey()),
            "name": "gx-operator",
            "seed": hx(&[0x11; 32]),
            "note_key_id": participant.to_skey().split('+').nth(3).unwrap(),
            "vkey": participant.verifier().to_vkey(),
            "public_key_base64": B64.encode(pk),
            "envelope_key_id": key_id,
        },
        "about": "regledger byte-format vectors; see schemas/FORMATS.md. Hex is lowercase; all integers big-endian.",
        "envelope": {
            "signer_seed": hx(&[0x11; 32]),
            "public_key": hx(&pk),
            "participant_id": "gx-operator",
            "key_id": key_id,
            "payload_type": ptype,
            "payload_utf8": payload,
            "pae": hx(&Envelope::pae(&ptype, payload.as_bytes())),
            "signature": hx(&env.signatures[0].sig),
            "binary": hx(&env_bytes),
            "json": env.to_json(),
            "content_id_sha256": hx(&env.content_id()),
        },
        "leaf": {
            "index": 1042,
            "integrated_time_ms": 1_742_781_600_000u64,
            "prev_leaf_hash": prev.to_hex(),
            "envelope": "the envelope vector's binary form",
            "bytes": hx(&leaf_bytes),
            "leaf_hash_sha256": HashSuite::Sha256.leaf_hash(&leaf_bytes).to_hex(),
            "leaf_hash_blake3": leaf_hash_b3.to_hex(),
        },
        "leaf_v2": {
            "index": 1042,
            "integrated_time_ms": 1_742_781_600_000u64,
            "prev_leaf_hash": prev.to_hex(),
            "state_root": state_root.to_hex(),
            "envelope": "the envelope vector's binary form, hashed with SHA-256 (a sha256 log)",
            "bytes": hx(&leaf_v2_bytes),
            "leaf_hash_sha256": HashSuite::Sha256.leaf_hash(&leaf_v2_bytes).to_hex(),
        },
        "blockchain_no": {
            "origin": ORIGIN,
            "index": 1042,
            "leaf_hash": leaf_hash_b3.to_hex(),
            "text": BlockchainNo::new(ORIGIN, 1042, &leaf_hash_b3).to_string(),
        },
        "trees": trees,
        "checkpoint": {
            "log_signer_key": log_signer.to_skey(),
            "log_vkey": log_signer.verifier().to_vkey(),
            "note": note,
            "cosignature_message_ts_1700000000": cosignature_message(&cp.to_text(), 1_700_000_000)
                .iter().map(|b| *b as char).collect::<String>(),
        },
        "entry_bundle": {
            "entries": entries.iter().map(|e| hx(e)).collect::<Vec<_>>(),
            "bytes": hx(&bundle),
        },
        "state_records": state_records(),
    })
}

/// state_records are the committed state map records (schemas/FORMATS.md,
/// "State records") of the testkit's whole lifecycle in a SHA-256 log:
/// every key kind and the latest record of each key, with the state root
/// after the last entry. A field added to, renamed in or reordered in a
/// state type changes these bytes, and so fails
/// `the_library_reproduces_the_committed_vectors`: a format change.
fn state_records() -> Value {
    let kit = regledger::testkit::Testkit::new(ORIGIN);
    let steps = kit.lifecycle(HashSuite::Sha256, "guangxi");
    let r = regledger::testkit::replay(ORIGIN, HashSuite::Sha256, &steps).expect("valid history");
    let mut kinds: std::collections::BTreeSet<String> = Default::default();
    let records: Vec<Value> = r
        .records
        .iter()
        .map(|(k, v)| {
            let key = String::from_utf8(k.clone()).expect("utf-8 key");
            kinds.insert(key.split('/').next().unwrap_or("").to_string());
            json!({"key": key, "value_utf8": String::from_utf8(v.clone()).expect("utf-8 json")})
        })
        .collect();
    let last = r.leaves.last().expect("entries");
    json!({
        "about": "every map key and its record after the testkit lifecycle (sha256): key UTF-8, value = canonical JSON bytes",
        "key_kinds": kinds.into_iter().collect::<Vec<_>>(),
        "records": records,
        "state_root_sha256": last.state_root().expect("v2").to_hex(),
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
            .expect("schemas/vectors/formats.json (REGLEDGER_BLESS=1 writes it)"),
    )
    .unwrap();
    assert_eq!(
        got, want,
        "a byte format changed: update FORMATS.md and bless deliberately"
    );
}

/// be16 is a u16 length prefix, as FORMATS.md lays them out.
fn be16(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap().to_be_bytes()
}

#[test]
fn the_vectors_follow_the_prose_of_formats_md() {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();

    // Envelope: key id, PAE, signature, binary layout, replay identity.
    let e = &v["envelope"];
    let seed: [u8; 32] = unhex(&e["signer_seed"]).try_into().unwrap();
    let key = SigningKey::from_bytes(&seed);
    let pk = key.verifying_key().to_bytes();
    assert_eq!(unhex(&e["public_key"]), pk);
    let kid = format!("gx-operator/{}", &hx(&Sha256::digest(pk))[..8]);
    assert_eq!(e["key_id"], kid.as_str());
    let ptype = e["payload_type"].as_str().unwrap();
    assert_eq!(ptype, "application/vnd.regledger.product-registered+json");
    let payload = e["payload_utf8"].as_str().unwrap().as_bytes();
    let pae = [
        format!("DSSEv1 {} {ptype} {} ", ptype.len(), payload.len()).as_bytes(),
        payload,
    ]
    .concat();
    assert_eq!(unhex(&e["pae"]), pae);
    let sig = key.sign(&pae).to_bytes();
    assert_eq!(unhex(&e["signature"]), sig);
    key.verifying_key()
        .verify(&pae, &ed25519_dalek::Signature::from_bytes(&sig))
        .unwrap();
    let mut bin = vec![1u8];
    bin.extend(be16(ptype.len()));
    bin.extend(ptype.as_bytes());
    bin.extend(u32::try_from(payload.len()).unwrap().to_be_bytes());
    bin.extend(payload);
    bin.push(1); // one signature
    bin.push(1); // alg Ed25519
    bin.push(u8::try_from(kid.len()).unwrap());
    bin.extend(kid.as_bytes());
    bin.extend(be16(64));
    bin.extend(sig);
    assert_eq!(unhex(&e["binary"]), bin);
    // Replay identity (content id): SHA-256 of the PAE, signatures not included.
    assert_eq!(
        unhex(&e["content_id_sha256"]),
        Sha256::digest(&pae).to_vec()
    );
    assert_eq!(
        e["json"]["payloadType"]
            .as_str()
            .or(e["json"]["payload_type"].as_str()),
        Some(ptype)
    );

    // Participant key file: PRIVATE+KEY+<name>+<8 hex note key id>+<base64(0x01 ‖ seed)>,
    // one line; the note key id is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[0..4]; the
    // envelope key id is <name>/<SHA-256(public key)[0..4] in hex>, another number.
    let f = &v["participant_key_file"];
    let text = f["file"].as_str().unwrap();
    let line = text.strip_suffix('\n').unwrap();
    assert!(!line.contains('\n'));
    let parts: Vec<&str> = line.split('+').collect();
    assert_eq!(parts.len(), 5, "{line}");
    assert_eq!(
        (parts[0], parts[1], parts[2]),
        ("PRIVATE", "KEY", "gx-operator")
    );
    let b64 = B64;
    let raw = b64.decode(parts[4]).unwrap();
    assert_eq!((raw.len(), raw[0]), (33, 0x01));
    assert_eq!(hx(&raw[1..]), f["seed"].as_str().unwrap());
    assert_eq!(
        &raw[1..],
        &seed[..],
        "the key that signs the envelope vector"
    );
    let mut idin = b"gx-operator\n".to_vec();
    idin.push(0x01);
    idin.extend(pk);
    let note_id = hx(&Sha256::digest(&idin)[..4]);
    assert_eq!(parts[3], note_id);
    assert_eq!(f["note_key_id"], note_id.as_str());
    let mut vk = vec![0x01u8];
    vk.extend(pk);
    assert_eq!(
        f["vkey"],
        format!("gx-operator+{note_id}+{}", b64.encode(&vk)).as_str()
    );
    assert_eq!(f["public_key_base64"], b64.encode(pk).as_str());
    assert_eq!(f["envelope_key_id"], e["key_id"]);
    assert_ne!(note_id, kid.rsplit('/').next().unwrap());

    // Leaf: version ‖ index ‖ time ‖ prev ‖ envelope; RFC 9162 leaf hash in both suites.
    let l = &v["leaf"];
    let mut leaf = vec![1u8];
    leaf.extend(l["index"].as_u64().unwrap().to_be_bytes());
    leaf.extend(l["integrated_time_ms"].as_u64().unwrap().to_be_bytes());
    leaf.extend(unhex(&l["prev_leaf_hash"]));
    leaf.extend(&bin);
    assert_eq!(unhex(&l["bytes"]), leaf);
    let sha = Sha256::digest([&[0u8][..], &leaf].concat());
    assert_eq!(unhex(&l["leaf_hash_sha256"]), sha.to_vec());
    let b3 = blake3::hash(&[&[0u8][..], &leaf].concat());
    assert_eq!(unhex(&l["leaf_hash_blake3"]), b3.as_bytes().to_vec());

    // Leaf v2: 2 ‖ index ‖ time ‖ prev ‖ state root ‖ SHA-256(envelope binary), 113 bytes.
    let l2 = &v["leaf_v2"];
    let mut leaf2 = vec![2u8];
    leaf2.extend(l2["index"].as_u64().unwrap().to_be_bytes());
    leaf2.extend(l2["integrated_time_ms"].as_u64().unwrap().to_be_bytes());
    leaf2.extend(unhex(&l2["prev_leaf_hash"]));
    leaf2.extend(unhex(&l2["state_root"]));
    leaf2.extend(Sha256::digest(&bin));
    assert_eq!(leaf2.len(), 113);
    assert_eq!(unhex(&l2["bytes"]), leaf2);
    let sha2 = Sha256::digest([&[0u8][..], &leaf2].concat());
    assert_eq!(unhex(&l2["leaf_hash_sha256"]), sha2.to_vec());

    // 区块链编号: RL1-<SHA-256(origin)[0..4]>-<index>-<leaf hash[0..8]>.
    let b = &v["blockchain_no"];
    let text = format!(
        "RL1-{}-{}-{}",
        &hx(&Sha256::digest(b["origin"].as_str().unwrap().as_bytes()))[..8],
        b["index"],
        &b["leaf_hash"].as_str().unwrap()[..16]
    );
    assert_eq!(b["text"], text.as_str());
    assert_eq!(b["leaf_hash"], l["leaf_hash_blake3"]);

    // Trees: RFC 9162 MTH computed recursively from the definition.
    for t in v["trees"].as_array().unwrap() {
        let h = |parts: &[&[u8]]| -> Vec<u8> {
            let data = parts.concat();
            if t["hash"] == "sha256" {
                Sha256::digest(&data).to_vec()
            } else {
                blake3::hash(&data).as_bytes().to_vec()
            }
        };
        fn mth(h: &dyn Fn(&[&[u8]]) -> Vec<u8>, leaves: &[Vec<u8>]) -> Vec<u8> {
            match leaves.len() {
                0 => h(&[]),
                1 => h(&[&[0], &leaves[0]]),
                n => {
                    let k = n.next_power_of_two() / 2;
                    h(&[&[1], &mth(h, &leaves[..k]), &mth(h, &leaves[k..])])
                }
            }
        }
        let leaves: Vec<Vec<u8>> = (0..17).map(|i| format!("leaf {i}").into_bytes()).collect();
        for (n, root) in t["roots_by_size"].as_array().unwrap().iter().enumerate() {
            assert_eq!(unhex(root), mth(&h, &leaves[..n]), "{} size {n}", t["hash"]);
        }
        // The inclusion proof recombines to the root (RFC 9162 §2.1.3.2).
        let inc = &t["inclusion"];
        let proof: Vec<Vec<u8>> = inc["proof"].as_array().unwrap().iter().map(unhex).collect();
        let (mut fnode, mut snode) = (6u64, 16u64);
        let mut r = h(&[&[0], &leaves[6]]);
        for p in &proof {
            if fnode & 1 == 1 || fnode == snode {
                r = h(&[&[1], p, &r]);
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            } else {
                r = h(&[&[1], &r, p]);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        assert_eq!(r, unhex(&t["roots_by_size"][17]));
    }

    // Checkpoint: the C2SP note body and an Ed25519 signature line by the log key.
    let c = &v["checkpoint"];
    let note = c["note"].as_str().unwrap();
    let (body, sigs) = note.split_once("\n\n").unwrap();
    let body = format!("{body}\n");
    let root_b64 = B64.encode(unhex(&v["trees"][1]["roots_by_size"][17]));
    assert_eq!(body, format!("{ORIGIN}\n17\n{root_b64}\n"));
    let line = sigs.lines().next().unwrap();
    let rest = line.strip_prefix(&format!("— {ORIGIN} ")).unwrap();
    let raw = B64.decode(rest).unwrap();
    let log_key = SigningKey::from_bytes(&[0x22; 32]);
    let lpk = log_key.verifying_key().to_bytes();
    let id = Sha256::digest([ORIGIN.as_bytes(), b"\n", &[1], &lpk].concat());
    assert_eq!(raw[..4], id[..4]);
    log_key
        .verifying_key()
        .verify_strict(
            body.as_bytes(),
            &ed25519_dalek::Signature::from_bytes(&raw[4..].try_into().unwrap()),
        )
        .unwrap();
    assert_eq!(
        c["cosignature_message_ts_1700000000"].as_str().unwrap(),
        format!("cosignature/v1\ntime 1700000000\n{body}")
    );

    // Entry bundle: each entry prefixed by its u16 length.
    let eb = &v["entry_bundle"];
    let mut want = Vec::new();
    for en in eb["entries"].as_array().unwrap() {
        let en = unhex(en);
        want.extend(be16(en.len()));
        want.extend(en);
    }
    assert_eq!(unhex(&eb["bytes"]), want);

    // State records: the state root after the lifecycle, from the records
    // alone, by the prose of "State map" (SHA-256, tags 0x10..0x13).
    let sr = &v["state_records"];
    let mut leaves: Vec<([u8; 32], [u8; 32])> = sr["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let k = Sha256::digest([&[0x10u8][..], r["key"].as_str().unwrap().as_bytes()].concat());
            let v = Sha256::digest(
                [&[0x11u8][..], r["value_utf8"].as_str().unwrap().as_bytes()].concat(),
            );
            (k.into(), v.into())
        })
        .collect();
    leaves.sort();
    fn bit(h: &[u8; 32], i: usize) -> u8 {
        (h[i / 8] >> (7 - i % 8)) & 1
    }
    fn subtree(s: &[([u8; 32], [u8; 32])], d: usize) -> [u8; 32] {
        match s {
            [] => [0; 32],
            [(k, v)] => Sha256::digest([&[0x12u8][..], k, v].concat()).into(),
            _ => {
                let split = s.partition_point(|(k, _)| bit(k, d) == 0);
                let (l, r) = (subtree(&s[..split], d + 1), subtree(&s[split..], d + 1));
                Sha256::digest([&[0x13u8][..], &l, &r].concat()).into()
            }
        }
    }
    assert_eq!(
        hx(&subtree(&leaves, 0)),
        sr["state_root_sha256"].as_str().unwrap()
    );
    // Every record is {"set_by": <index>, "object": …} (a content id's: {"set_by"}).
    for r in sr["records"].as_array().unwrap() {
        let val: Value = serde_json::from_str(r["value_utf8"].as_str().unwrap()).unwrap();
        assert!(val["set_by"].is_u64(), "{r}");
        let content = r["key"].as_str().unwrap().starts_with("content/");
        assert_eq!(val.get("object").is_none(), content, "{r}");
    }
}
