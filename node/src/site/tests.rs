//! Flags of the site and the parsing of its query parameters.

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
