//! regledger-loadgen: the load generator. It registers its own
//! participants with the authority key of a node's data directory, pre-signs
//! operation events, submits them from many concurrent clients and prints
//! one JSON line: throughput, latency quantiles, the time until a
//! checkpoint covers the last acknowledged entry, and CPU per entry (the
//! node's from its /metrics). A tool beside the node, never part of it: the
//! production binary carries no load generator (docs/benchmarks.md).
#![forbid(unsafe_code)]

mod entries;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use rand_core::{OsRng, RngCore};
use regledger::entry::envelope::Envelope;
use regledger::registry::calendar::Date;
use regledger::registry::EntryKind;
use regledger::tlog::note::Signer;
use serde_json::{json, Value};

/// Drive POST /v1/entries with many clients and report throughput and latency as JSON.
#[derive(Parser)]
#[command(name = "regledger-loadgen", version, about)]
struct Args {
    /// Node URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    url: String,
    /// The node's data directory (the load uses its authority key to register its own participants).
    #[arg(long, default_value = "./regledger-data")]
    data: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Entries to submit in total.
    #[arg(long, default_value_t = 50_000)]
    entries: usize,
    /// Approximate payload size in bytes (operation events padded with commitments).
    #[arg(long, default_value_t = 512)]
    payload_bytes: usize,
    /// Envelopes per request: 1 posts each envelope alone (a JSON object);
    /// more posts them as one batch (a JSON array, up to 1,024), and the
    /// latencies are then per request.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    batch: u16,
}

fn main() -> ExitCode {
    let a = Args::parse();
    // keys/authority.key: the data directory layout of node/src/logdir.rs.
    let key = a.data.join("keys").join("authority.key");
    let authority = match std::fs::read_to_string(&key)
        .map_err(|e| e.to_string())
        .and_then(|t| Signer::from_skey(t.trim()).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e}", key.display());
            return ExitCode::from(2);
        }
    };
    let run = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(run(a, authority)));
    match run {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("FAIL: {e}");
            ExitCode::from(1)
        }
    }
}

fn random_seed() -> [u8; 32] {
    let mut s = [0u8; 32];
    OsRng.fill_bytes(&mut s);
    s
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// process_cpu_seconds returns this process's user + system CPU time (Linux
/// `/proc`; `None` elsewhere), as the node's metric of the same name.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name (which may hold spaces):
    // utime is field 14 and stime 15, in USER_HZ ticks (100 per second).
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

async fn post(c: &reqwest::Client, url: &str, env: &Envelope) -> Result<Value, String> {
    let r = c
        .post(url)
        .json(&env.to_json())
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e:?}"))?;
    let ok = r.status().is_success();
    let v: Value = r.json().await.map_err(|e| e.to_string())?;
    if ok {
        Ok(v)
    } else {
        Err(v.to_string())
    }
}

async fn get_text(c: &reqwest::Client, url: &str) -> Result<String, String> {
    c.get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e:?}"))?
        .text()
        .await
        .map_err(|e| e.to_string())
}

/// metric_value reads an unlabelled sample from Prometheus text.
fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
}

/// node_cpu_seconds reads the node's `process_cpu_seconds_total`.
async fn node_cpu_seconds(c: &reqwest::Client, base: &str) -> Option<f64> {
    let text = get_text(c, &format!("{base}/metrics")).await.ok()?;
    metric_value(&text, "process_cpu_seconds_total")
}

/// post_batch posts `envs` as one batch and returns each envelope's result
/// (`{"status", "receipt" | "problem"}`), in order.
async fn post_batch(
    c: &reqwest::Client,
    url: &str,
    envs: &[Envelope],
) -> Result<Vec<Value>, String> {
    let body = Value::Array(envs.iter().map(Envelope::to_json).collect());
    let r = c
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e:?}"))?;
    let ok = r.status().is_success();
    let v: Value = r.json().await.map_err(|e| e.to_string())?;
    match v["results"].as_array() {
        Some(rs) if ok && rs.len() == envs.len() => Ok(rs.clone()),
        _ => Err(v.to_string()),
    }
}

/// Submitted is what the clients of the timed phase saw.
#[derive(Default)]
struct Submitted {
    /// latencies_ms of every entry, overload retries included.
    latencies_ms: Vec<f64>,
    /// errors counts entries refused (other than overloaded).
    errors: u64,
    /// max_index is the largest index acknowledged.
    max_index: u64,
}

/// submit_all submits `envs` from `clients` concurrent clients, `batch`
/// envelopes per request; an overloaded answer is retried after 5 ms, any
/// other refusal counted.
async fn submit_all(
    c: &reqwest::Client,
    url: &str,
    envs: Vec<Envelope>,
    clients: usize,
    batch: usize,
) -> Result<Submitted, String> {
    let per = envs.len().div_ceil(clients.max(1)).max(1);
    let mut tasks = Vec::new();
    for chunk in envs.chunks(per).map(|c| c.to_vec()) {
        let (c, url) = (c.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut s = Submitted::default();
            if batch > 1 {
                for group in chunk.chunks(batch) {
                    let t = Instant::now();
                    let mut left = group;
                    while !left.is_empty() {
                        let rs = match post_batch(&c, &url, left).await {
                            Ok(rs) => rs,
                            Err(_) => {
                                s.errors += left.len() as u64;
                                break;
                            }
                        };
                        // Overloaded envelopes are the tail (a batch is cut
                        // in order, nothing written for them): post it again.
                        let mut retry = left.len();
                        for (i, r) in rs.iter().enumerate() {
                            if r["status"] == 200 {
                                let idx = r["receipt"]["index"].as_u64().unwrap_or(0);
                                s.max_index = s.max_index.max(idx);
                            } else if r["problem"]["type"]
                                .as_str()
                                .is_some_and(|t| t.ends_with("/overloaded"))
                            {
                                retry = retry.min(i);
                            } else {
                                s.errors += 1;
                            }
                        }
                        left = &left[retry..];
                        if !left.is_empty() {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                    s.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                return s;
            }
            for e in chunk {
                let t = Instant::now();
                loop {
                    match post(&c, &url, &e).await {
                        Ok(v) => {
                            s.max_index = s.max_index.max(v["index"].as_u64().unwrap_or(0));
                            break;
                        }
                        Err(m) if m.contains("overloaded") => {
                            tokio::time::sleep(Duration::from_millis(5)).await
                        }
                        Err(_) => {
                            s.errors += 1;
                            break;
                        }
                    }
                }
                s.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            s
        }));
    }
    let mut all = Submitted::default();
    for t in tasks {
        let s = t.await.map_err(|e| e.to_string())?;
        all.latencies_ms.extend(s.latencies_ms);
        all.errors += s.errors;
        all.max_index = all.max_index.max(s.max_index);
    }
    Ok(all)
}

/// checkpoint_lag_ms waits (up to 2 s) until the node's checkpoint covers
/// index `max_index` and returns how long after `acked` that was.
async fn checkpoint_lag_ms(
    c: &reqwest::Client,
    base: &str,
    max_index: u64,
    acked: Instant,
) -> Result<Option<f64>, String> {
    for _ in 0..200 {
        let note = get_text(c, &format!("{base}/checkpoint")).await?;
        let size = note
            .lines()
            .nth(1)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        if size > max_index {
            return Ok(Some(acked.elapsed().as_secs_f64() * 1000.0));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(None)
}

async fn run(a: Args, authority: Signer) -> Result<Value, String> {
    let base = a.url.trim_end_matches('/').to_string();
    let url = format!("{base}/v1/entries");
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients.max(1))
        .build()
        .map_err(|e| format!("HTTP client: {e:?}"))?;
    // Fresh participants for this run, so a node can be loaded repeatedly.
    let tag = hex::encode(&random_seed()[..4]);
    let today = Date::from_unix_ms(now_ms()).ok_or("clock out of range")?;
    let setup = entries::setup(&authority, &tag, today, random_seed)?;
    for e in &setup.entries {
        post(&c, &url, e)
            .await
            .map_err(|e| format!("setup entry refused: {e}"))?;
    }
    // Pre-sign every entry so the timed phase measures the node, not the client's signing.
    let occurred = now_ms() - 1000;
    let k = entries::commitments_for(&setup.agreement, a.payload_bytes, occurred);
    let envs: Vec<Envelope> = (0..a.entries)
        .map(|i| {
            let p = entries::event(&setup.agreement, i, k, occurred);
            entries::sign_as(&setup.operator, EntryKind::OperationEvent, &p)
        })
        .collect();
    let payload_len = envs.first().map(|e| e.payload.len()).unwrap_or(0);
    let node_cpu0 = node_cpu_seconds(&c, &base).await;
    let client_cpu0 = process_cpu_seconds();
    let start = Instant::now();
    let mut s = submit_all(&c, &url, envs, a.clients, usize::from(a.batch)).await?;
    let elapsed = start.elapsed().as_secs_f64();
    let acked = Instant::now();
    let done = (a.entries as f64 - s.errors as f64).max(1.0);
    // CPU per acknowledged entry over the timed phase (the node's from its
    // /metrics; only meaningful when it runs alone on its machine).
    let per_entry_us =
        |t0: Option<f64>, t1: Option<f64>| t0.zip(t1).map(|(x, y)| ((y - x) / done * 1e6).round());
    let node_cpu_us = per_entry_us(node_cpu0, node_cpu_seconds(&c, &base).await);
    let client_cpu_us = per_entry_us(client_cpu0, process_cpu_seconds());
    let lag = checkpoint_lag_ms(&c, &base, s.max_index, acked).await?;
    let metrics = get_text(&c, &format!("{base}/metrics")).await?;
    let metric = |name: &str| metric_value(&metrics, name).unwrap_or(0.0);
    let lat = &mut s.latencies_ms;
    lat.sort_by(|x, y| x.total_cmp(y));
    let q = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    // What the node checked of each entry: the load's signers use the
    // authority key's algorithm (SM2 in an sm3 log).
    let signature_check = match setup.operator.key_type().alg() {
        regledger::crypto::SigAlg::Ed25519 => "ed25519 verify_strict, every entry",
        regledger::crypto::SigAlg::Sm2 => "sm2 (GB/T 32918), every entry",
    };
    Ok(json!({
        "system": "regledger", "clients": a.clients, "batch": a.batch, "entries": a.entries, "payload_bytes": payload_len, "errors": s.errors,
        "seconds": elapsed, "throughput_per_s": ((a.entries as f64 - s.errors as f64) / elapsed * 10.0).round() / 10.0,
        "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99),
        "checkpoint_lag_ms": lag,
        "node_cpu_us_per_entry": node_cpu_us, "client_cpu_us_per_entry": client_cpu_us,
        "mean_batch_size": metric("regledger_entries_accepted_total") / metric("regledger_batches_total").max(1.0),
        "signature_verification": signature_check, "durability": "acknowledged after the store's durable commit"
    }))
}
