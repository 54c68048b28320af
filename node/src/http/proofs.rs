//! Entries and proofs: `GET /v1/entries/{index}`, `GET /v1/proof/inclusion`
//! and `GET /v1/proof/consistency`, all from the committed tree (a proof
//! may be asked for any size up to the committed one, checkpointed or not).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::json;

use super::{
    internal, json_ok, problem, problem_with, store_failure, unavailable, App, PathParam, QueryMap,
};

/// proof_b64 is the inclusion proof of entry `index` in the tree of `size`, base64 hashes.
pub(crate) fn proof_b64(app: &App, size: u64, index: u64) -> Result<Vec<String>, Response> {
    let view = app.store.read().map_err(internal)?;
    // A proof that needs a damaged archived bundle is `500 damaged-tile`,
    // naming the file (D30), not a bare 500.
    let p = view
        .inclusion_proof(app.descriptor.suite, size, index)
        .map_err(|e| store_failure(e, internal))?;
    Ok(p.iter().map(|h| B64.encode(h.0)).collect())
}

fn committed_size(app: &App) -> Result<u64, Response> {
    app.store.read().and_then(|v| v.size()).map_err(internal)
}

pub(super) async fn entry(State(app): State<Arc<App>>, PathParam(index): PathParam) -> Response {
    let Some(index) = regledger::tlog::checkpoint::parse_size(&index) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Bad index",
            "index must be a decimal without leading zeros",
        );
    };
    let view = match app.store.read() {
        Ok(v) => v,
        Err(e) => return unavailable(e),
    };
    let bytes = match view.leaf(index) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return problem(
                StatusCode::NOT_FOUND,
                "not-found",
                "No such entry",
                format!("no entry {index}"),
            )
        }
        Err(e) => return store_failure(e, unavailable),
    };
    let opened = match view.entry(app.descriptor.suite, index) {
        Ok(o) => o,
        Err(e) => return store_failure(e, internal),
    };
    // A pruned operation event (D22): its leaf stays provable, its
    // envelope is gone for good. 410 names the prune entry.
    if opened.envelope.is_none() {
        match view.pruned_by(index) {
            Ok(Some(by)) => {
                return problem_with(
                    StatusCode::GONE,
                    "pruned",
                    "Entry pruned",
                    format!(
                        "日志留存期满，已清除：entry {index} was an operation event whose log retention ran out; retention-pruned entry {by} dropped its envelope (its leaf, leaf hash and inclusion proofs stay: GET /v1/proof/inclusion?index={index}&size=N)"
                    ),
                    &[("pruned_by", &by.to_string())],
                )
            }
            Ok(None) => {}
            Err(e) => return unavailable(e),
        }
    }
    let leaf = &opened.leaf;
    json_ok(json!({
        "index": index,
        "leaf": B64.encode(&bytes),
        "leaf_hash": app.descriptor.suite.leaf_hash(&bytes).to_hex(),
        "integrated_time_ms": leaf.integrated_time_ms,
        "prev_leaf_hash": leaf.prev_leaf_hash.to_hex(),
        "leaf_version": leaf.version,
        "state_root": leaf.state_root().map(|h| h.to_hex()),
        "kind": opened.envelope.as_ref().and_then(|e| e.kind_name().ok()).unwrap_or(""),
        "envelope": opened.envelope.as_ref().map(|e| e.to_json()),
    }))
}

fn param(q: &HashMap<String, String>, k: &str) -> Result<u64, Response> {
    q.get(k)
        .and_then(|v| regledger::tlog::checkpoint::parse_size(v))
        .ok_or_else(|| {
            problem(
                StatusCode::BAD_REQUEST,
                "bad-parameter",
                "Bad parameter",
                format!("{k} must be a decimal without leading zeros"),
            )
        })
}

pub(super) async fn inclusion(State(app): State<Arc<App>>, QueryMap(q): QueryMap) -> Response {
    let (index, size) = match (param(&q, "index"), param(&q, "size")) {
        (Ok(i), Ok(s)) => (i, s),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let committed = match committed_size(&app) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if index >= size || size > committed {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Out of range",
            format!("need index < size <= {committed}"),
        );
    }
    match proof_b64(&app, size, index) {
        Ok(p) => json_ok(json!({"index": index, "size": size, "inclusion_proof": p})),
        Err(r) => r,
    }
}

pub(super) async fn consistency(State(app): State<Arc<App>>, QueryMap(q): QueryMap) -> Response {
    let (old, new) = match (param(&q, "old"), param(&q, "new")) {
        (Ok(i), Ok(s)) => (i, s),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let committed = match committed_size(&app) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if old == 0 || old > new || new > committed {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Out of range",
            format!("need 0 < old <= new <= {committed}"),
        );
    }
    let view = match app.store.read() {
        Ok(v) => v,
        Err(e) => return unavailable(e),
    };
    match view.consistency_proof(app.descriptor.suite, old, new) {
        Ok(p) => json_ok(
            json!({"old": old, "new": new, "consistency_proof": p.iter().map(|h| B64.encode(h.0)).collect::<Vec<_>>()}),
        ),
        Err(e) => store_failure(e, internal),
    }
}
