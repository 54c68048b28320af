//! `regledger-verify` on files a log operator hands over, which are all
//! hostile: an edited certificate status, a signer chain with a garbage
//! authority signature, checkpoints claiming 2^40 and 2^62 entries over a
//! handful of tiles, the zero device, FIFOs, and links out of `--dir`.
//!
//! Every run goes through [`run`], which caps the child's address space and
//! kills it after a generous deadline, so a regression (an unbounded read,
//! a huge allocation, a blocking open) fails the test instead of eating the
//! machine's memory or hanging CI.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::cert::assemble::assemble;
use regledger::cert::bundle::{CertificateBundle, EntryProof};
use regledger::entry::leaf::Leaf;
use regledger::registry::EntryKind;
use regledger::testkit::{chain_v1 as chain, publish, replay, Step, Testkit, REGISTRATION_NO};
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, Signer};
use regledger::HashSuite;
use serde_json::{json, Value};

const ORIGIN: &str = "hostile.example/log";
const SUITE: HashSuite = HashSuite::Blake3;

/// WATCHDOG is far above any run here (each takes well under a second);
/// it exists only so a blocking read fails instead of hanging.
const WATCHDOG: Duration = Duration::from_secs(120);

/// ADDRESS_SPACE_KIB caps the child's virtual memory (4 GiB): an unbounded
/// read or a huge allocation fails in the child instead of exhausting the
/// machine. (glibc's per-thread malloc arenas, 64 MiB of address space
/// each, are limited with MALLOC_ARENA_MAX so that many cores fit too.)
const ADDRESS_SPACE_KIB: u64 = 4 << 20;

fn log_signer() -> Signer {
    Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap()
}

/// Out is one run of the binary.
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// run runs regledger-verify with `args` under the address-space cap and
/// the watchdog.
fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    let mut child = Command::new("sh")
        .arg("-c")
        // If the cap cannot be set (a lower hard limit), run anyway.
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} 2>/dev/null; exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_regledger-verify"))
        .args(args)
        .env("MALLOC_ARENA_MAX", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > WATCHDOG {
            let _ = child.kill();
            let _ = child.wait();
            let argv: Vec<_> = args.iter().map(|a| a.as_ref().to_owned()).collect();
            panic!("regledger-verify {argv:?} still running after {WATCHDOG:?}: it blocks");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Out {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Log is a log on disk: tiles as a node publishes them, and log.json.
struct Log {
    dir: tempfile::TempDir,
    leaves: Vec<Vec<u8>>,
}

impl Log {
    fn tiles(&self) -> PathBuf {
        self.dir.path().join("tiles")
    }
    fn descriptor(&self) -> PathBuf {
        self.dir.path().join("log.json")
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn write_log(leaves: Vec<Vec<u8>>) -> Log {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        SUITE,
        ORIGIN,
        &log_signer(),
        "guangxi",
        &leaves,
        &[],
    )
    .unwrap();
    Log { dir, leaves }
}

fn steps_upto(label: &str) -> Vec<Step> {
    let mut steps = Testkit::new(ORIGIN).lifecycle(SUITE, "guangxi");
    let end = steps.iter().position(|s| s.label == label).unwrap();
    steps.truncate(end + 1);
    steps
}

/// bundle_of assembles the bundle of the lifecycle's certificate from the
/// registry state of `good` (a valid history) over the leaves of `log`,
/// which may differ from `good` in signatures only: the indexes agree, so
/// the node's assembly picks the same entries, now carrying what the log holds.
fn bundle_of(good: &[Step], log: &Log) -> CertificateBundle {
    let r = replay(ORIGIN, SUITE, good).unwrap();
    let mut t = MemoryTree::new(SUITE);
    for l in &log.leaves {
        t.append_data(l);
    }
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: t.size(),
        root: t.root(),
        extensions: vec![],
    };
    let note = sign_checkpoint(&cp, &log_signer()).unwrap();
    let mut b = assemble(
        ORIGIN,
        &r.state,
        REGISTRATION_NO,
        &note,
        |i| {
            Ok(EntryProof {
                index: i,
                leaf: B64.encode(&log.leaves[i as usize]),
                inclusion_proof: t
                    .prove_inclusion(t.size(), i)
                    .unwrap()
                    .iter()
                    .map(|h| B64.encode(h.0))
                    .collect(),
                envelope: None,
            })
        },
        None,
    )
    .unwrap();
    // The 区块链编号 names the leaf the log holds (its hash chain differs
    // from `good` after an edited entry).
    let i = b.entry.index;
    let lh = SUITE.leaf_hash(&log.leaves[i as usize]);
    b.blockchain_no =
        regledger::entry::blockchain_no::BlockchainNo::new(ORIGIN, i, &lh).to_string();
    b
}

fn leaves(steps: &[Step]) -> Vec<Vec<u8>> {
    chain(SUITE, steps).iter().map(Leaf::to_bytes).collect()
}

fn cert(log: &Log, b: &CertificateBundle, json: bool) -> Out {
    let f = log.path("bundle.json");
    std::fs::write(&f, serde_json::to_vec(b).unwrap()).unwrap();
    let mut args: Vec<PathBuf> = Vec::new();
    if json {
        args.push("--json".into());
    }
    args.extend(["cert".into(), f, "--log".into(), log.descriptor()]);
    run(&args)
}

/// status_lines returns the lines of a text report that speak of the status.
fn status_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("状态") || l.to_lowercase().contains("status"))
        .collect()
}

#[test]
fn an_edited_status_is_never_presented_as_current() {
    // At the checkpoint the product is suspended (entry 17).
    let steps = steps_upto("product suspended");
    let log = write_log(leaves(&steps));
    let real = bundle_of(&steps, &log);
    assert_eq!(real.status.state, "suspended");
    // Anyone can swap the status for "active, set by the registration": no key is needed.
    let mut forged = real.clone();
    forged.status = regledger::cert::bundle::StatusInfo {
        state: "active".into(),
        set_by_index: real.entry.index,
        entry: None,
    };
    for b in [&real, &forged] {
        let o = cert(&log, b, false);
        // A v1 bundle that verifies never exits 0 (issue 14, on purpose: it
        // used to): it cannot prove the status current, exit 8.
        assert_eq!(o.code, Some(8), "{o}");
        let lines = status_lines(&o.stdout);
        assert!(
            o.stdout.contains("状态未经证明为当前状态"),
            "the report does not say the status is unproven:\n{o}"
        );
        for l in &lines {
            assert!(
                !l.contains("as of checkpoint"),
                "a status is presented as current at the checkpoint: {l}\n{o}"
            );
        }
        // What it does prove: the entry that set the state, and that it is in the log.
        let set_by = b.status.set_by_index.to_string();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&b.status.state) && l.contains(&set_by)),
            "no line says which entry set {}:\n{o}",
            b.status.state
        );
        let o = cert(&log, b, true);
        assert_eq!(o.code, Some(8), "{o}");
        let j: Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(j["status_proven_current"], false, "{j}");
        assert_eq!(j["status"], b.status.state.as_str(), "{j}");
        assert_eq!(j["status_index"], b.status.set_by_index, "{j}");
    }
}

/// garble flips one bit of every signature of step `label`.
fn garble(steps: &mut [Step], label: &str) {
    let s = steps.iter_mut().find(|s| s.label == label).unwrap();
    for sig in &mut s.envelope.signatures {
        sig.sig[5] ^= 0x01;
    }
}

#[test]
fn a_signer_chain_with_a_garbage_signature_fails_naming_the_entry() {
    let good = steps_upto("product registered");
    // The operator's registration (entry 3), then the genesis entry itself.
    for (label, index) in [("register operator", 3u64), ("genesis", 0)] {
        let mut bad = good.clone();
        garble(&mut bad, label);
        let log = write_log(leaves(&bad));
        let b = bundle_of(&good, &log);
        let o = cert(&log, &b, false);
        assert_eq!(
            o.code,
            Some(1),
            "garbage signature on {label} accepted:\n{o}"
        );
        assert!(
            o.stderr.starts_with("FAIL: signer_entries["),
            "{label}: the failure does not name the signer entries:\n{o}"
        );
        assert!(
            o.stderr.contains(&format!("entry {index}")) && o.stderr.contains("signature"),
            "{label}: the failure does not name entry {index} and its signature:\n{o}"
        );
    }
}

#[test]
fn a_signer_registered_by_a_party_without_the_authority_role_fails() {
    // The business entity, not the authority, "registers" a second operator
    // that then registers the product: the log key signed it all.
    let kit = Testkit::new(ORIGIN);
    let mut steps = steps_upto("product registered");
    let reg = steps.pop().unwrap();
    let rogue = regledger::testkit::Party::new(
        "gx-rogue",
        "冒名运营机构",
        regledger::registry::Role::Operator,
        77,
    );
    steps.push(Step {
        label: "rogue registered by business entity",
        envelope: kit
            .business
            .sign(EntryKind::ParticipantRegistered, &rogue.spec()),
        time_ms: reg.time_ms - 1,
    });
    let payload: Value = serde_json::from_slice(&reg.envelope.payload).unwrap();
    steps.push(Step {
        label: "product registered",
        envelope: rogue.sign(EntryKind::ProductRegistered, &payload),
        time_ms: reg.time_ms,
    });
    let log = write_log(leaves(&steps));
    // Hand-built as a hostile operator would: genesis, the business
    // entity's registration (entry 4), the rogue's registration.
    let n = steps.len() as u64;
    let b = hand_bundle(&log, n - 1, &[0, 4, n - 2]);
    let o = cert(&log, &b, false);
    assert_eq!(o.code, Some(1), "{o}");
    assert!(o.stderr.starts_with("FAIL: signer_entries[2]"), "{o}");
    assert!(
        o.stderr.contains("may not submit participant-registered"),
        "{o}"
    );
    // Without the business entity's registration, its key is unknown.
    let b = hand_bundle(&log, n - 1, &[0, n - 2]);
    let o = cert(&log, &b, false);
    assert_eq!(o.code, Some(1), "{o}");
    assert!(o.stderr.starts_with("FAIL: signer_entries[1]"), "{o}");
}

/// hand_bundle builds a bundle for the registration at `reg` with exactly
/// the signer entries `signers`, the way a hostile operator may.
fn hand_bundle(log: &Log, reg: u64, signers: &[u64]) -> CertificateBundle {
    let mut t = MemoryTree::new(SUITE);
    for l in &log.leaves {
        t.append_data(l);
    }
    let at = |i: u64| EntryProof {
        index: i,
        leaf: B64.encode(&log.leaves[i as usize]),
        inclusion_proof: t
            .prove_inclusion(t.size(), i)
            .unwrap()
            .iter()
            .map(|h| B64.encode(h.0))
            .collect(),
        envelope: None,
    };
    let leaf = Leaf::parse(&log.leaves[reg as usize]).unwrap();
    let certificate = serde_json::from_slice(&leaf.inline_envelope().unwrap().payload).unwrap();
    let lh = SUITE.leaf_hash(&log.leaves[reg as usize]);
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: t.size(),
        root: t.root(),
        extensions: vec![],
    };
    CertificateBundle {
        format: regledger::cert::bundle::BUNDLE_FORMAT_V1.into(),
        origin: ORIGIN.into(),
        blockchain_no: regledger::entry::blockchain_no::BlockchainNo::new(ORIGIN, reg, &lh)
            .to_string(),
        certificate,
        entry: at(reg),
        previous: at(reg - 1),
        signer_entries: signers.iter().map(|&i| at(i)).collect(),
        status: regledger::cert::bundle::StatusInfo {
            state: "active".into(),
            set_by_index: reg,
            entry: None,
        },
        status_proof: None,
        checkpoint: sign_checkpoint(&cp, &log_signer()).unwrap(),
    }
}

/// oversized replaces the log's checkpoint by one the log key signs for `size`.
fn oversized(log: &Log, size: u64) {
    let mut t = MemoryTree::new(SUITE);
    for l in &log.leaves {
        t.append_data(l);
    }
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: t.root(),
        extensions: vec![],
    };
    std::fs::write(
        log.tiles().join("checkpoint"),
        sign_checkpoint(&cp, &log_signer()).unwrap(),
    )
    .unwrap();
}

fn audit_args(log: &Log, json: bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    if json {
        v.push("--json".into());
    }
    v.extend([
        "audit".into(),
        "--dir".into(),
        log.tiles(),
        "--log".into(),
        log.descriptor(),
    ]);
    v
}

#[test]
fn a_checkpoint_claiming_far_more_entries_than_the_tiles_hold_fails_without_a_crash() {
    let steps = Testkit::new(ORIGIN).lifecycle(SUITE, "guangxi");
    let log = write_log(leaves(&steps));
    for size in [1u64 << 40, 1 << 62, u64::MAX] {
        oversized(&log, size);
        let o = run(&audit_args(&log, true));
        assert_eq!(o.code, Some(1), "size {size}:\n{o}");
        assert!(o.stderr.starts_with("FAIL:"), "size {size}:\n{o}");
        let v: Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(v["checkpoint"]["size"], size);
        assert_eq!(v["failures"][0]["check"], "entries-missing", "{v}");
        assert_eq!(v["failures"][0]["index"], 0, "{v}");
        let o = run(&audit_args(&log, false));
        assert_eq!(o.code, Some(1), "size {size}:\n{o}");
        assert!(o.stdout.contains("不通过 (FAIL)"), "{o}");
    }
    // The same log with 256 entries is one full bundle: it is read and
    // checked, and the missing second bundle is named.
    let mut kit_steps = Testkit::new(ORIGIN).lifecycle(SUITE, "guangxi");
    let last = kit_steps.last().unwrap().clone();
    let business = Testkit::new(ORIGIN).business;
    let mut k = 0u64;
    while kit_steps.len() < 256 {
        k += 1;
        kit_steps.push(Step {
            label: "operation event",
            envelope: business.sign(
                EntryKind::OperationEvent,
                &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": last.time_ms + k,
                        "actor": "svc", "records": k}),
            ),
            time_ms: last.time_ms + k,
        });
    }
    let log = write_log(leaves(&kit_steps));
    oversized(&log, 1 << 40);
    let o = run(&audit_args(&log, true));
    assert_eq!(o.code, Some(1), "{o}");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["entries_checked"], 256, "{v}");
    let missing = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "entries-missing")
        .unwrap_or_else(|| panic!("no entries-missing failure: {v}"));
    assert_eq!(missing["index"], 256, "{v}");
}

fn s_(x: &str) -> PathBuf {
    PathBuf::from(x)
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success(), "mkfifo {}", p.display());
}

/// refused asserts an input error (exit 2, one `error:` line naming the
/// path and saying why: not a regular file, or a link out of `--dir`).
fn refused(o: &Out, what: &str, path: &Path) {
    assert_eq!(o.code, Some(2), "{what} was not refused:\n{o}");
    assert!(o.stderr.starts_with("error: "), "{what}:\n{o}");
    assert!(
        o.stderr.contains("not a regular file") || o.stderr.contains("outside"),
        "{what}: refused for another reason than its type:\n{o}"
    );
    assert!(
        o.stderr.contains(&path.display().to_string()),
        "{what}: the error does not name {}:\n{o}",
        path.display()
    );
}

#[test]
fn the_zero_device_and_fifos_are_refused_as_inputs_without_blocking() {
    let steps = steps_upto("product registered");
    let log = write_log(leaves(&steps));
    let b = bundle_of(&steps, &log);
    std::fs::write(log.path("bundle.json"), serde_json::to_vec(&b).unwrap()).unwrap();
    let fifo = log.path("fifo");
    mkfifo(&fifo);
    let zero = PathBuf::from("/dev/zero");
    let vkey = log_signer().verifier().to_vkey();
    let cp = log.tiles().join("checkpoint");
    let bundle = log.path("bundle.json");
    let desc = log.descriptor();
    let tiles = log.tiles();
    // A valid tlog-proof of entry 1, so that `proof` gets as far as its --leaf.
    let tlog_proof = log.path("entry1.tlog-proof");
    {
        let mut t = MemoryTree::new(SUITE);
        for l in &log.leaves {
            t.append_data(l);
        }
        let proof = regledger::tlog::tlog_proof::TlogProof {
            extra: None,
            index: 1,
            proof: t.prove_inclusion(t.size(), 1).unwrap(),
            checkpoint: String::from_utf8(std::fs::read(&cp).unwrap()).unwrap(),
        };
        std::fs::write(&tlog_proof, proof.to_text()).unwrap();
        std::fs::write(log.path("entry1"), &log.leaves[1]).unwrap();
        let o = run(&[
            s_("proof"),
            tlog_proof.clone(),
            s_("--vkey"),
            s_(&vkey),
            s_("--hash"),
            s_("blake3"),
            s_("--leaf"),
            log.path("entry1"),
        ]);
        assert_eq!(o.code, Some(0), "{o}");
    }
    for bad in [&zero, &fifo] {
        let p = |x: &Path| x.to_path_buf();
        let s = |x: &str| PathBuf::from(x);
        let cases: Vec<(&str, Vec<PathBuf>)> = vec![
            ("cert bundle", vec![s("cert"), p(bad), s("--log"), p(&desc)]),
            (
                "cert --log",
                vec![s("cert"), p(&bundle), s("--log"), p(bad)],
            ),
            (
                "audit --log",
                vec![s("audit"), s("--dir"), p(&tiles), s("--log"), p(bad)],
            ),
            (
                "audit --trusted",
                vec![
                    s("audit"),
                    s("--dir"),
                    p(&tiles),
                    s("--log"),
                    p(&desc),
                    s("--trusted"),
                    p(bad),
                ],
            ),
            (
                "checkpoint file",
                vec![s("checkpoint"), p(bad), s("--vkey"), s(&vkey)],
            ),
            (
                "checkpoint --vkey",
                vec![s("checkpoint"), p(&cp), s("--vkey"), p(bad)],
            ),
            (
                "proof file",
                vec![
                    s("proof"),
                    p(bad),
                    s("--vkey"),
                    s(&vkey),
                    s("--leaf"),
                    p(&cp),
                ],
            ),
            (
                "proof --leaf",
                vec![
                    s("proof"),
                    p(&tlog_proof),
                    s("--vkey"),
                    s(&vkey),
                    s("--leaf"),
                    p(bad),
                ],
            ),
            (
                "consistency --old",
                vec![
                    s("consistency"),
                    s("--vkey"),
                    s(&vkey),
                    s("--old"),
                    p(bad),
                    s("--new"),
                    p(&cp),
                    s("--proof"),
                    p(&cp),
                ],
            ),
            (
                "consistency --proof",
                vec![
                    s("consistency"),
                    s("--vkey"),
                    s(&vkey),
                    s("--old"),
                    p(&cp),
                    s("--new"),
                    p(&cp),
                    s("--proof"),
                    p(bad),
                ],
            ),
        ];
        for (what, args) in cases {
            let o = run(&args);
            refused(&o, &format!("{} as {what}", bad.display()), bad);
        }
    }
}

#[test]
fn special_files_and_outside_links_in_the_tile_directory_are_refused() {
    let steps = steps_upto("product registered");
    let n = steps.len();
    let log = write_log(leaves(&steps));
    assert_eq!(run(&audit_args(&log, false)).code, Some(0));
    let bundle = log.tiles().join(format!("tile/entries/000.p/{n}"));
    let hash_tile = log.tiles().join(format!("tile/0/000.p/{n}"));
    let outside = log.path("outside");
    std::fs::create_dir(&outside).unwrap();

    // A FIFO as an entry bundle, as a hash tile, as the checkpoint.
    for target in [&bundle, &hash_tile, &log.tiles().join("checkpoint")] {
        let keep = log.path("keep");
        std::fs::rename(target, &keep).unwrap();
        mkfifo(target);
        refused(&run(&audit_args(&log, false)), "a FIFO tile", target);
        std::fs::remove_file(target).unwrap();

        // A link to a copy outside the directory: the same bytes, but not
        // part of what was handed over.
        let copy = outside.join("copy");
        std::fs::copy(&keep, &copy).unwrap();
        std::os::unix::fs::symlink(&copy, target).unwrap();
        let o = run(&audit_args(&log, false));
        refused(&o, "a link leaving --dir", target);
        assert!(o.stderr.contains("outside"), "{o}");
        std::fs::remove_file(target).unwrap();

        // A link to the zero device.
        std::os::unix::fs::symlink("/dev/zero", target).unwrap();
        refused(
            &run(&audit_args(&log, false)),
            "a link to /dev/zero",
            target,
        );
        std::fs::remove_file(target).unwrap();

        // A relative link that climbs out with "..".
        let depth = target
            .strip_prefix(log.tiles())
            .unwrap()
            .components()
            .count();
        let rel = PathBuf::from("../".repeat(depth)).join("outside/copy");
        std::os::unix::fs::symlink(&rel, target).unwrap();
        refused(
            &run(&audit_args(&log, false)),
            "a relative link out",
            target,
        );
        std::fs::remove_file(target).unwrap();

        // A link that stays inside the directory is followed: it is the
        // operator's layout, and its bytes are verified like any other.
        let inside = log.tiles().join("inside-copy");
        std::fs::rename(&keep, &inside).unwrap();
        std::os::unix::fs::symlink(&inside, target).unwrap();
        let o = run(&audit_args(&log, false));
        assert_eq!(o.code, Some(0), "a link inside --dir was refused:\n{o}");
        std::fs::remove_file(target).unwrap();
        std::fs::rename(&inside, target).unwrap();
        std::fs::remove_file(&copy).unwrap();
    }
    assert_eq!(run(&audit_args(&log, false)).code, Some(0));
}
