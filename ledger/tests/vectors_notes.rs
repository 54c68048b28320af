//! Signed notes, keys, checkpoints and cosignatures against the external
//! vectors in `tests/vectors/` (Go's note package, C2SP, transparency-dev
//! formats, sigsum, real sum.golang.org / Sigstore Rekor v2 checkpoints with
//! real witness cosignatures, and the CCTV Ed25519 edge cases).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::tlog::checkpoint::{
    open_checkpoint, open_witnessed_checkpoint, verifier_for, Checkpoint,
};
use regledger::tlog::cosignature::{add_signatures, cosignature_message, CosignatureV1Verifier};
use regledger::tlog::note::{
    open_note, sign_note, KeyType, Note, NoteError, NoteSignature, NoteVerifier, OpenedNote,
    Signer, VerifierKey,
};
use regledger::tlog::proof::verify_inclusion;
use regledger::{Hash, HashSuite};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

/// open opens a note with keys of either type, each judged by its own verifier.
fn open(msg: &[u8], keys: &[VerifierKey]) -> Result<OpenedNote, NoteError> {
    let vs: Vec<Box<dyn NoteVerifier>> = keys.iter().map(verifier_for).collect();
    let refs: Vec<&dyn NoteVerifier> = vs.iter().map(|v| v.as_ref()).collect();
    open_note(msg, &refs)
}

#[test]
fn go_note_keys_and_signatures_byte_for_byte() {
    let v = load("signed_note_vectors.json");
    let g = &v["go_sumdb_note"];
    let mut signers = Vec::new();
    for k in g["keys"].as_array().unwrap() {
        let signer = Signer::from_skey(s(&k["skey"])).unwrap();
        assert_eq!(format!("{:08x}", signer.key_id()), s(&k["key_id_hex"]));
        assert_eq!(signer.verifier().to_vkey(), s(&k["vkey"]));
        assert_eq!(signer.to_skey(), s(&k["skey"]));
        assert_eq!(
            hex::encode(signer.verifier().public_key().material()),
            s(&k["ed25519_pub_hex"])
        );
        let vk = VerifierKey::parse(s(&k["vkey"])).unwrap();
        assert_eq!(vk, signer.verifier());
        // Go's test: every proper prefix and every single-byte increment of a good vkey is rejected.
        let good = s(&k["vkey"]);
        for i in 0..good.len() {
            assert!(VerifierKey::parse(&good[..i]).is_err());
        }
        for i in 0..good.len() {
            let mut b = good.as_bytes().to_vec();
            b[i] = b[i].wrapping_add(1);
            if let Ok(t) = String::from_utf8(b) {
                assert!(VerifierKey::parse(&t).is_err(), "increment at {i}: {t}");
            }
        }
        signers.push(signer);
    }
    let text = s(&g["note_text"]);
    let peter = &signers[0];
    let enoch = &signers[1];
    assert_eq!(
        sign_note(text, &[peter]).unwrap(),
        s(&g["signed_note_peter"])
    );
    assert_eq!(
        sign_note(text, &[peter, enoch]).unwrap(),
        s(&g["signed_note_peter_enoch"])
    );
    for b in g["bad_vkeys"].as_array().unwrap() {
        assert!(VerifierKey::parse(s(&b["vkey"])).is_err(), "{}", b["why"]);
    }
}

#[test]
fn go_note_open_cases() {
    let v = load("signed_note_vectors.json");
    let g = &v["go_sumdb_note"];
    for c in g["open_cases"].as_array().unwrap() {
        let known: Vec<VerifierKey> = c["known_vkeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| VerifierKey::parse(s(k)).unwrap())
            .collect();
        let got = open(s(&c["msg"]).as_bytes(), &known);
        let want = s(&c["want"]);
        match got {
            Ok(o) => {
                assert_eq!(want, "ok", "{c}");
                let names =
                    |l: &[NoteSignature]| l.iter().map(|x| x.name.clone()).collect::<Vec<_>>();
                let wv: Vec<String> = serde_json::from_value(c["verified"].clone()).unwrap();
                let wu: Vec<String> = serde_json::from_value(c["unverified"].clone()).unwrap();
                assert_eq!(names(&o.verified), wv);
                assert_eq!(names(&o.unverified), wu);
            }
            Err(e) => {
                assert!(want.starts_with("error"), "unexpected {e} for {want}");
                match e {
                    NoteError::NoVerifiedSignature => assert!(want.contains("no verifiable")),
                    NoteError::InvalidSignature { .. } => {
                        assert!(want.contains("invalid signature"))
                    }
                    NoteError::Malformed(_) => assert!(want.contains("malformed")),
                    other => panic!("unexpected {other}"),
                }
            }
        }
    }
}

#[test]
fn go_malformed_notes_are_rejected() {
    let v = load("signed_note_vectors.json");
    let g = &v["go_sumdb_note"];
    let known = [VerifierKey::parse(s(&g["keys"][0]["vkey"])).unwrap()];
    for (i, m) in g["malformed_notes"].as_array().unwrap().iter().enumerate() {
        let mut bytes = s(m).as_bytes().to_vec();
        if i == 4 {
            // See malformed_notes_caveat: the Go case starts with a raw 0xff byte.
            bytes = [&[0xffu8][..], &s(m).as_bytes()[2..]].concat();
        }
        assert!(
            matches!(open(&bytes, &known), Err(NoteError::Malformed(_))),
            "case {i}"
        );
    }
}

#[test]
fn c2sp_signed_note_examples() {
    let v = load("signed_note_vectors.json");
    let c = &v["c2sp_signed_note"];
    let vk = VerifierKey::parse(s(&c["example_vkey"])).unwrap();
    assert_eq!(format!("{:08x}", vk.key_id()), s(&c["example_key_id_hex"]));
    assert_eq!(
        hex::encode(vk.public_key().material()),
        s(&c["example_pub_hex"])
    );
    open(s(&c["example_note"]).as_bytes(), &[vk]).unwrap();
    let n = Note::parse(s(&c["parse_only_note"]).as_bytes()).unwrap();
    assert_eq!(n.text, s(&c["parse_only_note_text"]));
    assert_eq!(n.sigs.len(), 1);
    assert_eq!(n.sigs[0].name, s(&c["parse_only_note_sig"]["name"]));
    assert_eq!(
        format!("{:08x}", n.sigs[0].key_id),
        s(&c["parse_only_note_sig"]["key_id_hex"])
    );
    assert_eq!(n.sigs[0].sig.len(), 64);
    assert_eq!(n.to_text(), s(&c["parse_only_note"]));
}

#[test]
fn transparency_dev_formats_keys() {
    let v = load("signed_note_vectors.json");
    let f = &v["formats_key_pairs"];
    for p in f["pairs"].as_array().unwrap() {
        let sk = Signer::from_skey(s(&p["skey"])).unwrap();
        assert_eq!(sk.verifier().to_vkey(), s(&p["vkey"]));
        assert_eq!(
            hex::encode(sk.secret().to_seed()),
            s(&p["ed25519_seed_hex"])
        );
    }
    for k in f["non_ed25519_vkeys_to_reject_or_ignore"]
        .as_array()
        .unwrap()
    {
        let r = VerifierKey::parse(s(&k["vkey"]));
        match k["type_byte"].as_u64().unwrap() {
            1 => assert_eq!(r.unwrap().key_type(), KeyType::Ed25519),
            4 => assert_eq!(r.unwrap().key_type(), KeyType::CosignatureV1),
            _ => assert!(r.is_err(), "{}", k["why"]),
        }
    }
    for k in f["bad_vkeys"].as_array().unwrap() {
        assert!(VerifierKey::parse(s(&k["vkey"])).is_err(), "{}", k["why"]);
    }
}

#[test]
fn checkpoint_body_cases() {
    let v = load("signed_note_vectors.json");
    let c = &v["checkpoint_body_parse_cases"];
    for case in c["cases"].as_array().unwrap() {
        let text = s(&case["text"]);
        let want = s(&case["want"]);
        let got = Checkpoint::parse(text);
        let root_len = text
            .split('\n')
            .nth(2)
            .and_then(|r| B64.decode(r).ok())
            .map(|r| r.len());
        if want == "ok" && root_len == Some(32) {
            let cp = got.unwrap();
            if let Some(o) = case["origin"].as_str() {
                assert_eq!(cp.origin, o);
                assert_eq!(cp.size, case["size"].as_u64().unwrap());
            }
        } else {
            // Errors, and the "ok" cases with roots that are not 32 bytes or
            // with empty extension lines (caveat: strict C2SP rejects them).
            assert!(got.is_err(), "{text:?}");
        }
    }
    let g = &c["go_tlog_parse_tree"];
    let cp = Checkpoint::parse(s(&g["good"])).unwrap();
    assert_eq!(cp.size, 123456789012);
    assert_eq!(cp.to_text(), s(&g["good"]));
    // The bad cases: a wrong origin only fails against the expected origin;
    // the other two fail to parse.
    let bad = g["bad"].as_array().unwrap();
    assert_ne!(
        Checkpoint::parse(s(&bad[0])).unwrap().origin,
        "go.sum database tree"
    );
    assert!(Checkpoint::parse(s(&bad[1])).is_err());
    assert!(Checkpoint::parse(s(&bad[2])).is_err());
}

#[test]
fn cosignature_vectors() {
    let v = load("cosignature_vectors.json");
    let k = &v["sigsum_known_key"];
    let seed: [u8; 32] = hex::decode(s(&k["ed25519_seed_hex"]))
        .unwrap()
        .try_into()
        .unwrap();
    let lc = &k["log_checkpoint"];
    let log = Signer::generate(s(&lc["key_name"]), KeyType::Ed25519, seed).unwrap();
    assert_eq!(log.verifier().to_vkey(), s(&lc["vkey"]));
    assert_eq!(
        sign_note(s(&lc["note_text"]), &[&log]).unwrap(),
        s(&lc["note"])
    );
    let vk = VerifierKey::parse(s(&lc["vkey"])).unwrap();
    let cp = open_checkpoint(s(&lc["note"]).as_bytes(), &vk).unwrap();
    assert_eq!(cp.checkpoint.size, 10);

    let cs = &k["cosignature_v1"];
    let body = s(&cs["checkpoint_body"]);
    assert_eq!(
        cosignature_message(body, 1234),
        s(&cs["signed_message"]).as_bytes()
    );
    let w = VerifierKey::parse(s(&cs["witness_vkey"])).unwrap();
    assert_eq!(w.key_type(), KeyType::CosignatureV1);
    assert_eq!(format!("{:08x}", w.key_id()), s(&cs["witness_key_id_hex"]));
    let ws = Signer::generate(s(&cs["witness_name"]), KeyType::CosignatureV1, seed).unwrap();
    assert_eq!(ws.verifier(), w);
    let mine = regledger::tlog::cosignature::cosign(&ws, body, 1234).unwrap();
    for line in cs["lines"].as_array().unwrap() {
        let note = format!("{body}\n{}\n", s(&line["line"]));
        let verifies = line["verifies_with_example_witness_key"].as_bool().unwrap();
        let r = open(note.as_bytes(), std::slice::from_ref(&w));
        assert_eq!(r.is_ok(), verifies, "{}", line["why"]);
        if verifies {
            assert_eq!(mine.to_line(), format!("{}\n", s(&line["line"])));
        }
    }
    // A plain 64-byte signature under a cosignature key must fail.
    let f = &v["formats_cosigv1_timestamp"]["cases"];
    let ts_of = |b64: &str| {
        let raw = B64.decode(b64).unwrap();
        let sig = NoteSignature {
            name: "w".into(),
            key_id: 0,
            sig: raw[4..].to_vec(),
        };
        regledger::tlog::cosignature::cosignature_timestamp(&sig)
    };
    assert_eq!(
        ts_of(s(&f[0]["sig_b64"])),
        Some(f[0]["want_timestamp"].as_u64().unwrap())
    );
    assert_eq!(ts_of(s(&f[1]["sig_b64"])), None);
    assert!(!CosignatureV1Verifier::new(&w)
        .unwrap()
        .verify(body, &B64.decode(s(&f[1]["sig_b64"])).unwrap()[4..]));

    let ex = &v["c2sp_examples_parse_only"];
    let n = Note::parse(s(&ex["checkpoint_note"]).as_bytes()).unwrap();
    let wl = &ex["cosignature_line_fields"];
    let wsig = n
        .sigs
        .iter()
        .find(|x| format!("{:08x}", x.key_id) == s(&wl["key_id_hex"]))
        .unwrap();
    assert_eq!(
        regledger::tlog::cosignature::cosignature_timestamp(wsig),
        Some(wl["timestamp"].as_u64().unwrap())
    );
}

#[test]
fn real_sum_golang_org_checkpoints() {
    let v = load("real_logs.json");
    let g = &v["sum_golang_org"];
    let vk = VerifierKey::parse(s(&g["vkey"])).unwrap();
    for c in g["checkpoints"].as_array().unwrap() {
        let note = s(&c["note"]).as_bytes();
        let o = open(note, std::slice::from_ref(&vk)).unwrap();
        assert_eq!(o.verified.len(), 1);
        assert_eq!(
            o.unverified.len(),
            c["other_signatures"].as_array().unwrap().len()
        );
        let cp = Checkpoint::parse(&o.text).unwrap();
        assert_eq!(cp.size, c["tree_size"].as_u64().unwrap());
        assert_eq!(cp.root.to_hex(), s(&c["root_hex"]));
        // Tampering with the size breaks the signature.
        let bad = s(&c["note"]).replacen(&cp.size.to_string(), &(cp.size + 1).to_string(), 1);
        assert!(open(bad.as_bytes(), std::slice::from_ref(&vk)).is_err());
    }
}

#[test]
fn real_rekor_v2_entries_with_witnesses() {
    let v = load("real_logs.json");
    let entries = v["rekor_v2_staging"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let mut saw_witnesses = 0;
    for e in entries {
        let pubkey: [u8; 32] = hex::decode(s(&e["log_ed25519_pub_hex"]))
            .unwrap()
            .try_into()
            .unwrap();
        let log = VerifierKey::from_public_key(s(&e["origin"]), KeyType::Ed25519, &pubkey).unwrap();
        assert_eq!(format!("{:08x}", log.key_id()), s(&e["note_key_id_hex"]));
        let leaf_input = B64.decode(s(&e["leaf_input_b64"])).unwrap();
        let leaf = HashSuite::Sha256.leaf_hash(&leaf_input);
        assert_eq!(leaf.to_hex(), s(&e["leaf_hash_hex"]));
        let proof: Vec<Hash> = e["inclusion_proof_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_hex(s(h)).unwrap())
            .collect();
        let mut note = s(&e["checkpoint_note"]).to_string();
        let mut witnesses = Vec::new();
        if let Some(ws) = e["witness_cosignatures"].as_array() {
            let mut sigs = Vec::new();
            for w in ws {
                let wk = VerifierKey::parse(s(&w["vkey"])).unwrap();
                let mut sig = w["timestamp"].as_u64().unwrap().to_be_bytes().to_vec();
                sig.extend(hex::decode(s(&w["ed25519_sig_hex"])).unwrap());
                sigs.push(NoteSignature {
                    name: wk.name().to_string(),
                    key_id: wk.key_id(),
                    sig,
                });
                witnesses.push(wk);
            }
            note = add_signatures(&note, &sigs).unwrap();
            saw_witnesses += witnesses.len();
        }
        let vc =
            open_witnessed_checkpoint(note.as_bytes(), &log, &witnesses, witnesses.len()).unwrap();
        assert_eq!(vc.witnesses.len(), witnesses.len());
        let cp = vc.checkpoint;
        assert_eq!(cp.size, e["tree_size"].as_u64().unwrap());
        assert_eq!(cp.root.to_hex(), s(&e["root_hex"]));
        verify_inclusion(
            HashSuite::Sha256,
            cp.size,
            e["log_index"].as_u64().unwrap(),
            &leaf,
            &proof,
            &cp.root,
        )
        .unwrap();
        if !witnesses.is_empty() {
            // One corrupted witness signature fails the whole note.
            let n = Note::parse(note.as_bytes()).unwrap();
            let mut sigs = n.sigs.clone();
            let last = sigs.len() - 1;
            sigs[last].sig[20] ^= 1;
            let bad = Note {
                text: n.text.clone(),
                sigs,
            }
            .to_text();
            assert!(open_witnessed_checkpoint(bad.as_bytes(), &log, &witnesses, 3).is_err());
        }
    }
    assert_eq!(saw_witnesses, 3);
}

#[test]
fn cctv_ed25519_edge_cases_under_verify_strict() {
    let v = load("ed25519_cctv_edge_cases.json");
    let rows = v["vectors"].as_array().unwrap();
    assert_eq!(rows.len(), 914);
    let mut accepted = 0;
    for r in rows {
        let key: [u8; 32] = hex::decode(s(&r[1])).unwrap().try_into().unwrap();
        let sig = hex::decode(s(&r[2])).unwrap();
        let msg = s(&r[3]).as_bytes();
        let want = r[7].as_bool().unwrap();
        let got = match ed25519_dalek::VerifyingKey::from_bytes(&key) {
            Ok(k) => regledger::tlog::note::verify_strict(&k, msg, &sig),
            Err(_) => false,
        };
        assert_eq!(got, want, "vector {}", r[0]);
        accepted += usize::from(got);
    }
    assert_eq!(accepted, 43);
}
