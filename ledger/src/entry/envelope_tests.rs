//! Unit tests of the envelope, kept beside it in their own file (the module
//! itself stays a readable length).

use super::*;

fn ed(k: &SigningKey) -> PublicKey {
    PublicKey::Ed25519(k.verifying_key().to_bytes())
}

#[test]
fn verify_batch_names_exactly_the_bad_signatures() {
    let keys: Vec<SigningKey> = (1..=12u8)
        .map(|i| SigningKey::from_bytes(&[i; 32]))
        .collect();
    let envs: Vec<(Envelope, String, PublicKey)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let id = participant_key_id(&format!("p{i}"), &ed(k));
            let e = Envelope::sign(
                &payload_type_for("operation-event"),
                format!("{{\"n\":{i}}}").into_bytes(),
                &id,
                k,
            );
            (e, id, ed(k))
        })
        .collect();
    // Each envelope has one signature: name the failing envelopes.
    // (The key id is not an input: keys come in signature order.)
    let items = |v: &[(Envelope, String, PublicKey)]| -> Vec<usize> {
        let pks: Vec<[PublicKey; 1]> = v.iter().map(|(_, _, pk)| [pk.clone()]).collect();
        let refs: Vec<(&Envelope, &[PublicKey])> = v
            .iter()
            .zip(&pks)
            .map(|((e, _, _), pk)| (e, pk.as_slice()))
            .collect();
        let bad = verify_batch(&refs);
        assert_eq!(bad, verify_each(&refs), "batch and strict agree");
        assert!(bad.iter().all(|&(_, j)| j == 0));
        bad.into_iter().map(|(i, _)| i).collect()
    };
    assert!(items(&envs).is_empty());
    assert!(items(&[]).is_empty());
    for bad in [0, 5, 11] {
        // A flipped signature bit, a flipped payload bit, a wrong key.
        let mut v = envs.clone();
        v[bad].0.signatures[0].sig[3] ^= 1;
        assert_eq!(items(&v), vec![bad]);
        let mut v = envs.clone();
        v[bad].0.payload[2] ^= 1;
        assert_eq!(items(&v), vec![bad]);
        let mut v = envs.clone();
        v[bad].2 = ed(&keys[(bad + 1) % 12]);
        assert_eq!(items(&v), vec![bad]);
    }
    let mut v = envs.clone();
    v[2].0.signatures[0].sig[40] ^= 0x80;
    v[7].2 = ed(&keys[0]);
    assert_eq!(items(&v), vec![2, 7]);
    // The identity point is a weak (small-order) key: never accepted.
    let mut v = envs.clone();
    let mut ident = [0u8; 32];
    ident[0] = 1;
    v[4].2 = PublicKey::Ed25519(ident);
    assert_eq!(items(&v), vec![4]);
    // A truncated signature is refused, not a panic.
    let mut v = envs;
    v[9].0.signatures[0].sig.truncate(63);
    assert_eq!(items(&v), vec![9]);
}

fn sample() -> (Envelope, SigningKey, String) {
    let k = SigningKey::from_bytes(&[8; 32]);
    let id = participant_key_id("gx-authority", &ed(&k));
    let e = Envelope::sign(
        &payload_type_for("resource-registered"),
        br#"{"id":"r1"}"#.to_vec(),
        &id,
        &k,
    );
    (e, k, id)
}

#[test]
fn round_trips_and_verifies() {
    let (e, k, id) = sample();
    assert_eq!(Envelope::from_bytes(&e.to_bytes()).unwrap(), e);
    assert_eq!(Envelope::from_json(&e.to_json()).unwrap(), e);
    e.verify_signature(&id, &ed(&k)).unwrap();
    assert_eq!(e.kind_name().unwrap(), "resource-registered");
    assert_eq!(Envelope::pae("t", b"ab"), b"DSSEv1 1 t 2 ab".to_vec());
}

#[test]
fn tampering_is_detected() {
    let (e, k, id) = sample();
    let pk = ed(&k);
    let mut t = e.clone();
    t.payload_type = payload_type_for("resource-deregistered");
    assert!(t.verify_signature(&id, &pk).is_err());
    let mut t = e.clone();
    t.payload[3] ^= 1;
    assert!(t.verify_signature(&id, &pk).is_err());
    let mut t = e.clone();
    t.signatures[0].sig[10] ^= 1;
    assert!(t.verify_signature(&id, &pk).is_err());
    let mut t = e.clone();
    t.signatures[0].key_id = "someone-else/00000000".into();
    assert_eq!(
        t.verify_signature(&id, &pk),
        Err(EnvelopeError::NoSignature(id.clone()))
    );
    let other = SigningKey::from_bytes(&[9; 32]);
    assert!(e.verify_signature(&id, &ed(&other)).is_err());
}

fn junk(key_id: &str) -> EnvelopeSignature {
    EnvelopeSignature {
        alg: SigAlg::Ed25519,
        key_id: key_id.into(),
        sig: (0..64u8).map(|b| b.wrapping_mul(31) ^ 0xa5).collect(),
    }
}

/// cosigner is a second key and its signature over `e`'s content.
fn cosigner(e: &Envelope) -> (EnvelopeSignature, String, PublicKey) {
    let k = SigningKey::from_bytes(&[9; 32]);
    let id = participant_key_id("gx-operator", &ed(&k));
    let s = Envelope::sign(&e.payload_type, e.payload.clone(), &id, &k);
    (s.signatures[0].clone(), id, ed(&k))
}

#[test]
fn every_signature_must_verify_and_come_from_a_distinct_key() {
    let (e, k, id) = sample();
    let pk = ed(&k);
    let (co, co_id, co_pk) = cosigner(&e);
    let keys = |kid: &str| {
        if kid == id {
            Some(pk.clone())
        } else if kid == co_id {
            Some(co_pk.clone())
        } else {
            None
        }
    };
    assert_eq!(e.verify_all(keys), Ok(vec![pk.clone()]));

    // The issue's attack: a junk signature under the signer's own key
    // id. Judged on the first signature before; refused now, whatever
    // is preverified.
    let mut t = e.clone();
    t.signatures.push(junk(&id));
    let dup = EnvelopeError::DuplicateKey(id.clone());
    assert_eq!(t.verify_all(keys), Err(dup.clone()));
    assert_eq!(t.verify_known(keys), Err(dup.clone()));
    assert_eq!(t.verify_signature(&id, &pk), Err(dup.clone()));
    let pre = [Preverified {
        index: 0,
        public_key: pk.clone(),
    }];
    assert_eq!(t.verify_all_preverified(keys, &pre), Err(dup));

    // Junk under another known key: that signature is verified too,
    // even when the first one is preverified.
    let mut t = e.clone();
    t.signatures.push(junk(&co_id));
    let bad = EnvelopeError::BadSignature(co_id.clone());
    assert_eq!(t.verify_all(keys), Err(bad.clone()));
    assert_eq!(t.verify_all_preverified(keys, &pre), Err(bad.clone()));
    assert_eq!(t.verify_known(keys), Err(bad));
    assert_eq!(
        verify_batch(&[(&t, &[pk.clone(), co_pk.clone()][..])]),
        vec![(0, 1)]
    );
    assert_eq!(
        verify_each(&[(&t, &[pk.clone(), co_pk.clone()][..])]),
        vec![(0, 1)]
    );
    // A preverified entry for another position or key covers nothing.
    for wrong in [
        Preverified {
            index: 1,
            public_key: pk.clone(),
        },
        Preverified {
            index: 0,
            public_key: co_pk.clone(),
        },
    ] {
        let mut t = e.clone();
        t.signatures[0].sig[5] ^= 1;
        assert!(t.verify_all_preverified(keys, &[wrong]).is_err());
    }

    // An unknown key id is refused, not skipped; verify_known leaves it.
    let mut t = e.clone();
    t.signatures.push(junk("stranger/00000000"));
    assert_eq!(
        t.verify_all(keys),
        Err(EnvelopeError::UnknownKey("stranger/00000000".into()))
    );
    assert_eq!(t.verify_known(keys), Ok(pre.to_vec()));

    // One public key under two key ids signs once, not twice.
    let mut t = e.clone();
    let mut again = t.signatures[0].clone();
    again.key_id = "alias/00000000".into();
    t.signatures.push(again);
    let alias = |kid: &str| (kid == id || kid == "alias/00000000").then_some(pk.clone());
    assert_eq!(
        t.verify_all(alias),
        Err(EnvelopeError::DuplicateKey("alias/00000000".into()))
    );

    // A valid co-signature by a second key: both verified, in order.
    let mut t = e.clone();
    t.signatures.push(co.clone());
    assert_eq!(t.verify_all(keys), Ok(vec![pk.clone(), co_pk.clone()]));
    t.signatures.reverse();
    assert_eq!(t.verify_all(keys), Ok(vec![co_pk.clone(), pk.clone()]));
    assert!(verify_batch(&[(&t, &[co_pk.clone(), pk.clone()][..])]).is_empty());
    // Keys that do not cover every signature fail every signature.
    assert_eq!(
        verify_batch(&[(&t, &[co_pk.clone()][..])]),
        vec![(0, 0), (0, 1)]
    );
    assert_eq!(
        verify_each(&[(&t, &[co_pk.clone()][..])]),
        vec![(0, 0), (0, 1)]
    );
}

#[test]
fn content_id_is_the_signed_content_not_the_signatures() {
    let (e, _, id) = sample();
    let want: [u8; 32] = Sha256::digest(Envelope::pae(&e.payload_type, &e.payload)).into();
    assert_eq!(e.content_id(), want);
    let (co, _, _) = cosigner(&e);
    let mut junked = e.clone();
    junked.signatures.push(junk(&id));
    let mut cosigned = e.clone();
    cosigned.signatures.push(co);
    let mut reordered = cosigned.clone();
    reordered.signatures.reverse();
    let mut resigned = e.clone();
    resigned.signatures[0].sig = junk(&id).sig;
    for (what, t) in [
        ("junk signature appended", &junked),
        ("co-signature appended", &cosigned),
        ("signatures reordered", &reordered),
        ("signature replaced", &resigned),
    ] {
        assert_ne!(t.digest(), e.digest(), "{what}: the bytes differ");
        assert_eq!(
            t.content_id(),
            e.content_id(),
            "{what}: the content does not"
        );
    }
    // Any change to what is signed is a new content.
    let mut t = e.clone();
    t.payload.push(b' ');
    assert_ne!(t.content_id(), e.content_id());
    let mut t = e.clone();
    t.payload_type = payload_type_for("resource-changed");
    assert_ne!(t.content_id(), e.content_id());
    // The PAE's length prefixes keep type and payload apart.
    let a = Envelope::pae("ab", b"c");
    let b = Envelope::pae("a", b"bc");
    assert_ne!(Sha256::digest(a), Sha256::digest(b));
}

#[test]
fn the_rules_refuse_any_signature_that_is_not_verified_or_not_distinct() {
    use crate::registry::{apply, apply_preverified, EntryContext, EntryKind, Role};
    use crate::testkit::{replay, Party, Step, Testkit, DAY_MS};
    use crate::tlog::hash::HashSuite;
    use serde_json::json;

    let kit = Testkit::new("envelope.test/rules");
    // A second operator with two keys (one participant, two keys).
    let twin_a = Party::new("op-twin", "双钥运营机构", Role::Operator, 40);
    let twin_b = Party::new("op-twin", "双钥运营机构", Role::Operator, 41);
    let mut spec = twin_a.spec();
    spec["public_keys"] = json!([twin_a.public_key_b64(), twin_b.public_key_b64()]);
    let mut steps: Vec<Step> = kit
        .lifecycle(HashSuite::Blake3, "guangxi")
        .into_iter()
        .take_while(|s| s.label != "registration revoked")
        .collect();
    let t = steps.last().unwrap().time_ms;
    steps.push(Step {
        label: "register a two-key operator",
        envelope: kit.authority.sign(EntryKind::ParticipantRegistered, &spec),
        time_ms: t + 1,
    });
    let r = replay(&kit.origin, HashSuite::Blake3, &steps).expect("replays");
    let ctx = EntryContext {
        index: steps.len() as u64,
        integrated_time_ms: t + DAY_MS,
        log_id: kit.origin.clone(),
    };
    let suspend = kit.authority.sign(
        EntryKind::ProductSuspended,
        &json!({"id": "P-1", "reason": "再次整改",
                "effective_on": crate::registry::calendar::Date::from_unix_ms(t + DAY_MS).unwrap().to_string()}),
    );
    apply(&r.state, &ctx, &suspend).expect("the act itself is valid");
    let pk = kit.authority.public_key();
    let pre = [Preverified {
        index: 0,
        public_key: pk.clone(),
    }];

    let with = |extra: EnvelopeSignature| {
        let mut e = suspend.clone();
        e.signatures.push(extra);
        e
    };
    let cosign = |p: &Party| {
        Envelope::sign(
            &suspend.payload_type,
            suspend.payload.clone(),
            &p.key_id(),
            &p.key,
        )
        .signatures[0]
            .clone()
    };
    // Junk under the signer's key id, under another registered key, and
    // a valid second signature by the same participant's other key.
    let twin = {
        let mut e = kit.operator.sign(
            EntryKind::ProductSuspended,
            &json!({"id": "P-1", "reason": "双签", "effective_on": "2025-04-20"}),
        );
        e.signatures = vec![
            Envelope::sign(
                &e.payload_type,
                e.payload.clone(),
                &twin_a.key_id(),
                &twin_a.key,
            )
            .signatures[0]
                .clone(),
            Envelope::sign(
                &e.payload_type,
                e.payload.clone(),
                &twin_b.key_id(),
                &twin_b.key,
            )
            .signatures[0]
                .clone(),
        ];
        e
    };
    for (what, e) in [
        ("junk, same key id", with(junk(&kit.authority.key_id()))),
        (
            "junk, another registered key",
            with(junk(&kit.operator.key_id())),
        ),
        ("two keys of one participant", twin),
    ] {
        let got = apply(&r.state, &ctx, &e);
        assert!(got.is_err(), "{what}: accepted");
        assert_eq!(got.unwrap_err().code(), "bad-signature", "{what}");
        assert!(
            apply_preverified(&r.state, &ctx, &e, &pre).is_err(),
            "{what}: rides on the preverified first signature"
        );
    }
    // Genesis: one signature, by a key it declares; a junk or a second
    // one is refused.
    let g0 = kit.genesis(HashSuite::Blake3, "guangxi");
    let gctx = EntryContext {
        index: 0,
        integrated_time_ms: steps[0].time_ms,
        log_id: kit.origin.clone(),
    };
    let empty = crate::registry::MemoryState::default();
    apply(&empty, &gctx, &g0).expect("genesis");
    let mut g = g0.clone();
    g.signatures.push(junk(&kit.authority.key_id()));
    assert_eq!(
        apply(&empty, &gctx, &g).unwrap_err().code(),
        "bad-signature"
    );
    let mut g = g0.clone();
    g.signatures.push(cosign(&kit.operator));
    assert_eq!(
        apply(&empty, &gctx, &g).unwrap_err().code(),
        "unknown-signer"
    );

    // A valid co-signature by another participant is accepted (the
    // first signer submits), with or without the preverified list.
    let e = with(cosign(&kit.operator));
    assert_eq!(apply(&r.state, &ctx, &e).unwrap().signer, kit.authority.id);
    assert!(apply_preverified(&r.state, &ctx, &e, &pre).is_ok());
}

#[test]
fn hostile_bytes_and_json_are_rejected() {
    let (e, _, _) = sample();
    let b = e.to_bytes();
    for i in 0..b.len() {
        assert!(Envelope::from_bytes(&b[..i]).is_err(), "prefix {i}");
    }
    assert!(Envelope::from_bytes(&[b.as_slice(), &[0]].concat()).is_err());
    let mut v = b.clone();
    v[0] = 2;
    assert!(Envelope::from_bytes(&v).is_err());
    for j in [
        json!(null),
        json!([]),
        json!({"payloadType": "x", "payload": "!!", "signatures": []}),
        json!({"payloadType": "x", "payload": "", "signatures": []}),
        json!({"payloadType": "x", "payload": "", "signatures": [{"keyid": "k", "sig": "AA=="}]}),
        json!({"payloadType": "x y", "payload": "", "signatures": [{"keyid": "k", "sig": B64.encode([0u8; 64])}]}),
        // (alg "sm2" is tag 2 since D19; an unknown name is still refused.)
        json!({"payloadType": "x", "payload": "", "signatures": [{"keyid": "k", "sig": B64.encode([0u8; 64]), "alg": "ecdsa"}]}),
        json!({"payloadType": "x", "payload": "", "signatures": [{"keyid": "k", "sig": B64.encode([0u8; 64]), "alg": 2}]}),
        json!({"payloadType": "x", "payload": "", "signatures": [{"keyid": "k", "sig": B64.encode([0u8; 64]), "alg": "SM2"}]}),
        json!({"payloadType": "x", "payload": "", "extra": 1, "signatures": [{"keyid": "k", "sig": B64.encode([0u8; 64])}]}),
        json!({"payloadType": "x", "payload": B64.encode(vec![0u8; MAX_PAYLOAD + 1]), "signatures": [{"keyid": "k", "sig": B64.encode([0u8; 64])}]}),
    ] {
        assert!(Envelope::from_json(&j).is_err(), "{j}");
    }
}
