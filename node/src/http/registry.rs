//! The registry's read side: certificate bundles (`GET
//! /v1/certificates/{no}`, also as C2SP tlog-proof), registry objects
//! (participants, resources, agreements, products) and the subject index
//! (`GET /v1/entries?subject=`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::cert::assemble::assemble;
use regledger::cert::bundle::EntryProof;
use regledger::cert::status::StatusKind;
use regledger::registry::{StateKey, StateReader};
use regledger::tlog::tlog_proof::TlogProof;
use regledger::Hash;
use serde_json::json;

use super::{internal, json_ok, problem, unavailable, App, PathParam, QueryMap, WAIT_TIMEOUT};

pub(super) async fn entries_by_subject(
    State(app): State<Arc<App>>,
    QueryMap(q): QueryMap,
) -> Response {
    let Some(subject) = q.get("subject") else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Missing subject",
            "use /v1/entries?subject=ID",
        );
    };
    if subject.len() > 256 {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Bad subject",
            "subject longer than 256 bytes",
        );
    }
    match app.store.read().and_then(|v| v.subjects(subject, 10_000)) {
        Ok(ix) => json_ok(json!({"subject": subject, "indexes": ix})),
        Err(e) => internal(e),
    }
}

/// bundle_for assembles the certificate bundle at a checkpoint covering every entry it needs.
pub(crate) async fn bundle_for(
    app: &Arc<App>,
    no: &str,
) -> Result<regledger::cert::bundle::CertificateBundle, Response> {
    const TRIES: usize = 5;
    for tries in 0..TRIES {
        let cp = app.latest.read().expect("lock").clone();
        // A v2 bundle is made from the snapshot at the served checkpoint,
        // with the status proof of its 登记号 (D15); without one (a log
        // whose last leaf is v1, or no snapshot yet) a v1 bundle from the
        // current state, which cannot show that the status is current.
        let pinned = app
            .store
            .pinned()
            .filter(|v| cp.size > 0 && v.size().ok() == Some(cp.size));
        // A fresh bundle shows the certificate's latest status: if an entry
        // after the checkpoint set it (or registered it), wait for the
        // checkpoint that covers it, as before the snapshot (the last try
        // serves the status as of the checkpoint, proven).
        if pinned.is_some() && tries + 1 < TRIES {
            let newer = app.store.read().ok().and_then(|v| {
                regledger::registry::product_by_registration_no(&v, no)
                    .map(|p| p.status_index >= cp.size)
            });
            if newer == Some(true) {
                let mut w = app.published.clone();
                let target = cp.size;
                let _ = tokio::time::timeout(WAIT_TIMEOUT, w.wait_for(|s| *s > target)).await;
                continue;
            }
        }
        let proof = pinned.as_ref().and_then(|v| {
            super::status::prove_at(app, v, &cp.note, cp.size, StatusKind::Product, no).ok()
        });
        let fresh;
        let view: &crate::store::ReadTx = match (&pinned, &proof) {
            (Some(v), Some(_)) => v,
            _ => {
                fresh = app.store.read().map_err(internal)?;
                &fresh
            }
        };
        let suite = app.descriptor.suite;
        let too_new = std::cell::Cell::new(false);
        // A failure to read or prove an entry the certificate needs is the
        // store's, never "no such certificate": a damaged archived bundle
        // answers 500 damaged-tile naming the file (D29), a store that
        // cannot be read 503.
        let failed: std::cell::RefCell<Option<Response>> = Default::default();
        let r = {
            let fail = |r: Response, why: String| {
                failed.borrow_mut().get_or_insert(r);
                why
            };
            let store_failed = |e: crate::store::StoreError| {
                let why = e.to_string();
                fail(super::store_failure(e, unavailable), why)
            };
            assemble(
                &app.descriptor.origin,
                view,
                no,
                &cp.note,
                |i| {
                    if i >= cp.size {
                        too_new.set(true);
                        return Err("entry not yet covered by a checkpoint".into());
                    }
                    let leaf = view
                        .leaf(i)
                        .map_err(store_failed)?
                        .ok_or_else(|| fail(internal("missing leaf"), "missing leaf".into()))?;
                    let envelope = view.envelope(i).map_err(store_failed)?;
                    // A tree that cannot prove an entry it holds is an
                    // internal error, not a retry.
                    let p = view
                        .inclusion_proof(suite, cp.size, i)
                        .map_err(|e| match e {
                            crate::store::StoreError::Tree(t) => fail(internal(&t), t.to_string()),
                            e => store_failed(e),
                        })?;
                    Ok(EntryProof {
                        index: i,
                        leaf: B64.encode(leaf),
                        inclusion_proof: p.iter().map(|h| B64.encode(h.0)).collect(),
                        envelope: envelope.map(|e| B64.encode(e)),
                    })
                },
                proof,
            )
        };
        if let Some(r) = failed.into_inner() {
            return Err(r);
        }
        // The snapshot is at the served checkpoint: a certificate registered
        // after it is there once the next checkpoint is.
        let after_checkpoint = r.is_err()
            && pinned.is_some()
            && app.store.head().map(|h| h.size > cp.size).unwrap_or(false);
        match r {
            Ok(b) => return Ok(b),
            Err(_) if too_new.get() || after_checkpoint => {
                let mut w = app.published.clone();
                let target = cp.size;
                let _ = tokio::time::timeout(WAIT_TIMEOUT, w.wait_for(|s| *s > target)).await;
            }
            Err(e) => {
                return Err(problem(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "No such certificate",
                    e.to_string(),
                ))
            }
        }
    }
    Err(problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "checkpoint-pending",
        "Not yet checkpointed",
        "retry in a moment",
    ))
}

pub(super) async fn certificate(
    State(app): State<Arc<App>>,
    PathParam(no): PathParam,
    QueryMap(q): QueryMap,
) -> Response {
    if q.get("format").map(String::as_str) == Some("tlog-proof") {
        return certificate_tlog_proof(State(app), PathParam(no)).await;
    }
    match bundle_for(&app, &no).await {
        Ok(b) => json_ok(serde_json::to_value(&b).expect("bundle json")),
        Err(r) => r,
    }
}

pub(super) async fn certificate_tlog_proof(
    State(app): State<Arc<App>>,
    PathParam(no): PathParam,
) -> Response {
    match bundle_for(&app, &no).await {
        Ok(b) => tlog_proof_of(b),
        Err(r) => r,
    }
}

/// tlog_proof_of answers a certificate's registering entry as a C2SP
/// tlog-proof (the API's `?format=tlog-proof` and the site's
/// `/products/{no}/tlog-proof`).
pub(crate) fn tlog_proof_of(b: regledger::cert::bundle::CertificateBundle) -> Response {
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

pub(super) async fn object(
    State(app): State<Arc<App>>,
    PathParam(id): PathParam,
    what: &'static str,
) -> Response {
    let key = match what {
        "participant" => StateKey::Participant(id.clone()),
        "resource" => StateKey::Resource(id.clone()),
        "agreement" => StateKey::Agreement(id.clone()),
        _ => StateKey::Product(id.clone()),
    };
    let view = match app.store.read() {
        Ok(v) => v,
        Err(e) => return unavailable(e),
    };
    match view.get(&key) {
        Some(o) => json_ok(serde_json::to_value(o).expect("state json")),
        None => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not registered",
            format!("no {what} {id:?}"),
        ),
    }
}
