//! Flags of the site and the parsing of its query parameters.

use super::assets::{asset, WASM};
use super::products::parse_status;
use super::*;

#[test]
fn the_public_url_defaults_to_the_listen_address_and_is_checked() {
    let l: SocketAddr = "127.0.0.1:8470".parse().unwrap();
    assert_eq!(public_url(None, l).unwrap(), "http://127.0.0.1:8470");
    let any: SocketAddr = "0.0.0.0:9000".parse().unwrap();
    assert_eq!(public_url(None, any).unwrap(), "http://127.0.0.1:9000");
    assert_eq!(
        public_url(Some("https://ledger.example.gov.cn/"), l).unwrap(),
        "https://ledger.example.gov.cn"
    );
    for bad in [
        "ledger.example.gov.cn",
        "ftp://x",
        "https://",
        "https://x/?q=1",
        "https://x/#f",
        "https://例子.cn",
        "https://x\"><script>",
    ] {
        assert!(public_url(Some(bad), l).is_err(), "{bad}");
    }
}

#[test]
fn status_filters_take_names_and_chinese_labels() {
    assert_eq!(parse_status("active"), Some(Status::Active));
    assert_eq!(parse_status("暂停"), Some(Status::Suspended));
    assert_eq!(parse_status("已撤销登记"), Some(Status::Revoked));
    assert_eq!(parse_status("deregistered"), Some(Status::Deregistered));
    assert_eq!(parse_status("approved"), None);
    assert_eq!(parse_status("<script>"), None);
}

#[test]
fn assets_are_revalidated_and_gzipped_when_accepted() {
    use axum::http::HeaderMap;
    let plain = asset(&WASM, &HeaderMap::new());
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let etag = plain.headers()[header::ETAG].clone();
    let mut h = HeaderMap::new();
    h.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("br, gzip;q=0.8"),
    );
    let gz = asset(&WASM, &h);
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(gz.headers()[header::CONTENT_TYPE], "application/wasm");
    h.insert(header::IF_NONE_MATCH, etag);
    assert_eq!(asset(&WASM, &h).status(), StatusCode::NOT_MODIFIED);
    h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
    assert_eq!(asset(&WASM, &h).status(), StatusCode::OK);
}
