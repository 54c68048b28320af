//! `regledger-verify audit` on logs built directly with the library (no
//! node): a correct log, tampered tiles, removed and reordered entries, a
//! fork against a trusted checkpoint, an entry that breaks a rule, and
//! deadline and retention figures checked against hand-computed dates.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use regledger::entry::leaf::Leaf;
use regledger::registry::calendar::Date;
use regledger::registry::EntryKind;
use regledger::testkit::{
    chain_v1 as chain, descriptor, tile_files, write_files, Step, Testkit, DAY_MS, DOC,
};
use regledger::tlog::note::{KeyType, Signer};
use regledger::HashSuite;
use serde_json::{json, Value};

const ORIGIN: &str = "audit.example/test";

fn log_signer() -> Signer {
    Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap()
}

/// Log is a log written to a temp dir the way a node before leaf v2
/// published it (v1 leaves, envelopes inline: an audit still reads such
/// logs; v2 logs are audited in tests/tests and audit_replay.rs).
struct Log {
    dir: tempfile::TempDir,
    leaves: Vec<Vec<u8>>,
}

impl Log {
    fn tiles(&self) -> std::path::PathBuf {
        self.dir.path().join("tiles")
    }
    fn descriptor(&self) -> std::path::PathBuf {
        self.dir.path().join("log.json")
    }
}

fn publish(dir: &Path, suite: HashSuite, leaves: &[Vec<u8>]) {
    let tiles = dir.join("tiles");
    let _ = std::fs::remove_dir_all(&tiles);
    write_files(
        &tiles,
        &tile_files(suite, ORIGIN, &log_signer(), leaves, &[]),
    )
    .unwrap();
}

fn write_log(suite: HashSuite, profile: &str, leaves: Vec<Vec<u8>>) -> Log {
    let dir = tempfile::tempdir().unwrap();
    publish(dir.path(), suite, &leaves);
    let d = descriptor(ORIGIN, suite, &log_signer(), profile);
    std::fs::write(dir.path().join("log.json"), serde_json::to_vec(&d).unwrap()).unwrap();
    Log { dir, leaves }
}

fn bytes(leaves: &[Leaf]) -> Vec<Vec<u8>> {
    leaves.iter().map(Leaf::to_bytes).collect()
}

fn lifecycle_log() -> Log {
    let kit = Testkit::new(ORIGIN);
    let steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    write_log(
        HashSuite::Blake3,
        "guangxi",
        bytes(&chain(HashSuite::Blake3, &steps)),
    )
}

/// audit runs the verifier and returns (exit code, JSON report, stderr).
fn audit(log: &Log, extra: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_regledger-verify"))
        .arg("--json")
        .arg("audit")
        .arg("--dir")
        .arg(log.tiles())
        .arg("--log")
        .arg(log.descriptor())
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn first_failure(v: &Value) -> (Option<u64>, String) {
    let f = &v["failures"][0];
    (
        f["index"].as_u64(),
        f["check"].as_str().unwrap_or("").to_string(),
    )
}

fn flip(path: &Path, byte: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[byte] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

#[test]
fn a_correct_log_passes_with_its_report() {
    let log = lifecycle_log();
    let (code, v, err) = audit(&log, &[]);
    assert_eq!(code, 0, "{err}{v}");
    assert_eq!(v["ok"], true);
    let n = log.leaves.len() as u64;
    assert_eq!(v["entries_checked"], n);
    assert_eq!(v["checkpoint"]["size"], n);
    assert_eq!(v["computed_root"], v["checkpoint"]["root"]);
    // Every entry after genesis is signed once and verified once.
    assert_eq!(v["signatures_verified"], n - 1);
    assert_eq!(v["entries_by_kind"]["participant-registered"], 5);
    assert_eq!(v["entries_by_kind"]["agreement-filed"], 3);
    assert_eq!(v["participants_by_role"]["trading-venue"], 1);
    let p = &v["products"][0];
    assert_eq!(p["registration_no"], "GXDP-2025-000001");
    assert_eq!(p["status"], "revoked");
    assert!(p["blockchain_no"].as_str().unwrap().starts_with("RL1-"));
    let sa = v["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "SA-1")
        .unwrap();
    assert_eq!(sa["operation_events"], 1);

    // The text form is what a regulator attaches to an inspection record.
    let out = Command::new(env!("CARGO_BIN_EXE_regledger-verify"))
        .args(["audit", "--dir"])
        .arg(log.tiles())
        .arg("--log")
        .arg(log.descriptor())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    for want in [
        "日志审计报告",
        "数据产品",
        "已撤销登记",
        "通过 (OK)",
        "GXDP-2025-000001",
    ] {
        assert!(text.contains(want), "text report lacks {want}:\n{text}");
    }
}

#[test]
fn a_flipped_bit_in_an_entry_bundle_fails_at_that_entry() {
    let log = lifecycle_log();
    // Entry 7's bytes start after 7 (u16 length + leaf) records; flip a byte in its payload.
    let bundle = log
        .tiles()
        .join("tile/entries/000.p")
        .join(log.leaves.len().to_string());
    let offset: usize = log.leaves[..7].iter().map(|l| 2 + l.len()).sum::<usize>() + 2 + 120;
    flip(&bundle, offset);
    let (code, v, err) = audit(&log, &[]);
    assert_eq!(code, 1);
    assert!(err.starts_with("FAIL:"), "{err}");
    assert_eq!(first_failure(&v).0, Some(7), "{v}");
    let checks: Vec<&str> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert!(checks.contains(&"hash-tile"), "{checks:?}");
    assert!(checks.contains(&"root"), "{checks:?}");
}

#[test]
fn a_flipped_bit_in_a_hash_tile_fails_at_its_leaf() {
    let log = lifecycle_log();
    let tile = log
        .tiles()
        .join("tile/0/000.p")
        .join(log.leaves.len().to_string());
    flip(&tile, 32 * 5 + 3);
    let (code, v, _) = audit(&log, &[]);
    assert_eq!(code, 1);
    assert_eq!(first_failure(&v), (Some(5), "hash-tile".into()), "{v}");
    // The entries themselves still hash to the signed root.
    assert_eq!(v["computed_root"], v["checkpoint"]["root"]);
}

#[test]
fn a_flipped_bit_in_the_checkpoint_fails() {
    let log = lifecycle_log();
    let cp = log.tiles().join("checkpoint");
    let text = std::fs::read_to_string(&cp).unwrap();
    // A bit in the root line (third line) of the signed body.
    let at = text.match_indices('\n').nth(1).unwrap().0 + 3;
    flip(&cp, at);
    let (code, v, err) = audit(&log, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(first_failure(&v).1, "checkpoint", "{v}");
}

#[test]
fn a_removed_entry_fails_even_when_the_log_key_resigns() {
    let log = lifecycle_log();
    // Cutting an entry out of the bundle without re-signing: the bundle no longer decodes.
    let bundle = log
        .tiles()
        .join("tile/entries/000.p")
        .join(log.leaves.len().to_string());
    let mut b = std::fs::read(&bundle).unwrap();
    let start: usize = log.leaves[..4].iter().map(|l| 2 + l.len()).sum();
    b.drain(start..start + 2 + log.leaves[4].len());
    std::fs::write(&bundle, b).unwrap();
    let (code, v, _) = audit(&log, &[]);
    assert_eq!(code, 1);
    assert_eq!(first_failure(&v), (Some(0), "entry-bundle".into()), "{v}");

    // An operator holding the log key removes entry 4 and republishes everything.
    let mut leaves = log.leaves.clone();
    leaves.remove(4);
    publish(log.dir.path(), HashSuite::Blake3, &leaves);
    let (code, v, _) = audit(&log, &[]);
    assert_eq!(code, 1);
    let (idx, check) = first_failure(&v);
    assert_eq!(idx, Some(4), "{v}");
    assert!(check == "leaf-index" || check == "hash-chain", "{check}");
}

#[test]
fn reordered_entries_fail() {
    let log = lifecycle_log();
    let mut leaves = log.leaves.clone();
    leaves.swap(8, 9);
    publish(log.dir.path(), HashSuite::Blake3, &leaves);
    let (code, v, _) = audit(&log, &[]);
    assert_eq!(code, 1);
    assert_eq!(first_failure(&v).0, Some(8), "{v}");
}

#[test]
fn a_fork_against_a_trusted_checkpoint_fails_with_both_roots() {
    let log = lifecycle_log();
    // The regulator saved the checkpoint at size 12.
    let early = tile_files(
        HashSuite::Blake3,
        ORIGIN,
        &log_signer(),
        &log.leaves[..12],
        &[],
    );
    let trusted = log.dir.path().join("trusted.checkpoint");
    std::fs::write(&trusted, &early["checkpoint"]).unwrap();
    let t = trusted.to_str().unwrap();
    let (code, v, err) = audit(&log, &["--trusted", t]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["trusted"]["consistent"], true);

    // Same key, different history: entry 11 replaced by another valid one.
    let kit = Testkit::new(ORIGIN);
    let mut steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    steps[11].envelope = kit.operator.sign(
        EntryKind::ProductApproved,
        &json!({"product_id": "P-9", "product_name": "另一个产品", "business_entity": kit.business.id,
                "authorization": "SA-1", "applied_on": "2025-03-10", "approved_on": "2025-03-12", "uses_non_public_data": false}),
    );
    let forked = bytes(&chain(HashSuite::Blake3, &steps[..12]));
    publish(log.dir.path(), HashSuite::Blake3, &forked);
    let (code, v, err) = audit(&log, &["--trusted", t]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("fork"), "{err}");
    let tr = &v["trusted"];
    assert_eq!(tr["consistent"], false);
    assert_ne!(tr["trusted_root"], tr["log_root"]);
    assert!(v["failures"]
        .to_string()
        .contains(tr["trusted_root"].as_str().unwrap()));
    assert!(v["failures"]
        .to_string()
        .contains(tr["log_root"].as_str().unwrap()));

    // A log smaller than what the regulator saw was rolled back.
    publish(log.dir.path(), HashSuite::Blake3, &log.leaves[..10]);
    let (code, v, _) = audit(&log, &["--trusted", t]);
    assert_eq!(code, 1);
    assert_eq!(first_failure(&v).1, "trusted-rollback", "{v}");
}

#[test]
fn an_entry_breaking_a_rule_fails_naming_the_rule() {
    let kit = Testkit::new(ORIGIN);
    let mut steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    let n = steps.len();
    // A trading venue may not register a product (only the operator side may).
    steps.push(Step {
        label: "venue registers",
        envelope: kit.venue.sign(
            EntryKind::ProductRegistered,
            &json!({"product_id": "P-1", "registration_no": "GXDP-2025-000099", "certificate_name": "数据产品登记证书",
                    "product_name": "x", "product_type": "数据服务", "business_entity": kit.business.id,
                    "business_entity_name": kit.business.name, "update_cycle": "每日", "scenarios": ["x"],
                    "registered_on": "2025-04-20", "authorization": "SA-1"}),
        ),
        time_ms: steps[n - 1].time_ms + DAY_MS,
    });
    let log = write_log(
        HashSuite::Blake3,
        "guangxi",
        bytes(&chain(HashSuite::Blake3, &steps)),
    );
    let (code, v, err) = audit(&log, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        first_failure(&v),
        (Some(n as u64), "rule:role-not-allowed".into()),
        "{v}"
    );
    assert!(err.contains("role-not-allowed"), "{err}");
    // Everything else about the log is intact.
    assert_eq!(v["computed_root"], v["checkpoint"]["root"]);
}

#[test]
fn a_forged_signature_fails_at_its_entry() {
    let kit = Testkit::new(ORIGIN);
    let mut steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    steps[9].envelope.signatures[0].sig[10] ^= 0x40;
    let log = write_log(
        HashSuite::Blake3,
        "guangxi",
        bytes(&chain(HashSuite::Blake3, &steps)),
    );
    let (code, v, _) = audit(&log, &[]);
    assert_eq!(code, 1);
    assert_eq!(first_failure(&v), (Some(9), "signature".into()), "{v}");
}

/// ms returns 10:00 China Standard Time on `d`.
fn ms(d: &str) -> u64 {
    let days = Date::parse(d).unwrap().days_since_epoch();
    days as u64 * DAY_MS + 2 * 3_600_000
}

#[test]
fn deadlines_across_spring_festival_and_national_day_and_retention() {
    let kit = Testkit::new(ORIGIN);
    let st = |label, envelope, time_ms| Step {
        label,
        envelope,
        time_ms,
    };
    let plan = |id: &str, signed: &str, start: &str, end: &str| {
        kit.agency.sign(
            EntryKind::AgreementFiled,
            &json!({"id": id, "agreement_type": "implementation-plan", "parties": [kit.agency.id], "grantee": kit.agency.id,
                    "scope": ["R-1"], "signed_on": signed, "term_start": start, "term_end": end,
                    "document_title": "公共数据授权运营实施方案", "document_blake3": DOC}),
        )
    };
    let t0 = ms("2025-01-02");
    let steps = vec![
        st("genesis", kit.genesis(HashSuite::Sha256, "xian"), t0),
        st("agency", kit.register(&kit.agency), t0 + 1),
        st("source", kit.register(&kit.source), t0 + 2),
        st(
            "resource",
            kit.source.sign(
                EntryKind::ResourceRegistered,
                &json!({"id": "R-1", "name": "公交实时到站数据", "holder": kit.source.id, "catalog_id": "CAT-1",
                        "grade": "二级", "open_attribute": "conditional", "format": "JSON API", "update_frequency": "实时", "scale": "1"}),
            ),
            t0 + 3,
        ),
        // Signed Fri 2025-01-24; 10 working days counting the make-up Sunday
        // 01-26 and Saturday 02-08 and skipping 01-28..02-04: due Thu 02-13.
        // Filed Tue 02-18: late by 02-14, 02-17, 02-18 = 3 working days.
        st("plan A", plan("PLAN-A", "2025-01-24", "2025-01-25", "2027-01-24"), ms("2025-02-18")),
        // Signed Fri 2025-09-26; make-up Sun 09-28 and Sat 10-11, off 10-01..10-08:
        // due Thu 10-16. Filed Mon 10-20: late by 10-17, 10-20 = 2 working days.
        st("plan B", plan("PLAN-B", "2025-09-26", "2025-09-27", "2027-09-26"), ms("2025-10-20")),
        // Filed on time: signed Mon 2025-10-20, filed the next day.
        st("plan C", plan("PLAN-C", "2025-10-20", "2025-10-21", "2027-10-20"), ms("2025-10-21")),
        // PLAN-A ends 2025-08-31; six months later is 2026-02-28 (no 02-31: 民法典 Art. 202).
        st(
            "terminate A",
            kit.agency.sign(
                EntryKind::AgreementTerminated,
                &json!({"id": "PLAN-A", "reason": "voluntary-exit", "detail": "主动退出", "effective_on": "2025-08-31"}),
            ),
            ms("2025-10-22"),
        ),
    ];
    let log = write_log(
        HashSuite::Sha256,
        "xian",
        bytes(&chain(HashSuite::Sha256, &steps)),
    );
    let (code, v, err) = audit(&log, &["--as-of", "2026-02-27"]);
    assert_eq!(code, 0, "{err}{v}");
    let late: BTreeMap<String, &Value> = v["deadlines_missed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["subject"].as_str().unwrap().to_string(), d))
        .collect();
    assert_eq!(late.len(), 2, "{late:?}");
    let a = late["PLAN-A"];
    assert_eq!(
        (a["due"].as_str(), a["done"].as_str()),
        (Some("2025-02-13"), Some("2025-02-18"))
    );
    assert_eq!(a["working_days_late"], 3);
    assert_eq!(a["code"], "filing-late");
    assert_eq!(a["who"], "gx-implementing");
    assert_eq!(a["index"], 4);
    assert_eq!(a["provisional"], false);
    assert!(a["citation"].as_str().unwrap().contains("第二十二条"));
    let b = late["PLAN-B"];
    assert_eq!(
        (b["due"].as_str(), b["done"].as_str()),
        (Some("2025-10-16"), Some("2025-10-20"))
    );
    assert_eq!(b["working_days_late"], 2);

    let r = &v["retention"][0];
    assert_eq!(r["agreement"], "PLAN-A");
    assert_eq!(r["ended_on"], "2025-08-31");
    assert_eq!(r["retain_until"], "2026-02-28");
    assert_eq!(r["may_prune_as_of"], false);
    let (_, v, _) = audit(&log, &["--as-of", "2026-02-28"]);
    assert_eq!(v["retention"][0]["may_prune_as_of"], true);
}

#[test]
fn bad_inputs_are_usage_errors() {
    let log = lifecycle_log();
    let (code, _, err) = audit(&log, &["--as-of", "2026-13-01"]);
    assert_eq!(code, 2, "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_regledger-verify"))
        .args(["audit", "--dir", "/nonexistent/tiles", "--log"])
        .arg(log.descriptor())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error:"));
    // Neither --dir nor --url.
    let out = Command::new(env!("CARGO_BIN_EXE_regledger-verify"))
        .args(["audit", "--log"])
        .arg(log.descriptor())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // An empty directory has no checkpoint.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_regledger-verify"))
        .args(["audit", "--dir"])
        .arg(empty.path())
        .arg("--log")
        .arg(log.descriptor())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A checkpoint signed by another key is a verification failure.
    let other = Signer::generate(ORIGIN, KeyType::Ed25519, [7; 32]).unwrap();
    let files = tile_files(HashSuite::Blake3, ORIGIN, &other, &log.leaves, &[]);
    std::fs::write(log.tiles().join("checkpoint"), &files["checkpoint"]).unwrap();
    let (code, v, _) = audit(&log, &[]);
    assert_eq!(code, 1);
    assert_eq!(first_failure(&v).1, "checkpoint");
}

#[test]
fn deadline_command_counts_working_days_on_the_official_calendar() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_regledger-verify"))
            .arg("deadline")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    };
    assert_eq!(
        run(&["--from", "2025-01-24", "--working-days", "10"]),
        (0, "2025-02-13".into())
    );
    assert_eq!(
        run(&["--from", "2025-09-26", "--working-days", "10"]),
        (0, "2025-10-16".into())
    );
    // 2027 has no notice in the shipped calendar: the answer is provisional.
    assert_eq!(
        run(&["--from", "2026-12-28", "--working-days", "5"]),
        (0, "2027-01-04 provisional".into())
    );
    // Regional notices live in each log: offline, a region's answer is provisional.
    assert_eq!(
        run(&[
            "--from",
            "2025-01-24",
            "--working-days",
            "10",
            "--region",
            "guangxi"
        ]),
        (0, "2025-02-13 provisional".into())
    );
    assert_eq!(run(&["--from", "2025-02-30", "--working-days", "1"]).0, 2);
    assert_eq!(run(&["--from", "2025-01-24", "--working-days", "-1"]).0, 2);
    assert_eq!(
        run(&["--from", "2025-01-24", "--working-days", "999999"]).0,
        2
    );
}
