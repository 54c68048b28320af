//! Errors that name the missing step (issue 17, item 3): an act submitted
//! before the step it depends on is refused with a message that says which
//! entry to submit first, and the article that orders the steps. One
//! hostile act per message.

use regledger::entry::envelope::Envelope;
use regledger::registry::{EntryKind, Role, RuleViolation};
use regledger::testkit::{apply_after, Party, Step, Testkit, BASE_MS, DAY_MS, DOC};
use regledger::HashSuite;
use serde_json::json;

const ORIGIN: &str = "regledger.test/missing-steps";

fn kit() -> Testkit {
    Testkit::new(ORIGIN)
}

fn at(d: u64) -> u64 {
    BASE_MS + d * DAY_MS
}

/// upto returns the testkit's lifecycle up to and including the step labelled `label`.
fn upto(label: &str) -> Vec<Step> {
    let mut v = Vec::new();
    for s in kit().lifecycle(HashSuite::Blake3, "guangxi") {
        let done = s.label == label;
        v.push(s);
        if done {
            return v;
        }
    }
    panic!("no step {label:?}");
}

/// refusal replays `prefix`, applies `env` at `time_ms` and returns the
/// refusal, asserting its code and that its message and citation say
/// what to do: every `says` is in the message, `article` in the citation.
fn refusal(
    prefix: &[Step],
    env: &Envelope,
    time_ms: u64,
    code: &str,
    says: &[&str],
    article: &str,
) -> RuleViolation {
    let e = match apply_after(ORIGIN, HashSuite::Blake3, prefix, env, time_ms) {
        Ok(_) => panic!(
            "accepted, but must be refused: {}",
            String::from_utf8_lossy(&env.payload)
        ),
        Err(e) => e,
    };
    assert_eq!(e.code(), code, "{e}");
    let m = e.to_string();
    for s in says {
        assert!(m.contains(s), "{m:?} does not say {s:?}");
    }
    let c = e.citation().unwrap_or_else(|| panic!("{m} cites nothing"));
    assert!(
        c.contains(article),
        "{m}: citation {c} does not name {article}"
    );
    e
}

#[test]
fn a_notice_on_an_unapproved_product_says_approve_first() {
    let k = kit();
    let n = k.operator.sign(
        EntryKind::PublicNoticeOpened,
        &json!({"product_id": "P-404", "opened_on": "2025-03-13"}),
    );
    let e = refusal(
        &upto("product approved"),
        &n,
        at(10),
        "not-found",
        &[
            "\"P-404\" has not been approved",
            "submit product-approved first",
        ],
        "第十二条第（六）项",
    );
    // Not the message of the old rules, which said the product "is not registered".
    assert!(!e.to_string().contains("is not registered"), "{e}");
}

#[test]
fn an_objection_to_an_unapproved_product_says_approve_first() {
    let k = kit();
    let o = k.venue.sign(
        EntryKind::ObjectionFiled,
        &json!({"objection_id": "OBJ-9", "product_id": "P-404", "filed_on": "2025-03-14",
                "filer_name": "北部湾数据交易所", "grounds": "来源不明"}),
    );
    refusal(
        &upto("product approved"),
        &o,
        at(11),
        "not-found",
        &["has not been approved", "submit product-approved first"],
        "第十二条第（八）项",
    );
}

#[test]
fn a_status_change_of_an_unknown_product_says_approve_then_register() {
    let k = kit();
    let s = k.operator.sign(
        EntryKind::ProductSuspended,
        &json!({"id": "P-404", "reason": "整改", "effective_on": "2025-03-24"}),
    );
    refusal(
        &upto("product registered"),
        &s,
        at(21) + 100,
        "not-found",
        &["product-approved, then product-registered"],
        "第十二条第（七）项",
    );
}

#[test]
fn a_status_change_of_an_approved_product_says_register_first() {
    let k = kit();
    for kind in [
        EntryKind::ProductSuspended,
        EntryKind::ProductRegistrationRevoked,
        EntryKind::ProductDeregistered,
    ] {
        let s = k.operator.sign(
            kind,
            &json!({"id": "P-1", "reason": "整改", "effective_on": "2025-03-12"}),
        );
        refusal(
            &upto("product approved"),
            &s,
            at(9) + 100,
            "not-found",
            &[
                "\"P-1\" is approved but not registered",
                "submit product-registered first",
            ],
            "第十二条第（七）项",
        );
    }
    let ch = k.operator.sign(
        EntryKind::ProductChanged,
        &json!({"id": "P-1", "update_cycle": "每周", "reason": "变更", "effective_on": "2025-03-12"}),
    );
    refusal(
        &upto("product approved"),
        &ch,
        at(9) + 100,
        "not-found",
        &["submit product-registered first"],
        "第十二条",
    );
}

fn registration(k: &Testkit, on: &str, authorization: &str) -> Envelope {
    k.operator.sign(
        EntryKind::ProductRegistered,
        &json!({"product_id": "P-1", "registration_no": "GXDP-2025-000001", "certificate_name": "数据产品登记证书",
                "product_name": "公交客流预测服务", "product_type": "数据服务", "business_entity": k.business.id,
                "business_entity_name": k.business.name, "update_cycle": "每日", "scenarios": ["公交出行规划"],
                "registered_on": on, "authorization": authorization}),
    )
}

#[test]
fn registering_without_the_notice_says_open_it_first() {
    let k = kit();
    refusal(
        &upto("product approved"),
        &registration(&k, "2025-03-24", "SA-1"),
        at(21),
        "notice-missing",
        &["submit public-notice-opened first"],
        "第十二条第（六）项",
    );
}

#[test]
fn registering_during_the_notice_says_when_it_may() {
    let k = kit();
    refusal(
        &upto("public notice opened"),
        &registration(&k, "2025-03-14", "SA-1"),
        at(11),
        "notice-period-open",
        &["runs until 2025-03-22", "register after 2025-03-22"],
        "第十二条第（六）项",
    );
}

#[test]
fn registering_with_an_open_objection_says_resolve_it_first() {
    let k = kit();
    refusal(
        &upto("objection filed"),
        &registration(&k, "2025-03-24", "SA-1"),
        at(21),
        "objection-pending",
        &["submit objection-resolved for it first"],
        "第（八）项",
    );
}

#[test]
fn registering_under_another_authorization_names_the_approved_one() {
    let k = kit();
    refusal(
        &upto("objection resolved"),
        &registration(&k, "2025-03-24", "OA-1"),
        at(21),
        "wrong-party",
        &["approved for nn-mobility under SA-1"],
        "第十二条第（五）项",
    );
}

#[test]
fn a_derived_authorization_of_an_unfiled_parent_says_file_it_first() {
    let k = kit();
    let sa = k.operator.sign(
        EntryKind::AgreementFiled,
        &json!({"id": "SA-9", "agreement_type": "scene-authorization", "parties": [k.operator.id, k.business.id],
                "grantee": k.business.id, "parent": "OA-404", "scope": ["R-GX-TRANSPORT-001"], "scene": "公交出行规划",
                "signed_on": "2025-03-04", "term_start": "2025-03-05", "term_end": "2026-03-04",
                "document_title": "场景授权协议", "document_blake3": DOC}),
    );
    refusal(
        &kit().setup(HashSuite::Blake3, "guangxi"),
        &sa,
        at(1) + 100,
        "authorization-not-active",
        &[
            "\"OA-404\"",
            "has not been filed",
            "submit agreement-filed for it first",
        ],
        "第二条",
    );
}

#[test]
fn a_credential_or_approval_under_an_unfiled_agreement_says_file_it_first() {
    let k = kit();
    let cr = k.operator.sign(
        EntryKind::CatalogCredentialIssued,
        &json!({"credential_no": "GX-CAT-AUTH-2025-0404", "agreement_id": "CA-404", "grantee_name": k.business.name,
                "scope": "公交数据", "valid_from": "2025-03-05", "valid_until": "2026-03-04",
                "issuer": k.operator.name, "issued_on": "2025-03-05"}),
    );
    let setup = kit().setup(HashSuite::Blake3, "guangxi");
    refusal(
        &setup,
        &cr,
        at(2),
        "authorization-not-active",
        &["submit agreement-filed for it first"],
        "第二条",
    );
    let ap = k.operator.sign(
        EntryKind::ProductApproved,
        &json!({"product_id": "P-9", "product_name": "产品", "business_entity": k.business.id,
                "authorization": "SA-404", "approved_on": "2025-03-05", "uses_non_public_data": false}),
    );
    refusal(
        &setup,
        &ap,
        at(2),
        "authorization-not-active",
        &["\"SA-404\"", "submit agreement-filed for it first"],
        "第二条",
    );
}

#[test]
fn an_approval_under_a_plan_says_which_agreements_authorize_products() {
    let k = kit();
    let ap = k.agency.sign(
        EntryKind::ProductApproved,
        &json!({"product_id": "P-9", "product_name": "产品", "business_entity": k.business.id,
                "authorization": "PLAN-1", "approved_on": "2025-03-05", "uses_non_public_data": false}),
    );
    refusal(
        &kit().setup(HashSuite::Blake3, "guangxi"),
        &ap,
        at(2),
        "authorization-not-active",
        &["implementation-plan", "scene or catalog authorization"],
        "第二条",
    );
}

#[test]
fn an_agreement_over_an_unregistered_resource_says_register_it_first() {
    let k = kit();
    let oa = k.agency.sign(
        EntryKind::AgreementFiled,
        &json!({"id": "OA-9", "agreement_type": "operation-agreement", "parties": [k.agency.id, k.operator.id],
                "grantee": k.operator.id, "scope": ["R-404"], "signed_on": "2025-03-04", "term_start": "2025-03-05",
                "term_end": "2026-03-04", "document_title": "授权运营协议", "document_blake3": DOC}),
    );
    refusal(
        &kit().setup(HashSuite::Blake3, "guangxi"),
        &oa,
        at(1) + 100,
        "not-found",
        &[
            "resource \"R-404\" is not registered",
            "submit resource-registered first",
        ],
        "第十一条",
    );
}

#[test]
fn an_agreement_with_an_unregistered_party_says_register_it_first() {
    let k = kit();
    let oa = k.agency.sign(
        EntryKind::AgreementFiled,
        &json!({"id": "OA-9", "agreement_type": "operation-agreement", "parties": [k.agency.id, "gx-nobody"],
                "grantee": k.operator.id, "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2025-03-04",
                "term_start": "2025-03-05", "term_end": "2026-03-04", "document_title": "授权运营协议",
                "document_blake3": DOC}),
    );
    refusal(
        &kit().setup(HashSuite::Blake3, "guangxi"),
        &oa,
        at(1) + 100,
        "not-found",
        &[
            "participant \"gx-nobody\" is not registered",
            "submit participant-registered",
        ],
        "第五条",
    );
}

#[test]
fn an_unregistered_signer_and_a_wrong_role_say_what_to_do() {
    let k = kit();
    let stranger = Party::new("gx-stranger", "未登记单位", Role::Operator, 77);
    let env = stranger.sign(
        EntryKind::ObjectionFiled,
        &json!({"objection_id": "OBJ-9", "product_id": "P-1", "filed_on": "2025-03-14",
                "filer_name": "某单位", "grounds": "来源不明"}),
    );
    refusal(
        &upto("product approved"),
        &env,
        at(11),
        "unknown-signer",
        &["participant-registered"],
        "第七条",
    );
    let res = k.business.sign(
        EntryKind::ResourceRegistered,
        &json!({"id": "R-9", "name": "数据", "holder": k.source.id, "catalog_id": "C-9", "grade": "一级",
                "open_attribute": "conditional", "format": "CSV", "update_frequency": "每日", "scale": "小"}),
    );
    refusal(
        &kit().setup(HashSuite::Blake3, "guangxi"),
        &res,
        at(1) + 100,
        "role-not-allowed",
        &[
            "role business-entity may not submit resource-registered",
            "submitted by data-authority, data-source-unit",
        ],
        "第七条",
    );
}

#[test]
fn a_destruction_of_unknown_data_says_file_or_approve_first() {
    let k = kit();
    let d = k.operator.sign(
        EntryKind::DataDestructionAttested,
        &json!({"subject_id": "X-404", "attested_on": "2025-03-05", "method": "安全擦除", "evidence_blake3": DOC}),
    );
    refusal(
        &kit().setup(HashSuite::Blake3, "guangxi"),
        &d,
        at(2),
        "not-found",
        &[
            "\"X-404\" has not been filed or approved",
            "agreement-filed (or product-approved)",
        ],
        "第十二条第（三）项",
    );
}
