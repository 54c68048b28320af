//! Builds the pages' view models from a store snapshot. Every payload
//! field goes through [`disclose`]: a row is filled from the fields that
//! the allow-list lets through, never from the state object directly.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::cert::bundle::CERTIFICATE_LABELS;
use regledger::entry::envelope::Envelope;
use regledger::entry::leaf::Leaf;
use regledger::registry::calendar::Date;
use regledger::registry::{
    AgreementState, EntryKind, ObjectionState, ProductState, ResourceState, StateKey, StateObject,
    StateReader, Status,
};
use serde_json::{Map, Value};

use super::disclose::{public, public_of};
use super::pages::{
    AgreementRow, CredentialRow, HistoryRow, NoticeRow, ObjectionRow, ProductRow, ResourceRow,
};
use crate::store::{ReadTx, StoreError};

/// MAX_OBJECTS bounds the registry objects a list page reads.
pub const MAX_OBJECTS: usize = 100_000;

/// MAX_HISTORY bounds the entries of one product's history.
pub const MAX_HISTORY: usize = 10_000;

/// text renders a disclosed JSON value for a page.
pub fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| text(Some(x)))
            .collect::<Vec<_>>()
            .join("、"),
        Some(Value::Bool(b)) => if *b { "是 yes" } else { "否 no" }.to_string(),
        Some(other) => other.to_string(),
    }
}

fn list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(|x| text(Some(x))).collect())
        .unwrap_or_default()
}

/// label_of names an enum value of a payload in Chinese (the kebab-case name kept beside it).
pub fn label_of(field: &str, v: &str) -> Option<&'static str> {
    Some(match (field, v) {
        ("agreement_type", "implementation-plan") => "实施方案",
        ("agreement_type", "operation-agreement") => "授权运营协议",
        ("agreement_type", "catalog-authorization") => "目录授权协议",
        ("agreement_type", "scene-authorization") => "场景授权协议",
        ("agreement_type", "open-data-usage") => "数据开放使用协议",
        ("agreement_type", "partner-filing") => "合伙人备案",
        ("open_attribute", "unconditional") => "无条件开放",
        ("open_attribute", "conditional") => "有条件开放",
        ("open_attribute", "not-open") => "不予开放",
        ("outcome", "dismissed") => "异议不成立",
        ("outcome", "change-authorization") => "变更授权",
        ("outcome", "revoke-registration") => "撤销登记",
        ("outcome", "destroy-data") => "数据销毁",
        ("action", "access") => "调用",
        ("action", "processing") => "加工",
        ("action", "export") => "导出",
        ("action", "destruction") => "销毁",
        ("reason", "expiry") => "期满",
        ("reason", "voluntary-exit") => "主动退出",
        ("reason", "unilateral-termination") => "单方解除",
        ("reason", "violation") => "违规",
        ("role", "data-authority") => "数据主管部门",
        ("role", "implementing-agency") => "实施机构",
        ("role", "data-source-unit") => "数源单位",
        ("role", "operator") => "运营机构",
        ("role", "business-entity") => "经营主体",
        ("role", "trading-venue") => "数据交易场所",
        _ => return None,
    })
}

fn labelled(field: &str, v: Option<&Value>) -> String {
    let t = text(v);
    match label_of(field, &t) {
        Some(l) => format!("{l}（{t}）"),
        None => t,
    }
}

/// FIELD_LABELS are the Chinese names of payload fields on the entry page.
const FIELD_LABELS: &[(&str, &str)] = &[
    ("id", "编号"),
    ("name", "名称"),
    ("role", "角色"),
    ("public_keys", "公钥"),
    ("credit_code", "统一社会信用代码"),
    ("add_keys", "新增公钥"),
    ("retire_key_ids", "停用密钥"),
    ("reason", "原因"),
    ("detail", "说明"),
    ("effective_on", "生效日期"),
    ("holder", "持有单位"),
    ("catalog_id", "目录编号"),
    ("grade", "分类分级"),
    ("open_attribute", "开放属性"),
    ("format", "数据格式"),
    ("update_frequency", "更新频率"),
    ("scale", "数据规模"),
    ("agreement_type", "备案类型"),
    ("parties", "当事方"),
    ("grantee", "被授权方"),
    ("parent", "上级协议"),
    ("scope", "范围"),
    ("scene", "应用场景"),
    ("signed_on", "签署日期"),
    ("term_start", "期限起"),
    ("term_end", "期限止"),
    ("document_title", "文件名称"),
    ("amended_on", "变更日期"),
    ("applied_on", "申请日期"),
    ("new_term_end", "新期限止"),
    ("credential_no", "授权编号"),
    ("agreement_id", "授权协议"),
    ("grantee_name", "被授权主体名称"),
    ("valid_from", "授权期限起"),
    ("valid_until", "授权期限止"),
    ("issuer", "发证部门"),
    ("issued_on", "发证日期"),
    ("product_id", "产品编号"),
    ("product_name", "数据产品名称"),
    ("business_entity", "经营主体标识"),
    ("business_entity_name", "经营主体"),
    ("authorization", "授权依据"),
    ("approved_on", "审核通过日期"),
    ("uses_non_public_data", "使用非公共数据"),
    ("opened_on", "公示首日"),
    ("objection_id", "异议编号"),
    ("filed_on", "提出日期"),
    ("resolved_on", "处理日期"),
    ("outcome", "处理结果"),
    ("registration_no", "登记号"),
    ("certificate_name", "证书名称"),
    ("product_type", "产品类型"),
    ("update_cycle", "数据更新周期"),
    ("scenarios", "应用场景"),
    ("registered_on", "登记日期"),
    ("subject_id", "对象"),
    ("attested_on", "证明日期"),
    ("method", "方式"),
    ("action", "操作"),
    ("occurred_at_ms", "发生时间（毫秒）"),
    ("records", "记录数"),
    ("origin", "日志标识"),
    ("hash", "哈希算法"),
    ("profile", "政策配置"),
    ("authority", "根数据主管部门"),
    ("year", "年份"),
    ("region", "地区"),
    ("notice", "通知"),
    ("off", "放假"),
    ("makeup_workdays", "调休上班"),
];

/// entry_fields are an entry's disclosed payload fields, labelled.
pub fn entry_fields(kind: EntryKind, payload: &[u8]) -> Vec<(String, String)> {
    let v: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    public(kind, &v)
        .iter()
        .map(|(k, v)| {
            let zh = FIELD_LABELS
                .iter()
                .find(|(f, _)| f == k)
                .map_or("", |(_, z)| z);
            (format!("{zh} {k}"), labelled(k, Some(v)))
        })
        .collect()
}

/// Reader wraps a snapshot with the lookups the pages need.
pub struct Reader<'a> {
    /// view is the snapshot.
    pub view: &'a ReadTx,
}

impl Reader<'_> {
    /// get reads one registry object.
    pub fn get(&self, k: &StateKey) -> Option<StateObject> {
        self.view.get(k)
    }

    /// objects reads every object under a state key prefix.
    pub fn objects(&self, prefix: &str) -> Result<Vec<StateObject>, StoreError> {
        self.view.objects(prefix, MAX_OBJECTS)
    }

    /// participant_name is a participant's registered name (its id when unknown).
    pub fn participant_name(&self, id: &str) -> String {
        match self.get(&StateKey::Participant(id.to_string())) {
            Some(StateObject::Participant(p)) => {
                let shown = public_of(EntryKind::ParticipantRegistered, &p);
                let name = text(shown.get("name"));
                if name.is_empty() {
                    id.to_string()
                } else {
                    name
                }
            }
            _ => id.to_string(),
        }
    }

    /// signer_name names the participant whose key signed an envelope first.
    pub fn signer_name(&self, env: &Envelope) -> String {
        let Some(s) = env.signatures.first() else {
            return String::new();
        };
        match self.get(&StateKey::Key(s.key_id.clone())) {
            Some(StateObject::Key(k)) => {
                format!(
                    "{}（{}）",
                    self.participant_name(&k.participant),
                    k.participant
                )
            }
            _ => s.key_id.clone(),
        }
    }

    /// leaf reads and parses one entry: its leaf, the leaf bytes and its
    /// envelope (inline in a v1 leaf, stored beside a v2 leaf).
    pub fn leaf(&self, index: u64) -> Result<Option<(Leaf, Vec<u8>, Envelope)>, StoreError> {
        let Some(b) = self.view.leaf(index)? else {
            return Ok(None);
        };
        let env = self.view.envelope(index)?;
        let o = regledger::entry::leaf::open_entry_unchecked(&b, env.as_deref()).map_err(|e| {
            StoreError::BadEntry {
                index,
                reason: e.to_string(),
            }
        })?;
        let Some(e) = o.envelope else {
            return Ok(None);
        };
        Ok(Some((o.leaf, b, e)))
    }

    /// blockchain_no derives the 区块链编号 of a registration at entry
    /// `index` (D15: derived when shown, from the origin, the index and
    /// the entry's leaf hash).
    pub fn blockchain_no(
        &self,
        origin: &str,
        suite: regledger::HashSuite,
        index: u64,
    ) -> Result<(String, regledger::Hash), StoreError> {
        let b = self
            .view
            .leaf(index)?
            .ok_or(StoreError::MissingLeaf(index))?;
        let lh = suite.leaf_hash(&b);
        Ok((
            regledger::entry::blockchain_no::BlockchainNo::new(origin, index, &lh).to_string(),
            lh,
        ))
    }

    /// products returns every product.
    pub fn products(&self) -> Result<Vec<ProductState>, StoreError> {
        Ok(self
            .objects("product/")?
            .into_iter()
            .filter_map(|o| match o {
                StateObject::Product(p) => Some(p),
                _ => None,
            })
            .collect())
    }

    /// history returns the indexes of the entries concerning a product, ascending.
    pub fn history(&self, p: &ProductState) -> Result<Vec<u64>, StoreError> {
        let mut ix = self.view.subjects(&p.approval.product_id, MAX_HISTORY)?;
        if let Some(r) = &p.registration {
            ix.extend(self.view.subjects(&r.fields.registration_no, MAX_HISTORY)?);
        }
        ix.sort_unstable();
        ix.dedup();
        Ok(ix)
    }

    /// history_rows reads the entries of one history page.
    pub fn history_rows(
        &self,
        ix: &[u64],
        checkpoint_size: u64,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let mut out = Vec::with_capacity(ix.len());
        for &i in ix {
            if let Some((l, _, env)) = self.leaf(i)? {
                if let Some(kind) = env.kind_name().ok().and_then(EntryKind::from_name) {
                    out.push(HistoryRow {
                        index: i,
                        kind,
                        time_ms: l.integrated_time_ms,
                        proof_size: (i < checkpoint_size).then_some(checkpoint_size),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// certificate_fields are a registered product's certificate fields for
/// the page and the PDF, in [`CERTIFICATE_LABELS`] order.
pub fn certificate_fields(
    p: &ProductState,
    blockchain_no: &str,
) -> Vec<(&'static str, &'static str, String)> {
    let Some(r) = &p.registration else {
        return vec![];
    };
    let shown = public_of(EntryKind::ProductRegistered, &r.fields);
    CERTIFICATE_LABELS
        .iter()
        .map(|&(k, zh, en)| {
            let v = if k == "blockchain_no" {
                blockchain_no.to_string()
            } else {
                text(shown.get(k))
            };
            (zh, en, v)
        })
        .collect()
}

/// product_row is a registered product's catalogue row.
pub fn product_row(p: &ProductState) -> Option<ProductRow> {
    let r = p.registration.as_ref()?;
    let shown = public_of(EntryKind::ProductRegistered, &r.fields);
    Some(ProductRow {
        registration_no: text(shown.get("registration_no")),
        product_name: text(shown.get("product_name")),
        business_entity_name: text(shown.get("business_entity_name")),
        status: p.status,
        registered_on: text(shown.get("registered_on")),
    })
}

/// matches reports whether a product matches a catalogue search
/// (product name, 登记号 or 经营主体, case-insensitive substring) and filter.
pub fn matches(row: &ProductRow, q: &str, status: Option<Status>) -> bool {
    if status.is_some_and(|s| s != row.status) {
        return false;
    }
    if q.is_empty() {
        return true;
    }
    let q = q.to_lowercase();
    [
        &row.product_name,
        &row.registration_no,
        &row.business_entity_name,
    ]
    .iter()
    .any(|f| f.to_lowercase().contains(&q))
}

/// notice_window returns a notice's last day (the day it opens is day 1,
/// 《广西壮族自治区公共数据资源授权运营管理办法（试行）》第十二条第（六）项) and
/// the days left on `today`, today included: 0 once it has closed.
pub fn notice_window(opened: Date, today: Date, notice_days: u32) -> (Date, i64) {
    let last_day = opened
        .add_days(i64::from(notice_days.max(1)) - 1)
        .unwrap_or(opened);
    (
        last_day,
        (today.days_until(&last_day) + 1).clamp(0, i64::from(notice_days)),
    )
}

/// notice_row builds a 公示 row; None when the product has no notice.
pub fn notice_row(
    rd: &Reader,
    p: &ProductState,
    objections: &[ObjectionState],
    today: Date,
    notice_days: u32,
) -> Result<Option<NoticeRow>, StoreError> {
    let Some(opened) = p.notice_opened_on else {
        return Ok(None);
    };
    let (last_day, days_left) = notice_window(opened, today, notice_days);
    let approval = public_of(EntryKind::ProductApproved, &p.approval);
    let product_id = text(approval.get("product_id"));
    // Who opened the notice: the signer of its entry.
    let mut published_by = String::new();
    for i in rd.view.subjects(&product_id, MAX_HISTORY)? {
        if let Some((_, _, env)) = rd.leaf(i)? {
            if env.kind_name().ok() == Some(EntryKind::PublicNoticeOpened.name()) {
                published_by = rd.signer_name(&env);
                break;
            }
        }
    }
    let objections = objections
        .iter()
        .filter(|o| o.fields.product_id == product_id)
        .map(|o| {
            let f = public_of(EntryKind::ObjectionFiled, &o.fields);
            ObjectionRow {
                id: text(f.get("objection_id")),
                filed_on: text(f.get("filed_on")),
                outcome: o.resolution.as_ref().map(|r| {
                    let r = public_of(EntryKind::ObjectionResolved, r);
                    (
                        labelled("outcome", r.get("outcome")),
                        text(r.get("resolved_on")),
                        text(r.get("reason")),
                    )
                }),
            }
        })
        .collect();
    let registration_no = p
        .registration
        .as_ref()
        .map(|r| text(public_of(EntryKind::ProductRegistered, &r.fields).get("registration_no")));
    Ok(Some(NoticeRow {
        product_name: text(approval.get("product_name")),
        business_entity: rd.participant_name(&text(approval.get("business_entity"))),
        approved_on: text(approval.get("approved_on")),
        product_id,
        opened_on: opened,
        last_day,
        days_left,
        published_by,
        objections,
        registration_no,
        status: p.status,
    }))
}

/// agreement_row is a filing's public row.
pub fn agreement_row(rd: &Reader, a: &AgreementState) -> AgreementRow {
    let f = public_of(EntryKind::AgreementFiled, &a.fields);
    let t = text(f.get("agreement_type"));
    AgreementRow {
        id: text(f.get("id")),
        type_label: label_of("agreement_type", &t).map_or(t.clone(), |l| format!("{l}（{t}）")),
        parties: list(f.get("parties"))
            .iter()
            .map(|p| rd.participant_name(p))
            .collect(),
        grantee: rd.participant_name(&text(f.get("grantee"))),
        parent: text(f.get("parent")),
        scope: list(f.get("scope")),
        scene: text(f.get("scene")),
        term: format!(
            "{} 至 {}",
            text(f.get("term_start")),
            text(f.get("term_end"))
        ),
        signed_on: text(f.get("signed_on")),
        document_title: text(f.get("document_title")),
        status: a.status,
    }
}

/// credential_row is a 目录授权电子凭证's public fields (Guangxi Art. 10).
pub fn credential_row(c: &regledger::registry::CatalogCredential) -> CredentialRow {
    let f = public_of(EntryKind::CatalogCredentialIssued, c);
    let order = [
        ("授权编号 Credential no.", "credential_no"),
        ("被授权主体名称 Grantee", "grantee_name"),
        ("授权范围 Scope", "scope"),
        ("授权期限 Valid", ""),
        ("发证部门 Issuer", "issuer"),
        ("发证日期 Issued on", "issued_on"),
        ("授权协议 Agreement", "agreement_id"),
    ];
    CredentialRow {
        fields: order
            .iter()
            .map(|&(label, k)| {
                let v = if k.is_empty() {
                    format!(
                        "{} 至 {}",
                        text(f.get("valid_from")),
                        text(f.get("valid_until"))
                    )
                } else {
                    text(f.get(k))
                };
                (label, v)
            })
            .collect(),
    }
}

/// resource_row is a catalogued resource's public row.
pub fn resource_row(rd: &Reader, r: &ResourceState) -> ResourceRow {
    let f: Map<String, Value> = public_of(EntryKind::ResourceRegistered, &r.fields);
    let holder = text(f.get("holder"));
    ResourceRow {
        fields: vec![
            ("资源名称", "Name", text(f.get("name"))),
            ("编号", "Id", text(f.get("id"))),
            ("持有单位", "Holder", rd.participant_name(&holder)),
            ("目录编号", "Catalogue id", text(f.get("catalog_id"))),
            ("分类分级", "Grade", text(f.get("grade"))),
            (
                "开放属性",
                "Open attribute",
                labelled("open_attribute", f.get("open_attribute")),
            ),
            ("数据格式", "Format", text(f.get("format"))),
            (
                "更新频率",
                "Update frequency",
                text(f.get("update_frequency")),
            ),
            ("数据规模", "Scale", text(f.get("scale"))),
        ],
        status: r.status,
    }
}

/// root_b64 is a checkpoint note's root hash (base64) and size.
pub fn checkpoint_parts(note: &str) -> Option<(u64, String)> {
    let n = regledger::tlog::note::Note::parse(note.as_bytes()).ok()?;
    let cp = regledger::tlog::checkpoint::Checkpoint::parse(&n.text).ok()?;
    Some((cp.size, B64.encode(cp.root.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn a_notice_runs_ten_natural_days_counting_the_first() {
        let o = d("2025-03-13");
        assert_eq!(notice_window(o, o, 10), (d("2025-03-22"), 10));
        assert_eq!(notice_window(o, d("2025-03-22"), 10), (d("2025-03-22"), 1));
        assert_eq!(notice_window(o, d("2025-03-23"), 10).1, 0, "closed");
        assert_eq!(notice_window(o, d("2026-01-01"), 10).1, 0);
        // A notice logged ahead of today's date (clock skew) never shows more than its length.
        assert_eq!(notice_window(o, d("2025-03-12"), 10).1, 10);
    }

    #[test]
    fn enum_values_get_their_chinese_names_and_unknown_ones_stay_as_given() {
        assert_eq!(
            labelled(
                "outcome",
                Some(&Value::String("revoke-registration".into()))
            ),
            "撤销登记（revoke-registration）"
        );
        assert_eq!(
            labelled("outcome", Some(&Value::String("<x>".into()))),
            "<x>"
        );
        assert_eq!(text(Some(&serde_json::json!(["a", "b"]))), "a、b");
        assert_eq!(text(None), "");
    }
}
