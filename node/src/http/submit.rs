//! `POST /v1/entries`: read the body within the deadline, parse the
//! envelope, verify the signatures by keys already registered
//! ([`preverify`]), queue the entry for the sequencer and answer with its
//! durable receipt (optionally with the checkpoint that covers it).

use std::sync::atomic::Ordering;
use std::sync::mpsc::TrySendError;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use regledger::entry::envelope::{Envelope, Preverified};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{
    json_ok, problem, proof_b64, read_body, read_only, request_timeout, App, QueryMap,
    MAX_BODY_BYTES, WAIT_TIMEOUT,
};
use crate::log::sequencer::{Claim, Receipt, Rejection, Submission};

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
            let mut resp = match v.citation() {
                // The article travels in the body too (an RFC 9457
                // extension member), readable as it is written.
                Some(c) => super::problem_with(
                    status,
                    v.code(),
                    "Entry refused by a registry rule",
                    v.to_string(),
                    &[("citation", c)],
                ),
                None => problem(
                    status,
                    v.code(),
                    "Entry refused by a registry rule",
                    v.to_string(),
                ),
            };
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
pub(super) async fn submit(
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
    let pre = match preverify(&app, &env) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let receipt = match sequenced(&app, env, pre, deadline, limit).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if q.get("wait").map(String::as_str) == Some("checkpoint") {
        return with_checkpoint(&app, receipt, deadline).await;
    }
    json_ok(serde_json::to_value(&receipt).expect("receipt json"))
}

/// preverify verifies every signature by a key already committed here, on
/// the request's thread, so the sequencer need not (keys are immutable
/// once registered); the rules verify every other one. Keys come from the
/// store's committed state in memory ([`crate::store::Store::known_key`]);
/// a store that cannot be read leaves them all to the rules.
fn preverify(app: &App, env: &Envelope) -> Result<Vec<Preverified>, Response> {
    env.verify_known(|kid| app.store.known_key(kid))
        .map_err(|e| {
            app.metrics.reject("bad-signature");
            problem(
                StatusCode::FORBIDDEN,
                "bad-signature",
                "Entry refused by a registry rule",
                format!("signature does not verify: {e}"),
            )
        })
}

fn shutting_down() -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting-down",
        "Shutting down",
        "the sequencer stopped",
    )
}

/// sequenced queues the entry and waits for the sequencer's answer: the
/// durable receipt, or the problem to answer (queue full, withdrawn at the
/// deadline, refused).
async fn sequenced(
    app: &App,
    env: Envelope,
    pre: Vec<Preverified>,
    deadline: Instant,
    limit: Duration,
) -> Result<Receipt, Response> {
    let Some(queue) = &app.queue else {
        return Err(read_only().await);
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
            return Err(r);
        }
        Err(TrySendError::Disconnected(_)) => return Err(shutting_down()),
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
                return Err(r);
            }
            // The sequencer took it first: its batch is being committed, and
            // the client must learn the outcome (the commit itself is bounded).
            rx.await
        }
    };
    match answer {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(rej)) => Err(rejection_response(rej)),
        Err(_) => Err(shutting_down()),
    }
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
