//! gen_log writes a large, valid, signed log as a node would publish it
//! (tile directory + log.json), for benchmarking `regledger-verify audit`.
//!
//! The log is the testkit's setup (genesis, participants, a resource and
//! agreements) followed by operation events (经营主体 operation records
//! under scene authorization SA-1), each signed by the business entity.
//!
//!     cargo run --release -p regledger --example gen_log -- OUT_DIR ENTRIES [blake3|sha256] [SNAPSHOT_AT]
//!
//! With SNAPSHOT_AT = K, it also writes the state snapshot at size K
//! (`OUT_DIR/snapshot-K.bin`) and the checkpoint of size K
//! (`OUT_DIR/checkpoint-K`), for `audit --from-snapshot … --trusted …`.
//!
//! Keys are the testkit's public test keys and a fixed log key: never use
//! the output as a real log.

use std::path::Path;

use regledger::entry::leaf::{envelope_hash, Leaf};
use regledger::registry::EntryKind;
use regledger::testkit::{
    chain, descriptor, tile_files, write_files, Logged, Testkit, BASE_MS, DAY_MS,
};
use regledger::tlog::note::{KeyType, Signer};
use regledger::{Hash, HashSuite};
use serde_json::json;

const ORIGIN: &str = "bench.example/gen-log";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: gen_log OUT_DIR ENTRIES [blake3|sha256]");
        std::process::exit(2);
    }
    let out = Path::new(&args[0]);
    let total: usize = args[1].parse().expect("ENTRIES is a number");
    let suite = HashSuite::from_name(args.get(2).map(String::as_str).unwrap_or("blake3"))
        .expect("hash is blake3 or sha256");

    let kit = Testkit::new(ORIGIN);
    let setup = kit.setup(suite, "guangxi");
    assert!(total >= setup.len(), "at least {} entries", setup.len());
    let logged = chain(ORIGIN, suite, &setup);
    let mut leaves: Vec<Vec<u8>> = logged.iter().map(Logged::leaf_bytes).collect();
    let mut envs: Vec<Vec<u8>> = logged.iter().map(Logged::envelope_bytes).collect();
    let mut prev = suite.leaf_hash(leaves.last().expect("setup"));
    // Operation events write no state: every later leaf repeats this root.
    let root = logged
        .last()
        .and_then(|l| l.leaf.state_root())
        .expect("v2 leaves");
    // Operation events start on 2025-03-06, within SA-1's term, one ms apart.
    let t0 = BASE_MS + 3 * DAY_MS;
    let n_ops = total - setup.len();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = n_ops.div_ceil(threads).max(1);
    let envelopes: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n_ops)
            .step_by(chunk)
            .map(|from| {
                let kit = &kit;
                s.spawn(move || {
                    (from..(from + chunk).min(n_ops))
                        .map(|k| {
                            kit.business.sign(
                                EntryKind::OperationEvent,
                                &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": t0 + k as u64,
                                        "actor": format!("svc-{}", k % 97), "records": k % 5000}),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("signer"))
            .collect()
    });
    for (k, env) in envelopes.into_iter().enumerate() {
        let i = leaves.len() as u64;
        let eb = env.to_bytes();
        let leaf = Leaf::compact(i, t0 + k as u64 + 1, prev, root, envelope_hash(suite, &eb));
        let b = leaf.to_bytes();
        envs.push(eb);
        prev = suite.leaf_hash(&b);
        leaves.push(b);
    }
    let _: Hash = prev;

    let log_key = Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).expect("key");
    if let Some(k) = args.get(3) {
        let k: u64 = k.parse().expect("SNAPSHOT_AT is a number");
        assert!(
            k as usize >= setup.len() && k as usize <= leaves.len(),
            "SNAPSHOT_AT within the operation events"
        );
        write_snapshot(out, suite, &log_key, &setup, &leaves, k);
    }
    let files = tile_files(suite, ORIGIN, &log_key, &leaves, &envs);
    let tiles = out.join("tiles");
    write_files(&tiles, &files).expect("write tiles");
    let d = descriptor(ORIGIN, suite, &log_key, "guangxi");
    std::fs::write(
        out.join("log.json"),
        serde_json::to_vec_pretty(&d).expect("json"),
    )
    .expect("write log.json");
    eprintln!(
        "wrote {} entries ({} files) to {}",
        leaves.len(),
        files.len(),
        tiles.display()
    );
}

/// write_snapshot writes the state snapshot and the checkpoint at size `k`
/// (past the setup, so the state is the setup's).
fn write_snapshot(
    out: &Path,
    suite: HashSuite,
    log_key: &Signer,
    setup: &[regledger::testkit::Step],
    leaves: &[Vec<u8>],
    k: u64,
) {
    use regledger::cert::snapshot::{build_snapshot, frontier_indexes};
    use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
    std::fs::create_dir_all(out).expect("mkdir");
    let mut sq = regledger::testkit::Sequencer::new(ORIGIN, suite);
    for s in setup {
        sq.next_unchecked(&s.envelope, s.time_ms);
    }
    let mut tree = regledger::tlog::memory::MemoryTree::with_capacity(suite, k as usize);
    for l in &leaves[..k as usize] {
        tree.append_data(l);
    }
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: k,
        root: tree.root(),
        extensions: vec![],
    };
    let note = sign_checkpoint(&cp, log_key).expect("sign");
    let frontier: Vec<Hash> = frontier_indexes(k)
        .into_iter()
        .map(|i| tree.stored()[i as usize])
        .collect();
    let snap = build_snapshot(
        suite,
        ORIGIN,
        &note,
        k,
        &leaves[(k - 1) as usize],
        &tree.prove_inclusion(k, k - 1).expect("proof"),
        &frontier,
        sq.records,
    )
    .expect("snapshot");
    std::fs::write(out.join(format!("snapshot-{k}.bin")), snap).expect("write snapshot");
    std::fs::write(out.join(format!("checkpoint-{k}")), note).expect("write checkpoint");
}
