//! The HTTP API (axum): submissions, receipts, proofs, certificate bundles,
//! registry queries, C2SP checkpoint and tiles, log.json, metrics, OpenAPI.
//! Errors are RFC 9457 problem details with a stable `type` per error.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::bundle::{assemble, EntryProof};
use regledger::descriptor::LogDescriptor;
use regledger::envelope::Envelope;
use regledger::leaf::Leaf;
use regledger::registry::{StateKey, StateObject, StateReader};
use regledger::tlog_proof::TlogProof;
use regledger::tree::{prove_consistency, prove_inclusion};
use regledger::Hash;
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};

use crate::metrics::Metrics;
use crate::publisher::{tile_file, Published};
use crate::sequencer::{Rejection, Submission};
use crate::store::{Hashes, State as StateView, Store};

/// MAX_BODY_BYTES bounds a request body (an envelope of the largest payload fits).
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// WAIT_TIMEOUT bounds `?wait=checkpoint`.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// PROBLEM_BASE prefixes every problem type.
pub const PROBLEM_BASE: &str = "https://regledger.dev/problems/";

/// App is the shared state of the handlers.
pub struct App {
    /// store is the database.
    pub store: Arc<Store>,
    /// descriptor is the log's public descriptor.
    pub descriptor: LogDescriptor,
    /// descriptor_json is log.json as served.
    pub descriptor_json: String,
    /// queue feeds the sequencer; `None` on a mirror, which never accepts submissions.
    pub queue: Option<SyncSender<Submission>>,
    /// latest is the latest published checkpoint.
    pub latest: Arc<RwLock<Published>>,
    /// published notifies waiters of new checkpoints.
    pub published: watch::Receiver<u64>,
    /// tiles_dir is the tile directory.
    pub tiles_dir: PathBuf,
    /// metrics are the node metrics.
    pub metrics: Arc<Metrics>,
}

/// problem builds an RFC 9457 response.
pub fn problem(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Response {
    let body = json!({"type": format!("{PROBLEM_BASE}{code}"), "title": title, "status": status.as_u16(), "detail": detail.into()});
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

fn internal(e: impl std::fmt::Display) -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        e.to_string(),
    )
}

/// unavailable answers a storage failure on a read: 503, try again shortly.
fn unavailable(e: impl std::fmt::Display) -> Response {
    let mut r = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage-unavailable",
        "Storage unavailable",
        e.to_string(),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    r
}

fn json_ok(v: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// router builds the API: the shared read side, `POST /v1/entries` when the
/// app has a sequencer queue, and `extra` routes (a mirror's feed and witness).
pub fn router(app: Arc<App>, request_timeout: Duration, extra: Router) -> Router {
    let entries = if app.queue.is_some() {
        post(submit).get(entries_by_subject)
    } else {
        post(read_only).get(entries_by_subject)
    };
    Router::new()
        .route("/v1/entries", entries)
        .route("/v1/entries/{index}", get(entry))
        .route("/v1/proof/inclusion", get(inclusion))
        .route("/v1/proof/consistency", get(consistency))
        .route("/v1/certificates/{no}", get(certificate))
        .route(
            "/v1/certificates/{no}/tlog-proof",
            get(certificate_tlog_proof),
        )
        .route(
            "/v1/participants/{id}",
            get(|s, p| object(s, p, "participant")),
        )
        .route("/v1/resources/{id}", get(|s, p| object(s, p, "resource")))
        .route("/v1/agreements/{id}", get(|s, p| object(s, p, "agreement")))
        .route("/v1/products/{id}", get(|s, p| object(s, p, "product")))
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/log.json", get(log_json))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(|| async {
            problem(
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                "no such resource",
            )
        })
        .with_state(app)
        .merge(extra)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
}

/// read_only answers a submission sent to a mirror: it only follows its upstream.
async fn read_only() -> Response {
    let mut r = problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "read-only-mirror",
        "This is a read-only mirror",
        "submit entries to the upstream node; a mirror only follows it",
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET"));
    r
}

fn rejection_response(r: Rejection) -> Response {
    match r {
        Rejection::Rule(v) => {
            let status = match v.code() {
                "malformed-envelope" | "malformed-payload" | "unknown-kind" | "invalid-dates" => {
                    StatusCode::BAD_REQUEST
                }
                "unknown-signer" | "bad-signature" | "signer-revoked" => StatusCode::FORBIDDEN,
                "role-not-allowed" | "wrong-party" => StatusCode::FORBIDDEN,
                _ => StatusCode::CONFLICT,
            };
            let mut resp = problem(
                status,
                v.code(),
                "Entry refused by a registry rule",
                v.to_string(),
            );
            if let Some(c) = v.citation() {
                // Citations are Chinese titles: percent-encoded, not lost to '?'.
                if let Ok(h) =
                    HeaderValue::from_str(&regledger::registry::regulations::header_value(c))
                {
                    resp.headers_mut().insert("x-regledger-citation", h);
                }
            }
            resp
        }
        Rejection::Replay(i) => problem(
            StatusCode::CONFLICT,
            "replayed-envelope",
            "Envelope already logged",
            format!("this exact envelope is entry {i}"),
        ),
        Rejection::Storage(e) => {
            let mut r = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                "Not durable",
                format!("nothing was written: {e}"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r
        }
    }
}

async fn submit(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Body is not JSON",
                e.to_string(),
            )
        }
    };
    let env = match Envelope::from_json(&v) {
        Ok(e) => e,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "malformed-envelope",
                "Not a valid envelope",
                e.to_string(),
            )
        }
    };
    // Verify signatures by keys already committed here, on the request's
    // thread, so the sequencer need not (keys are immutable once registered).
    let mut pre = Vec::new();
    if let Ok(view) = app.store.view() {
        let st = StateView(&view.state);
        for s in &env.signatures {
            if let Some(StateObject::Key(k)) = st.get(&StateKey::Key(s.key_id.clone())) {
                if let Some(pk) = Hash::from_hex(&k.public_key) {
                    if let Err(e) = env.verify_signature(&s.key_id, &pk.0) {
                        app.metrics.reject("bad-signature");
                        return problem(
                            StatusCode::FORBIDDEN,
                            "bad-signature",
                            "Entry refused by a registry rule",
                            format!("signature does not verify: {e}"),
                        );
                    }
                    pre.push((s.key_id.clone(), pk.0));
                }
            }
        }
    }
    let Some(queue) = &app.queue else {
        return read_only().await;
    };
    let (tx, rx) = oneshot::channel();
    match queue.try_send(Submission {
        envelope: env,
        preverified: pre,
        reply: tx,
    }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            app.metrics.overloaded.fetch_add(1, Ordering::Relaxed);
            let mut r = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Queue full",
                "the sequencer queue is full; retry later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        Err(TrySendError::Disconnected(_)) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting-down",
                "Shutting down",
                "the sequencer stopped",
            )
        }
    }
    app.metrics.submissions.fetch_add(1, Ordering::Relaxed);
    let receipt = match rx.await {
        Ok(Ok(r)) => r,
        Ok(Err(rej)) => return rejection_response(rej),
        Err(_) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting-down",
                "Shutting down",
                "the sequencer stopped",
            )
        }
    };
    let mut out = serde_json::to_value(&receipt).expect("receipt json");
    if q.get("wait").map(String::as_str) == Some("checkpoint") {
        let mut w = app.published.clone();
        let ok = tokio::time::timeout(WAIT_TIMEOUT, w.wait_for(|s| *s > receipt.index)).await;
        if !matches!(ok, Ok(Ok(_))) {
            out["checkpoint_pending"] = json!(true);
            return (
                StatusCode::ACCEPTED,
                [(header::CONTENT_TYPE, "application/json")],
                out.to_string(),
            )
                .into_response();
        }
        let cp = app.latest.read().expect("lock").clone();
        match proof_b64(&app, cp.size, receipt.index) {
            Ok(p) => {
                out["inclusion_proof"] = json!(p);
                out["checkpoint"] = json!(cp.note);
                out["tree_size"] = json!(cp.size);
            }
            Err(r) => return r,
        }
    }
    json_ok(out)
}

fn proof_b64(app: &App, size: u64, index: u64) -> Result<Vec<String>, Response> {
    let view = app.store.view().map_err(internal)?;
    let p = prove_inclusion(app.descriptor.suite, size, index, &Hashes(&view.hashes))
        .map_err(internal)?;
    Ok(p.iter().map(|h| B64.encode(h.0)).collect())
}

fn committed_size(app: &App) -> Result<u64, Response> {
    let view = app.store.view().map_err(internal)?;
    crate::store::meta_u64(&view.meta, crate::store::M_SIZE).map_err(internal)
}

async fn entry(State(app): State<Arc<App>>, Path(index): Path<String>) -> Response {
    let Some(index) = regledger::checkpoint::parse_size(&index) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Bad index",
            "index must be a decimal without leading zeros",
        );
    };
    let view = match app.store.view() {
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
        Err(e) => return unavailable(e),
    };
    let leaf = match Leaf::parse(&bytes) {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    json_ok(json!({
        "index": index,
        "leaf": B64.encode(&bytes),
        "leaf_hash": app.descriptor.suite.leaf_hash(&bytes).to_hex(),
        "integrated_time_ms": leaf.integrated_time_ms,
        "prev_leaf_hash": leaf.prev_leaf_hash.to_hex(),
        "kind": leaf.envelope.kind_name().unwrap_or(""),
        "envelope": leaf.envelope.to_json(),
    }))
}

async fn entries_by_subject(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
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
    match app.store.view().and_then(|v| v.subjects(subject, 10_000)) {
        Ok(ix) => json_ok(json!({"subject": subject, "indexes": ix})),
        Err(e) => internal(e),
    }
}

fn param(q: &HashMap<String, String>, k: &str) -> Result<u64, Response> {
    q.get(k)
        .and_then(|v| regledger::checkpoint::parse_size(v))
        .ok_or_else(|| {
            problem(
                StatusCode::BAD_REQUEST,
                "bad-parameter",
                "Bad parameter",
                format!("{k} must be a decimal without leading zeros"),
            )
        })
}

async fn inclusion(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
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

async fn consistency(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
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
    let view = match app.store.view() {
        Ok(v) => v,
        Err(e) => return unavailable(e),
    };
    match prove_consistency(app.descriptor.suite, old, new, &Hashes(&view.hashes)) {
        Ok(p) => json_ok(
            json!({"old": old, "new": new, "consistency_proof": p.iter().map(|h| B64.encode(h.0)).collect::<Vec<_>>()}),
        ),
        Err(e) => internal(e),
    }
}

/// bundle_for assembles the certificate bundle at a checkpoint covering every entry it needs.
async fn bundle_for(
    app: &Arc<App>,
    no: &str,
) -> Result<regledger::bundle::CertificateBundle, Response> {
    for _ in 0..5 {
        let cp = app.latest.read().expect("lock").clone();
        let view = app.store.view().map_err(internal)?;
        let st = StateView(&view.state);
        let suite = app.descriptor.suite;
        let too_new = std::cell::Cell::new(false);
        let r = assemble(&app.descriptor.origin, &st, no, &cp.note, |i| {
            if i >= cp.size {
                too_new.set(true);
                return Err("entry not yet covered by a checkpoint".into());
            }
            let leaf = view
                .leaf(i)
                .map_err(|e| e.to_string())?
                .ok_or("missing leaf")?;
            let p = prove_inclusion(suite, cp.size, i, &Hashes(&view.hashes))
                .map_err(|e| e.to_string())?;
            Ok(EntryProof {
                index: i,
                leaf: B64.encode(leaf),
                inclusion_proof: p.iter().map(|h| B64.encode(h.0)).collect(),
            })
        });
        match r {
            Ok(b) => return Ok(b),
            Err(_) if too_new.get() => {
                drop(view);
                let mut w = app.published.clone();
                let target = cp.size;
                let _ = tokio::time::timeout(WAIT_TIMEOUT, w.wait_for(|s| *s > target)).await;
            }
            Err(e) => {
                return Err(problem(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "No such certificate",
                    e,
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

async fn certificate(
    State(app): State<Arc<App>>,
    Path(no): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("format").map(String::as_str) == Some("tlog-proof") {
        return certificate_tlog_proof(State(app), Path(no)).await;
    }
    match bundle_for(&app, &no).await {
        Ok(b) => json_ok(serde_json::to_value(&b).expect("bundle json")),
        Err(r) => r,
    }
}

async fn certificate_tlog_proof(State(app): State<Arc<App>>, Path(no): Path<String>) -> Response {
    let b = match bundle_for(&app, &no).await {
        Ok(b) => b,
        Err(r) => return r,
    };
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

async fn object(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    what: &'static str,
) -> Response {
    let key = match what {
        "participant" => StateKey::Participant(id.clone()),
        "resource" => StateKey::Resource(id.clone()),
        "agreement" => StateKey::Agreement(id.clone()),
        _ => StateKey::Product(id.clone()),
    };
    let view = match app.store.view() {
        Ok(v) => v,
        Err(e) => return unavailable(e),
    };
    match StateView(&view.state).get(&key) {
        Some(o) => json_ok(serde_json::to_value(o).expect("state json")),
        None => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not registered",
            format!("no {what} {id:?}"),
        ),
    }
}

async fn checkpoint(State(app): State<Arc<App>>) -> Response {
    let note = app.latest.read().expect("lock").note.clone();
    if note.is_empty() {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "checkpoint-pending",
            "No checkpoint yet",
            "retry in a moment",
        );
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note,
    )
        .into_response()
}

async fn tile(State(app): State<Arc<App>>, Path(path): Path<String>) -> Response {
    let Some(file) = tile_file(&app.tiles_dir, &format!("tile/{path}")) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-tile-path",
            "Bad tile path",
            "not a C2SP tile path",
        );
    };
    match tokio::fs::read(&file).await {
        Ok(data) => {
            let full = !path.contains(".p/");
            let cache = if full {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (header::CACHE_CONTROL, cache),
                ],
                data,
            )
                .into_response()
        }
        Err(_) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such tile",
            "the tile does not exist (yet)",
        ),
    }
}

async fn log_json(State(app): State<Arc<App>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        app.descriptor_json.clone(),
    )
        .into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

/// OPENAPI is the API description, kept beside the router and checked against it by a test.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}
