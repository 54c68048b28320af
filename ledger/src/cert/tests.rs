//! Tests of certificate bundles: assembled from a test log, verified, and
//! tampered part by part.

use super::assemble::assemble;
use super::bundle::*;
use super::status::{build_status, verify_status, StatusKind, StatusProof};
use crate::descriptor::LogDescriptor;
use crate::descriptor::LogDescriptorJson;
use crate::entry::blockchain_no::BlockchainNo;
use crate::entry::state_line::StateLine;
use crate::registry::commit::MapKey;
use crate::registry::Role;
use crate::registry::{EntryKind, MemoryState};
use crate::testkit::{replay, Party, Sequencer, Step, Testkit, REGISTRATION_NO};
use crate::tlog::checkpoint::sign_checkpoint;
use crate::tlog::checkpoint::Checkpoint;
use crate::tlog::hash::HashSuite;
use crate::tlog::memory::MemoryTree;
use crate::tlog::note::{KeyType, Signer};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

const ORIGIN: &str = "regledger.test/bundle";

/// TestLog is a log of `steps` (hash-chained, v2 leaves whose state roots
/// a correct replay computes, no rule enforced) with a checkpoint over its
/// first `size` leaves (with the state line a node signs, D26), cosigned by
/// one witness, and the state map at it.
struct TestLog {
    leaves: Vec<Vec<u8>>,
    envelopes: Vec<Vec<u8>>,
    tree: MemoryTree,
    size: u64,
    note: String,
    d: LogDescriptor,
    /// at_size is the sequencer (state map and records) after `size` entries.
    at_size: Sequencer,
}

fn test_log(steps: &[Step], size: Option<u64>) -> TestLog {
    test_log_lined(steps, size, true)
}

/// test_log_lined is [`test_log`] with or without the checkpoint's state
/// line (without: as a node signed before D26).
fn test_log_lined(steps: &[Step], size: Option<u64>, state_line: bool) -> TestLog {
    let size = size.unwrap_or(steps.len() as u64);
    let mut sq = Sequencer::new(ORIGIN, HashSuite::Blake3);
    let mut at_size = sq.clone();
    let mut leaves = Vec::new();
    let mut envelopes = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        leaves.push(sq.next_unchecked(&s.envelope, s.time_ms).to_bytes());
        envelopes.push(s.envelope.to_bytes());
        if i as u64 + 1 == size {
            at_size = sq.clone();
        }
    }
    let mut t = MemoryTree::new(HashSuite::Blake3);
    for l in &leaves {
        t.append_data(l);
    }
    let log = Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap();
    let w = Signer::generate("witness.test", KeyType::CosignatureV1, [43; 32]).unwrap();
    let last = crate::entry::leaf::Leaf::parse(&leaves[size as usize - 1]).unwrap();
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: t.root_at(size).unwrap(),
        extensions: match state_line {
            true => vec![StateLine::of_leaf(&last).unwrap().to_line()],
            false => vec![],
        },
    };
    let note = sign_checkpoint(&cp, &log).unwrap();
    let cosig = crate::tlog::cosignature::cosign(&w, &cp.to_text(), 1_700_000_000).unwrap();
    let note = crate::tlog::cosignature::add_signatures(&note, &[cosig]).unwrap();
    let d = LogDescriptor::from_json(&LogDescriptorJson {
        origin: ORIGIN.into(),
        log_vkey: log.verifier().to_vkey(),
        hash: "blake3".into(),
        witnesses: vec![w.verifier().to_vkey()],
        quorum: 1,
        profile: "guangxi".into(),
    })
    .unwrap();
    TestLog {
        leaves,
        envelopes,
        tree: t,
        size,
        note,
        d,
        at_size,
    }
}

impl TestLog {
    /// at is entry `i` with its proof at the checkpoint (and its envelope);
    /// entries past it cannot be proven, as on a node.
    fn at(&self, i: u64) -> Result<EntryProof, String> {
        if i >= self.size {
            return Err(format!("entry {i} is past the checkpoint"));
        }
        Ok(EntryProof {
            index: i,
            leaf: B64.encode(&self.leaves[i as usize]),
            inclusion_proof: self
                .tree
                .prove_inclusion(self.size, i)
                .unwrap()
                .iter()
                .map(|h| B64.encode(h.0))
                .collect(),
            envelope: Some(B64.encode(&self.envelopes[i as usize])),
        })
    }

    /// status is the status proof of `kind`/`id` at the checkpoint, as a
    /// node serves it.
    fn status(&self, kind: StatusKind, id: &str) -> StatusProof {
        let key = MapKey::State(kind.key(id).unwrap()).bytes();
        let proof = self.at_size.map().prove(&key).unwrap();
        let record = self.at_size.records.get(&key);
        let state_entry = EntryProof {
            envelope: None,
            ..self.at(self.size - 1).unwrap()
        };
        build_status(
            HashSuite::Blake3,
            ORIGIN,
            kind,
            id,
            &self.note,
            Some(state_entry),
            &proof,
            record.map(|r| r.as_slice()),
        )
        .unwrap()
    }

    /// assembled is what a node serves for the lifecycle's certificate (v2).
    fn assembled(&self, state: &MemoryState) -> CertificateBundle {
        let proof = self.status(StatusKind::Product, REGISTRATION_NO);
        assemble(
            ORIGIN,
            state,
            REGISTRATION_NO,
            &self.note,
            |i| self.at(i),
            Some(proof),
        )
        .unwrap()
    }

    /// assembled_v1 is what a node before issue 14 served: no status proof.
    fn assembled_v1(&self, state: &MemoryState) -> CertificateBundle {
        assemble(
            ORIGIN,
            state,
            REGISTRATION_NO,
            &self.note,
            |i| self.at(i),
            None,
        )
        .unwrap()
    }

    /// hand is the v1 bundle of the registration at `reg` with exactly the
    /// signer entries `signers` and the status set by `status`, as a
    /// hostile operator may build it.
    fn hand(&self, reg: u64, signers: &[u64], status: Option<(&str, u64)>) -> CertificateBundle {
        let lh = HashSuite::Blake3.leaf_hash(&self.leaves[reg as usize]);
        let env =
            crate::entry::envelope::Envelope::from_bytes(&self.envelopes[reg as usize]).unwrap();
        let (state, set_by_index, entry) = match status {
            None => ("active".to_string(), reg, None),
            Some((s, i)) => (s.to_string(), i, Some(self.at(i).unwrap())),
        };
        CertificateBundle {
            format: BUNDLE_FORMAT_V1.into(),
            origin: ORIGIN.into(),
            blockchain_no: BlockchainNo::new(ORIGIN, reg, &lh).to_string(),
            certificate: serde_json::from_slice(&env.payload).unwrap(),
            entry: self.at(reg).unwrap(),
            previous: EntryProof {
                envelope: None,
                ..self.at(reg - 1).unwrap()
            },
            signer_entries: signers.iter().map(|&i| self.at(i).unwrap()).collect(),
            status: StatusInfo {
                state,
                set_by_index,
                entry,
            },
            status_proof: None,
            checkpoint: self.note.clone(),
        }
    }
}

fn steps_upto(upto: &str) -> Vec<Step> {
    let k = Testkit::new(ORIGIN);
    let mut steps = k.lifecycle(HashSuite::Blake3, "guangxi");
    let end = steps.iter().position(|s| s.label == upto).unwrap();
    steps.truncate(end + 1);
    steps
}

fn setup(upto: &str) -> (CertificateBundle, LogDescriptor) {
    let steps = steps_upto(upto);
    let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap();
    let log = test_log(&steps, None);
    (log.assembled(&r.state), log.d)
}

/// step is a step at `time_ms`.
fn step(label: &'static str, envelope: crate::entry::envelope::Envelope, time_ms: u64) -> Step {
    Step {
        label,
        envelope,
        time_ms,
    }
}

/// rotation is the authority's rotation of the operator's key to the key of seed 44.
fn rotation(k: &Testkit) -> crate::entry::envelope::Envelope {
    let new = Party::new(&k.operator.id, &k.operator.name, Role::Operator, 44);
    k.authority.sign(
        EntryKind::ParticipantKeyRotated,
        &serde_json::json!({"id": k.operator.id, "add_keys": [new.public_key_b64()],
                            "retire_key_ids": [k.operator.key_id()]}),
    )
}

#[test]
fn valid_bundles_verify_with_their_status() {
    let (b, d) = setup("product registered");
    assert_eq!(b.format, BUNDLE_FORMAT);
    let v = verify_bundle(&b, &d).unwrap();
    assert_eq!(
        (v.status.as_str(), v.status_zh.as_str()),
        ("active", "有效")
    );
    assert!(v.status_proven_current);
    assert_eq!(v.witnesses, vec!["witness.test".to_string()]);
    let (b, d) = setup("registration revoked");
    let v = verify_bundle(&b, &d).unwrap();
    assert_eq!(
        (v.status.as_str(), v.status_zh.as_str()),
        ("revoked", "已撤销登记")
    );
    assert!(v.status_proven_current);
    assert_eq!(v.certificate.registration_no, REGISTRATION_NO);
}

#[test]
fn a_v1_bundle_still_verifies_but_never_proves_its_status_current() {
    let steps = steps_upto("product suspended");
    let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap();
    let log = test_log(&steps, None);
    let b = log.assembled_v1(&r.state);
    assert_eq!(b.format, BUNDLE_FORMAT_V1);
    let v = verify_bundle(&b, &log.d).unwrap();
    assert_eq!(v.status, "suspended");
    assert!(!v.status_proven_current);
    assert!(v.status_proof.is_none());
    // Why a v1 bundle can never be taken as current: its status edited to
    // active, with no key, still verifies (issue 14).
    let mut edited = b.clone();
    edited.status = StatusInfo {
        state: "active".into(),
        set_by_index: b.entry.index,
        entry: None,
    };
    let v = verify_bundle(&edited, &log.d).unwrap();
    assert_eq!(v.status, "active");
    assert!(!v.status_proven_current);
    // A v1 bundle carrying a status proof, or a v2 one without: refused.
    let mut with = b.clone();
    with.status_proof = Some(log.status(StatusKind::Product, REGISTRATION_NO));
    assert_eq!(
        verify_bundle(&with, &log.d).unwrap_err().part,
        "status_proof"
    );
    let mut without = log.assembled(&r.state);
    without.status_proof = None;
    assert_eq!(
        verify_bundle(&without, &log.d).unwrap_err().part,
        "status_proof"
    );
}

#[test]
fn a_bundle_whose_status_was_edited_or_whose_proof_is_another_objects_fails() {
    // Suspended, then edited to say active everywhere a hostile venue can.
    let steps = steps_upto("product suspended");
    let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap();
    let log = test_log(&steps, None);
    let good = log.assembled(&r.state);
    assert_eq!(verify_bundle(&good, &log.d).unwrap().status, "suspended");
    let mut edited = good.clone();
    edited.status = StatusInfo {
        state: "active".into(),
        set_by_index: good.entry.index,
        entry: None,
    };
    let e = verify_bundle(&edited, &log.d).unwrap_err();
    assert_eq!(e.part, "status", "{e}");
    let mut both = edited.clone();
    let sp = both.status_proof.as_mut().unwrap();
    sp.state.status = "active".into();
    sp.state.status_zh = "有效".into();
    let e = verify_bundle(&both, &log.d).unwrap_err();
    assert_eq!(e.part, "status_proof.state", "{e}");
    // The proof of another object: the participant registering it (active).
    let mut swapped = good.clone();
    swapped.status_proof = Some(log.status(StatusKind::Participant, "gx-operator"));
    let e = verify_bundle(&swapped, &log.d).unwrap_err();
    assert_eq!(e.part, "status_proof", "{e}");
    // The proof of another 登记号, renamed: the key the verifier builds
    // from the id is not the key the proof is for.
    let mut renamed = good.clone();
    let mut other = log.status(StatusKind::Product, "GXDP-2099-000009");
    assert_eq!(other.state.status, "absent");
    other.id = REGISTRATION_NO.into();
    renamed.status_proof = Some(other);
    let e = verify_bundle(&renamed, &log.d).unwrap_err();
    assert_eq!(e.part, "status_proof.map_proof", "{e}");
}

/// flip_b64 flips one bit inside the decoded bytes of a base64 string.
fn flip_b64(s: &str, byte: usize) -> String {
    let mut b = B64.decode(s).unwrap();
    let i = byte.min(b.len() - 1);
    b[i] ^= 1;
    B64.encode(b)
}

#[test]
fn every_part_is_tamper_evident() {
    let (good, d) = setup("registration revoked");
    let mut cases: Vec<(String, CertificateBundle)> = Vec::new();
    let mut push = |name: &str, f: &dyn Fn(&mut CertificateBundle)| {
        let mut b = good.clone();
        f(&mut b);
        cases.push((name.to_string(), b));
    };
    push("certificate.product_name", &|b| {
        b.certificate.product_name.push('X')
    });
    push("certificate.registration_no", &|b| {
        b.certificate.registration_no.push('1')
    });
    push("certificate.registered_on", &|b| {
        b.certificate.registered_on = crate::registry::calendar::Date::parse("2025-03-25").unwrap()
    });
    push("certificate.scenarios", &|b| {
        b.certificate.scenarios.push("x".into())
    });
    push("blockchain_no", &|b| {
        b.blockchain_no = b.blockchain_no.replace("-1", "-2")
    });
    // Inside the leaf: header, state root, envelope hash.
    push("entry.leaf", &|b| b.entry.leaf = flip_b64(&b.entry.leaf, 3));
    push("entry.leaf", &|b| {
        b.entry.leaf = flip_b64(&b.entry.leaf, 60)
    });
    push("entry.leaf", &|b| {
        b.entry.leaf = flip_b64(&b.entry.leaf, 200)
    });
    // Inside the envelope beside it: payload, signature, key id.
    push("entry.envelope", &|b| {
        let e = b.entry.envelope.clone().unwrap();
        b.entry.envelope = Some(flip_b64(&e, 120))
    });
    push("entry.envelope", &|b| {
        let e = b.entry.envelope.clone().unwrap();
        let raw = B64.decode(&e).unwrap();
        b.entry.envelope = Some(flip_b64(&e, raw.len() - 5));
    });
    push("entry.envelope", &|b| {
        let e = b.entry.envelope.clone().unwrap();
        let raw = B64.decode(&e).unwrap();
        let at = raw
            .windows(b"gx-operator".len())
            .position(|w| w == b"gx-operator")
            .unwrap();
        b.entry.envelope = Some(flip_b64(&e, at));
    });
    push("entry.envelope missing", &|b| b.entry.envelope = None);
    push("signer_entries[1].envelope", &|b| {
        let e = b.signer_entries[1].envelope.clone().unwrap();
        b.signer_entries[1].envelope = Some(flip_b64(&e, 100))
    });
    push("status.entry.envelope", &|b| {
        let se = b.status.entry.as_mut().unwrap();
        se.envelope = Some(flip_b64(se.envelope.as_ref().unwrap(), 100))
    });
    // The status proof: its map proof, record, state entry and checkpoint.
    push("status_proof.map_proof", &|b| {
        let p = b.status_proof.as_mut().unwrap();
        p.map_proof = flip_b64(&p.map_proof, 40)
    });
    push("status_proof.record", &|b| {
        let p = b.status_proof.as_mut().unwrap();
        p.record = Some(flip_b64(p.record.as_ref().unwrap(), 30))
    });
    push("status_proof.record removed", &|b| {
        b.status_proof.as_mut().unwrap().record = None
    });
    // A v2 status proof carries no state entry: one added is refused.
    push("status_proof.state_entry", &|b| {
        let p = b.status_proof.as_mut().unwrap();
        p.state_entry = Some(b.previous.clone())
    });
    push("status_proof.checkpoint", &|b| {
        let p = b.status_proof.as_mut().unwrap();
        p.checkpoint = p.checkpoint.replacen('\n', "x\n", 1)
    });
    push("entry.index", &|b| b.entry.index += 1);
    push("previous", &|b| {
        b.previous.leaf = flip_b64(&b.previous.leaf, 60)
    });
    push("signer_entries", &|b| b.signer_entries.clear());
    push("status.state", &|b| b.status.state = "active".into());
    push("status.entry", &|b| b.status.entry = None);
    push("checkpoint.text", &|b| {
        b.checkpoint = b.checkpoint.replacen('\n', "x\n", 1)
    });
    push("checkpoint.signature", &|b| {
        let mut n = crate::tlog::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
        n.sigs[0].sig[3] ^= 1;
        b.checkpoint = n.to_text();
    });
    push("checkpoint.cosignature", &|b| {
        let mut n = crate::tlog::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
        n.sigs[1].sig[20] ^= 1;
        b.checkpoint = n.to_text();
    });
    push("checkpoint.cosignature removed", &|b| {
        let mut n = crate::tlog::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
        n.sigs.truncate(1);
        b.checkpoint = n.to_text();
    });
    let proof_len = good.entry.inclusion_proof.len();
    for i in 0..proof_len {
        let mut b = good.clone();
        b.entry.inclusion_proof[i] = flip_b64(&b.entry.inclusion_proof[i], 0);
        cases.push((format!("entry.inclusion_proof[{i}]"), b));
    }
    for (name, b) in cases {
        assert!(
            verify_bundle(&b, &d).is_err(),
            "tampered {name} still verifies"
        );
    }
}

#[test]
fn the_signer_history_runs_from_genesis_and_shows_later_retirement_and_revocation() {
    let k = Testkit::new(ORIGIN);
    let mut steps = steps_upto("product registered");
    let t = steps.last().unwrap().time_ms;
    steps.push(step("operator key rotated", rotation(&k), t + 1));
    steps.push(step(
        "operator revoked",
        k.authority.sign(
            EntryKind::ParticipantRevoked,
            &serde_json::json!({"id": k.operator.id, "reason": "资格取消"}),
        ),
        t + 2,
    ));
    let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap();
    let log = test_log(&steps, None);
    let b = log.assembled(&r.state);
    let idx: Vec<u64> = b.signer_entries.iter().map(|e| e.index).collect();
    assert_eq!(idx, vec![0, 3, 16, 17]);
    let v = verify_bundle(&b, &log.d).unwrap();
    assert_eq!(v.signer, k.operator.id);
    assert_eq!(v.signer_chain, idx);
    assert_eq!(v.signer_key_retired_index, Some(16));
    assert_eq!(v.signer_revoked_index, Some(17));
    assert!(v.status_proven_current);

    // Checkpointed before the rotation, the registry is newer than the
    // checkpoint: the bundle leaves out what it cannot prove at it.
    let log = test_log(&steps, Some(16));
    let b = log.assembled(&r.state);
    let v = verify_bundle(&b, &log.d).unwrap();
    assert_eq!(v.signer_chain, vec![0, 3]);
    assert_eq!(v.signer_key_retired_index, None);
    assert_eq!(v.signer_revoked_index, None);
}

#[test]
fn the_status_signer_is_checked_at_its_index() {
    let (b, d) = setup("product suspended");
    let v = verify_bundle(&b, &d).unwrap();
    assert_eq!(v.status, "suspended");
    assert_eq!(v.status_signer.as_deref(), Some("gx-data-bureau"));
    assert!(v.status_proven_current);
    // A suspension "signed" by the trading venue, whose role may not suspend.
    let k = Testkit::new(ORIGIN);
    let mut steps = steps_upto("product suspended");
    let last = steps.last_mut().unwrap();
    last.envelope = k.venue.sign(
        EntryKind::ProductSuspended,
        &serde_json::from_slice::<serde_json::Value>(&last.envelope.payload).unwrap(),
    );
    let log = test_log(&steps, None);
    let b = log.hand(15, &[0, 3, 5], Some(("suspended", 17)));
    let e = verify_bundle(&b, &log.d).unwrap_err();
    assert_eq!(e.part, "signer_entries", "{e}");
    assert!(e.reason.contains("may not submit product-suspended"), "{e}");
    // Without the venue's registration its key is unknown.
    let e = verify_bundle(&log.hand(15, &[0, 3], Some(("suspended", 17))), &log.d).unwrap_err();
    assert!(e.reason.contains("registers its key"), "{e}");
}

#[test]
fn a_registration_signed_with_a_retired_key_fails() {
    // The operator's key is retired (entry 15) before the registration
    // (entry 16) that it still signs: a log a correct node never writes.
    let k = Testkit::new(ORIGIN);
    let mut steps = steps_upto("product registered");
    let reg = steps.pop().unwrap();
    steps.push(step("operator key rotated", rotation(&k), reg.time_ms - 1));
    steps.push(reg);
    let log = test_log(&steps, None);
    let e = verify_bundle(&log.hand(16, &[0, 3, 15], None), &log.d).unwrap_err();
    assert_eq!(e.part, "signer_entries", "{e}");
    assert!(e.reason.contains("retired by entry 15"), "{e}");
    // Leaving the rotation out hides it: which is why the report says
    // the signer history is not proven complete.
    let v = verify_bundle(&log.hand(16, &[0, 3], None), &log.d).unwrap();
    assert_eq!(v.signer_key_retired_index, None);
}

#[test]
fn a_malformed_signer_history_fails_naming_the_part() {
    let steps = steps_upto("product registered");
    let log = test_log(&steps, None);
    assert!(verify_bundle(&log.hand(15, &[0, 3], None), &log.d).is_ok());
    for (signers, part, why) in [
        (&[3][..], "signer_entries[0].index", "genesis"),
        (&[0, 3, 3], "signer_entries[2].index", "index order"),
        (&[3, 0], "signer_entries[0].index", "genesis"),
        (&[0, 4, 3], "signer_entries[2].index", "index order"),
        (
            &[0, 3, 9],
            "signer_entries[2]",
            "not part of a signer history",
        ),
        (
            &[0, 1, 3, 6],
            "signer_entries[3]",
            "not part of a signer history",
        ),
        (&[], "signer_entries", "missing"),
    ] {
        let e = verify_bundle(&log.hand(15, signers, None), &log.d).unwrap_err();
        assert_eq!(e.part, part, "{signers:?}: {e}");
        assert!(e.reason.contains(why), "{signers:?}: {e}");
    }
    // A garbage signature anywhere in the history.
    for (label, n) in [("genesis", 0), ("register operator", 1)] {
        let mut bad = steps.clone();
        let s = bad.iter_mut().find(|s| s.label == label).unwrap();
        s.envelope.signatures[0].sig[9] ^= 1;
        let log = test_log(&bad, None);
        let e = verify_bundle(&log.hand(15, &[0, 3], None), &log.d).unwrap_err();
        assert_eq!(e.part, format!("signer_entries[{n}]"), "{e}");
        assert!(e.reason.contains("signature"), "{e}");
    }
    // A genesis for another hash or profile than log.json says.
    let mut other = steps.clone();
    other[0].envelope = Testkit::new(ORIGIN).genesis(HashSuite::Sha256, "guangxi");
    let log = test_log(&other, None);
    let e = verify_bundle(&log.hand(15, &[0, 3], None), &log.d).unwrap_err();
    assert_eq!(e.part, "signer_entries[0]", "{e}");
    assert!(e.reason.contains("genesis fixes hash sha256"), "{e}");
}

#[test]
fn status_proofs_show_every_kind_and_absence_and_refuse_tampering() {
    for state_line in [true, false] {
        status_proofs_of(state_line);
    }
}

fn status_proofs_of(state_line: bool) {
    let steps = steps_upto("registration revoked");
    let log = test_log_lined(&steps, None, state_line);
    let cases = [
        (StatusKind::Product, REGISTRATION_NO, "revoked"),
        (StatusKind::Participant, "gx-operator", "active"),
        (StatusKind::Product, "GXDP-2099-000009", "absent"),
        (StatusKind::Participant, "nobody", "absent"),
    ];
    for (kind, id, want) in cases {
        let p = log.status(kind, id);
        assert_eq!(p.state_entry.is_none(), state_line, "{}", p.format);
        let v = verify_status(&p, &log.d).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(v.state.status, want, "{id}");
        assert_eq!(v.checkpoint.size, log.size);
        assert_eq!(v.witness_times, vec![1_700_000_000]);
        // Round trip through JSON, as served.
        let j = serde_json::to_string(&p).unwrap();
        let back: StatusProof = serde_json::from_str(&j).unwrap();
        assert_eq!(back, p);
    }
    let good = log.status(StatusKind::Product, REGISTRATION_NO);
    let mut cases: Vec<(&str, StatusProof)> = Vec::new();
    let mut push = |name: &'static str, f: &dyn Fn(&mut StatusProof)| {
        let mut p = good.clone();
        f(&mut p);
        cases.push((name, p));
    };
    push("state", &|p| {
        p.state.status = "active".into();
        p.state.status_zh = "有效".into();
    });
    push("state set_by", &|p| p.state.set_by = Some(1));
    push("kind", &|p| p.kind = "participant".into());
    push("id", &|p| p.id = "GXDP-2025-000002".into());
    push("id grammar", &|p| p.id = "gxdp-2025-000001".into());
    push("record", &|p| {
        p.record = Some(flip_b64(p.record.as_ref().unwrap(), 50))
    });
    push("record removed", &|p| p.record = None);
    push("map_proof", &|p| p.map_proof = flip_b64(&p.map_proof, 10));
    if state_line {
        // The state entry belongs to v1 only; v1 without one is refused.
        let entry = log.at(log.size - 1).unwrap();
        push("state_entry added", &|p| {
            p.state_entry = Some(EntryProof {
                envelope: None,
                ..entry.clone()
            })
        });
        push("format v1", &|p| {
            p.format = "regledger-status-proof/v1".into()
        });
        // The line is signed: editing it breaks the log's signature.
        push("checkpoint state line", &|p| {
            p.checkpoint = p
                .checkpoint
                .replacen("regledger-state 1", "regledger-state 2", 1)
        });
    } else {
        let se = |p: &mut StatusProof| p.state_entry.as_mut().unwrap().index -= 1;
        push("state_entry.index", &se);
        push("state_entry.leaf", &|p| {
            let e = p.state_entry.as_mut().unwrap();
            e.leaf = flip_b64(&e.leaf, 55)
        });
        push("state_entry.inclusion_proof", &|p| {
            let e = p.state_entry.as_mut().unwrap();
            e.inclusion_proof[0] = flip_b64(&e.inclusion_proof[0], 0)
        });
        push("state_entry removed", &|p| p.state_entry = None);
        push("format v2", &|p| {
            p.format = "regledger-status-proof/v2".into()
        });
    }
    push("format", &|p| p.format = "regledger-status-proof/v0".into());
    push("origin", &|p| p.origin = "other".into());
    push("checkpoint", &|p| {
        let mut n = crate::tlog::note::Note::parse(p.checkpoint.as_bytes()).unwrap();
        n.sigs.truncate(1);
        p.checkpoint = n.to_text();
    });
    for (name, p) in cases {
        assert!(
            verify_status(&p, &log.d).is_err(),
            "tampered {name} still verifies"
        );
    }
    // Proven at an older checkpoint, the same product was still active:
    // a genuine but stale proof (what --max-age is for).
    let older = test_log_lined(&steps, Some(17), state_line);
    let v = verify_status(
        &older.status(StatusKind::Product, REGISTRATION_NO),
        &older.d,
    )
    .unwrap();
    assert_eq!(v.state.status, "active");
}

/// A product changed after its registration (变更登记) still has a
/// certificate that verifies: the bundle shows the fields the registering
/// entry signed (bundle v1 carries that entry, not later changes), not the
/// registry's current fields, which the verifier cannot check against any
/// signed payload. Found by docs/walkthrough.md (issue 17).
#[test]
fn a_certificate_of_a_changed_product_verifies_with_its_signed_fields() {
    let k = Testkit::new(ORIGIN);
    let mut steps = steps_upto("product registered");
    let t = steps.last().unwrap().time_ms + 86_400_000;
    steps.push(step(
        "product changed",
        k.operator.sign(
            EntryKind::ProductChanged,
            &serde_json::json!({"id": "P-1", "scenarios": ["公交出行规划", "运力调度", "客流预警"],
                                "reason": "新增应用场景", "effective_on": "2025-03-25"}),
        ),
        t,
    ));
    let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap();
    let log = test_log(&steps, None);
    let b = log.assembled(&r.state);
    let v = verify_bundle(&b, &log.d).expect("the certificate of a changed product verifies");
    assert_eq!(v.certificate.scenarios, ["公交出行规划", "运力调度"]);
}
