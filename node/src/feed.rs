//! A mirror's outward services: the change feed (SSE `GET /v1/events` and
//! webhooks) and the C2SP tlog-witness `POST /add-checkpoint`.
//!
//! Events are derived from the stored, verified entries, so a subscriber
//! resumes from any leaf index (`Last-Event-ID`) with nothing extra stored,
//! and a watch channel on the accepted size wakes the streams (a broadcast
//! of events could drop them for a slow reader; re-reading the log cannot).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use regledger::descriptor::verify_log_signature;
use regledger::entry::leaf::Leaf;
use regledger::registry::EntryKind;
use regledger::tlog::checkpoint::{parse_size, Checkpoint};
use regledger::tlog::cosignature::cosign;
use regledger::tlog::note::{Note, Signer};
use regledger::tlog::proof::{consistency_roots, verify_consistency};
use regledger::tlog::tree::tree_hash;
use regledger::tlog::witness::{size_body, AddCheckpoint, SIZE_CONTENT_TYPE};
use regledger::Hash;
use serde::Serialize;

use crate::http::{problem, App};
use crate::mirror::WitnessFork;
use crate::store::{meta_str, meta_u64, Hashes, Store, StoreError, HASHES, META, M_SIZE};

/// M_WITNESS is the META key of the latest checkpoint this witness cosigned.
pub const M_WITNESS: &str = "witness_checkpoint";

/// WEBHOOK_PREFIX prefixes the META key holding a webhook's last delivered event id.
pub const WEBHOOK_PREFIX: &str = "webhook:";

/// MAX_BACKOFF caps the retry delay of a webhook delivery.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// CatchUp verifies the mirror up to a presented checkpoint note (or says why it could not).
pub type CatchUp = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

/// OnFork records a contradiction presented to the witness (alarm and evidence).
pub type OnFork = Arc<dyn Fn(&WitnessFork) + Send + Sync>;

/// CATCH_UP_WAIT bounds how long add-checkpoint waits for a catch-up before answering 503 (the sync goes on).
pub const CATCH_UP_WAIT: Duration = Duration::from_secs(5);

/// Feed is the state of the feed and witness handlers.
pub struct Feed {
    /// app is the shared read side.
    pub app: Arc<App>,
    /// witness signs cosignatures when the mirror is also a witness.
    pub witness: Option<Signer>,
    /// wake asks the sync loop to poll the upstream now.
    pub wake: Mutex<std::sync::mpsc::Sender<()>>,
    /// catch_up verifies the upstream's entries up to a checkpoint presented
    /// to the witness (a log that waits for its witnesses' quorum before it
    /// publishes would otherwise never show the mirror that checkpoint).
    pub catch_up: Option<CatchUp>,
    /// on_fork raises the split-view alarm and saves the evidence when a
    /// request presents a log-signed checkpoint that contradicts the mirror.
    pub on_fork: Option<OnFork>,
}

/// ChangeEvent is one registry change a venue reacts to.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ChangeEvent {
    /// id is the event id: the leaf index of the entry.
    pub id: u64,
    /// type is the change, e.g. `product-revoked`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// subject is the product or agreement concerned.
    pub subject: String,
    /// index is the entry's index in the log.
    pub index: u64,
    /// entry_kind is the log entry kind behind the change.
    pub entry_kind: String,
    /// integrated_time_ms is when the log sequenced it.
    pub integrated_time_ms: u64,
}

/// event_type maps an entry kind to the change it announces, if any.
pub fn event_type(kind: EntryKind) -> Option<&'static str> {
    Some(match kind {
        EntryKind::ProductRegistered => "product-registered",
        EntryKind::ProductChanged => "product-changed",
        EntryKind::ProductSuspended => "product-suspended",
        EntryKind::ProductResumed => "product-resumed",
        EntryKind::ProductRegistrationRevoked => "product-revoked",
        EntryKind::ProductDeregistered => "product-deregistered",
        EntryKind::AgreementSuspended => "authorization-suspended",
        EntryKind::AgreementTerminated => "authorization-terminated",
        _ => return None,
    })
}

/// event_of derives the change event of a stored leaf, if it announces one.
pub fn event_of(index: u64, leaf: &[u8]) -> Option<ChangeEvent> {
    let l = Leaf::parse(leaf).ok()?;
    let entry_kind = EntryKind::from_name(l.envelope.kind_name().ok()?)?;
    let kind = event_type(entry_kind)?;
    let subject = entry_kind
        .subject_id(&l.envelope.payload)
        .unwrap_or_default();
    Some(ChangeEvent {
        id: index,
        kind,
        subject,
        index,
        entry_kind: entry_kind.name().to_string(),
        integrated_time_ms: l.integrated_time_ms,
    })
}

/// events_between reads the events of entries `from..to` (at most 256 entries) and returns them with the next index.
pub fn events_between(
    store: &Store,
    from: u64,
    to: u64,
) -> Result<(Vec<ChangeEvent>, u64), StoreError> {
    let end = to.min(from.saturating_add(256));
    let view = store.view()?;
    let mut out = Vec::new();
    for i in from..end {
        if let Some(b) = view.leaf(i)? {
            out.extend(event_of(i, &b));
        }
    }
    Ok((out, end))
}

/// routes are the mirror's extra routes: the event stream and, with a witness key, `/add-checkpoint`.
pub fn routes(feed: Arc<Feed>) -> Router {
    let mut r = Router::new().route("/v1/events", get(events));
    if feed.witness.is_some() {
        r = r.route("/add-checkpoint", post(add_checkpoint));
    }
    r.with_state(feed)
}

fn accepted_size(app: &App) -> u64 {
    app.latest.read().expect("lock").size
}

/// events is `GET /v1/events`: Server-Sent Events from `Last-Event-ID` + 1,
/// or `?from=INDEX`, or (neither) from the next entry on.
async fn events(
    State(feed): State<Arc<Feed>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let bad = |what: &str| {
        problem(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Bad event id",
            format!("{what} must be a decimal without leading zeros"),
        )
    };
    let start = if let Some(v) = headers.get("last-event-id") {
        match v.to_str().ok().and_then(parse_size) {
            Some(i) => i.saturating_add(1),
            None => return bad("Last-Event-ID"),
        }
    } else if let Some(v) = q.get("from") {
        match parse_size(v) {
            Some(i) => i,
            None => return bad("from"),
        }
    } else {
        accepted_size(&feed.app)
    };
    let rx = feed.app.published.clone();
    let state = (feed, start, rx, VecDeque::<ChangeEvent>::new());
    let stream =
        futures_util::stream::unfold(state, |(feed, mut next, mut rx, mut buf)| async move {
            loop {
                if let Some(e) = buf.pop_front() {
                    let ev = Event::default()
                        .id(e.id.to_string())
                        .event(e.kind)
                        .data(serde_json::to_string(&e).expect("event json"));
                    return Some((Ok::<_, Infallible>(ev), (feed, next, rx, buf)));
                }
                let size = accepted_size(&feed.app);
                if next < size {
                    let store = feed.app.store.clone();
                    let r = tokio::task::spawn_blocking(move || events_between(&store, next, size))
                        .await
                        .ok()?;
                    let (evs, n) = r.ok()?;
                    buf.extend(evs);
                    next = n;
                    continue;
                }
                rx.changed().await.ok()?;
            }
        });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// webhook delivers every event to `url`, at least once and in order, resuming after the last delivered id.
pub async fn webhook(feed: Arc<Feed>, url: String) {
    let key = format!("{WEBHOOK_PREFIX}{url}");
    let store = feed.app.store.clone();
    let next = {
        let (store, key) = (store.clone(), key.clone());
        tokio::task::spawn_blocking(move || -> Result<u64, StoreError> {
            let view = store.view()?;
            Ok(match meta_str(&view.meta, &key)? {
                Some(s) => s.parse::<u64>().map(|i| i + 1).unwrap_or(0),
                None => 0,
            })
        })
        .await
    };
    let mut next = match next {
        Ok(Ok(n)) => n,
        other => {
            tracing::error!(%url, "webhook cannot read its position: {other:?}");
            return;
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(%url, "webhook client: {e}");
            return;
        }
    };
    let mut rx = feed.app.published.clone();
    loop {
        let size = accepted_size(&feed.app);
        if next >= size {
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        let s2 = store.clone();
        let Ok(Ok((evs, n))) =
            tokio::task::spawn_blocking(move || events_between(&s2, next, size)).await
        else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        for e in evs {
            let mut delay = Duration::from_millis(200);
            loop {
                let ok = client
                    .post(&url)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(&e).expect("event json"))
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ok {
                    break;
                }
                tracing::warn!(%url, id = e.id, "webhook delivery failed; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
            }
            // Persisted after the receiver said yes: a crash in between
            // repeats the event (at least once), never skips it.
            let (s3, k, id) = (store.clone(), key.clone(), e.id);
            let saved = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                let tx = s3.write()?;
                tx.open_table(META)?
                    .insert(k.as_str(), id.to_string().as_bytes())?;
                tx.commit()?;
                Ok(())
            })
            .await;
            if !matches!(saved, Ok(Ok(()))) {
                tracing::error!(%url, id = e.id, "webhook position not saved: {saved:?}");
            }
        }
        next = n;
    }
}

fn witness_problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    problem(status, code, "Checkpoint not cosigned", detail)
}

fn storage_problem(feed: &Feed, e: StoreError) -> Response {
    feed.app
        .metrics
        .storage_errors
        .fetch_add(1, Ordering::Relaxed);
    witness_problem(StatusCode::SERVICE_UNAVAILABLE, "storage-unavailable", e.0)
}

/// fork raises the split-view alarm and saves the evidence of a
/// contradiction presented to the witness, before the request is answered.
fn fork(feed: &Feed, reason: String, note: &[u8], request: &[u8]) {
    match &feed.on_fork {
        Some(on_fork) => on_fork(&WitnessFork {
            reason,
            presented: note.to_vec(),
            request: request.to_vec(),
        }),
        None => tracing::error!("SPLIT VIEW presented to the witness endpoint: {reason}"),
    }
}

/// add_checkpoint is C2SP tlog-witness `POST /add-checkpoint`.
async fn add_checkpoint(State(feed): State<Arc<Feed>>, body: Bytes) -> Response {
    let f = feed.clone();
    match tokio::task::spawn_blocking(move || add_checkpoint_blocking(&f, &body)).await {
        Ok(r) => r,
        Err(e) => witness_problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

fn add_checkpoint_blocking(feed: &Feed, body: &[u8]) -> Response {
    let Some(witness) = &feed.witness else {
        return witness_problem(StatusCode::NOT_FOUND, "not-found", "not a witness");
    };
    let req = match AddCheckpoint::parse(body) {
        Ok(r) => r,
        Err(e) => return witness_problem(StatusCode::BAD_REQUEST, "malformed", e.to_string()),
    };
    let d = &feed.app.descriptor;
    let cp = match Note::parse(&req.note)
        .map_err(|e| e.to_string())
        .and_then(|n| Checkpoint::parse(&n.text).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => return witness_problem(StatusCode::BAD_REQUEST, "malformed", e),
    };
    if cp.origin != d.origin {
        return witness_problem(
            StatusCode::NOT_FOUND,
            "unknown-log",
            format!("this witness does not know the log {:?}", cp.origin),
        );
    }
    let text = match verify_log_signature(&req.note, d) {
        Ok(v) => v.note.text,
        Err(e) => return witness_problem(StatusCode::FORBIDDEN, "bad-signature", e.to_string()),
    };
    let suite = d.suite;
    // A checkpoint at a size this mirror verified entry by entry (under
    // checkpoints the log signed) must have the root it verified; another
    // root is the log key signing two histories, whatever `old` says (a
    // stale client presents an old checkpoint of the same tree: no fork).
    let verified = (|| -> Result<Option<Hash>, StoreError> {
        let v = feed.app.store.view()?;
        if cp.size > meta_u64(&v.meta, M_SIZE)? {
            return Ok(None);
        }
        tree_hash(suite, cp.size, &Hashes(&v.hashes))
            .map(Some)
            .map_err(|e| StoreError(e.to_string()))
    })();
    let verified = match verified {
        Ok(v) => v,
        Err(e) => return storage_problem(feed, e),
    };
    if let Some(root) = verified.filter(|r| *r != cp.root) {
        fork(
            feed,
            format!(
                "the log signed root {} at size {}, but this mirror verified root {} at that size",
                cp.root.to_hex(),
                cp.size,
                root.to_hex()
            ),
            &req.note,
            body,
        );
    }
    // Verify the entries first when the checkpoint is ahead of this mirror
    // (outside the witness transaction: the sync commits its own).
    let mut not_verified = String::new();
    if let (None, Some(catch_up)) = (verified, &feed.catch_up) {
        // In its own thread so a slow upstream costs the caller at most
        // CATCH_UP_WAIT; the sync then finishes for the next request.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let (catch_up, note) = (catch_up.clone(), req.note.clone());
        std::thread::spawn(move || {
            let _ = done_tx.send(catch_up(&note));
        });
        not_verified = match done_rx.recv_timeout(CATCH_UP_WAIT) {
            Ok(Ok(())) => String::new(),
            Ok(Err(e)) => format!(": {e}"),
            Err(_) => ": still verifying".into(),
        };
    }
    if req.old > cp.size {
        return witness_problem(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!(
                "old size {} is larger than the checkpoint's {}",
                req.old, cp.size
            ),
        );
    }
    let mut found_fork = None;
    let r = (|| -> Result<Result<(), Response>, StoreError> {
        let tx = feed.app.store.write()?;
        {
            let mut meta = tx.open_table(META)?;
            let (wsize, wroot) = match meta_str(&meta, M_WITNESS)? {
                Some(n) => {
                    let c = Note::parse(n.as_bytes())
                        .ok()
                        .and_then(|n| Checkpoint::parse(&n.text).ok())
                        .ok_or_else(|| StoreError("stored witness checkpoint unreadable".into()))?;
                    (c.size, c.root)
                }
                None => (0, suite.empty_root()),
            };
            if req.old != wsize {
                let mut r = (
                    StatusCode::CONFLICT,
                    [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
                    size_body(wsize),
                )
                    .into_response();
                r.headers_mut()
                    .insert("x-regledger-problem", HeaderValue::from_static("old-size"));
                return Ok(Err(r));
            }
            let consistent = if req.old == cp.size {
                if !req.proof.is_empty() {
                    return Ok(Err(witness_problem(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "bad-consistency-proof",
                        "a proof between equal sizes must be empty",
                    )));
                }
                // tlog-witness: the same size with another root is a 409.
                if cp.root != wroot {
                    return Ok(Err(witness_problem(
                        StatusCode::CONFLICT,
                        "split-view",
                        format!(
                            "this witness cosigned root {} at size {}, not {}; the evidence is saved",
                            wroot.to_hex(),
                            wsize,
                            cp.root.to_hex()
                        ),
                    )));
                }
                true
            } else if req.old == 0 {
                req.proof.is_empty()
            } else if verify_consistency(suite, req.old, cp.size, &req.proof, &wroot, &cp.root)
                .is_ok()
            {
                true
            } else {
                // A proof whose nodes rebuild the presented root is made of
                // the presented tree's nodes; if they give another root at
                // the cosigned size, the log signed a tree that does not
                // extend the one cosigned. Anything else proves nothing.
                if let Some((old_root, _)) = consistency_roots(suite, req.old, cp.size, &req.proof)
                    .filter(|(o, n)| *n == cp.root && *o != wroot)
                {
                    found_fork = Some(format!(
                        "the consistency proof rebuilds the signed root {} at size {} from that tree's nodes and gives root {} at size {}, where this witness cosigned root {}",
                        cp.root.to_hex(),
                        cp.size,
                        old_root.to_hex(),
                        req.old,
                        wroot.to_hex()
                    ));
                }
                false
            };
            if !consistent {
                return Ok(Err(witness_problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad-consistency-proof",
                    format!(
                        "the proof does not show size {} extends size {}",
                        cp.size, req.old
                    ),
                )));
            }
            // Cosign only what this mirror verified entry by entry itself.
            let msize = meta_u64(&meta, M_SIZE)?;
            if cp.size > msize {
                if let Ok(w) = feed.wake.lock() {
                    let _ = w.send(());
                }
                let mut r = witness_problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not-yet-verified",
                    format!(
                        "this mirror has verified {msize} entries, not yet {}{not_verified}",
                        cp.size
                    ),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return Ok(Err(r));
            }
            let root = tree_hash(suite, cp.size, &Hashes(&tx.open_table(HASHES)?))
                .map_err(|e| StoreError(e.to_string()))?;
            if root != cp.root {
                // Only reached if the mirror verified this size since the
                // check above (a catch-up): the same contradiction.
                if verified.is_none() {
                    found_fork = Some(format!(
                        "the log signed root {} at size {}, but this mirror verified root {} at that size",
                        cp.root.to_hex(),
                        cp.size,
                        root.to_hex()
                    ));
                }
                return Ok(Err(witness_problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "conflicts-with-verified-log",
                    format!(
                        "at size {} this mirror verified root {}, not {}",
                        cp.size,
                        root.to_hex(),
                        cp.root.to_hex()
                    ),
                )));
            }
            let note = String::from_utf8_lossy(&req.note).into_owned();
            meta.insert(M_WITNESS, note.as_bytes())?;
        }
        tx.commit()?;
        Ok(Ok(()))
    })();
    if let Some(reason) = found_fork {
        fork(feed, reason, &req.note, body);
    }
    match r {
        Ok(Ok(())) => {}
        Ok(Err(resp)) => return resp,
        Err(e) => return storage_problem(feed, e),
    }
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match cosign(witness, &text, ts) {
        Ok(sig) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            sig.to_line(),
        )
            .into_response(),
        Err(e) => witness_problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_map_only_changes_venues_act_on() {
        assert_eq!(
            event_type(EntryKind::ProductRegistrationRevoked),
            Some("product-revoked")
        );
        assert_eq!(
            event_type(EntryKind::AgreementTerminated),
            Some("authorization-terminated")
        );
        assert_eq!(event_type(EntryKind::OperationEvent), None);
        assert_eq!(event_of(3, b"not a leaf"), None);
    }
}
