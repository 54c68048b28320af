//! The HTTP API (axum): submissions, receipts, proofs, certificate bundles,
//! registry queries, C2SP checkpoint and tiles, log.json, metrics, OpenAPI.
//! Errors are RFC 9457 problem details with a stable `type` per error, the
//! framework's own (404, 405, 408, 413, 431, extractor rejections, panics)
//! included. [`serve`] is the accept loop: bounded connections, idle and
//! header-read timeout.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures_util::StreamExt;
use regledger::cert::assemble::assemble;
use regledger::cert::bundle::EntryProof;
use regledger::descriptor::LogDescriptor;
use regledger::entry::envelope::Envelope;
use regledger::entry::leaf::Leaf;
use regledger::registry::{key_of, StateKey, StateReader};
use regledger::tlog::tlog_proof::TlogProof;
use regledger::tlog::tree::{prove_consistency, prove_inclusion};
use regledger::Hash;
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::publisher::{tile_file, Published};
use crate::sequencer::{Claim, Rejection, Submission};
use crate::store::{Hashes, State as StateView, Store};

/// MAX_BODY_BYTES bounds a request body (an envelope of the largest payload fits).
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// MAX_HEADERS and MAX_HEADER_BYTES bound a request head (request line and
/// header fields); above them the answer is a `431 headers-too-large` problem.
pub const MAX_HEADERS: usize = 100;
/// MAX_HEADER_BYTES: see [`MAX_HEADERS`].
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// HYPER_MAX_HEADERS and HYPER_MAX_HEADER_BYTES are hyper's own parser
/// limits, set well above ours so that an oversized head still parses and
/// gets our problem document. Past them hyper cannot hold the head at all
/// and answers by itself (a bare 431, body empty) before any of our code runs.
const HYPER_MAX_HEADERS: usize = 256;
const HYPER_MAX_HEADER_BYTES: usize = 64 * 1024;

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

fn body_too_large() -> Response {
    let mut r = problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Body too large",
        format!("a request body may hold at most {MAX_BODY_BYTES} bytes; nothing was written"),
    );
    // The body is never read: the connection cannot carry another request.
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn request_timeout(limit: Duration, what: &str) -> Response {
    let mut r = problem(
        StatusCode::REQUEST_TIMEOUT,
        "request-timeout",
        "Request timeout",
        format!("{what} within {} s; nothing was written", limit.as_secs()),
    );
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// generic names the problem for a status that the framework produced by itself.
fn generic(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("bad-request", "Bad request"),
        404 => ("not-found", "Not found"),
        405 => ("method-not-allowed", "Method not allowed"),
        408 => ("request-timeout", "Request timeout"),
        413 => ("body-too-large", "Body too large"),
        414 => ("uri-too-long", "URI too long"),
        415 => ("unsupported-media-type", "Unsupported media type"),
        422 => ("unprocessable", "Unprocessable content"),
        431 => ("headers-too-large", "Request header fields too large"),
        500 => ("internal", "Internal error"),
        503 => ("unavailable", "Service unavailable"),
        _ => ("http-error", "HTTP error"),
    }
}

/// refuse_early answers from the request head alone, before anything reads
/// the body: a declared body above the limit (so a client announcing 64 MiB
/// hears 413 at once, not after a wait for bytes it may never send), and a
/// head above [`MAX_HEADERS`] / [`MAX_HEADER_BYTES`].
fn refuse_early(req: &Request) -> Option<Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Some(body_too_large());
    }
    let head_bytes = req.uri().path_and_query().map_or(0, |p| p.as_str().len())
        + req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if req.headers().len() > MAX_HEADERS || head_bytes > MAX_HEADER_BYTES {
        let mut r = problem(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            "Request header fields too large",
            format!(
                "a request may carry at most {MAX_HEADERS} header fields and {MAX_HEADER_BYTES} bytes of request line and headers"
            ),
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Some(r);
    }
    None
}

/// problems is the outermost middleware: it refuses early what the head
/// alone condemns, and turns every error response that is not already a
/// problem document (axum's empty 405, its text/plain rejections, tower's
/// bare statuses) into one, keeping headers such as `Allow`. Responses with
/// a deliberate media type (the witness's `text/x.tlog.size` 409) pass.
async fn problems(req: Request, next: Next) -> Response {
    if let Some(r) = refuse_early(&req) {
        return r;
    }
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let plain = match resp.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(v) => v.as_bytes().starts_with(b"text/plain"),
    };
    if !plain {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (code, title) = generic(status);
    let detail = match (text.is_empty(), status) {
        (false, _) => text,
        (true, StatusCode::METHOD_NOT_ALLOWED) => {
            format!("{method} is not allowed here; the Allow header lists what is")
        }
        (true, _) => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let mut out = problem(status, code, title, detail);
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut name = None;
    for (k, v) in parts.headers.drain() {
        // drain gives a header's name with its first value only.
        if k.is_some() {
            name = k;
        }
        if let Some(n) = &name {
            out.headers_mut().append(n.clone(), v);
        }
    }
    out
}

/// deadline bounds every request except a submission by `limit` (a 408
/// problem). A submission keeps its own deadline: once the sequencer has
/// taken it, cutting its answer would hide a commit (see [`submit`]).
async fn deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.uri().path() == "/v1/entries" {
        return next.run(req).await;
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => request_timeout(limit, "the request was not answered"),
    }
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    internal("the handler failed; nothing was written by this request")
}

/// Compressible marks a response (an entry bundle) that the compression
/// layer may gzip; nothing else is compressed (hash tiles are random bytes).
#[derive(Clone, Copy, Debug)]
struct Compressible;

/// PathParam is `Path<String>` whose rejection (e.g. invalid UTF-8 after
/// percent-decoding) is a `bad-parameter` problem.
struct PathParam(String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(p)) => Ok(PathParam(p)),
            Err(e) => Err(problem(
                StatusCode::BAD_REQUEST,
                "bad-parameter",
                "Bad path parameter",
                e.body_text(),
            )),
        }
    }
}

/// QueryMap is `Query<HashMap<String, String>>` whose rejection is a `bad-parameter` problem.
struct QueryMap(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Query::<HashMap<String, String>>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(QueryMap(q)),
            Err(e) => Err(problem(
                StatusCode::BAD_REQUEST,
                "bad-parameter",
                "Bad query string",
                e.body_text(),
            )),
        }
    }
}

/// read_body collects a request body of at most `limit` bytes (413 past it,
/// however the body is framed: a declared length was refused earlier, a
/// chunked one is cut here as soon as it crosses the limit).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            problem(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Body not readable",
                format!("{e}; nothing was written"),
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(body_too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Limits bounds what connections may hold on to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// idle_timeout closes a connection that has not sent a whole request
    /// head this long after it opened or after its previous response: idle
    /// keep-alive connections and slow-header clients alike.
    pub idle_timeout: Duration,
    /// max_connections bounds open connections; past it new ones wait in
    /// the listen backlog (keep it below the file-descriptor limit).
    pub max_connections: usize,
}

/// serve runs the accept loop until `shutdown` resolves, then lets open
/// requests finish. It is axum::serve with what axum::serve cannot set:
/// hyper's header-read timeout (which hyper also runs between keep-alive
/// requests, so it is the idle timeout) and a bound on connections, so that
/// thousands of silent sockets neither pile up nor exhaust descriptors.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout)
        .max_headers(HYPER_MAX_HEADERS)
        .max_header_size(HYPER_MAX_HEADER_BYTES);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept:
                    // wait a moment rather than spin, and keep serving.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// router builds the API: the shared read side, `POST /v1/entries` when the
/// app has a sequencer queue, and `extra` routes (a mirror's feed and witness).
pub fn router(app: Arc<App>, request_timeout: Duration, extra: Router) -> Router {
    let entries = if app.queue.is_some() {
        post(move |s, q, b| submit(s, q, b, request_timeout)).get(entries_by_subject)
    } else {
        post(read_only).get(entries_by_subject)
    };
    let routes = Router::new()
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
        .merge(extra);
    harden(routes, request_timeout)
}

/// harden wraps routes in the layers every answer goes through, innermost
/// first: the body limit of the extractors, the request deadline, gzip for
/// entry bundles, problem documents for every error, and a 500 problem for
/// a handler that panics.
fn harden(routes: Router, request_timeout: Duration) -> Router {
    routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(request_timeout, deadline))
        .layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .compress_when(|_, _, _: &_, ext: &axum::http::Extensions| {
                    ext.get::<Compressible>().is_some()
                }),
        )
        .layer(middleware::from_fn(problems))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
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
            format!(
                "this signed content (payload type and payload, whatever its signatures) is already entry {i}; \
                 to repeat the act deliberately, add or change request_id in the payload and sign it again"
            ),
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

/// submit is `POST /v1/entries`. Its deadline (`--request-timeout-s`)
/// covers the body upload (408, nothing written) and the wait in the
/// sequencer queue (503 `not-sequenced`, nothing written: the submission is
/// abandoned so the sequencer never writes it). Once the sequencer has taken
/// the submission the answer is its durable result, however long the
/// commit takes past the deadline: a timeout never hides a commit.
async fn submit(
    State(app): State<Arc<App>>,
    QueryMap(q): QueryMap,
    body: Body,
    limit: Duration,
) -> Response {
    let deadline = Instant::now() + limit;
    let body = match tokio::time::timeout_at(deadline, read_body(body, MAX_BODY_BYTES)).await {
        Ok(Ok(b)) => b,
        Ok(Err(r)) => return r,
        Err(_) => return request_timeout(limit, "the body did not arrive"),
    };
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
    // Verify every signature by a key already committed here, on the
    // request's thread, so the sequencer need not (keys are immutable once
    // registered); the rules verify every other one.
    let mut pre = Vec::new();
    if let Ok(view) = app.store.view() {
        let st = StateView(&view.state);
        match env.verify_known(|kid| key_of(&st, kid)) {
            Ok(p) => pre = p,
            Err(e) => {
                app.metrics.reject("bad-signature");
                return problem(
                    StatusCode::FORBIDDEN,
                    "bad-signature",
                    "Entry refused by a registry rule",
                    format!("signature does not verify: {e}"),
                );
            }
        }
    }
    let Some(queue) = &app.queue else {
        return read_only().await;
    };
    let (tx, mut rx) = oneshot::channel();
    let claim = Claim::default();
    match queue.try_send(Submission {
        envelope: env,
        preverified: pre,
        reply: tx,
        claim: claim.clone(),
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
    let answer = tokio::select! {
        a = &mut rx => a,
        _ = tokio::time::sleep_until(deadline) => {
            if claim.abandon() {
                app.metrics.reject("not-sequenced");
                let mut r = problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not-sequenced",
                    "Not sequenced in time",
                    format!(
                        "the entry waited {} s in the sequencer queue and was withdrawn: nothing was written; submit the same envelope again",
                        limit.as_secs()
                    ),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
            // The sequencer took it first: its batch is being committed, and
            // the client must learn the outcome (the commit itself is bounded).
            rx.await
        }
    };
    let receipt = match answer {
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
        // The entry is durable whatever happens now: wait for its checkpoint
        // only as long as the request's deadline leaves (then 202, pending).
        let mut w = app.published.clone();
        let until = deadline.min(Instant::now() + WAIT_TIMEOUT);
        let ok = tokio::time::timeout_at(until, w.wait_for(|s| *s > receipt.index)).await;
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

async fn entry(State(app): State<Arc<App>>, PathParam(index): PathParam) -> Response {
    let Some(index) = regledger::tlog::checkpoint::parse_size(&index) else {
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

async fn entries_by_subject(State(app): State<Arc<App>>, QueryMap(q): QueryMap) -> Response {
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

async fn inclusion(State(app): State<Arc<App>>, QueryMap(q): QueryMap) -> Response {
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

async fn consistency(State(app): State<Arc<App>>, QueryMap(q): QueryMap) -> Response {
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
pub(crate) async fn bundle_for(
    app: &Arc<App>,
    no: &str,
) -> Result<regledger::cert::bundle::CertificateBundle, Response> {
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

async fn certificate(
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

async fn certificate_tlog_proof(State(app): State<Arc<App>>, PathParam(no): PathParam) -> Response {
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
    PathParam(id): PathParam,
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

async fn tile(State(app): State<Arc<App>>, PathParam(path): PathParam) -> Response {
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
            let mut r = (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (header::CACHE_CONTROL, cache),
                ],
                data,
            )
                .into_response();
            // tlog-tiles: entry bundles (text-like, repetitive) should be
            // served compressed to clients that accept it. Every answer for
            // them varies on Accept-Encoding, so a cache keeps both forms.
            if path.starts_with("entries/") {
                r.extensions_mut().insert(Compressible);
                r.headers_mut()
                    .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            r
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

#[cfg(test)]
mod tests {
    //! The hardening layers on routes that provoke what the node's own
    //! routes never do (a JSON extractor's 415, a slow read handler, a
    //! panic), served by [`serve`] on loopback.

    use super::*;

    /// answer serves `routes` hardened with a 1 s deadline and sends one request.
    fn answer(routes: Router, method: &str, path: &str, ct: Option<&str>) -> (u16, String, Value) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}{path}", l.local_addr().unwrap());
            let limits = Limits {
                idle_timeout: Duration::from_secs(5),
                max_connections: 4,
            };
            let (stop, stopped) = oneshot::channel::<()>();
            let server = tokio::spawn(serve(
                l,
                harden(routes, Duration::from_secs(1)),
                limits,
                async {
                    let _ = stopped.await;
                },
            ));
            let mut req = reqwest::Client::new()
                .request(method.parse().unwrap(), url)
                .body("{}");
            if let Some(ct) = ct {
                req = req.header("content-type", ct);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let body = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(Value::Null);
            let _ = stop.send(());
            server.await.unwrap();
            (status, ct, body)
        })
    }

    fn assert_problem(got: (u16, String, Value), status: u16, code: &str) {
        let (s, ct, body) = got;
        assert_eq!(
            (s, ct.as_str()),
            (status, "application/problem+json"),
            "{body}"
        );
        assert_eq!(body["type"], format!("{PROBLEM_BASE}{code}"), "{body}");
        assert_eq!(body["status"], status);
    }

    #[test]
    fn a_json_extractor_rejection_is_a_problem() {
        let r = Router::new().route("/j", post(|_: axum::Json<Value>| async { "ok" }));
        assert_problem(
            answer(r.clone(), "POST", "/j", Some("text/plain")),
            415,
            "unsupported-media-type",
        );
        assert_eq!(answer(r, "POST", "/j", Some("application/json")).0, 200);
    }

    #[test]
    fn a_slow_read_is_cut_with_a_408_problem() {
        let r = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
        assert_problem(answer(r, "GET", "/slow", None), 408, "request-timeout");
    }

    #[test]
    fn a_panicking_handler_is_a_500_problem() {
        let r = Router::new().route(
            "/boom",
            get(|| async {
                if true {
                    panic!("handler bug");
                }
                "unreachable"
            }),
        );
        assert_problem(answer(r, "GET", "/boom", None), 500, "internal");
    }

    #[test]
    fn a_deliberate_media_type_on_an_error_passes_unchanged() {
        // C2SP tlog-witness: 409 carries the witness's size as text/x.tlog.size.
        let r = Router::new().route(
            "/add-checkpoint",
            post(|| async {
                (
                    StatusCode::CONFLICT,
                    [(header::CONTENT_TYPE, "text/x.tlog.size")],
                    "7\n",
                )
            }),
        );
        let (s, ct, _) = answer(r, "POST", "/add-checkpoint", None);
        assert_eq!((s, ct.as_str()), (409, "text/x.tlog.size"));
    }
}
