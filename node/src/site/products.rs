//! The site's handlers for the products: the overview, the product list,
//! the certificate page, its PDF, its bundle and its tlog-proof.

use super::*;

pub(super) async fn overview(State(s): State<Arc<Site>>) -> Response {
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
pub(super) fn parse_status(v: &str) -> Option<Status> {
    pages::PRODUCT_FILTERS
        .into_iter()
        .find(|s| s.name() == v || s.label_zh() == v)
}

pub(super) async fn products(State(s): State<Arc<Site>>, Query(q): Q) -> Response {
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

pub(super) async fn certificate(
    State(s): State<Arc<Site>>,
    Path(no): Path<String>,
    Query(q): Q,
) -> Response {
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

pub(super) async fn certificate_pdf(
    State(s): State<Arc<Site>>,
    Path(no): Path<String>,
) -> Response {
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

pub(super) async fn bundle_json(State(s): State<Arc<Site>>, Path(no): Path<String>) -> Response {
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

pub(super) async fn tlog_proof(State(s): State<Arc<Site>>, Path(no): Path<String>) -> Response {
    if let Err(r) = registered(&s, &no) {
        return r;
    }
    match crate::http::registry::bundle_for(&s.app, &no).await {
        Ok(b) => crate::http::registry::tlog_proof_of(b),
        Err(r) => r,
    }
}
