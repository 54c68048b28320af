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
                let Some(env) = leaf.inline_envelope() else {
                    // Only stores written before D12 are migrated: all v1.
                    return Err(StoreError::BadLeaf {
                        index: i,
                        source: regledger::entry::leaf::LeafError::Malformed(
                            "a v2 leaf in a store written before D12",
                        ),
                    });
                };
                let id = env.content_id();
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

/// state_map builds the state map (D15) of a store written before it: one
/// with entries but no map root. Its leaves are all v1 (envelopes inline);
/// they are replayed through the registry rules from the empty state, in
/// one transaction, which writes the map's nodes and rewrites every state
/// row as its committed record (`{"set_by", "object"}`: which entry last
/// wrote it is known only from the replay; the rows of a store before
/// issue 14 also carried a leaf hash and a 区块链编号, which go). The next
/// entry is then the log's first v2 leaf, whose root covers everything
/// before it. An entry the rules now refuse writes nothing (a warning
/// names it; an audit reports it too).
pub(super) fn state_map(db: &Database, quick_repair: bool) -> Result<(), StoreError> {
    use regledger::entry::chain::EntryContext;
    use regledger::registry::commit::{entry_writes, record_bytes};
    use regledger::registry::{apply, MemoryState, StateObject};
    use regledger::statemap::{MemoryStore, NodeReader, StateMap};

    use super::tables::{write_map_changes, MAP_ROOT_KEY, STATE, STATE_MAP};

    let tx = begin(db, quick_repair)?;
    {
        let meta = tx.open_table(META)?;
        let size = head_of(&meta)?.size;
        let map = tx.open_table(STATE_MAP)?;
        if size == 0 || map.get(MAP_ROOT_KEY)?.is_some() {
            return Ok(());
        }
        drop(map);
        let leaves = tx.open_table(LEAVES)?;
        let mut state = MemoryState::default();
        let mut set_by: std::collections::BTreeMap<String, (u64, StateObject)> = Default::default();
        let mut suite = None;
        let mut origin = String::new();
        let mut writes = Vec::new();
        for i in 0..size {
            let bytes = leaves.get(i)?.ok_or(StoreError::MissingLeaf(i))?;
            let leaf = Leaf::parse(bytes.value())
                .map_err(|source| StoreError::BadLeaf { index: i, source })?;
            let Some(env) = leaf.inline_envelope() else {
                return Err(StoreError::Unreadable(
                    "v2 leaf in a store without a state map",
                ));
            };
            if i == 0 {
                // Genesis names the origin every entry is judged in.
                origin =
                    serde_json::from_slice::<regledger::registry::payloads::Genesis>(&env.payload)
                        .map(|g| g.origin)
                        .map_err(|_| StoreError::Unreadable("genesis payload"))?;
            }
            let ctx = EntryContext {
                index: i,
                integrated_time_ms: leaf.integrated_time_ms,
                log_id: origin.clone(),
            };
            match apply(&state, &ctx, env) {
                Ok(fx) => {
                    for (_, o) in &fx.writes {
                        if let StateObject::Genesis(g) = o {
                            suite = regledger::HashSuite::from_name(&g.hash);
                            origin = g.origin.clone();
                        }
                    }
                    for (k, v) in &fx.writes {
                        set_by.insert(k.to_string(), (i, v.clone()));
                    }
                    writes.extend(entry_writes(i, &fx, &env.content_id()));
                    state.apply_effects(&fx);
                }
                Err(v) => tracing::warn!(
                    "state map migration: entry {i} is refused by the rules now ({v}); it writes no state"
                ),
            }
        }
        let suite = suite.ok_or(StoreError::Unreadable("genesis (no hash suite)"))?;
        let mut m = StateMap::new(suite, MemoryStore::default());
        regledger::registry::commit::apply_writes(&mut m, &writes)
            .map_err(|e| StoreError::Map(e.to_string()))?;
        let store = m.into_store();
        let changes = regledger::statemap::Changes {
            root: Some(store.read_root().map_err(|e| StoreError::Map(e.0))?),
            nodes: store.nodes().map(|(id, n)| (*id, Some(*n))).collect(),
        };
        write_map_changes(&mut tx.open_table(STATE_MAP)?, &changes)?;
        let mut st = tx.open_table(STATE)?;
        for (k, (i, o)) in &set_by {
            st.insert(k.as_str(), record_bytes(*i, o).as_slice())?;
        }
        tracing::info!(
            "state map migration (D15): {size} entries replayed, {} state records committed",
            set_by.len()
        );
    }
    tx.commit()?;
    Ok(())
}
