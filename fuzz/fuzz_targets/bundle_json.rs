#![no_main]
//! Certificate bundles: verify_bundle against a fixed descriptor.
//!
//! The first byte picks a mode:
//! - even: the rest is JSON, decoded into a CertificateBundle and verified
//!   (must not panic);
//! - odd: a valid bundle (the testkit lifecycle up to revocation, on a log
//!   with one witness) gets edits, three bytes each: part, position, XOR
//!   mask, applied to the decoded bytes of a leaf, a proof hash, the
//!   checkpoint note or the blockchain number, or to an index.
//!
//! Properties: the unedited bundle verifies; a bundle with any byte of a
//! leaf, proof hash, checkpoint note or number or any index changed is
//! refused; nothing panics.
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use regledger::cert::assemble::assemble;
use regledger::cert::bundle::{verify_bundle, CertificateBundle, EntryProof};
use regledger::cert::status::{build_status, StatusKind};
use regledger::descriptor::{LogDescriptor, LogDescriptorJson};
use regledger::registry::commit::MapKey;
use regledger::testkit::{replay, Sequencer, Testkit, REGISTRATION_NO};
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::cosignature::{add_signatures, cosign};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, Signer};
use regledger::HashSuite;
use std::sync::OnceLock;

const ORIGIN: &str = "regledger.test/bundle";

fn fixture() -> &'static (CertificateBundle, LogDescriptor) {
    static F: OnceLock<(CertificateBundle, LogDescriptor)> = OnceLock::new();
    F.get_or_init(|| {
        let suite = HashSuite::Blake3;
        let k = Testkit::new(ORIGIN);
        let steps = k.lifecycle(suite, "guangxi");
        let r = replay(ORIGIN, suite, &steps).unwrap();
        // v2 leaves (state roots a correct replay computes), their
        // envelopes beside them, as a node stores them.
        let mut sq = Sequencer::new(ORIGIN, suite);
        let leaves: Vec<Vec<u8>> = steps
            .iter()
            .map(|st| sq.next_unchecked(&st.envelope, st.time_ms).to_bytes())
            .collect();
        let envelopes: Vec<Vec<u8>> = steps.iter().map(|st| st.envelope.to_bytes()).collect();
        let mut t = MemoryTree::new(suite);
        for l in &leaves {
            t.append_data(l);
        }
        let log = Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap();
        let w = Signer::generate("witness.test", KeyType::CosignatureV1, [43; 32]).unwrap();
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: t.size(),
            root: t.root(),
            extensions: vec![],
        };
        let note = sign_checkpoint(&cp, &log).unwrap();
        let cosig = cosign(&w, &cp.to_text(), 1_700_000_000).unwrap();
        let note = add_signatures(&note, &[cosig]).unwrap();
        let d = LogDescriptor::from_json(&LogDescriptorJson {
            origin: ORIGIN.into(),
            log_vkey: log.verifier().to_vkey(),
            hash: suite.name().into(),
            witnesses: vec![w.verifier().to_vkey()],
            quorum: 1,
            profile: "guangxi".into(),
        })
        .unwrap();
        let at = |i: u64| EntryProof {
            index: i,
            leaf: B64.encode(&leaves[i as usize]),
            inclusion_proof: t
                .prove_inclusion(t.size(), i)
                .unwrap()
                .iter()
                .map(|h| B64.encode(h.0))
                .collect(),
            envelope: Some(B64.encode(&envelopes[i as usize])),
        };
        let key = MapKey::State(StatusKind::Product.key(REGISTRATION_NO).unwrap()).bytes();
        let status = build_status(
            suite,
            ORIGIN,
            StatusKind::Product,
            REGISTRATION_NO,
            &note,
            Some(EntryProof {
                envelope: None,
                ..at(t.size() - 1)
            }),
            &sq.map().prove(&key).unwrap(),
            sq.records.get(&key).map(|r| r.as_slice()),
        )
        .unwrap();
        let b = assemble(
            ORIGIN,
            &r.state,
            REGISTRATION_NO,
            &note,
            |i| Ok(at(i)),
            Some(status),
        )
        .unwrap();
        verify_bundle(&b, &d).expect("the fixture bundle verifies");
        (b, d)
    })
}

/// xor_b64 XORs one byte of a base64 string's decoded bytes.
fn xor_b64(s: &mut String, pos: usize, mask: u8) {
    let mut b = B64.decode(&*s).expect("fixture base64");
    if !b.is_empty() {
        let i = pos % b.len();
        b[i] ^= mask;
        *s = B64.encode(b);
    }
}

/// xor_text XORs one byte of a string when the result is still UTF-8.
fn xor_text(s: &mut String, pos: usize, mask: u8) {
    if s.is_empty() {
        return;
    }
    let mut b = s.clone().into_bytes();
    let i = pos % b.len();
    b[i] ^= mask;
    if let Ok(t) = String::from_utf8(b) {
        *s = t;
    }
}

fn entries(b: &mut CertificateBundle) -> Vec<&mut EntryProof> {
    let mut v = vec![&mut b.entry, &mut b.previous];
    v.extend(b.signer_entries.iter_mut());
    if let Some(e) = b.status.entry.as_mut() {
        v.push(e);
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let (good, d) = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(b) = serde_json::from_slice::<CertificateBundle>(rest) {
            let _ = verify_bundle(&b, d);
        }
        return;
    }
    let mut b = good.clone();
    for op in rest.chunks_exact(4) {
        let pos = usize::from(u16::from_be_bytes([op[1], op[2]]));
        let mask = op[3];
        let which = usize::from(op[0] >> 3);
        match op[0] % 8 {
            0 | 1 => {
                let mut es = entries(&mut b);
                let n = es.len();
                xor_b64(&mut es[which % n].leaf, pos, mask);
            }
            2 => {
                let mut es = entries(&mut b);
                let n = es.len();
                let e = &mut es[which % n];
                let m = e.inclusion_proof.len();
                if m > 0 {
                    xor_b64(&mut e.inclusion_proof[pos % m], pos / m, mask);
                }
            }
            3 => {
                let mut es = entries(&mut b);
                let n = es.len();
                es[which % n].index ^= u64::from(mask);
            }
            4 | 5 => xor_text(&mut b.checkpoint, pos, mask),
            6 => xor_text(&mut b.blockchain_no, pos, mask),
            _ => b.status.set_by_index ^= u64::from(mask),
        }
    }
    let r = verify_bundle(&b, d);
    if b != *good {
        assert!(r.is_err(), "edited bundle verified: {b:?}");
    } else {
        assert!(r.is_ok(), "unedited bundle refused: {r:?}");
    }
});
