//! The replay-index migration (D12): a store written before D12 kept
//! whole-envelope digests, which a re-signed or co-signed copy escapes;
//! its content ids are built from the leaves at open.

use redb::{Database, ReadableTable, TableHandle};
use regledger::entry::leaf::Leaf;

use super::begin;
use super::tables::{
    head_of, meta_u64, CONTENT_IDS, LEAVES, LEGACY_DIGESTS, META, M_CONTENT_IDS_BUILT,
};
use crate::store::StoreError;

/// CHUNK is how many leaves one migration transaction indexes.
pub(super) const CHUNK: u64 = 65_536;

/// content_ids builds [`CONTENT_IDS`] from the leaves of a store written
/// before D12. Every logged entry is protected again before the node
/// serves: there is no window in which an old entry can be replayed. It
/// runs in chunks of `chunk` leaves, one durable transaction each, with its
/// progress in META, so a crash resumes it; the old table goes in the last
/// transaction. A content logged twice by an old node keeps its first
/// index (the audit reports the second).
pub(super) fn content_ids(db: &Database, quick_repair: bool, chunk: u64) -> Result<(), StoreError> {
    loop {
        let tx = begin(db, quick_repair)?;
        let legacy = tx.list_tables()?.any(|t| t.name() == LEGACY_DIGESTS.name());
        if !legacy {
            return Ok(());
        }
        let done = {
            let leaves = tx.open_table(LEAVES)?;
            let mut ids = tx.open_table(CONTENT_IDS)?;
            let mut meta = tx.open_table(META)?;
            let size = head_of(&meta)?.size;
            let from = meta_u64(&meta, M_CONTENT_IDS_BUILT)?;
            let to = size.min(from.saturating_add(chunk));
            for i in from..to {
                let bytes = leaves.get(i)?.ok_or(StoreError::MissingLeaf(i))?;
                let leaf = Leaf::parse(bytes.value())
                    .map_err(|source| StoreError::BadLeaf { index: i, source })?;
                let id = leaf.envelope.content_id();
                if let Some(first) = ids.get(id)?.map(|v| v.value()) {
                    if first != i {
                        tracing::warn!(
                            "entry {i} replays the signed content of entry {first} (logged before replay identity was the signed content)"
                        );
                        continue;
                    }
                }
                ids.insert(id, i)?;
            }
            meta.insert(M_CONTENT_IDS_BUILT, to.to_be_bytes().as_slice())?;
            if to == size {
                meta.remove(M_CONTENT_IDS_BUILT)?;
            }
            tracing::info!("replay table migration (D12): {to} of {size} entries indexed");
            to == size
        };
        if done {
            tx.delete_table(LEGACY_DIGESTS)?;
        }
        tx.commit()?;
    }
}
