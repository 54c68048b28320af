//! The witness server: C2SP tlog-witness `POST /add-checkpoint`, hosted by
//! a mirror started with `--witness-key`. The request and response formats
//! are the core's ([`regledger::tlog::witness`]); this is the policy.
//!
//! It cosigns a checkpoint only if the log signed it, it is consistent
//! with the checkpoint this witness last cosigned, and the mirror has
//! verified its tree entry by entry with the same root. A log-signed
//! checkpoint that contradicts what the mirror verified, or a consistency
//! proof that shows the presented tree does not extend the cosigned one, is
//! a fork: reported through [`Witness::on_fork`] (alarm and evidence)
//! before the request is answered.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use regledger::descriptor::verify_log_signature;
use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::note::Note;
use regledger::tlog::proof::{consistency_roots, verify_consistency};
use regledger::tlog::witness::{size_body, AddCheckpoint, SIZE_CONTENT_TYPE};
use regledger::{Hash, HashSuite};

use crate::http::{problem, App};
use crate::store::{StoreError, WriteTx};

/// CatchUp verifies the mirror up to a presented checkpoint note (or says why it could not).
pub type CatchUp = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

/// OnFork records a contradiction presented to the witness (alarm and evidence).
pub type OnFork = Arc<dyn Fn(&WitnessFork) + Send + Sync>;

/// CATCH_UP_WAIT bounds how long add-checkpoint waits for a catch-up before answering 503 (the sync goes on).
pub const CATCH_UP_WAIT: Duration = Duration::from_secs(5);

/// WitnessFork is a contradiction the witness endpoint found in a request.
pub struct WitnessFork {
    /// reason says what contradicts what.
    pub reason: String,
    /// presented is the log-signed checkpoint of the request.
    pub presented: Vec<u8>,
    /// request is the whole add-checkpoint body.
    pub request: Vec<u8>,
}

/// Witness is the state of the witness handler.
pub struct Witness {
    /// app is the mirror's read side (its store holds what it verified).
    pub app: Arc<App>,
    /// key signs the cosignatures (type 0x04, cosignature/v1).
    pub key: crate::keysigner::KeySigner,
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

/// routes is `POST /add-checkpoint`.
pub fn routes(w: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .with_state(w)
}

fn witness_problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    problem(status, code, "Checkpoint not cosigned", detail)
}

fn storage_problem(w: &Witness, e: StoreError) -> Response {
    w.app.metrics.storage_errors.fetch_add(1, Ordering::Relaxed);
    witness_problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage-unavailable",
        e.to_string(),
    )
}

/// fork raises the split-view alarm and saves the evidence of a
/// contradiction presented to the witness, before the request is answered.
fn fork(w: &Witness, reason: String, note: &[u8], request: &[u8]) {
    match &w.on_fork {
        Some(on_fork) => on_fork(&WitnessFork {
            reason,
            presented: note.to_vec(),
            request: request.to_vec(),
        }),
        None => tracing::error!("SPLIT VIEW presented to the witness endpoint: {reason}"),
    }
}

/// add_checkpoint is C2SP tlog-witness `POST /add-checkpoint`.
async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let w2 = w.clone();
    match tokio::task::spawn_blocking(move || add_checkpoint_blocking(&w2, &body)).await {
        Ok(r) => r,
        Err(e) => witness_problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

/// Presented is a request whose checkpoint the log signed.
struct Presented {
    req: AddCheckpoint,
    cp: Checkpoint,
    /// text is the checkpoint text the cosignature signs.
    text: String,
}

/// presented parses the request and checks that it is for this log and signed by it.
fn presented(w: &Witness, body: &[u8]) -> Result<Presented, Response> {
    let req = AddCheckpoint::parse(body)
        .map_err(|e| witness_problem(StatusCode::BAD_REQUEST, "malformed", e.to_string()))?;
    let d = &w.app.descriptor;
    let cp = Note::parse(&req.note)
        .map_err(|e| e.to_string())
        .and_then(|n| Checkpoint::parse(&n.text).map_err(|e| e.to_string()))
        .map_err(|e| witness_problem(StatusCode::BAD_REQUEST, "malformed", e))?;
    if cp.origin != d.origin {
        return Err(witness_problem(
            StatusCode::NOT_FOUND,
            "unknown-log",
            format!("this witness does not know the log {:?}", cp.origin),
        ));
    }
    let text = verify_log_signature(&req.note, d)
        .map(|v| v.note.text)
        .map_err(|e| witness_problem(StatusCode::FORBIDDEN, "bad-signature", e.to_string()))?;
    Ok(Presented { req, cp, text })
}

/// root_differs describes a signed root that is not the one verified at its size.
fn root_differs(cp: &Checkpoint, verified: &Hash) -> String {
    format!(
        "the log signed root {} at size {}, but this mirror verified root {} at that size",
        cp.root.to_hex(),
        cp.size,
        verified.to_hex()
    )
}

fn add_checkpoint_blocking(w: &Witness, body: &[u8]) -> Response {
    let p = match presented(w, body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let suite = w.app.descriptor.suite;
    // A checkpoint at a size this mirror verified entry by entry (under
    // checkpoints the log signed) must have the root it verified; another
    // root is the log key signing two histories, whatever `old` says (a
    // stale client presents an old checkpoint of the same tree: no fork).
    let verified = (|| -> Result<Option<Hash>, StoreError> {
        let v = w.app.store.read()?;
        if p.cp.size > v.size()? {
            return Ok(None);
        }
        v.root_at(suite, p.cp.size).map(Some)
    })();
    let verified = match verified {
        Ok(v) => v,
        Err(e) => return storage_problem(w, e),
    };
    if let Some(root) = verified.filter(|r| *r != p.cp.root) {
        fork(w, root_differs(&p.cp, &root), &p.req.note, body);
    }
    // Verify the entries first when the checkpoint is ahead of this mirror
    // (outside the witness transaction: the sync commits its own).
    let not_verified = match (verified, &w.catch_up) {
        (None, Some(catch_up)) => wait_for_catch_up(catch_up, &p.req.note, CATCH_UP_WAIT),
        _ => String::new(),
    };
    if p.req.old > p.cp.size {
        return witness_problem(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!(
                "old size {} is larger than the checkpoint's {}",
                p.req.old, p.cp.size
            ),
        );
    }
    let mut found_fork = None;
    let r = (|| -> Result<Result<(), Response>, StoreError> {
        let tx = w.app.store.write()?;
        if let Err(r) = check(w, &tx, suite, &p, verified, &not_verified, &mut found_fork)? {
            return Ok(Err(r));
        }
        tx.set_witness_checkpoint(&String::from_utf8_lossy(&p.req.note))?;
        tx.commit()?;
        Ok(Ok(()))
    })();
    if let Some(reason) = found_fork {
        fork(w, reason, &p.req.note, body);
    }
    match r {
        Ok(Ok(())) => {}
        Ok(Err(resp)) => return resp,
        Err(e) => return storage_problem(w, e),
    }
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match w.key.cosign(&p.text, ts) {
        Ok(sig) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            sig.to_line(),
        )
            .into_response(),
        Err(e) => witness_problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

/// CATCH_UPS_IN_FLIGHT counts catch-up threads started by add-checkpoint
/// requests. At most one runs at a time: a flood of requests for a log
/// that is ahead would otherwise start a thread each (all syncing the same
/// entries), and the later ones learn nothing the first will not.
static CATCH_UPS_IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// wait_for_catch_up runs the mirror's catch-up to `note` in its own thread,
/// so a slow upstream costs the caller at most `wait` (the sync then
/// finishes for the next request); it returns why the entries are not
/// verified yet, as a suffix of the 503's detail ("" if they are). While
/// one catch-up runs, another request does not start a second.
fn wait_for_catch_up(catch_up: &CatchUp, note: &[u8], wait: Duration) -> String {
    if CATCH_UPS_IN_FLIGHT
        .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return ": still verifying (a catch-up is running)".into();
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let (catch_up, note) = (catch_up.clone(), note.to_vec());
    std::thread::spawn(move || {
        // Released however the catch-up ends, panics included.
        struct Release;
        impl Drop for Release {
            fn drop(&mut self) {
                CATCH_UPS_IN_FLIGHT.store(0, Ordering::Release);
            }
        }
        let _release = Release;
        let _ = done_tx.send(catch_up(&note));
    });
    match done_rx.recv_timeout(wait) {
        Ok(Ok(())) => String::new(),
        Ok(Err(e)) => format!(": {e}"),
        Err(_) => ": still verifying".into(),
    }
}

/// check decides, inside the witness transaction `tx`, whether the
/// presented checkpoint may be cosigned: `Ok(Err(answer))` refuses it with
/// that answer. A proven fork is put in `found_fork` for the caller to
/// record after the transaction.
fn check(
    w: &Witness,
    tx: &WriteTx,
    suite: HashSuite,
    p: &Presented,
    verified: Option<Hash>,
    not_verified: &str,
    found_fork: &mut Option<String>,
) -> Result<Result<(), Response>, StoreError> {
    let (req, cp) = (&p.req, &p.cp);
    let (wsize, wroot) = match tx.witness_checkpoint()? {
        Some(n) => {
            let c = Note::parse(n.as_bytes())
                .ok()
                .and_then(|n| Checkpoint::parse(&n.text).ok())
                .ok_or(StoreError::Unreadable("witness checkpoint"))?;
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
    if let Err(r) = check_consistency(suite, req, cp, wsize, wroot, found_fork) {
        return Ok(Err(r));
    }
    // Cosign only what this mirror verified entry by entry itself.
    let msize = tx.head().size;
    if cp.size > msize {
        if let Ok(wake) = w.wake.lock() {
            let _ = wake.send(());
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
    let root = tx.root_at(suite, cp.size)?;
    if root != cp.root {
        // Only reached if the mirror verified this size since the
        // check above (a catch-up): the same contradiction.
        if verified.is_none() {
            *found_fork = Some(root_differs(cp, &root));
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
    Ok(Ok(()))
}

/// check_consistency checks that the presented tree extends the one this
/// witness cosigned (size `wsize`, root `wroot`), as tlog-witness requires.
fn check_consistency(
    suite: HashSuite,
    req: &AddCheckpoint,
    cp: &Checkpoint,
    wsize: u64,
    wroot: Hash,
    found_fork: &mut Option<String>,
) -> Result<(), Response> {
    let consistent = if req.old == cp.size {
        if !req.proof.is_empty() {
            return Err(witness_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad-consistency-proof",
                "a proof between equal sizes must be empty",
            ));
        }
        // tlog-witness: the same size with another root is a 409.
        if cp.root != wroot {
            return Err(witness_problem(
                StatusCode::CONFLICT,
                "split-view",
                format!(
                    "this witness cosigned root {} at size {}, not {}; the evidence is saved",
                    wroot.to_hex(),
                    wsize,
                    cp.root.to_hex()
                ),
            ));
        }
        true
    } else if req.old == 0 {
        req.proof.is_empty()
    } else if verify_consistency(suite, req.old, cp.size, &req.proof, &wroot, &cp.root).is_ok() {
        true
    } else {
        // A proof whose nodes rebuild the presented root is made of
        // the presented tree's nodes; if they give another root at
        // the cosigned size, the log signed a tree that does not
        // extend the one cosigned. Anything else proves nothing.
        if let Some((old_root, _)) = consistency_roots(suite, req.old, cp.size, &req.proof)
            .filter(|(o, n)| *n == cp.root && *o != wroot)
        {
            *found_fork = Some(format!(
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
        return Err(witness_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-consistency-proof",
            format!(
                "the proof does not show size {} extends size {}",
                cp.size, req.old
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_flood_of_requests_starts_one_catch_up_at_a_time() {
        let started = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let (s2, r2) = (started.clone(), release_rx.clone());
        let catch_up: CatchUp = Arc::new(move |_note: &[u8]| {
            s2.fetch_add(1, Ordering::SeqCst);
            let _ = r2.lock().unwrap().recv();
            Ok(())
        });
        // The first request starts the catch-up and times out waiting for it.
        let first = wait_for_catch_up(&catch_up, b"n", Duration::from_millis(20));
        assert_eq!(first, ": still verifying");
        // Fifty more while it runs start nothing.
        for _ in 0..50 {
            let r = wait_for_catch_up(&catch_up, b"n", Duration::from_millis(1));
            assert!(r.contains("a catch-up is running"), "{r}");
        }
        assert_eq!(started.load(Ordering::SeqCst), 1);
        // Once it ends, the next request may start another, which answers in time.
        release_tx.send(()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while CATCH_UPS_IN_FLIGHT.load(Ordering::Acquire) != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the first catch-up never ended"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        release_tx.send(()).unwrap();
        let again = wait_for_catch_up(&catch_up, b"n", Duration::from_secs(60));
        assert_eq!(again, "");
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }
}
