//! `POST /v1/entries`: read the body within the deadline, parse the
//! envelope, verify the signatures by keys already registered
//! ([`preverify`]), queue the entry for the sequencer and answer with its
//! durable receipt (optionally with the checkpoint that covers it).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::TrySendError;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use regledger::crypto::PublicKey;
use regledger::entry::envelope::{Envelope, Preverified};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::{
    json_ok, problem, proof_b64, read_only, request_timeout, App, QueryMap, MAX_BATCH_BYTES,
    MAX_BATCH_ENTRIES, MAX_BODY_BYTES, WAIT_TIMEOUT,
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

fn bad_batch(code: &str, title: &str, detail: impl Into<String>) -> Response {
    problem(StatusCode::BAD_REQUEST, code, title, detail)
}

fn batch_too_large(n: usize) -> Response {
    let mut r = problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch-too-large",
        "Too many envelopes",
        format!("a batch may hold at most {MAX_BATCH_ENTRIES} envelopes, this one holds {n}; nothing was written"),
    );
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn envelope_too_large(i: usize) -> Response {
    super::body_too_large_because(format!(
        "envelope {i} of the batch is larger than {MAX_BODY_BYTES} bytes, the limit of one envelope; nothing was written"
    ))
}

/// array_items splits a JSON array body into its top-level elements
/// (byte ranges), without parsing them: strings and nesting are tracked
/// just enough to find the commas between elements. It runs before the
/// parse so that an oversized element or count is a 413 whatever it
/// contains. A body that is not a well-formed array yields ranges that the
/// parse then refuses.
fn array_items(body: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    let mut start = None;
    for (i, &b) in body.iter().enumerate() {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    start = Some(i + 1);
                    continue;
                }
            }
            b']' | b'}' => {
                if depth == 1 {
                    if let Some(s) = start.take() {
                        out.push(s..i);
                    }
                }
                depth = depth.saturating_sub(1);
            }
            b',' if depth == 1 => {
                if let Some(s) = start.replace(i + 1) {
                    out.push(s..i);
                }
            }
            _ => {}
        }
    }
    // `[]` and `[ ]` hold no element.
    if out.len() == 1 && body[out[0].clone()].iter().all(u8::is_ascii_whitespace) {
        out.clear();
    }
    out
}

/// batch_items reads a batch body into one envelope (or refusal) per
/// element, in order. The whole request is refused, with nothing written,
/// if the body is not a JSON array (400 `malformed-json`), holds no
/// envelope (400 `empty-batch`), more than [`MAX_BATCH_ENTRIES`] (413
/// `batch-too-large`), or one element above [`MAX_BODY_BYTES`] (413
/// `body-too-large`). An NDJSON line that is not JSON, or an element that
/// is not an envelope, is refused alone.
fn batch_items(body: &[u8], shape: Shape) -> Result<Vec<Result<Envelope, Refusal>>, Response> {
    match shape {
        Shape::Ndjson => {
            let lines: Vec<&[u8]> = body
                .split(|&b| b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                .collect();
            check_counts(lines.iter().map(|l| l.len()))?;
            Ok(lines.into_iter().map(parse_envelope).collect())
        }
        _ => {
            let ranges = array_items(body);
            check_counts(ranges.iter().map(|r| r.len()))?;
            let v: Value = serde_json::from_slice(body).map_err(|e| {
                bad_batch(
                    "malformed-json",
                    "Body is not JSON",
                    format!("the batch is not a JSON array of envelopes: {e}; nothing was written"),
                )
            })?;
            let items = v.as_array().ok_or_else(|| {
                bad_batch(
                    "malformed-json",
                    "Body is not JSON",
                    "the batch is not a JSON array",
                )
            })?;
            check_counts(items.iter().map(|_| 0))?;
            Ok(items.iter().map(envelope_of).collect())
        }
    }
}

fn check_counts(sizes: impl ExactSizeIterator<Item = usize>) -> Result<(), Response> {
    let n = sizes.len();
    if n > MAX_BATCH_ENTRIES {
        return Err(batch_too_large(n));
    }
    let mut sizes = sizes;
    if let Some(i) = sizes.position(|s| s > MAX_BODY_BYTES) {
        return Err(envelope_too_large(i));
    }
    if n == 0 {
        return Err(bad_batch(
            "empty-batch",
            "Empty batch",
            format!("a batch holds 1 to {MAX_BATCH_ENTRIES} envelopes; nothing was written"),
        ));
    }
    Ok(())
}

/// submit_batch sequences every envelope of a batch, in order, and answers
/// once each has its result: a receipt only after its batch in the
/// sequencer is durable (the same wait as a single envelope's), or a
/// problem. The envelopes enter the sequencer queue one after another from
/// this task, so they are sequenced in their order (other requests may
/// interleave) and an envelope may rely on an earlier one of the same
/// batch: a participant registered at position 3 can sign at position 4
/// (its signature is then checked by the rules, not before the queue). If
/// the queue fills or the deadline passes, the envelopes not yet taken are
/// withdrawn from the last one back, so what is logged is in order and
/// the rest is answered "nothing was written".
async fn submit_batch(
    app: &App,
    q: &HashMap<String, String>,
    body: &[u8],
    shape: Shape,
    deadline: Instant,
    limit: Duration,
) -> Response {
    if q.get("wait").is_some() {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Bad query string",
            "wait=checkpoint answers one envelope; a batch's receipts carry indexes, \
             prove them with GET /v1/proof/inclusion once a checkpoint covers them",
        );
    }
    if app.queue.is_none() {
        return read_only().await;
    }
    let items = match batch_items(body, shape) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let checked = preverify_all(app, items).await;
    // Enqueue in order; after the first envelope the queue refuses, the
    // rest are refused the same way (none may be sequenced without it).
    let mut slots: Vec<Option<Result<Queued, Refusal>>> = Vec::with_capacity(checked.len());
    let mut full: Option<fn() -> Refusal> = None;
    for c in checked {
        slots.push(Some(match (c, full) {
            (Err(r), _) => Err(r),
            (Ok(_), Some(again)) => Err(again()),
            (Ok((env, pre)), None) => match enqueue(app, env, pre) {
                Ok(q) => Ok(q),
                Err(r) => {
                    full = Some(
                        if r.status == StatusCode::SERVICE_UNAVAILABLE
                            && r.body["type"] == format!("{}shutting-down", super::PROBLEM_BASE)
                        {
                            shutting_down
                        } else {
                            overloaded
                        },
                    );
                    Err(r)
                }
            },
        }));
    }
    // Wait for every answer, in order. At the deadline, withdraw whatever
    // the sequencer has not taken, the last first.
    let mut results = Vec::with_capacity(slots.len());
    let mut cut = false;
    for i in 0..slots.len() {
        let r = match slots[i].take().expect("each slot is answered once") {
            Err(r) => Err(r),
            Ok(mut queued) => {
                if !cut {
                    tokio::select! {
                        a = &mut queued.rx => {
                            results.push(finish(a));
                            continue;
                        }
                        _ = tokio::time::sleep_until(deadline) => {
                            cut = true;
                            for later in slots[i + 1..].iter_mut().rev() {
                                if let Some(Ok(l)) = later {
                                    if l.claim.abandon() {
                                        *later = Some(Err(not_sequenced(app, limit)));
                                    }
                                }
                            }
                        }
                    }
                }
                if queued.claim.abandon() {
                    Err(not_sequenced(app, limit))
                } else {
                    finish(queued.rx.await)
                }
            }
        };
        results.push(r);
    }
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let out: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            Ok(receipt) => json!({"status": 200, "receipt": receipt}),
            Err(refusal) => refusal.result(),
        })
        .collect();
    json_ok(json!({
        "accepted": accepted,
        "refused": out.len() - accepted,
        "results": out,
    }))
}

/// Checked is one envelope of a batch after the signature pre-check.
type Checked = Result<(Envelope, Vec<Preverified>), Refusal>;

/// PARALLEL_FROM is the smallest batch whose signatures are spread over
/// the cores: below it, handing work to other threads costs more than the
/// few verifications (about 50 µs each) it would move.
const PARALLEL_FROM: usize = 8;

/// preverify_all checks every parsed envelope of a batch as [`preverify`]
/// does, on every core: the keys are read from one store view on this task
/// (a lookup each), then the signatures are verified in one chunk per core
/// on tokio's blocking pool, each with `verify_strict` (Ed25519) or SM2's
/// equations. No batch equation: docs/decisions.md D21.
async fn preverify_all(app: &App, items: Vec<Result<Envelope, Refusal>>) -> Vec<Checked> {
    let n = items.iter().filter(|i| i.is_ok()).count();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if n < PARALLEL_FROM || cores < 2 {
        return items
            .into_iter()
            .map(|i| {
                let env = i?;
                let pre = preverify(app, &env)?;
                Ok((env, pre))
            })
            .collect();
    }
    // Every key id the batch names, resolved once, from the store's
    // committed state in memory ([`crate::store::Store::known_key`]); a key
    // the store cannot read is left to the rules, as for one envelope.
    let mut keys: HashMap<String, Option<PublicKey>> = HashMap::new();
    for env in items.iter().flatten() {
        for sig in &env.signatures {
            if !keys.contains_key(&sig.key_id) {
                keys.insert(sig.key_id.clone(), app.store.known_key(&sig.key_id));
            }
        }
    }
    let keys = Arc::new(keys);
    // Envelopes in order, split into one contiguous chunk per core.
    let mut slots: Vec<Option<Result<Envelope, Refusal>>> = items.into_iter().map(Some).collect();
    let per = n.div_ceil(cores);
    let mut jobs = Vec::new();
    let mut chunk: Vec<(usize, Envelope)> = Vec::with_capacity(per);
    for (i, slot) in slots.iter_mut().enumerate() {
        if matches!(slot, Some(Ok(_))) {
            let Some(Ok(env)) = slot.take() else {
                unreachable!()
            };
            chunk.push((i, env));
            if chunk.len() == per {
                jobs.push(std::mem::take(&mut chunk));
            }
        }
    }
    if !chunk.is_empty() {
        jobs.push(chunk);
    }
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            let keys = keys.clone();
            tokio::task::spawn_blocking(move || {
                job.into_iter()
                    .map(|(i, env)| {
                        let pre = env.verify_known(|kid| keys.get(kid).cloned().flatten());
                        (i, env, pre)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut out: Vec<Option<Checked>> = slots
        .into_iter()
        .map(|s| match s {
            Some(Err(r)) => Some(Err(r)),
            _ => None,
        })
        .collect();
    for h in handles {
        // A panic in a verification is a bug; the request then fails as
        // any handler panic does (500, nothing queued).
        for (i, env, pre) in h.await.expect("signature verification panicked") {
            out[i] = Some(match pre {
                Ok(p) => Ok((env, p)),
                Err(e) => Err(bad_signature(app, e)),
            });
        }
    }
    out.into_iter()
        .map(|o| o.expect("every envelope is answered"))
        .collect()
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
