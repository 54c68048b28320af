//! SM3 and SM2 against the standards' own examples (tests/vectors/
//! sm2_sm3_vectors.json, copied from the project's shared vectors; see its
//! README): GB/T 32905-2016 Appendix A, GB/T 32918.5-2017 Annex A on the
//! standard curve, and an RFC 9162 tree with SM3 whose roots OpenSSL 3
//! computed. Cross-checks, not round trips: every expected value here was
//! produced by another implementation or printed in the standard.

use regledger::crypto::sm2::{e, sign_prehash_with_k, z, Sm2PublicKey, Sm2SecretKey, DEFAULT_ID};
use regledger::crypto::{PublicKey, SigAlg};
use regledger::tlog::memory::MemoryTree;
use regledger::HashSuite;
use serde_json::Value;
use sm2::elliptic_curve::PrimeField;

fn load() -> Value {
    let path = format!(
        "{}/tests/vectors/sm2_sm3_vectors.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn h32(v: &Value) -> [u8; 32] {
    hx(v).try_into().unwrap()
}

#[test]
fn sm3_gbt32905_appendix_a() {
    let v = load();
    let cases = v["sm3"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for c in cases {
        let msg = c["msg_ascii"].as_str().unwrap().as_bytes();
        let got = HashSuite::Sm3.digest(&[msg]);
        assert_eq!(got.to_hex(), c["digest_hex"].as_str().unwrap());
        // Split input must hash the same (the suite hashes a list of parts).
        let (a, b) = msg.split_at(1);
        assert_eq!(HashSuite::Sm3.digest(&[a, b]), got);
    }
    assert!(cases[0]["digest_hex"]
        .as_str()
        .unwrap()
        .starts_with("66c7f0f4"));
    assert_eq!(cases[1]["msg_ascii"].as_str().unwrap().len(), 64);
}

#[test]
fn sm3_rfc9162_tree_matches_openssl() {
    let v = load();
    let t = &v["sm3_tree"];
    let leaves: Vec<Vec<u8>> = t["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(hx)
        .collect();
    let roots = t["root_hashes_by_size_hex"].as_array().unwrap();
    let lh = t["leaf_hashes_hex"].as_array().unwrap();
    assert_eq!(
        HashSuite::Sm3.empty_root().to_hex(),
        roots[0].as_str().unwrap()
    );
    let mut tree = MemoryTree::new(HashSuite::Sm3);
    for (i, l) in leaves.iter().enumerate() {
        assert_eq!(
            HashSuite::Sm3.leaf_hash(l).to_hex(),
            lh[i].as_str().unwrap()
        );
        tree.append_data(l);
        assert_eq!(
            tree.root().to_hex(),
            roots[i + 1].as_str().unwrap(),
            "size {}",
            i + 1
        );
    }
    // The same leaves under SHA-256 give another root: the suite is used.
    let mut sha = MemoryTree::new(HashSuite::Sha256);
    for l in &leaves {
        sha.append_data(l);
    }
    assert_ne!(sha.root(), tree.root());
}

#[test]
fn sm2_gbt32918_5_annex_a_standard_curve() {
    let v = load();
    let s = &v["sm2_sign"];
    assert_eq!(s["user_id_ascii"].as_str().unwrap(), DEFAULT_ID);
    let d = h32(&s["private_key_d_hex"]);
    let mut point = vec![4u8];
    point.extend(hx(&s["public_key_x_hex"]));
    point.extend(hx(&s["public_key_y_hex"]));
    let msg = s["message_ascii"].as_str().unwrap().as_bytes();

    // The public key derived from d is the standard's.
    let sk = Sm2SecretKey::from_bytes(&d, None).unwrap();
    assert_eq!(&sk.public().point()[..], &point[..]);
    let pk = Sm2PublicKey::new(&point, None).unwrap();

    // Z (ENTL ‖ ID ‖ a ‖ b ‖ G ‖ P) and e = SM3(Z ‖ M).
    let zz = z(DEFAULT_ID, pk.point());
    assert_eq!(hex::encode(zz), s["z_hex"].as_str().unwrap());
    assert_eq!(pk.z(), zz);
    let ee = e(&zz, msg);
    assert_eq!(hex::encode(ee), s["e_hex"].as_str().unwrap());

    // With the standard's k, the signing equation gives its r and s.
    let k = Option::<sm2::Scalar>::from(sm2::Scalar::from_repr(h32(&s["k_hex"]).into())).unwrap();
    let sig = sign_prehash_with_k(&sk.secret().to_nonzero_scalar(), &ee, &k).unwrap();
    assert_eq!(hex::encode(&sig[..32]), s["r_hex"].as_str().unwrap());
    assert_eq!(hex::encode(&sig[32..]), s["s_hex"].as_str().unwrap());

    // The standard's (r, s) verifies under the typed key, and under no other
    // message, ID or algorithm.
    let mut rs = hx(&s["r_hex"]);
    rs.extend(hx(&s["s_hex"]));
    let typed = PublicKey::Sm2(pk.clone());
    typed.verify(SigAlg::Sm2, msg, &rs).unwrap();
    assert!(typed.verify(SigAlg::Sm2, b"message digesT", &rs).is_err());
    assert!(typed.verify(SigAlg::Ed25519, msg, &rs).is_err());
    let other_id = Sm2PublicKey::new(&point, Some("ALICE123@YAHOO.COM")).unwrap();
    assert!(other_id.verify(msg, &rs).is_err());

    // Our deterministic signer gives another valid signature (another k).
    let ours = sk.sign(msg);
    pk.verify(msg, &ours).unwrap();
    assert_ne!(&ours[..], &rs[..]);
}
