//! The audit refuses what the node refuses: a log written under the old,
//! loose rules (crafted here without going through the rules, with valid
//! signatures) holds every act issue 12 found accepted — another
//! operator's acts on a product, a back-dated approval, absurd dates, an
//! orphaned scene authorization, a look-alike 登记号, unusable
//! participants. `regledger-verify audit` must report each as a rule
//! failure naming its entry and article, and the library's `apply` (what
//! the node runs) must refuse exactly the same entries with the same codes.

use std::process::Command;

use base64::Engine;
use regledger::registry::{apply, EntryContext, EntryKind, MemoryState, Role};
use regledger::testkit::{chain, publish, Logged, Party, Step, Testkit, BASE_MS, DAY_MS, DOC};
use regledger::tlog::note::{KeyType, Signer};
use regledger::HashSuite;
use serde_json::{json, Value};

const ORIGIN: &str = "audit.example/loose";
const GUANGXI: &str = "《广西壮族自治区公共数据资源授权运营管理办法（试行）》";

fn at(d: u64) -> u64 {
    BASE_MS + d * DAY_MS
}

/// Bad is an act the old rules accepted: its step, the code the rules
/// refuse it with, and the article the refusal must name (if the rule has one).
struct Bad {
    at: usize,
    code: &'static str,
    article: Option<&'static str>,
}

fn crafted() -> (Vec<Step>, Vec<Bad>) {
    let k = Testkit::new(ORIGIN);
    let bo = Party::new("gx-operator-b", "乙运营有限公司", Role::Operator, 21);
    let bb = Party::new("nn-other", "乙经营主体有限公司", Role::BusinessEntity, 22);
    let ba = Party::new(
        "gx-implementing-b",
        "乙实施机构",
        Role::ImplementingAgency,
        23,
    );
    let setup_len = k.setup(HashSuite::Blake3, "guangxi").len();
    let lifecycle = k.lifecycle(HashSuite::Blake3, "guangxi");
    let registered = lifecycle
        .iter()
        .position(|s| s.label == "product registered")
        .unwrap();
    let mut steps: Vec<Step> = lifecycle[..setup_len].to_vec();
    let t = at(1) + 100;
    let push = |steps: &mut Vec<Step>, label, envelope, time_ms| {
        steps.push(Step {
            label,
            envelope,
            time_ms,
        })
    };
    push(&mut steps, "register B operator", k.register(&bo), t);
    push(&mut steps, "register B business", k.register(&bb), t + 1);
    push(&mut steps, "register B agency", k.register(&ba), t + 2);
    push(
        &mut steps,
        "OA-B",
        ba.sign(
            EntryKind::AgreementFiled,
            &json!({"id": "OA-B", "agreement_type": "operation-agreement", "parties": [ba.id, bo.id], "grantee": bo.id,
                    "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2025-03-04", "term_start": "2025-03-04", "term_end": "2027-03-03",
                    "document_title": "乙授权运营协议", "document_blake3": DOC}),
        ),
        t + 3,
    );
    push(
        &mut steps,
        "SA-B",
        bo.sign(
            EntryKind::AgreementFiled,
            &json!({"id": "SA-B", "agreement_type": "scene-authorization", "parties": [bo.id, bb.id], "grantee": bb.id,
                    "parent": "OA-B", "scope": ["R-GX-TRANSPORT-001"], "scene": "乙场景", "signed_on": "2025-03-04",
                    "term_start": "2025-03-05", "term_end": "2027-03-02", "document_title": "乙场景授权协议", "document_blake3": DOC}),
        ),
        t + 4,
    );
    steps.extend(lifecycle[setup_len..=registered].iter().cloned());

    let mut bad = Vec::new();
    let mut act = |steps: &mut Vec<Step>,
                   env,
                   time_ms: u64,
                   code: &'static str,
                   article: Option<&'static str>| {
        if !code.is_empty() {
            bad.push(Bad {
                at: steps.len(),
                code,
                article,
            });
        }
        steps.push(Step {
            label: "crafted",
            envelope: env,
            time_ms,
        });
    };
    let approve = |who: &Party, pid: &str, be: &str, auth: &str, on: &str| {
        who.sign(
            EntryKind::ProductApproved,
            &json!({"product_id": pid, "product_name": "产品", "business_entity": be, "authorization": auth,
                    "approved_on": on, "uses_non_public_data": false}),
        )
    };
    let t = at(22);
    // Operator B suspends operator A's product.
    act(
        &mut steps,
        bo.sign(
            EntryKind::ProductSuspended,
            &json!({"id": "P-1", "reason": "冒名暂停", "effective_on": "2025-03-25"}),
        ),
        t,
        "wrong-party",
        Some("第十二条第（七）项"),
    );
    // B approves a product under the scene authorization A granted.
    act(
        &mut steps,
        approve(&bo, "P-B1", &k.business.id, "SA-1", "2025-03-25"),
        t + 1,
        "wrong-party",
        Some("第十二条"),
    );
    // B grants a scene authorization under A's operation agreement.
    act(
        &mut steps,
        bo.sign(
            EntryKind::AgreementFiled,
            &json!({"id": "SA-X", "agreement_type": "scene-authorization", "parties": [bo.id, k.business.id], "grantee": k.business.id,
                    "parent": "OA-1", "scope": ["R-GX-TRANSPORT-001"], "scene": "冒名场景", "signed_on": "2025-03-25",
                    "term_start": "2025-03-26", "term_end": "2026-03-25", "document_title": "场景授权协议", "document_blake3": DOC}),
        ),
        t + 2,
        "wrong-party",
        Some("第十二条第（三）项"),
    );
    // An objection, which B then resolves without any part in the product.
    act(&mut steps, k.venue.sign(EntryKind::ObjectionFiled, &json!({"objection_id": "OBJ-2", "product_id": "P-1", "filed_on": "2025-03-25", "filer_name": "会员来函", "grounds": "再次异议"})), t + 3, "", None);
    act(&mut steps, bo.sign(EntryKind::ObjectionResolved, &json!({"objection_id": "OBJ-2", "resolved_on": "2025-03-25", "outcome": "dismissed", "reason": "冒名处理"})), t + 4, "wrong-party", Some("第十二条第（八）项"));
    // A product approved for a business entity that is no party to SA-1.
    act(
        &mut steps,
        approve(&k.operator, "P-X", &bb.id, "SA-1", "2025-03-25"),
        t + 5,
        "wrong-party",
        Some("第十二条第（三）项"),
    );
    // SA-OLD ends 03-26; on 03-28 an approval dated 03-26 claims it was in force.
    act(
        &mut steps,
        k.operator.sign(
            EntryKind::AgreementFiled,
            &json!({"id": "SA-OLD", "agreement_type": "scene-authorization", "parties": [k.operator.id, k.business.id], "grantee": k.business.id,
                    "parent": "OA-1", "scope": ["R-GX-TRANSPORT-001"], "scene": "短期场景", "signed_on": "2025-03-04",
                    "term_start": "2025-03-05", "term_end": "2025-03-26", "document_title": "场景授权协议", "document_blake3": DOC}),
        ),
        t + 6,
        "",
        None,
    );
    let t = at(25);
    act(
        &mut steps,
        approve(&k.operator, "P-OLD", &k.business.id, "SA-OLD", "2025-03-26"),
        t,
        "authorization-not-active",
        Some("无授权不运营"),
    );
    // Dates that would make a rule count millions of days.
    act(&mut steps, k.venue.sign(EntryKind::ObjectionFiled, &json!({"objection_id": "OBJ-3", "product_id": "P-1", "filed_on": "1970-01-01", "filer_name": "x", "grounds": "y"})), t + 1, "invalid-dates", Some("第十二条第（八）项"));
    act(&mut steps, k.operator.sign(EntryKind::ObjectionResolved, &json!({"objection_id": "OBJ-2", "resolved_on": "9999-12-31", "outcome": "dismissed", "reason": "x"})), t + 2, "invalid-dates", Some("第十二条第（八）项"));
    // OA-B ends; SA-B is an orphan, and B approves under it anyway.
    act(&mut steps, ba.sign(EntryKind::AgreementTerminated, &json!({"id": "OA-B", "reason": "voluntary-exit", "detail": "主动退出", "effective_on": "2025-03-28"})), t + 3, "", None);
    act(
        &mut steps,
        approve(&bo, "P-B2", &bb.id, "SA-B", "2025-03-28"),
        t + 4,
        "authorization-not-active",
        Some("无授权不运营"),
    );
    // A look-alike 登记号 beside GXDP-2025-000001.
    act(
        &mut steps,
        approve(&k.operator, "P-2", &k.business.id, "SA-1", "2025-03-28"),
        t + 5,
        "",
        None,
    );
    act(
        &mut steps,
        k.operator.sign(
            EntryKind::ProductRegistered,
            &json!({"product_id": "P-2", "registration_no": "gxdp-2025-000001", "certificate_name": "数据产品登记证书",
                    "product_name": "产品", "product_type": "数据服务", "business_entity": k.business.id,
                    "business_entity_name": k.business.name, "update_cycle": "每日", "scenarios": ["公交出行规划"],
                    "registered_on": "2025-03-28", "authorization": "SA-1"}),
        ),
        t + 6,
        "malformed-payload",
        Some("第十二条第（七）项"),
    );
    // Participants no envelope could carry or anyone could sign for (no article: FORMATS.md's grammar).
    let key = Party::new("x", "x", Role::Operator, 40).public_key_b64();
    act(&mut steps, k.authority.sign(EntryKind::ParticipantRegistered, &json!({"id": "运营机构乙", "name": "某公司", "role": "operator", "public_keys": [key]})), t + 7, "malformed-payload", None);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = base64::engine::general_purpose::STANDARD.encode(identity);
    act(
        &mut steps,
        k.authority.sign(
            EntryKind::ParticipantRegistered,
            &json!({"id": "gx-weak", "name": "某公司", "role": "operator", "public_keys": [weak]}),
        ),
        t + 8,
        "malformed-payload",
        None,
    );
    // The log goes on normally afterwards.
    act(&mut steps, k.operator.sign(EntryKind::ObjectionResolved, &json!({"objection_id": "OBJ-2", "resolved_on": "2025-03-28", "outcome": "dismissed", "reason": "核实无误"})), t + 9, "", None);
    (steps, bad)
}

fn log_signer() -> Signer {
    Signer::generate(ORIGIN, KeyType::Ed25519, [43; 32]).unwrap()
}

/// refused_by_the_rules runs the library's `apply` (what the node runs)
/// over `steps`, entry by entry, and returns each refused entry's index,
/// code and message (a refused entry writes nothing).
fn refused_by_the_rules(origin: &str, steps: &[Step]) -> Vec<(usize, &'static str, String)> {
    let mut state = MemoryState::default();
    let mut refused = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let ctx = EntryContext {
            index: i as u64,
            integrated_time_ms: s.time_ms,
            log_id: origin.into(),
        };
        match apply(&state, &ctx, &s.envelope) {
            Ok(fx) => state.apply_effects(&fx),
            Err(e) => refused.push((i, e.code(), e.to_string())),
        }
    }
    refused
}

/// audit publishes `leaves` (v2, with `envelopes` beside them: empty for
/// one dropped) as a node would, signed by `signer`, and runs
/// `regledger-verify --json audit` on them; it returns the exit code and
/// the JSON report.
fn audit(
    suite: HashSuite,
    origin: &str,
    signer: &Signer,
    leaves: &[Vec<u8>],
    envelopes: &[Vec<u8>],
) -> (Option<i32>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let log = publish(
        dir.path(),
        suite,
        origin,
        signer,
        "guangxi",
        leaves,
        envelopes,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_regledger-verify"))
        .arg("--json")
        .arg("audit")
        .arg("--dir")
        .arg(&log.tiles)
        .arg("--log")
        .arg(&log.log_json)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("no report: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

#[test]
fn the_audit_reports_every_act_the_loose_rules_let_through() {
    let (steps, bad) = crafted();
    // What the node runs: the library's apply, entry by entry.
    // A node without the rules writes v2 leaves whose state roots are
    // what a correct replay computes (refused acts write nothing), so the
    // audit reports the acts, not the roots.
    let leaves = chain(ORIGIN, HashSuite::Blake3, &steps);
    let refused: Vec<(usize, &str)> = refused_by_the_rules(ORIGIN, &steps)
        .into_iter()
        .map(|(i, c, _)| (i, c))
        .collect();
    let want: Vec<(usize, &str)> = bad.iter().map(|b| (b.at, b.code)).collect();
    assert_eq!(
        refused, want,
        "the library refuses exactly the crafted acts"
    );

    // What the regulator runs: the audit on the published tiles.
    let bytes: Vec<Vec<u8>> = leaves.iter().map(Logged::leaf_bytes).collect();
    let envs: Vec<Vec<u8>> = leaves.iter().map(Logged::envelope_bytes).collect();
    let (code, v) = audit(HashSuite::Blake3, ORIGIN, &log_signer(), &bytes, &envs);
    assert_eq!(code, Some(1), "{v}");
    let failures = v["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), bad.len(), "{failures:#?}");
    for b in &bad {
        let f = failures
            .iter()
            .find(|f| f["index"] == json!(b.at))
            .unwrap_or_else(|| panic!("entry {} ({}) not reported: {failures:#?}", b.at, b.code));
        assert_eq!(f["check"], format!("rule:{}", b.code), "{f}");
        let detail = f["detail"].as_str().unwrap();
        if let Some(article) = b.article {
            assert!(
                detail.contains(article) && (detail.contains(GUANGXI) || detail.contains("《")),
                "entry {}: {detail} does not cite {article}",
                b.at
            );
        }
    }
    // The rest of the log is intact: the tree verifies, the good entries apply.
    assert_eq!(v["computed_root"], v["checkpoint"]["root"]);
    assert_eq!(v["entries_checked"], json!(steps.len()));
}

const ORIGIN_SM3: &str = "audit.example/loose-sm3";

/// The 国密 rules of an `sm3` log with genesis `require_sm2` (D19), broken
/// by a node that skipped them: an Ed25519 participant key (registered, and
/// added by rotation) and a document digest under the BLAKE3 field name.
/// The library's `apply` (what the node runs) refuses exactly those
/// entries, and `regledger-verify audit` on the published sm3 tiles
/// (SM2-signed checkpoint) reports each as that rule failure.
#[test]
fn the_audit_refuses_what_an_sm3_node_refuses() {
    let k = Testkit::new(ORIGIN_SM3).with_sm2();
    let mut steps = k.setup(HashSuite::Sm3, "guangxi");
    // Genesis with require_sm2 (what `init --hash sm3 --require-sm2` writes).
    steps[0].envelope = k.authority.sign(
        EntryKind::Genesis,
        &json!({"origin": ORIGIN_SM3, "hash": "sm3", "profile": "guangxi", "authority": k.authority.spec(),
                "require_sm2": true}),
    );
    let t = steps.last().unwrap().time_ms + 1000;
    let ed = Party::new("gx-ed25519-op", "某运营公司", Role::Operator, 50);
    let sm = Party::new_sm2("gx-sm2-op", "某国密运营公司", Role::Operator, 51);
    let mut bad = Vec::new();
    let mut act = |steps: &mut Vec<Step>, env, time_ms: u64, code: &'static str| {
        if !code.is_empty() {
            bad.push(Bad {
                at: steps.len(),
                code,
                article: None,
            });
        }
        steps.push(Step {
            label: "crafted",
            envelope: env,
            time_ms,
        });
    };
    // An Ed25519 participant key in a require-sm2 log.
    act(&mut steps, k.register(&ed), t, "malformed-payload");
    // An SM2 participant is fine; adding an Ed25519 key to it by rotation is not.
    act(&mut steps, k.register(&sm), t + 1, "");
    act(
        &mut steps,
        k.authority.sign(
            EntryKind::ParticipantKeyRotated,
            &json!({"id": sm.id, "add_keys": [ed.public_key_b64()]}),
        ),
        t + 2,
        "malformed-payload",
    );
    // A document digest named *_blake3 in an sm3 log.
    let agreement = |id: &str, field: &str| {
        k.agency.sign(
            EntryKind::AgreementFiled,
            &json!({"id": id, "agreement_type": "implementation-plan", "parties": [k.agency.id], "grantee": k.agency.id,
                    "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2025-03-04", "term_start": "2025-03-05",
                    "term_end": "2027-03-04", "document_title": "实施方案（补充）", field: DOC}),
        )
    };
    act(
        &mut steps,
        agreement("PLAN-B3", "document_blake3"),
        t + 3,
        "malformed-payload",
    );
    // The same act under the suite-neutral field is accepted: the log goes on.
    act(
        &mut steps,
        agreement("PLAN-D", "document_digest"),
        t + 4,
        "",
    );

    let refused = refused_by_the_rules(ORIGIN_SM3, &steps);
    let want: Vec<(usize, &str)> = bad.iter().map(|b| (b.at, b.code)).collect();
    let got: Vec<(usize, &str)> = refused.iter().map(|(i, c, _)| (*i, *c)).collect();
    assert_eq!(
        got, want,
        "the library refuses exactly the crafted acts: {refused:#?}"
    );

    let leaves = chain(ORIGIN_SM3, HashSuite::Sm3, &steps);
    let signer = Signer::generate(ORIGIN_SM3, KeyType::Sm2, [43; 32]).unwrap();
    let bytes: Vec<Vec<u8>> = leaves.iter().map(Logged::leaf_bytes).collect();
    let envs: Vec<Vec<u8>> = leaves.iter().map(Logged::envelope_bytes).collect();
    let (code, v) = audit(HashSuite::Sm3, ORIGIN_SM3, &signer, &bytes, &envs);
    assert_eq!(code, Some(1), "{v}");
    let failures = v["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), bad.len(), "{failures:#?}");
    for (b, why) in bad.iter().zip(["require_sm2", "require_sm2", "sm3 log"]) {
        let f = failures
            .iter()
            .find(|f| f["index"] == json!(b.at))
            .unwrap_or_else(|| panic!("entry {} ({}) not reported: {failures:#?}", b.at, b.code));
        assert_eq!(f["check"], format!("rule:{}", b.code), "{f}");
        let detail = f["detail"].as_str().unwrap();
        assert!(
            detail.contains(why),
            "entry {}: {detail} does not say {why}",
            b.at
        );
    }
    assert_eq!(v["computed_root"], v["checkpoint"]["root"]);
    assert_eq!(v["entries_checked"], json!(steps.len()));
}

const ORIGIN_PRUNE: &str = "audit.example/loose-prune";

/// at_day is 10:00 China time on `d`, in Unix ms.
fn at_day(d: &str) -> u64 {
    regledger::registry::calendar::Date::parse(d)
        .unwrap()
        .days_since_epoch() as u64
        * DAY_MS
        + 2 * 3_600_000
}

/// A node that skipped the history half of the prune rules (D22,
/// `check_prune_scope`) logs prunes that the state alone lets through: one
/// naming a registration record (the product's certificate), and one
/// naming another agreement's operation event. Both envelopes are still
/// served. The node refuses each ([`check_prune_scope`] against the
/// envelopes it holds); `regledger-verify audit` must report each at the
/// prune, and accept the valid prune between them, whose operation event
/// is dropped (a gap).
#[test]
fn the_audit_refuses_a_prune_the_node_refuses() {
    use regledger::registry::{check_prune_scope, RetentionPruned};
    let k = Testkit::new(ORIGIN_PRUNE);
    let mut steps = k.lifecycle(HashSuite::Blake3, "guangxi");
    let pos =
        |steps: &[Step], label: &str| steps.iter().position(|s| s.label == label).unwrap() as u64;
    let registered = pos(&steps, "product registered");
    let op = pos(&steps, "operation event");
    let step = |steps: &mut Vec<Step>, label, envelope, time_ms| {
        steps.push(Step {
            label,
            envelope,
            time_ms,
        });
        steps.len() as u64 - 1
    };
    // An operation event of the parent agreement OA-1, which goes on.
    let other_op = step(
        &mut steps,
        "OA-1 operation event",
        k.operator.sign(
            EntryKind::OperationEvent,
            &json!({"agreement_id": "OA-1", "product_id": "P-1", "action": "access", "occurred_at_ms": at_day("2025-04-20"),
                    "actor": "svc-ops", "records": 10, "personal_data_commitments": [DOC]}),
        ),
        at_day("2025-04-20") + 60_000,
    );
    step(
        &mut steps,
        "terminate SA-1",
        k.agency.sign(
            EntryKind::AgreementTerminated,
            &json!({"id": "SA-1", "reason": "voluntary-exit", "detail": "经营主体主动退出", "effective_on": "2025-04-22"}),
        ),
        at_day("2025-04-23"),
    );
    // Guangxi Art. 12(3): SA-1's logs may go from 2025-10-22.
    let prune = |entries: &[u64]| {
        k.authority.sign(
            EntryKind::RetentionPruned,
            &json!({"agreement_id": "SA-1", "entries": entries}),
        )
    };
    let bad_registration = step(
        &mut steps,
        "prune a certificate",
        prune(&[registered]),
        at_day("2025-10-23"),
    );
    let good = step(
        &mut steps,
        "prune SA-1's event",
        prune(&[op]),
        at_day("2025-10-23") + 1,
    );
    let bad_other = step(
        &mut steps,
        "prune OA-1's event",
        prune(&[other_op]),
        at_day("2025-10-23") + 2,
    );

    // What the node runs: the rules accept every entry (the state cannot
    // tell what an index was) ...
    let mut state = MemoryState::default();
    for (i, s) in steps.iter().enumerate() {
        let ctx = EntryContext {
            index: i as u64,
            integrated_time_ms: s.time_ms,
            log_id: ORIGIN_PRUNE.into(),
        };
        let fx = apply(&state, &ctx, &s.envelope).unwrap_or_else(|e| panic!("{}: {e}", s.label));
        state.apply_effects(&fx);
    }
    // ... and its store refuses the two bad prunes against the envelopes it holds.
    let leaves = chain(ORIGIN_PRUNE, HashSuite::Blake3, &steps);
    let mut envs: Vec<Vec<u8>> = leaves.iter().map(Logged::envelope_bytes).collect();
    for (at, want) in [(bad_registration, false), (good, true), (bad_other, false)] {
        let p: RetentionPruned =
            serde_json::from_slice(&steps[at as usize].envelope.payload).unwrap();
        let x = p.entries[0];
        let held = regledger::entry::envelope::Envelope::from_bytes(&envs[x as usize]).unwrap();
        let r = check_prune_scope(&p, x, Some(&held));
        assert_eq!(r.is_ok(), want, "{at}: {r:?}");
    }
    // The valid prune dropped its event's envelope.
    envs[op as usize] = Vec::new();

    let bytes: Vec<Vec<u8>> = leaves.iter().map(Logged::leaf_bytes).collect();
    let signer = Signer::generate(ORIGIN_PRUNE, KeyType::Ed25519, [43; 32]).unwrap();
    let (code, v) = audit(HashSuite::Blake3, ORIGIN_PRUNE, &signer, &bytes, &envs);
    assert_eq!(code, Some(1), "{v}");
    let failures = v["failures"].as_array().expect("failures");
    let got: Vec<(u64, &str)> = failures
        .iter()
        .map(|f| (f["index"].as_u64().unwrap(), f["check"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            (bad_registration, "rule:not-prunable"),
            (bad_other, "rule:not-prunable")
        ],
        "{failures:#?}"
    );
    let detail = |i: usize| failures[i]["detail"].as_str().unwrap().to_string();
    assert!(detail(0).contains("product-registered"), "{}", detail(0));
    assert!(detail(1).contains("OA-1"), "{}", detail(1));
    assert_eq!(v["pruned_entries"], json!(1), "{v}");
    assert_eq!(v["computed_root"], v["checkpoint"]["root"]);

    // In a v1 log every envelope is inside its leaf, which no prune can
    // change: the node holds none to drop and refuses all three.
    let v1: Vec<Vec<u8>> = regledger::testkit::chain_v1(HashSuite::Blake3, &steps)
        .iter()
        .map(|l| l.to_bytes())
        .collect();
    let (code, v) = audit(HashSuite::Blake3, ORIGIN_PRUNE, &signer, &v1, &[]);
    assert_eq!(code, Some(1), "{v}");
    let got: Vec<(u64, &str)> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["index"].as_u64().unwrap(), f["check"].as_str().unwrap()))
        .collect();
    let refused = "rule:not-prunable";
    assert_eq!(
        got,
        vec![
            (bad_registration, refused),
            (good, refused),
            (bad_other, refused)
        ],
        "{v}"
    );
}

/// The state half of the prune rules, broken by a node that skipped them:
/// a prune before the retention period ran out (wrong time), one signed by
/// the operator (wrong party), one naming a look-alike agreement id
/// (`sa-1` for `SA-1`), and the valid prune logged twice (a second prune of
/// the same entries; the second is also a new signed content, so it is not
/// a replay). The library's `apply` (what the node runs) refuses exactly
/// those, and `regledger-verify audit` reports each with the same code.
#[test]
fn the_audit_refuses_the_prunes_the_rules_refuse() {
    let k = Testkit::new(ORIGIN_PRUNE);
    let mut steps = k.lifecycle(HashSuite::Blake3, "guangxi");
    let op = steps
        .iter()
        .position(|s| s.label == "operation event")
        .unwrap() as u64;
    steps.push(Step {
        label: "terminate SA-1",
        envelope: k.agency.sign(
            EntryKind::AgreementTerminated,
            &json!({"id": "SA-1", "reason": "voluntary-exit", "detail": "经营主体主动退出", "effective_on": "2025-04-22"}),
        ),
        time_ms: at_day("2025-04-23"),
    });
    let mut bad = Vec::new();
    let mut act = |steps: &mut Vec<Step>,
                   who: &Party,
                   agreement: &str,
                   day: &str,
                   code: &'static str| {
        if !code.is_empty() {
            bad.push((steps.len() as u64, code));
        }
        steps.push(Step {
            label: "crafted prune",
            envelope: who.sign(
                EntryKind::RetentionPruned,
                &json!({"agreement_id": agreement, "entries": [op], "request_id": format!("r-{}", steps.len())}),
            ),
            time_ms: at_day(day) + steps.len() as u64,
        });
    };
    // Guangxi Art. 12(3): SA-1's logs may go from 2025-10-22.
    act(
        &mut steps,
        &k.authority,
        "SA-1",
        "2025-10-21",
        "retention-not-over",
    );
    act(
        &mut steps,
        &k.operator,
        "SA-1",
        "2025-10-23",
        "role-not-allowed",
    );
    act(&mut steps, &k.authority, "sa-1", "2025-10-23", "not-found");
    act(&mut steps, &k.authority, "SA-1", "2025-10-23", "");
    act(
        &mut steps,
        &k.authority,
        "SA-1",
        "2025-10-24",
        "not-prunable",
    );

    let refused: Vec<(u64, &str)> = refused_by_the_rules(ORIGIN_PRUNE, &steps)
        .into_iter()
        .map(|(i, c, _)| (i as u64, c))
        .collect();
    assert_eq!(
        refused, bad,
        "the library refuses exactly the crafted prunes"
    );

    let leaves = chain(ORIGIN_PRUNE, HashSuite::Blake3, &steps);
    let bytes: Vec<Vec<u8>> = leaves.iter().map(Logged::leaf_bytes).collect();
    let mut envs: Vec<Vec<u8>> = leaves.iter().map(Logged::envelope_bytes).collect();
    // The valid prune dropped its event's envelope.
    envs[op as usize] = Vec::new();
    let signer = Signer::generate(ORIGIN_PRUNE, KeyType::Ed25519, [43; 32]).unwrap();
    let (code, v) = audit(HashSuite::Blake3, ORIGIN_PRUNE, &signer, &bytes, &envs);
    assert_eq!(code, Some(1), "{v}");
    let got: Vec<(u64, String)> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["index"].as_u64().unwrap(),
                f["check"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = bad.iter().map(|(i, c)| (*i, format!("rule:{c}"))).collect();
    assert_eq!(got, want, "{v}");
    assert_eq!(v["pruned_entries"], json!(1), "{v}");
}
