//! Hostile acts against the registry rules (issue 12, items 2–7): a second
//! operator, business entity and implementing agency acting on objects
//! that are not theirs; back-dated approvals and registrations; dates
//! that would make a rule count millions of days; derived authorizations
//! whose parent ended; look-alike identifiers; error messages that must
//! name the missing step. Each is refused with its code and article.

use regledger::registry::{EntryKind, Role, RuleViolation};
use regledger::testkit::{apply_after, Party, Step, Testkit, BASE_MS, DAY_MS, DOC};
use regledger::HashSuite;
use serde_json::{json, Value};

const ORIGIN: &str = "regledger.test/hostile";
const GUANGXI: &str = "《广西壮族自治区公共数据资源授权运营管理办法（试行）》";

fn kit() -> Testkit {
    Testkit::new(ORIGIN)
}

/// B is the second tenant: an operator, a business entity and an
/// implementing agency with no part in the testkit's agreements.
struct B {
    operator: Party,
    business: Party,
    agency: Party,
}

fn b() -> B {
    B {
        operator: Party::new("gx-operator-b", "乙运营有限公司", Role::Operator, 21),
        business: Party::new("nn-other", "乙经营主体有限公司", Role::BusinessEntity, 22),
        agency: Party::new(
            "gx-implementing-b",
            "乙实施机构",
            Role::ImplementingAgency,
            23,
        ),
    }
}

fn at(d: u64) -> u64 {
    BASE_MS + d * DAY_MS
}

/// world returns the testkit's setup, B registered with its own operation
/// agreement OA-B and scene authorization SA-B (on 2025-03-04), then the
/// testkit's lifecycle up to and including the step labelled `upto`
/// (none of it when `upto` is empty).
fn world(upto: &str) -> Vec<Step> {
    let k = kit();
    let b = b();
    let mut v = k.setup(HashSuite::Blake3, "guangxi");
    let t = at(1) + 100;
    let st = |label, envelope, time_ms| Step {
        label,
        envelope,
        time_ms,
    };
    v.extend([
        st("register B operator", k.register(&b.operator), t),
        st("register B business", k.register(&b.business), t + 1),
        st("register B agency", k.register(&b.agency), t + 2),
        st(
            "OA-B filed",
            b.agency.sign(
                EntryKind::AgreementFiled,
                &json!({"id": "OA-B", "agreement_type": "operation-agreement", "parties": [b.agency.id, b.operator.id], "grantee": b.operator.id,
                        "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2025-03-04", "term_start": "2025-03-04", "term_end": "2027-03-03",
                        "document_title": "乙授权运营协议", "document_blake3": DOC}),
            ),
            t + 3,
        ),
        st(
            "SA-B filed",
            b.operator.sign(
                EntryKind::AgreementFiled,
                &json!({"id": "SA-B", "agreement_type": "scene-authorization", "parties": [b.operator.id, b.business.id], "grantee": b.business.id,
                        "parent": "OA-B", "scope": ["R-GX-TRANSPORT-001"], "scene": "乙场景", "signed_on": "2025-03-04",
                        "term_start": "2025-03-05", "term_end": "2027-03-02", "document_title": "乙场景授权协议", "document_blake3": DOC}),
            ),
            t + 4,
        ),
    ]);
    if upto.is_empty() {
        return v;
    }
    let setup_len = k.setup(HashSuite::Blake3, "guangxi").len();
    for s in k
        .lifecycle(HashSuite::Blake3, "guangxi")
        .into_iter()
        .skip(setup_len)
    {
        let done = s.label == upto;
        v.push(s);
        if done {
            return v;
        }
    }
    panic!("no step {upto:?}");
}

/// try_after replays `prefix`, then applies `env` at `time_ms`.
fn try_after(
    prefix: &[Step],
    env: &regledger::entry::envelope::Envelope,
    time_ms: u64,
) -> Result<regledger::registry::Effects, RuleViolation> {
    apply_after(ORIGIN, HashSuite::Blake3, prefix, env, time_ms)
}

/// refused asserts that `env` at `time_ms` after `prefix` is refused with
/// `code`, and, when `article` is given, that the citation names it.
fn refused(
    prefix: &[Step],
    env: &regledger::entry::envelope::Envelope,
    time_ms: u64,
    code: &str,
    article: Option<&str>,
) -> RuleViolation {
    match try_after(prefix, env, time_ms) {
        Ok(_) => panic!(
            "accepted, but should be refused with {code}: {}",
            String::from_utf8_lossy(&env.payload)
        ),
        Err(e) => {
            assert_eq!(e.code(), code, "{e}");
            if let Some(a) = article {
                let c = e.citation().unwrap_or_else(|| panic!("{e} cites nothing"));
                assert!(c.contains(a), "{e}: citation {c} does not name {a}");
            }
            e
        }
    }
}

fn accepted(prefix: &[Step], env: &regledger::entry::envelope::Envelope, time_ms: u64) {
    if let Err(e) = try_after(prefix, env, time_ms) {
        panic!("refused: {e}: {}", String::from_utf8_lossy(&env.payload));
    }
}

fn status(id: &str, d: &str) -> Value {
    json!({"id": id, "reason": "检查", "effective_on": d})
}

#[test]
fn another_operator_cannot_change_suspend_resume_revoke_or_deregister_a_product() {
    let k = kit();
    let b = b();
    let w = world("product registered");
    let t = at(22);
    for kind in [
        EntryKind::ProductSuspended,
        EntryKind::ProductRegistrationRevoked,
        EntryKind::ProductDeregistered,
    ] {
        refused(
            &w,
            &b.operator.sign(kind, &status("P-1", "2025-03-25")),
            t,
            "wrong-party",
            Some(GUANGXI),
        );
        // The product's own operator may.
        accepted(&w, &k.operator.sign(kind, &status("P-1", "2025-03-25")), t);
    }
    let change = json!({"id": "P-1", "update_cycle": "每周", "reason": "变更", "effective_on": "2025-03-25"});
    refused(
        &w,
        &b.operator.sign(EntryKind::ProductChanged, &change),
        t,
        "wrong-party",
        Some("第十二条"),
    );
    accepted(&w, &k.operator.sign(EntryKind::ProductChanged, &change), t);
    // A suspension its owner lifts is not B's to lift.
    let mut s = w.clone();
    s.push(Step {
        label: "suspend",
        envelope: k
            .operator
            .sign(EntryKind::ProductSuspended, &status("P-1", "2025-03-25")),
        time_ms: t,
    });
    refused(
        &s,
        &b.operator
            .sign(EntryKind::ProductResumed, &status("P-1", "2025-03-26")),
        t + DAY_MS,
        "wrong-party",
        None,
    );
}

#[test]
fn another_operator_cannot_approve_or_register_under_a_scene_authorization_it_did_not_grant() {
    let k = kit();
    let b = b();
    let w = world("catalog credential issued");
    let ap = |who: &Party, pid: &str| {
        who.sign(
            EntryKind::ProductApproved,
            &json!({"product_id": pid, "product_name": "乙的产品", "business_entity": k.business.id,
                    "authorization": "SA-1", "approved_on": "2025-03-12", "uses_non_public_data": false}),
        )
    };
    refused(
        &w,
        &ap(&b.operator, "P-B1"),
        at(9),
        "wrong-party",
        Some("第十二条"),
    );
    // A approves; B may not register it.
    let mut s = w.clone();
    s.push(Step {
        label: "A approves",
        envelope: ap(&k.operator, "P-A1"),
        time_ms: at(9),
    });
    let reg = json!({"product_id": "P-A1", "registration_no": "GXDP-2025-000010", "certificate_name": "数据产品登记证书",
                     "product_name": "乙的产品", "product_type": "数据服务", "business_entity": k.business.id,
                     "business_entity_name": k.business.name, "update_cycle": "每日", "scenarios": ["公交出行规划"],
                     "registered_on": "2025-03-13", "authorization": "SA-1"});
    refused(
        &s,
        &b.operator.sign(EntryKind::ProductRegistered, &reg),
        at(10),
        "wrong-party",
        Some("第十二条"),
    );
    accepted(
        &s,
        &k.operator.sign(EntryKind::ProductRegistered, &reg),
        at(10),
    );
    // Nor open its public notice.
    refused(
        &s,
        &b.operator.sign(
            EntryKind::PublicNoticeOpened,
            &json!({"product_id": "P-A1", "opened_on": "2025-03-12"}),
        ),
        at(9) + 1,
        "wrong-party",
        Some("第十二条"),
    );
}

#[test]
fn another_operator_cannot_grant_under_an_operation_agreement_it_does_not_hold() {
    let k = kit();
    let b = b();
    let w = world("");
    let sa = json!({"id": "SA-X", "agreement_type": "scene-authorization", "parties": [b.operator.id, k.business.id], "grantee": k.business.id,
                    "parent": "OA-1", "scope": ["R-GX-TRANSPORT-001"], "scene": "冒名场景", "signed_on": "2025-03-05",
                    "term_start": "2025-03-06", "term_end": "2026-03-05", "document_title": "场景授权协议", "document_blake3": DOC});
    refused(
        &w,
        &b.operator.sign(EntryKind::AgreementFiled, &sa),
        at(2),
        "wrong-party",
        Some("第十二条"),
    );
    // Nor put A's operator on it as a party and file it in A's name.
    let mut sa2 = sa.clone();
    sa2["parties"] = json!([k.operator.id, k.business.id]);
    refused(
        &w,
        &b.operator.sign(EntryKind::AgreementFiled, &sa2),
        at(2),
        "wrong-party",
        None,
    );
}

#[test]
fn an_operator_with_no_part_in_a_product_cannot_resolve_its_objection() {
    let k = kit();
    let b = b();
    let w = world("objection filed");
    let res = json!({"objection_id": "OBJ-1", "resolved_on": "2025-03-19", "outcome": "dismissed", "reason": "核实无误"});
    refused(
        &w,
        &b.operator.sign(EntryKind::ObjectionResolved, &res),
        at(16),
        "wrong-party",
        Some("第十二条"),
    );
    accepted(
        &w,
        &k.operator.sign(EntryKind::ObjectionResolved, &res),
        at(16),
    );
}

#[test]
fn a_product_is_approved_only_for_a_grantee_or_party_of_its_authorization() {
    let k = kit();
    let b = b();
    let w = world("catalog credential issued");
    let ap = k.operator.sign(
        EntryKind::ProductApproved,
        &json!({"product_id": "P-X", "product_name": "他人的产品", "business_entity": b.business.id,
                "authorization": "SA-1", "approved_on": "2025-03-12", "uses_non_public_data": false}),
    );
    refused(&w, &ap, at(9), "wrong-party", Some("第十二条"));
    // Nor for the operator itself under a scene authorization it granted:
    // it does not redevelop what it delivered.
    let own = k.operator.sign(
        EntryKind::ProductApproved,
        &json!({"product_id": "P-Y", "product_name": "运营机构自营产品", "business_entity": k.operator.id,
                "authorization": "SA-1", "approved_on": "2025-03-12", "uses_non_public_data": false}),
    );
    refused(&w, &own, at(9), "wrong-party", Some("第七条"));
    // Its own products come under its operation agreement.
    let primary = k.operator.sign(
        EntryKind::ProductApproved,
        &json!({"product_id": "P-Y", "product_name": "初级产品", "business_entity": k.operator.id,
                "authorization": "OA-1", "approved_on": "2025-03-12", "uses_non_public_data": false}),
    );
    accepted(&w, &primary, at(9));
}

#[test]
fn other_cross_party_acts_are_refused() {
    let k = kit();
    let b = b();
    let w = world("product registered");
    let t = at(22);
    // An implementing agency with no part in OA-1 suspends, terminates, amends or renews it.
    refused(
        &w,
        &b.agency
            .sign(EntryKind::AgreementSuspended, &status("OA-1", "2025-03-25")),
        t,
        "wrong-party",
        Some(GUANGXI),
    );
    refused(
        &w,
        &b.agency.sign(EntryKind::AgreementTerminated, &json!({"id": "OA-1", "reason": "violation", "detail": "冒名终止", "effective_on": "2025-03-25"})),
        t,
        "wrong-party",
        None,
    );
    refused(
        &w,
        &b.agency.sign(EntryKind::AgreementAmended, &json!({"id": "OA-1", "document_blake3": DOC, "amended_on": "2025-03-25", "reason": "冒名变更"})),
        t,
        "wrong-party",
        None,
    );
    refused(
        &w,
        &b.agency.sign(EntryKind::AgreementRenewed, &json!({"id": "OA-1", "applied_on": "2025-03-25", "new_term_end": "2029-03-01", "document_blake3": DOC})),
        t,
        "wrong-party",
        None,
    );
    accepted(
        &w,
        &k.agency
            .sign(EntryKind::AgreementSuspended, &status("OA-1", "2025-03-25")),
        t,
    );
    // B's operator issues a credential under A's scene authorization.
    let cred = json!({"credential_no": "GX-CAT-AUTH-2025-0099", "agreement_id": "SA-1", "grantee_name": k.business.name,
                      "scope": "冒名凭证", "valid_from": "2025-03-25", "valid_until": "2026-03-04", "issuer": "乙运营", "issued_on": "2025-03-25"});
    refused(
        &w,
        &b.operator.sign(EntryKind::CatalogCredentialIssued, &cred),
        t,
        "wrong-party",
        Some("第十条"),
    );
    // A credential names the grantee of its agreement, not anyone.
    let mut cred2 = cred.clone();
    cred2["grantee_name"] = json!(b.business.name);
    refused(
        &w,
        &k.operator.sign(EntryKind::CatalogCredentialIssued, &cred2),
        t,
        "wrong-party",
        None,
    );
    accepted(
        &w,
        &k.operator.sign(EntryKind::CatalogCredentialIssued, &cred),
        t,
    );
    // B's business entity attests destruction of A's data.
    let destroy = |subject: &str| json!({"subject_id": subject, "attested_on": "2025-03-25", "method": "安全擦除", "evidence_blake3": DOC});
    refused(
        &w,
        &b.business
            .sign(EntryKind::DataDestructionAttested, &destroy("SA-1")),
        t,
        "wrong-party",
        None,
    );
    refused(
        &w,
        &b.business
            .sign(EntryKind::DataDestructionAttested, &destroy("P-1")),
        t,
        "wrong-party",
        None,
    );
    accepted(
        &w,
        &k.business
            .sign(EntryKind::DataDestructionAttested, &destroy("SA-1")),
        t,
    );
    // B's business entity logs an operation on A's product under B's own authorization.
    let op = json!({"agreement_id": "SA-B", "product_id": "P-1", "action": "access", "occurred_at_ms": t - 5, "actor": "svc", "records": 1});
    refused(
        &w,
        &b.business.sign(EntryKind::OperationEvent, &op),
        t,
        "wrong-party",
        None,
    );
    // An operator files an operation agreement granting itself, without the grantor's signature.
    let oa = json!({"id": "OA-SELF", "agreement_type": "operation-agreement", "parties": [k.agency.id, b.operator.id], "grantee": b.operator.id,
                    "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2025-03-24", "term_start": "2025-03-24", "term_end": "2026-03-23",
                    "document_title": "自授协议", "document_blake3": DOC});
    refused(
        &w,
        &b.operator.sign(EntryKind::AgreementFiled, &oa),
        t,
        "wrong-party",
        Some("第七条"),
    );
    accepted(&w, &k.agency.sign(EntryKind::AgreementFiled, &oa), t);
}

#[test]
fn a_registration_is_judged_on_the_day_it_is_logged_not_the_day_it_claims() {
    let k = kit();
    let w = world("");
    // SA-OLD ran 2025-03-01..2025-04-01; it is filed late on 04-02.
    let mut s = w.clone();
    s.push(Step {
        label: "SA-OLD filed",
        envelope: k.operator.sign(
            EntryKind::AgreementFiled,
            &json!({"id": "SA-OLD", "agreement_type": "scene-authorization", "parties": [k.operator.id, k.business.id], "grantee": k.business.id,
                    "parent": "OA-1", "scope": ["R-GX-TRANSPORT-001"], "scene": "已到期场景", "signed_on": "2025-03-04",
                    "term_start": "2025-03-01", "term_end": "2025-04-01", "document_title": "场景授权协议", "document_blake3": DOC}),
        ),
        time_ms: at(30),
    });
    let ap = |approved: &str| {
        k.operator.sign(
            EntryKind::ProductApproved,
            &json!({"product_id": "P-OLD", "product_name": "过期授权产品", "business_entity": k.business.id,
                    "authorization": "SA-OLD", "approved_on": approved, "uses_non_public_data": false}),
        )
    };
    // Dated 30 days back, and dated within the term two days back: both refused on 04-02.
    refused(&s, &ap("2025-03-03"), at(30) + 1, "invalid-dates", None);
    refused(
        &s,
        &ap("2025-03-31"),
        at(30) + 1,
        "authorization-not-active",
        Some("无授权不运营"),
    );
    // Approved while in force, registered after the end with a date inside the term.
    let mut s2 = s[..s.len() - 1].to_vec();
    s2.push(Step {
        label: "SA-OLD filed in time",
        envelope: s[s.len() - 1].envelope.clone(),
        time_ms: at(27),
    });
    s2.push(Step {
        label: "approved",
        envelope: ap("2025-03-31"),
        time_ms: at(28),
    });
    let reg = |d: &str| {
        k.operator.sign(
            EntryKind::ProductRegistered,
            &json!({"product_id": "P-OLD", "registration_no": "GXDP-2025-000500", "certificate_name": "数据产品登记证书",
                    "product_name": "过期授权产品", "product_type": "数据服务", "business_entity": k.business.id,
                    "business_entity_name": k.business.name, "update_cycle": "每日", "scenarios": ["公交出行规划"],
                    "registered_on": d, "authorization": "SA-OLD"}),
        )
    };
    refused(
        &s2,
        &reg("2025-04-01"),
        at(30),
        "authorization-not-active",
        Some("无授权不运营"),
    );
    refused(&s2, &reg("2025-03-03"), at(30), "invalid-dates", None);
    // The same registration logged while it is in force is accepted.
    accepted(&s2, &reg("2025-03-31"), at(28) + 1);
}

#[test]
fn absurd_dates_are_refused_before_any_day_is_counted() {
    let k = kit();
    let w = world("objection filed");
    let t = at(12);
    let cases: Vec<(&str, regledger::entry::envelope::Envelope)> = vec![
        ("objection filed 1970", k.venue.sign(EntryKind::ObjectionFiled, &json!({"objection_id": "OBJ-OLD", "product_id": "P-1", "filed_on": "1970-01-01", "filer_name": "x", "grounds": "y"}))),
        ("objection filed 9999", k.venue.sign(EntryKind::ObjectionFiled, &json!({"objection_id": "OBJ-NEW", "product_id": "P-1", "filed_on": "9999-12-31", "filer_name": "x", "grounds": "y"}))),
        ("objection resolved 9999", k.operator.sign(EntryKind::ObjectionResolved, &json!({"objection_id": "OBJ-1", "resolved_on": "9999-12-31", "outcome": "dismissed", "reason": "x"}))),
        ("approval applied 1970", k.operator.sign(EntryKind::ProductApproved, &json!({"product_id": "P-OLD", "product_name": "x", "business_entity": k.business.id,
            "authorization": "SA-1", "applied_on": "1970-01-01", "approved_on": "2025-03-15", "uses_non_public_data": false}))),
        ("agreement signed 1970", k.agency.sign(EntryKind::AgreementFiled, &json!({"id": "OA-OLD", "agreement_type": "operation-agreement", "parties": [k.agency.id, k.operator.id],
            "grantee": k.operator.id, "scope": ["R-GX-TRANSPORT-001"], "signed_on": "1970-01-01", "term_start": "1970-01-02", "term_end": "1971-01-01",
            "document_title": "协议", "document_blake3": DOC}))),
        ("amended 1970", k.agency.sign(EntryKind::AgreementAmended, &json!({"id": "OA-1", "document_blake3": DOC, "amended_on": "1970-01-01", "reason": "x"}))),
        ("renewal applied 1970", k.agency.sign(EntryKind::AgreementRenewed, &json!({"id": "OA-1", "applied_on": "1970-01-01", "new_term_end": "2029-03-01", "document_blake3": DOC}))),
        ("terminated 9999", k.agency.sign(EntryKind::AgreementTerminated, &json!({"id": "SA-1", "reason": "expiry", "detail": "x", "effective_on": "9999-12-31"}))),
        ("suspended 9999", k.agency.sign(EntryKind::AgreementSuspended, &status("SA-1", "9999-12-31"))),
        ("credential issued 1970", k.operator.sign(EntryKind::CatalogCredentialIssued, &json!({"credential_no": "GX-1", "agreement_id": "SA-1", "grantee_name": k.business.name,
            "scope": "x", "valid_from": "2025-03-05", "valid_until": "2026-03-04", "issuer": "x", "issued_on": "1970-01-01"}))),
        ("operation at 0 ms", k.business.sign(EntryKind::OperationEvent, &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": 0, "actor": "svc", "records": 1}))),
        ("destruction 9999", k.business.sign(EntryKind::DataDestructionAttested, &json!({"subject_id": "SA-1", "attested_on": "9999-12-31", "method": "x", "evidence_blake3": DOC}))),
        ("calendar for 9999", k.authority.sign(EntryKind::CalendarPublished, &json!({"year": 9999, "notice": "x", "off": []}))),
    ];
    for (what, env) in cases {
        let r = try_after(&w, &env, t);
        assert_eq!(
            r.as_ref().map(|_| "ok").unwrap_or_else(|e| e.code()),
            "invalid-dates",
            "{what}: {r:?}"
        );
    }
}

#[test]
fn a_derived_authorization_is_never_in_force_when_its_parent_is_not() {
    let k = kit();
    let w = world("objection resolved");
    let t = at(17);
    let ap = k.operator.sign(
        EntryKind::ProductApproved,
        &json!({"product_id": "P-2", "product_name": "二号产品", "business_entity": k.business.id,
                "authorization": "SA-1", "approved_on": "2025-03-20", "uses_non_public_data": false}),
    );
    accepted(&w, &ap, t);
    for (label, parent_act) in [
        ("terminated", k.agency.sign(EntryKind::AgreementTerminated, &json!({"id": "OA-1", "reason": "violation", "detail": "违规", "effective_on": "2025-03-20"}))),
        ("suspended", k.agency.sign(EntryKind::AgreementSuspended, &status("OA-1", "2025-03-20"))),
    ] {
        let mut s = w.clone();
        s.push(Step { label, envelope: parent_act, time_ms: t });
        // No approval, no registration under SA-1 once OA-1 is not in force.
        let e = refused(&s, &ap, t + 1, "authorization-not-active", Some("无授权不运营"));
        assert!(e.to_string().contains("OA-1"), "{e}");
        let reg = try_after(&s, &all_steps_registration(&k), at(21));
        assert_eq!(reg.unwrap_err().code(), "authorization-not-active", "{label}");
        // Nor may SA-1 be renewed or amended as an orphan.
        refused(
            &s,
            &k.agency.sign(EntryKind::AgreementRenewed, &json!({"id": "SA-1", "applied_on": "2025-03-20", "new_term_end": "2027-06-01", "document_blake3": DOC})),
            t + 1,
            "authorization-not-active",
            None,
        );
        refused(
            &s,
            &k.agency.sign(EntryKind::AgreementAmended, &json!({"id": "SA-1", "document_blake3": DOC, "amended_on": "2025-03-20", "reason": "变更"})),
            t + 1,
            "authorization-not-active",
            None,
        );
    }
    // A child is never renewed past its parent's end (OA-1 ends 2028-02-27).
    let renew = |end: &str| {
        k.agency.sign(EntryKind::AgreementRenewed, &json!({"id": "SA-1", "applied_on": "2025-03-20", "new_term_end": end, "document_blake3": DOC}))
    };
    refused(
        &w,
        &renew("2028-03-01"),
        t,
        "authorization-not-active",
        None,
    );
    accepted(&w, &renew("2028-02-27"), t);
}

/// all_steps_registration is the lifecycle's registration of P-1.
fn all_steps_registration(k: &Testkit) -> regledger::entry::envelope::Envelope {
    k.lifecycle(HashSuite::Blake3, "guangxi")
        .into_iter()
        .find(|s| s.label == "product registered")
        .unwrap()
        .envelope
}

#[test]
fn look_alike_identifiers_and_unusable_participants_are_refused() {
    let k = kit();
    let w = world("product registered");
    let t = at(22);
    let mut s = w.clone();
    s.push(Step {
        label: "approve P-2",
        envelope: k.operator.sign(
            EntryKind::ProductApproved,
            &json!({"product_id": "P-2", "product_name": "二号产品", "business_entity": k.business.id,
                    "authorization": "SA-1", "approved_on": "2025-03-25", "uses_non_public_data": false}),
        ),
        time_ms: t,
    });
    let reg = |no: &str| {
        k.operator.sign(
            EntryKind::ProductRegistered,
            &json!({"product_id": "P-2", "registration_no": no, "certificate_name": "数据产品登记证书",
                    "product_name": "二号产品", "product_type": "数据服务", "business_entity": k.business.id,
                    "business_entity_name": k.business.name, "update_cycle": "每日", "scenarios": ["公交出行规划"],
                    "registered_on": "2025-03-25", "authorization": "SA-1"}),
        )
    };
    for no in [
        "gxdp-2025-000001",
        "ＧＸDP-2025-000001",
        "GXDP-2025-000001\u{200B}",
        "G\u{0425}DP-2025-000001",
        "\u{202E}GXDP-2025-000001",
        "GXDP-2025-000001 ",
    ] {
        refused(&s, &reg(no), t + 1, "malformed-payload", Some("第十二条"));
    }
    accepted(&s, &reg("GXDP-2025-000002"), t + 1);
    // Participants no envelope could carry, and keys anyone can sign for.
    let spec = |id: &str, key: String| json!({"id": id, "name": "某公司", "role": "operator", "public_keys": [key]});
    let good_key = Party::new("x", "x", Role::Operator, 40).public_key_b64();
    use base64::Engine;
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = base64::engine::general_purpose::STANDARD.encode(identity);
    for (id, key) in [
        ("运营机构乙", good_key.clone()),
        (&*"a".repeat(130), good_key.clone()),
        ("gx\u{200B}operator", good_key.clone()),
        ("gx-operator-c", weak.clone()),
    ] {
        refused(
            &s,
            &k.authority
                .sign(EntryKind::ParticipantRegistered, &spec(id, key)),
            t,
            "malformed-payload",
            None,
        );
    }
    refused(
        &s,
        &k.authority.sign(
            EntryKind::ParticipantKeyRotated,
            &json!({"id": k.operator.id, "add_keys": [weak]}),
        ),
        t,
        "malformed-payload",
        None,
    );
    // Free text the public site shows: no bidi overrides, line breaks or empty scenes.
    let mut name = spec("gx-operator-d", good_key.clone());
    name["name"] = json!("\u{202E}司公限有");
    refused(
        &s,
        &k.authority.sign(EntryKind::ParticipantRegistered, &name),
        t,
        "malformed-payload",
        None,
    );
    name["name"] = json!("两行\n名称");
    refused(
        &s,
        &k.authority.sign(EntryKind::ParticipantRegistered, &name),
        t,
        "malformed-payload",
        None,
    );
    let change = |scenarios: Value| {
        k.operator.sign(EntryKind::ProductChanged, &json!({"id": "P-1", "scenarios": scenarios, "reason": "变更", "effective_on": "2025-03-25"}))
    };
    refused(&w, &change(json!([""])), t, "malformed-payload", None);
    refused(&w, &change(json!([])), t, "malformed-payload", None);
    accepted(&w, &change(json!(["运力调度"])), t);
}

#[test]
fn errors_name_the_missing_step() {
    let k = kit();
    let w = world("objection resolved");
    let reg = k.operator.sign(
        EntryKind::ProductRegistered,
        &json!({"product_id": "P-404", "registration_no": "GXDP-2025-000404", "certificate_name": "数据产品登记证书",
                "product_name": "未审核产品", "product_type": "数据服务", "business_entity": k.business.id,
                "business_entity_name": k.business.name, "update_cycle": "每日", "scenarios": ["公交出行规划"],
                "registered_on": "2025-03-24", "authorization": "SA-1"}),
    );
    let e = refused(&w, &reg, at(21), "not-found", Some("第十二条"));
    let m = e.to_string();
    assert!(
        m.contains("has not been approved") && m.contains("product-approved"),
        "{m}"
    );
    assert!(!m.contains("is not registered"), "{m}");
    let res = k.operator.sign(
        EntryKind::ObjectionResolved,
        &json!({"objection_id": "OBJ-404", "resolved_on": "2025-03-24", "outcome": "dismissed", "reason": "x"}),
    );
    let m = refused(&w, &res, at(21), "not-found", None).to_string();
    assert!(m.contains("objection-filed"), "{m}");
}
