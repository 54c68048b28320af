//! SM2 through the stack, at the library level (D19): envelopes (tag 2,
//! JSON "sm2"), registry keys, note keys (type 0xff with regledger's
//! identifiers), checkpoints, witness cosignatures and log.json; and every
//! bad input the issue names, each refused with a clear error (the rules
//! return an error, so nothing is written). The expected key ids and vkeys
//! were computed independently with Python's hashlib from FORMATS.md.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::crypto::sm2::Sm2SecretKey;
use regledger::crypto::{PublicKey, SecretKey, SigAlg};
use regledger::descriptor::{verify_checkpoint, LogDescriptor, LogDescriptorJson};
use regledger::entry::envelope::{participant_key_id, Envelope, EnvelopeError};
use regledger::registry::{apply, EntryContext, EntryKind, RuleViolation};
use regledger::testkit::{replay, Testkit};
use regledger::tlog::checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint};
use regledger::tlog::cosignature::{add_signatures, cosign};
use regledger::tlog::note::{open_note, KeyError, KeyType, NoteError, Signer, VerifierKey};
use regledger::HashSuite;
use serde_json::json;

const ORIGIN: &str = "regledger.test/sm3";

/// The public key of GB/T 32918.5 Annex A (its d is in the vectors file).
const ANNEX_D: &str = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";

fn annex_key() -> SecretKey {
    let d: [u8; 32] = hex::decode(ANNEX_D).unwrap().try_into().unwrap();
    SecretKey::from_seed(SigAlg::Sm2, &d).unwrap()
}

#[test]
fn note_key_ids_and_vkeys_match_the_written_derivation() {
    let s = Signer::from_secret("example.org/sm3-log", KeyType::Sm2, annex_key()).unwrap();
    assert_eq!(
        s.verifier().to_vkey(),
        "example.org/sm3-log+3d0f1deb+/3JlZ2xlZGdlci9zbTItbm90ZS92MQQJ+d8xHlQhoVDdfRYeS8XGchefrRgz/AdrsI/zVvNQIMzqSQziZ3WlLcbqcYzBqmAK7QX7814ISmYy9gctqa0T"
    );
    let w = Signer::from_secret(
        "example.org/sm3-log",
        KeyType::Sm2CosignatureV1,
        annex_key(),
    )
    .unwrap();
    assert_eq!(
        w.verifier().to_vkey(),
        "example.org/sm3-log+d90dc2af+/3JlZ2xlZGdlci9zbTItY29zaWduYXR1cmUvdjEECfnfMR5UIaFQ3X0WHkvFxnIXn60YM/wHa7CP81bzUCDM6kkM4md1pS3G6nGMwapgCu0F+/NeCEpmMvYHLamtEw=="
    );
    // Participant key id: SHA-256 of the 65-byte point.
    assert_eq!(
        participant_key_id("p", &annex_key().public_key()),
        "p/7ad64964"
    );
    // Parse back, skey round trip.
    let v = VerifierKey::parse(&s.verifier().to_vkey()).unwrap();
    assert_eq!(v, s.verifier());
    assert_eq!(Signer::from_skey(&s.to_skey()).unwrap().verifier(), v);
}

#[test]
fn hostile_sm2_vkeys_are_refused() {
    let s = Signer::from_secret("k", KeyType::Sm2, annex_key()).unwrap();
    let vk = s.verifier().to_vkey();
    let mut parts = vk.splitn(3, '+');
    let head = format!("{}+{}", parts.next().unwrap(), parts.next().unwrap());
    let b64 = parts.next().unwrap();
    let raw = B64.decode(b64).unwrap();
    let with = |raw: &[u8]| format!("{head}+{}", B64.encode(raw));
    // Unknown identifier after 0xff.
    let mut unknown = raw.clone();
    unknown[1] = b'R';
    assert_eq!(
        VerifierKey::parse(&with(&unknown)),
        Err(KeyError::Algorithm(0xff))
    );
    // Point off the curve, compressed point, point at infinity, truncated.
    let id_len = 1 + regledger::tlog::note::SM2_NOTE_ID.len();
    let mut off = raw.clone();
    *off.last_mut().unwrap() ^= 1;
    let mut compressed = raw[..id_len + 33].to_vec();
    compressed[id_len] = 0x02;
    let mut infinity = raw[..id_len].to_vec();
    infinity.push(0);
    let mut zeros = raw[..id_len].to_vec();
    zeros.extend([0u8; 65]);
    for bad in [
        off,
        compressed,
        infinity,
        zeros,
        raw[..raw.len() - 1].to_vec(),
    ] {
        let e = VerifierKey::parse(&with(&bad)).unwrap_err();
        assert!(matches!(e, KeyError::Key(_)), "{e:?}");
    }
    // A stated signer ID is not allowed on a note key.
    let mut id = raw.clone();
    id.extend_from_slice(b"ALICE");
    assert!(matches!(
        VerifierKey::parse(&with(&id)),
        Err(KeyError::Key(_))
    ));
    // A wrong key id, and the key id of the same point as a witness key.
    assert_eq!(
        VerifierKey::parse(&format!("k+00000000+{b64}")),
        Err(KeyError::IdMismatch)
    );
    let w = Signer::from_secret("k", KeyType::Sm2CosignatureV1, annex_key()).unwrap();
    let wid = format!("{:08x}", w.key_id());
    assert_eq!(
        VerifierKey::parse(&format!("k+{wid}+{b64}")),
        Err(KeyError::IdMismatch)
    );
}

#[test]
fn sm2_checkpoints_and_cosignatures() {
    let log = Signer::generate(ORIGIN, KeyType::Sm2, [3; 32]).unwrap();
    let w = Signer::generate("w.example", KeyType::Sm2CosignatureV1, [4; 32]).unwrap();
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 5,
        root: HashSuite::Sm3.empty_root(),
        extensions: vec![],
    };
    let note = sign_checkpoint(&cp, &log).unwrap();
    open_checkpoint(note.as_bytes(), &log.verifier()).unwrap();
    let cs = cosign(&w, &cp.to_text(), 1_700_000_000).unwrap();
    assert_eq!(cs.sig.len(), 8 + 64);
    let cosigned = add_signatures(&note, &[cs]).unwrap();
    let desc = LogDescriptor::from_json(&LogDescriptorJson {
        origin: ORIGIN.into(),
        log_vkey: log.verifier().to_vkey(),
        hash: "sm3".into(),
        witnesses: vec![w.verifier().to_vkey()],
        quorum: 1,
        profile: "guangxi".into(),
    })
    .unwrap();
    verify_checkpoint(cosigned.as_bytes(), &desc).unwrap();
    assert!(verify_checkpoint(note.as_bytes(), &desc).is_err(), "quorum");
    // A witness key cannot sign a checkpoint, a note key cannot cosign.
    assert!(sign_checkpoint(&cp, &w).is_err());
    assert!(cosign(&log, &cp.to_text(), 1).is_err());

    // An Ed25519 signature under the SM2 key's name and id is refused
    // (the SM2 verifier judges it), and the reverse.
    let ed = Signer::generate(ORIGIN, KeyType::Ed25519, [3; 32]).unwrap();
    let ed_note = sign_checkpoint(&cp, &ed).unwrap();
    let ed_sig = ed_note.trim_end().rsplit(' ').next().unwrap();
    let raw = B64.decode(ed_sig).unwrap();
    let mut forged = log.key_id().to_be_bytes().to_vec();
    forged.extend_from_slice(&raw[4..]);
    let swapped = format!("{}\n— {ORIGIN} {}\n", cp.to_text(), B64.encode(&forged));
    let v = log.verifier();
    assert!(matches!(
        open_note(
            swapped.as_bytes(),
            &[&*regledger::tlog::checkpoint::verifier_for(&v)]
        ),
        Err(NoteError::InvalidSignature { .. })
    ));
    let sm2_sig = B64
        .decode(note.trim_end().rsplit(' ').next().unwrap())
        .unwrap();
    let mut forged = ed.key_id().to_be_bytes().to_vec();
    forged.extend_from_slice(&sm2_sig[4..]);
    let swapped = format!("{}\n— {ORIGIN} {}\n", cp.to_text(), B64.encode(&forged));
    assert!(open_checkpoint(swapped.as_bytes(), &ed.verifier()).is_err());
}

#[test]
fn an_sm3_log_json_takes_sm2_keys_only() {
    let log = Signer::generate(ORIGIN, KeyType::Sm2, [3; 32]).unwrap();
    let ed = Signer::generate(ORIGIN, KeyType::Ed25519, [3; 32]).unwrap();
    let ed_w = Signer::generate("w", KeyType::CosignatureV1, [4; 32]).unwrap();
    let j = |log_vkey: String, witnesses: Vec<String>| LogDescriptorJson {
        origin: ORIGIN.into(),
        log_vkey,
        hash: "sm3".into(),
        quorum: witnesses.len(),
        witnesses,
        profile: "guangxi".into(),
    };
    let e = LogDescriptor::from_json(&j(ed.verifier().to_vkey(), vec![])).unwrap_err();
    assert!(e.to_string().contains("an sm3 log's key is SM2"), "{e}");
    let e = LogDescriptor::from_json(&j(
        log.verifier().to_vkey(),
        vec![ed_w.verifier().to_vkey()],
    ))
    .unwrap_err();
    assert!(e.to_string().contains("cosign with SM2"), "{e}");
    assert!(LogDescriptor::from_json(&j(log.verifier().to_vkey(), vec![])).is_ok());
}

fn ctx(index: usize, t: u64) -> EntryContext {
    EntryContext {
        index: index as u64,
        integrated_time_ms: t,
        log_id: ORIGIN.into(),
    }
}

#[test]
fn an_sm3_log_of_sm2_participants_replays() {
    let k = Testkit::new(ORIGIN).with_sm2();
    let steps = k.lifecycle(HashSuite::Sm3, "guangxi");
    let r = replay(ORIGIN, HashSuite::Sm3, &steps)
        .unwrap_or_else(|(i, e)| panic!("step {i} ({}) rejected: {e}", steps[i].label));
    // Every signature is SM2 (tag 2), and its binary and JSON forms read back.
    for s in &steps {
        let e = &s.envelope;
        assert!(e.signatures.iter().all(|s| s.alg == SigAlg::Sm2));
        assert_eq!(&Envelope::from_bytes(&e.to_bytes()).unwrap(), e);
        assert_eq!(&Envelope::from_json(&e.to_json()).unwrap(), e);
        assert_eq!(e.to_json()["signatures"][0]["alg"], "sm2");
        assert_eq!(
            e.to_bytes()[e.to_bytes().len() - 64 - 2 - 1 - e.signatures[0].key_id.len() - 1],
            2
        );
    }
    // Registry state stores the SM2 key in its tagged form.
    let key = regledger::registry::key_of(&r.state, &k.operator.key_id()).unwrap();
    assert_eq!(key, k.operator.public_key());
    assert!(key.to_state_string().starts_with("sm2:04"));
    assert_eq!(
        PublicKey::from_state_string(&key.to_state_string()).unwrap(),
        key
    );
}

/// The bad inputs of the issue against the rules: each refused with a
/// clear error (so the entry is not logged and no state is written).
#[test]
fn bad_sm2_inputs_are_refused_by_the_rules() {
    let k = Testkit::new(ORIGIN).with_sm2();
    let setup = k.setup(HashSuite::Sm3, "guangxi");
    let r = replay(ORIGIN, HashSuite::Sm3, &setup).unwrap();
    let c = ctx(setup.len(), k.at(2, 0));
    let event = json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": k.at(2, 0) - 1, "actor": "svc-1", "records": 1});
    let good = k.business.sign(EntryKind::OperationEvent, &event);
    apply(&r.state, &c, &good).expect("the good event applies");
    let bad_sig = |f: &dyn Fn(&mut Envelope)| {
        let mut e = good.clone();
        f(&mut e);
        apply(&r.state, &c, &e).unwrap_err()
    };
    let n =
        hex::decode("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123").unwrap();
    for (what, v) in [
        ("r = 0", (0, vec![0u8; 32])),
        ("s = 0", (32, vec![0u8; 32])),
        ("r = n", (0, n.clone())),
        ("s = n", (32, n.clone())),
        ("s > n", (32, vec![0xff; 32])),
    ] {
        let e =
            bad_sig(&|e: &mut Envelope| e.signatures[0].sig[v.0..v.0 + 32].copy_from_slice(&v.1));
        assert!(matches!(e, RuleViolation::BadSignature(_)), "{what}: {e:?}");
        assert!(e.to_string().contains("does not verify"), "{what}: {e}");
    }
    // An Ed25519-tagged signature on the SM2 key id.
    let e = bad_sig(&|e: &mut Envelope| e.signatures[0].alg = SigAlg::Ed25519);
    assert!(
        e.to_string()
            .contains("says ed25519, but the key registered under it is sm2"),
        "{e}"
    );
    // The reverse: an SM2 signature on an Ed25519 key id.
    let ek = Testkit::new(ORIGIN);
    let es = ek.setup(HashSuite::Sm3, "guangxi");
    let er = replay(ORIGIN, HashSuite::Sm3, &es).unwrap();
    let mut e = ek.business.sign(EntryKind::OperationEvent, &event);
    let sm2 = Sm2SecretKey::from_bytes(&[9; 32], None).unwrap();
    e.signatures[0].alg = SigAlg::Sm2;
    e.signatures[0].sig = sm2
        .sign(&Envelope::pae(&e.payload_type, &e.payload))
        .to_vec();
    let v = apply(&er.state, &ctx(es.len(), k.at(2, 0)), &e).unwrap_err();
    assert!(
        v.to_string()
            .contains("says sm2, but the key registered under it is ed25519"),
        "{v}"
    );

    // A wrong signer ID: the business registers its key with a stated ID;
    // a signature under the default ID does not verify.
    let point = k.business.public_key();
    let PublicKey::Sm2(p) = &point else { panic!() };
    let stated = regledger::crypto::Sm2PublicKey::new(p.point(), Some("nn-mobility@gx")).unwrap();
    let stated_kid = participant_key_id(&k.business.id, &PublicKey::Sm2(stated.clone()));
    let rot = k.authority.sign(
        EntryKind::ParticipantKeyRotated,
        &json!({"id": k.business.id, "add_keys": [B64.encode(stated.material())], "retire_key_ids": [k.business.key_id()]}),
    );
    let fx = apply(&r.state, &c, &rot).expect("a key with a stated signer ID registers");
    let mut st = r.state.clone();
    for (key, v) in fx.writes {
        st.0.insert(key, v);
    }
    let under_default = Envelope::sign_with(
        &good.payload_type,
        good.payload.clone(),
        &stated_kid,
        k.business.sm2.as_ref().unwrap(),
    );
    let v = apply(&st, &ctx(setup.len() + 1, k.at(2, 0)), &under_default).unwrap_err();
    assert!(matches!(v, RuleViolation::BadSignature(_)), "{v:?}");
    let sk_stated = SecretKey::Sm2(
        Sm2SecretKey::from_bytes(&k.business.secret().to_seed(), Some("nn-mobility@gx")).unwrap(),
    );
    let under_stated = Envelope::sign_with(
        &good.payload_type,
        good.payload.clone(),
        &stated_kid,
        &sk_stated,
    );
    apply(&st, &ctx(setup.len() + 1, k.at(2, 0)), &under_stated)
        .expect("signed under the stated ID");

    // Malformed points in a registration: off the curve, compressed, the
    // point at infinity (65 zero bytes, or the single byte 0x00), and an
    // over-long signer ID.
    let mut off = p.point().to_vec();
    off[64] ^= 1;
    let mut compressed = p.point()[..33].to_vec();
    compressed[0] = 3;
    let mut long_id = p.point().to_vec();
    long_id.extend([b'x'; 65]);
    for (what, bad) in [
        ("off the curve", off),
        ("compressed", compressed),
        ("infinity", vec![0u8; 65]),
        ("infinity byte", vec![0u8]),
        ("long id", long_id),
    ] {
        let reg = k.authority.sign(
            EntryKind::ParticipantRegistered,
            &json!({"id": "new-party", "name": "新单位", "role": "business-entity", "public_keys": [B64.encode(&bad)]}),
        );
        let v = apply(&r.state, &c, &reg).unwrap_err();
        assert_eq!(v.code(), "malformed-payload", "{what}: {v}");
        assert!(v.to_string().contains("public key"), "{what}: {v}");
    }
}

#[test]
fn require_sm2_refuses_ed25519_keys() {
    let k = Testkit::new(ORIGIN).with_sm2();
    let g = |require: bool, key: String| {
        let mut p = json!({"origin": ORIGIN, "hash": "sm3", "profile": "guangxi",
            "authority": {"id": k.authority.id, "name": k.authority.name, "role": "data-authority", "public_keys": [key]}});
        if require {
            p["require_sm2"] = json!(true);
        }
        p
    };
    let state = regledger::registry::MemoryState::default();
    let genesis = k
        .authority
        .sign(EntryKind::Genesis, &g(true, k.authority.public_key_b64()));
    let fx = apply(&state, &ctx(0, k.at(0, 0)), &genesis).unwrap();
    // An Ed25519 authority key under require_sm2 is refused at genesis.
    let ek = Testkit::new(ORIGIN);
    let v = apply(
        &state,
        &ctx(0, k.at(0, 0)),
        &ek.authority
            .sign(EntryKind::Genesis, &g(true, ek.authority.public_key_b64())),
    )
    .unwrap_err();
    assert!(v.to_string().contains("requires SM2"), "{v}");
    // And a participant's Ed25519 key afterwards.
    let mut st = state.clone();
    for (key, v) in fx.writes {
        st.0.insert(key, v);
    }
    let reg = |p: &regledger::testkit::Party| {
        k.authority
            .sign(EntryKind::ParticipantRegistered, &p.spec())
    };
    let v = apply(&st, &ctx(1, k.at(0, 1)), &reg(&ek.agency)).unwrap_err();
    assert!(v.to_string().contains("requires SM2"), "{v}");
    apply(&st, &ctx(1, k.at(0, 1)), &reg(&k.agency)).expect("an SM2 key registers");
    // Without the field, both kinds of key are accepted (and the genesis
    // JSON of existing logs, which lacks it, is unchanged).
    let plain = k
        .authority
        .sign(EntryKind::Genesis, &g(false, k.authority.public_key_b64()));
    assert!(!String::from_utf8(plain.payload.clone())
        .unwrap()
        .contains("require_sm2"));
}

#[test]
fn envelope_layouts_refuse_unknown_tags() {
    let k = Testkit::new(ORIGIN).with_sm2();
    let e = k.business.sign(EntryKind::OperationEvent, &json!({"x": 1}));
    let mut b = e.to_bytes();
    let at = b.len() - 64 - 2 - e.signatures[0].key_id.len() - 1 - 1;
    assert_eq!(b[at], 2);
    b[at] = 3;
    assert!(
        matches!(Envelope::from_bytes(&b), Err(EnvelopeError::Malformed(m)) if m.contains("unknown signature algorithm 3"))
    );
}
