//! The C2SP read side: `GET /checkpoint`, `GET /tile/...` (tlog-tiles, from
//! the tile directory the publisher writes) and `GET /log.json`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{problem, App, Compressible, PathParam};
use crate::log::tiles::tile_file;

pub(super) async fn checkpoint(State(app): State<Arc<App>>) -> Response {
    let note = app.latest.read().expect("lock").note.clone();
    if note.is_empty() {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "checkpoint-pending",
            "No checkpoint yet",
            "retry in a moment",
        );
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note,
    )
        .into_response()
}

pub(super) async fn tile(State(app): State<Arc<App>>, PathParam(path): PathParam) -> Response {
    let Some(file) = tile_file(&app.tiles_dir, &format!("tile/{path}")) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-tile-path",
            "Bad tile path",
            "not a C2SP tile path",
        );
    };
    match read_or_full(&app.tiles_dir, &path, &file).await {
        Ok(Some(data)) => {
            let full = !path.contains(".p/");
            let cache = if full {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            let mut r = (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (header::CACHE_CONTROL, cache),
                ],
                data,
            )
                .into_response();
            // tlog-tiles: entry bundles (text-like, repetitive) should be
            // served compressed to clients that accept it. Every answer for
            // them varies on Accept-Encoding, so a cache keeps both forms.
            if path.starts_with("entries/") {
                r.extensions_mut().insert(Compressible);
                r.headers_mut()
                    .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            r
        }
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such tile",
            "the tile does not exist (yet)",
        ),
        Err(e) => {
            tracing::error!("GET /tile/{path}: {e}");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "damaged-tile",
                "Damaged tile",
                "the full tile that stands for this partial one is damaged",
            )
        }
    }
}

/// read_or_full reads tile `file`, or, for a partial tile the publisher
/// removed once its full tile was published (D28), the prefix of the full
/// tile: clients that still ask for the partial (an old checkpoint, an old
/// client) get the same bytes as before. `Ok(None)`: neither is there.
///
/// # Errors
///
/// The full tile is there but is not a well-formed full tile (a damaged
/// disk): never a wrong prefix.
async fn read_or_full(
    tiles_dir: &std::path::Path,
    path: &str,
    file: &std::path::Path,
) -> Result<Option<Vec<u8>>, String> {
    if let Ok(data) = tokio::fs::read(file).await {
        return Ok(Some(data));
    }
    let Some((t, full)) = regledger::tlog::tile::Tile::parse(&format!("tile/{path}"))
        .ok()
        .and_then(|t| Some((t, t.full_of()?)))
    else {
        return Ok(None);
    };
    let Ok(data) = tokio::fs::read(tiles_dir.join(full.path())).await else {
        return Ok(None);
    };
    regledger::tlog::tile::partial_from_full(&t, &data)
        .map(Some)
        .map_err(|e| e.to_string())
}

pub(super) async fn log_json(State(app): State<Arc<App>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        app.descriptor_json.clone(),
    )
        .into_response()
}
