//! The verdict on an honest bundle from a replayed lifecycle, and on
//! bundles tampered part by part: each tamper fails the verdict and names
//! the check it belongs to.

use super::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::cert::assemble::assemble;
use regledger::cert::bundle::{CertificateBundle, EntryProof};
use regledger::descriptor::LogDescriptorJson;
use regledger::testkit::{replay, Testkit, REGISTRATION_NO};
use regledger::tlog::checkpoint::sign_checkpoint;
use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::cosignature::{add_signatures, cosign};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, Signer};

const ORIGIN: &str = "regledger.test/web-verify";

struct Fixture {
    bundle: CertificateBundle,
    log_json: String,
    leaf_hash: String,
}

/// fixture replays the testkit lifecycle up to `upto` steps, signs a
/// checkpoint over it, has one witness cosign it (quorum 1), and
/// assembles the certificate bundle of the product.
fn fixture(upto: usize) -> Fixture {
    let kit = Testkit::new(ORIGIN);
    let suite = HashSuite::Blake3;
    let steps = kit.lifecycle(suite, "guangxi");
    let r = replay(ORIGIN, suite, &steps[..upto]).expect("valid history");
    let bytes: Vec<Vec<u8>> = r.leaves.iter().map(|l| l.to_bytes()).collect();
    let mut tree = MemoryTree::new(suite);
    for b in &bytes {
        tree.append_data(b);
    }
    let log = Signer::generate(ORIGIN, KeyType::Ed25519, [9; 32]).unwrap();
    let w = Signer::generate("witness.test", KeyType::CosignatureV1, [10; 32]).unwrap();
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: tree.size(),
        root: tree.root(),
        extensions: vec![],
    };
    let note = sign_checkpoint(&cp, &log).unwrap();
    let note = add_signatures(&note, &[cosign(&w, &cp.to_text(), 1_700_000_000).unwrap()]).unwrap();
    let bundle = assemble(
        ORIGIN,
        &r.state,
        REGISTRATION_NO,
        &note,
        |i| {
            Ok(EntryProof {
                index: i,
                leaf: B64.encode(&bytes[i as usize]),
                inclusion_proof: tree
                    .prove_inclusion(cp.size, i)
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(|h| B64.encode(h.0))
                    .collect(),
                envelope: Some(B64.encode(r.envelopes[i as usize].to_bytes())),
            })
        },
        None,
    )
    .unwrap();
    let log_json = serde_json::to_string(&LogDescriptorJson {
        origin: ORIGIN.into(),
        log_vkey: log.verifier().to_vkey(),
        hash: "blake3".into(),
        witnesses: vec![w.verifier().to_vkey()],
        quorum: 1,
        profile: "guangxi".into(),
    })
    .unwrap();
    let reg = r
        .state
        .product_by_registration_no(REGISTRATION_NO)
        .unwrap()
        .registration
        .unwrap()
        .index;
    let leaf_hash = suite.leaf_hash(&bytes[reg as usize]).to_hex();
    Fixture {
        bundle,
        log_json,
        leaf_hash,
    }
}

fn run(f: &Fixture, b: &CertificateBundle, h: &str) -> Verdict {
    verdict(
        &serde_json::to_vec(b).unwrap(),
        f.log_json.as_bytes(),
        REGISTRATION_NO,
        h,
    )
}

fn result(v: &Verdict, id: &str) -> Outcome {
    v.checks.iter().find(|c| c.id == id).unwrap().result
}

/// lifecycle steps up to and including the registration and the suspension.
const UPTO_SUSPENDED: usize = 18;

#[test]
fn an_honest_bundle_passes_every_check_and_reads_verified() {
    let f = fixture(UPTO_SUSPENDED);
    let v = run(&f, &f.bundle, &f.leaf_hash[..8]);
    assert!(v.ok, "{v:#?}");
    assert_eq!(v.verdict, "验证通过");
    for c in &v.checks {
        let want = if c.id == "status" {
            Outcome::NotProven
        } else {
            Outcome::Pass
        };
        assert_eq!(c.result, want, "{c:?}");
    }
    assert_eq!(v.status.as_ref().unwrap()["label_zh"], "暂停");
    assert_eq!(v.witnesses, vec!["witness.test".to_string()]);
    let cert = v.certificate.as_ref().unwrap();
    assert_eq!(cert["registration_no"], REGISTRATION_NO);
    assert_eq!(cert["blockchain_no"], f.bundle.blockchain_no.as_str());
    assert_eq!(v.leaf_hash.as_deref(), Some(f.leaf_hash.as_str()));
    // Opened without a QR code: the hash check does not run, the verdict still passes.
    let plain = run(&f, &f.bundle, "");
    assert!(plain.ok);
    assert_eq!(result(&plain, "qr_hash"), Outcome::NotRun);
}

/// Tamper alters a bundle.
type Tamper = Box<dyn Fn(&mut CertificateBundle)>;

#[test]
fn each_tamper_fails_and_names_its_check() {
    let f = fixture(UPTO_SUSPENDED);
    let tampers: Vec<(&str, Tamper)> = vec![
        (
            "log_signature",
            Box::new(|b| {
                // Another log key's signature only.
                let other = Signer::generate(ORIGIN, KeyType::Ed25519, [11; 32]).unwrap();
                let cp = Checkpoint::parse(
                    &regledger::tlog::note::Note::parse(b.checkpoint.as_bytes())
                        .unwrap()
                        .text,
                )
                .unwrap();
                b.checkpoint = sign_checkpoint(&cp, &other).unwrap();
            }),
        ),
        (
            "witness_quorum",
            Box::new(|b| {
                // Drop the witness's cosignature line.
                let mut n = regledger::tlog::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
                n.sigs.retain(|s| s.name == ORIGIN);
                b.checkpoint = n.to_text();
            }),
        ),
        (
            "inclusion",
            Box::new(|b| {
                let mut p = B64.decode(&b.entry.inclusion_proof[0]).unwrap();
                p[0] ^= 1;
                b.entry.inclusion_proof[0] = B64.encode(p);
            }),
        ),
        (
            "certificate",
            Box::new(|b| b.certificate.product_name = "伪造的产品".into()),
        ),
        (
            "certificate",
            Box::new(|b| {
                let last = b.blockchain_no.pop().unwrap();
                b.blockchain_no.push(if last == '0' { '1' } else { '0' });
            }),
        ),
        (
            "signer_history",
            Box::new(|b| {
                b.signer_entries.retain(|e| e.index == 0);
            }),
        ),
        ("status", Box::new(|b| b.status.state = "active".into())),
        (
            "bundle",
            Box::new(|b| b.origin = "regledger.test/another".into()),
        ),
    ];
    for (want, t) in tampers {
        let mut b = f.bundle.clone();
        t(&mut b);
        let v = run(&f, &b, &f.leaf_hash[..8]);
        assert!(!v.ok, "{want}: {v:#?}");
        assert_eq!(v.failed, Some(want), "{v:#?}");
        let zh = CHECKS.iter().find(|c| c.0 == want).unwrap().1;
        assert!(v.verdict.contains(zh), "{}", v.verdict);
        assert!(v.certificate.is_none());
    }
}

#[test]
fn a_wrong_page_or_printed_prefix_fails() {
    let f = fixture(UPTO_SUSPENDED);
    let other_h = if f.leaf_hash.starts_with('0') {
        "11111111"
    } else {
        "00000000"
    };
    let v = run(&f, &f.bundle, other_h);
    assert_eq!(v.failed, Some("qr_hash"), "{v:#?}");
    let v = run(&f, &f.bundle, "NOT-HEX!");
    assert_eq!(v.failed, Some("qr_hash"));
    let v = verdict(
        &serde_json::to_vec(&f.bundle).unwrap(),
        f.log_json.as_bytes(),
        "GXDP-2025-999999",
        "",
    );
    assert_eq!(v.failed, Some("certificate"), "{v:#?}");
}

#[test]
fn another_log_key_in_log_json_fails_the_log_signature() {
    let f = fixture(UPTO_SUSPENDED);
    let mut d: LogDescriptorJson = serde_json::from_str(&f.log_json).unwrap();
    d.log_vkey = Signer::generate(ORIGIN, KeyType::Ed25519, [12; 32])
        .unwrap()
        .verifier()
        .to_vkey();
    let v = verdict(
        &serde_json::to_vec(&f.bundle).unwrap(),
        serde_json::to_string(&d).unwrap().as_bytes(),
        "",
        "",
    );
    assert_eq!(v.failed, Some("log_signature"), "{v:#?}");
    assert_eq!(
        v.log_fingerprint.as_deref(),
        Some(fingerprint(&d.log_vkey).as_str())
    );
}

#[test]
fn garbage_inputs_fail_cleanly() {
    let f = fixture(UPTO_SUSPENDED);
    let v = verdict(b"{", f.log_json.as_bytes(), "", "");
    assert_eq!(v.failed, Some("bundle"));
    let v = verdict(b"{}", b"not json", "", "");
    assert_eq!(v.failed, Some("log_key"));
    assert!(v.checks.iter().skip(1).all(|c| c.result == Outcome::NotRun));
}

#[test]
fn the_fingerprint_is_four_groups_of_sha256_hex() {
    let fp = fingerprint("example.org+01234567+AAAA");
    assert_eq!(fp.len(), 19);
    let want = HashSuite::Sha256
        .digest(&[b"example.org+01234567+AAAA"])
        .to_hex();
    assert_eq!(fp.replace(' ', ""), want[..16]);
}
