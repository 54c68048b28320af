//! The regulator's audit and a venue's mirror run the same client-side
//! follower (regledger-client), so they must refuse the same tampered log
//! for the same reason. Each case below is a static tile directory (a
//! flipped entry byte, a broken hash chain, time going back, a rule
//! violation, a replayed envelope, a forged signature, a wrong hash tile,
//! a tampered checkpoint); it is audited from the directory and over HTTP,
//! and followed by a mirror; the mirror's first failure (it stops there)
//! must be the audit's first failure: the same check code, at the same
//! entry when the mirror can name one. The mirror must also tell bad data
//! from a source (alarmed, retried, no split view) from a log that signed
//! something it should not have (a split view).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use regledger::entry::leaf::Body;
use regledger::registry::EntryKind;
use regledger::testkit::{
    chain as chain_in, publish as write_published, Logged, Step, Testkit, DAY_MS,
};
use regledger::tlog::hash::Hash;
use regledger::tlog::note::{KeyType, Signer};
use regledger::HashSuite;
use regledger_e2e::{bin, free_port, get_text, metric, StaticServer};
use serde_json::{json, Value};

const ORIGIN: &str = "same-reasons.example/log";
const SUITE: HashSuite = HashSuite::Blake3;

fn log_signer() -> Signer {
    Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap()
}

/// Case is one tampered log: its tile directory and log.json.
struct Case {
    name: &'static str,
    dir: tempfile::TempDir,
}

impl Case {
    fn tiles(&self) -> PathBuf {
        self.dir.path().join("tiles")
    }
    fn descriptor(&self) -> PathBuf {
        self.dir.path().join("log.json")
    }
}

/// publish writes `leaves` the way a node publishes them, signed by the log
/// key (a tamperer holding the key re-signs whatever it wants).
fn publish(name: &'static str, leaves: &[Logged]) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<Vec<u8>> = leaves.iter().map(Logged::leaf_bytes).collect();
    let envs: Vec<Vec<u8>> = leaves.iter().map(Logged::envelope_bytes).collect();
    write_published(
        dir.path(),
        SUITE,
        ORIGIN,
        &log_signer(),
        "guangxi",
        &bytes,
        &envs,
    )
    .unwrap();
    Case { name, dir }
}

fn flip(path: &Path, byte: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[byte] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

fn chain(suite: HashSuite, steps: &[Step]) -> Vec<Logged> {
    chain_in(ORIGIN, suite, steps)
}

fn steps() -> (Testkit, Vec<Step>) {
    let kit = Testkit::new(ORIGIN);
    let steps = kit.lifecycle(SUITE, "guangxi");
    (kit, steps)
}

/// cases builds every tampered log, each with the failure both must name.
fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let (kit, base) = steps();
    let n = base.len();

    // A flipped byte in entry 7's leaf (its state root), tiles and
    // checkpoint untouched.
    let c = publish("flipped entry byte", &chain(SUITE, &base));
    let logged = chain(SUITE, &base);
    let bundle = c.tiles().join(format!("tile/entries/000.p/{n}"));
    let at: usize = logged[..7]
        .iter()
        .map(|l| 2 + l.leaf_bytes().len())
        .sum::<usize>()
        + 2
        + 60;
    flip(&bundle, at);
    out.push(c);

    // A flipped byte in entry 7's payload, in the envelope bundle beside
    // the entry bundle: not what its leaf's envelope hash commits to, so
    // bad data from the source (the log signed only the hash).
    let c = publish("flipped envelope byte", &chain(SUITE, &base));
    let ebundle = c.tiles().join(format!("tile/envelopes/000.p/{n}"));
    let at: usize = logged[..7]
        .iter()
        .map(|l| 2 + l.envelope_bytes().len())
        .sum::<usize>()
        + 2
        + 60;
    flip(&ebundle, at);
    out.push(c);

    // A forged state root in entry 6's leaf, re-signed by the log key: the
    // log signed a state its entries do not make (D15).
    let mut leaves = chain(SUITE, &base);
    if let Body::Compact { state_root, .. } = &mut leaves[6].leaf.body {
        state_root.0[0] ^= 1;
    }
    let mut prev = leaves[6].leaf.hash(SUITE);
    for l in &mut leaves[7..] {
        l.leaf.prev_leaf_hash = prev;
        prev = l.leaf.hash(SUITE);
    }
    out.push(publish("forged state root", &leaves));

    // A broken hash chain, re-signed by the log key.
    let mut leaves = chain(SUITE, &base);
    leaves[4].leaf.prev_leaf_hash = Hash([7; 32]);
    out.push(publish("broken hash chain", &leaves));

    // Time going back: entry 6 at the very time of entry 5.
    let mut s = base.clone();
    s[6].time_ms = s[5].time_ms;
    out.push(publish("time going back", &chain(SUITE, &s)));

    // A rule violation: a trading venue may not register a product.
    let mut s = base.clone();
    s.push(Step {
        label: "venue registers",
        envelope: kit.venue.sign(
            EntryKind::ProductRegistered,
            &json!({"product_id": "P-1", "registration_no": "GXDP-2025-000099", "certificate_name": "数据产品登记证书",
                    "product_name": "x", "product_type": "数据服务", "business_entity": kit.business.id,
                    "business_entity_name": kit.business.name, "update_cycle": "每日", "scenarios": ["x"],
                    "registered_on": "2025-04-20", "authorization": "SA-1"}),
        ),
        time_ms: base[n - 1].time_ms + DAY_MS,
    });
    out.push(publish("rule violation", &chain(SUITE, &s)));

    // A replayed envelope: entry 5's signed content logged again.
    let mut s = base.clone();
    s.push(Step {
        label: "replay",
        envelope: base[5].envelope.clone(),
        time_ms: base[n - 1].time_ms + DAY_MS,
    });
    out.push(publish("replayed envelope", &chain(SUITE, &s)));

    // A forged signature on entry 9.
    let mut s = base.clone();
    s[9].envelope.signatures[0].sig[10] ^= 0x40;
    out.push(publish("forged signature", &chain(SUITE, &s)));

    // A wrong hash tile: one byte of hash 5 of the level-0 tile.
    let c = publish("wrong hash tile", &chain(SUITE, &base));
    flip(&c.tiles().join(format!("tile/0/000.p/{n}")), 32 * 5 + 3);
    out.push(c);

    // A tampered checkpoint: a bit of its root line.
    let c = publish("tampered checkpoint", &chain(SUITE, &base));
    let cp = c.tiles().join("checkpoint");
    let text = std::fs::read_to_string(&cp).unwrap();
    flip(&cp, text.match_indices('\n').nth(1).unwrap().0 + 3);
    out.push(c);
    out
}

/// audit runs `regledger-verify --json audit` with `from` (--dir or --url).
fn audit(case: &Case, from: &[&std::ffi::OsStr]) -> Value {
    let out = Command::new(bin("regledger-verify"))
        .arg("--json")
        .arg("audit")
        .args(from)
        .arg("--log")
        .arg(case.descriptor())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}: the audit did not fail: {}",
        case.name,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// first is the audit's first failure: (check, index).
fn first(v: &Value) -> (String, Option<u64>) {
    let f = &v["failures"][0];
    (
        f["check"].as_str().unwrap().to_string(),
        f["index"].as_u64(),
    )
}

/// MirrorProc is a mirror whose log goes to a file.
struct MirrorProc {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for MirrorProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_mirror(case: &Case, upstream: &str, data: &Path) -> MirrorProc {
    let port = free_port();
    let log = data.with_extension("log");
    let child = Command::new(bin("regledger-node"))
        .arg("mirror")
        .arg("--upstream")
        .arg(upstream)
        .arg("--log")
        .arg(case.descriptor())
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(["--poll-ms", "50"])
        .env("REGLEDGER_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    MirrorProc {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
    }
}

/// mirror_failure reads the mirror's first alarm: the check code in
/// brackets and the entry it names, if any.
fn mirror_failure(log: &str) -> Option<(String, Option<u64>, bool)> {
    for line in log.lines() {
        let (at, split) = match (line.find("SOURCE SERVED BAD DATA"), line.find("SPLIT VIEW")) {
            (Some(a), _) => (a, false),
            (None, Some(a)) => (a, true),
            _ => continue,
        };
        let rest = &line[at..];
        let a = rest.find('[')?;
        let b = a + rest[a..].find(']')?;
        let check = rest[a + 1..b].to_string();
        let index = rest[b + 1..]
            .strip_prefix(" entry ")
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|d| d.parse().ok());
        return Some((check, index, split));
    }
    None
}

#[test]
fn the_mirror_and_the_audit_refuse_the_same_tampered_logs_for_the_same_reasons() {
    let work = tempfile::tempdir().unwrap();
    for (k, case) in cases().iter().enumerate() {
        let server = StaticServer::start(&case.tiles());
        let from_dir = audit(case, &["--dir".as_ref(), case.tiles().as_os_str()]);
        let from_url = audit(case, &["--url".as_ref(), server.url.as_ref()]);
        // The same follower over either source: the same report.
        assert_eq!(
            from_dir["failures"], from_url["failures"],
            "{}: --dir and --url disagree",
            case.name
        );
        let (check, index) = first(&from_dir);

        let m = start_mirror(case, &server.url, &work.path().join(format!("m{k}")));
        let deadline = Instant::now() + regledger_e2e::patience();
        let (m_check, m_index, split) = loop {
            let log = std::fs::read_to_string(&m.log).unwrap_or_default();
            if let Some(f) = mirror_failure(&log) {
                break f;
            }
            assert!(
                Instant::now() < deadline,
                "{}: the mirror raised no alarm:\n{log}",
                case.name
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(
            m_check, check,
            "{}: the mirror says {m_check}, the audit {check} ({:?})",
            case.name, from_dir["failures"][0]
        );
        if let Some(i) = m_index {
            assert_eq!(Some(i), index, "{}: not the same entry", case.name);
        }
        // Bad bytes from a source are a failing source; an entry the log
        // key signed that breaks a rule, or a broken chain, is a split view.
        let bad_data = matches!(check.as_str(), "hash-tile" | "checkpoint" | "envelope");
        assert_eq!(split, !bad_data, "{}: {m_check} classified", case.name);
        if get_text(&format!("{}/healthz", m.url)).is_ok() {
            let v = metric(&m.url, "regledger_mirror_split_view");
            assert!(v.is_none() || v == Some(u64::from(split)), "{}", case.name);
        }
        eprintln!("{}: both refuse it as {check} at {index:?}", case.name);
    }
}
