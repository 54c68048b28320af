//! The pages of the products: the overview, the product list and the
//! certificate.

use super::*;

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
