//! The HTTP API (axum), split by area: [`submit`] (`POST /v1/entries`),
//! [`proofs`] (entries, inclusion and consistency proofs), [`registry`]
//! (certificates, registry objects, the subject index) and [`tlog`] (the
//! C2SP checkpoint and tiles, log.json). This module holds what every
//! answer shares: the [`App`] state, the [`router`], RFC 9457 problem
//! details with a stable `type` per error (the framework's own 404, 405,
//! 408, 413, 431, extractor rejections and panics included), the limits,
//! the accept loop [`serve`] (bounded connections, idle and header-read
//! timeout) and [`run`], the runtime and server setup of both the node and
//! the mirror.

mod proofs;
pub(crate) mod registry;
mod snapshot;
pub(crate) mod status;
mod submit;
mod tlog;

pub(crate) use proofs::proof_b64;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use regledger::descriptor::LogDescriptor;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::log::publisher::Published;
use crate::log::sequencer::Submission;
use crate::metrics::Metrics;
use crate::store::Store;

/// MAX_BODY_BYTES bounds a request body (an envelope of the largest payload
/// fits), and each envelope of a batch.
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// MAX_BATCH_BYTES bounds the body of a batch submission (a JSON array or
/// NDJSON to `POST /v1/entries`): 4 MiB, about 6,000 operation events of
/// 300-byte payloads, so [`MAX_BATCH_ENTRIES`] is usually the bound met first.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// MAX_BATCH_ENTRIES bounds the envelopes of one batch submission: a
/// thousand answers per request keep the response small and the request
/// well inside the sequencer queue (`--queue`, 16,384 by default).
pub const MAX_BATCH_ENTRIES: usize = 1024;

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
    problem_with(status, code, title, detail, &[])
}

/// problem_with is [`problem`] with extension members (RFC 9457 §3.2), e.g. the article a rule cites.
pub fn problem_with(
    status: StatusCode,
    code: &str,
    title: &str,
    detail: impl Into<String>,
    extra: &[(&str, &str)],
) -> Response {
    let body = problem_body(status, code, title, detail, extra);
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// problem_body is the RFC 9457 document of [`problem_with`], also the
/// answer of one refused envelope in a batch submission.
pub(super) fn problem_body(
    status: StatusCode,
    code: &str,
    title: &str,
    detail: impl Into<String>,
    extra: &[(&str, &str)],
) -> Value {
    let mut body = json!({"type": format!("{PROBLEM_BASE}{code}"), "title": title, "status": status.as_u16(), "detail": detail.into()});
    for (k, v) in extra {
        body[*k] = json!(v);
    }
    body
}

pub(super) fn internal(e: impl std::fmt::Display) -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        e.to_string(),
    )
}

/// store_failure answers a failed read of the store: `500 damaged-tile`
/// for an archived entry whose bundle is missing or damaged (D29: retrying
/// does not help, restoring the file does; the detail names it), otherwise
/// `otherwise(e)`.
pub(super) fn store_failure(
    e: crate::store::StoreError,
    otherwise: fn(crate::store::StoreError) -> Response,
) -> Response {
    match e {
        crate::store::StoreError::Archive { .. } => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "damaged-tile",
            "Damaged tile",
            e.to_string(),
        ),
        e => otherwise(e),
    }
}

/// unavailable answers a storage failure on a read: 503, try again shortly.
pub(super) fn unavailable(e: impl std::fmt::Display) -> Response {
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

pub(super) fn json_ok(v: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn body_too_large() -> Response {
    body_too_large_because(format!(
        "a request body may hold at most {MAX_BODY_BYTES} bytes (a batch {MAX_BATCH_BYTES}); nothing was written"
    ))
}

/// body_too_large_because is the 413 problem with its reason.
pub(super) fn body_too_large_because(detail: String) -> Response {
    let mut r = problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Body too large",
        detail,
    );
    // The body is never read: the connection cannot carry another request.
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

pub(super) fn request_timeout(limit: Duration, what: &str) -> Response {
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
/// head above [`MAX_HEADERS`] / [`MAX_HEADER_BYTES`]. A submission may
/// declare up to [`MAX_BATCH_BYTES`]: whether it is a batch shows only in
/// its first body byte, and a single envelope past [`MAX_BODY_BYTES`] is
/// refused as soon as that byte arrives ([`submit::submit`]).
fn refuse_early(req: &Request) -> Option<Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = if req.method() == Method::POST && req.uri().path() == "/v1/entries" {
        MAX_BATCH_BYTES
    } else {
        MAX_BODY_BYTES
    };
    if declared.is_some_and(|n| n > limit as u64) {
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
/// taken it, cutting its answer would hide a commit (see [`submit::submit`]).
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
pub(super) struct Compressible;

/// PathParam is `Path<String>` whose rejection (e.g. invalid UTF-8 after
/// percent-decoding) is a `bad-parameter` problem.
pub(super) struct PathParam(pub(super) String);

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
pub(super) struct QueryMap(pub(super) HashMap<String, String>);

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
        post(move |s, q, h, b| submit::submit(s, q, h, b, request_timeout))
            .get(registry::entries_by_subject)
    } else {
        post(read_only).get(registry::entries_by_subject)
    };
    let routes = Router::new()
        .route("/v1/entries", entries)
        .route("/v1/entries/{index}", get(proofs::entry))
        .route("/v1/proof/inclusion", get(proofs::inclusion))
        .route("/v1/proof/consistency", get(proofs::consistency))
        .route("/v1/certificates/{no}", get(registry::certificate))
        .route(
            "/v1/certificates/{no}/tlog-proof",
            get(registry::certificate_tlog_proof),
        )
        .route(
            "/v1/participants/{id}",
            get(|s, p| registry::object(s, p, "participant")),
        )
        .route(
            "/v1/resources/{id}",
            get(|s, p| registry::object(s, p, "resource")),
        )
        .route(
            "/v1/agreements/{id}",
            get(|s, p| registry::object(s, p, "agreement")),
        )
        .route(
            "/v1/products/{id}",
            get(|s, p| registry::object(s, p, "product")),
        )
        .route("/v1/status/{kind}/{id}", get(status::status))
        .route("/v1/state/snapshot", get(snapshot::snapshot))
        .route("/checkpoint", get(tlog::checkpoint))
        .route("/tile/{*path}", get(tlog::tile))
        .route("/log.json", get(tlog::log_json))
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
pub(super) async fn read_only() -> Response {
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

/// Server is what [`run`] needs to listen.
pub struct Server {
    /// name opens the line printed once listening ("NAME listening on http://ADDR").
    pub name: &'static str,
    /// listen is the address to bind.
    pub listen: SocketAddr,
    /// request_timeout bounds each request (see [`router`]).
    pub request_timeout: Duration,
    /// limits bound the connections.
    pub limits: Limits,
    /// drain, if set, is how long open requests may run after SIGINT or
    /// SIGTERM before the server stops anyway (needed where responses never
    /// end by themselves, like event streams); unset, it waits for them.
    pub drain: Option<Duration>,
}

/// run builds a multi-threaded runtime, binds `s.listen`, serves the router
/// `start` returns (given the bound address, which the public site needs for
/// its default public URL) until SIGINT or SIGTERM, and drops the runtime (with it
/// every connection and the router's state) before it returns. `start` runs
/// inside the runtime, so it may spawn background tasks (a mirror's
/// webhooks); its `Arc<App>` names the log in the log line.
///
/// # Errors
///
/// The runtime could not be built or the address not bound.
pub fn run(
    s: Server,
    start: impl FnOnce(SocketAddr) -> Result<(Arc<App>, Router), String>,
) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(s.listen)
            .await
            .map_err(|e| format!("listen {}: {e}", s.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (app, extra) = start(addr)?;
        println!("{} listening on http://{addr}", s.name);
        tracing::info!(%addr, origin = %app.descriptor.origin, "{} serving", s.name);
        let name = s.name;
        let server = serve(
            listener,
            router(app, s.request_timeout, extra),
            s.limits,
            async move {
                shutdown_signal().await;
                // Said once, when the signal arrives: an operator watching a
                // stop sees it was heard and what the node does before exiting.
                tracing::info!(
                    "{name}: 收到停止信号，正在关闭 (shutting down: no new connections; draining the queue and open requests…)"
                );
            },
        );
        match s.drain {
            None => server.await,
            Some(drain) => {
                tokio::select! {
                    () = server => {}
                    _ = async {
                        shutdown_signal().await;
                        tokio::time::sleep(drain).await;
                    } => {}
                }
            }
        }
        Ok::<(), String>(())
    });
    drop(rt);
    result
}

/// shutdown_signal resolves on SIGINT or SIGTERM (what systemd and
/// container runtimes send), so the node drains, commits and closes its
/// database cleanly; a clean close is what makes the next start fast.
async fn shutdown_signal() {
    let term = async {
        #[cfg(unix)]
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests;
