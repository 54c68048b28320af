//! The tile directory: C2SP tlog-tiles hash tiles and entry bundles written
//! from the store, each atomically and durably (write-temp → fsync →
//! rename → fsync(dir)), so a reader sees a tile whole or not at all and a
//! power loss keeps what was published. The node's publisher and the
//! mirror both write their tiles here.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use regledger::tlog::tile::{
    encode_entry_bundle, entry_tiles_for_size, hash_tiles_for_size, read_tile_data, Tile, TileKind,
    TILE_WIDTH,
};

use crate::store::{ReadTx, StoreError};

/// TileError is why tiles were not written.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// Store: the store could not give a leaf or a hash.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Io: the tile directory could not be written.
    #[error("tiles: {0}")]
    Io(#[from] std::io::Error),
    /// Bundle: the leaves do not make an entry bundle (an entry larger
    /// than a bundle may hold).
    #[error("tiles: {0}")]
    Bundle(#[from] regledger::tlog::tile::TileError),
}

/// write_atomic writes a file so that readers see the old or the new bytes,
/// never a mix, and it survives power loss.
///
/// # Errors
///
/// The file system's error; the old file, if any, is then unchanged.
///
/// # Panics
///
/// If `path` has no parent directory (every caller joins a name to a directory).
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("tile paths have a parent");
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// PARTIAL_SWEEP is how far below the published size a start looks for
/// partial tiles left behind (a crash between a checkpoint and the removal
/// of the partials it made redundant): the tiles completed in the last
/// 65536 entries, at one failed `rmdir` each where there is nothing.
pub const PARTIAL_SWEEP: u64 = TILE_WIDTH * TILE_WIDTH;

/// remove_partials removes the partial tiles (`<N>.p/<W>`: hash tiles at
/// every level, entry bundles, envelope bundles) of every tile that is
/// full at `published` and was not at `old` (D28). Call it only once
/// the checkpoint for `published` is served: its full tiles were written
/// and fsynced before it was signed, so every checkpoint ever served stays
/// provable (a reader falls back to the full tile and cuts the prefix).
/// Each partial is redundant then: it is the prefix of its full tile.
///
/// # Errors
///
/// The file system's; the partials not removed yet stay (harmless: the
/// same bytes as the full tile's prefix) and are removed by the sweep at
/// the next start if they are recent.
pub fn remove_partials(tiles_dir: &Path, old: u64, published: u64) -> std::io::Result<usize> {
    if published <= old {
        return Ok(0);
    }
    let full = regledger::tlog::tile::tiles_completed(old, published);
    let mut removed = 0;
    for t in full {
        // The partials of tile/L/N live in the directory tile/L/N.p.
        let dir = tiles_dir.join(format!("{}.p", t.path()));
        match fs::remove_dir_all(&dir) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
        // Not needed for safety (a partial that comes back after a power
        // loss is the same bytes as the full tile's prefix), but keeps
        // the space reclaimed.
        if let Some(parent) = dir.parent() {
            File::open(parent)?.sync_all()?;
        }
    }
    Ok(removed)
}

/// tile_file returns the path of a tile under the tiles dir, if the path is a valid tile path.
pub fn tile_file(tiles_dir: &Path, path: &str) -> Option<PathBuf> {
    let t = Tile::parse(path).ok()?;
    Some(tiles_dir.join(t.path()))
}

/// tiles_complete checks that the last entry bundle of `size` exists (a cheap reconcile at start).
pub fn tiles_complete(tiles_dir: &Path, size: u64) -> bool {
    if size == 0 {
        return true;
    }
    entry_tiles_for_size(size - 1, size)
        .iter()
        .all(|t| tiles_dir.join(t.path()).is_file())
}

/// write_tiles writes the hash tiles and entry bundles that grow the tree
/// from `old` to `new`, from the snapshot `view`.
///
/// # Errors
///
/// [`TileError`]; the tiles written before the failure stay (each is whole).
pub fn write_tiles(tiles_dir: &Path, view: &ReadTx, old: u64, new: u64) -> Result<(), TileError> {
    if new <= old {
        return Ok(());
    }
    for t in hash_tiles_for_size(old, new) {
        let data = read_tile_data(&t, view).map_err(StoreError::from)?;
        write_atomic(&tiles_dir.join(t.path()), &data)?;
    }
    // The entries a prune among the new ones dropped, whose envelope
    // bundles (full and partial) were published with their envelopes.
    let mut pruned: Vec<u64> = Vec::new();
    for t in entry_tiles_for_size(old, new) {
        let start = t.n * TILE_WIDTH;
        // One range read (one query on a database driver), not one per leaf.
        let end = start + u64::from(t.width);
        let entries = view.leaves(start, end)?;
        if entries.len() as u64 != end - start {
            return Err(StoreError::MissingLeaf(start + entries.len() as u64).into());
        }
        let refs: Vec<&[u8]> = entries.iter().map(|e| e.as_slice()).collect();
        // The envelope bundle first: a reader that sees an entry bundle
        // finds the envelopes of its v2 leaves beside it (D15). Entry k
        // of envelope bundle N is the envelope of leaf 256·N+k, empty for
        // a v1 leaf (which holds its own).
        if entries
            .iter()
            .any(|e| e.first() == Some(&regledger::entry::leaf::LEAF_V2))
        {
            // One range read too (on a database driver, one query per
            // bundle, not one per envelope).
            let envs = envelopes_of(view, start, end)?;
            pruned.extend(
                envs.iter()
                    .filter_map(|e| prune_of(e))
                    .flat_map(|p| p.entries),
            );
            let erefs: Vec<&[u8]> = envs.iter().map(|e| e.as_slice()).collect();
            write_atomic(
                &tiles_dir.join(t.envelopes().path()),
                &encode_entry_bundle(&erefs)?,
            )?;
        }
        write_atomic(&tiles_dir.join(t.path()), &encode_entry_bundle(&refs)?)?;
    }
    republish_pruned(tiles_dir, view, &pruned)?;
    Ok(())
}

/// envelopes_of is the items of the envelope bundle of entries
/// `start..end`: each entry's envelope, empty where none is stored (a v1
/// leaf holds its own; a pruned one is gone).
fn envelopes_of(view: &ReadTx, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
    Ok(view
        .envelopes(start, end)?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

/// prune_of parses `envelope` as a `retention-pruned` entry's, if it is one.
pub(super) fn prune_of(envelope: &[u8]) -> Option<regledger::registry::RetentionPruned> {
    // Most envelopes are not prunes: a byte search spares parsing them.
    let kind = regledger::registry::EntryKind::RetentionPruned
        .name()
        .as_bytes();
    if !envelope.windows(kind.len()).any(|w| w == kind) {
        return None;
    }
    let env = regledger::entry::envelope::Envelope::from_bytes(envelope).ok()?;
    if env.kind_name().ok()? != regledger::registry::EntryKind::RetentionPruned.name() {
        return None;
    }
    serde_json::from_slice(&env.payload).ok()
}

/// republish_pruned rewrites, from `view` (where the envelopes of `pruned`
/// are gone), every envelope bundle already published that holds one of
/// them: the full bundle and each partial one, so no published file keeps
/// a pruned envelope. Entry bundles and hash tiles are not touched (the
/// leaves stay). Written before the tiles size moves past the prune, so a
/// crash in between writes them again at the next start.
fn republish_pruned(tiles_dir: &Path, view: &ReadTx, pruned: &[u64]) -> Result<(), TileError> {
    let mut bundles: Vec<u64> = pruned.iter().map(|i| i / TILE_WIDTH).collect();
    bundles.dedup();
    for n in bundles {
        for width in 1..=TILE_WIDTH as u16 {
            let t = Tile {
                kind: TileKind::Entries,
                n,
                width,
            }
            .envelopes();
            let path = tiles_dir.join(t.path());
            if !path.is_file() {
                continue;
            }
            let start = n * TILE_WIDTH;
            let envs = envelopes_of(view, start, start + u64::from(width))?;
            let refs: Vec<&[u8]> = envs.iter().map(|e| e.as_slice()).collect();
            write_atomic(&path, &encode_entry_bundle(&refs)?)?;
        }
    }
    Ok(())
}
