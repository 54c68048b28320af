//! A mirror's change feed: SSE `GET /v1/events` and webhooks. (Its C2SP
//! tlog-witness `POST /add-checkpoint` is the witness server,
//! node/src/witness/server.rs.)
//!
//! Events are derived from the stored, verified entries, so a subscriber
//! resumes from any leaf index (`Last-Event-ID`) with nothing extra stored,
//! and a watch channel on the accepted size wakes the streams (a broadcast
//! of events could drop them for a slow reader; re-reading the log cannot).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use regledger::registry::EntryKind;
use regledger::tlog::checkpoint::parse_size;
use serde::Serialize;

use crate::http::{problem, App};
use crate::store::{Store, StoreError};

/// MAX_BACKOFF caps the retry delay of a webhook delivery.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Feed is the state of the feed handlers.
pub struct Feed {
    /// app is the shared read side.
    pub app: Arc<App>,
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
pub fn event_of(index: u64, leaf: &[u8], envelope: Option<&[u8]>) -> Option<ChangeEvent> {
    let o = regledger::entry::leaf::open_entry_unchecked(leaf, envelope).ok()?;
    let (l, env) = (o.leaf, o.envelope?);
    let entry_kind = EntryKind::from_name(env.kind_name().ok()?)?;
    let kind = event_type(entry_kind)?;
    let subject = entry_kind.subject_id(&env.payload).unwrap_or_default();
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
///
/// # Errors
///
/// A [`StoreError`] if the store cannot be read.
pub fn events_between(
    store: &Store,
    from: u64,
    to: u64,
) -> Result<(Vec<ChangeEvent>, u64), StoreError> {
    let end = to.min(from.saturating_add(256));
    let view = store.read()?;
    let mut out = Vec::new();
    for i in from..end {
        if let Some(b) = view.leaf(i)? {
            let env = view.envelope(i)?;
            out.extend(event_of(i, &b, env.as_deref()));
        }
    }
    Ok((out, end))
}

/// routes are the feed's routes: the event stream.
pub fn routes(feed: Arc<Feed>) -> Router {
    Router::new()
        .route("/v1/events", get(events))
        .with_state(feed)
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
    let store = feed.app.store.clone();
    let next = {
        let (store, url) = (store.clone(), url.clone());
        tokio::task::spawn_blocking(move || -> Result<u64, StoreError> {
            Ok(store.read()?.webhook_delivered(&url)?.map_or(0, |i| i + 1))
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
            let (s3, u, id) = (store.clone(), url.clone(), e.id);
            let saved = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                let tx = s3.write()?;
                tx.set_webhook_delivered(&u, id)?;
                tx.commit()
            })
            .await;
            if !matches!(saved, Ok(Ok(()))) {
                tracing::error!(%url, id = e.id, "webhook position not saved: {saved:?}");
            }
        }
        next = n;
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
        assert_eq!(event_of(3, b"not a leaf", None), None);
    }

    /// The one table of feed events and the kinds behind them, as
    /// docs/registry.md and docs/venue.md show it.
    #[test]
    fn both_docs_show_the_event_table_this_code_uses() {
        let mut t = String::from(
            "<!-- feed events: begin -->\n| feed event | entry kind |\n| --- | --- |\n",
        );
        for k in EntryKind::ALL {
            if let Some(e) = event_type(*k) {
                t.push_str(&format!("| `{e}` | `{}` |\n", k.name()));
            }
        }
        t.push_str("<!-- feed events: end -->");
        for (name, doc) in [
            (
                "docs/registry.md",
                include_str!("../../../docs/registry.md"),
            ),
            ("docs/venue.md", include_str!("../../../docs/venue.md")),
        ] {
            assert!(doc.contains(&t), "{name} must show exactly:\n{t}");
        }
    }
}
