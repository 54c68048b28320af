//! Criterion benchmarks of the state map (issue 14): maps of 1 M and 10 M
//! keys, proof sizes, proof verification, update cost per key, and the
//! size and verification cost of a whole status proof.
//!
//!     cargo bench -p regledger --bench statemap
//!     STATEMAP_SIZES=1000000,2000000,4000000 cargo bench -p regledger --bench statemap
//!
//! `STATEMAP_SUITES=sha256` limits the suites; `STATEMAP_REPORT_ONLY=1`
//! skips criterion and prints only the figures below (run one size per
//! process to measure its memory).
//!
//! Besides criterion's timings it prints, per size, the build time, the
//! memory the map takes (RSS before and after, Linux), the node count, the
//! depth and size of proofs, hashes and node writes per key written, and
//! the estimated status proof. Results are recorded in docs/benchmarks.md.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

static FIRST: AtomicBool = AtomicBool::new(true);

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ed25519_dalek::{Signer as _, SigningKey};
use regledger::statemap::{
    self, verify_absence_hashed, verify_presence_hashed, MemoryStore, StateMap,
};
use regledger::{Hash, HashSuite};

/// Bytes of a C2SP checkpoint of origin `gx.regledger.example/log` at a
/// 8-digit size: body (origin, size, base64 root), blank line, the log's
/// signature line and one cosignature line per witness.
fn checkpoint_bytes(witnesses: usize) -> usize {
    let origin = "gx.regledger.example/log".len();
    let body = origin + 1 + 8 + 1 + 44 + 1;
    // "— " (4 bytes: U+2014 is 3) + name + " " + base64(key id 4 + sig 64) + "\n"
    let log_line = 4 + origin + 1 + 92 + 1;
    // a witness named like "witness.example/w1": base64(4 + 8 + 64) = 104
    let cosig_line = 4 + "witness.example/w1".len() + 1 + 104 + 1;
    body + 1 + log_line + witnesses * cosig_line
}

fn rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// key i of a benchmark map: a registry-like key string.
fn key(i: u64) -> Vec<u8> {
    format!("product/P-{i:010}").into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    // About the size of a small state record.
    let mut v = vec![0u8; 200];
    v[..8].copy_from_slice(&i.to_be_bytes());
    v[8..16].copy_from_slice(&round.to_be_bytes());
    v
}

struct Built {
    n: u64,
    map: StateMap<MemoryStore>,
    root: Hash,
}

fn build(suite: HashSuite, n: u64) -> Built {
    let before = rss_kb();
    let t = Instant::now();
    let mut map = StateMap::new(suite, MemoryStore::default());
    // Batches of 1 M writes, as a bulk load would apply them.
    let mut i = 0;
    while i < n {
        let end = (i + 1_000_000).min(n);
        let ws: Vec<_> = (i..end)
            .map(|j| {
                (
                    statemap::key_hash(suite, &key(j)),
                    Some(statemap::value_hash(suite, &value(j, 0))),
                )
            })
            .collect();
        map.apply_hashed(ws).unwrap();
        i = end;
    }
    let root = map.root().unwrap();
    let secs = t.elapsed().as_secs_f64();
    let after = rss_kb();
    let nodes = map.store().node_count() as u64;
    // Only the first map a process builds is measured: freed maps stay in
    // the allocator's pools and would be reused by the next one.
    let mem = match (before, after) {
        (Some(b), Some(a)) if FIRST.swap(false, Ordering::Relaxed) => format!(
            "RSS {} → {} MB ({:.0} B per key)",
            b / 1024,
            a / 1024,
            (a.saturating_sub(b) * 1024) as f64 / n as f64
        ),
        _ => "RSS not measured (not the first map of this process)".into(),
    };
    println!(
        "statemap {} n={n}: built in {secs:.1} s, {nodes} internal nodes ({:.3} per key), {mem}",
        suite.name(),
        nodes as f64 / n as f64,
    );
    Built { n, map, root }
}

/// report prints proof depths and sizes over a sample of present and
/// absent keys, the update cost per key, and the status proof estimate.
fn report(b: &mut Built) {
    let suite = b.map.suite();
    let sample = 20_000u64;
    let (mut pd, mut pmax, mut pbytes, mut pbmax) = (0usize, 0usize, 0usize, 0usize);
    let (mut ad, mut abytes, mut abmax) = (0usize, 0usize, 0usize);
    for s in 0..sample {
        let i = s.wrapping_mul(0x9E37_79B9_7F4A_7C15) % b.n;
        let p = b.map.prove(&key(i)).unwrap();
        let len = p.to_bytes().len();
        pd += p.depth();
        pmax = pmax.max(p.depth());
        pbytes += len;
        pbmax = pbmax.max(len);
        let a = b.map.prove(&key(b.n + s)).unwrap();
        let alen = a.to_bytes().len();
        ad += a.depth();
        abytes += alen;
        abmax = abmax.max(alen);
    }
    let s = sample as f64;
    let presence_avg = pbytes as f64 / s;
    println!(
        "statemap {} n={}: presence depth avg {:.1} max {pmax}, bytes avg {presence_avg:.0} max {pbmax}; absence depth avg {:.1}, bytes avg {:.0} max {abmax}",
        suite.name(),
        b.n,
        pd as f64 / s,
        ad as f64 / s,
        abytes as f64 / s,
    );
    // Update cost: single-key updates of existing keys, and a batch.
    for batch in [1u64, 1_000] {
        b.map.reset_stats();
        let rounds = if batch == 1 { 2_000 } else { 10 };
        let t = Instant::now();
        for r in 0..rounds {
            let ws: Vec<_> = (0..batch)
                .map(|j| {
                    let i = (r * batch + j).wrapping_mul(0x2545_F491_4F6C_DD1D) % b.n;
                    (
                        statemap::key_hash(suite, &key(i)),
                        Some(statemap::value_hash(suite, &value(i, r + 1))),
                    )
                })
                .collect();
            b.map.apply_hashed(ws).unwrap();
        }
        let per = t.elapsed().as_secs_f64() * 1e6 / (rounds * batch) as f64;
        let st = b.map.stats();
        let k = (rounds * batch) as f64;
        println!(
            "statemap {} n={}: update batch {batch}: {per:.2} µs per key (key and value hashing included), {:.1} tree hashes + 2 key/value hashes, {:.1} node reads, {:.1} node writes per key",
            suite.name(),
            b.n,
            st.hashes as f64 / k,
            st.reads as f64 / k,
            st.writes as f64 / k,
        );
    }
    b.root = b.map.root().unwrap();
    // The status proof: checkpoint + leaf N−1 + its inclusion proof in a
    // log of N entries (popcount(N−1) hashes for the last leaf, at most
    // ceil(log2 N)) + this map proof + the record. N ≥ n: every object
    // was written by at least one entry.
    let mut logs = vec![b.n];
    if b.n < 10_000_000 {
        logs.push(10_000_000);
    }
    for size in logs {
        let incl_last = u64::from((size - 1).count_ones());
        let incl_worst = u64::from(64 - (size - 1).leading_zeros());
        for (record, what) in [(40usize, "status head"), (770, "product record")] {
            for witnesses in [1usize, 2] {
                let fixed = checkpoint_bytes(witnesses) + 500 + record;
                println!(
                    "statemap {} n={} log={size}: status proof ({what} {record} B, {witnesses} witness): checkpoint {} + leaf 500 + inclusion {incl_last}..{incl_worst} × 32 + map {presence_avg:.0} + record = {:.0}..{:.0} B binary",
                    suite.name(),
                    b.n,
                    checkpoint_bytes(witnesses),
                    fixed as f64 + 32.0 * incl_last as f64 + presence_avg,
                    fixed as f64 + 32.0 * incl_worst as f64 + presence_avg,
                );
            }
        }
    }
}

fn benches_for(c: &mut Criterion, b: &Built) {
    let suite = b.map.suite();
    let name = format!("statemap_{}_{}M", suite.name(), b.n / 1_000_000);
    let mut g = c.benchmark_group(&name);
    g.throughput(Throughput::Elements(1));
    let keys: Vec<Hash> = (0..1024u64)
        .map(|s| statemap::key_hash(suite, &key(s.wrapping_mul(0x9E37_79B9_7F4A_7C15) % b.n)))
        .collect();
    let absent: Vec<Hash> = (0..1024u64)
        .map(|s| statemap::key_hash(suite, &key(b.n + s)))
        .collect();
    let proofs: Vec<_> = keys
        .iter()
        .map(|k| {
            let p = b.map.prove_hashed(k).unwrap();
            (*k, b.map.get_hashed(k).unwrap().unwrap(), p.to_bytes())
        })
        .collect();
    let aproofs: Vec<_> = absent
        .iter()
        .map(|k| (*k, b.map.prove_hashed(k).unwrap().to_bytes()))
        .collect();
    let mut i = 0usize;
    g.bench_function("prove_presence", |bn| {
        bn.iter(|| {
            i = (i + 1) % keys.len();
            b.map.prove_hashed(black_box(&keys[i])).unwrap()
        })
    });
    g.bench_function("parse_and_verify_presence", |bn| {
        bn.iter(|| {
            i = (i + 1) % proofs.len();
            let (k, v, p) = &proofs[i];
            let p = statemap::MapProof::parse(black_box(p)).unwrap();
            verify_presence_hashed(suite, &b.root, k, v, &p).unwrap()
        })
    });
    g.bench_function("parse_and_verify_absence", |bn| {
        bn.iter(|| {
            i = (i + 1) % aproofs.len();
            let (k, p) = &aproofs[i];
            let p = statemap::MapProof::parse(black_box(p)).unwrap();
            verify_absence_hashed(suite, &b.root, k, &p).unwrap()
        })
    });
    // The whole offline status check, modelled with the real primitives:
    // checkpoint signature and one cosignature (Ed25519 verify_strict), the
    // RFC 9162 leaf hash of a 500-byte leaf, a worst-case inclusion proof
    // (ceil(log2 n) node hashes), and the map proof.
    let sk = SigningKey::from_bytes(&[7; 32]);
    let vk = sk.verifying_key();
    let body = vec![b'x'; 80];
    let sig = sk.sign(&body);
    let leaf = vec![0x42u8; 500];
    let depth = 64 - (b.n - 1).leading_zeros();
    g.bench_function("status_proof_verify_model_2sigs", |bn| {
        bn.iter(|| {
            vk.verify_strict(black_box(&body), &sig).unwrap();
            vk.verify_strict(black_box(&body), &sig).unwrap();
            let mut h = suite.leaf_hash(black_box(&leaf));
            for _ in 0..depth {
                h = suite.node_hash(&h, &h);
            }
            black_box(h);
            i = (i + 1) % proofs.len();
            let (k, v, p) = &proofs[i];
            let p = statemap::MapProof::parse(p).unwrap();
            verify_presence_hashed(suite, &b.root, k, v, &p).unwrap()
        })
    });
    g.finish();
}

fn update_benches(c: &mut Criterion, b: &mut Built) {
    let suite = b.map.suite();
    let name = format!("statemap_{}_{}M_update", suite.name(), b.n / 1_000_000);
    let mut g = c.benchmark_group(&name);
    g.throughput(Throughput::Elements(1));
    let n = b.n;
    let mut round = 1_000u64;
    g.bench_function("update_one_existing_key", |bn| {
        bn.iter_batched(
            || {
                round += 1;
                let i = round.wrapping_mul(0x2545_F491_4F6C_DD1D) % n;
                (
                    statemap::key_hash(suite, &key(i)),
                    statemap::value_hash(suite, &value(i, round)),
                )
            },
            |(k, v)| b.map.apply_hashed(vec![(k, Some(v))]).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.throughput(Throughput::Elements(1_000));
    g.sample_size(20);
    g.bench_function("update_batch_of_1000_keys", |bn| {
        bn.iter_batched(
            || {
                round += 1;
                (0..1_000u64)
                    .map(|j| {
                        let i = (round * 1_000 + j).wrapping_mul(0x2545_F491_4F6C_DD1D) % n;
                        (
                            statemap::key_hash(suite, &key(i)),
                            Some(statemap::value_hash(suite, &value(i, round))),
                        )
                    })
                    .collect::<Vec<_>>()
            },
            |ws| b.map.apply_hashed(ws).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    b.root = b.map.root().unwrap();
}

fn statemap_benches(c: &mut Criterion) {
    let sizes: Vec<u64> = std::env::var("STATEMAP_SIZES")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("STATEMAP_SIZES: comma-separated key counts")
        })
        .collect();
    let suites: Vec<HashSuite> = std::env::var("STATEMAP_SUITES")
        .unwrap_or_else(|_| "sha256,blake3".into())
        .split(',')
        .map(|s| HashSuite::from_name(s.trim()).expect("STATEMAP_SUITES: sha256,blake3"))
        .collect();
    for &n in &sizes {
        for &suite in &suites {
            let mut b = build(suite, n);
            report(&mut b);
            if std::env::var_os("STATEMAP_REPORT_ONLY").is_none() {
                benches_for(c, &b);
                update_benches(c, &mut b);
            }
        }
    }
}

criterion_group!(benches, statemap_benches);
criterion_main!(benches);
