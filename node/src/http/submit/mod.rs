//! `POST /v1/entries`: read the body within the deadline, parse the
//! envelope, verify the signatures by keys already registered
//! ([`preverify`]), queue the entry for the sequencer and answer with its
//! durable receipt (optionally with the checkpoint that covers it).

mod batch;

use batch::submit_batch;

use std::sync::atomic::Ordering;
use std::sync::mpsc::TrySendError;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use regledger::entry::envelope::{Envelope, Preverified};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::{
    json_ok, problem, proof_b64, request_timeout, App, QueryMap, MAX_BATCH_BYTES, MAX_BODY_BYTES,
    WAIT_TIMEOUT,
};
use crate::log::sequencer::{Claim, Receipt, Rejection, Submission};

/// Refusal is why one envelope was not logged: the problem document the
/// single path answers as its response, and a batch as that envelope's
/// result (the same `type`, `status` and text either way).
struct Refusal {
    status: StatusCode,
    body: Value,
    /// retry_after is the `Retry-After` of a single answer (seconds).
    retry_after: Option<&'static str>,
    /// citation is the article a rule cites, also sent as a header.
    citation: Option<String>,
}

impl Refusal {
    fn new(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Refusal {
        Refusal {
            status,
            body: super::problem_body(status, code, title, detail, &[]),
            retry_after: None,
            citation: None,
        }
    }

    fn retry(mut self, seconds: &'static str) -> Refusal {
        self.retry_after = Some(seconds);
        self
    }

    fn into_response(self) -> Response {
        let mut r = (self.status, self.body.to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(s));
        }
        if let Some(c) = &self.citation {
            // Citations are Chinese titles: percent-encoded, not lost to '?'.
            if let Ok(h) = HeaderValue::from_str(&regledger::registry::regulations::header_value(c))
            {
                r.headers_mut().insert("x-regledger-citation", h);
            }
        }
        r
    }

    /// result is this refusal as one result of a batch.
    fn result(self) -> Value {
        json!({"status": self.status.as_u16(), "problem": self.body})
    }
}

fn rejection(r: Rejection) -> Refusal {
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
            // The article travels in the body too (an RFC 9457 extension
            // member), readable as it is written.
            let extra: Vec<(&str, &str)> = v.citation().map(|c| ("citation", c)).into_iter().collect();
            Refusal {
                status,
                body: super::problem_body(
                    status,
                    v.code(),
                    "Entry refused by a registry rule",
                    v.to_string(),
                    &extra,
                ),
                retry_after: None,
                citation: v.citation().map(str::to_string),
            }
        }
        Rejection::Replay(i) => Refusal::new(
            StatusCode::CONFLICT,
            "replayed-envelope",
            "Envelope already logged",
            format!(
                "this signed content (payload type and payload, whatever its signatures) is already entry {i}; \
                 to repeat the act deliberately, add or change request_id in the payload and sign it again"
            ),
        ),
        Rejection::DamagedArchive(e) => Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "damaged-tile",
            "Damaged tile",
            format!("nothing was written: {e}"),
        ),
        Rejection::Storage(e) => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage-unavailable",
            "Not durable",
            format!("nothing was written: {e}"),
        )
        .retry("5"),
    }
}

/// Shape is how a submission's body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Single: one envelope, a JSON object (the original API).
    Single,
    /// Array: a JSON array of envelopes.
    Array,
    /// Ndjson: one envelope per line (`application/x-ndjson`).
    Ndjson,
}

fn is_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-ndjson"))
}

/// BATCHES_IN_FLIGHT bounds the batch submissions a node holds at once,
/// from the first body byte to the answer: 32 × 4 MiB is 128 MiB of bodies,
/// what 1,024 connections of single envelopes (128 KiB each) could already
/// hold. A batch past it waits for a slot within its request deadline.
const BATCHES_IN_FLIGHT: usize = 32;

static BATCH_SLOTS: Semaphore = Semaphore::const_new(BATCHES_IN_FLIGHT);

/// Read is a submission's body, its shape, and for a batch its slot.
type Read = (Bytes, Shape, Option<SemaphorePermit<'static>>);

/// read_submission collects the body and tells its shape. Until the first
/// byte that is not JSON whitespace, the single limit holds; a body that
/// then opens with `[` (or is NDJSON) may grow to [`MAX_BATCH_BYTES`], once
/// it holds one of the [`BATCHES_IN_FLIGHT`] slots. So a single envelope is
/// bounded exactly as before batches existed.
async fn read_submission(body: Body, ndjson: bool) -> Result<Read, Response> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut shape = ndjson.then_some(Shape::Ndjson);
    let mut slot = None;
    if ndjson {
        slot = BATCH_SLOTS.acquire().await.ok();
    }
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            problem(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Body not readable",
                format!("{e}; nothing was written"),
            )
        })?;
        buf.extend_from_slice(&chunk);
        if shape.is_none() {
            shape = buf
                .iter()
                .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .map(|&b| {
                    if b == b'[' {
                        Shape::Array
                    } else {
                        Shape::Single
                    }
                });
            if shape == Some(Shape::Array) {
                slot = BATCH_SLOTS.acquire().await.ok();
            }
        }
        let limit = match shape {
            Some(Shape::Array | Shape::Ndjson) => MAX_BATCH_BYTES,
            _ => MAX_BODY_BYTES,
        };
        if buf.len() > limit {
            return Err(super::body_too_large_because(format!(
                "a request body may hold at most {MAX_BODY_BYTES} bytes, a batch (a JSON array or NDJSON) {MAX_BATCH_BYTES}; nothing was written"
            )));
        }
    }
    Ok((Bytes::from(buf), shape.unwrap_or(Shape::Single), slot))
}

/// submit is `POST /v1/entries`. Its deadline (`--request-timeout-s`)
/// covers the body upload (408, nothing written) and the wait in the
/// sequencer queue (503 `not-sequenced`, nothing written: the submission is
/// abandoned so the sequencer never writes it). Once the sequencer has taken
/// the submission the answer is its durable result, however long the
/// commit takes past the deadline: a timeout never hides a commit.
///
/// A JSON array or NDJSON body is a batch ([`submit_batch`]).
pub(super) async fn submit(
    State(app): State<Arc<App>>,
    QueryMap(q): QueryMap,
    headers: HeaderMap,
    body: Body,
    limit: Duration,
) -> Response {
    let deadline = Instant::now() + limit;
    let read = read_submission(body, is_ndjson(&headers));
    // The slot (a batch's) is held until the answer is built.
    let (body, shape, _slot) = match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(b)) => b,
        Ok(Err(r)) => return r,
        Err(_) => return request_timeout(limit, "the body did not arrive"),
    };
    if shape != Shape::Single {
        return submit_batch(&app, &q, &body, shape, deadline, limit).await;
    }
    let env = match parse_envelope(&body) {
        Ok(e) => e,
        Err(r) => return r.into_response(),
    };
    let receipt = match single(&app, env, deadline, limit).await {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    if q.get("wait").map(String::as_str) == Some("checkpoint") {
        return with_checkpoint(&app, receipt, deadline).await;
    }
    json_ok(serde_json::to_value(&receipt).expect("receipt json"))
}

async fn single(
    app: &App,
    env: Envelope,
    deadline: Instant,
    limit: Duration,
) -> Result<Receipt, Refusal> {
    let pre = preverify(app, &env)?;
    let queued = enqueue(app, env, pre)?;
    answer(app, queued, deadline, limit).await
}

/// parse_envelope reads one envelope's JSON.
fn parse_envelope(body: &[u8]) -> Result<Envelope, Refusal> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Body is not JSON",
            e.to_string(),
        )
    })?;
    envelope_of(&v)
}

fn envelope_of(v: &Value) -> Result<Envelope, Refusal> {
    Envelope::from_json(v).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "malformed-envelope",
            "Not a valid envelope",
            e.to_string(),
        )
    })
}

fn bad_signature(app: &App, e: impl std::fmt::Display) -> Refusal {
    app.metrics.reject("bad-signature");
    Refusal::new(
        StatusCode::FORBIDDEN,
        "bad-signature",
        "Entry refused by a registry rule",
        format!("signature does not verify: {e}"),
    )
}

/// preverify verifies every signature by a key already committed here, on
/// the request's thread, so the sequencer need not (keys are immutable
/// once registered); the rules verify every other one. Keys come from the
/// store's committed state in memory ([`crate::store::Store::known_key`]);
/// a store that cannot be read leaves them all to the rules.
fn preverify(app: &App, env: &Envelope) -> Result<Vec<Preverified>, Refusal> {
    env.verify_known(|kid| app.store.known_key(kid))
        .map_err(|e| bad_signature(app, e))
}

fn shutting_down() -> Refusal {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting-down",
        "Shutting down",
        "the sequencer stopped",
    )
}

fn overloaded() -> Refusal {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "Queue full",
        "the sequencer queue is full; retry later",
    )
    .retry("1")
}

fn not_sequenced(app: &App, limit: Duration) -> Refusal {
    app.metrics.reject("not-sequenced");
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not-sequenced",
        "Not sequenced in time",
        format!(
            "the entry waited {} s in the sequencer queue and was withdrawn: nothing was written; submit the same envelope again",
            limit.as_secs()
        ),
    )
    .retry("1")
}

/// Queued is a submission in the sequencer queue, awaiting its answer.
struct Queued {
    rx: oneshot::Receiver<Result<Receipt, Rejection>>,
    claim: Claim,
}

/// enqueue puts the entry in the sequencer queue (or refuses: full, stopped).
fn enqueue(app: &App, env: Envelope, pre: Vec<Preverified>) -> Result<Queued, Refusal> {
    let Some(queue) = &app.queue else {
        // Not reached: a mirror routes submissions to `read_only`.
        return Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "read-only-mirror",
            "This is a read-only mirror",
            "submit entries to the upstream node; a mirror only follows it",
        ));
    };
    let (tx, rx) = oneshot::channel();
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
            return Err(overloaded());
        }
        Err(TrySendError::Disconnected(_)) => return Err(shutting_down()),
    }
    app.metrics.submissions.fetch_add(1, Ordering::Relaxed);
    Ok(Queued { rx, claim })
}

fn finish(
    a: Result<Result<Receipt, Rejection>, oneshot::error::RecvError>,
) -> Result<Receipt, Refusal> {
    match a {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(rej)) => Err(rejection(rej)),
        Err(_) => Err(shutting_down()),
    }
}

/// answer waits for the sequencer's answer to a queued entry: the durable
/// receipt, or the problem to answer (withdrawn at the deadline, refused).
async fn answer(
    app: &App,
    mut queued: Queued,
    deadline: Instant,
    limit: Duration,
) -> Result<Receipt, Refusal> {
    let answer = tokio::select! {
        a = &mut queued.rx => a,
        _ = tokio::time::sleep_until(deadline) => {
            if queued.claim.abandon() {
                return Err(not_sequenced(app, limit));
            }
            // The sequencer took it first: its batch is being committed, and
            // the client must learn the outcome (the commit itself is bounded).
            queued.rx.await
        }
    };
    finish(answer)
}

/// with_checkpoint answers `?wait=checkpoint`: the receipt with the
/// checkpoint that covers it and the inclusion proof. The entry is durable
/// whatever happens now: it waits for its checkpoint only as long as the
/// request's deadline leaves (then 202, pending).
async fn with_checkpoint(app: &App, receipt: Receipt, deadline: Instant) -> Response {
    let mut out = serde_json::to_value(&receipt).expect("receipt json");
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
    match proof_b64(app, cp.size, receipt.index) {
        Ok(p) => {
            out["inclusion_proof"] = json!(p);
            out["checkpoint"] = json!(cp.note);
            out["tree_size"] = json!(cp.size);
        }
        Err(r) => return r,
    }
    json_ok(out)
}
