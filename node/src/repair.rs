//! `regledger-node check-tiles`: check, and repair, the archived entry
//! and envelope bundles (D29).
//!
//! With the redb store, the full bundles `tile/entries/<N>` and
//! `tile/envelopes/<N>` below the store's `archived_below` are the only
//! copy of their entries. This reads every one of them through the store's
//! read API, which checks each leaf against the leaf hash the tree was
//! built from and each envelope against its leaf's envelope hash
//! ([`crate::store::Archive`]), and reports the bundles that are missing or
//! damaged.
//!
//! With `--repair-from URL` (a mirror, another node of the log, or the
//! public endpoint of its bucket: anything serving `/tile/entries/<N>` and
//! `/tile/envelopes/<N>`), each damaged bundle is fetched and checked
//! against the tree *before* anything is written: every leaf must hash to
//! the stored leaf hash, every envelope to its leaf's envelope hash. A
//! pruned envelope (D22) is written as an empty item even if the source
//! still serves it. A source that serves anything else is refused and
//! nothing of that bundle is written. The repair is then confirmed by
//! reading the bundles again through a freshly opened store.
//!
//! The node must be stopped: redb holds a lock on its file.

use std::path::{Path, PathBuf};

use regledger::entry::leaf::Leaf;
use regledger::tlog::tile::{decode_entry_bundle, encode_entry_bundle, Tile, TileKind, TILE_WIDTH};
use regledger::HashSuite;
use regledger_client::{HttpSource, TileSource};

use crate::log::tiles::write_atomic;
use crate::logdir::Paths;
use crate::store::{bundle_root, check_bundle, check_envelope, Store, StoreError, StoreSpec};
use crate::Failure;

/// CheckTilesArgs are the flags of `regledger-node check-tiles`.
#[derive(clap::Args)]
pub struct CheckTilesArgs {
    /// Data directory (of a stopped node).
    #[arg(long, env = "REGLEDGER_DATA", default_value = "./regledger-data")]
    data: PathBuf,
    /// The node's store, as given to serve: redb (the default) or a
    /// postgres:// URL (which keeps every entry: nothing to check).
    #[arg(long, env = "REGLEDGER_STORE")]
    store: Option<String>,
    /// Fetch each damaged or missing bundle from this base URL (a mirror,
    /// another node of the log, a bucket's public endpoint), check it
    /// against the tree, and write it back.
    #[arg(long)]
    repair_from: Option<String>,
}

/// Damage is one archived bundle that does not read back.
struct Damage {
    /// n is the bundle's number (entries 256·n..256·n+256).
    n: u64,
    /// what is the tile path and reason, as the store reported them.
    what: String,
}

/// bundle_tile is full entry bundle `n`.
fn bundle_tile(n: u64) -> Tile {
    Tile {
        kind: TileKind::Entries,
        n,
        width: TILE_WIDTH as u16,
    }
}

/// open opens the store of a stopped node with its tile directory as the archive.
fn open(spec: &StoreSpec, tiles: &Path, suite: HashSuite) -> Result<Store, Failure> {
    Store::open_spec(spec)
        .map(|s| s.with_archive(tiles, suite))
        .map_err(|e| {
            Failure::Usage(format!(
                "{}: {e} (is the node still running? stop it first: the store is locked while it runs)",
                spec.describe()
            ))
        })
}

/// check reads every archived bundle through `store` and returns how many
/// there are and the damaged ones.
///
/// # Errors
///
/// A store error other than a damaged bundle (the check cannot go on).
fn check(store: &Store, only: Option<&[u64]>) -> Result<(u64, Vec<Damage>), Failure> {
    let fail = |e: StoreError| Failure::Fail(format!("cannot read the store: {e}"));
    let view = store.read().map_err(fail)?;
    let bundles = view.archived_below() / TILE_WIDTH;
    let mut damaged = Vec::new();
    for n in 0..bundles {
        if only.is_some_and(|o| !o.contains(&n)) {
            continue;
        }
        let (start, end) = (n * TILE_WIDTH, (n + 1) * TILE_WIDTH);
        let r = view.leaves(start, end).and_then(|l| {
            if l.len() as u64 != TILE_WIDTH {
                return Err(StoreError::MissingLeaf(start + l.len() as u64));
            }
            view.envelopes(start, end)
        });
        match r {
            Ok(_) => {}
            Err(e @ (StoreError::Archive { .. } | StoreError::BadLeaf { .. })) => {
                let what = match &e {
                    StoreError::Archive { path, reason, .. } => format!("{path}: {reason}"),
                    e => format!("{}: {e}", bundle_tile(n).path()),
                };
                damaged.push(Damage { n, what });
            }
            Err(e) => return Err(fail(e)),
        }
    }
    Ok((bundles, damaged))
}

/// Verified is a bundle fetched from a source and checked against the tree.
struct Verified {
    /// entries is the entry bundle's bytes.
    entries: Vec<u8>,
    /// envelopes is the envelope bundle's bytes, pruned envelopes emptied
    /// (`None`: every leaf is v1, no envelope bundle is needed).
    envelopes: Option<Vec<u8>>,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Verified {{ entries: {} bytes, envelopes: {:?} bytes }}",
            self.entries.len(),
            self.envelopes.as_ref().map(Vec::len)
        )
    }
}

/// fetch gets `path` from `src`.
fn fetch(src: &HttpSource, path: &str) -> Result<Vec<u8>, String> {
    match src.get(path) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(format!("{}/{path}: not served (404)", src.base())),
        Err(e) => Err(format!("cannot fetch from {}: {e}", src.base())),
    }
}

/// verify_bundle checks a fetched full bundle of entries `start..start+256`
/// against the tree: `entries` (the entry bundle) must hold leaves hashing
/// to `root` (the tree's level-8 hash of the bundle), `envelopes` (the envelope bundle, if
/// served) the envelopes hashing to their leaves' envelope hashes. An
/// entry `pruned` says was pruned gets an empty item, whatever was served.
///
/// # Errors
///
/// What does not match, naming the entry.
fn verify_bundle(
    suite: HashSuite,
    start: u64,
    root: regledger::Hash,
    pruned: &dyn Fn(u64) -> Result<bool, String>,
    entries: &[u8],
    envelopes: Option<&[u8]>,
) -> Result<Verified, String> {
    let leaves = decode_entry_bundle(entries, TILE_WIDTH as usize)
        .map_err(|e| format!("the entry bundle is not a full bundle: {e}"))?;
    check_bundle(suite, start / TILE_WIDTH, &leaves, root)?;
    let parsed = leaves
        .iter()
        .enumerate()
        .map(|(k, l)| Leaf::parse(l).map_err(|e| format!("entry {}: {e}", start + k as u64)))
        .collect::<Result<Vec<Leaf>, String>>()?;
    if parsed.iter().all(|l| l.envelope_hash().is_none()) {
        // All v1: each leaf holds its own envelope.
        return Ok(Verified {
            entries: entries.to_vec(),
            envelopes: None,
        });
    }
    let Some(envelopes) = envelopes else {
        return Err("the envelope bundle is not served".into());
    };
    let items = decode_entry_bundle(envelopes, TILE_WIDTH as usize)
        .map_err(|e| format!("the envelope bundle is not a full bundle: {e}"))?;
    let mut out: Vec<&[u8]> = Vec::with_capacity(items.len());
    for (k, (item, leaf)) in items.iter().zip(&parsed).enumerate() {
        let i = start + k as u64;
        out.push(check_envelope(suite, i, leaf, item, pruned(i)?)?.unwrap_or_default());
    }
    let envelopes = encode_entry_bundle(&out).map_err(|e| e.to_string())?;
    Ok(Verified {
        entries: entries.to_vec(),
        envelopes: Some(envelopes),
    })
}

/// repair fetches bundle `n` from `src`, verifies it against `store`'s
/// tree and writes what differs on disk. It returns the paths written.
///
/// # Errors
///
/// Why the source's bundle was refused or could not be written; nothing
/// of the bundle is written when it is refused.
fn repair(
    store: &Store,
    src: &HttpSource,
    tiles: &Path,
    suite: HashSuite,
    n: u64,
) -> Result<Vec<String>, String> {
    let t = bundle_tile(n);
    let entries = fetch(src, &t.path())?;
    // The envelope bundle only matters for v2 leaves; a source that does
    // not serve it is refused by the check if one is needed.
    let envelopes = match src.get(&t.envelopes().path()) {
        Ok(e) => e,
        Err(e) => return Err(format!("cannot fetch from {}: {e}", src.base())),
    };
    let view = store.read().map_err(|e| e.to_string())?;
    let start = n * TILE_WIDTH;
    let root = bundle_root(&view, n)
        .map_err(|e| format!("cannot read the tree's hash of the bundle: {e}"))?;
    let pruned = |i: u64| {
        view.pruned_by(i)
            .map(|p| p.is_some())
            .map_err(|e| format!("cannot read the prunes: {e}"))
    };
    let v = verify_bundle(suite, start, root, &pruned, &entries, envelopes.as_deref())?;
    let mut written = Vec::new();
    // The envelope bundle first, as the publisher writes them (D15).
    let files = [
        v.envelopes.map(|b| (t.envelopes().path(), b)),
        Some((t.path(), v.entries)),
    ];
    for (path, bytes) in files.into_iter().flatten() {
        let file = tiles.join(&path);
        if std::fs::read(&file).is_ok_and(|old| old == bytes) {
            continue;
        }
        write_atomic(&file, &bytes).map_err(|e| format!("{}: {e}", file.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// check_tiles runs `regledger-node check-tiles`.
///
/// # Errors
///
/// [`Failure::Usage`] for a bad data directory or store, or a store that
/// cannot be opened (a running node); [`Failure::Fail`] when a damaged
/// bundle remains.
pub fn check_tiles(a: CheckTilesArgs) -> Result<(), Failure> {
    let paths = Paths { dir: a.data };
    let spec = StoreSpec::parse(a.store.as_deref(), &paths.db(), true).map_err(Failure::Usage)?;
    if let StoreSpec::Postgres(_) = spec {
        println!(
            "PostgreSQL 存储保留全部条目，无需检查归档分片 / the PostgreSQL store keeps every entry \
             (no tile bundle is the only copy of any), so there is nothing to check"
        );
        return Ok(());
    }
    let source = match &a.repair_from {
        None => None,
        Some(u) => Some(HttpSource::new(u).map_err(|_| {
            Failure::Usage(format!("--repair-from {u:?}: want an http(s) base URL"))
        })?),
    };
    if !paths.db().is_file() {
        return Err(Failure::Usage(format!(
            "{}: no store here (give the node's data directory with --data)",
            paths.db().display()
        )));
    }
    let descriptor = crate::logdir::load_descriptor(&paths).map_err(Failure::Usage)?;
    let suite = descriptor.suite;
    let tiles = paths.tiles();

    let store = open(&spec, &tiles, suite)?;
    let (checked, damaged) = check(&store, None)?;
    for d in &damaged {
        println!("损坏 / damaged: {}", d.what);
    }
    let mut attempted = Vec::new();
    if let Some(src) = &source {
        for d in &damaged {
            let path = bundle_tile(d.n).path();
            match repair(&store, src, &tiles, suite, d.n) {
                Ok(written) => {
                    println!(
                        "已写入 / written from {}: {} (checked against the tree first)",
                        src.base(),
                        if written.is_empty() {
                            "nothing (the files already held these bytes)".to_string()
                        } else {
                            written.join(", ")
                        }
                    );
                    attempted.push(d.n);
                }
                Err(why) => println!(
                    "拒绝修复 / refused: {path} from {}: {why}; nothing of it was written",
                    src.base()
                ),
            }
        }
    }
    drop(store);

    // Confirm through a fresh store (no cached bundle): what is damaged now.
    let remaining = if attempted.is_empty() {
        damaged
    } else {
        let store = open(&spec, &tiles, suite)?;
        let (_, again) = check(
            &store,
            Some(&damaged.iter().map(|d| d.n).collect::<Vec<_>>()),
        )?;
        again
    };
    let repaired = repaired_count(&attempted, &remaining);
    let list = |v: &[Damage]| {
        if v.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                v.iter()
                    .map(|d| d.what.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    };
    let total_damaged = repaired + remaining.len() as u64;
    let mut summary = format!(
        "归档分片检查 / archived bundles checked: {checked}, 损坏 / damaged: {total_damaged}"
    );
    if source.is_some() {
        summary.push_str(&format!(
            ", 已修复 / repaired: {repaired}, 仍损坏 / still damaged: {}{}",
            remaining.len(),
            list(&remaining)
        ));
    } else if let Some(first) = remaining.first() {
        summary.push_str(&format!(" ({})", first.what));
        if remaining.len() > 1 {
            summary.push_str(&format!(" and {} more", remaining.len() - 1));
        }
    }
    println!("{summary}");
    if remaining.is_empty() {
        return Ok(());
    }
    Err(Failure::Fail(format!(
        "{} archived bundle(s) missing or damaged: the entries they hold cannot be served; \
         repair them with `regledger-node check-tiles --repair-from URL` (a mirror, another node, \
         the bucket) or restore them from a backup of tiles/ (docs/operator.md, \"Repairing tiles\")",
        remaining.len()
    )))
}

/// repaired_count is how many of the `attempted` bundles are no longer in `remaining`.
fn repaired_count(attempted: &[u64], remaining: &[Damage]) -> u64 {
    attempted
        .iter()
        .filter(|n| !remaining.iter().any(|d| d.n == **n))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use regledger::entry::leaf::envelope_hash;
    use regledger::Hash;

    /// bundle is 256 v2 leaves (real envelope hashes) from `start`, their
    /// envelopes, and their leaf hashes.
    fn bundle(suite: HashSuite, start: u64, tag: &str) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Hash>) {
        let mut prev = Hash([0; 32]);
        let (mut leaves, mut envs, mut hashes) = (vec![], vec![], vec![]);
        for i in start..start + TILE_WIDTH {
            let env = format!("envelope {tag} {i}").into_bytes();
            let leaf = Leaf::compact(i, 1000 + i, prev, Hash([7; 32]), envelope_hash(suite, &env))
                .to_bytes();
            prev = suite.leaf_hash(&leaf);
            hashes.push(prev);
            leaves.push(leaf);
            envs.push(env);
        }
        (leaves, envs, hashes)
    }

    /// root is the Merkle root of `hashes` (a power of two of them),
    /// computed here apart from the code under test.
    fn root(suite: HashSuite, hashes: &[Hash]) -> Hash {
        match hashes {
            [h] => *h,
            _ => {
                let (l, r) = hashes.split_at(hashes.len() / 2);
                suite.node_hash(&root(suite, l), &root(suite, r))
            }
        }
    }

    fn enc(items: &[Vec<u8>]) -> Vec<u8> {
        encode_entry_bundle(&items.iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn a_fetched_bundle_is_checked_against_the_tree_and_pruned_envelopes_stay_gone() {
        let suite = HashSuite::Sha256;
        let start = 512;
        let (leaves, envs, hashes) = bundle(suite, start, "a");
        let want = root(suite, &hashes);
        let (e, v) = (enc(&leaves), enc(&envs));
        let none = |_| Ok(false);

        // The log's own bytes: accepted as they are.
        let ok = verify_bundle(suite, start, want, &none, &e, Some(&v)).unwrap();
        assert_eq!((ok.entries, ok.envelopes), (e.clone(), Some(v.clone())));

        // Entry 515 pruned: its item is written empty even though the
        // source still serves it; an empty item there is accepted too.
        let pruned = |i| Ok(i == 515);
        let ok = verify_bundle(suite, start, want, &pruned, &e, Some(&v)).unwrap();
        let mut blank = envs.clone();
        blank[3].clear();
        assert!(
            ok.envelopes == Some(enc(&blank)),
            "pruned item 515 not emptied"
        );
        let ok = verify_bundle(suite, start, want, &pruned, &e, Some(&enc(&blank))).unwrap();
        assert!(
            ok.envelopes == Some(enc(&blank)),
            "pruned item 515 not emptied"
        );
        // ... but not where no prune is logged.
        let err = verify_bundle(suite, start, want, &none, &e, Some(&enc(&blank))).unwrap_err();
        assert!(err.contains("entry 515 is empty, and no prune"), "{err}");

        // Swapped envelopes, a truncated bundle, a missing envelope
        // bundle, another log's bundle: refused.
        let mut swapped = envs.clone();
        swapped.swap(0, 1);
        let err = verify_bundle(suite, start, want, &none, &e, Some(&enc(&swapped))).unwrap_err();
        assert!(err.contains("entry 512 does not hash"), "{err}");
        let err =
            verify_bundle(suite, start, want, &none, &e[..e.len() - 1], Some(&v)).unwrap_err();
        assert!(err.contains("not a full bundle"), "{err}");
        let err =
            verify_bundle(suite, start, want, &none, &e, Some(&v[..v.len() - 3])).unwrap_err();
        assert!(err.contains("not a full bundle"), "{err}");
        let err = verify_bundle(suite, start, want, &none, &e, None).unwrap_err();
        assert!(err.contains("not served"), "{err}");
        let (other, other_envs, _) = bundle(suite, start, "b");
        let err = verify_bundle(
            suite,
            start,
            want,
            &none,
            &enc(&other),
            Some(&enc(&other_envs)),
        )
        .unwrap_err();
        assert!(
            err.contains("entries 512..768 do not hash to the tree's hash of their bundle (damaged, or a bundle of another log)"),
            "{err}"
        );
        // A bundle of 255 entries.
        let err =
            verify_bundle(suite, start, want, &none, &enc(&leaves[..255]), Some(&v)).unwrap_err();
        assert!(err.contains("not a full bundle"), "{err}");
    }
}
