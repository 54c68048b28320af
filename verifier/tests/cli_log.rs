//! Honest answers (issue 17): `proof` and `consistency` take the hash suite
//! and keys from `log.json`; a hash mismatch names the suite it used and,
//! when another suite would verify, says so instead of reading as
//! tampering; `digest` prints a document's digest in the log's suite.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, Signer};
use regledger::tlog::tlog_proof::TlogProof;
use regledger::HashSuite;
use serde_json::{json, Value};

const ORIGIN: &str = "regledger.test/cli-log";

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_regledger-verify"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// Log is a generated log of `suite` on disk: log.json, a tlog-proof of
/// entry 6, two checkpoints and the consistency proof between them.
struct Log {
    vkey: String,
    log_json: PathBuf,
    proof: PathBuf,
    leaf: PathBuf,
    old: PathBuf,
    new: PathBuf,
    consistency: PathBuf,
}

fn log(dir: &Path, suite: HashSuite) -> Log {
    // An sm3 log is signed with SM2 (D19; log.json refuses anything else).
    let kt = if suite == HashSuite::Sm3 {
        KeyType::Sm2
    } else {
        KeyType::Ed25519
    };
    let key = Signer::generate(ORIGIN, kt, [8; 32]).unwrap();
    let mut t = MemoryTree::new(suite);
    for i in 0..40u8 {
        t.append_data(&[b'e', i]);
    }
    let cp = |size: u64| {
        sign_checkpoint(
            &Checkpoint {
                origin: ORIGIN.into(),
                size,
                root: t.root_at(size).unwrap(),
                extensions: vec![],
            },
            &key,
        )
        .unwrap()
    };
    let p = TlogProof {
        extra: None,
        index: 6,
        proof: t.prove_inclusion(40, 6).unwrap(),
        checkpoint: cp(40),
    };
    let cons: String = t
        .prove_consistency(13, 40)
        .unwrap()
        .iter()
        .map(|h| format!("{}\n", B64.encode(h.0)))
        .collect();
    let d = json!({"origin": ORIGIN, "log_vkey": key.verifier().to_vkey(), "hash": suite.name(),
                   "witnesses": [], "quorum": 0, "profile": "guangxi"});
    Log {
        vkey: key.verifier().to_vkey(),
        log_json: write(dir, &format!("{suite}-log.json"), d.to_string()),
        proof: write(dir, &format!("{suite}.tlog-proof"), p.to_text()),
        leaf: write(dir, &format!("{suite}.leaf"), [b'e', 6]),
        old: write(dir, &format!("{suite}-13.checkpoint"), cp(13)),
        new: write(dir, &format!("{suite}-40.checkpoint"), cp(40)),
        consistency: write(dir, &format!("{suite}.consistency"), cons),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn proof_takes_the_suite_and_key_from_log_json() {
    let d = tempfile::tempdir().unwrap();
    for suite in [HashSuite::Blake3, HashSuite::Sha256, HashSuite::Sm3] {
        let l = log(d.path(), suite);
        let (code, out, err) = run(&[
            "proof",
            s(&l.proof),
            "--log",
            s(&l.log_json),
            "--leaf",
            s(&l.leaf),
        ]);
        assert_eq!(code, 0, "{suite}: {out}{err}");
        assert!(out.contains(&format!("hash suite: {suite}")), "{out}");
        let (code, out, err) = run(&[
            "consistency",
            "--log",
            s(&l.log_json),
            "--old",
            s(&l.old),
            "--new",
            s(&l.new),
            "--proof",
            s(&l.consistency),
        ]);
        assert_eq!(code, 0, "{suite}: {out}{err}");
    }
}

#[test]
fn a_wrong_hash_names_the_suite_used_and_the_one_that_verifies() {
    let d = tempfile::tempdir().unwrap();
    let l = log(d.path(), HashSuite::Blake3);
    // --vkey without --hash: sha256, the C2SP default, on a blake3 log.
    let (code, _, err) = run(&[
        "proof",
        s(&l.proof),
        "--vkey",
        &l.vkey,
        "--leaf",
        s(&l.leaf),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("FAIL: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for want in [
        "computed root does not match",
        "hash suite sha256",
        "with blake3 it verifies",
        "--log log.json",
        "not shown to be tampered with",
    ] {
        assert!(err.contains(want), "{err:?} does not say {want:?}");
    }
    let (code, _, err) = run(&[
        "consistency",
        "--vkey",
        &l.vkey,
        "--old",
        s(&l.old),
        "--new",
        s(&l.new),
        "--proof",
        s(&l.consistency),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("hash suite sha256") && err.contains("with blake3 it verifies"),
        "{err}"
    );
    // A proof of another log is not excused: with its own log.json a
    // tampered leaf names the suite and suggests nothing.
    let bad = write(d.path(), "bad.leaf", b"not the entry");
    let (code, _, err) = run(&[
        "proof",
        s(&l.proof),
        "--log",
        s(&l.log_json),
        "--leaf",
        s(&bad),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("hash suite blake3, from log.json") && !err.contains("it verifies"),
        "{err}"
    );
}

#[test]
fn digest_prints_the_document_digest_in_the_log_suite() {
    let d = tempfile::tempdir().unwrap();
    let doc = write(d.path(), "doc.txt", b"abc");
    // Every suite this build knows: the plain digest of the bytes.
    let mut n = 0;
    for name in ["sha256", "blake3", "sm3"] {
        let Some(suite) = HashSuite::from_name(name) else {
            continue;
        };
        n += 1;
        let want = suite.digest(&[b"abc"]).to_hex();
        let (code, out, err) = run(&["digest", s(&doc), "--hash", name]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, format!("{want}  {}\n", s(&doc)));
        let l = log(d.path(), suite);
        let (code, out, _) = run(&["--json", "digest", s(&doc), "--log", s(&l.log_json)]);
        assert_eq!(code, 0);
        let j: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (j["digest"].as_str(), j["hash"].as_str()),
            (Some(want.as_str()), Some(name))
        );
    }
    assert!(n >= 2);
    // Known answers: FIPS 180-2 "abc", and BLAKE3's own.
    assert_eq!(
        run(&["digest", s(&doc), "--hash", "sha256"]).1,
        format!(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  {}\n",
            s(&doc)
        )
    );
    assert!(run(&["digest", s(&doc)])
        .1
        .starts_with("6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85  "));
    // GB/T 32905 Appendix A: SM3("abc").
    assert_eq!(
        run(&["digest", s(&doc), "--hash", "sm3"]).1,
        format!(
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0  {}\n",
            s(&doc)
        )
    );
    let (code, _, err) = run(&["digest", s(&doc), "--hash", "md5"]);
    assert_eq!(code, 2);
    assert!(err.contains("want one of: sha256, blake3, sm3"), "{err}");
}

#[test]
fn the_audit_text_says_none_for_no_witnesses_and_explains_the_signature_count() {
    use regledger::testkit::{publish_steps, Published, Testkit};
    let d = tempfile::tempdir().unwrap();
    let kit = Testkit::new(ORIGIN);
    let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    let key = Signer::generate(ORIGIN, KeyType::Ed25519, [8; 32]).unwrap();
    let (Published { tiles, log_json }, leaves) =
        publish_steps(d.path(), HashSuite::Blake3, ORIGIN, &key, "guangxi", &steps).unwrap();
    let (code, out, err) = run(&["audit", "--dir", s(&tiles), "--log", s(&log_json)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("见证 (witnesses): 无"), "{out}");
    let n = leaves.len();
    assert!(
        out.contains(&format!("{n} checked, {} signatures verified (", n - 1)),
        "{out}"
    );
    assert!(out.contains("leaves out the genesis entry"), "{out}");
    // Plain text off a terminal: no colour codes.
    assert!(!out.contains('\u{1b}') && !err.contains('\u{1b}'));
}

/// Input errors say what to do next (issue 17): where log.json comes
/// from, what --dir is, and that a refused --url means no node there.
#[test]
fn input_errors_say_what_to_do_next() {
    let dir = tempfile::tempdir().unwrap();
    let l = log(dir.path(), HashSuite::Blake3);
    let missing = dir.path().join("log.json-missing/log.json");
    let (code, _, err) = run(&[
        "cert",
        l.proof.to_str().unwrap(),
        "--log",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("GET /log.json"), "{err}");
    let not_a_log = write(dir.path(), "log.json", "{}");
    let (code, _, err) = run(&[
        "cert",
        l.proof.to_str().unwrap(),
        "--log",
        not_a_log.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("GET /log.json"), "{err}");
    let tiles = dir.path().join("no-tiles");
    let (code, _, err) = run(&[
        "audit",
        "--dir",
        tiles.to_str().unwrap(),
        "--log",
        l.log_json.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tiles/"), "{err}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, _, err) = run(&[
        "audit",
        "--url",
        &url,
        "--log",
        l.log_json.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a node or mirror serving"), "{err}");
}
