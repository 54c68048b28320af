//! Batch submissions (D21): one request of many envelopes, a JSON array
//! or NDJSON, bounded in count and bytes; each envelope is answered in
//! order with the single path's receipt or problem, and its signatures
//! are checked on every core first.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use regledger::crypto::PublicKey;
use regledger::entry::envelope::{Envelope, Preverified};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::super::{json_ok, problem, read_only, App, MAX_BATCH_ENTRIES, MAX_BODY_BYTES};

use super::*;

pub(super) fn bad_batch(code: &str, title: &str, detail: impl Into<String>) -> Response {
    problem(StatusCode::BAD_REQUEST, code, title, detail)
}

pub(super) fn batch_too_large(n: usize) -> Response {
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

pub(super) fn envelope_too_large(i: usize) -> Response {
    super::super::body_too_large_because(format!(
        "envelope {i} of the batch is larger than {MAX_BODY_BYTES} bytes, the limit of one envelope; nothing was written"
    ))
}

/// array_items splits a JSON array body into its top-level elements
/// (byte ranges), without parsing them: strings and nesting are tracked
/// just enough to find the commas between elements. It runs before the
/// parse so that an oversized element or count is a 413 whatever it
/// contains. A body that is not a well-formed array yields ranges that the
/// parse then refuses.
pub(super) fn array_items(body: &[u8]) -> Vec<std::ops::Range<usize>> {
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
pub(super) fn batch_items(
    body: &[u8],
    shape: Shape,
) -> Result<Vec<Result<Envelope, Refusal>>, Response> {
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

pub(super) fn check_counts(sizes: impl ExactSizeIterator<Item = usize>) -> Result<(), Response> {
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
pub(super) async fn submit_batch(
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
                            && r.body["type"]
                                == format!("{}shutting-down", super::super::PROBLEM_BASE)
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
pub(super) const PARALLEL_FROM: usize = 8;

/// verify_slots bounds the signature jobs running at once, process-wide, to
/// the cores: 64 clients each sending a batch would otherwise put 128
/// CPU-bound jobs on tokio's blocking pool (up to 512 threads), which
/// spends the cores switching between them and holds every batch's
/// envelopes in memory at once. A job waits for a slot instead; the wait
/// is the back-pressure a client sees as latency, not as threads.
fn verify_slots() -> Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            Arc::new(Semaphore::new(cores))
        })
        .clone()
}

/// on_a_core waits for one of `slots`, then runs `work` on tokio's blocking
/// pool holding it; the slot is freed when `work` returns (or panics).
async fn on_a_core<T: Send + 'static>(
    slots: Arc<Semaphore>,
    work: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    // The semaphore is never closed, so acquiring only waits.
    let slot = slots
        .acquire_owned()
        .await
        .expect("the verification slots are never closed");
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        work()
    })
}

/// preverify_all checks every parsed envelope of a batch as [`preverify`]
/// does, on every core: the keys are read from one store view on this task
/// (a lookup each), then the signatures are verified in one chunk per core
/// on tokio's blocking pool, each with `verify_strict` (Ed25519) or SM2's
/// equations. No batch equation: docs/decisions.md D21.
pub(super) async fn preverify_all(
    app: &App,
    items: Vec<Result<Envelope, Refusal>>,
) -> Vec<Checked> {
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
    let mut handles = Vec::with_capacity(jobs.len());
    for job in jobs {
        let keys = keys.clone();
        handles.push(
            on_a_core(verify_slots(), move || {
                job.into_iter()
                    .map(|(i, env)| {
                        let pre = env.verify_known(|kid| keys.get(kid).cloned().flatten());
                        (i, env, pre)
                    })
                    .collect::<Vec<_>>()
            })
            .await,
        );
    }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    // More jobs than slots, each long enough to overlap: at no time do more
    // run than there are slots, and every job runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn signature_jobs_never_outnumber_the_slots() {
        let slots = Arc::new(Semaphore::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (slots, running, most) = (slots.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                on_a_core(slots, move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    running.fetch_sub(1, Ordering::SeqCst);
                    1usize
                })
                .await
                .await
                .unwrap()
            }));
        }
        let mut done = 0;
        for t in tasks {
            done += t.await.unwrap();
        }
        assert_eq!(done, 8);
        let most = most.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&most),
            "{most} jobs ran at once on 2 slots"
        );
        assert_eq!(slots.available_permits(), 2, "a slot was not given back");
    }
}
