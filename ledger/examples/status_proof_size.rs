//! status_proof_size measures a real status proof (issue 14's targets:
//! ≤ 1.5 KB, offline verify ≤ 1 ms) at N objects and N entries: a state
//! map of N `regno/<登记号>` status records, a tree of N leaves whose last
//! is the v2 leaf committing to the map's root, a checkpoint signed by the
//! log key and cosigned by one witness; then the document a node serves
//! (`build_status`), its size as JSON and as raw bytes, and the time of
//! `verify_status` (what `regledger-verify status` runs after reading it).
//! Both formats: v2 (the checkpoint carries the state line, D26; what a
//! node serves now) and v1 (a checkpoint without one: leaf N−1 and its
//! inclusion proof travel with the proof).
//!
//!     cargo run --release -p regledger --example status_proof_size -- 1000000 [sha256|blake3]
//!
//! Keys and values are synthetic but of the real shapes; test keys only.

use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::cert::bundle::EntryProof;
use regledger::cert::status::{build_status, verify_status, StatusKind};
use regledger::descriptor::{LogDescriptor, LogDescriptorJson};
use regledger::entry::leaf::Leaf;
use regledger::entry::state_line::StateLine;
use regledger::registry::commit::{record_bytes, MapKey};
use regledger::registry::state::{RegistrationNoState, StateKey, StateObject, Status};
use regledger::statemap::{MemoryStore, StateMap};
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::cosignature::{add_signatures, cosign};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, Signer};
use regledger::{Hash, HashSuite};

const ORIGIN: &str = "bench.example/status";

fn no(i: u64) -> String {
    format!("GXDP-2025-{i:07}")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .expect("N objects");
    let suite = HashSuite::from_name(args.get(1).map(String::as_str).unwrap_or("sha256"))
        .expect("sha256 or blake3");
    let t0 = Instant::now();
    let mut map = StateMap::new(suite, MemoryStore::default());
    let batch = 1_000_000u64;
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        let writes: Vec<(Vec<u8>, Vec<u8>)> = (i..end)
            .map(|k| {
                let key = MapKey::State(StateKey::RegistrationNo(no(k))).bytes();
                let obj = StateObject::RegistrationNo(RegistrationNoState {
                    product_id: format!("P-{k}"),
                    status: if k % 7 == 0 {
                        Status::Suspended
                    } else {
                        Status::Active
                    },
                    status_index: 1_000 + k,
                });
                (key, record_bytes(1_000 + k, &obj))
            })
            .collect();
        map.apply(
            writes
                .iter()
                .map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
        )
        .expect("memory map");
        i = end;
    }
    let root = map.root().expect("root");
    eprintln!(
        "map of {n} keys built in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // A tree of n leaves; the last is the v2 leaf of the map's root.
    let mut tree = MemoryTree::new(suite);
    for k in 0..n - 1 {
        tree.append_data(&k.to_be_bytes());
    }
    let last =
        Leaf::compact(n - 1, 1_767_225_600_000, Hash([1; 32]), root, Hash([2; 32])).to_bytes();
    tree.append_data(&last);
    let log = Signer::generate(ORIGIN, KeyType::Ed25519, [9; 32]).expect("key");
    let w = Signer::generate("witness.example", KeyType::CosignatureV1, [10; 32]).expect("key");
    let signed = |extensions: Vec<String>| {
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: tree.size(),
            root: tree.root(),
            extensions,
        };
        let note = sign_checkpoint(&cp, &log).expect("sign");
        add_signatures(
            &note,
            &[cosign(&w, &cp.to_text(), 1_767_225_601).expect("cosign")],
        )
        .expect("note")
    };
    let line = StateLine::of_leaf(&Leaf::parse(&last).expect("leaf"))
        .expect("v2")
        .to_line();
    let notes = [signed(vec![line]), signed(vec![])];
    let d = LogDescriptor::from_json(&LogDescriptorJson {
        origin: ORIGIN.into(),
        log_vkey: log.verifier().to_vkey(),
        hash: suite.name().into(),
        witnesses: vec![w.verifier().to_vkey()],
        quorum: 1,
        profile: "guangxi".into(),
    })
    .expect("descriptor");
    let incl = tree.prove_inclusion(n, n - 1).expect("proof");

    for probe in [n / 3, n / 2 + 1, n - 1, n + 17] {
        let id = no(probe);
        let key = MapKey::State(StateKey::RegistrationNo(id.clone())).bytes();
        let proof = map.prove(&key).expect("prove");
        let record = (probe < n).then(|| {
            let obj = StateObject::RegistrationNo(RegistrationNoState {
                product_id: format!("P-{probe}"),
                status: if probe % 7 == 0 {
                    Status::Suspended
                } else {
                    Status::Active
                },
                status_index: 1_000 + probe,
            });
            record_bytes(1_000 + probe, &obj)
        });
        for note in &notes {
            let state_entry = EntryProof {
                index: n - 1,
                leaf: B64.encode(&last),
                inclusion_proof: incl.iter().map(|h| B64.encode(h.0)).collect(),
                envelope: None,
            };
            let p = build_status(
                suite,
                ORIGIN,
                StatusKind::Product,
                &id,
                note,
                Some(state_entry),
                &proof,
                record.as_deref(),
            )
            .expect("build");
            let json = serde_json::to_vec(&p).expect("json");
            let (leaf_len, incl_len) = match p.state_entry {
                Some(_) => (last.len(), incl.len()),
                None => (0, 0),
            };
            let raw = note.len()
                + leaf_len
                + 32 * incl_len
                + proof.to_bytes().len()
                + record.as_ref().map_or(0, Vec::len);
            // Verify from the document's bytes, as the command does after reading the file.
            let rounds = 2_000;
            let t = Instant::now();
            for _ in 0..rounds {
                let q: regledger::cert::status::StatusProof =
                    serde_json::from_slice(&json).expect("parse");
                verify_status(&q, &d).expect("verifies");
            }
            let per = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
            println!(
            "N={n} {} {} {}: JSON {} B, raw {} B (checkpoint {} B, leaf {} B, inclusion {} × 32 B, map proof {} B, record {} B), parse+verify {per:.0} µs",
            p.format,
            suite.name(),
            if probe < n { "present" } else { "absent" },
            json.len(),
            raw,
            note.len(),
            leaf_len,
            incl_len,
            proof.to_bytes().len(),
            record.as_ref().map_or(0, Vec::len)
        );
        }
    }
}
