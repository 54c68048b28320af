//! `GET /v1/state/snapshot` (node and mirror): the state snapshot at the
//! served checkpoint (schemas/FORMATS.md "State snapshot", D15 §7), what
//! `regledger-verify audit --from-snapshot` starts from. It is made from
//! the store snapshot pinned at the checkpoint's size, like the status
//! proofs, so its records are the state leaf N−1 commits to while entries
//! are appended. Only the served checkpoint: the store keeps no older map.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use regledger::cert::snapshot::{frontier_indexes, SnapshotHeader, SnapshotWriter};
use regledger::registry::commit::{content_record_bytes, MapKey};
use regledger::registry::StateKey;
use regledger::statemap::{key_hash, value_hash};
use regledger::tlog::tree::HashReader;
use regledger::Hash;

use super::{problem, App, WAIT_TIMEOUT};
use crate::store::ReadTx;

/// build writes the snapshot of the store snapshot `view` of size `size`,
/// whose checkpoint note is `note`. Every record is checked against the
/// map leaf it is served for, so a node never serves a snapshot whose
/// records do not make its state root.
///
/// # Errors
///
/// The store's error, or a store whose records and map disagree.
pub(crate) fn build(app: &App, view: &ReadTx, note: &str, size: u64) -> Result<Vec<u8>, String> {
    let suite = app.descriptor.suite;
    let e = |x: crate::store::StoreError| x.to_string();
    let last = size - 1;
    let leaf = view
        .leaf(last)
        .map_err(e)?
        .ok_or("the last entry is missing")?;
    let incl = view.inclusion_proof(suite, size, last).map_err(e)?;
    let frontier = view
        .read_hashes(&frontier_indexes(size))
        .map_err(|x| x.to_string())?;
    // The map's leaves in key-hash order, then the keys they are for: the
    // registry objects' rows and the registry acts' content ids (an
    // operation event's id is in the content table but not in the map).
    let mut leaves: Vec<(Hash, Hash)> = Vec::new();
    view.state_map(suite)
        .for_each_leaf(|k, v| {
            leaves.push((*k, *v));
            Ok::<(), regledger::statemap::MapError>(())
        })
        .map_err(|x| x.to_string())?;
    let in_map: HashSet<Hash> = leaves.iter().map(|(k, _)| *k).collect();
    let mut keys: HashMap<Hash, (String, Option<u64>)> = HashMap::with_capacity(leaves.len());
    view.state_records(&mut |k, _| {
        keys.insert(key_hash(suite, k.as_bytes()), (k.to_string(), None));
        Ok(())
    })
    .map_err(e)?;
    view.content_ids(&mut |id, idx| {
        let k = MapKey::Content(*id).to_string();
        let kh = key_hash(suite, k.as_bytes());
        if in_map.contains(&kh) {
            keys.insert(kh, (k, Some(idx)));
        }
        Ok(())
    })
    .map_err(e)?;
    let header = SnapshotHeader {
        origin: app.descriptor.origin.clone(),
        hash: suite.name().into(),
        size,
        checkpoint: note.into(),
        state_entry: regledger::cert::bundle::EntryProof {
            index: last,
            leaf: b64(&leaf),
            inclusion_proof: incl.iter().map(|h| b64(&h.0)).collect(),
            envelope: None,
        },
        frontier: frontier.iter().map(|h| b64(&h.0)).collect(),
        records: leaves.len() as u64,
    };
    let mut w = SnapshotWriter::new(Vec::new(), suite, &header).map_err(|x| x.to_string())?;
    for (kh, vh) in &leaves {
        let (key, content) = keys
            .get(kh)
            .ok_or_else(|| format!("map key {} has no row", kh.to_hex()))?;
        let value = match content {
            Some(idx) => content_record_bytes(*idx),
            None => {
                let sk: StateKey = key.parse().map_err(|x| format!("{key}: {x}"))?;
                view.state_value(&sk)
                    .map_err(e)?
                    .ok_or_else(|| format!("{key}: no record"))?
            }
        };
        if value_hash(suite, &value) != *vh {
            return Err(format!(
                "{key}: the stored record is not the one the map holds"
            ));
        }
        w.push(key.as_bytes(), &value).map_err(|x| x.to_string())?;
    }
    w.finish().map_err(|x| x.to_string())
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// snapshot serves `GET /v1/state/snapshot`.
pub(super) async fn snapshot(State(app): State<Arc<App>>) -> Response {
    const TRIES: usize = 5;
    for _ in 0..TRIES {
        let cp = app.latest.read().expect("lock").clone();
        match app.store.pinned() {
            Some(view) if cp.size > 0 && view.size().ok() == Some(cp.size) => {
                let a = app.clone();
                let made =
                    tokio::task::spawn_blocking(move || build(&a, &view, &cp.note, cp.size)).await;
                return match made {
                    Ok(Ok(body)) => (
                        StatusCode::OK,
                        [
                            (header::CONTENT_TYPE, "application/octet-stream"),
                            (header::CACHE_CONTROL, "no-cache"),
                        ],
                        body,
                    )
                        .into_response(),
                    Ok(Err(e)) => super::internal(e),
                    Err(e) => super::internal(e.to_string()),
                };
            }
            _ => {
                let mut w = app.published.clone();
                let target = cp.size;
                let _ = tokio::time::timeout(WAIT_TIMEOUT, w.wait_for(|s| *s > target)).await;
            }
        }
    }
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "checkpoint-pending",
        "No snapshot at the served checkpoint yet",
        "retry in a moment",
    )
}
