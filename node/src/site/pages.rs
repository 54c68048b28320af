//! The public site's pages: pure functions from view models to HTML.
//!
//! Every page is server-rendered with maud, whose `html!` escapes every
//! interpolated value (`<`, `>`, `&`, `"`, `'`): nothing from the log or
//! the request is ever written raw. The only raw fragments are the inline
//! CSS and the QR code's SVG, both made here from constants and numbers.
//! View models carry only what [`super::disclose`] let through.
//! Chinese first, English second; no external assets; readable without
//! JavaScript and on a phone.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use regledger::registry::calendar::Date;
use regledger::registry::{EntryKind, Status};

use super::assets::CSS;

/// Chrome is what every page's frame shows.
pub struct Chrome {
    /// origin is the log's origin.
    pub origin: String,
    /// mirror_of is the upstream a venue's mirror follows (None on the node).
    pub mirror_of: Option<String>,
}

/// Page is one page of a paginated list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// number is the page shown, from 1.
    pub number: usize,
    /// count is how many pages there are (at least 1).
    pub count: usize,
    /// total is how many items the list has.
    pub total: usize,
}

/// PAGE_SIZE is how many rows a list page shows.
pub const PAGE_SIZE: usize = 20;

impl Page {
    /// of cuts `items` to page `number` (clamped to the pages there are).
    pub fn of<T>(items: Vec<T>, number: usize) -> (Vec<T>, Page) {
        let total = items.len();
        let count = total.div_ceil(PAGE_SIZE).max(1);
        let number = number.clamp(1, count);
        let rows = items
            .into_iter()
            .skip((number - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .collect();
        (
            rows,
            Page {
                number,
                count,
                total,
            },
        )
    }
}

/// pct percent-encodes a query component (RFC 3986 unreserved characters stay).
pub fn pct(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// href builds `path?k=v&...` from the non-empty pairs.
pub fn href(path: &str, pairs: &[(&str, String)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", pct(v)))
        .collect();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

/// visible shows the characters a reader could not see, or that would
/// reorder what they see (zero-width, bidi and other format controls,
/// control characters), as `[U+XXXX]`: the registry refuses them in names
/// today, but a search string, or an entry from an older log, can carry them.
pub fn visible(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if regledger::registry::ident::is_invisible(c) || (c.is_control() && c != '\n') {
            o.push_str(&format!("[U+{:04X}]", u32::from(c)));
        } else {
            o.push(c);
        }
    }
    o
}

/// china_time formats Unix milliseconds as China Standard Time.
pub fn china_time(ms: u64) -> String {
    let secs = ms / 1000 + 8 * 3600;
    let date = Date::from_unix_ms(ms)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let s = secs % 86_400;
    format!(
        "{date} {:02}:{:02}:{:02}（北京时间 UTC+8）",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// status_class names the CSS class of a status badge.
fn status_class(s: Status) -> &'static str {
    match s {
        Status::Active => "st-active",
        Status::Suspended => "st-suspended",
        _ => "st-ended",
    }
}

/// status_en is the English status label.
pub fn status_en(s: Status) -> &'static str {
    match s {
        Status::Approved => "approved, not yet registered",
        Status::Active => "valid",
        Status::Suspended => "suspended",
        Status::Terminated => "terminated",
        Status::Revoked => "registration revoked",
        Status::Deregistered => "deregistered",
    }
}

fn badge(s: Status) -> Markup {
    html! { span class={"badge " (status_class(s))} { (s.label_zh()) " " small { (status_en(s)) } } }
}

/// PRODUCT_FILTERS are the status filters of the catalogue, in display order.
pub const PRODUCT_FILTERS: [Status; 4] = [
    Status::Active,
    Status::Suspended,
    Status::Revoked,
    Status::Deregistered,
];

/// layout wraps a page body in the site's frame.
pub fn layout(c: &Chrome, title_zh: &str, title_en: &str, body: Markup) -> String {
    let nav = [
        ("/", "概览", "Overview"),
        ("/products", "数据产品", "Products"),
        ("/notices", "公示", "Notices"),
        ("/agreements", "授权与协议", "Agreements"),
        ("/resources", "数据资源", "Resources"),
    ];
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title_zh) " · " (title_en) " — regledger" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header.site {
                    div.brand {
                        a href="/" { "数据资源登记公示" } " "
                        small { "Public disclosure · regledger" }
                    }
                    div.origin { "日志 Log: " code { (c.origin) }
                        @if let Some(up) = &c.mirror_of {
                            " · " span.mirror { "交易场所验证副本 (a venue's verified mirror of " code { (up) } ")" }
                        }
                    }
                    nav {
                        @for (path, zh, en) in nav {
                            a href=(path) { (zh) " " small { (en) } }
                        }
                    }
                }
                main {
                    h1 { (title_zh) " " small { (title_en) } }
                    (body)
                }
                footer.site {
                    p {
                        "本站所示每条记录均在签名的 Merkle 日志中，可用日志公钥离线验证。"
                        br;
                        small { "Every record shown is in a signed Merkle log and can be verified offline with the log's public key: "
                            a href="/log.json" { "log.json" } ", " a href="/checkpoint" { "checkpoint" } "." }
                    }
                }
            }
        }
    }
    .into_string()
}

fn pager(path: &str, keep: &[(&str, String)], param: &str, p: &Page) -> Markup {
    let link = |n: usize| {
        let mut pairs: Vec<(&str, String)> = keep.to_vec();
        if n > 1 {
            pairs.push((param, n.to_string()));
        }
        href(path, &pairs)
    };
    html! {
        nav.pager aria-label="分页 pages" {
            @if p.number > 1 { a rel="prev" href=(link(p.number - 1)) { "‹ 上一页 Previous" } }
            span { "第 " (p.number) " / " (p.count) " 页，共 " (p.total) " 条 (page " (p.number) " of " (p.count) ", " (p.total) " items)" }
            @if p.number < p.count { a rel="next" href=(link(p.number + 1)) { "下一页 Next ›" } }
        }
    }
}

/// WitnessView is one witness of the overview.
pub struct WitnessView {
    /// name is the witness key's name.
    pub name: String,
    /// vkey is its verifier key.
    pub vkey: String,
    /// cosigned_at is the time of its cosignature on the latest checkpoint (Unix seconds).
    pub cosigned_at: Option<u64>,
}

/// OverviewView is the log overview.
pub struct OverviewView {
    /// size is the latest checkpoint's tree size.
    pub size: u64,
    /// root_b64 is its root hash.
    pub root_b64: String,
    /// latest_entry_ms is the integrated time of the last entry it covers.
    pub latest_entry_ms: Option<u64>,
    /// checkpoint is the signed checkpoint note.
    pub checkpoint: String,
    /// log_vkey is the log's verifier key.
    pub log_vkey: String,
    /// fingerprint is its short fingerprint.
    pub fingerprint: String,
    /// hash is the hash suite.
    pub hash: String,
    /// profile is the policy profile.
    pub profile: String,
    /// quorum is how many witnesses must cosign.
    pub quorum: usize,
    /// witnesses are log.json's witnesses.
    pub witnesses: Vec<WitnessView>,
    /// products counts registered products.
    pub products: usize,
    /// open_notices counts open public notices.
    pub open_notices: usize,
    /// public_url is this site's public base URL.
    pub public_url: String,
}

/// overview renders `/`.
pub fn overview(c: &Chrome, v: &OverviewView) -> String {
    let body = html! {
        section.cards {
            div.card { div.num { (v.size) } div { "日志条目 " small { "entries (checkpoint size)" } } }
            div.card { div.num { (v.products) } div { "已登记数据产品 " small { "registered products" } } }
            div.card { div.num { (v.open_notices) } div { "公示中 " small { "open public notices" } } }
        }
        h2 { "最新检查点 " small { "Latest checkpoint" } }
        dl.fields {
            dt { "规模 " small { "Size" } } dd { (v.size) }
            dt { "根哈希 " small { "Root" } } dd { code.wrap { (v.root_b64) } }
            dt { "最新条目时间 " small { "Time of the latest entry" } }
            dd { @match v.latest_entry_ms { Some(ms) => (china_time(ms)), None => "—" } }
            dt { "哈希算法 / 政策配置 " small { "Hash / profile" } } dd { (v.hash) " / " (v.profile) }
        }
        details {
            summary { "检查点原文 " small { "The signed checkpoint (C2SP signed note)" } }
            pre.wrap { (v.checkpoint) }
        }
        h2 { "见证 " small { "Witnesses" } }
        @if v.witnesses.is_empty() {
            p { "本日志未配置见证（log.json 法定数 0）。" small { " This log names no witnesses (quorum 0)." } }
        } @else {
            p { "每个检查点须有 " (v.quorum) " 个见证联署。" small { " Each checkpoint needs " (v.quorum) " of these cosignatures." } }
            div.scroll { table {
                thead { tr { th { "见证 Witness" } th { "最新联署时间 Latest cosignature" } th { "公钥 Key" } } }
                tbody { @for w in &v.witnesses { tr {
                    td { (w.name) }
                    td { @match w.cosigned_at { Some(t) => (china_time(t.saturating_mul(1000))), None => "未联署最新检查点 (not on the latest checkpoint)" } }
                    td { code.wrap { (w.vkey) } }
                } } }
            } }
        }
        h2 { "日志公钥 " small { "The log's public key" } }
        p.key { code.wrap { (v.log_vkey) } }
        p { "指纹 Fingerprint: " strong.fp { (v.fingerprint) } }
        p { "纸质证书上印有此指纹；扫码打开证书页后，浏览器验证所用的公钥指纹应与纸面一致。"
            br; small { "Printed certificates carry this fingerprint: the key the browser verifies with must show the same one." } }
        h2 { "如何验证 " small { "How to verify" } }
        ol {
            li { "下载 " a href="/log.json" { "log.json" } "，核对其中公钥与上方指纹、与登记机构公布的一致。" br;
                 small { "Download log.json and check its key against this fingerprint and the one the registration authority publishes." } }
            li { "在证书页下载证书包（bundle.json），离线运行：" br;
                 code { "regledger-verify cert bundle.json --log log.json" } }
            li { "审计整个日志 " small { "Audit the whole log" } ": " br;
                 code { "regledger-verify audit --url " (v.public_url) " --log log.json" } }
        }
    };
    layout(c, "日志概览", "Log overview", body)
}

/// ProductRow is one product of the catalogue.
pub struct ProductRow {
    /// registration_no is the 登记号.
    pub registration_no: String,
    /// product_name is the 数据产品名称.
    pub product_name: String,
    /// business_entity_name is the 经营主体.
    pub business_entity_name: String,
    /// status is the product status.
    pub status: Status,
    /// registered_on is the 登记日期.
    pub registered_on: String,
}

/// ProductsView is the catalogue.
pub struct ProductsView {
    /// q is the search string as given.
    pub q: String,
    /// status is the filter.
    pub status: Option<Status>,
    /// rows are this page's products.
    pub rows: Vec<ProductRow>,
    /// page is the page.
    pub page: Page,
}

/// products renders `/products`.
pub fn products(c: &Chrome, v: &ProductsView) -> String {
    let keep = vec![
        ("q", v.q.clone()),
        (
            "status",
            v.status.map(|s| s.name().to_string()).unwrap_or_default(),
        ),
    ];
    let body = html! {
        form.search method="get" action="/products" role="search" {
            label for="q" { "搜索 " small { "Search: product name, 登记号 or 经营主体" } }
            input id="q" type="search" name="q" value=(v.q) maxlength="100" placeholder="产品名称 / 登记号 / 经营主体";
            label for="status" { "状态 " small { "Status" } }
            select id="status" name="status" {
                option value="" selected[v.status.is_none()] { "全部 All" }
                @for s in PRODUCT_FILTERS {
                    option value=(s.name()) selected[v.status == Some(s)] { (s.label_zh()) " " (status_en(s)) }
                }
            }
            button type="submit" { "查询 Search" }
        }
        @if !v.q.is_empty() {
            p.searched { "搜索 " small { "Results for" } " “" bdi.q { (visible(&v.q)) } "”" }
        }
        @if v.rows.is_empty() {
            p.empty { "没有符合条件的数据产品。" small { " No product matches." } }
        } @else {
            div.scroll { table.products {
                thead { tr { th { "登记号 No." } th { "数据产品名称 Product" } th { "经营主体 Business entity" } th { "登记日期 Registered" } th { "状态 Status" } } }
                tbody { @for r in &v.rows { tr {
                    td { a href={"/products/" (r.registration_no)} { (r.registration_no) } }
                    td.name { bdi { (visible(&r.product_name)) } }
                    td { bdi { (visible(&r.business_entity_name)) } }
                    td { (r.registered_on) }
                    td { (badge(r.status)) }
                } } }
            } }
        }
        (pager("/products", &keep, "page", &v.page))
    };
    layout(c, "数据产品目录", "Product catalogue", body)
}

/// HistoryRow is one entry of a product's history.
pub struct HistoryRow {
    /// index is the entry's index.
    pub index: u64,
    /// kind is its kind.
    pub kind: EntryKind,
    /// time_ms is its integrated time.
    pub time_ms: u64,
    /// proof_size is the checkpoint size its proof link uses (None: not yet checkpointed).
    pub proof_size: Option<u64>,
}

/// CertificateView is the certificate page of one product.
pub struct CertificateView {
    /// fields are the certificate's fields (Chinese label, English label, value), in display order.
    pub fields: Vec<(&'static str, &'static str, String)>,
    /// registration_no is the 登记号.
    pub registration_no: String,
    /// product_name is the 数据产品名称.
    pub product_name: String,
    /// status is the status in this server's registry state.
    pub status: Status,
    /// status_index is the entry that set it.
    pub status_index: u64,
    /// index is the registering entry.
    pub index: u64,
    /// leaf_hash is its leaf hash (hex).
    pub leaf_hash: String,
    /// verify_url is the URL the QR code encodes.
    pub verify_url: String,
    /// qr_svg is the QR code as inline SVG (made by [`super::qr`] from numbers only).
    pub qr_svg: String,
    /// checkpoint_size is the latest checkpoint's size.
    pub checkpoint_size: u64,
    /// log_vkey is the log's verifier key.
    pub log_vkey: String,
    /// fingerprint is its short fingerprint.
    pub fingerprint: String,
    /// history are this page's entries of the product.
    pub history: Vec<HistoryRow>,
    /// history_page is the history's page.
    pub history_page: Page,
}

/// certificate renders `/products/{登记号}`.
pub fn certificate(c: &Chrome, v: &CertificateView) -> String {
    let no = &v.registration_no;
    let base = format!("/products/{no}");
    let body = html! {
        article.cert {
            div.cert-head {
                div {
                    p.cert-title { "数据产品登记证书" br; small { "Data product registration certificate" } }
                    p.status-line { "当前状态 " small { "Status" } " " (badge(v.status)) }
                    // The verdict of the check below, where a phone that scanned the code shows it first.
                    p #verdict .verdict data-state="idle" { "尚未在浏览器中验证 (not yet verified in this browser)" }
                    p.note { small { "此状态为本站登记库所示（由条目 " (v.status_index) " 设定）；下方浏览器验证独立核对证书包。"
                        " Status as this site's registry holds it (set by entry " (v.status_index) "); the check below verifies the bundle in your browser." } }
                }
                figure.qr {
                    (PreEscaped(&v.qr_svg))
                    figcaption { small.wrap { (v.verify_url) } }
                }
            }
            dl.fields.cert-fields {
                @for (zh, en, val) in &v.fields {
                    dt { (zh) " " small { (en) } }
                    dd { bdi { (visible(val)) } }
                }
                dt { "登记条目 " small { "Registering entry" } }
                dd { a href={"/entries/" (v.index)} { "#" (v.index) } " · " small { "叶哈希 leaf hash " code.wrap { (v.leaf_hash) } } }
                dt { "最新检查点 " small { "Latest checkpoint" } }
                dd { "size " (v.checkpoint_size) }
                dt { "日志公钥指纹 " small { "Log key fingerprint" } }
                dd { strong.fp { (v.fingerprint) } }
            }
        }
        section #verify .verify data-no=(no) data-bundle={(base) "/bundle.json"} data-log="/log.json"
            data-wasm="/assets/regledger_web_verify.wasm" {
            h2 { "浏览器验证 " small { "Verified in your browser" } }
            noscript { p { "浏览器验证需要启用 JavaScript。也可下载证书包用 regledger-verify 离线验证。"
                small { " The in-browser check needs JavaScript; you can also verify the bundle offline with regledger-verify." } } }
            ol #checks .checks {}
            div #verified {}
            p.note { small { "验证在本机进行：日志签名、见证法定数、包含证明、证书字段、二维码校验码与签署方链，所用公钥取自 log.json，请与纸质证书上的指纹核对。"
                " Checked on this device with the key from log.json: compare its fingerprint with the one printed on the certificate." } }
        }
        section.downloads {
            h2 { "下载与离线验证 " small { "Downloads and offline verification" } }
            ul {
                li { a href={(base) "/certificate.pdf"} { "证书 PDF（A4，可打印）" } " " small { "Certificate PDF (A4)" } }
                li { a href={(base) "/bundle.json"} download={(no) ".bundle.json"} { "证书包 bundle.json" } " " small { "offline bundle" } }
                li { a href={(base) "/tlog-proof"} download={(no) ".tlog-proof"} { "C2SP tlog-proof" } " " small { "inclusion proof of the registering entry" } }
                li { a href="/log.json" download="log.json" { "log.json" } " " small { "the log descriptor" } }
            }
            pre.wrap { "regledger-verify cert " (no) ".bundle.json --log log.json\n"
                "regledger-verify proof " (no) ".tlog-proof --vkey '" (v.log_vkey) "' --leaf-hash " (v.leaf_hash) }
            p { small { "（blake3 日志加 --hash blake3；有见证时加 --witness 与 --quorum。 Add --hash blake3 for a blake3 log, --witness and --quorum for a witnessed one.）" } }
        }
        section.history {
            h2 { "登记记录 " small { "History of this product's entries" } }
            div.scroll { table {
                thead { tr { th { "条目 Entry" } th { "时间 Time" } th { "类型 Kind" } th { "证明 Proof" } } }
                tbody { @for h in &v.history { tr {
                    td { a href={"/entries/" (h.index)} { "#" (h.index) } }
                    td { (china_time(h.time_ms)) }
                    td { (h.kind.label_zh()) " " small { (h.kind.name()) } }
                    td { @match h.proof_size {
                        Some(s) => a href={"/v1/proof/inclusion?index=" (h.index) "&size=" (s)} { "包含证明 inclusion" },
                        None => small { "待检查点 pending" },
                    } }
                } } }
            } }
            (pager(&base, &[], "page", &v.history_page))
        }
        script src="/assets/verify.js" defer {}
    };
    layout(
        c,
        &format!("{} · {}", v.product_name, no),
        "Certificate",
        body,
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// HOSTILE are strings a page must show as text.
    pub(crate) const HOSTILE: [&str; 5] = [
        "<script>alert('x')</script>",
        "\"><img src=x onerror=alert(1)>",
        "a\u{202E}gnp.exe",
        "零\u{200B}宽",
        "O'Brien & \"Sons\" </td></tr>",
    ];

    fn chrome() -> Chrome {
        Chrome {
            origin: "<b>origin</b>".into(),
            mirror_of: Some("\"upstream\"".into()),
        }
    }

    /// assert_text checks that `html` carries `s` only escaped: no raw
    /// markup from it, and its characters intact.
    fn assert_text(html: &str, s: &str) {
        assert!(
            !html.contains(s) || !s.contains(['<', '>', '"', '&']),
            "raw {s:?} in the page"
        );
        let escaped = s
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        assert!(html.contains(&escaped), "{escaped:?} not in the page");
        assert!(!html.contains("<script>alert"), "a script tag from data");
        assert!(!html.contains("<img src=x"), "an element from data");
    }

    #[test]
    fn hostile_strings_render_as_text_on_every_page() {
        for h in HOSTILE {
            let v = ProductsView {
                q: h.into(),
                status: Some(Status::Active),
                rows: vec![ProductRow {
                    registration_no: "GXDP-2025-000001".into(),
                    product_name: h.into(),
                    business_entity_name: h.into(),
                    status: Status::Active,
                    registered_on: "2025-03-24".into(),
                }],
                page: Page {
                    number: 1,
                    count: 1,
                    total: 1,
                },
            };
            let page = products(&chrome(), &v);
            assert_text(&page, &visible(h));
            assert!(page.contains("&lt;b&gt;origin&lt;/b&gt;"));
            // The search string goes back into the form's value attribute escaped.
            assert!(page.contains("value=\""));
            let e = entry(
                &chrome(),
                &EntryView {
                    index: 3,
                    kind: EntryKind::ProductChanged,
                    time_ms: 0,
                    leaf_hash: "00".into(),
                    signer: h.into(),
                    fields: vec![(h.into(), h.into())],
                    proof_size: Some(4),
                },
            );
            assert_text(&e, &visible(h));
            let nf = not_found(&chrome(), h, h);
            assert_text(&nf, h);
            let cv = CertificateView {
                fields: vec![("数据产品名称", "Product name", h.into())],
                registration_no: "GXDP-2025-000001".into(),
                product_name: h.into(),
                status: Status::Suspended,
                status_index: 9,
                index: 8,
                leaf_hash: "ab".into(),
                verify_url: "http://127.0.0.1/products/GXDP-2025-000001?h=abababab".into(),
                qr_svg: String::new(),
                checkpoint_size: 10,
                log_vkey: h.into(),
                fingerprint: "0000 0000 0000 0000".into(),
                history: vec![],
                history_page: Page {
                    number: 1,
                    count: 1,
                    total: 0,
                },
            };
            assert_text(&certificate(&chrome(), &cv), &visible(h));
        }
    }

    #[test]
    fn closed_notices_show_their_outcome_and_open_ones_how_to_object() {
        let row = |name: &str,
                   days_left,
                   registration_no: Option<&str>,
                   outcome: Option<(&str, &str, &str)>| NoticeRow {
            product_id: format!("{name}-id"),
            product_name: name.into(),
            business_entity: "南宁出行科技有限公司".into(),
            approved_on: "2025-03-12".into(),
            opened_on: Date::parse("2025-03-13").unwrap(),
            last_day: Date::parse("2025-03-22").unwrap(),
            days_left,
            published_by: "广西数字运营有限公司（gx-operator）".into(),
            objections: vec![ObjectionRow {
                id: "OBJ-9".into(),
                filed_on: "2025-03-14".into(),
                outcome: outcome.map(|(a, b, c)| (a.into(), b.into(), c.into())),
            }],
            registration_no: registration_no.map(String::from),
            status: if registration_no.is_some() {
                Status::Active
            } else {
                Status::Approved
            },
        };
        let one = Page {
            number: 1,
            count: 1,
            total: 1,
        };
        let v = NoticesView {
            today: Date::parse("2025-03-20").unwrap(),
            notice_days: 10,
            open: vec![row(
                "公示中的产品",
                3,
                None,
                Some(("异议不成立（dismissed）", "2025-03-15", "已核实")),
            )],
            open_page: one,
            closed: vec![
                row(
                    "已登记的产品",
                    0,
                    Some("GXDP-2025-000009"),
                    Some(("异议不成立（dismissed）", "2025-03-19", "核实无误")),
                ),
                row("待处理的产品", 0, None, None),
            ],
            closed_page: one,
        };
        let html = notices(&chrome(), &v);
        assert!(html.contains("3 天"), "days left");
        assert!(
            html.contains("请于 <strong>2025-03-22</strong> 当日结束前"),
            "until when to object"
        );
        assert!(
            html.contains("广西数字运营有限公司（gx-operator）"),
            "to whom"
        );
        assert!(html
            .contains("已登记 <small>registered</small> <a href=\"/products/GXDP-2025-000009\">"));
        assert!(html.contains("异议不成立（dismissed）"));
        assert!(html.contains("异议处理中，暂不登记"), "a pending objection");
        assert!(html.contains("公示中，尚未登记"));
    }

    #[test]
    fn invisible_characters_are_shown_visibly() {
        assert_eq!(visible("a\u{202E}gnp.exe"), "a[U+202E]gnp.exe");
        assert_eq!(visible("零\u{200B}宽"), "零[U+200B]宽");
        assert_eq!(visible("第一行\n第二行"), "第一行\n第二行");
        let v = ProductsView {
            q: "x\u{202E}y".into(),
            status: None,
            rows: vec![],
            page: Page {
                number: 1,
                count: 1,
                total: 0,
            },
        };
        let page = products(&chrome(), &v);
        assert!(page.contains("x[U+202E]y"));
        // Only the form field keeps the raw string, so the search can be repeated.
        assert_eq!(page.matches('\u{202E}').count(), 1);
    }

    #[test]
    fn pages_cut_lists_and_clamp_the_number() {
        let (rows, p) = Page::of((0..45).collect::<Vec<_>>(), 3);
        assert_eq!(rows, (40..45).collect::<Vec<_>>());
        assert_eq!((p.number, p.count, p.total), (3, 3, 45));
        let (rows, p) = Page::of((0..45).collect::<Vec<_>>(), 99);
        assert_eq!((rows.len(), p.number), (5, 3));
        let (rows, p) = Page::of(Vec::<u8>::new(), 0);
        assert_eq!((rows.len(), p.number, p.count), (0, 1, 1));
    }

    #[test]
    fn query_strings_are_percent_encoded() {
        assert_eq!(
            href(
                "/products",
                &[("q", "a&b=c 数".into()), ("status", String::new())]
            ),
            "/products?q=a%26b%3Dc%20%E6%95%B0"
        );
        assert_eq!(
            china_time(1_740_967_200_000),
            "2025-03-03 10:00:00（北京时间 UTC+8）"
        );
    }
}
