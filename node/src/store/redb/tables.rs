//! The redb tables and META keys: the on-disk format of `ledger.redb`.
//!
//! Private to the redb driver: every other module reads and writes through
//! [`crate::store::Store`] and its transactions. Names, key and value types and byte encodings here are
//! the format of existing data directories: never change one (a renamed
//! table is an empty table, not a migration).

use redb::{MultimapTableDefinition, ReadableTable, TableDefinition};
use regledger::tlog::tree::{HashReader, TreeError};
use regledger::Hash;

use crate::store::{Head, StoreError};

/// LEAVES maps index → leaf bytes.
pub(super) const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("leaves");
/// HASHES maps stored-hash index → hash (Go tlog layout).
pub(super) const HASHES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("hashes");
/// STATE maps registry state key → its committed record (D15,
/// [`regledger::registry::commit::StateRecord`]: `{"set_by", "object"}`,
/// the bytes the state map commits to); a store written before the map
/// holds the bare object JSON, which still reads (and is rewritten by the
/// migration, store/migrate.rs).
pub(super) const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
/// ENVELOPES maps index → the envelope of a v2 leaf (its binary form,
/// which the leaf's envelope hash commits to); a v1 leaf holds its own.
pub(super) const ENVELOPES: TableDefinition<u64, &[u8]> = TableDefinition::new("envelopes");
/// PRUNED maps the index of an entry whose envelope a `retention-pruned`
/// dropped → the index of that prune entry (the leaf stays; D22).
pub(super) const PRUNED: TableDefinition<u64, u64> = TableDefinition::new("pruned");
/// STATE_MAP holds the state map's internal nodes (D15): [`regledger::statemap::NodeId`]
/// bytes → [`regledger::statemap::InternalNode`] bytes, and under the empty
/// key the root slot ([`regledger::statemap::Child`] bytes). A store without
/// the root slot and with entries predates the map (store/migrate.rs).
pub(super) const STATE_MAP: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state_map");
/// MAP_ROOT_KEY is the key of the root slot in [`STATE_MAP`].
pub(super) const MAP_ROOT_KEY: &[u8] = b"";
/// META holds the log's scalars (see the `M_*` keys).
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// CONTENT_IDS maps an entry's content id ([`regledger::entry::envelope::Envelope::content_id`],
/// SHA-256 of what its signatures sign) → the index that logged it, to refuse replays (D12).
pub(super) const CONTENT_IDS: TableDefinition<[u8; 32], u64> = TableDefinition::new("content_ids");
/// EVENT_IDS maps the first 16 bytes of an operation event's content id →
/// the index that logged it (D31): the replay index of the high-volume
/// kind, 24 bytes a row instead of [`CONTENT_IDS`]' 40. A hit is confirmed
/// against the logged envelope's whole content id; an event whose prefix
/// is already taken by other content goes to [`CONTENT_IDS`]. Registry
/// acts stay in [`CONTENT_IDS`], whose full ids the state snapshot lists.
pub(super) const EVENT_IDS: TableDefinition<[u8; 16], u64> = TableDefinition::new("event_ids");
/// LEGACY_DIGESTS is the replay table of nodes before D12 (SHA-256 of the whole
/// envelope, signatures included): its presence means [`CONTENT_IDS`] must be
/// built from the leaves; it is deleted once that is done.
pub(super) const LEGACY_DIGESTS: TableDefinition<[u8; 32], u64> = TableDefinition::new("digests");
/// SUBJECTS maps a subject id → indexes of the entries concerning it.
pub(super) const SUBJECTS: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("subjects");
/// CHECKPOINTS maps size → the signed checkpoint note published for it.
pub(super) const CHECKPOINTS: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");

/// M_SIZE is the committed tree size (u64 BE).
pub(crate) const M_SIZE: &str = "size";
/// M_LAST_HASH is the last leaf hash.
pub(crate) const M_LAST_HASH: &str = "last_leaf_hash";
/// M_LAST_TIME is the last integrated time (u64 BE ms).
pub(crate) const M_LAST_TIME: &str = "last_time_ms";
/// M_LAST_VERSION is the leaf version of the last leaf (one byte); absent
/// in a store written before leaf v2, whose leaves are all v1.
pub(crate) const M_LAST_VERSION: &str = "last_leaf_version";
/// M_CHECKPOINT is the latest published checkpoint note.
pub(crate) const M_CHECKPOINT: &str = "checkpoint";
/// M_ARCHIVED is the index below which leaves and envelopes are no longer
/// rows of [`LEAVES`] and [`ENVELOPES`] but read from the full bundles of
/// the tile directory (u64 BE, a multiple of 256; absent: 0; D29).
pub(crate) const M_ARCHIVED: &str = "archived_below";
/// M_TILES_SIZE is the tree size the tile directory is complete for (u64 BE).
pub(crate) const M_TILES_SIZE: &str = "tiles_size";
/// M_CONTENT_IDS_BUILT is, while a pre-D12 store is migrated, how many
/// leaves [`CONTENT_IDS`] already holds (u64 BE); absent otherwise.
pub(crate) const M_CONTENT_IDS_BUILT: &str = "content_ids_built";
/// M_VERIFYING is the log-signed checkpoint whose tree a mirror's verified
/// entries are a prefix of (the one it integrates or last integrated): the
/// signed statement its entries beyond the served checkpoint rest on.
pub(crate) const M_VERIFYING: &str = "mirror_verifying_checkpoint";
/// M_WITNESS is the latest checkpoint this node's witness endpoint cosigned.
pub(crate) const M_WITNESS: &str = "witness_checkpoint";
/// COSIGNED_PREFIX prefixes the key holding the size a witness (then its
/// URL) last cosigned for this node (u64 BE).
pub(crate) const COSIGNED_PREFIX: &str = "witness_cosigned:";
/// WEBHOOK_PREFIX prefixes the key holding a webhook's (then its URL) last
/// delivered event id (decimal text, unlike the other counters: kept as
/// first written).
pub(crate) const WEBHOOK_PREFIX: &str = "webhook:";

/// u64_of decodes a u64 BE value; anything else reads as 0, as it always has.
pub(crate) fn u64_of(b: &[u8]) -> u64 {
    b.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// head_of reads the head from the META table.
pub(super) fn head_of(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Head, StoreError> {
    let size = meta_u64(meta, M_SIZE)?;
    Ok(Head {
        size,
        last_leaf_hash: meta
            .get(M_LAST_HASH)?
            .and_then(|v| Hash::from_slice(v.value()))
            .unwrap_or_default(),
        last_time_ms: meta_u64(meta, M_LAST_TIME)?,
        last_version: match meta.get(M_LAST_VERSION)? {
            Some(v) => v.value().first().copied().unwrap_or(0),
            None if size > 0 => regledger::entry::leaf::LEAF_V1,
            None => 0,
        },
    })
}

/// meta_str reads a text value from META.
pub(super) fn meta_str(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<String>, StoreError> {
    Ok(meta
        .get(key)?
        .map(|v| String::from_utf8_lossy(v.value()).into_owned()))
}

/// meta_u64 reads a u64 BE value from META (0 when absent).
pub(super) fn meta_u64(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<u64, StoreError> {
    Ok(meta.get(key)?.map(|v| u64_of(v.value())).unwrap_or(0))
}

/// Hashes reads stored hashes from any readable HASHES table.
pub(super) struct Hashes<'a, T: ReadableTable<u64, [u8; 32]>>(pub(super) &'a T);

impl<T: ReadableTable<u64, [u8; 32]>> HashReader for Hashes<'_, T> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        indexes
            .iter()
            .map(|&i| match self.0.get(i) {
                Ok(Some(v)) => Ok(Hash(v.value())),
                Ok(None) => Err(TreeError::MissingHash(i)),
                Err(e) => Err(TreeError::Storage(e.to_string())),
            })
            .collect()
    }
}

/// StoredHashes reads the log's stored hashes (D30): the rows of `table`
/// and, for the levels 0–7 inside bundles archived below `archived`, whose
/// rows were dropped with the bundle's, the hashes `archive` recomputes
/// from the bundle checked against its level-8 hash (a row).
pub(super) struct StoredHashes<'a, T: ReadableTable<u64, [u8; 32]>> {
    pub(super) table: &'a T,
    pub(super) archived: u64,
    pub(super) archive: Option<&'a crate::store::Archive>,
}

impl<T: ReadableTable<u64, [u8; 32]>> HashReader for StoredHashes<'_, T> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        use crate::store::archive::in_archived_bundle;
        indexes
            .iter()
            .map(|&i| match self.table.get(i) {
                Ok(Some(v)) => Ok(Hash(v.value())),
                Ok(None) if in_archived_bundle(i, self.archived) => {
                    let r = match self.archive {
                        Some(a) => a.hash(i, &Hashes(self.table)),
                        None => {
                            let (level, n) = regledger::tlog::tree::split_stored_hash_index(i);
                            Err(crate::store::Archive::not_opened(n << level))
                        }
                    };
                    r.map_err(|e| TreeError::Storage(e.to_string()))
                }
                Ok(None) => Err(TreeError::MissingHash(i)),
                Err(e) => Err(TreeError::Storage(e.to_string())),
            })
            .collect()
    }
}

/// state_get reads a registry object from any readable STATE table. A
/// value that does not decode reads as absent, as it always has (the rules
/// then refuse what depends on it rather than the node stopping).
pub(super) fn state_get(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &regledger::registry::StateKey,
) -> Option<regledger::registry::StateObject> {
    let k = key.to_string();
    let v = t.get(k.as_str()).ok()??;
    decode_state(v.value())
}

/// decode_state reads a STATE value: a record, or a bare object as a store
/// before the state map wrote it.
pub(crate) fn decode_state(v: &[u8]) -> Option<regledger::registry::StateObject> {
    match serde_json::from_slice::<regledger::registry::commit::StateRecord>(v) {
        Ok(r) => Some(r.object),
        Err(_) => serde_json::from_slice(v).ok(),
    }
}

/// is_record says whether a STATE value is a committed record.
pub(crate) fn is_record(v: &[u8]) -> bool {
    serde_json::from_slice::<regledger::registry::commit::StateRecord>(v).is_ok()
}

/// MapNodes reads the state map's nodes from any readable [`STATE_MAP`] table.
pub(crate) struct MapNodes<'a, T: ReadableTable<&'static [u8], &'static [u8]>>(pub(crate) &'a T);

fn map_err(e: impl std::fmt::Display) -> regledger::statemap::StoreError {
    regledger::statemap::StoreError(e.to_string())
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> regledger::statemap::NodeReader
    for MapNodes<'_, T>
{
    fn read_root(&self) -> Result<regledger::statemap::Child, regledger::statemap::StoreError> {
        match self.0.get(MAP_ROOT_KEY).map_err(map_err)? {
            Some(v) => regledger::statemap::Child::from_bytes(v.value()),
            None => Ok(regledger::statemap::Child::Empty),
        }
    }
    fn read_node(
        &self,
        id: &regledger::statemap::NodeId,
    ) -> Result<Option<regledger::statemap::InternalNode>, regledger::statemap::StoreError> {
        match self.0.get(id.to_bytes().as_slice()).map_err(map_err)? {
            Some(v) => regledger::statemap::InternalNode::from_bytes(v.value()).map(Some),
            None => Ok(None),
        }
    }
}

/// write_map_changes writes an overlay's changes into [`STATE_MAP`].
pub(super) fn write_map_changes(
    t: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    c: &regledger::statemap::Changes,
) -> Result<(), StoreError> {
    for (id, n) in &c.nodes {
        let k = id.to_bytes();
        match n {
            Some(n) => {
                t.insert(k.as_slice(), n.to_bytes().as_slice())?;
            }
            None => {
                t.remove(k.as_slice())?;
            }
        }
    }
    if let Some(r) = c.root {
        t.insert(MAP_ROOT_KEY, r.to_bytes().as_slice())?;
    }
    Ok(())
}
