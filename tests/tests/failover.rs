//! Hot standby (issue 19, decision D20) with real processes: two nodes on
//! one PostgreSQL database, leadership a lease row with a fencing token.
//!
//! - kill -9 the leader under load: the standby takes over and continues
//!   the same tree; every acknowledged entry is there byte for byte, every
//!   checkpoint either node served is consistent with the last one (0
//!   forks), and the audit passes. `REGLEDGER_FAILOVER_KILLS` sets the
//!   number of kills (default 1; docs/benchmarks.md records 20), and the
//!   takeover times are printed.
//! - SIGSTOP the leader past its lease: the standby takes over; on SIGCONT
//!   the old leader stands down and writes nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::descriptor::{verify_log_signature, LogDescriptor};
use regledger::registry::EntryKind;
use regledger::testkit::{Testkit, DOC};
use regledger::tlog::proof::verify_consistency;
use regledger::{Hash, HashSuite};
use regledger_e2e::*;
use serde_json::json;

const ORIGIN: &str = "regledger.test/failover";
const LEASE_MS: &str = "1500";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn event(kit: &Testkit, actor: &str) -> regledger::entry::envelope::Envelope {
    kit.business.sign(
        EntryKind::OperationEvent,
        &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": now_ms() - 1000,
                "actor": actor, "records": 1, "personal_data_commitments": [DOC]}),
    )
}

fn is_leader(n: &Node) -> bool {
    metric(&n.url, "regledger_leader") == Some(1)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pair is a log served by two candidate nodes sharing one database.
struct Pair {
    _dir: tempfile::TempDir,
    nodes: Vec<Node>,
    kit: Testkit,
    d: LogDescriptor,
}

fn pair() -> Option<Pair> {
    let pg = postgres()?;
    let url = pg.fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let kit = Testkit::live(ORIGIN);
    let a = dir.path().join("a");
    init_with_testkit_in(&a, ORIGIN, "sha256", &kit, Some(&url));
    // The standby gets the log's descriptor and keys: the log key is on
    // every candidate leader.
    let b = dir.path().join("b");
    copy_dir(&a, &b);
    let args = |name: &'static str| {
        vec![
            "--store".to_string(),
            url.clone(),
            "--ha-lease-ms".into(),
            LEASE_MS.into(),
            "--node-id".into(),
            name.into(),
        ]
    };
    let (aa, ba) = (args("a"), args("b"));
    let aa: Vec<&str> = aa.iter().map(String::as_str).collect();
    let na = Node::start(&a, &aa);
    wait_until("a leads", || is_leader(&na));
    for s in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&na.url, &s.envelope).0, 200, "{}", s.label);
    }
    let ba: Vec<&str> = ba.iter().map(String::as_str).collect();
    let nb = Node::start(&b, &ba);
    assert!(!is_leader(&nb), "one leader");
    let d = LogDescriptor::parse(
        get_text(&format!("{}/log.json", na.url))
            .unwrap()
            .1
            .as_bytes(),
    )
    .unwrap();
    Some(Pair {
        _dir: dir,
        nodes: vec![na, nb],
        kit,
        d,
    })
}

type Acked = Arc<Mutex<Vec<(u64, String, String)>>>;

/// load runs submitters against every node (a standby answers 503; they
/// try the next) and a watcher of every node's checkpoint, until `stop`.
fn load(
    urls: Vec<String>,
    kit: &Testkit,
    stop: &Arc<AtomicBool>,
    acked: &Acked,
    seen: &Arc<Mutex<Vec<String>>>,
) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    for c in 0..4 {
        let (urls, stop, acked, kit) = (urls.clone(), stop.clone(), acked.clone(), kit.clone());
        threads.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let env = event(&kit, &format!("c{c}-{i}-{}", now_ms()));
                let body = env.to_json().to_string().into_bytes();
                for url in urls
                    .iter()
                    .cycle()
                    .skip(i as usize % urls.len())
                    .take(urls.len())
                {
                    let r = std::panic::catch_unwind(|| post_raw(url, "", body.clone()));
                    if let Ok((200, v)) = r {
                        acked.lock().unwrap().push((
                            v["index"].as_u64().unwrap(),
                            v["leaf_hash"].as_str().unwrap().to_string(),
                            B64.encode(env.to_bytes()),
                        ));
                        break;
                    }
                }
                i += 1;
            }
        }));
    }
    let (stop, seen) = (stop.clone(), seen.clone());
    threads.push(std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            for url in &urls {
                if let Ok((200, note)) = get_text(&format!("{url}/checkpoint")) {
                    seen.lock().unwrap().push(note);
                }
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }));
    threads
}

/// check verifies on `n`: every acknowledged entry at its index with its
/// bytes, and every checkpoint seen consistent with `n`'s latest.
fn check(n: &Node, d: &LogDescriptor, acked: &[(u64, String, String)], seen: &[String]) -> u64 {
    for (index, leaf_hash, env_b64) in acked {
        let e = get_json(&format!("{}/v1/entries/{index}", n.url));
        assert_eq!(
            e["leaf_hash"].as_str().unwrap(),
            leaf_hash,
            "entry {index} changed or lost"
        );
        // The envelope as stored (beside a v2 leaf), in its binary form.
        let env = regledger::entry::envelope::Envelope::from_json(&e["envelope"]).unwrap();
        assert_eq!(B64.encode(env.to_bytes()), *env_b64, "entry {index}");
    }
    let (_, now_note) = get_text(&format!("{}/checkpoint", n.url)).unwrap();
    let now = verify_log_signature(now_note.as_bytes(), d)
        .unwrap()
        .checkpoint;
    let mut sizes: Vec<(u64, Hash)> = seen
        .iter()
        .map(|s| {
            let c = verify_log_signature(s.as_bytes(), d).unwrap().checkpoint;
            (c.size, c.root)
        })
        .collect();
    sizes.sort();
    sizes.dedup();
    for (size, root) in sizes {
        assert!(
            size <= now.size,
            "a checkpoint for {size} was served; the tree is {}",
            now.size
        );
        if size == 0 {
            continue;
        }
        let p = get_json(&format!(
            "{}/v1/proof/consistency?old={size}&new={}",
            n.url, now.size
        ));
        let proof: Vec<Hash> = p["consistency_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_slice(&B64.decode(h.as_str().unwrap()).unwrap()).unwrap())
            .collect();
        verify_consistency(d.suite, size, now.size, &proof, &root, &now.root)
            .unwrap_or_else(|e| panic!("fork between {size} and {}: {e}", now.size));
    }
    now.size
}

fn checkpoint_of(n: &Node) -> u64 {
    get_text(&format!("{}/checkpoint", n.url))
        .ok()
        .and_then(|(_, t)| checkpoint_size(&t))
        .unwrap_or(0)
}

#[test]
fn kill9_the_leader_under_load_a_standby_takes_over_with_no_loss_and_no_fork() {
    let Some(mut p) = pair() else { return };
    let kills: usize = std::env::var("REGLEDGER_FAILOVER_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let (acked, seen): (Acked, Arc<Mutex<Vec<String>>>) = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let urls = p.nodes.iter().map(|n| n.url.clone()).collect();
    let threads = load(urls, &p.kit, &stop, &acked, &seen);
    let mut takeovers = Vec::new();
    for k in 0..kills {
        let leader = (0..2).find(|&i| is_leader(&p.nodes[i])).expect("a leader");
        let standby = 1 - leader;
        // Under load for a pseudo-random while.
        std::thread::sleep(Duration::from_millis(400 + now_ms() % 800));
        let acked_before = acked.lock().unwrap().len();
        p.nodes[leader].kill9();
        let killed = Instant::now();
        let at_kill = checkpoint_of(&p.nodes[standby]);
        // The next checkpoint from the new leader: past what was served at the kill.
        wait_until("the standby publishes as leader", || {
            is_leader(&p.nodes[standby]) && checkpoint_of(&p.nodes[standby]) > at_kill
        });
        takeovers.push(killed.elapsed());
        wait_until("entries are acknowledged again", || {
            acked.lock().unwrap().len() > acked_before
        });
        p.nodes[leader].restart();
        eprintln!("kill {k}: takeover in {:?}", killed.elapsed());
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let leader = (0..2).find(|&i| is_leader(&p.nodes[i])).expect("a leader");
    let n = &p.nodes[leader];
    let acks = acked.lock().unwrap().clone();
    assert!(
        !acks.is_empty(),
        "nothing was acknowledged: the test tested nothing"
    );
    // Everything acknowledged is published after the last takeover too.
    let max_index = acks.iter().map(|a| a.0).max().unwrap();
    wait_until("the last acknowledged entry is published", || {
        checkpoint_of(n) > max_index
    });
    let size = check(n, &p.d, &acks, &seen.lock().unwrap());
    // The audit over the new leader's tiles.
    let out = std::process::Command::new(bin("regledger-verify"))
        .args(["--json", "audit", "--dir"])
        .arg(n.data.join("tiles"))
        .arg("--log")
        .arg(n.data.join("log.json"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "audit after the failovers: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let mut ms: Vec<u128> = takeovers.iter().map(|d| d.as_millis()).collect();
    ms.sort();
    eprintln!(
        "failover: {kills} kills, {} acknowledged entries, 0 lost, 0 forks, tree {size}; takeover ms (sorted): {ms:?}",
        acks.len()
    );
}

fn signal(n: &Node, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &n.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

#[test]
fn sigstop_the_leader_past_its_lease_only_the_token_holder_commits() {
    let Some(p) = pair() else { return };
    let (a, b) = (&p.nodes[0], &p.nodes[1]);
    assert!(is_leader(a) && !is_leader(b));
    let (code, _) = post(&a.url, &event(&p.kit, "before"));
    assert_eq!(code, 200);
    signal(a, "-STOP");
    // Submissions to the paused leader wait in its socket buffers.
    let pending: Vec<_> = (0..3)
        .map(|i| {
            let (url, env) = (a.url.clone(), event(&p.kit, &format!("paused-{i}")));
            std::thread::spawn(move || {
                std::panic::catch_unwind(|| {
                    post_raw(&url, "", env.to_json().to_string().into_bytes())
                })
                .map(|(code, _)| code)
                .unwrap_or(0)
            })
        })
        .collect();
    let stopped = Instant::now();
    wait_until("the standby leads", || is_leader(b));
    let took = stopped.elapsed();
    let mut b_acked = Vec::new();
    for i in 0..5 {
        let (code, v) = post(&b.url, &event(&p.kit, &format!("b{i}")));
        assert_eq!(code, 200, "{v}");
        b_acked.push(v["index"].as_u64().unwrap());
    }
    wait_until("b publishes", || {
        checkpoint_of(b) > *b_acked.last().unwrap()
    });
    let size = tree_size(&b.url);
    signal(a, "-CONT");
    // The old leader stands down without writing.
    for t in pending {
        let code = t.join().unwrap();
        assert_ne!(
            code, 200,
            "the paused ex-leader acknowledged an entry after waking"
        );
    }
    wait_until("a stands down", || {
        metric(&a.url, "regledger_leader") == Some(0)
    });
    let (code, _) = post(&a.url, &event(&p.kit, "after"));
    assert_eq!(code, 503, "the ex-leader must refuse submissions");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(tree_size(&b.url), size, "the ex-leader wrote after waking");
    assert!(is_leader(b), "the token holder still leads");
    // And a, a standby now, serves b's checkpoint.
    wait_until("a follows b", || checkpoint_of(a) == checkpoint_of(b));
    eprintln!("sigstop: the standby led {took:?} after the leader was paused");
}
