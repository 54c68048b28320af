//! Crash campaign (short form; CI runs it): clients submit concurrently,
//! single envelopes and batches,
//! the node is killed with SIGKILL at a random moment, restarted, and
//! checked: every acknowledged entry is at its index with identical bytes,
//! and every checkpoint served before the kill is consistent with the tree
//! after restart (the log never forks); at the end the regulator's audit
//! checks the node's tiles, hash chain and rules, and the node's registry
//! state against the audit's replay. `REGLEDGER_CRASH_CYCLES` sets the
//! number of cycles (default 3); docs/reliability.md records a long run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::descriptor::verify_log_signature;
use regledger::descriptor::LogDescriptor;
use regledger::registry::EntryKind;
use regledger::testkit::{Testkit, DOC};
use regledger::tlog::proof::verify_consistency;
use regledger::{Hash, HashSuite};
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/crash";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn cycles(default: usize) -> usize {
    std::env::var("REGLEDGER_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn sigkill_loses_no_acknowledged_entry_and_never_forks() {
    campaign(cycles(3), None);
}

/// The same campaign on the PostgreSQL driver (decision D20), against a
/// real server: the node is killed, PostgreSQL keeps what was committed.
#[test]
fn sigkill_on_postgres_loses_no_acknowledged_entry_and_never_forks() {
    let Some(pg) = postgres() else { return };
    campaign(cycles(2), Some(&pg.fresh_db()));
}

/// BATCH is the size of the batch clients' requests.
const BATCH: usize = 32;

/// submit POSTs `envs` (one: a single submission; more: one batch) and
/// returns the receipts the node sent: position in `envs`, index, leaf hash.
fn submit(url: &str, envs: &[regledger::entry::envelope::Envelope]) -> Vec<(usize, u64, String)> {
    let receipt =
        |v: &serde_json::Value| Some((v["index"].as_u64()?, v["leaf_hash"].as_str()?.to_string()));
    if let [env] = envs {
        return match post_raw(url, "", env.to_json().to_string().into_bytes()) {
            (200, v) => receipt(&v).map(|(i, h)| (0, i, h)).into_iter().collect(),
            _ => Vec::new(),
        };
    }
    let body = serde_json::Value::Array(envs.iter().map(|e| e.to_json()).collect())
        .to_string()
        .into_bytes();
    let (status, _, text) = post_to(&format!("{url}/v1/entries"), "application/json", body);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    if status != 200 {
        return Vec::new();
    }
    v["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .enumerate()
                .filter(|(_, r)| r["status"] == 200)
                .filter_map(|(k, r)| receipt(&r["receipt"]).map(|(i, h)| (k, i, h)))
                .collect()
        })
        .unwrap_or_default()
}

/// campaign runs `cycles` kill-and-restart cycles on a node whose store is
/// `store` (`--store`; `None`: redb).
fn campaign(cycles: usize, store: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit_in(&data, ORIGIN, "sha256", &kit, store);
    let store_args: Vec<&str> = match store {
        Some(s) => vec!["--store", s],
        None => vec![],
    };
    let mut node = Node::start(&data, &store_args);
    for s in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    let d = LogDescriptor::parse(
        get_text(&format!("{}/log.json", node.url))
            .unwrap()
            .1
            .as_bytes(),
    )
    .unwrap();
    let acked: Arc<Mutex<Vec<(u64, String, String)>>> = Arc::default();
    let seen_checkpoints: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut seq = 0u64;
    let mut total_acked = 0;
    let mut checked_upto = 0usize;
    let mut checked_notes = 0usize;
    for cycle in 0..cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for c in 0..6 {
            let (url, stop, acked, kit) =
                (node.url.clone(), stop.clone(), acked.clone(), kit.clone());
            let base = seq + (c as u64) * 1_000_000;
            threads.push(std::thread::spawn(move || {
                let mut i = 0u64;
                // Clients 0–3 submit one envelope per request; clients 4
                // and 5 submit batches of BATCH (the batch API, issue 18),
                // each receipt acknowledged on its own.
                let per_request = if c < 4 { 1 } else { BATCH };
                while !stop.load(Ordering::Relaxed) {
                    let envs: Vec<_> = (0..per_request)
                        .map(|_| {
                            i += 1;
                            kit.business.sign(
                                EntryKind::OperationEvent,
                                &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": now_ms() - 1000, "actor": format!("c{cycle}-{}", base + i),
                                        "records": i, "personal_data_commitments": [DOC]}),
                            )
                        })
                        .collect();
                    let receipts = std::panic::catch_unwind(|| submit(&url, &envs)).unwrap_or_default();
                    if receipts.is_empty() {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let mut a = acked.lock().unwrap();
                    for (k, index, leaf_hash) in receipts {
                        a.push((index, leaf_hash, B64.encode(envs[k].to_bytes())));
                    }
                }
            }));
        }
        let watcher = {
            let (url, stop, seen) = (node.url.clone(), stop.clone(), seen_checkpoints.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((200, note)) = get_text(&format!("{url}/checkpoint")) {
                        seen.lock().unwrap().push(note);
                    }
                    std::thread::sleep(Duration::from_millis(30));
                }
            })
        };
        // Kill at a pseudo-random moment between 300 and 1300 ms.
        let wait = 300 + (now_ms() % 1000);
        std::thread::sleep(Duration::from_millis(wait));
        node.kill9();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        watcher.join().unwrap();
        // Every third run commits without quick repair (`--full-repair`), so
        // both ways of opening after a crash, and the switches between them,
        // are exercised (decision D11).
        if cycle % 3 == 2 && store.is_none() {
            node.restart_with(&["--full-repair"]);
        } else {
            node.restart_with(&store_args);
        }
        seq += 10_000_000;

        // Every entry acknowledged in this cycle is there, byte for byte, and
        // a sample of the earlier ones (all of them in short campaigns).
        let acks = acked.lock().unwrap().clone();
        let sample: Vec<&(u64, String, String)> = acks[checked_upto..]
            .iter()
            .chain(
                acks[..checked_upto]
                    .iter()
                    .step_by((checked_upto / 200).max(1)),
            )
            .collect();
        checked_upto = acks.len();
        total_acked = acks.len();
        for (index, leaf_hash, env_b64) in sample {
            let e = get_json(&format!("{}/v1/entries/{index}", node.url));
            assert_eq!(
                e["leaf_hash"].as_str().unwrap(),
                leaf_hash,
                "cycle {cycle}: entry {index} changed or lost"
            );
            let leaf = regledger::entry::leaf::Leaf::parse(
                &B64.decode(e["leaf"].as_str().unwrap()).unwrap(),
            )
            .unwrap();
            // A v2 leaf commits to its envelope by hash; the envelope is
            // stored beside it, and must be the one acknowledged.
            let env = B64.decode(env_b64).unwrap();
            assert_eq!(
                leaf.envelope_hash(),
                Some(regledger::entry::leaf::envelope_hash(d.suite, &env)),
                "cycle {cycle}: entry {index}'s envelope changed"
            );
            assert_eq!(
                e["envelope"],
                regledger::entry::envelope::Envelope::from_bytes(&env)
                    .unwrap()
                    .to_json()
            );
        }
        // Every checkpoint ever served is consistent with the current one.
        std::thread::sleep(Duration::from_millis(200));
        let (_, now_note) = get_text(&format!("{}/checkpoint", node.url)).unwrap();
        let now_cp = verify_log_signature(now_note.as_bytes(), &d)
            .unwrap()
            .checkpoint;
        let notes = seen_checkpoints.lock().unwrap()[checked_notes..].to_vec();
        checked_notes += notes.len();
        let mut sizes: Vec<(u64, Hash)> = notes
            .iter()
            .map(|n| {
                let c = verify_log_signature(n.as_bytes(), &d).unwrap().checkpoint;
                (c.size, c.root)
            })
            .collect();
        sizes.sort();
        sizes.dedup();
        for (size, root) in sizes {
            assert!(
                size <= now_cp.size,
                "cycle {cycle}: a checkpoint for size {size} was served but the tree is only {}",
                now_cp.size
            );
            if size == 0 {
                continue;
            }
            let p = get_json(&format!(
                "{}/v1/proof/consistency?old={size}&new={}",
                node.url, now_cp.size
            ));
            let proof: Vec<Hash> = p["consistency_proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| Hash::from_slice(&B64.decode(h.as_str().unwrap()).unwrap()).unwrap())
                .collect();
            verify_consistency(d.suite, size, now_cp.size, &proof, &root, &now_cp.root)
                .unwrap_or_else(|e| {
                    panic!(
                        "cycle {cycle}: fork between {size} and {}: {e}",
                        now_cp.size
                    )
                });
        }
    }
    // Finally the regulator's audit over the tiles the node wrote: every
    // hash tile and entry bundle matches the database's tree and checkpoint,
    // the hash chain holds and the registry rules replay.
    std::thread::sleep(Duration::from_millis(300));
    let out = std::process::Command::new(bin("regledger-verify"))
        .args(["--json", "audit", "--dir"])
        .arg(data.join("tiles"))
        .arg("--log")
        .arg(data.join("log.json"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        out.status.code(),
        Some(0),
        "audit after the campaign: {}{report}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = report["checkpoint"]["size"].as_u64().unwrap();
    assert!(
        size as usize >= total_acked + 10,
        "the audited log holds every acknowledged entry"
    );
    // The node's registry state equals the audit's replay of the log.
    for p in report["participants"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        let got = get_json(&format!("{}/v1/participants/{id}", node.url));
        assert_eq!(got["value"]["role"], p["role"], "participant {id}");
    }
    for a in report["agreements"].as_array().unwrap() {
        let id = a["id"].as_str().unwrap();
        let got = get_json(&format!("{}/v1/agreements/{id}", node.url));
        assert_eq!(got["value"]["status"], a["status"], "agreement {id}");
    }
    assert!(
        total_acked > 0,
        "no entry was acknowledged: the campaign tested nothing"
    );
    eprintln!(
        "crash campaign ({}): {cycles} cycles, {total_acked} acknowledged entries, 0 lost, 0 forks",
        if store.is_some() { "postgres" } else { "redb" }
    );
}
