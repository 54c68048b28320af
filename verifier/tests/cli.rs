//! The verifier binary as a regulator runs it: real inputs, tampered
//! inputs, and the exit codes of the contract (0 verified, 1 FAIL, 2 error).

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::note::{KeyType, NoteSignature, Signer, VerifierKey};
use regledger::tlog::tlog_proof::TlogProof;
use regledger::{Hash, HashSuite};
use serde_json::Value;

fn vectors() -> Value {
    let p = format!(
        "{}/../ledger/tests/vectors/real_logs.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

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

/// rekor_proof turns the real Rekor v2 entry with three witness
/// cosignatures into a tlog-proof file, as a regulator would receive it.
fn rekor_proof(dir: &Path) -> (PathBuf, PathBuf, String, Vec<String>) {
    let v = vectors();
    let e = &v["rekor_v2_staging"][1];
    let s = |x: &Value| x.as_str().unwrap().to_string();
    let pubkey: [u8; 32] = hex::decode(s(&e["log_ed25519_pub_hex"]))
        .unwrap()
        .try_into()
        .unwrap();
    let log = VerifierKey::from_public_key(&s(&e["origin"]), KeyType::Ed25519, &pubkey).unwrap();
    let mut sigs = Vec::new();
    let mut wkeys = Vec::new();
    for w in e["witness_cosignatures"].as_array().unwrap() {
        let wk = VerifierKey::parse(&s(&w["vkey"])).unwrap();
        let mut sig = w["timestamp"].as_u64().unwrap().to_be_bytes().to_vec();
        sig.extend(hex::decode(s(&w["ed25519_sig_hex"])).unwrap());
        sigs.push(NoteSignature {
            name: wk.name().into(),
            key_id: wk.key_id(),
            sig,
        });
        wkeys.push(wk.to_vkey());
    }
    let note =
        regledger::tlog::cosignature::add_signatures(&s(&e["checkpoint_note"]), &sigs).unwrap();
    let proof = TlogProof {
        extra: None,
        index: e["log_index"].as_u64().unwrap(),
        proof: e["inclusion_proof_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect(),
        checkpoint: note,
    };
    let leaf = B64.decode(s(&e["leaf_input_b64"])).unwrap();
    (
        write(dir, "rekor.tlog-proof", proof.to_text()),
        write(dir, "rekor.entry", leaf),
        log.to_vkey(),
        wkeys,
    )
}

#[test]
fn proof_accepts_real_rekor_entry_with_witness_quorum() {
    let d = tempfile::tempdir().unwrap();
    let (proof, leaf, vkey, w) = rekor_proof(d.path());
    let (p, l) = (proof.to_str().unwrap(), leaf.to_str().unwrap());
    let (code, out, err) = run(&[
        "proof",
        p,
        "--vkey",
        &vkey,
        "--leaf",
        l,
        "--witness",
        &w[0],
        "--witness",
        &w[1],
        "--witness",
        &w[2],
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("OK:"));
    let (code, out, _) = run(&[
        "--json", "proof", p, "--vkey", &vkey, "--leaf", l, "--quorum", "0",
    ]);
    assert_eq!(code, 0);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(j["size"], 4026479);
    // Vkey from a file works too.
    let vf = write(d.path(), "log.vkey", format!("{vkey}\n"));
    assert_eq!(
        run(&["proof", p, "--vkey", vf.to_str().unwrap(), "--leaf", l]).0,
        0
    );
}

#[test]
fn proof_rejects_tampering() {
    let d = tempfile::tempdir().unwrap();
    let (proof, leaf, vkey, w) = rekor_proof(d.path());
    let text = std::fs::read_to_string(&proof).unwrap();
    let l = leaf.to_str().unwrap();
    // Wrong leaf.
    let other = write(d.path(), "other.entry", b"not the entry");
    let (code, _, err) = run(&[
        "proof",
        proof.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--leaf",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.starts_with("FAIL:"), "{err}");
    // Wrong hash suite.
    assert_eq!(
        run(&[
            "proof",
            proof.to_str().unwrap(),
            "--vkey",
            &vkey,
            "--leaf",
            l,
            "--hash",
            "blake3"
        ])
        .0,
        1
    );
    // Another index.
    let t = write(
        d.path(),
        "t1",
        text.replacen("index 4026478", "index 4026477", 1),
    );
    assert_eq!(
        run(&["proof", t.to_str().unwrap(), "--vkey", &vkey, "--leaf", l]).0,
        1
    );
    // A proof hash changed (first character of the first proof line).
    let lines: Vec<&str> = text.split('\n').collect();
    let mut bad = lines.clone();
    let swapped = if bad[2].starts_with('A') {
        format!("B{}", &bad[2][1..])
    } else {
        format!("A{}", &bad[2][1..])
    };
    bad[2] = &swapped;
    let t = write(d.path(), "t2", bad.join("\n"));
    assert_eq!(
        run(&["proof", t.to_str().unwrap(), "--vkey", &vkey, "--leaf", l]).0,
        1
    );
    // Quorum of 3 with a witness key that did not sign.
    let stranger = Signer::generate("stranger", KeyType::CosignatureV1, [9; 32])
        .unwrap()
        .verifier()
        .to_vkey();
    let (code, _, err) = run(&[
        "proof",
        proof.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--leaf",
        l,
        "--witness",
        &w[0],
        "--witness",
        &w[1],
        "--witness",
        &stranger,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("quorum"), "{err}");
    // Input errors exit 2.
    assert_eq!(
        run(&["proof", "/nonexistent", "--vkey", &vkey, "--leaf", l]).0,
        2
    );
    assert_eq!(
        run(&[
            "proof",
            proof.to_str().unwrap(),
            "--vkey",
            "garbage+1+2",
            "--leaf",
            l
        ])
        .0,
        2
    );
    let junk = write(d.path(), "junk", "not a proof");
    assert_eq!(
        run(&[
            "proof",
            junk.to_str().unwrap(),
            "--vkey",
            &vkey,
            "--leaf",
            l
        ])
        .0,
        2
    );
    assert_eq!(
        run(&["proof", proof.to_str().unwrap(), "--vkey", &vkey]).0,
        2
    );
    assert_eq!(
        run(&[
            "proof",
            proof.to_str().unwrap(),
            "--vkey",
            &vkey,
            "--leaf-hash",
            "zz"
        ])
        .0,
        2
    );
}

#[test]
fn checkpoint_verifies_real_sum_golang_org() {
    let d = tempfile::tempdir().unwrap();
    let v = vectors();
    let g = &v["sum_golang_org"];
    let vkey = g["vkey"].as_str().unwrap();
    let note = g["checkpoints"][0]["note"].as_str().unwrap();
    let f = write(d.path(), "cp", note);
    let (code, out, _) = run(&["checkpoint", f.to_str().unwrap(), "--vkey", vkey]);
    assert_eq!(code, 0);
    assert!(out.contains("size: 30055305"), "{out}");
    let (code, out, _) = run(&["--json", "checkpoint", f.to_str().unwrap(), "--vkey", vkey]);
    assert_eq!(code, 0);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["root"], g["checkpoints"][0]["root_hex"]);
    let bad = write(d.path(), "bad", note.replace("30055305", "30055306"));
    let (code, out, err) = run(&[
        "--json",
        "checkpoint",
        bad.to_str().unwrap(),
        "--vkey",
        vkey,
    ]);
    assert_eq!(code, 1);
    assert!(err.starts_with("FAIL:"));
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["ok"], false);
    assert_eq!(
        run(&["checkpoint", d.path().to_str().unwrap(), "--vkey", vkey]).0,
        2
    );
}

#[test]
fn consistency_of_generated_log_and_fork() {
    let d = tempfile::tempdir().unwrap();
    for suite in [HashSuite::Sha256, HashSuite::Blake3] {
        let log = Signer::generate("example.org/log", KeyType::Ed25519, [3; 32]).unwrap();
        let vkey = log.verifier().to_vkey();
        let mut t = MemoryTree::new(suite);
        for i in 0..1000u32 {
            t.append_data(&i.to_be_bytes());
        }
        let cp = |size: u64, root: Hash| {
            sign_checkpoint(
                &Checkpoint {
                    origin: "example.org/log".into(),
                    size,
                    root,
                    extensions: vec![],
                },
                &log,
            )
            .unwrap()
        };
        let old = write(d.path(), "old", cp(377, t.root_at(377).unwrap()));
        let new = write(d.path(), "new", cp(1000, t.root()));
        let proof: String = t
            .prove_consistency(377, 1000)
            .unwrap()
            .iter()
            .map(|h| format!("{}\n", B64.encode(h.0)))
            .collect();
        let pf = write(d.path(), "proof", &proof);
        let args = |o: &Path, n: &Path, p: &Path| {
            vec![
                "consistency".to_string(),
                "--vkey".into(),
                vkey.clone(),
                "--old".into(),
                o.display().to_string(),
                "--new".into(),
                n.display().to_string(),
                "--proof".into(),
                p.display().to_string(),
                "--hash".into(),
                suite.name().into(),
            ]
        };
        let run_s = |a: Vec<String>| run(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(run_s(args(&old, &new, &pf)).0, 0);
        // A fork: same key, a different history at the same size.
        let mut fork = MemoryTree::new(suite);
        for i in 0..1000u32 {
            fork.append_data(&(i + u32::from(i == 500)).to_be_bytes());
        }
        let forked = write(d.path(), "forked", cp(1000, fork.root()));
        let (code, _, err) = run_s(args(&old, &forked, &pf));
        assert_eq!(code, 1, "{err}");
        // Truncated proof, swapped checkpoints, garbage proof.
        let short = write(
            d.path(),
            "short",
            proof
                .lines()
                .skip(1)
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
        );
        assert_eq!(run_s(args(&old, &new, &short)).0, 1);
        assert_eq!(run_s(args(&new, &old, &pf)).0, 1);
        let junk = write(d.path(), "junk", "!!!\n");
        assert_eq!(run_s(args(&old, &new, &junk)).0, 2);
    }
}
