//! Example payloads: one plausible Guangxi lifecycle, every kind at least
//! once, each payload valid against the rules at the point of the scenario
//! where it stands (`ledger/tests/examples.rs` replays the whole scenario).
//!
//! The same table feeds the `examples` of the JSON Schemas in
//! `schemas/entries/` (dated [`SCHEMA_EXAMPLE_DATE`]), the templates of
//! `regledger-node submit --example KIND` (dated the day it runs) and the
//! participants of `docs/walkthrough.md` (the dev node's authority is
//! `data-authority`, the others as in the testkit).
//!
//! Every act is dated the scenario's day: the rules judge payload dates
//! against the day an entry is logged (D13), so a template dated today is
//! valid today. The product uses only public data, so no 10-day public
//! notice has to run before it is registered (the notice is still opened).
//!
//! Public keys are placeholders *nobody can sign with*: each is a point
//! found by hashing a label until it decodes ("nothing up my sleeve"), so
//! no private key for it is known. A participant registered with one
//! cannot sign anything; replace it with the key `regledger-node keygen`
//! prints.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};

use crate::registry::calendar::Date;
use crate::registry::kinds::{EntryKind, Role};

/// SCHEMA_EXAMPLE_DATE is the day the schemas' examples are dated
/// (2025-03-03, a Monday: the testkit's fixed scenarios start there too).
pub const SCHEMA_EXAMPLE_DATE: Date = Date {
    year: 2025,
    month: 3,
    day: 3,
};

/// AUTHORITY is the participant id of the development node's data
/// authority (`regledger-node serve` on an empty directory).
pub const AUTHORITY: &str = "data-authority";

/// Example is one step of the example scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// kind is the entry kind.
    pub kind: EntryKind,
    /// signer is the participant id that signs it (the first signer submits).
    pub signer: &'static str,
    /// cosigners sign it too (e.g. the grantor of an operation agreement the grantee files).
    pub cosigners: &'static [&'static str],
    /// what says in a few words what the step does.
    pub what: &'static str,
    /// payload is the payload.
    pub payload: Value,
}

/// PARTICIPANTS are the example participants besides the authority: id,
/// name, role, in the order they are registered.
pub const PARTICIPANTS: [(&str, &str, Role); 5] = [
    (
        "gx-implementing",
        "广西数据实施中心",
        Role::ImplementingAgency,
    ),
    ("gx-transport", "广西交通运输厅", Role::DataSourceUnit),
    ("gx-operator", "广西数字运营有限公司", Role::Operator),
    ("nn-mobility", "南宁出行科技有限公司", Role::BusinessEntity),
    ("bbw-exchange", "北部湾数据交易所", Role::TradingVenue),
];

/// DOC is the example document digest: BLAKE3 of the bytes `授权运营协议（示例）\n`.
/// Compute a real one with `regledger-verify digest FILE --log log.json`.
pub const DOC: &str = "c3c5715ba12899ab47b8bc7092476c4cb7cd1e389844f0274393075e0da967da";

/// placeholder_key returns the `n`th placeholder public key (base64): the
/// first BLAKE3 hash of "regledger example key n/i" (i = 0, 1, ...) that
/// decodes to an Ed25519 point of large order. Its discrete logarithm is
/// unknown, so it verifies no signature anyone can make.
pub fn placeholder_key(n: u32) -> String {
    (0u32..)
        .find_map(|i| {
            let h = blake3::hash(format!("regledger example key {n}/{i}").as_bytes());
            let vk = ed25519_dalek::VerifyingKey::from_bytes(h.as_bytes()).ok()?;
            (!vk.is_weak()).then(|| B64.encode(h.as_bytes()))
        })
        .expect("half of all hashes decode")
}

/// scenario returns the example lifecycle with every act dated `today`
/// (China date), in the order the entries are submitted.
pub fn scenario(today: Date) -> Vec<Example> {
    let day = |n: i64| today.add_days(n).unwrap_or(today).to_string();
    // Terms fit every profile (Shuozhou's longest is 36 months): three
    // years less a day for the operation agreement, two for derived ones.
    let end = |months: u32| {
        today
            .add_months(months)
            .and_then(|d| d.add_days(-1))
            .unwrap_or(today)
            .to_string()
    };
    let t = day(0);
    let y = today.year;
    // Midnight at the start of `today`, China time (UTC+8), in Unix ms:
    // an operation that happened today, never ahead of the day it is logged.
    let today_ms =
        u64::try_from((today.days_since_epoch() * 86_400 - 8 * 3600) * 1000).unwrap_or(0);
    let ex = |kind, signer, what, payload| Example {
        kind,
        signer,
        cosigners: &[],
        what,
        payload,
    };
    let mut v = vec![ex(
        EntryKind::Genesis,
        AUTHORITY,
        "the log's first entry, written by `regledger-node init` (or `serve` on an empty directory)",
        json!({"origin": "regledger.local/dev-1a2b3c4d", "hash": "blake3", "profile": "guangxi",
               "authority": {"id": AUTHORITY, "name": "数据主管部门 (development)", "role": "data-authority",
                             "public_keys": [placeholder_key(0)]}}),
    )];
    for (i, (id, name, role)) in PARTICIPANTS.iter().enumerate() {
        v.push(ex(
            EntryKind::ParticipantRegistered,
            AUTHORITY,
            "the authority registers a participant and its public key",
            json!({"id": id, "name": name, "role": role.name(), "public_keys": [placeholder_key(i as u32 + 1)]}),
        ));
    }
    v.extend([
        ex(
            EntryKind::ParticipantKeyRotated,
            AUTHORITY,
            "the authority adds a second key for the operator",
            json!({"id": "gx-operator", "add_keys": [placeholder_key(9)], "retire_key_ids": []}),
        ),
        ex(
            EntryKind::CalendarPublished,
            AUTHORITY,
            "the authority publishes the year's Guangxi 壮族三月三 overlay (copy the official notice's dates)",
            json!({"year": y, "region": "guangxi",
                   "notice": format!("广西壮族自治区人民政府办公厅关于{y}年“壮族三月三”放假的通知（示例，日期以官方通知为准）"),
                   "off": [[format!("{y}-03-31"), format!("{y}-04-01")]], "makeup_workdays": []}),
        ),
        ex(
            EntryKind::ResourceRegistered,
            "gx-transport",
            "the data source unit registers its resource (首次登记)",
            json!({"id": "R-GX-TRANSPORT-001", "name": "公交实时到站数据", "holder": "gx-transport", "catalog_id": "GX-CAT-0451",
                   "grade": "二级", "open_attribute": "conditional", "format": "JSON API", "update_frequency": "实时", "scale": "约 2 亿条/年"}),
        ),
        ex(
            EntryKind::ResourceChanged,
            "gx-transport",
            "the data source unit changes a field (变更登记)",
            json!({"id": "R-GX-TRANSPORT-001", "update_frequency": "每 30 秒", "reason": "接口升级后按 30 秒推送"}),
        ),
        ex(
            EntryKind::ResourceCorrected,
            "gx-transport",
            "the data source unit corrects a field (更正登记)",
            json!({"id": "R-GX-TRANSPORT-001", "scale": "约 2.3 亿条/年", "reason": "更正数据规模统计口径"}),
        ),
        ex(
            EntryKind::AgreementFiled,
            "gx-implementing",
            "the implementing agency files the implementation plan (实施方案)",
            json!({"id": "PLAN-1", "agreement_type": "implementation-plan", "parties": ["gx-implementing"], "grantee": "gx-implementing",
                   "scope": ["R-GX-TRANSPORT-001"], "signed_on": t, "term_start": t, "term_end": end(36),
                   "document_title": "公共数据资源授权运营实施方案", "document_blake3": DOC}),
        ),
        ex(
            EntryKind::AgreementFiled,
            "gx-implementing",
            "the implementing agency files the operation agreement with the operator (授权运营协议)",
            json!({"id": "OA-1", "agreement_type": "operation-agreement", "parties": ["gx-implementing", "gx-operator"], "grantee": "gx-operator",
                   "scope": ["R-GX-TRANSPORT-001"], "signed_on": t, "term_start": t, "term_end": end(36),
                   "document_title": "公共数据资源授权运营协议", "document_blake3": DOC}),
        ),
        ex(
            EntryKind::AgreementFiled,
            "gx-operator",
            "the operator files a scene authorization it granted under OA-1 (场景授权协议)",
            json!({"id": "SA-1", "agreement_type": "scene-authorization", "parties": ["gx-operator", "nn-mobility"], "grantee": "nn-mobility",
                   "parent": "OA-1", "scope": ["R-GX-TRANSPORT-001"], "scene": "公交出行规划", "signed_on": t,
                   "term_start": t, "term_end": end(24), "document_title": "场景授权协议", "document_blake3": DOC}),
        ),
        ex(
            EntryKind::AgreementFiled,
            "gx-operator",
            "the operator files a catalog authorization it granted under OA-1 (目录授权协议)",
            json!({"id": "CA-1", "agreement_type": "catalog-authorization", "parties": ["gx-operator", "nn-mobility"], "grantee": "nn-mobility",
                   "parent": "OA-1", "scope": ["R-GX-TRANSPORT-001"], "signed_on": t,
                   "term_start": t, "term_end": end(24), "document_title": "目录授权协议", "document_blake3": DOC}),
        ),
        ex(
            EntryKind::AgreementFiled,
            "gx-implementing",
            "the implementing agency files an open-data usage agreement (数据开放使用协议)",
            json!({"id": "ODU-1", "agreement_type": "open-data-usage", "parties": ["gx-implementing", "nn-mobility"], "grantee": "nn-mobility",
                   "scope": ["R-GX-TRANSPORT-001"], "signed_on": t, "term_start": t, "term_end": end(12),
                   "document_title": "公共数据开放使用协议", "document_blake3": DOC}),
        ),
        ex(
            EntryKind::AgreementFiled,
            "gx-operator",
            "the operator files a partner (合伙人备案)",
            json!({"id": "PF-1", "agreement_type": "partner-filing", "parties": ["gx-operator", "nn-mobility"], "grantee": "nn-mobility",
                   "scope": [], "signed_on": t, "term_start": t, "term_end": end(12),
                   "document_title": "生态合作伙伴协议", "document_blake3": DOC}),
        ),
        ex(
            EntryKind::AgreementAmended,
            "gx-implementing",
            "the implementing agency files an amendment of SA-1 (备案变更)",
            json!({"id": "SA-1", "scope": ["R-GX-TRANSPORT-001"], "document_blake3": DOC, "amended_on": t,
                   "reason": "补充数据安全条款"}),
        ),
        ex(
            EntryKind::AgreementRenewed,
            "gx-implementing",
            "the implementing agency renews OA-1 for a further year (协议续签)",
            json!({"id": "OA-1", "applied_on": t, "new_term_end": end(48), "document_blake3": DOC}),
        ),
        ex(
            EntryKind::CatalogCredentialIssued,
            "gx-operator",
            "the operator issues the catalog authorization e-credential under CA-1 (目录授权电子凭证)",
            json!({"credential_no": format!("GX-CAT-AUTH-{y}-0007"), "agreement_id": "CA-1", "grantee_name": "南宁出行科技有限公司",
                   "scope": "公交实时到站数据（脱敏）", "valid_from": t, "valid_until": end(24),
                   "issuer": "广西数字运营有限公司", "issued_on": t}),
        ),
        ex(
            EntryKind::ProductApproved,
            "gx-operator",
            "the operator approves the business entity's product under SA-1 (审核通过)",
            json!({"product_id": "P-1", "product_name": "公交客流预测服务", "business_entity": "nn-mobility",
                   "authorization": "SA-1", "applied_on": t, "approved_on": t, "uses_non_public_data": false}),
        ),
        ex(
            EntryKind::PublicNoticeOpened,
            "gx-operator",
            "the operator opens the 10-day public notice (结果公示)",
            json!({"product_id": "P-1", "opened_on": t}),
        ),
        ex(
            EntryKind::ObjectionFiled,
            "bbw-exchange",
            "a trading venue files an objection (异议)",
            json!({"objection_id": "OBJ-1", "product_id": "P-1", "filed_on": t, "filer_name": "北部湾数据交易所（会员来函）",
                   "grounds": "数据来源说明不完整"}),
        ),
        ex(
            EntryKind::ObjectionResolved,
            "gx-operator",
            "the operator resolves the objection (异议处理)",
            json!({"objection_id": "OBJ-1", "resolved_on": t, "outcome": "dismissed", "reason": "补充来源说明后核实无误"}),
        ),
        ex(
            EntryKind::ProductRegistered,
            "gx-operator",
            "the operator registers the product: the 数据产品登记证书",
            json!({"product_id": "P-1", "registration_no": format!("GXDP-{y}-000001"), "certificate_name": "数据产品登记证书",
                   "product_name": "公交客流预测服务", "product_type": "数据服务", "business_entity": "nn-mobility",
                   "business_entity_name": "南宁出行科技有限公司", "update_cycle": "每日", "scenarios": ["公交出行规划", "运力调度"],
                   "registered_on": t, "authorization": "SA-1"}),
        ),
        ex(
            EntryKind::OperationEvent,
            "nn-mobility",
            "the business entity logs a data access under SA-1 (调用日志)",
            json!({"agreement_id": "SA-1", "product_id": "P-1", "action": "access", "occurred_at_ms": today_ms,
                   "actor": "svc-forecast", "records": 1200, "personal_data_commitments": []}),
        ),
        ex(
            EntryKind::ProductChanged,
            "gx-operator",
            "the operator changes the registered product (变更登记)",
            json!({"id": "P-1", "scenarios": ["公交出行规划", "运力调度", "客流预警"], "reason": "新增应用场景", "effective_on": t}),
        ),
        ex(
            EntryKind::ProductSuspended,
            AUTHORITY,
            "the authority suspends the product for rectification (暂停)",
            json!({"id": "P-1", "reason": "整改：补充安全评估", "effective_on": t}),
        ),
        ex(
            EntryKind::ProductResumed,
            AUTHORITY,
            "the authority lifts the suspension (恢复)",
            json!({"id": "P-1", "reason": "整改完成", "effective_on": t}),
        ),
        ex(
            EntryKind::AgreementSuspended,
            "gx-implementing",
            "the implementing agency suspends SA-1 (授权暂停)",
            json!({"id": "SA-1", "reason": "场景安全评估", "effective_on": t}),
        ),
        ex(
            EntryKind::AgreementResumed,
            "gx-implementing",
            "the implementing agency resumes SA-1 (授权恢复)",
            json!({"id": "SA-1", "reason": "评估通过", "effective_on": t}),
        ),
        ex(
            EntryKind::ProductApproved,
            "gx-operator",
            "a second product, approved under SA-1",
            json!({"product_id": "P-2", "product_name": "公交线网优化分析", "business_entity": "nn-mobility",
                   "authorization": "SA-1", "approved_on": t, "uses_non_public_data": false}),
        ),
        ex(
            EntryKind::ProductRegistered,
            "gx-operator",
            "and registered",
            json!({"product_id": "P-2", "registration_no": format!("GXDP-{y}-000002"), "certificate_name": "数据产品登记证书",
                   "product_name": "公交线网优化分析", "product_type": "数据分析报告", "business_entity": "nn-mobility",
                   "business_entity_name": "南宁出行科技有限公司", "update_cycle": "每月", "scenarios": ["线网规划"],
                   "registered_on": t, "authorization": "SA-1"}),
        ),
        ex(
            EntryKind::ProductRegistrationRevoked,
            "gx-operator",
            "the operator revokes P-1's registration (撤销登记)",
            json!({"id": "P-1", "reason": "异议复核成立：撤销登记", "effective_on": t}),
        ),
        ex(
            EntryKind::ProductDeregistered,
            "gx-operator",
            "the operator deregisters P-2 at the business entity's request (注销登记)",
            json!({"id": "P-2", "reason": "经营主体申请注销", "effective_on": t}),
        ),
        ex(
            EntryKind::DataDestructionAttested,
            "nn-mobility",
            "the business entity attests that P-1's data was destroyed (数据销毁)",
            json!({"subject_id": "P-1", "attested_on": t, "method": "存储介质安全擦除并出具销毁记录", "evidence_blake3": DOC}),
        ),
        ex(
            EntryKind::AgreementTerminated,
            "gx-implementing",
            "the implementing agency terminates SA-1 (授权终止)",
            json!({"id": "SA-1", "reason": "voluntary-exit", "detail": "经营主体主动退出", "effective_on": t}),
        ),
        ex(
            EntryKind::DataDestructionAttested,
            "nn-mobility",
            "the business entity attests that SA-1's data was destroyed",
            json!({"subject_id": "SA-1", "attested_on": t, "method": "删除全部副本并出具销毁记录", "evidence_blake3": DOC}),
        ),
        ex(
            EntryKind::ResourceDeregistered,
            "gx-transport",
            "the data source unit deregisters its resource (注销登记)",
            json!({"id": "R-GX-TRANSPORT-001", "reason": "数据源系统下线"}),
        ),
        ex(
            EntryKind::ParticipantRevoked,
            AUTHORITY,
            "the authority revokes the trading venue's registration",
            json!({"id": "bbw-exchange", "reason": "机构撤并"}),
        ),
    ]);
    // Last, since it is logged only once SA-1's log retention has run out
    // (6 months after its end in Guangxi, 1 year in Chengdu): a template
    // submitted the day SA-1 ends is refused (`retention-not-over`).
    let op = v
        .iter()
        .position(|e| e.kind == EntryKind::OperationEvent)
        .expect("the scenario logs an operation event");
    v.push(ex(
        EntryKind::RetentionPruned,
        AUTHORITY,
        "once SA-1's log retention has run out, the authority prunes its operation events (the leaves stay)",
        json!({"agreement_id": "SA-1", "entries": [op]}),
    ));
    v
}

/// examples returns every example payload of `kind`, dated `today`.
pub fn examples(kind: EntryKind, today: Date) -> Vec<Value> {
    scenario(today)
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.payload)
        .collect()
}

/// example returns the first example of `kind` in the scenario, dated `today`.
pub fn example(kind: EntryKind, today: Date) -> Example {
    scenario(today)
        .into_iter()
        .find(|e| e.kind == kind)
        .expect("the scenario has every kind (tested)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_an_example_and_placeholders_are_distinct_points() {
        let s = scenario(SCHEMA_EXAMPLE_DATE);
        for k in EntryKind::ALL {
            assert!(
                s.iter().any(|e| e.kind == *k),
                "{} has no example",
                k.name()
            );
        }
        let keys: std::collections::BTreeSet<String> = (0..10).map(placeholder_key).collect();
        assert_eq!(keys.len(), 10);
        assert_eq!(placeholder_key(3), placeholder_key(3));
    }

    #[test]
    fn the_example_digest_is_the_digest_of_its_document() {
        assert_eq!(
            blake3::hash("授权运营协议（示例）\n".as_bytes())
                .to_hex()
                .as_str(),
            DOC
        );
    }
}
