//! The reference client (`submit`) and the load generator (`bench`).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::entry::envelope::{participant_key_id, payload_type_for, Envelope};
use regledger::registry::calendar::Date;
use regledger::registry::EntryKind;
use regledger::tlog::note::{KeyType, Signer};
use serde_json::{json, Value};

use crate::logdir::{read_signer, Paths};

/// BENCH_DOC is the document digest the load generator's payloads carry
/// (BLAKE3 of the empty string): its entries stand for no real document.
const BENCH_DOC: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
use crate::Failure;

/// Arguments of `submit`.
#[derive(clap::Args)]
pub struct SubmitArgs {
    /// Node URL, e.g. http://127.0.0.1:8470.
    #[arg(long, env = "REGLEDGER_URL", default_value = "http://127.0.0.1:8470")]
    pub url: String,
    /// The participant's signer key file (its key name is the participant id).
    #[arg(long)]
    pub key: PathBuf,
    /// Entry kind, e.g. product-registered (see docs/registry.md).
    #[arg(long)]
    pub kind: String,
    /// The payload JSON file; its exact bytes are signed and stored.
    #[arg(long)]
    pub payload: PathBuf,
    /// Wait for a checkpoint and print the inclusion proof with it.
    #[arg(long)]
    pub wait: bool,
}

/// sign_as signs payload bytes of `kind` with a participant's signer key.
pub fn sign_as(signer: &Signer, kind: &str, payload: Vec<u8>) -> Envelope {
    let kid = participant_key_id(signer.name(), signer.verifier().public_key());
    Envelope::sign(&payload_type_for(kind), payload, &kid, signer.signing_key())
}

/// submit runs `regledger-node submit`.
pub fn submit(a: SubmitArgs) -> Result<(), Failure> {
    let signer = read_signer(&a.key).map_err(Failure::Usage)?;
    if EntryKind::from_name(&a.kind).is_none() {
        return Err(Failure::Usage(format!("unknown kind {:?}", a.kind)));
    }
    let payload = std::fs::read(&a.payload)
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.payload.display())))?;
    serde_json::from_slice::<Value>(&payload)
        .map_err(|e| Failure::Usage(format!("{}: not JSON: {e}", a.payload.display())))?;
    let env = sign_as(&signer, &a.kind, payload);
    let url = format!(
        "{}/v1/entries{}",
        a.url.trim_end_matches('/'),
        if a.wait { "?wait=checkpoint" } else { "" }
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(&url)
            .json(&env.to_json())
            .send()
            .await
            .map_err(|e| Failure::Usage(format!("{url}: {e}")))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| Failure::Usage(e.to_string()))?;
        if status.is_success() {
            println!("{body}");
            Ok(())
        } else {
            let v: Value = serde_json::from_str(&body).unwrap_or(json!({"detail": body}));
            println!("{body}");
            Err(Failure::Fail(format!(
                "{} {}: {}",
                status.as_u16(),
                v["type"].as_str().unwrap_or(""),
                v["detail"].as_str().unwrap_or("")
            )))
        }
    })
}

/// Arguments of `bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Node URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    pub url: String,
    /// The node's data directory (the bench uses its authority key to register its own participants).
    #[arg(long, default_value = "./regledger-data")]
    pub data: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Entries to submit in total.
    #[arg(long, default_value_t = 50_000)]
    pub entries: usize,
    /// Approximate payload size in bytes (operation events padded with commitments).
    #[arg(long, default_value_t = 512)]
    pub payload_bytes: usize,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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

/// bench runs the load generator.
pub fn bench(a: BenchArgs) -> Result<(), Failure> {
    let paths = Paths {
        dir: a.data.clone(),
    };
    let authority = read_signer(&paths.authority_key()).map_err(Failure::Usage)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    rt.block_on(run_bench(a, authority)).map_err(Failure::Fail)
}

/// node_cpu_seconds reads the node's `process_cpu_seconds_total`.
async fn node_cpu_seconds(c: &reqwest::Client, base: &str) -> Option<f64> {
    let text = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    metric_value(&text, "process_cpu_seconds_total")
}

/// metric_value reads an unlabelled sample from Prometheus text.
fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
}

async fn run_bench(a: BenchArgs, authority: Signer) -> Result<(), String> {
    let base = a.url.trim_end_matches('/').to_string();
    let url = format!("{base}/v1/entries");
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients.max(1))
        .build()
        .map_err(|e| format!("HTTP client: {e:?}"))?;
    // Fresh participants for this run, so a node can be benched repeatedly.
    let tag = hex::encode(&crate::logdir::random_seed()[..4]);
    let mk = |id: &str| {
        Signer::generate(
            &format!("bench-{id}-{tag}"),
            KeyType::Ed25519,
            crate::logdir::random_seed(),
        )
        .expect("name")
    };
    let (agency, source, operator) = (mk("agency"), mk("source"), mk("operator"));
    let today = Date::from_unix_ms(now_ms()).ok_or("clock out of range")?;
    let end = today.add_months(12).ok_or("date")?;
    let reg = |s: &Signer, role: &str| json!({"id": s.name(), "name": s.name(), "role": role, "public_keys": [B64.encode(s.verifier().public_key())]});
    let resource = format!("bench-res-{tag}");
    let agreement = format!("bench-oa-{tag}");
    let setup = [
        sign_as(&authority, "participant-registered", serde_json::to_vec(&reg(&agency, "implementing-agency")).expect("json")),
        sign_as(&authority, "participant-registered", serde_json::to_vec(&reg(&source, "data-source-unit")).expect("json")),
        sign_as(&authority, "participant-registered", serde_json::to_vec(&reg(&operator, "operator")).expect("json")),
        sign_as(&source, "resource-registered", serde_json::to_vec(&json!({"id": resource, "name": "bench", "holder": source.name(), "catalog_id": "bench",
            "grade": "一般", "open_attribute": "conditional", "format": "json", "update_frequency": "实时", "scale": "bench"})).expect("json")),
        sign_as(&agency, "agreement-filed", serde_json::to_vec(&json!({"id": agreement, "agreement_type": "operation-agreement",
            "parties": [agency.name(), operator.name()], "grantee": operator.name(), "scope": [resource], "signed_on": today.to_string(),
            "term_start": today.to_string(), "term_end": end.to_string(), "document_title": "bench", "document_blake3": BENCH_DOC})).expect("json")),
    ];
    for e in &setup {
        post(&c, &url, e)
            .await
            .map_err(|e| format!("setup entry refused: {e}"))?;
    }
    // Pre-sign every entry so the timed phase measures the node, not the client's signing.
    let t0 = now_ms();
    let payload = |i: usize, n: usize| {
        json!({"agreement_id": agreement, "action": "access", "occurred_at_ms": t0 - 1000, "actor": format!("svc-{i:08}"), "records": i,
               "personal_data_commitments": vec![BENCH_DOC; n]})
    };
    // Pad with 67-byte commitments to the nearest of the requested payload size.
    let unpadded = payload(0, 0).to_string().len();
    let commitments = (a.payload_bytes.saturating_sub(unpadded) + 33) / 67;
    let envs: Vec<Envelope> = (0..a.entries)
        .map(|i| {
            let p = payload(i, commitments);
            sign_as(
                &operator,
                "operation-event",
                serde_json::to_vec(&p).expect("json"),
            )
        })
        .collect();
    let payload_len = envs.first().map(|e| e.payload.len()).unwrap_or(0);
    let per = a.entries.div_ceil(a.clients.max(1));
    let chunks: Vec<Vec<Envelope>> = envs.chunks(per.max(1)).map(|c| c.to_vec()).collect();
    let node_cpu0 = node_cpu_seconds(&c, &base).await;
    let client_cpu0 = crate::metrics::process_cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (c, url) = (c.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(chunk.len());
            let mut errors = 0u64;
            let mut max_index = 0u64;
            for e in chunk {
                let t = Instant::now();
                loop {
                    match post(&c, &url, &e).await {
                        Ok(v) => {
                            max_index = max_index.max(v["index"].as_u64().unwrap_or(0));
                            break;
                        }
                        Err(s) if s.contains("overloaded") => {
                            tokio::time::sleep(Duration::from_millis(5)).await
                        }
                        Err(_) => {
                            errors += 1;
                            break;
                        }
                    }
                }
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            (lat, errors, max_index)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut max_index = 0;
    for t in tasks {
        let (l, e, m) = t.await.map_err(|e| e.to_string())?;
        lat.extend(l);
        errors += e;
        max_index = max_index.max(m);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let acked = Instant::now();
    let done = (a.entries as f64 - errors as f64).max(1.0);
    // CPU per acknowledged entry over the timed phase (the node's from its
    // /metrics; only meaningful when it runs alone on its machine).
    let per_entry_us =
        |t0: Option<f64>, t1: Option<f64>| t0.zip(t1).map(|(x, y)| ((y - x) / done * 1e6).round());
    let node_cpu_us = per_entry_us(node_cpu0, node_cpu_seconds(&c, &base).await);
    let client_cpu_us = per_entry_us(client_cpu0, crate::metrics::process_cpu_seconds());
    // Time until a checkpoint covers the last acknowledged entry.
    let mut checkpoint_lag_ms = None;
    for _ in 0..200 {
        let note = c
            .get(format!("{base}/checkpoint"))
            .send()
            .await
            .map_err(|e| format!("GET checkpoint: {e:?}"))?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let size = note
            .lines()
            .nth(1)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        if size > max_index {
            checkpoint_lag_ms = Some(acked.elapsed().as_secs_f64() * 1000.0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let metrics = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|e| format!("GET metrics: {e:?}"))?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let metric = |name: &str| metric_value(&metrics, name).unwrap_or(0.0);
    lat.sort_by(|x, y| x.total_cmp(y));
    let q = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let out = json!({
        "system": "regledger", "clients": a.clients, "entries": a.entries, "payload_bytes": payload_len, "errors": errors,
        "seconds": elapsed, "throughput_per_s": ((a.entries as f64 - errors as f64) / elapsed * 10.0).round() / 10.0,
        "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99),
        "checkpoint_lag_ms": checkpoint_lag_ms,
        "node_cpu_us_per_entry": node_cpu_us, "client_cpu_us_per_entry": client_cpu_us,
        "mean_batch_size": metric("regledger_entries_accepted_total") / metric("regledger_batches_total").max(1.0),
        "signature_verification": "ed25519 verify_strict, every entry", "durability": "acknowledged after redb commit with Durability::Immediate (fsync)"
    });
    println!("{out}");
    Ok(())
}
