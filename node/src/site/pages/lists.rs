//! The pages of the other disclosures: notices, agreements, resources,
//! one entry, and the error pages.

use super::*;

/// ObjectionRow is an objection to a product in a notice.
pub struct ObjectionRow {
    /// id is the objection id.
    pub id: String,
    /// filed_on is when it was filed.
    pub filed_on: String,
    /// outcome is (outcome label, resolved_on, reason) once resolved.
    pub outcome: Option<(String, String, String)>,
}

/// NoticeRow is one 公示.
pub struct NoticeRow {
    /// product_id is the product.
    pub product_id: String,
    /// product_name is its name.
    pub product_name: String,
    /// business_entity is the 经营主体's name.
    pub business_entity: String,
    /// approved_on is the approval date.
    pub approved_on: String,
    /// opened_on is the first day.
    pub opened_on: Date,
    /// last_day is the last day on which an objection can be filed.
    pub last_day: Date,
    /// days_left counts the days left, today included (0 once closed).
    pub days_left: i64,
    /// published_by is who opened it.
    pub published_by: String,
    /// objections are the objections filed.
    pub objections: Vec<ObjectionRow>,
    /// registration_no is set once the product was registered.
    pub registration_no: Option<String>,
    /// status is the product status.
    pub status: Status,
}

/// NoticesView is the notices page.
pub struct NoticesView {
    /// today is the China date the page was made on.
    pub today: Date,
    /// notice_days is the profile's notice length.
    pub notice_days: u32,
    /// open are this page's open notices.
    pub open: Vec<NoticeRow>,
    /// open_page is their page.
    pub open_page: Page,
    /// closed are this page's closed notices.
    pub closed: Vec<NoticeRow>,
    /// closed_page is their page.
    pub closed_page: Page,
}

fn objections(n: &NoticeRow) -> Markup {
    html! {
        @if n.objections.is_empty() {
            "无异议 " small { "no objection" }
        } @else {
            ul.objections { @for o in &n.objections { li {
                (o.id) "（" (o.filed_on) " 提出 filed）："
                @match &o.outcome {
                    Some((label, on, reason)) => { strong { (label) } " " (on) " — " (reason) },
                    None => { strong { "处理中" } " " small { "pending" } },
                }
            } } }
        }
    }
}

/// notices renders `/notices`.
pub fn notices(c: &Chrome, v: &NoticesView) -> String {
    let outcome = |n: &NoticeRow| -> Markup {
        html! {
            @if let Some(no) = &n.registration_no {
                "已登记 " small { "registered" } " " a href={"/products/" (no)} { (no) } " " (badge(n.status))
            } @else if n.objections.iter().any(|o| o.outcome.is_none()) {
                "异议处理中，暂不登记 " small { "objection pending: not registered" }
            } @else if n.days_left > 0 {
                "公示中，尚未登记 " small { "on notice, not registered" }
            } @else {
                "公示期满，尚未登记 " small { "notice over, not registered yet" }
            }
        }
    };
    let body = html! {
        p { "依《广西壮族自治区公共数据资源授权运营管理办法（试行）》第十二条，使用非公共数据的数据产品登记前公示 " (v.notice_days) " 个自然日（公示首日计入）。今天是 " (v.today) "。"
            br; small { "Products built on non-public data are on public notice for " (v.notice_days) " natural days before registration (the first day counts). Today is " (v.today) " (China time)." } }
        h2 { "公示中 " small { "Open notices" } }
        @if v.open.is_empty() {
            p.empty { "目前没有公示。" small { " No open notice." } }
        }
        @for n in &v.open {
            article.notice {
                h3 { bdi { (visible(&n.product_name)) } " " small { (n.product_id) } }
                dl.fields {
                    dt { "经营主体 " small { "Business entity" } } dd { (n.business_entity) }
                    dt { "审核通过 " small { "Approved" } } dd { (n.approved_on) }
                    dt { "公示期 " small { "Notice period" } } dd { (n.opened_on) " 至 " (n.last_day) " " small { "(" (n.opened_on) " to " (n.last_day) ")" } }
                    dt { "剩余天数 " small { "Days left" } } dd { strong { (n.days_left) " 天" } " " small { "(today included)" } }
                    dt { "异议 " small { "Objections" } } dd { (objections(n)) }
                    dt { "进展 " small { "Progress" } } dd { (outcome(n)) }
                }
                p.howto { "如有异议，请于 " strong { (n.last_day) } " 当日结束前，向公示发布方（" (n.published_by) "）书面提出，写明产品编号 " (n.product_id) "、异议理由并附证据材料；异议处理期间不予登记。"
                    br; small { "To object, write to the publisher of this notice (" (n.published_by) ") by the end of " (n.last_day) " (China time), naming product " (n.product_id) ", your grounds and evidence; the product is not registered while an objection is pending." } }
            }
        }
        (pager("/notices", &[("closed", if v.closed_page.number > 1 { v.closed_page.number.to_string() } else { String::new() })], "open", &v.open_page))
        h2 { "已结束的公示 " small { "Closed notices and their outcome" } }
        @if v.closed.is_empty() {
            p.empty { "暂无。" small { " None yet." } }
        } @else {
            div.scroll { table {
                thead { tr { th { "数据产品 Product" } th { "公示期 Period" } th { "异议 Objections" } th { "结果 Outcome" } } }
                tbody { @for n in &v.closed { tr {
                    td { bdi { (visible(&n.product_name)) } br; small { (n.product_id) " · " (n.business_entity) } }
                    td { (n.opened_on) " – " (n.last_day) }
                    td { (objections(n)) }
                    td { (outcome(n)) }
                } } }
            } }
        }
        (pager("/notices", &[("open", if v.open_page.number > 1 { v.open_page.number.to_string() } else { String::new() })], "closed", &v.closed_page))
    };
    layout(c, "公示", "Public notices", body)
}

/// AgreementRow is one filing's public fields.
pub struct AgreementRow {
    /// id is the filing id.
    pub id: String,
    /// type_label is what was filed, in Chinese.
    pub type_label: String,
    /// parties are the parties' names.
    pub parties: Vec<String>,
    /// grantee is the authorized participant's name.
    pub grantee: String,
    /// parent is the agreement it derives from.
    pub parent: String,
    /// scope are the resources covered.
    pub scope: Vec<String>,
    /// scene is the application scene.
    pub scene: String,
    /// term is "start – end".
    pub term: String,
    /// signed_on is the signing date.
    pub signed_on: String,
    /// document_title is the document's title (its contents are never published).
    pub document_title: String,
    /// status is the filing's status.
    pub status: Status,
}

/// CredentialRow is one 目录授权电子凭证.
pub struct CredentialRow {
    /// fields are (Chinese label, value) in display order.
    pub fields: Vec<(&'static str, String)>,
}

/// AgreementsView is the agreements page.
pub struct AgreementsView {
    /// rows are this page's filings.
    pub rows: Vec<AgreementRow>,
    /// page is their page.
    pub page: Page,
    /// credentials are this page's credentials.
    pub credentials: Vec<CredentialRow>,
    /// credentials_page is their page.
    pub credentials_page: Page,
}

/// agreements renders `/agreements`.
pub fn agreements(c: &Chrome, v: &AgreementsView) -> String {
    let body = html! {
        p { "授权运营协议、场景授权协议等备案的公开信息：当事方、授权对象、范围与期限。协议文本不在本站公开。"
            br; small { "The public fields of filed agreements and authorizations: parties, grantee, scope and term. Documents themselves are not published." } }
        div.scroll { table {
            thead { tr { th { "编号 Id" } th { "类型 Type" } th { "当事方 Parties" } th { "被授权方 Grantee" } th { "范围 Scope" } th { "期限 Term" } th { "状态 Status" } } }
            tbody { @for a in &v.rows { tr {
                td { (a.id) @if !a.parent.is_empty() { br; small { "上级 parent " (a.parent) } } }
                td { (a.type_label) br; small { (a.document_title) } }
                td { (a.parties.join("、")) }
                td { (a.grantee) }
                td { (a.scope.join("、")) @if !a.scene.is_empty() { br; small { "场景 scene: " (a.scene) } } }
                td { (a.term) br; small { "签署 signed " (a.signed_on) } }
                td { (badge(a.status)) }
            } } }
        } }
        (pager("/agreements", &[], "page", &v.page))
        h2 { "目录授权电子凭证 " small { "Catalogue authorization credentials" } }
        @if v.credentials.is_empty() { p.empty { "暂无。" small { " None." } } }
        @for cr in &v.credentials {
            dl.fields.credential { @for (k, val) in &cr.fields { dt { (k) } dd { (val) } } }
        }
        (pager("/agreements", &[], "cpage", &v.credentials_page))
    };
    layout(c, "授权与协议", "Authorizations and agreements", body)
}

/// ResourceRow is one catalogued resource.
pub struct ResourceRow {
    /// fields are (Chinese label, English label, value) in display order.
    pub fields: Vec<(&'static str, &'static str, String)>,
    /// status is Active or Deregistered.
    pub status: Status,
}

/// ResourcesView is the resource catalogue.
pub struct ResourcesView {
    /// rows are this page's resources.
    pub rows: Vec<ResourceRow>,
    /// page is their page.
    pub page: Page,
}

/// resources renders `/resources`.
pub fn resources(c: &Chrome, v: &ResourcesView) -> String {
    let heads: Vec<(&str, &str)> = v
        .rows
        .first()
        .map(|r| r.fields.iter().map(|(z, e, _)| (*z, *e)).collect())
        .unwrap_or_default();
    let body = html! {
        p { "公共数据资源登记目录（首次、变更、更正、注销登记）。" small { " The public data resource catalogue." } }
        @if v.rows.is_empty() { p.empty { "暂无登记的数据资源。" small { " No resource registered." } } }
        @else {
            div.scroll { table {
                thead { tr { @for (z, e) in &heads { th { (z) " " small { (e) } } } th { "状态 Status" } } }
                tbody { @for r in &v.rows { tr {
                    @for (_, _, val) in &r.fields { td { (val) } }
                    td { (badge(r.status)) }
                } } }
            } }
        }
        (pager("/resources", &[], "page", &v.page))
    };
    layout(
        c,
        "公共数据资源目录",
        "Public data resource catalogue",
        body,
    )
}

/// EntryView is one log entry's public fields.
pub struct EntryView {
    /// index is the entry's index.
    pub index: u64,
    /// kind is its kind.
    pub kind: EntryKind,
    /// time_ms is its integrated time.
    pub time_ms: u64,
    /// leaf_hash is its leaf hash (hex).
    pub leaf_hash: String,
    /// signer is the submitting participant's name and id.
    pub signer: String,
    /// fields are the disclosed payload fields (label, value).
    pub fields: Vec<(String, String)>,
    /// proof_size is the checkpoint size of its proof link (None: not yet checkpointed).
    pub proof_size: Option<u64>,
}

/// entry renders `/entries/{index}`.
pub fn entry(c: &Chrome, v: &EntryView) -> String {
    let body = html! {
        dl.fields {
            dt { "类型 " small { "Kind" } } dd { (v.kind.label_zh()) " " small { (v.kind.name()) } }
            dt { "时间 " small { "Integrated time" } } dd { (china_time(v.time_ms)) }
            dt { "提交方 " small { "Submitted by" } } dd { (v.signer) }
            dt { "叶哈希 " small { "Leaf hash" } } dd { code.wrap { (v.leaf_hash) } }
            @for (k, val) in &v.fields { dt { (k) } dd { bdi { (visible(val)) } } }
        }
        p { small { "仅显示法规要求公开的字段。" " Only the fields the regulations disclose are shown." } }
        ul {
            @if let Some(s) = v.proof_size {
                li { a href={"/v1/proof/inclusion?index=" (v.index) "&size=" (s)} { "包含证明 " small { "inclusion proof at size " (s) } } }
            }
            li { a href={"/v1/entries/" (v.index)} { "签名条目原文 " small { "the signed entry (JSON, for verifiers)" } } }
        }
    };
    layout(
        c,
        &format!("条目 #{}", v.index),
        &format!("Entry {}", v.index),
        body,
    )
}

/// not_found renders the Chinese 404 page.
pub fn not_found(c: &Chrome, what_zh: &str, what_en: &str) -> String {
    let body = html! {
        p.empty { (what_zh) }
        p { small { (what_en) } }
        p { a href="/products" { "返回数据产品目录 " small { "Back to the product catalogue" } } }
    };
    layout(c, "未找到", "Not found (404)", body)
}

/// error_page renders a Chinese error page.
pub fn error_page(c: &Chrome, title_zh: &str, title_en: &str, zh: &str, en: &str) -> String {
    let body = html! { p { (zh) } p { small { (en) } } };
    layout(c, title_zh, title_en, body)
}
