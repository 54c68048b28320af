//! The registry rules: the whole registration lifecycle (docs/registry.md) replayed, and a
//! table of invalid steps, each rejected with its code and seed citation.

use regledger::registry::calendar::Date;
use regledger::registry::{apply, EntryContext, EntryKind, MemoryState, RuleViolation, Status};
use regledger::testkit::{
    apply_after, replay, Step, Testkit, BASE_MS, DAY_MS, DOC, REGISTRATION_NO,
};
use regledger::HashSuite;
use serde_json::json;

const ORIGIN: &str = "regledger.test/gx";

fn kit() -> Testkit {
    Testkit::new(ORIGIN)
}

/// try_after replays `prefix`, then applies `env` at `time_ms` and returns the result.
fn try_after(
    prefix: &[Step],
    env: regledger::entry::envelope::Envelope,
    time_ms: u64,
) -> Result<regledger::registry::Effects, RuleViolation> {
    apply_after(ORIGIN, HashSuite::Blake3, prefix, &env, time_ms)
}

fn code(r: Result<regledger::registry::Effects, RuleViolation>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn whole_lifecycle_replays_in_every_profile() {
    for profile in ["xian", "chengdu", "shuozhou", "guangxi"] {
        let k = kit();
        let steps = k.lifecycle(HashSuite::Blake3, profile);
        let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap_or_else(|(i, e)| {
            panic!("{profile}: step {i} ({}) rejected: {e}", steps[i].label)
        });
        let p = r.state.product_by_registration_no(REGISTRATION_NO).unwrap();
        assert_eq!(p.status, Status::Revoked);
        let reg = p.registration.unwrap();
        let i = steps
            .iter()
            .position(|s| s.label == "product registered")
            .unwrap();
        assert_eq!(reg.index, i as u64);
        // Every leaf chains to the previous one, and commits to a new
        // state root exactly when its entry writes state: an operation
        // event repeats the root before it.
        for (j, w) in r.leaves.windows(2).enumerate() {
            assert_eq!(w[1].prev_leaf_hash, w[0].hash(HashSuite::Blake3));
            let writes = r.effects[j + 1].kind != EntryKind::OperationEvent;
            assert_eq!(
                w[1].state_root() != w[0].state_root(),
                writes,
                "entry {}",
                j + 1
            );
        }
    }
}

#[test]
fn apply_is_deterministic() {
    let k = kit();
    let steps = k.lifecycle(HashSuite::Sha256, "guangxi");
    let a = replay(ORIGIN, HashSuite::Sha256, &steps).unwrap();
    let b = replay(ORIGIN, HashSuite::Sha256, &steps).unwrap();
    assert_eq!(a.state, b.state);
    assert_eq!(a.effects, b.effects);
}

#[test]
fn genesis_rules() {
    let k = kit();
    let g = k.genesis(HashSuite::Blake3, "guangxi");
    let ctx0 = |origin: &str| EntryContext {
        index: 0,
        integrated_time_ms: BASE_MS,
        log_id: origin.into(),
    };
    assert!(apply(&MemoryState::default(), &ctx0(ORIGIN), &g).is_ok());
    assert_eq!(
        code(apply(&MemoryState::default(), &ctx0("other/log"), &g)),
        "wrong-party"
    );
    // Genesis signed by someone else than the authority it declares.
    let forged = k.operator.sign(
        EntryKind::Genesis,
        &serde_json::from_slice(&g.payload).unwrap(),
    );
    assert_eq!(
        code(apply(&MemoryState::default(), &ctx0(ORIGIN), &forged)),
        "unknown-signer"
    );
    let bad_profile = k.authority.sign(EntryKind::Genesis, &json!({"origin": ORIGIN, "hash": "blake3", "profile": "beijing", "authority": k.authority.spec()}));
    assert_eq!(
        code(apply(&MemoryState::default(), &ctx0(ORIGIN), &bad_profile)),
        "unknown-profile"
    );
    // Anything else first, or genesis later: refused.
    assert_eq!(
        code(apply(
            &MemoryState::default(),
            &ctx0(ORIGIN),
            &k.register(&k.agency)
        )),
        "genesis-position"
    );
    let steps = k.setup(HashSuite::Blake3, "guangxi");
    assert_eq!(
        code(try_after(&steps, g, BASE_MS + DAY_MS * 3)),
        "genesis-position"
    );
}

#[test]
fn signer_rules() {
    // 《西安市公共数据资源授权运营管理实施细则》第七条 (可管、可控、可追溯): only registered, unrevoked participants with the right role.
    let k = kit();
    let steps = k.setup(HashSuite::Blake3, "guangxi");
    let t = BASE_MS + 3 * DAY_MS;
    let stranger = regledger::testkit::Party::new(
        "stranger",
        "某公司",
        regledger::registry::Role::Operator,
        99,
    );
    assert_eq!(
        code(try_after(
            &steps,
            stranger.sign(
                EntryKind::ParticipantRevoked,
                &json!({"id": "gx-operator", "reason": "x"})
            ),
            t
        )),
        "unknown-signer"
    );
    // Wrong role: an operator may not register participants.
    assert_eq!(
        code(try_after(
            &steps,
            k.operator
                .sign(EntryKind::ParticipantRegistered, &stranger.spec()),
            t
        )),
        "role-not-allowed"
    );
    // Bad signature: payload changed after signing.
    let mut env = k
        .authority
        .sign(EntryKind::ParticipantRegistered, &stranger.spec());
    env.payload[5] ^= 1;
    assert_eq!(code(try_after(&steps, env, t)), "bad-signature");
    // Revoked signer.
    let mut s2 = steps.clone();
    s2.push(Step {
        label: "revoke operator",
        envelope: k.authority.sign(
            EntryKind::ParticipantRevoked,
            &json!({"id": "gx-operator", "reason": "违规"}),
        ),
        time_ms: t,
    });
    let env = k.operator.sign(
        EntryKind::PublicNoticeOpened,
        &json!({"product_id": "P-1", "opened_on": "2025-03-13"}),
    );
    assert_eq!(code(try_after(&s2, env, t + 1)), "signer-revoked");
    // Unknown kind and malformed payloads.
    let mut env = k.authority.sign(
        EntryKind::ParticipantRevoked,
        &json!({"id": "gx-operator", "reason": "x"}),
    );
    env.payload_type = "application/vnd.regledger.teleport+json".into();
    assert_eq!(code(try_after(&steps, env, t)), "unknown-kind");
    assert_eq!(
        code(try_after(
            &steps,
            k.authority
                .sign(EntryKind::ParticipantRevoked, &json!({"id": "gx-operator"})),
            t
        )),
        "malformed-payload"
    );
    assert_eq!(
        code(try_after(
            &steps,
            k.authority.sign(
                EntryKind::ParticipantRevoked,
                &json!({"id": "gx-operator", "reason": "x", "extra": 1})
            ),
            t
        )),
        "malformed-payload"
    );
    // Duplicate participant.
    assert_eq!(
        code(try_after(&steps, k.register(&k.operator), t)),
        "duplicate-id"
    );
}

#[test]
fn agreement_rules() {
    let k = kit();
    let steps = k.setup(HashSuite::Blake3, "guangxi");
    let t = BASE_MS + 3 * DAY_MS;
    let filing = |id: &str, start: &str, end: &str| {
        json!({"id": id, "agreement_type": "operation-agreement", "parties": [k.agency.id, k.operator.id], "grantee": k.operator.id,
               "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2025-03-05", "term_start": start, "term_end": end,
               "document_title": "协议", "document_blake3": DOC})
    };
    // 《广西壮族自治区公共数据资源授权运营管理办法（试行）》第十二条第（三）项: terms up to 5 years.
    assert_eq!(
        code(try_after(
            &steps,
            k.agency.sign(
                EntryKind::AgreementFiled,
                &filing("OA-2", "2025-03-06", "2030-03-05")
            ),
            t + 2 * DAY_MS
        )),
        "ok"
    );
    assert_eq!(
        code(try_after(
            &steps,
            k.agency.sign(
                EntryKind::AgreementFiled,
                &filing("OA-2", "2025-03-06", "2030-03-06")
            ),
            t + 2 * DAY_MS
        )),
        "term-too-long"
    );
    // 《朔州市公共数据资源授权运营实施方案（试行）》八: Shuozhou allows 3 years.
    let sz = k.setup(HashSuite::Blake3, "shuozhou");
    let r = try_after(
        &sz,
        k.agency.sign(
            EntryKind::AgreementFiled,
            &filing("OA-2", "2025-03-06", "2028-03-06"),
        ),
        t + 2 * DAY_MS,
    )
    .unwrap_err();
    assert_eq!(r.code(), "term-too-long");
    assert!(r
        .citation()
        .unwrap()
        .starts_with("《朔州市公共数据资源授权运营实施方案（试行）》"));
    assert_eq!(
        code(try_after(
            &sz,
            k.agency.sign(
                EntryKind::AgreementFiled,
                &filing("OA-2", "2025-03-06", "2028-03-05")
            ),
            t + 2 * DAY_MS
        )),
        "ok"
    );
    // Duplicate id, reversed dates, unknown resource.
    assert_eq!(
        code(try_after(
            &steps,
            k.agency.sign(
                EntryKind::AgreementFiled,
                &filing("OA-1", "2025-03-06", "2026-03-05")
            ),
            t + 2 * DAY_MS
        )),
        "duplicate-id"
    );
    assert_eq!(
        code(try_after(
            &steps,
            k.agency.sign(
                EntryKind::AgreementFiled,
                &filing("OA-3", "2026-03-06", "2025-03-05")
            ),
            t + 2 * DAY_MS
        )),
        "invalid-dates"
    );
    let mut f = filing("OA-4", "2025-03-06", "2026-03-05");
    f["scope"] = json!(["R-NOPE"]);
    assert_eq!(
        code(try_after(
            &steps,
            k.agency.sign(EntryKind::AgreementFiled, &f),
            t + 2 * DAY_MS
        )),
        "not-found"
    );
    // A scene authorization needs its parent and must not outlast it.
    let mut sa = json!({"id": "SA-2", "agreement_type": "scene-authorization", "parties": [k.operator.id, k.business.id], "grantee": k.business.id,
                        "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2025-03-05", "term_start": "2025-03-06", "term_end": "2026-03-05",
                        "document_title": "场景授权协议", "document_blake3": DOC});
    assert_eq!(
        code(try_after(
            &steps,
            k.operator.sign(EntryKind::AgreementFiled, &sa),
            t
        )),
        "authorization-not-active"
    );
    sa["parent"] = json!("OA-1");
    sa["term_end"] = json!("2030-03-05");
    assert_eq!(
        code(try_after(
            &steps,
            k.operator.sign(EntryKind::AgreementFiled, &sa),
            t
        )),
        "authorization-not-active"
    );
    // Lifecycle: suspend → resume; no resume of an active one; terminated stays terminated.
    let st = |label, envelope, d: u64| Step {
        label,
        envelope,
        time_ms: t + d,
    };
    let mut s = steps.clone();
    assert_eq!(
        code(try_after(
            &s,
            k.agency.sign(
                EntryKind::AgreementResumed,
                &json!({"id": "OA-1", "reason": "x", "effective_on": "2025-03-06"})
            ),
            t
        )),
        "invalid-transition"
    );
    s.push(st(
        "suspend",
        k.agency.sign(
            EntryKind::AgreementSuspended,
            &json!({"id": "OA-1", "reason": "整改", "effective_on": "2025-03-06"}),
        ),
        0,
    ));
    assert_eq!(
        code(try_after(
            &s,
            k.agency.sign(
                EntryKind::AgreementSuspended,
                &json!({"id": "OA-1", "reason": "x", "effective_on": "2025-03-06"})
            ),
            t + 1
        )),
        "invalid-transition"
    );
    // Terminated effective 08-31, logged the next day (no termination is logged ahead: D13).
    let sep1 = BASE_MS + 182 * DAY_MS;
    s.push(Step {
        label: "terminate",
        envelope: k.agency.sign(EntryKind::AgreementTerminated, &json!({"id": "OA-1", "reason": "violation", "detail": "违规", "effective_on": "2025-08-31"})),
        time_ms: sep1,
    });
    let r = replay(ORIGIN, HashSuite::Blake3, &s).unwrap();
    let Some(regledger::registry::StateObject::Agreement(a)) = r
        .state
        .0
        .get(&regledger::registry::StateKey::Agreement("OA-1".into()))
        .cloned()
    else {
        panic!()
    };
    // Guangxi Art. 12(3): logs kept ≥ 6 months after the end; 民法典 month arithmetic: Aug 31 + 6 months = Feb 28.
    assert_eq!(a.retain_logs_until, Date::parse("2026-02-28"));
    for kind in [
        EntryKind::AgreementResumed,
        EntryKind::AgreementSuspended,
        EntryKind::AgreementTerminated,
    ] {
        let p = if kind == EntryKind::AgreementTerminated {
            json!({"id": "OA-1", "reason": "expiry", "detail": "x", "effective_on": "2025-09-01"})
        } else {
            json!({"id": "OA-1", "reason": "x", "effective_on": "2025-09-01"})
        };
        assert_eq!(
            code(try_after(&s, k.agency.sign(kind, &p), sep1 + 5)),
            "invalid-transition",
            "{kind:?}"
        );
    }
    assert_eq!(
        code(try_after(&s, k.agency.sign(EntryKind::AgreementRenewed, &json!({"id": "OA-1", "applied_on": "2025-09-01", "new_term_end": "2030-03-01", "document_blake3": DOC})), sep1 + 5)),
        "invalid-transition"
    );
}

#[test]
fn product_rules() {
    let k = kit();
    let all = k.lifecycle(HashSuite::Blake3, "guangxi");
    let at = |label: &str| all.iter().position(|s| s.label == label).unwrap();
    let reg_i = at("product registered");
    let reg = all[reg_i].clone();
    // Registration before the 10-day public notice is over: 广西 第十二条第（六）项.
    let before_notice_end = &all[..at("objection filed")];
    let mut early = serde_json::from_slice::<serde_json::Value>(&reg.envelope.payload).unwrap();
    early["registered_on"] = json!("2025-03-15");
    let r = try_after(
        before_notice_end,
        k.operator.sign(EntryKind::ProductRegistered, &early),
        BASE_MS + 12 * DAY_MS,
    );
    assert_eq!(code(r), "notice-period-open");
    // With an unresolved objection.
    let pending = &all[..at("objection resolved")];
    assert_eq!(
        code(try_after(pending, reg.envelope.clone(), reg.time_ms)),
        "objection-pending"
    );
    // Without the notice at all.
    let mut no_notice: Vec<Step> = all[..at("public notice opened")].to_vec();
    no_notice.retain(|s| s.label != "public notice opened");
    assert_eq!(
        code(try_after(&no_notice, reg.envelope.clone(), reg.time_ms)),
        "notice-missing"
    );
    // Duplicate registration number for another product.
    let upto = &all[..=reg_i];
    let mut p2 = serde_json::from_slice::<serde_json::Value>(&reg.envelope.payload).unwrap();
    p2["product_id"] = json!("P-2");
    let approve2 = k.operator.sign(
        EntryKind::ProductApproved,
        &json!({"product_id": "P-2", "product_name": "二号产品", "business_entity": k.business.id,
        "authorization": "SA-1", "approved_on": "2025-03-24", "uses_non_public_data": false}),
    );
    let mut s = upto.to_vec();
    s.push(Step {
        label: "approve P-2",
        envelope: approve2,
        time_ms: reg.time_ms + 1,
    });
    assert_eq!(
        code(try_after(
            &s,
            k.operator.sign(EntryKind::ProductRegistered, &p2),
            reg.time_ms + 2
        )),
        "duplicate-registration-no"
    );
    // Registering twice.
    assert_eq!(
        code(try_after(upto, reg.envelope.clone(), reg.time_ms + 2)),
        "invalid-transition"
    );
    // 无授权不运营 (广西 第二条): registration under a suspended authorization.
    let mut s = all[..reg_i].to_vec();
    s.push(Step {
        label: "suspend SA-1",
        envelope: k.agency.sign(
            EntryKind::AgreementSuspended,
            &json!({"id": "SA-1", "reason": "整改", "effective_on": "2025-03-21"}),
        ),
        time_ms: reg.time_ms - 1,
    });
    let e = try_after(&s, reg.envelope.clone(), reg.time_ms).unwrap_err();
    assert_eq!(e.code(), "authorization-not-active");
    assert!(e.citation().unwrap().contains("无授权不运营"));
    // Status transitions after revocation: nothing.
    for kind in [
        EntryKind::ProductSuspended,
        EntryKind::ProductResumed,
        EntryKind::ProductRegistrationRevoked,
        EntryKind::ProductDeregistered,
    ] {
        let env = k.authority.sign(
            kind,
            &json!({"id": "P-1", "reason": "x", "effective_on": "2025-05-01"}),
        );
        assert_eq!(
            code(try_after(&all, env, BASE_MS + 50 * DAY_MS)),
            "invalid-transition",
            "{kind:?}"
        );
    }
    // Deregistering something never registered.
    let env = k.authority.sign(
        EntryKind::ProductDeregistered,
        &json!({"id": "P-404", "reason": "x", "effective_on": "2025-05-01"}),
    );
    assert_eq!(
        code(try_after(&all, env, BASE_MS + 50 * DAY_MS)),
        "not-found"
    );
}

#[test]
fn deadlines_are_flagged_not_refused() {
    let k = kit();
    let mut steps = k.setup(HashSuite::Blake3, "guangxi");
    // Xi'an Art. 22 / Chengdu Art. 16: filing within 10 working days of signing.
    // Signed Fri 2025-01-24; 10 working days cross Spring Festival 2025 → due 2025-02-13; filed 2025-03-05.
    let late = k.agency.sign(EntryKind::AgreementFiled, &json!({"id": "OA-LATE", "agreement_type": "operation-agreement", "parties": [k.agency.id, k.operator.id],
        "grantee": k.operator.id, "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2025-01-24", "term_start": "2025-02-01", "term_end": "2026-01-31",
        "document_title": "协议", "document_blake3": DOC}));
    let fx = try_after(&steps, late.clone(), BASE_MS + 2 * DAY_MS).unwrap();
    assert_eq!(fx.flags.len(), 1);
    let f = &fx.flags[0];
    assert_eq!(
        (f.code.name(), f.due, f.done),
        (
            "filing-late",
            Date::parse("2025-02-13").unwrap(),
            Date::parse("2025-03-05").unwrap()
        )
    );
    // Working days from 02-13 to 03-05: Feb 14,17-21,24-28 (11) + Mar 3,4,5 (3) = 14.
    assert_eq!(f.working_days_late, 14);
    // In Guangxi the regional overlay for 2025 is not published in this log: provisional.
    assert!(f.provisional);
    steps.push(Step {
        label: "late filing",
        envelope: late,
        time_ms: BASE_MS + 2 * DAY_MS,
    });
    // Review within 3 working days (广西 第十条): applied Fri 2025-09-26, approved 2025-10-10.
    // 3 working days: 09-28 (make-up Sun), 09-29, 09-30 → due 09-30.
    let ap = k.operator.sign(EntryKind::ProductApproved, &json!({"product_id": "P-9", "product_name": "延迟审核产品", "business_entity": k.business.id,
        "authorization": "SA-1", "applied_on": "2025-09-26", "approved_on": "2025-10-10", "uses_non_public_data": false}));
    // Logged the day it is approved (an approval is logged within 14 days: D13).
    let fx = try_after(&steps, ap, BASE_MS + 221 * DAY_MS).unwrap();
    let f = fx.flags.iter().find(|f| f.code == "review-late").unwrap();
    assert_eq!(f.due, Date::parse("2025-09-30").unwrap());
    // 2025-10-01..08 off, 10-09 (Thu) and 10-10 (Fri) working, 10-11 (Sat) make-up: 2 days late by 10-10.
    assert_eq!(f.working_days_late, 2);
}

#[test]
fn operation_events_and_commitments() {
    let k = kit();
    let all = k.lifecycle(HashSuite::Blake3, "guangxi");
    let t = BASE_MS + 60 * DAY_MS;
    let ev = |who: &regledger::testkit::Party, agreement: &str, commit: &str| {
        who.sign(EntryKind::OperationEvent, &json!({"agreement_id": agreement, "action": "export", "occurred_at_ms": t - 5, "actor": "svc",
            "records": 1, "personal_data_commitments": [commit]}))
    };
    assert_eq!(code(try_after(&all, ev(&k.business, "SA-1", DOC), t)), "ok");
    // Personal data only as 64-hex commitments, never in clear.
    assert_eq!(
        code(try_after(
            &all,
            ev(&k.business, "SA-1", "张三 13800000000"),
            t
        )),
        "malformed-payload"
    );
    // Only parties log operations under an agreement.
    let other = regledger::testkit::Party::new(
        "gx-transport",
        "x",
        regledger::registry::Role::DataSourceUnit,
        3,
    );
    assert_eq!(
        code(try_after(&all, ev(&other, "SA-1", DOC), t)),
        "role-not-allowed"
    );
    assert_eq!(
        code(try_after(&all, ev(&k.operator, "SA-404", DOC), t)),
        "not-found"
    );
}

#[test]
fn the_live_lifecycle_replays_when_a_real_node_logs_it_all_at_once() {
    // A real node gives every entry its own clock: the live scenario dates
    // every act today, so it replays whatever the day, even when the clock
    // crosses midnight (China time) between the kit and the node.
    let cst_10am =
        |d: &str| Date::parse(d).unwrap().days_since_epoch() as u64 * DAY_MS + 2 * 3_600_000;
    for (base, lag_ms) in [
        (cst_10am("2027-06-15"), 5_000),
        (cst_10am("2031-02-03"), 0),
        // 23:59:59 China time; the node logs every step two seconds later.
        (cst_10am("2026-12-31") + 14 * 3_600_000 - 1_000, 2_000),
    ] {
        let k = Testkit::live_at(ORIGIN, base);
        let mut steps = k.lifecycle(HashSuite::Blake3, "guangxi");
        for s in steps.iter_mut().skip(1) {
            s.time_ms += lag_ms;
        }
        let r = replay(ORIGIN, HashSuite::Blake3, &steps)
            .unwrap_or_else(|(i, e)| panic!("{base}: step {i} ({}) rejected: {e}", steps[i].label));
        let p = r.state.product_by_registration_no(REGISTRATION_NO).unwrap();
        assert_eq!(p.status, Status::Revoked);
        // And the fixed scenario would not: logged today, its 2025 dates are refused.
        let fixed = kit().lifecycle(HashSuite::Blake3, "guangxi");
        let late: Vec<Step> = fixed
            .into_iter()
            .map(|mut s| {
                s.time_ms = base + s.time_ms - BASE_MS;
                s
            })
            .collect();
        assert!(replay(ORIGIN, HashSuite::Blake3, &late).is_err());
    }
}

#[test]
fn the_registry_table_names_every_kind_with_the_roles_the_code_allows() {
    // docs/registry.md is the regulator's table of who may submit what:
    // it must list every kind, with exactly the roles kinds.rs allows.
    let doc = include_str!("../../docs/registry.md");
    for kind in EntryKind::ALL {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", kind.name())))
            .unwrap_or_else(|| panic!("docs/registry.md has no row for {}", kind.name()));
        let roles: Vec<&str> = row
            .split('|')
            .nth(2)
            .unwrap()
            .split(',')
            .map(str::trim)
            .collect();
        let want: Vec<&str> = kind.allowed_roles().iter().map(|r| r.name()).collect();
        assert_eq!(roles, want, "{}", kind.name());
        // Every row names its dates (or says it has none) and an article (or none).
        assert_eq!(row.matches('|').count(), 6, "{row}");
    }
}

/// Document digests (docs/registry.md, "Document digests"): an `sm3` log
/// takes `document_digest` and refuses the BLAKE3-named field; other logs
/// take either (their existing entries carry `document_blake3`), never both,
/// and one is required. Failed before the rule: `document_digest` was an
/// unknown field everywhere and `document_blake3` passed in an sm3 log.
#[test]
fn document_digest_field_by_suite() {
    let k = kit();
    for suite in [HashSuite::Sm3, HashSuite::Sha256, HashSuite::Blake3] {
        let setup = k.setup(suite, "guangxi");
        let r = replay(ORIGIN, suite, &setup)
            .unwrap_or_else(|(i, e)| panic!("{suite:?}: step {i} rejected: {e}"));
        let ctx = EntryContext {
            index: setup.len() as u64,
            integrated_time_ms: k.at(2, 0),
            log_id: ORIGIN.into(),
        };
        let amend = |fields: serde_json::Value| {
            let mut p = json!({"id": "OA-1", "amended_on": k.on("2025-03-04"), "reason": "变更"});
            for (f, v) in fields.as_object().unwrap() {
                p[f] = v.clone();
            }
            apply(
                &r.state,
                &ctx,
                &k.agency.sign(EntryKind::AgreementAmended, &p),
            )
        };
        let digest = amend(json!({"document_digest": DOC}));
        assert!(digest.is_ok(), "{suite:?}: {digest:?}");
        let old = amend(json!({"document_blake3": DOC}));
        if suite == HashSuite::Sm3 {
            let e = old.unwrap_err();
            assert_eq!(e.code(), "malformed-payload");
            assert!(e.to_string().contains("refused in an sm3 log"), "{e}");
        } else {
            assert!(old.is_ok(), "{suite:?}: {old:?}");
        }
        let both = amend(json!({"document_digest": DOC, "document_blake3": DOC})).unwrap_err();
        assert!(both.to_string().contains("not both"), "{both}");
        let none = amend(json!({})).unwrap_err();
        assert!(
            none.to_string().contains("document_digest is missing"),
            "{none}"
        );
        let upper = amend(json!({"document_digest": DOC.to_uppercase()})).unwrap_err();
        assert!(upper.to_string().contains("64 lowercase hex"), "{upper}");
        let steps = k.lifecycle(suite, "guangxi");
        replay(ORIGIN, suite, &steps)
            .unwrap_or_else(|(i, e)| panic!("{suite:?}: lifecycle step {i} rejected: {e}"));
    }
}
