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

mod lists;
mod products;
pub use lists::*;
pub use products::*;

#[cfg(test)]
mod tests;
