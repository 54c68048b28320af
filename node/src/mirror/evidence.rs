//! Split-view evidence: when two statements signed by the log key
//! contradict, the mirror saves both checkpoints and one of their trees as
//! a tile directory that `regledger-verify audit --trusted` reports as a
//! fork (docs/venue.md), and raises the alarm.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use regledger::tlog::tile::{
    encode_entry_bundle, read_tile_data, tile_at, Tile, TileKind, MAX_TILE_LEVEL, TILE_HEIGHT,
    TILE_WIDTH,
};
use regledger::tlog::tree::MAX_TREE_SIZE;
use regledger_client::source::note_size;

use super::{now_ms, Contradiction, Mirror, Shape, WitnessFork, MAX_EVIDENCE_TILES};
use crate::log::tiles::write_atomic;
use crate::store::ReadTx;

/// Trusted is an evidence file to give `--trusted`: its name and the note.
type Trusted<'a> = (&'static str, &'a [u8]);

impl Mirror {
    /// own_tile returns tile `t` from the mirror's own store if the store
    /// holds every leaf under it (the first `upto`).
    fn own_tile(&self, view: &ReadTx, t: &Tile, upto: u64) -> Option<Vec<u8>> {
        let end =
            t.n.checked_mul(TILE_WIDTH)?
                .checked_add(u64::from(t.width))?;
        match t.kind {
            TileKind::Hash(l) => {
                let span = 1u64.checked_shl(u32::from(TILE_HEIGHT) * u32::from(l))?;
                if end.checked_mul(span)? > upto {
                    return None;
                }
                read_tile_data(t, view).ok()
            }
            TileKind::Entries => {
                if end > upto {
                    return None;
                }
                let mut entries = Vec::with_capacity(usize::from(t.width));
                for i in t.n * TILE_WIDTH..end {
                    entries.push(view.leaf(i).ok()??);
                }
                let refs: Vec<&[u8]> = entries.iter().map(|e| e.as_slice()).collect();
                encode_entry_bundle(&refs).ok()
            }
            TileKind::Envelopes => {
                if end > upto {
                    return None;
                }
                let mut envs = Vec::with_capacity(usize::from(t.width));
                for i in t.n * TILE_WIDTH..end {
                    envs.push(view.envelope(i).ok()?.unwrap_or_default());
                }
                let refs: Vec<&[u8]> = envs.iter().map(|e| e.as_slice()).collect();
                encode_entry_bundle(&refs).ok()
            }
        }
    }

    /// save_evidence writes both signed checkpoints and one of their trees to a new evidence directory.
    fn save_evidence(&self, c: &Contradiction) -> std::io::Result<PathBuf> {
        // Built under a hidden name and renamed when complete, so a directory
        // named by its time is always whole evidence.
        let mut name = now_ms().to_string();
        let mut k = 0;
        while self.evidence_dir.join(&name).exists() {
            k += 1;
            name = format!("{}-{k}", now_ms());
        }
        let dir = self.evidence_dir.join(&name);
        let tmp = self.evidence_dir.join(format!(".tmp-{name}"));
        std::fs::create_dir_all(&tmp)?;
        // tree: the checkpoint whose tree tile/ holds; trusted: the file to
        // give `--trusted`; own_upto: how much of the tree the own store has.
        let (tree, trusted, own_upto, order): (&[u8], Option<Trusted>, u64, Vec<usize>) =
            match &c.shape {
                Shape::Theirs { source, own } => {
                    let mut order = vec![*source];
                    order.extend((0..self.sources.len()).filter(|i| i != source));
                    (
                        &c.presented,
                        own.as_deref().map(|o| ("accepted.checkpoint", o)),
                        0,
                        order,
                    )
                }
                Shape::Ours { own, request } => {
                    if let Some(r) = request {
                        write_atomic(&tmp.join("add-checkpoint.request"), r)?;
                    }
                    let m = self.accepted().map(|(s, _)| s).unwrap_or(0);
                    (
                        own,
                        Some(("presented.checkpoint", &c.presented)),
                        m,
                        (0..self.sources.len()).collect(),
                    )
                }
            };
        if let Some((file, note)) = trusted {
            write_atomic(&tmp.join(file), note)?;
        }
        if !tree.is_empty() {
            write_atomic(&tmp.join("checkpoint"), tree)?;
        }
        let (saved, missing) = self.copy_tree(&tmp, tree, own_upto, &order)?;
        let (tree_says, trusted_says) = match &c.shape {
            Shape::Theirs { .. } => (
                "the contradicting checkpoint (signed by the log key); tile/ holds its tree as the sources served it",
                "accepted.checkpoint: the checkpoint this mirror verified entry by entry and accepted",
            ),
            Shape::Ours { .. } => (
                "a checkpoint this mirror verified entry by entry (signed by the log key); tile/ holds its tree from the mirror's own copy",
                "presented.checkpoint: the contradicting checkpoint (signed by the same key), as it was presented; add-checkpoint.request, if present, is the witness request that carried it",
            ),
        };
        let command = match trusted {
            Some((file, _)) => format!(
                "regledger-verify audit --dir {d} --log log.json --trusted {d}/{file}",
                d = dir.display()
            ),
            None => format!(
                "regledger-verify audit --dir {} --log log.json",
                dir.display()
            ),
        };
        let readme = format!(
            "split view seen by a regledger mirror of {origin}\n\
             sources: {up}\n\
             reason: {reason}\n\
             checkpoint: {tree_says}\n\
             {trusted_says}\n\
             tile/: {saved} tiles\n\
             {miss}\
             verify with:\n  {command}\n",
            origin = self.descriptor.origin,
            up = self.urls.join(", "),
            reason = c.reason,
            miss = if missing.is_empty() {
                String::new()
            } else {
                format!("not served: {}\n", missing.join(", "))
            },
        );
        write_atomic(&tmp.join("README.txt"), readme.as_bytes())?;
        std::fs::rename(&tmp, &dir)?;
        std::fs::File::open(&self.evidence_dir)?.sync_all()?;
        Ok(dir)
    }

    /// copy_tree writes the whole tree of the checkpoint `tree` into `tmp`:
    /// the part the mirror's own store holds (its first `own_upto` leaves)
    /// from the store, the rest as the sources serve it (in `order`, at
    /// most [`MAX_EVIDENCE_TILES`] fetched), so the directory is a tile
    /// directory a regulator audits alone. It returns how many tiles were
    /// saved and which were not served.
    fn copy_tree(
        &self,
        tmp: &Path,
        tree: &[u8],
        own_upto: u64,
        order: &[usize],
    ) -> std::io::Result<(usize, Vec<String>)> {
        let (mut saved, mut fetched) = (0usize, 0usize);
        let mut missing = Vec::new();
        let view = self
            .store
            .read()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if let Some(size) = note_size(tree).filter(|s| *s <= MAX_TREE_SIZE) {
            let kinds = (0..=MAX_TILE_LEVEL)
                .map(TileKind::Hash)
                .chain([TileKind::Entries, TileKind::Envelopes]);
            'kinds: for kind in kinds {
                let at = match kind {
                    TileKind::Hash(l) => size
                        .checked_shr(u32::from(TILE_HEIGHT) * u32::from(l))
                        .unwrap_or(0),
                    TileKind::Entries | TileKind::Envelopes => size,
                };
                for n in 0..at.div_ceil(TILE_WIDTH) {
                    let Some(t) = tile_at(size, kind, n) else {
                        continue 'kinds;
                    };
                    let data = match self.own_tile(&view, &t, own_upto) {
                        Some(d) => Some(d),
                        // The mirror's own tiles are a prefix of each level;
                        // past the fetch budget the rest of the level is left.
                        None if fetched >= MAX_EVIDENCE_TILES => {
                            missing.push(format!("{} and the rest of its level", t.path()));
                            continue 'kinds;
                        }
                        None => {
                            fetched += 1;
                            order
                                .iter()
                                .find_map(|&i| self.sources.get(i)?.get(&t.path()).ok().flatten())
                        }
                    };
                    match data {
                        Some(d) => {
                            write_atomic(&tmp.join(t.path()), &d)?;
                            saved += 1;
                        }
                        None if missing.len() < 16 => missing.push(t.path()),
                        None => {}
                    }
                }
            }
        }
        drop(view);
        Ok((saved, missing))
    }

    /// record_split raises the split-view alert and saves the evidence.
    pub(super) fn record_split(&self, c: &Contradiction) {
        self.metrics.mirror_split_view.store(1, Ordering::Relaxed);
        match self.save_evidence(c) {
            Ok(dir) => tracing::error!(
                evidence = %dir.display(),
                "SPLIT VIEW: {}; the mirror stopped advancing and keeps serving its last verified state",
                c.reason
            ),
            Err(e) => tracing::error!(
                "SPLIT VIEW: {}; the mirror stopped advancing; evidence not saved: {e}",
                c.reason
            ),
        }
    }

    /// record_witness_fork records a contradiction shown to the witness
    /// endpoint: the alert, the log line and the evidence (the mirror's own
    /// tree, the presented checkpoint and the request), before it answers.
    pub fn record_witness_fork(&self, w: &WitnessFork) {
        // One incident, one evidence directory until it is reviewed: anyone
        // can replay a signed forked checkpoint, and must not fill the disk.
        if let Some(dir) = self.recorded_split() {
            self.metrics.mirror_split_view.store(1, Ordering::Relaxed);
            return tracing::error!(
                evidence = %dir.display(),
                "SPLIT VIEW presented to the witness endpoint again: {}",
                w.reason
            );
        }
        let own = self
            .own_note_for(note_size(&w.presented).unwrap_or(0))
            .unwrap_or_default();
        let c = Contradiction {
            reason: format!("presented to the witness endpoint: {}", w.reason),
            presented: w.presented.clone(),
            shape: Shape::Ours {
                own,
                request: Some(w.request.clone()),
            },
        };
        self.record_split(&c);
    }

    /// split_seen reports whether this process raised the split-view alert (it stops the mirror).
    pub fn split_seen(&self) -> bool {
        self.metrics.mirror_split_view.load(Ordering::Relaxed) == 1
    }

    /// recorded_split returns the first split-view evidence directory saved earlier, if any.
    pub fn recorded_split(&self) -> Option<PathBuf> {
        std::fs::read_dir(&self.evidence_dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .min()
    }
}
