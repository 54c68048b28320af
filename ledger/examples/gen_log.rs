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
use regledger::testkit::{chain, descriptor, Testkit, BASE_MS, DAY_MS};
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, Signer};
use regledger::tlog::tile::{
    encode_entry_bundle, entry_tiles_for_size, hash_tiles_for_size, read_tile_data, TILE_WIDTH,
};
use regledger::{Hash, HashSuite};
use serde_json::json;

const ORIGIN: &str = "bench.example/gen-log";

/// BLOCK is how many operation events are signed at once (in parallel),
/// then sequenced and written: memory stays bounded by a block and the
/// tree's hashes (64 bytes an entry), so 10 M entries fit on a small host.
const BLOCK: usize = 65_536;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: gen_log OUT_DIR ENTRIES [blake3|sha256] [SNAPSHOT_AT]");
        std::process::exit(2);
    }
    let out = Path::new(&args[0]);
    let total: usize = args[1].parse().expect("ENTRIES is a number");
    let suite = HashSuite::from_name(args.get(2).map(String::as_str).unwrap_or("blake3"))
        .expect("hash is blake3 or sha256");
    let snapshot_at: Option<u64> = args
        .get(3)
        .map(|k| k.parse().expect("SNAPSHOT_AT is a number"));

    let kit = Testkit::new(ORIGIN);
    let setup = kit.setup(suite, "guangxi");
    assert!(total >= setup.len(), "at least {} entries", setup.len());
    if let Some(k) = snapshot_at {
        assert!(
            k as usize >= setup.len() && k as usize <= total,
            "SNAPSHOT_AT within the operation events"
        );
    }
    let tiles = out.join("tiles");
    let mut w = Writer {
        tiles: tiles.clone(),
        tree: MemoryTree::with_capacity(suite, total),
        leaves: Vec::with_capacity(TILE_WIDTH as usize),
        envs: Vec::with_capacity(TILE_WIDTH as usize),
        last_before_snapshot: None,
        snapshot_at,
        files: 0,
    };
    let logged = chain(ORIGIN, suite, &setup);
    for l in &logged {
        w.push(l.leaf_bytes(), l.envelope_bytes());
    }
    let mut prev = suite.leaf_hash(&logged.last().expect("setup").leaf_bytes());
    // Operation events write no state: every later leaf repeats this root.
    let root = logged
        .last()
        .and_then(|l| l.leaf.state_root())
        .expect("v2 leaves");
    // Operation events start on 2025-03-06, within SA-1's term, one ms apart.
    let t0 = BASE_MS + 3 * DAY_MS;
    let n_ops = total - setup.len();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for block in (0..n_ops).step_by(BLOCK) {
        let end = (block + BLOCK).min(n_ops);
        let chunk = (end - block).div_ceil(threads).max(1);
        let envelopes: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (block..end)
                .step_by(chunk)
                .map(|from| {
                    let kit = &kit;
                    s.spawn(move || {
                        (from..(from + chunk).min(end))
                            .map(|k| {
                                kit.business.sign(
                                    EntryKind::OperationEvent,
                                    &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": t0 + k as u64,
                                            "actor": format!("svc-{}", k % 97), "records": k % 5000}),
                                )
                                .to_bytes()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter()
                .flat_map(|h| h.join().expect("signer"))
                .collect()
        });
        for (k, eb) in (block..).zip(envelopes) {
            let i = w.tree.size();
            let leaf = Leaf::compact(i, t0 + k as u64 + 1, prev, root, envelope_hash(suite, &eb));
            let b = leaf.to_bytes();
            prev = suite.leaf_hash(&b);
            w.push(b, eb);
        }
    }
    let _: Hash = prev;
    w.flush_partial();

    let log_key = Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).expect("key");
    let n = w.tree.size();
    let mut hash_tiles = 0usize;
    for t in hash_tiles_for_size(0, n) {
        let data = read_tile_data(&t, w.tree.stored()).expect("tile within the tree");
        w.write(&t.path(), &data);
        hash_tiles += 1;
    }
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: n,
        root: w.tree.root(),
        extensions: vec![],
    };
    let note = sign_checkpoint(&cp, &log_key).expect("sign");
    w.write("checkpoint", note.as_bytes());
    if let (Some(k), Some(last)) = (snapshot_at, &w.last_before_snapshot) {
        write_snapshot(out, suite, &log_key, &setup, &w.tree, last, k);
    }
    let d = descriptor(ORIGIN, suite, &log_key, "guangxi");
    std::fs::write(
        out.join("log.json"),
        serde_json::to_vec_pretty(&d).expect("json"),
    )
    .expect("write log.json");
    eprintln!(
        "wrote {n} entries ({} files, {hash_tiles} hash tiles) to {}",
        w.files,
        tiles.display()
    );
}

/// Writer sequences leaves into the tree and writes each entry bundle and
/// envelope bundle as it fills.
struct Writer {
    tiles: std::path::PathBuf,
    tree: MemoryTree,
    /// leaves and envs are the current bundle's.
    leaves: Vec<Vec<u8>>,
    envs: Vec<Vec<u8>>,
    /// last_before_snapshot is leaf SNAPSHOT_AT − 1, once passed.
    last_before_snapshot: Option<Vec<u8>>,
    snapshot_at: Option<u64>,
    files: usize,
}

impl Writer {
    fn push(&mut self, leaf: Vec<u8>, envelope: Vec<u8>) {
        self.tree.append_data(&leaf);
        if self.snapshot_at == Some(self.tree.size()) {
            self.last_before_snapshot = Some(leaf.clone());
        }
        self.leaves.push(leaf);
        self.envs.push(envelope);
        if self.leaves.len() == TILE_WIDTH as usize {
            self.flush_partial();
        }
    }

    /// flush_partial writes the current bundle (full, or the last partial one).
    fn flush_partial(&mut self) {
        if self.leaves.is_empty() {
            return;
        }
        let n = self.tree.size();
        let from = n - self.leaves.len() as u64;
        for t in entry_tiles_for_size(from, n) {
            let refs: Vec<&[u8]> = self.leaves.iter().map(Vec::as_slice).collect();
            let data = encode_entry_bundle(&refs).expect("entries fit");
            self.write(&t.path(), &data);
            let refs: Vec<&[u8]> = self.envs.iter().map(Vec::as_slice).collect();
            let data = encode_entry_bundle(&refs).expect("envelopes fit");
            self.write(&t.envelopes().path(), &data);
        }
        self.leaves.clear();
        self.envs.clear();
    }

    fn write(&mut self, path: &str, data: &[u8]) {
        let p = self.tiles.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, data).expect("write tile");
        self.files += 1;
    }
}

/// write_snapshot writes the state snapshot and the checkpoint at size `k`
/// (past the setup, so the state is the setup's); `last` is leaf k − 1.
fn write_snapshot(
    out: &Path,
    suite: HashSuite,
    log_key: &Signer,
    setup: &[regledger::testkit::Step],
    tree: &MemoryTree,
    last: &[u8],
    k: u64,
) {
    use regledger::cert::snapshot::{build_snapshot, frontier_indexes};
    std::fs::create_dir_all(out).expect("mkdir");
    let mut sq = regledger::testkit::Sequencer::new(ORIGIN, suite);
    for s in setup {
        sq.next_unchecked(&s.envelope, s.time_ms);
    }
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: k,
        root: tree.root_at(k).expect("k within the tree"),
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
        last,
        &tree.prove_inclusion(k, k - 1).expect("proof"),
        &frontier,
        sq.records,
    )
    .expect("snapshot");
    std::fs::write(out.join(format!("snapshot-{k}.bin")), snap).expect("write snapshot");
    std::fs::write(out.join(format!("checkpoint-{k}")), note).expect("write checkpoint");
}
