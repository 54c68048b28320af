//! `GET /v1/status/{kind}/{id}` (node and mirror, CONTRACT.md): the status
//! proof of one registry object, or of its absence, as of the served
//! checkpoint (schemas/FORMATS.md "Status proof", D15). The proof is made
//! from the store snapshot pinned at the checkpoint's size, so that the map
//! proof is against leaf N−1's state root even while entries are appended.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::cert::bundle::EntryProof;
use regledger::cert::status::{build_status, StatusKind, StatusProof};
use regledger::entry::state_line::StateLine;
use regledger::registry::commit::MapKey;
use regledger::tlog::checkpoint::Checkpoint;

use super::{json_ok, problem, App, WAIT_TIMEOUT};

/// Unavailable is why no proof can be made right now (a retry may).
pub(crate) enum ProofError {
    /// Pending: no snapshot at the served checkpoint yet.
    Pending,
    /// Bad: the request names no object of the kind.
    Bad(String),
    /// Internal: the store could not make it.
    Internal(String),
}

/// prove makes the status proof of `kind`/`id` at the served checkpoint,
/// waiting a moment for a snapshot at its size if there is none yet.
pub(crate) async fn prove(
    app: &Arc<App>,
    kind: StatusKind,
    id: &str,
) -> Result<StatusProof, ProofError> {
    kind.key(id).map_err(ProofError::Bad)?;
    const TRIES: usize = 5;
    for tries in 0..TRIES {
        let cp = app.latest.read().expect("lock").clone();
        // Entries logged after the served checkpoint: wait once (at most
        // WAIT_TIMEOUT) for the one that covers them, so that a proof is of
        // the latest state the node signs; then prove at the served one.
        let behind = app.store.head().map(|h| h.size > cp.size).unwrap_or(false);
        match app.store.pinned() {
            Some(view)
                if cp.size > 0 && view.size().ok() == Some(cp.size) && (!behind || tries > 0) =>
            {
                return prove_at(app, &view, &cp.note, cp.size, kind, id)
                    .map_err(ProofError::Internal);
            }
            _ => {
                let mut w = app.published.clone();
                let target = cp.size;
                let _ = tokio::time::timeout(WAIT_TIMEOUT, w.wait_for(|s| *s > target)).await;
            }
        }
    }
    Err(ProofError::Pending)
}

pub(crate) fn prove_at(
    app: &App,
    view: &crate::store::ReadTx,
    note: &str,
    size: u64,
    kind: StatusKind,
    id: &str,
) -> Result<StatusProof, String> {
    let suite = app.descriptor.suite;
    let key = kind.key(id)?;
    // A checkpoint with a state line (every one this node signs since
    // D26) names the state root itself: a v2 proof, no leaf. One signed
    // before carries leaf N−1 and its inclusion proof (v1).
    let state_entry = if note_has_state_line(note) {
        None
    } else {
        let last = size - 1;
        let leaf = view
            .leaf(last)
            .map_err(|e| e.to_string())?
            .ok_or("the last entry is missing")?;
        let incl = view
            .inclusion_proof(suite, size, last)
            .map_err(|e| e.to_string())?;
        Some(EntryProof {
            index: last,
            leaf: B64.encode(&leaf),
            inclusion_proof: incl.iter().map(|h| B64.encode(h.0)).collect(),
            envelope: None,
        })
    };
    let key_bytes = MapKey::State(key.clone()).bytes();
    let proof = view
        .state_map(suite)
        .prove(&key_bytes)
        .map_err(|e| e.to_string())?;
    let record = view.state_value(&key).map_err(|e| e.to_string())?;
    build_status(
        suite,
        &app.descriptor.origin,
        kind,
        id,
        note,
        state_entry,
        &proof,
        record.as_deref(),
    )
    .map_err(|e| e.to_string())
}

/// note_has_state_line says whether a checkpoint note carries a state line.
fn note_has_state_line(note: &str) -> bool {
    regledger::tlog::note::Note::parse(note.as_bytes())
        .ok()
        .and_then(|n| Checkpoint::parse(&n.text).ok())
        .is_some_and(|cp| matches!(StateLine::of_checkpoint(&cp), Ok(Some(_))))
}

/// status serves `GET /v1/status/{kind}/{id}`.
pub(super) async fn status(
    State(app): State<Arc<App>>,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Response {
    let Ok(Path((kind, id))) = path else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Bad path parameter",
            "use /v1/status/{kind}/{id}",
        );
    };
    let Some(k) = StatusKind::from_name(&kind) else {
        return problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such kind",
            format!("kind is one of product, participant, resource, agreement, credential, not {kind:?}"),
        );
    };
    match prove(&app, k, &id).await {
        Ok(p) => json_ok(serde_json::to_value(&p).expect("status json")),
        Err(ProofError::Bad(e)) => problem(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Bad identifier",
            e,
        ),
        Err(ProofError::Pending) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "checkpoint-pending",
            "No snapshot at the served checkpoint yet",
            "retry in a moment",
        ),
        Err(ProofError::Internal(e)) => super::internal(e),
    }
}
