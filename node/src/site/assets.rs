//! The site's own assets, compiled into the binary: no page loads
//! anything from elsewhere.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// CSS is the inline stylesheet of every page (its print rules lay the
/// certificate out on A4).
pub const CSS: &str = include_str!("assets/site.css");

/// VERIFY_JS loads the certificate check and shows its verdict.
pub const VERIFY_JS: &str = include_str!("assets/verify.js");

/// VERIFY_WASM is `web/verify-wasm` built for wasm32-unknown-unknown by
/// `web/verify-wasm/build.sh` (committed, checked by CI; decision D16).
pub const VERIFY_WASM: &[u8] =
    include_bytes!("../../../web/verify-wasm/dist/regledger_web_verify.wasm");

/// CSP is the content security policy of every page: scripts and the
/// wasm only from the site itself, no inline script, nothing from
/// elsewhere, so a string that escaped escaping still could not run.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Asset is a static asset with its entity tag and, computed once, its gzip form.
pub(super) struct Asset {
    bytes: &'static [u8],
    media_type: &'static str,
    etag: std::sync::OnceLock<(String, Vec<u8>)>,
}

static JS: Asset = Asset {
    bytes: VERIFY_JS.as_bytes(),
    media_type: "text/javascript; charset=utf-8",
    etag: std::sync::OnceLock::new(),
};
pub(super) static WASM: Asset = Asset {
    bytes: VERIFY_WASM,
    media_type: "application/wasm",
    etag: std::sync::OnceLock::new(),
};

/// asset answers a static asset: revalidated on every visit (no-cache), a
/// 304 when the visitor's copy is current, gzip-compressed when accepted
/// (the verifier's wasm is a third of its size so, on a phone's mobile data).
pub(super) fn asset(a: &'static Asset, req: &axum::http::HeaderMap) -> Response {
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

pub(super) async fn verify_js(req: axum::http::HeaderMap) -> Response {
    asset(&JS, &req)
}

pub(super) async fn verify_wasm(req: axum::http::HeaderMap) -> Response {
    asset(&WASM, &req)
}
