//! The site's handlers for the other disclosures: notices and objections,
//! agreements with their credentials, resources, and one entry.

use super::*;

pub(super) async fn notices(State(s): State<Arc<Site>>, Query(q): Q) -> Response {
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

pub(super) async fn agreements(State(s): State<Arc<Site>>, Query(q): Q) -> Response {
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

pub(super) async fn resources(State(s): State<Arc<Site>>, Query(q): Q) -> Response {
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

pub(super) async fn entry(State(s): State<Arc<Site>>, Path(index): Path<String>) -> Response {
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
