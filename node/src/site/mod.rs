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
mod products;
use assets::{verify_js, verify_wasm};
use lists::{agreements, entry, notices, resources};
use products::{bundle_json, certificate, certificate_pdf, overview, products, tlog_proof};
mod lists;
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
use regledger::registry::calendar::Date;
use regledger::registry::{product_by_registration_no, EntryKind, StateObject, Status};

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

#[cfg(test)]
mod tests;
