//! The public disclosure site (社会监督), served at `/` by the node and by a
//! venue's mirror from its verified copy: the log overview, the product
//! catalogue, each product's certificate page (which verifies itself in
//! the visitor's browser), the certificate PDF with its QR code, public
//! notices, agreements and the resource catalogue. Paths are in
//! CONTRACT.md; what the site shows and does not protect against is in
//! docs/public-site.md; why it is built this way is decision D16.
//!
//! Layout: [`pages`] renders (pure: view models in, HTML out), [`data`]
//! builds view models from a store snapshot through the allow-list in
//! [`disclose`], [`pdf`] and [`qr`] make the printable certificate,
//! [`assets`] holds the CSS, the loader script and the verifier's wasm.

pub mod assets;
pub mod data;
pub mod disclose;
pub mod pages;
pub mod pdf;
pub mod qr;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::registry::calendar::Date;
use regledger::registry::{product_by_registration_no, EntryKind, StateObject, Status};
use regledger::tlog::tlog_proof::TlogProof;
use regledger::Hash;

use crate::http::App;
use data::Reader;
use pages::{Chrome, Page};

/// SiteArgs are the public site's flags (on `serve` and `mirror`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SiteArgs {
    /// Public base URL of this node as visitors reach it, e.g.
    /// https://ledger.example.gov.cn: printed certificates' QR codes lead
    /// there. Default: http://<listen address>.
    #[arg(long, env = "REGLEDGER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// CJK font (TrueType/OpenType file or collection) for certificate
    /// PDFs. Default: the first of Debian's fonts-wqy-microhei,
    /// fonts-wqy-zenhei, fonts-noto-cjk that is installed.
    #[arg(long, env = "REGLEDGER_CJK_FONT")]
    pub cjk_font: Option<PathBuf>,
}

/// MAX_QUERY_CHARS bounds a catalogue search string.
pub const MAX_QUERY_CHARS: usize = 100;

/// Site is the public site's state.
pub struct Site {
    app: Arc<App>,
    public_url: String,
    mirror_of: Option<String>,
    font: Result<pdf::Font, String>,
    notice_days: u32,
}

/// public_url checks `--public-url` or derives it from the listen address.
pub fn public_url(given: Option<&str>, listen: SocketAddr) -> Result<String, String> {
    let Some(u) = given else {
        let host = if listen.ip().is_unspecified() {
            tracing::warn!(
                "--public-url not set and listening on {listen}: certificates' QR codes will lead to 127.0.0.1; set --public-url"
            );
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), listen.port())
        } else {
            listen
        };
        return Ok(format!("http://{host}"));
    };
    let u = u.trim_end_matches('/');
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| format!("--public-url {u:?}: want an http(s) URL"))?;
    if rest.is_empty()
        || u.len() > 120
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:/[]@%".contains(&b))
    {
        return Err(format!(
            "--public-url {u:?}: want scheme://host[:port][/path], at most 120 ASCII characters, no query or fragment"
        ));
    }
    Ok(u.to_string())
}

/// routes builds the site's routes over the node's (or mirror's) app.
/// `mirror_of` is the upstream a mirror follows.
pub fn routes(
    app: Arc<App>,
    args: &SiteArgs,
    listen: SocketAddr,
    mirror_of: Option<String>,
) -> Result<Router, String> {
    let public_url = public_url(args.public_url.as_deref(), listen)?;
    // An explicit font that cannot be used is a usage error; a missing
    // default only disables the PDF (which then says why).
    let font = pdf::Font::find(args.cjk_font.as_deref());
    match (&font, &args.cjk_font) {
        (Err(e), Some(_)) => return Err(format!("--cjk-font: {e}")),
        (Err(e), None) => tracing::warn!("certificate PDFs disabled: {e}"),
        (Ok(f), _) => {
            tracing::info!(font = %f.path.display(), "certificate PDFs use this CJK font")
        }
    }
    let notice_days = regledger::registry::profile::profile(&app.descriptor.profile)
        .map_or(10, |p| p.notice_natural_days);
    let site = Arc::new(Site {
        app,
        public_url,
        mirror_of,
        font,
        notice_days,
    });
    Ok(Router::new()
        .route("/", get(overview))
        .route("/products", get(products))
        .route("/products/{no}", get(certificate))
        .route("/products/{no}/certificate.pdf", get(certificate_pdf))
        .route("/products/{no}/bundle.json", get(bundle_json))
        .route("/products/{no}/tlog-proof", get(tlog_proof))
        .route("/notices", get(notices))
        .route("/agreements", get(agreements))
        .route("/resources", get(resources))
        .route("/entries/{index}", get(entry))
        .route("/assets/verify.js", get(verify_js))
        .route("/assets/regledger_web_verify.wasm", get(verify_wasm))
        .with_state(site))
}

/// Q is the query string (form decoding is lenient: it does not fail on bad input).
type Q = Query<HashMap<String, String>>;

impl Site {
    fn chrome(&self) -> Chrome {
        Chrome {
            origin: self.app.descriptor.origin.clone(),
            mirror_of: self.mirror_of.clone(),
        }
    }

    fn html(&self, status: StatusCode, body: String) -> Response {
        let mut r = (status, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(assets::CSP),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    }

    fn not_found(&self, zh: &str, en: &str) -> Response {
        self.html(
            StatusCode::NOT_FOUND,
            pages::not_found(&self.chrome(), zh, en),
        )
    }

    fn bad_request(&self, zh: &str, en: &str) -> Response {
        self.html(
            StatusCode::BAD_REQUEST,
            pages::error_page(&self.chrome(), "请求有误", "Bad request (400)", zh, en),
        )
    }

    fn unavailable(&self, e: impl std::fmt::Display) -> Response {
        let mut r = self.html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::error_page(
                &self.chrome(),
                "暂时无法访问",
                "Unavailable (503)",
                "存储暂时不可用，请稍后重试。",
                &format!("Storage unavailable, retry shortly: {e}"),
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    }

    fn latest(&self) -> crate::log::publisher::Published {
        self.app.latest.read().expect("lock").clone()
    }

    /// product looks a 登记号 up: the product, or the Chinese 404 page.
    fn product(
        &self,
        rd: &Reader,
        no: &str,
    ) -> Result<regledger::registry::ProductState, Response> {
        let missing = || {
            self.not_found(
                &format!("没有登记号为 {no} 的数据产品。"),
                &format!("No data product is registered under {no}."),
            )
        };
        if regledger::registry::ident::check_registration_no(no).is_err() {
            return Err(missing());
        }
        match product_by_registration_no(rd.view, no) {
            Some(p) if p.registration.is_some() => Ok(p),
            _ => Err(missing()),
        }
    }
}

fn today() -> Date {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Date::from_unix_ms(ms).expect("a date after 1970")
}

/// page_param reads a page number (absent: 1).
fn page_param(s: &Site, q: &HashMap<String, String>, name: &str) -> Result<usize, Response> {
    match q.get(name).map(String::as_str) {
        None | Some("") => Ok(1),
        Some(v) => regledger::tlog::checkpoint::parse_size(v)
            .filter(|n| (1..=1_000_000).contains(n))
            .map(|n| n as usize)
            .ok_or_else(|| {
                s.bad_request(
                    &format!("页码 {name} 须为正整数。"),
                    &format!("{name} must be a page number (1, 2, …)."),
                )
            }),
    }
}

async fn overview(State(s): State<Arc<Site>>) -> Response {
    let cp = s.latest();
    let view = match s.app.store.read() {
        Ok(v) => v,
        Err(e) => return s.unavailable(e),
    };
    let rd = Reader { view: &view };
    let d = &s.app.descriptor;
    let (size, root_b64) = data::checkpoint_parts(&cp.note).unwrap_or((0, String::new()));
    let latest_entry_ms = match size.checked_sub(1).map(|i| rd.leaf(i)) {
        Some(Ok(Some((l, _, _)))) => Some(l.integrated_time_ms),
        Some(Err(e)) => return s.unavailable(e),
        _ => None,
    };
    // The cosignatures that verify with log.json's witness keys (quorum 0:
    // show what there is).
    let verified = regledger::tlog::checkpoint::open_witnessed_checkpoint(
        cp.note.as_bytes(),
        &d.log_key,
        &d.witnesses,
        0,
    )
    .map(|v| v.opened.verified)
    .unwrap_or_default();
    let witnesses = d
        .witnesses
        .iter()
        .map(|w| pages::WitnessView {
            name: w.name().to_string(),
            vkey: w.to_vkey(),
            cosigned_at: verified
                .iter()
                .find(|sig| sig.name == w.name() && sig.key_id == w.key_id())
                .and_then(regledger::tlog::cosignature::cosignature_timestamp),
        })
        .collect();
    let products = match rd.products() {
        Ok(p) => p,
        Err(e) => return s.unavailable(e),
    };
    let today = today();
    let open_notices = products
        .iter()
        .filter(|p| {
            p.notice_opened_on.is_some_and(|o| {
                o.add_days(i64::from(s.notice_days) - 1)
                    .is_some_and(|last| today <= last)
            })
        })
        .count();
    let vkey = d.log_key.to_vkey();
    let v = pages::OverviewView {
        size,
        root_b64,
        latest_entry_ms,
        checkpoint: cp.note.clone(),
        fingerprint: regledger_web_verify::fingerprint(&vkey),
        log_vkey: vkey,
        hash: d.suite.name().to_string(),
        profile: d.profile.clone(),
        quorum: d.quorum,
        witnesses,
        products: products.iter().filter(|p| p.registration.is_some()).count(),
        open_notices,
        public_url: s.public_url.clone(),
    };
    s.html(StatusCode::OK, pages::overview(&s.chrome(), &v))
}

/// parse_status reads a catalogue status filter: a name or its Chinese label.
fn parse_status(v: &str) -> Option<Status> {
    pages::PRODUCT_FILTERS
        .into_iter()
        .find(|s| s.name() == v || s.label_zh() == v)
}

async fn products(State(s): State<Arc<Site>>, Query(q): Q) -> Response {
    let text = q.get("q").map(|x| x.trim().to_string()).unwrap_or_default();
    if text.chars().count() > MAX_QUERY_CHARS {
        return s.bad_request(
            &format!("搜索词最多 {MAX_QUERY_CHARS} 个字符。"),
            &format!("A search string has at most {MAX_QUERY_CHARS} characters."),
        );
    }
    let status = match q.get("status").map(String::as_str) {
        None | Some("") => None,
        Some(v) => match parse_status(v) {
            Some(st) => Some(st),
            None => {
                return s.bad_request(
                    "状态须为 有效、暂停、已撤销登记 或 已注销登记。",
                    "status must be active, suspended, revoked or deregistered.",
                )
            }
        },
    };
    let page = match page_param(&s, &q, "page") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let view = match s.app.store.read() {
        Ok(v) => v,
        Err(e) => return s.unavailable(e),
    };
    let rd = Reader { view: &view };
    let mut all = match rd.products() {
        Ok(p) => p,
        Err(e) => return s.unavailable(e),
    };
    // Newest registration first.
    all.sort_by_key(|p| std::cmp::Reverse(p.registration.as_ref().map_or(0, |r| r.index)));
    let rows: Vec<_> = all
        .iter()
        .filter_map(data::product_row)
        .filter(|r| data::matches(r, &text, status))
        .collect();
    let (rows, page) = Page::of(rows, page);
    let v = pages::ProductsView {
        q: text,
        status,
        rows,
        page,
    };
    s.html(StatusCode::OK, pages::products(&s.chrome(), &v))
}

async fn certificate(State(s): State<Arc<Site>>, Path(no): Path<String>, Query(q): Q) -> Response {
    let page = match page_param(&s, &q, "page") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let cp = s.latest();
    let view = match s.app.store.read() {
        Ok(v) => v,
        Err(e) => return s.unavailable(e),
    };
    let rd = Reader { view: &view };
    let p = match s.product(&rd, &no) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let reg = p.registration.as_ref().expect("registered");
    let ix = match rd.history(&p) {
        Ok(ix) => ix,
        Err(e) => return s.unavailable(e),
    };
    let (ix, history_page) = Page::of(ix, page);
    let history = match rd.history_rows(&ix, cp.size) {
        Ok(h) => h,
        Err(e) => return s.unavailable(e),
    };
    let d = &s.app.descriptor;
    let (bno, lh) = match rd.blockchain_no(&d.origin, d.suite, reg.index) {
        Ok(x) => x,
        Err(e) => return s.unavailable(e),
    };
    let verify_url = qr::verify_url(&s.public_url, &no, &lh.to_hex());
    let qr_svg = match qr::encode(&verify_url) {
        Ok(m) => m.svg("9rem", &no),
        Err(e) => return s.unavailable(e),
    };
    let vkey = s.app.descriptor.log_key.to_vkey();
    let fields = data::certificate_fields(&p, &bno);
    let product_name = fields
        .iter()
        .find(|f| f.0 == "数据产品名称")
        .map(|f| f.2.clone())
        .unwrap_or_default();
    let v = pages::CertificateView {
        fields,
        registration_no: no.clone(),
        product_name,
        status: p.status,
        status_index: p.status_index,
        index: reg.index,
        leaf_hash: lh.to_hex(),
        verify_url,
        qr_svg,
        checkpoint_size: cp.size,
        fingerprint: regledger_web_verify::fingerprint(&vkey),
        log_vkey: vkey,
        history,
        history_page,
    };
    s.html(StatusCode::OK, pages::certificate(&s.chrome(), &v))
}

async fn certificate_pdf(State(s): State<Arc<Site>>, Path(no): Path<String>) -> Response {
    let font = match &s.font {
        Ok(f) => f,
        Err(e) => {
            return s.html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::error_page(
                    &s.chrome(),
                    "证书 PDF 暂不可用",
                    "Certificate PDF unavailable",
                    "本站未安装中文字体，无法生成证书 PDF；证书页与证书包不受影响。请管理员安装 fonts-wqy-microhei 或 fonts-noto-cjk，或以 --cjk-font 指定字体。",
                    &format!("No CJK font on this server, so no PDF; the certificate page and bundle are unaffected. {e}"),
                ),
            )
        }
    };
    let (p, fields, lh) = {
        let view = match s.app.store.read() {
            Ok(v) => v,
            Err(e) => return s.unavailable(e),
        };
        let rd = Reader { view: &view };
        match s.product(&rd, &no) {
            Ok(p) => {
                let d = &s.app.descriptor;
                let index = p.registration.as_ref().map_or(0, |r| r.index);
                let (bno, lh) = match rd.blockchain_no(&d.origin, d.suite, index) {
                    Ok(x) => x,
                    Err(e) => return s.unavailable(e),
                };
                let f = data::certificate_fields(&p, &bno);
                (p, f, lh)
            }
            Err(r) => return r,
        }
    };
    let bundle = match crate::http::registry::bundle_for(&s.app, &no).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (size, root) = data::checkpoint_parts(&bundle.checkpoint).unwrap_or_default();
    let verify_url = qr::verify_url(&s.public_url, &no, &lh.to_hex());
    let qr = match qr::encode(&verify_url) {
        Ok(m) => m,
        Err(e) => return s.unavailable(e),
    };
    let vkey = s.app.descriptor.log_key.to_vkey();
    let st = parse_status(&bundle.status.state).unwrap_or(p.status);
    let c = pdf::Certificate {
        fields: fields
            .into_iter()
            .map(|(z, e, v)| (z.to_string(), e.to_string(), v))
            .collect(),
        status: format!(
            "{} {}（由条目 {} 设定 set by entry {}）",
            st.label_zh(),
            pages::status_en(st),
            bundle.status.set_by_index,
            bundle.status.set_by_index
        ),
        checkpoint: format!("size {size}，root {root}"),
        origin: s.app.descriptor.origin.clone(),
        fingerprint: regledger_web_verify::fingerprint(&vkey),
        log_vkey: vkey,
        issued_on: today().to_string(),
        verify_url,
        qr,
    };
    match pdf::render(font, &c) {
        Ok(bytes) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{no}.pdf\""),
                ),
                (header::CACHE_CONTROL, "no-cache".to_string()),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => s.unavailable(e),
    }
}

/// registered answers the Chinese 404 page unless `no` is a registered product.
fn registered(s: &Site, no: &str) -> Result<(), Response> {
    let view = s.app.store.read().map_err(|e| s.unavailable(e))?;
    s.product(&Reader { view: &view }, no).map(|_| ())
}

async fn bundle_json(State(s): State<Arc<Site>>, Path(no): Path<String>) -> Response {
    if let Err(r) = registered(&s, &no) {
        return r;
    }
    match crate::http::registry::bundle_for(&s.app, &no).await {
        Ok(b) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            serde_json::to_string(&b).expect("bundle json"),
        )
            .into_response(),
        Err(r) => r,
    }
}

async fn tlog_proof(State(s): State<Arc<Site>>, Path(no): Path<String>) -> Response {
    if let Err(r) = registered(&s, &no) {
        return r;
    }
    let b = match crate::http::registry::bundle_for(&s.app, &no).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let proof = b
        .entry
        .inclusion_proof
        .iter()
        .filter_map(|h| B64.decode(h).ok().and_then(|x| Hash::from_slice(&x)))
        .collect();
    let p = TlogProof {
        extra: None,
        index: b.entry.index,
        proof,
        checkpoint: b.checkpoint,
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        p.to_text(),
    )
        .into_response()
}

async fn notices(State(s): State<Arc<Site>>, Query(q): Q) -> Response {
    let (open_n, closed_n) = match (page_param(&s, &q, "open"), page_param(&s, &q, "closed")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let view = match s.app.store.read() {
        Ok(v) => v,
        Err(e) => return s.unavailable(e),
    };
    let rd = Reader { view: &view };
    let today = today();
    let rows = (|| {
        let objections: Vec<_> = rd
            .objects("objection/")?
            .into_iter()
            .filter_map(|o| match o {
                StateObject::Objection(o) => Some(o),
                _ => None,
            })
            .collect();
        let mut rows = Vec::new();
        for p in rd.products()? {
            if let Some(r) = data::notice_row(&rd, &p, &objections, today, s.notice_days)? {
                rows.push(r);
            }
        }
        Ok::<_, crate::store::StoreError>(rows)
    })();
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return s.unavailable(e),
    };
    let (mut open, mut closed): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.days_left > 0);
    open.sort_by(|a, b| (a.last_day, &a.product_id).cmp(&(b.last_day, &b.product_id)));
    closed.sort_by(|a, b| (b.last_day, &b.product_id).cmp(&(a.last_day, &a.product_id)));
    let (open, open_page) = Page::of(open, open_n);
    let (closed, closed_page) = Page::of(closed, closed_n);
    let v = pages::NoticesView {
        today,
        notice_days: s.notice_days,
        open,
        open_page,
        closed,
        closed_page,
    };
    s.html(StatusCode::OK, pages::notices(&s.chrome(), &v))
}

async fn agreements(State(s): State<Arc<Site>>, Query(q): Q) -> Response {
    let (page, cpage) = match (page_param(&s, &q, "page"), page_param(&s, &q, "cpage")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let view = match s.app.store.read() {
        Ok(v) => v,
        Err(e) => return s.unavailable(e),
    };
    let rd = Reader { view: &view };
    let (agreements, credentials) = match (rd.objects("agreement/"), rd.objects("credential/")) {
        (Ok(a), Ok(c)) => (a, c),
        (Err(e), _) | (_, Err(e)) => return s.unavailable(e),
    };
    let rows: Vec<_> = agreements
        .iter()
        .filter_map(|o| match o {
            StateObject::Agreement(a) => Some(data::agreement_row(&rd, a)),
            _ => None,
        })
        .collect();
    let creds: Vec<_> = credentials
        .iter()
        .filter_map(|o| match o {
            StateObject::Credential(c) => Some(data::credential_row(c)),
            _ => None,
        })
        .collect();
    let (rows, page) = Page::of(rows, page);
    let (credentials, credentials_page) = Page::of(creds, cpage);
    let v = pages::AgreementsView {
        rows,
        page,
        credentials,
        credentials_page,
    };
    s.html(StatusCode::OK, pages::agreements(&s.chrome(), &v))
}

async fn resources(State(s): State<Arc<Site>>, Query(q): Q) -> Response {
    let page = match page_param(&s, &q, "page") {
        Ok(p) => p,
        Err(r) => return r,
    };
    let view = match s.app.store.read() {
        Ok(v) => v,
        Err(e) => return s.unavailable(e),
    };
    let rd = Reader { view: &view };
    let objs = match rd.objects("resource/") {
        Ok(o) => o,
        Err(e) => return s.unavailable(e),
    };
    let rows: Vec<_> = objs
        .iter()
        .filter_map(|o| match o {
            StateObject::Resource(r) => Some(data::resource_row(&rd, r)),
            _ => None,
        })
        .collect();
    let (rows, page) = Page::of(rows, page);
    s.html(
        StatusCode::OK,
        pages::resources(&s.chrome(), &pages::ResourcesView { rows, page }),
    )
}

async fn entry(State(s): State<Arc<Site>>, Path(index): Path<String>) -> Response {
    let missing = || {
        s.not_found(
            &format!("日志中没有条目 {index}。"),
            &format!("The log has no entry {index}."),
        )
    };
    let Some(i) = regledger::tlog::checkpoint::parse_size(&index) else {
        return missing();
    };
    let cp = s.latest();
    let view = match s.app.store.read() {
        Ok(v) => v,
        Err(e) => return s.unavailable(e),
    };
    let rd = Reader { view: &view };
    let (leaf, bytes, env) = match rd.leaf(i) {
        Ok(Some(x)) => x,
        Ok(None) => return missing(),
        Err(e) => return s.unavailable(e),
    };
    let Some(kind) = env.kind_name().ok().and_then(EntryKind::from_name) else {
        return missing();
    };
    let v = pages::EntryView {
        index: i,
        kind,
        time_ms: leaf.integrated_time_ms,
        leaf_hash: s.app.descriptor.suite.leaf_hash(&bytes).to_hex(),
        signer: rd.signer_name(&env),
        fields: data::entry_fields(kind, &env.payload),
        proof_size: (i < cp.size).then_some(cp.size),
    };
    s.html(StatusCode::OK, pages::entry(&s.chrome(), &v))
}

/// Asset is a static asset with its entity tag and, computed once, its gzip form.
struct Asset {
    bytes: &'static [u8],
    media_type: &'static str,
    etag: std::sync::OnceLock<(String, Vec<u8>)>,
}

static JS: Asset = Asset {
    bytes: assets::VERIFY_JS.as_bytes(),
    media_type: "text/javascript; charset=utf-8",
    etag: std::sync::OnceLock::new(),
};
static WASM: Asset = Asset {
    bytes: assets::VERIFY_WASM,
    media_type: "application/wasm",
    etag: std::sync::OnceLock::new(),
};

/// asset answers a static asset: revalidated on every visit (no-cache), a
/// 304 when the visitor's copy is current, gzip-compressed when accepted
/// (the verifier's wasm is a third of its size so, on a phone's mobile data).
fn asset(a: &'static Asset, req: &axum::http::HeaderMap) -> Response {
    let (etag, gz) = a.etag.get_or_init(|| {
        let h = regledger::HashSuite::Sha256.digest(&[a.bytes]).to_hex();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut e, a.bytes).expect("in memory");
        (format!("\"{}\"", &h[..16]), e.finish().expect("in memory"))
    });
    let mut r = if req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else if req
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().starts_with("gzip")))
    {
        let mut r = (StatusCode::OK, gz.clone()).into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        (StatusCode::OK, a.bytes).into_response()
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.media_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    r
}

async fn verify_js(req: axum::http::HeaderMap) -> Response {
    asset(&JS, &req)
}

async fn verify_wasm(req: axum::http::HeaderMap) -> Response {
    asset(&WASM, &req)
}

#[cfg(test)]
mod tests;
