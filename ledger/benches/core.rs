//! Criterion benchmarks of the core's hot paths: hashing, tree appends and
//! proofs, envelope signature verification, leaf parsing and rule replay.
//!
//!     cargo bench -p regledger --bench core
//!
//! Results are recorded in docs/benchmarks.md with the machine they ran on.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use regledger::entry::envelope::{participant_key_id, verify_batch, Envelope};
use regledger::entry::leaf::Leaf;
use regledger::registry::{apply, EntryContext, EntryKind};
use regledger::testkit::{replay, Testkit, BASE_MS, DAY_MS};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::proof::{verify_consistency, verify_inclusion};
use regledger::{Hash, HashSuite};
use serde_json::json;
use std::hint::black_box;

fn hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("leaf_hash_512B");
    g.throughput(Throughput::Elements(1));
    let data = vec![7u8; 512];
    for suite in [HashSuite::Sha256, HashSuite::Blake3] {
        g.bench_function(suite.name(), |b| {
            b.iter(|| suite.leaf_hash(black_box(&data)))
        });
    }
    g.finish();
}

fn tree(c: &mut Criterion) {
    for suite in [HashSuite::Sha256, HashSuite::Blake3] {
        let mut g = c.benchmark_group(format!("tree_{}", suite.name()));
        g.throughput(Throughput::Elements(100_000));
        g.sample_size(10);
        g.bench_function("append_100k_leaf_hashes", |b| {
            b.iter(|| {
                let mut t = MemoryTree::with_capacity(suite, 100_000);
                for i in 0u64..100_000 {
                    let mut h = [0u8; 32];
                    h[..8].copy_from_slice(&i.to_le_bytes());
                    t.append(Hash(h));
                }
                black_box(t.root())
            })
        });
        g.finish();
        let mut t = MemoryTree::new(suite);
        for i in 0u64..1_000_000 {
            t.append_data(&i.to_le_bytes());
        }
        let size = t.size();
        let root = t.root();
        let mut g = c.benchmark_group(format!("proof_1M_{}", suite.name()));
        g.throughput(Throughput::Elements(1));
        g.bench_function("prove_inclusion", |b| {
            b.iter(|| t.prove_inclusion(size, black_box(123_457)).unwrap())
        });
        let p = t.prove_inclusion(size, 123_457).unwrap();
        let leaf = t.leaf_hash(123_457).unwrap();
        g.bench_function("verify_inclusion", |b| {
            b.iter(|| verify_inclusion(suite, size, 123_457, &leaf, &p, &root).unwrap())
        });
        let old_root = t.root_at(654_321).unwrap();
        let cp = t.prove_consistency(654_321, size).unwrap();
        g.bench_function("prove_consistency", |b| {
            b.iter(|| t.prove_consistency(black_box(654_321), size).unwrap())
        });
        g.bench_function("verify_consistency", |b| {
            b.iter(|| verify_consistency(suite, 654_321, size, &cp, &old_root, &root).unwrap())
        });
        g.finish();
    }
}

fn signatures(c: &mut Criterion) {
    let kit = Testkit::new("bench.example/core");
    let env = kit.business.sign(
        EntryKind::OperationEvent,
        &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": BASE_MS + 3 * DAY_MS, "actor": "svc-1", "records": 12}),
    );
    let pk = kit.business.public_key();
    let key_id = participant_key_id(&kit.business.id, &pk);
    let mut g = c.benchmark_group("envelope");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_signature_strict", |b| {
        b.iter(|| env.verify_signature(black_box(&key_id), &pk).unwrap())
    });
    // What each verification spends decoding the key (point decompression)
    // before the equation: the part a cache of decoded keys saves.
    let regledger::crypto::PublicKey::Ed25519(raw) = pk.clone() else {
        unreachable!("the testkit's keys are Ed25519")
    };
    g.bench_function("ed25519_key_decode", |b| {
        b.iter(|| ed25519_dalek::VerifyingKey::from_bytes(black_box(&raw)).unwrap())
    });
    let bytes = env.to_bytes();
    g.bench_function("from_bytes", |b| {
        b.iter(|| Envelope::from_bytes(black_box(&bytes)).unwrap())
    });
    let leaf = Leaf::inline(12, BASE_MS + 3 * DAY_MS + 1, Hash([1; 32]), env.clone()).to_bytes();
    g.bench_function("leaf_parse", |b| {
        b.iter(|| Leaf::parse(black_box(&leaf)).unwrap())
    });

    // One operation event replayed against the state of the testkit's setup
    // (signature already verified: the preverified path the node and audit use).
    let setup = kit.setup(HashSuite::Blake3, "guangxi");
    let st = replay("bench.example/core", HashSuite::Blake3, &setup)
        .unwrap()
        .state;
    let ctx = EntryContext {
        index: setup.len() as u64,
        integrated_time_ms: BASE_MS + 3 * DAY_MS + 1,
        log_id: "bench.example/core".into(),
    };
    g.bench_function("apply_operation_event_with_signature", |b| {
        b.iter_batched(
            || (),
            |_| apply(&st, &ctx, black_box(&env)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("apply_operation_event_preverified", |b| {
        let pre = [regledger::entry::envelope::Preverified {
            index: 0,
            public_key: pk.clone(),
        }];
        b.iter(|| regledger::registry::apply_preverified(&st, &ctx, black_box(&env), &pre).unwrap())
    });
    g.finish();
}

/// algorithms: one signature and one verification of an envelope's PAE,
/// Ed25519 against SM2 (D19: what sm3 mode costs per signature).
fn algorithms(c: &mut Criterion) {
    use regledger::crypto::{SecretKey, SigAlg};
    let msg = Envelope::pae(
        "application/vnd.regledger.operation-event+json",
        &[b'x'; 200],
    );
    let mut g = c.benchmark_group("signature");
    g.throughput(Throughput::Elements(1));
    for alg in [SigAlg::Ed25519, SigAlg::Sm2] {
        let k = SecretKey::from_seed(alg, &[7; 32]).unwrap();
        let pk = k.public_key();
        let sig = k.sign(&msg);
        g.bench_function(format!("{alg}_sign"), |b| {
            b.iter(|| k.sign(black_box(&msg)))
        });
        g.bench_function(format!("{alg}_verify"), |b| {
            b.iter(|| pk.verify(alg, black_box(&msg), &sig).unwrap())
        });
    }
    g.finish();
}

/// suites: the three hash suites side by side (D19: what sm3 mode costs
/// per hash): one hash of 1 KiB, and the RFC 9162 root of 1,000 leaves
/// (leaf hashes of 64-byte items, then the tree).
fn suites(c: &mut Criterion) {
    let data = vec![7u8; 1024];
    let mut g = c.benchmark_group("suite_hash_1KiB");
    g.throughput(Throughput::Bytes(1024));
    for suite in [HashSuite::Sha256, HashSuite::Blake3, HashSuite::Sm3] {
        g.bench_function(suite.name(), |b| {
            b.iter(|| suite.digest(&[black_box(&data)]))
        });
    }
    g.finish();
    let items: Vec<Vec<u8>> = (0u64..1000)
        .map(|i| {
            let mut v = vec![0u8; 64];
            v[..8].copy_from_slice(&i.to_le_bytes());
            v
        })
        .collect();
    let mut g = c.benchmark_group("suite_tree_1k_leaves");
    g.throughput(Throughput::Elements(1000));
    for suite in [HashSuite::Sha256, HashSuite::Blake3, HashSuite::Sm3] {
        g.bench_function(suite.name(), |b| {
            b.iter(|| {
                let mut t = MemoryTree::with_capacity(suite, 1000);
                for it in &items {
                    t.append_data(black_box(it));
                }
                black_box(t.root())
            })
        });
    }
    g.finish();
}

fn batch(c: &mut Criterion) {
    let kit = Testkit::new("bench.example/core");
    let pk = [kit.business.public_key()];
    let many: Vec<Envelope> = (0..256u64)
        .map(|k| {
            kit.business.sign(
                EntryKind::OperationEvent,
                &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": BASE_MS + k, "actor": "svc-1", "records": k}),
            )
        })
        .collect();
    let items: Vec<(&Envelope, &[regledger::crypto::PublicKey])> =
        many.iter().map(|e| (e, &pk[..])).collect();
    let mut gb = c.benchmark_group("envelope_batch_256");
    gb.throughput(Throughput::Elements(256));
    gb.sample_size(20);
    gb.bench_function("verify_batch", |b| {
        b.iter(|| assert!(verify_batch(black_box(&items)).is_empty()))
    });
    gb.finish();
}

fn notes(c: &mut Criterion) {
    use regledger::tlog::checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint};
    use regledger::tlog::note::{KeyType, Signer};
    let log = Signer::generate("bench.example/log", KeyType::Ed25519, [9; 32]).unwrap();
    let cp = Checkpoint {
        origin: "bench.example/log".into(),
        size: 1_000_000,
        root: Hash([3; 32]),
        extensions: vec![],
    };
    let note = sign_checkpoint(&cp, &log).unwrap();
    let vk = log.verifier();
    let mut g = c.benchmark_group("note");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_checkpoint", |b| {
        b.iter(|| open_checkpoint(black_box(note.as_bytes()), &vk).unwrap())
    });
    g.finish();
}

criterion_group!(benches, hashing, tree, signatures, algorithms, suites, batch, notes);
criterion_main!(benches);
