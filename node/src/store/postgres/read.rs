//! Snapshots: the read side of the driver, one REPEATABLE READ transaction each.

use std::collections::HashMap;
use std::sync::Arc;

use regledger::registry::{StateKey, StateObject, StateReader};
use regledger::tlog::tree::{tree_hash, HashReader, TreeError};
use regledger::{Hash, HashSuite};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use regledger::statemap::{Child, InternalNode, NodeId, NodeReader};

use super::conn::{block_on, i, Shared};
use crate::store::redb::tables::{
    decode_state, is_record, u64_of, COSIGNED_PREFIX, M_CHECKPOINT, M_LAST_HASH, M_LAST_TIME,
    M_LAST_VERSION, M_SIZE, M_TILES_SIZE, M_VERIFYING, M_WITNESS, WEBHOOK_PREFIX,
};
use crate::store::{Head, StoreError};

/// current_token reads the fencing token of the current leader.
pub(super) fn current_token(c: &Client) -> Result<i64, StoreError> {
    block_on(token_query(c))
}

/// token_query is [`current_token`] as a future, to pipeline.
pub(super) async fn token_query(c: &Client) -> Result<i64, StoreError> {
    Ok(
        c.query_typed_one("SELECT token FROM regledger.leader WHERE id = 1", &[])
            .await?
            .get(0),
    )
}

/// meta_get reads a META value in the transaction on `c`.
fn meta_get(c: &Client, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(block_on(c.query_typed_opt(
        "SELECT value FROM regledger.meta WHERE key = $1",
        &[(&key, Type::TEXT)],
    ))?
    .map(|r| r.get::<_, Vec<u8>>(0)))
}

fn meta_u64(c: &Client, key: &str) -> Result<u64, StoreError> {
    Ok(meta_get(c, key)?.map(|v| u64_of(&v)).unwrap_or(0))
}

pub(super) fn meta_str(c: &Client, key: &str) -> Result<Option<String>, StoreError> {
    Ok(meta_get(c, key)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// head_of reads the head (four META values, one query).
pub(super) fn head_of(c: &Client) -> Result<Head, StoreError> {
    block_on(head_query(c))
}

/// head_query is [`head_of`] as a future, to pipeline.
pub(super) async fn head_query(c: &Client) -> Result<Head, StoreError> {
    let keys = vec![M_SIZE, M_LAST_HASH, M_LAST_TIME, M_LAST_VERSION];
    let rows = c
        .query_typed(
            "SELECT key, value FROM regledger.meta WHERE key = ANY($1)",
            &[(&keys, Type::TEXT_ARRAY)],
        )
        .await?;
    let mut h = Head::default();
    let mut version = None;
    for r in rows {
        let k: &str = r.get(0);
        let v: Vec<u8> = r.get(1);
        match k {
            M_SIZE => h.size = u64_of(&v),
            M_LAST_HASH => h.last_leaf_hash = Hash::from_slice(&v).unwrap_or_default(),
            M_LAST_TIME => h.last_time_ms = u64_of(&v),
            M_LAST_VERSION => version = Some(v.first().copied().unwrap_or(0)),
            _ => {}
        }
    }
    // As redb's (store/redb/tables.rs): absent in a store before leaf v2.
    h.last_version = match version {
        Some(v) => v,
        None if h.size > 0 => regledger::entry::leaf::LEAF_V1,
        None => 0,
    };
    Ok(h)
}

/// hashes_get reads stored hashes by index (one query); missing ones are absent.
pub(super) fn hashes_get(c: &Client, indexes: &[u64]) -> Result<HashMap<u64, Hash>, StoreError> {
    let want: Vec<i64> = indexes.iter().map(|&x| i(x)).collect();
    let rows = block_on(c.query_typed(
        "SELECT idx, hash FROM regledger.hashes WHERE idx = ANY($1)",
        &[(&want, Type::INT8_ARRAY)],
    ))?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let idx: i64 = r.get(0);
        let v: &[u8] = r.get(1);
        let h = Hash::from_slice(v).ok_or(StoreError::Unreadable("stored hash"))?;
        out.insert(idx as u64, h);
    }
    Ok(out)
}

pub(super) fn state_get(c: &Client, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(block_on(c.query_typed_opt(
        "SELECT value FROM regledger.state WHERE key = $1",
        &[(&key, Type::TEXT)],
    ))?
    .map(|r| r.get::<_, Vec<u8>>(0)))
}

/// map_key is a state map node's key in `regledger.state_map` (the root
/// slot under the empty key, as redb's table).
pub(super) fn map_key(id: Option<&NodeId>) -> Vec<u8> {
    id.map(NodeId::to_bytes).unwrap_or_default()
}

pub(super) fn map_get(c: &Client, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    block_on(map_query(c, key))
}

/// map_query is [`map_get`] as a future, to pipeline.
pub(super) async fn map_query(c: &Client, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(c.query_typed_opt(
        "SELECT node FROM regledger.state_map WHERE key = $1",
        &[(&key, Type::BYTEA)],
    )
    .await?
    .map(|r| r.get::<_, Vec<u8>>(0)))
}

pub(super) fn map_err(e: impl std::fmt::Display) -> regledger::statemap::StoreError {
    regledger::statemap::StoreError(e.to_string())
}

/// PgMapNodes reads the state map's nodes in a snapshot.
pub struct PgMapNodes<'a>(pub(super) &'a PgRead);

impl NodeReader for PgMapNodes<'_> {
    fn read_root(&self) -> Result<Child, regledger::statemap::StoreError> {
        match map_get(self.0.c(), &map_key(None)).map_err(map_err)? {
            Some(v) => Child::from_bytes(&v),
            None => Ok(Child::Empty),
        }
    }
    fn read_node(
        &self,
        id: &NodeId,
    ) -> Result<Option<InternalNode>, regledger::statemap::StoreError> {
        match map_get(self.0.c(), &map_key(Some(id))).map_err(map_err)? {
            Some(v) => InternalNode::from_bytes(&v).map(Some),
            None => Ok(None),
        }
    }
}

/// PgRead is a snapshot (a read-only repeatable-read transaction).
pub struct PgRead {
    pub(super) shared: Arc<Shared>,
    pub(super) c: Option<Client>,
}

impl Drop for PgRead {
    fn drop(&mut self) {
        if let Some(c) = self.c.take() {
            if block_on(c.batch_execute("ROLLBACK")).is_ok() {
                self.shared.checkin(c);
            }
        }
    }
}

impl PgRead {
    pub(super) fn c(&self) -> &Client {
        self.c.as_ref().expect("open until dropped")
    }

    /// head: see [`super::ReadTx::head`].
    pub fn head(&self) -> Result<Head, StoreError> {
        head_of(self.c())
    }

    /// size: see [`super::ReadTx::size`].
    pub fn size(&self) -> Result<u64, StoreError> {
        meta_u64(self.c(), M_SIZE)
    }

    /// leaf: see [`super::ReadTx::leaf`].
    pub fn leaf(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(block_on(self.c().query_typed_opt(
            "SELECT leaf FROM regledger.leaves WHERE idx = $1",
            &[(&i(index), Type::INT8)],
        ))?
        .map(|r| r.get::<_, Vec<u8>>(0)))
    }

    /// envelope: see [`super::ReadTx::envelope`].
    pub fn envelope(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(block_on(self.c().query_typed_opt(
            "SELECT envelope FROM regledger.envelopes WHERE idx = $1",
            &[(&i(index), Type::INT8)],
        ))?
        .map(|r| r.get::<_, Vec<u8>>(0)))
    }

    /// envelopes: see [`crate::store::ReadTx::envelopes`] (one query).
    pub fn envelopes(&self, start: u64, end: u64) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let rows = block_on(self.c().query_typed(
            "SELECT idx, envelope FROM regledger.envelopes WHERE idx >= $1 AND idx < $2",
            &[(&i(start), Type::INT8), (&i(end), Type::INT8)],
        ))?;
        let mut out = vec![None; end.saturating_sub(start) as usize];
        for r in rows {
            let at = (r.get::<_, i64>(0) as u64).wrapping_sub(start) as usize;
            if let Some(slot) = out.get_mut(at) {
                *slot = Some(r.get::<_, Vec<u8>>(1));
            }
        }
        Ok(out)
    }

    /// pruned_by: see [`super::ReadTx::pruned_by`].
    pub fn pruned_by(&self, index: u64) -> Result<Option<u64>, StoreError> {
        Ok(block_on(self.c().query_typed_opt(
            "SELECT by_idx FROM regledger.pruned WHERE idx = $1",
            &[(&i(index), Type::INT8)],
        ))?
        .map(|r| r.get::<_, i64>(0) as u64))
    }

    /// map_nodes reads the state map's nodes in this snapshot.
    pub fn map_nodes(&self) -> PgMapNodes<'_> {
        PgMapNodes(self)
    }

    /// state_value: see [`super::ReadTx::state_value`].
    pub fn state_value(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(state_get(self.c(), &key.to_string())?.filter(|v| is_record(v)))
    }

    /// state_records: see [`crate::store::ReadTx::state_records`].
    pub fn state_records(&self, f: &mut crate::store::RecordFn<'_>) -> Result<(), StoreError> {
        let rows = block_on(
            self.c()
                .query_typed("SELECT key, value FROM regledger.state ORDER BY key", &[]),
        )?;
        for r in rows {
            let v: &[u8] = r.get(1);
            if is_record(v) {
                f(r.get::<_, &str>(0), v)?;
            }
        }
        Ok(())
    }

    /// content_ids: see [`crate::store::ReadTx::content_ids`].
    pub fn content_ids(&self, f: &mut crate::store::ContentIdFn<'_>) -> Result<(), StoreError> {
        let rows = block_on(self.c().query_typed(
            "SELECT cid, idx FROM regledger.content_ids ORDER BY cid",
            &[],
        ))?;
        for r in rows {
            let Ok(id) = <[u8; 32]>::try_from(r.get::<_, &[u8]>(0)) else {
                continue;
            };
            f(&id, r.get::<_, i64>(1) as u64)?;
        }
        Ok(())
    }

    /// leaves: see [`super::ReadTx::leaves`].
    pub fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows = block_on(self.c().query_typed(
            "SELECT idx, leaf FROM regledger.leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            &[(&i(start), Type::INT8), (&i(end), Type::INT8)],
        ))?;
        let mut out = Vec::with_capacity(rows.len());
        for (want, r) in (start..).zip(rows) {
            if r.get::<_, i64>(0) as u64 != want {
                break;
            }
            out.push(r.get::<_, Vec<u8>>(1));
        }
        Ok(out)
    }

    /// objects: see [`super::ReadTx::objects`].
    pub fn objects(&self, prefix: &str, limit: usize) -> Result<Vec<StateObject>, StoreError> {
        let rows = block_on(self.c().query_typed(
            "SELECT value FROM regledger.state WHERE key >= $1 AND starts_with(key, $1) \
             ORDER BY key LIMIT $2",
            &[(&prefix, Type::TEXT), (&(limit as i64), Type::INT8)],
        ))?;
        Ok(rows
            .iter()
            .filter_map(|r| decode_state(r.get::<_, &[u8]>(0)))
            .collect())
    }

    /// subjects: see [`super::ReadTx::subjects`].
    pub fn subjects(&self, subject: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let rows = block_on(self.c().query_typed(
            "SELECT idx FROM regledger.subjects WHERE subject = $1 ORDER BY idx LIMIT $2",
            &[(&subject, Type::TEXT), (&(limit as i64), Type::INT8)],
        ))?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    /// root_at: see [`super::ReadTx::root_at`].
    pub fn root_at(&self, suite: HashSuite, size: u64) -> Result<Hash, StoreError> {
        Ok(tree_hash(suite, size, self)?)
    }

    /// published_checkpoint: see [`super::ReadTx::published_checkpoint`].
    pub fn published_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(self.c(), M_CHECKPOINT)
    }

    /// tiles_size: see [`super::ReadTx::tiles_size`].
    pub fn tiles_size(&self) -> Result<u64, StoreError> {
        meta_u64(self.c(), M_TILES_SIZE)
    }

    /// witness_checkpoint: see [`super::ReadTx::witness_checkpoint`].
    pub fn witness_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(self.c(), M_WITNESS)
    }

    /// verifying_checkpoint: see [`super::ReadTx::verifying_checkpoint`].
    pub fn verifying_checkpoint(&self) -> Result<Option<String>, StoreError> {
        meta_str(self.c(), M_VERIFYING)
    }

    /// cosigned_size: see [`super::ReadTx::cosigned_size`].
    pub fn cosigned_size(&self, url: &str) -> Result<u64, StoreError> {
        meta_u64(self.c(), &format!("{COSIGNED_PREFIX}{url}"))
    }

    /// webhook_delivered: see [`super::ReadTx::webhook_delivered`].
    pub fn webhook_delivered(&self, url: &str) -> Result<Option<u64>, StoreError> {
        Ok(meta_str(self.c(), &format!("{WEBHOOK_PREFIX}{url}"))?
            .and_then(|s| s.parse::<u64>().ok()))
    }
}

impl HashReader for PgRead {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
        let got = hashes_get(self.c(), indexes).map_err(|e| TreeError::Storage(e.to_string()))?;
        indexes
            .iter()
            .map(|x| got.get(x).copied().ok_or(TreeError::MissingHash(*x)))
            .collect()
    }
}

impl StateReader for PgRead {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        // As redb's: an unreadable value reads as absent. A read error does
        // too, here, on the read side only (a page answers without it); the
        // appender's reads fail their transaction instead.
        let v = state_get(self.c(), &key.to_string()).ok()??;
        decode_state(&v)
    }
}
