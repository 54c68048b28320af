//! 国密 end to end, with OpenSSL 3 as the independent implementation (D19):
//! an `sm3` node of SM2 participants runs the whole lifecycle; an envelope
//! signed by OpenSSL (`pkeyutl -sign -rawin -digest sm3 -pkeyopt
//! distid:1234567812345678`) with a key OpenSSL generated is accepted; the
//! node's checkpoint signature verifies with OpenSSL; the node's tree root,
//! recomputed over its own leaves with `openssl dgst -sm3`, is the root it
//! signed; the audit and the certificate check pass; and the bad inputs
//! (r or s out of range, an algorithm tag that is not the key's) are
//! refused with nothing logged.
//!
//! Skips with a message when `openssl` is missing, unless
//! REGLEDGER_REQUIRE_OPENSSL is set (.ci/run installs openssl and sets it).

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::crypto::sm2::pem;
use regledger::crypto::{PublicKey, SecretKey, SigAlg};
use regledger::descriptor::LogDescriptor;
use regledger::entry::envelope::{
    participant_key_id, payload_type_for, Envelope, EnvelopeSignature,
};
use regledger::registry::EntryKind;
use regledger::testkit::{Testkit, REGISTRATION_NO};
use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::note::Note;
use regledger::{Hash, HashSuite};
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/sm3";

fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("REGLEDGER_REQUIRE_OPENSSL").is_none(),
            "REGLEDGER_REQUIRE_OPENSSL is set (as .ci/run sets it) but openssl is not installed"
        );
        eprintln!("SKIP: openssl is not installed (apt-get install openssl); the 国密 cross-checks did not run");
    }
    ok
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// der_to_rs reads an ECDSA-Sig-Value (SEQUENCE of two INTEGERs), as
/// OpenSSL writes SM2 signatures, into 64 bytes r ‖ s.
fn der_to_rs(der: &[u8]) -> [u8; 64] {
    assert_eq!(der[0], 0x30);
    let mut at = 2;
    let mut out = [0u8; 64];
    for half in 0..2 {
        assert_eq!(der[at], 0x02);
        let len = usize::from(der[at + 1]);
        let mut v = &der[at + 2..at + 2 + len];
        while v.len() > 32 && v[0] == 0 {
            v = &v[1..];
        }
        out[half * 32 + 32 - v.len()..half * 32 + 32].copy_from_slice(v);
        at += 2 + len;
    }
    out
}

/// rs_to_der writes r ‖ s as an ECDSA-Sig-Value for OpenSSL.
fn rs_to_der(rs: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let mut v: Vec<u8> = x.iter().copied().skip_while(|&b| b == 0).collect();
        if v.first().is_none_or(|&b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut o = vec![0x02, v.len() as u8];
        o.extend(v);
        o
    };
    let body = [int(&rs[..32]), int(&rs[32..])].concat();
    let mut o = vec![0x30, body.len() as u8];
    o.extend(body);
    o
}

fn sm3_openssl(dir: &Path, data: &[u8]) -> Hash {
    let f = dir.join("sm3.in");
    std::fs::write(&f, data).unwrap();
    let o = openssl(dir, &["dgst", "-sm3", "-binary", "sm3.in"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Hash(o.stdout.try_into().expect("32 bytes"))
}

/// mth is RFC 9162's Merkle tree hash with every hash computed by OpenSSL.
fn mth(dir: &Path, leaves: &[&[u8]]) -> Hash {
    match leaves.len() {
        0 => sm3_openssl(dir, b""),
        1 => sm3_openssl(dir, &[&[0u8][..], leaves[0]].concat()),
        n => {
            let k = n.next_power_of_two() / 2;
            let (l, r) = (mth(dir, &leaves[..k]), mth(dir, &leaves[k..]));
            sm3_openssl(dir, &[&[1u8][..], &l.0, &r.0].concat())
        }
    }
}

/// DEFAULT_ID is GM/T 0009's default SM2 signer ID.
const DEFAULT_ID: &str = "1234567812345678";

/// sm3_lifecycle_node initialises an `sm3` log of the kit's SM2
/// participants in `d/node`, starts it and logs the whole lifecycle; it
/// returns the node, its log.json and its size.
fn sm3_lifecycle_node(d: &Path, kit: &Testkit) -> (Node, Vec<u8>, u64) {
    let data = d.join("node");
    init_with_testkit(&data, ORIGIN, "sm3", kit);
    let log_json = std::fs::read(data.join("log.json")).unwrap();
    let desc = LogDescriptor::parse(&log_json).unwrap();
    assert_eq!(desc.suite, HashSuite::Sm3);
    assert_eq!(desc.log_key.key_type(), regledger::tlog::note::KeyType::Sm2);
    let node = Node::start(&data, &[]);
    let steps = kit.lifecycle(HashSuite::Sm3, "guangxi");
    for s in steps.iter().skip(1) {
        let (code, body) = post(&node.url, &s.envelope);
        assert_eq!(code, 200, "{}: {body}", s.label);
    }
    (node, log_json, steps.len() as u64)
}

/// openssl_sign signs `msg` with the SM2 key in PEM file `key` (in `d`)
/// under signer ID `id` (`pkeyutl -sign -rawin -digest sm3 -pkeyopt
/// distid:…`) and returns the signature as r ‖ s.
fn openssl_sign(d: &Path, key: &str, id: &str, msg: &[u8]) -> [u8; 64] {
    std::fs::write(d.join("msg"), msg).unwrap();
    let o = openssl(
        d,
        &[
            "pkeyutl",
            "-sign",
            "-inkey",
            key,
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            &format!("distid:{id}"),
            "-in",
            "msg",
            "-out",
            "msg.sig",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    der_to_rs(&std::fs::read(d.join("msg.sig")).unwrap())
}

/// openssl_verifies says whether OpenSSL verifies r ‖ s `rs` on `msg`
/// under the SM2 public key in PEM file `key` (in `d`) and signer ID `id`.
fn openssl_verifies(d: &Path, key: &str, id: &str, msg: &[u8], rs: &[u8]) -> bool {
    std::fs::write(d.join("vmsg"), msg).unwrap();
    std::fs::write(d.join("vmsg.sig"), rs_to_der(rs)).unwrap();
    openssl(
        d,
        &[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            key,
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            &format!("distid:{id}"),
            "-in",
            "vmsg",
            "-sigfile",
            "vmsg.sig",
        ],
    )
    .status
    .success()
}

#[test]
fn sm3_node_with_sm2_keys_cross_checked_by_openssl() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kit = Testkit::live(ORIGIN).with_sm2();
    let (node, log_json, mut n) = sm3_lifecycle_node(d, &kit);
    let desc = LogDescriptor::parse(&log_json).unwrap();

    // A key OpenSSL generates, added to the business entity by the authority.
    let o = openssl(d, &["genpkey", "-algorithm", "SM2", "-out", "ossl.pem"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ossl =
        pem::private_from_pem(&std::fs::read_to_string(d.join("ossl.pem")).unwrap(), None).unwrap();
    let ossl_pk = PublicKey::Sm2(ossl.public().clone());
    let kid = participant_key_id(&kit.business.id, &ossl_pk);
    let rot = kit.authority.sign(
        EntryKind::ParticipantKeyRotated,
        &json!({"id": kit.business.id, "add_keys": [B64.encode(ossl_pk.material())]}),
    );
    let (code, body) = post(&node.url, &rot);
    assert_eq!(code, 200, "{body}");
    n += 1;

    // OpenSSL signs an operation event's PAE under the default signer ID.
    let payload = serde_json::to_vec(&json!({"agreement_id": "SA-1", "action": "access",
        "occurred_at_ms": kit.base_ms, "actor": "openssl", "records": 3}))
    .unwrap();
    let ptype = payload_type_for("operation-event");
    let rs = openssl_sign(d, "ossl.pem", DEFAULT_ID, &Envelope::pae(&ptype, &payload));
    let env = Envelope {
        payload_type: ptype.clone(),
        payload: payload.clone(),
        signatures: vec![EnvelopeSignature {
            alg: SigAlg::Sm2,
            key_id: kid.clone(),
            sig: rs.to_vec(),
        }],
    };

    // First the bad variants: each refused, nothing logged.
    let nn = regledger::crypto::from_hex(
        "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123",
    )
    .unwrap();
    let mut bad = Vec::new();
    for (at, v) in [
        (0, vec![0u8; 32]),
        (32, vec![0u8; 32]),
        (0, nn.clone()),
        (32, nn),
    ] {
        let mut e = env.clone();
        e.signatures[0].sig[at..at + 32].copy_from_slice(&v);
        bad.push(("r or s out of range", e));
    }
    let mut e = env.clone();
    e.signatures[0].alg = SigAlg::Ed25519;
    bad.push(("SM2 signature tagged ed25519", e));
    // An Ed25519 signature on the SM2 key id.
    let ed = SecretKey::from_seed(SigAlg::Ed25519, &[9; 32]).unwrap();
    bad.push((
        "Ed25519 signature on an SM2 key id",
        Envelope::sign_with(&ptype, payload.clone(), &kid, &ed),
    ));
    // An SM2 signature under another signer ID.
    let other = SecretKey::Sm2(
        regledger::crypto::Sm2SecretKey::from_bytes(&ossl.to_bytes(), Some("another-id")).unwrap(),
    );
    bad.push((
        "SM2 signature under another signer ID",
        Envelope::sign_with(&ptype, payload.clone(), &kid, &other),
    ));
    for (what, e) in &bad {
        let (code, body) = post(&node.url, e);
        assert!((400..500).contains(&code), "{what}: {code} {body}");
        assert!(body.to_string().contains("signature"), "{what}: {body}");
        if what.contains("another signer ID") {
            // The refusal names the ID the key is registered with (here
            // the default), so the platform sees what to sign under.
            assert!(
                body.to_string()
                    .contains("signer ID \\\"1234567812345678\\\""),
                "{what}: {body}"
            );
        }
    }
    // Malformed SM2 keys in a registration: off the curve, compressed,
    // the point at infinity, a stated ID that is the default written out.
    let point = ossl.public().point().to_vec();
    let mut off = point.clone();
    off[64] ^= 1;
    let mut compressed = point[..33].to_vec();
    compressed[0] = 2;
    let mut default_id = point.clone();
    default_id.extend_from_slice(b"1234567812345678");
    for (what, key) in [
        ("off the curve", off),
        ("compressed", compressed),
        ("infinity", vec![0u8; 65]),
        ("default ID written out", default_id),
    ] {
        let reg = kit.authority.sign(
            EntryKind::ParticipantRegistered,
            &json!({"id": "bad-key-party", "name": "坏钥匙", "role": "business-entity", "public_keys": [B64.encode(&key)]}),
        );
        let (code, body) = post(&node.url, &reg);
        assert!((400..500).contains(&code), "{what}: {code} {body}");
        assert!(body.to_string().contains("public key"), "{what}: {body}");
    }
    let (code, body) = post(&node.url, &env);
    assert_eq!(code, 200, "the OpenSSL-signed envelope: {body}");
    n += 1;
    // The same OpenSSL key through the node's own CLI: pem-import, then submit.
    let key_file = d.join("business.key");
    let o = Command::new(bin("regledger-node"))
        .args(["pem-import", "--name", &kit.business.id, "--pem"])
        .arg(d.join("ossl.pem"))
        .arg("--out")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pf = d.join("event.json");
    std::fs::write(
        &pf,
        serde_json::to_vec(&json!({"agreement_id": "SA-1", "action": "access",
        "occurred_at_ms": kit.base_ms, "actor": "cli", "records": 4}))
        .unwrap(),
    )
    .unwrap();
    let o = Command::new(bin("regledger-node"))
        .args([
            "submit",
            "--url",
            &node.url,
            "--kind",
            "operation-event",
            "--key",
        ])
        .arg(&key_file)
        .arg("--payload")
        .arg(&pf)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "submit with an SM2 key: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    n += 1;
    assert_eq!(
        tree_size(&node.url),
        n,
        "exactly the good entries were logged"
    );

    // The node's checkpoint verifies with OpenSSL.
    let note_text = wait_for_checkpoint(&node.url, n);
    let note = Note::parse(note_text.as_bytes()).unwrap();
    let sig = note
        .sigs
        .iter()
        .find(|s| s.key_id == desc.log_key.key_id())
        .unwrap();
    let PublicKey::Sm2(log_pk) = desc.log_key.public_key() else {
        panic!("SM2 log key")
    };
    std::fs::write(d.join("log.pub.pem"), pem::public_to_pem(log_pk)).unwrap();
    let o = openssl_verifies(d, "log.pub.pem", DEFAULT_ID, note.text.as_bytes(), &sig.sig);
    assert!(o, "OpenSSL refused the node's checkpoint");
    let altered = note.text.replacen(&n.to_string(), &(n + 1).to_string(), 1);
    assert!(
        !openssl_verifies(d, "log.pub.pem", DEFAULT_ID, altered.as_bytes(), &sig.sig),
        "OpenSSL must refuse an altered checkpoint"
    );

    // The node's root, recomputed by OpenSSL over the node's own leaves.
    let cp = Checkpoint::parse(&note.text).unwrap();
    let (code, bundle) = get_bytes(&format!("{}/tile/entries/000.p/{n}", node.url));
    assert_eq!(code, 200);
    let leaves = regledger::tlog::tile::decode_entry_bundle(&bundle, n as usize).unwrap();
    assert_eq!(
        mth(d, &leaves),
        cp.root,
        "OpenSSL's SM3 tree root equals the node's"
    );

    // The regulator's commands in sm3 mode: audit and the certificate.
    let lf = d.join("log.json");
    std::fs::write(&lf, &log_json).unwrap();
    let out = Command::new(bin("regledger-verify"))
        .args(["--json", "audit", "--url", &node.url, "--log"])
        .arg(&lf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "audit: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let b: regledger::cert::bundle::CertificateBundle = serde_json::from_value(get_json(&format!(
        "{}/v1/certificates/{REGISTRATION_NO}",
        node.url
    )))
    .unwrap();
    let v = regledger::cert::bundle::verify_bundle(&b, &desc).unwrap();
    assert_eq!(v.status, "revoked");
    // Verified, and proven 已撤销登记 (revoked): exit 4 (docs/regulator.md).
    let (code, err) = verify_cert(d, &lf, &b);
    assert_eq!(code, Some(4), "{err}");
}

fn node_cmd(args: &[&str]) -> std::process::Output {
    Command::new(bin("regledger-node"))
        .args(args)
        .output()
        .unwrap()
}

/// Key files to and from PEM: keygen --alg sm2 --pem writes what OpenSSL
/// reads (and signs with, verifying under the key regledger printed);
/// pem-import takes a key OpenSSL generated, pem-export gives it back.
#[test]
fn sm2_pem_keys_interoperate_with_openssl() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |f: &str| d.join(f).to_str().unwrap().to_string();
    let o = node_cmd(&[
        "keygen",
        "--alg",
        "sm2",
        "--pem",
        "--name",
        "gx-operator",
        "--out",
        &p("op.key"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(printed["alg"], "sm2");
    let vkey =
        regledger::tlog::note::VerifierKey::parse(printed["vkey"].as_str().unwrap()).unwrap();
    // OpenSSL derives the same public key from the PKCS#8 file.
    let o = openssl(
        d,
        &[
            "pkey",
            "-in",
            "op.key.pem",
            "-pubout",
            "-out",
            "derived.pub.pem",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let derived = pem::public_from_pem(
        &std::fs::read_to_string(d.join("derived.pub.pem")).unwrap(),
        None,
    )
    .unwrap();
    let written = pem::public_from_pem(
        &std::fs::read_to_string(d.join("op.key.pub.pem")).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(derived, written);
    assert_eq!(&PublicKey::Sm2(derived), vkey.public_key());
    // OpenSSL signs with it; regledger verifies under the printed key.
    std::fs::write(d.join("m"), b"regledger pem interop").unwrap();
    let o = openssl(
        d,
        &[
            "pkeyutl",
            "-sign",
            "-inkey",
            "op.key.pem",
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
            "-in",
            "m",
            "-out",
            "m.sig",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rs = der_to_rs(&std::fs::read(d.join("m.sig")).unwrap());
    vkey.public_key()
        .verify(SigAlg::Sm2, b"regledger pem interop", &rs)
        .unwrap();
    assert!(vkey
        .public_key()
        .verify(SigAlg::Sm2, b"regledger pem interoq", &rs)
        .is_err());

    // A key OpenSSL generated, imported as a witness key, exported back.
    let o = openssl(d, &["genpkey", "-algorithm", "SM2", "-out", "w.pem"]);
    assert!(o.status.success());
    let o = node_cmd(&[
        "pem-import",
        "--pem",
        &p("w.pem"),
        "--name",
        "venue.example",
        "--type",
        "sm2-witness",
        "--out",
        &p("w.key"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let imported: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let wv = regledger::tlog::note::VerifierKey::parse(imported["vkey"].as_str().unwrap()).unwrap();
    assert_eq!(
        wv.key_type(),
        regledger::tlog::note::KeyType::Sm2CosignatureV1
    );
    let o = openssl(d, &["pkey", "-in", "w.pem", "-pubout", "-out", "w.pub.pem"]);
    assert!(o.status.success());
    let wpub =
        pem::public_from_pem(&std::fs::read_to_string(d.join("w.pub.pem")).unwrap(), None).unwrap();
    assert_eq!(&PublicKey::Sm2(wpub), wv.public_key());
    let o = node_cmd(&["pem-export", "--key", &p("w.key"), "--out", &p("w2")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = openssl(
        d,
        &["pkey", "-in", "w2.pem", "-pubout", "-out", "w2.pub.pem"],
    );
    assert!(
        o.status.success(),
        "OpenSSL reads the exported key: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read(d.join("w2.pub.pem")).unwrap(),
        std::fs::read(d.join("w.pub.pem")).unwrap()
    );
    // From the vkey alone (what an assessor has): the same public key PEM.
    let o = node_cmd(&[
        "pem-export",
        "--vkey",
        imported["vkey"].as_str().unwrap(),
        "--out",
        &p("w3"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(d.join("w3.pub.pem")).unwrap(),
        std::fs::read(d.join("w.pub.pem")).unwrap()
    );
    assert!(!d.join("w3.pem").exists());

    // Bad input: a public key or garbage as a private key, an Ed25519 key
    // to export, an unknown algorithm; nothing is written.
    std::fs::write(
        d.join("junk.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for bad in ["w.pub.pem", "junk.pem", "m"] {
        let o = node_cmd(&[
            "pem-import",
            "--pem",
            &p(bad),
            "--name",
            "x",
            "--out",
            &p("never.key"),
        ]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("SM2 key in PEM"),
            "{bad}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(!d.join("never.key").exists());
    let o = node_cmd(&["keygen", "--name", "ed", "--out", &p("ed.key")]);
    assert!(o.status.success());
    let o = node_cmd(&["pem-export", "--key", &p("ed.key"), "--out", &p("ed")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("PEM export is for SM2 keys"));
    let o = node_cmd(&[
        "keygen",
        "--alg",
        "rsa",
        "--name",
        "x",
        "--out",
        &p("rsa.key"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!d.join("rsa.key").exists());
}

/// A stated signer ID (issue 15: "Signer ID: default, or a stated one"),
/// end to end with OpenSSL: a key OpenSSL generated is registered with a
/// stated ID (the point, then the ID); an envelope OpenSSL signs under
/// that ID (`-pkeyopt distid:…`) is logged; the same key's signatures
/// under the default ID or another ID are refused, saying why, with
/// nothing written. And the reverse: the node's SM2 code signs under the
/// stated ID what OpenSSL verifies under that ID only.
#[test]
fn a_stated_signer_id_is_honoured_as_openssl_signs_with_it() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kit = Testkit::live(ORIGIN).with_sm2();
    let (node, _, mut n) = sm3_lifecycle_node(d, &kit);
    const ID: &str = "GX-NN-MOBILITY-01";

    let o = openssl(d, &["genpkey", "-algorithm", "SM2", "-out", "stated.pem"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pem_text = std::fs::read_to_string(d.join("stated.pem")).unwrap();
    let key = pem::private_from_pem(&pem_text, Some(ID)).unwrap();
    let pk = PublicKey::Sm2(key.public().clone());
    assert_eq!(
        pk.material().len(),
        65 + ID.len(),
        "the material is the point, then the stated ID"
    );
    assert!(pk.material().ends_with(ID.as_bytes()));
    std::fs::write(d.join("stated.pub.pem"), pem::public_to_pem(key.public())).unwrap();
    let kid = participant_key_id(&kit.business.id, &pk);
    let rot = kit.authority.sign(
        EntryKind::ParticipantKeyRotated,
        &json!({"id": kit.business.id, "add_keys": [B64.encode(pk.material())]}),
    );
    let (code, body) = post(&node.url, &rot);
    assert_eq!(code, 200, "{body}");
    n += 1;

    let ptype = payload_type_for("operation-event");
    let event = |records: u64| {
        serde_json::to_vec(&json!({"agreement_id": "SA-1", "action": "access",
            "occurred_at_ms": kit.base_ms, "actor": "openssl-stated-id", "records": records}))
        .unwrap()
    };
    let signed_by_openssl = |payload: &[u8], id: &str| Envelope {
        payload_type: ptype.clone(),
        payload: payload.to_vec(),
        signatures: vec![EnvelopeSignature {
            alg: SigAlg::Sm2,
            key_id: kid.clone(),
            sig: openssl_sign(d, "stated.pem", id, &Envelope::pae(&ptype, payload)).to_vec(),
        }],
    };
    // Under the default ID and under another: refused, saying why, nothing written.
    for (id, what) in [
        (DEFAULT_ID, "the default ID"),
        ("GX-OTHER-02", "another ID"),
    ] {
        let (code, body) = post(&node.url, &signed_by_openssl(&event(1), id));
        assert!((400..500).contains(&code), "{what}: {code} {body}");
        let said = body.to_string();
        assert!(
            said.contains("bad-signature") && said.contains(&kid),
            "{what}: the refusal names the signature and its key: {body}"
        );
        assert_eq!(tree_size(&node.url), n, "{what}: nothing written");
    }
    // Under the stated ID: logged.
    let (code, body) = post(&node.url, &signed_by_openssl(&event(2), ID));
    assert_eq!(
        code, 200,
        "the envelope OpenSSL signed under the stated ID: {body}"
    );
    n += 1;
    assert_eq!(tree_size(&node.url), n);

    // The reverse: regledger's SM2 under the stated ID verifies with
    // OpenSSL under that ID, and not under the default.
    let msg = Envelope::pae(&ptype, &event(3));
    let ours = Envelope::sign_with(&ptype, event(3), &kid, &SecretKey::Sm2(key));
    let rs = &ours.signatures[0].sig;
    assert!(openssl_verifies(d, "stated.pub.pem", ID, &msg, rs));
    assert!(!openssl_verifies(d, "stated.pub.pem", DEFAULT_ID, &msg, rs));
    let (code, body) = post(&node.url, &ours);
    assert_eq!(code, 200, "{body}");
}
