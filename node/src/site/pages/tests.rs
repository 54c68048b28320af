//! Every page escapes what it shows and keeps its layout.

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
    assert!(
        html.contains("已登记 <small>registered</small> <a href=\"/products/GXDP-2025-000009\">")
    );
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
