//! Committed registry state (D15): the bytes of the state map's keys and
//! values, the writes an accepted entry makes to the map, and the root a
//! v2 leaf commits to (schemas/FORMATS.md, "State records").
//!
//! - **Keys** are the UTF-8 bytes of [`MapKey`]'s text: a registry object's
//!   [`StateKey`] (`participant/<id>`, `regno/<登记号>`, …) or
//!   `content/<64 hex>`, the content id (D12) of a registry act.
//! - **Values** are canonical JSON ([`serde_json::to_vec`], fields in
//!   declaration order, no space): a [`StateRecord`] `{"set_by": <index of
//!   the entry that last wrote the key>, "object": <StateObject>}` for a
//!   registry object, a [`ContentRecord`] `{"set_by": <index>}` for a
//!   content id. [`parse_record`] refuses anything but those exact bytes.
//! - **Writes**: an entry writes each of its [`Effects::writes`] as a
//!   record with `set_by` = its index and, if it is a registry act (any
//!   kind but `operation-event`), its content id. An operation event
//!   writes nothing: its leaf repeats the previous root.
//!
//! The content ids of registry acts are committed so that an audit that
//! starts from a snapshot (issue 14) still refuses a replay of any earlier
//! registry act, which is the replay D12 was about (re-imposing a
//! suspension). Operation events' content ids stay in the node's table
//! only: a duplicate of an operation event logged before a snapshot is
//! caught by the node (which refuses it) and by a full audit, not by an
//! incremental one (D15).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::registry::kinds::EntryKind;
use crate::registry::state::{Effects, StateKey, StateKeyError, StateObject};
use crate::statemap::{MapError, NodeStore, StateMap};
use crate::tlog::hash::Hash;

/// CONTENT_PREFIX starts the map key of a committed content id.
pub const CONTENT_PREFIX: &str = "content/";

/// StateRecord is the committed value of a registry object's key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateRecord {
    /// set_by is the index of the entry that last wrote the key.
    pub set_by: u64,
    /// object is the object's state after that entry.
    pub object: StateObject,
}

/// ContentRecord is the committed value of a registry act's content id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentRecord {
    /// set_by is the index of the entry that logged the content.
    pub set_by: u64,
}

/// MapKey is a key of the state map.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MapKey {
    /// State is a registry object.
    State(StateKey),
    /// Content is a registry act's content id.
    Content([u8; 32]),
}

impl fmt::Display for MapKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapKey::State(k) => write!(f, "{k}"),
            MapKey::Content(id) => write!(f, "{CONTENT_PREFIX}{}", Hash(*id).to_hex()),
        }
    }
}

impl FromStr for MapKey {
    type Err = StateKeyError;
    /// from_str parses exactly the text [`MapKey`]'s `Display` writes
    /// (lower-case hex for a content id).
    fn from_str(s: &str) -> Result<MapKey, StateKeyError> {
        if let Some(hex) = s.strip_prefix(CONTENT_PREFIX) {
            let id = Hash::from_hex(hex)
                .filter(|h| h.to_hex() == hex)
                .ok_or_else(|| StateKeyError::Malformed(s.to_string()))?;
            return Ok(MapKey::Content(id.0));
        }
        let k = StateKey::from_str(s)?;
        // Only the canonical spelling: parsing must invert Display.
        if k.to_string() != s {
            return Err(StateKeyError::Malformed(s.to_string()));
        }
        Ok(MapKey::State(k))
    }
}

impl MapKey {
    /// bytes returns the key's bytes in the map.
    pub fn bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

/// Record is a parsed map value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// State is a registry object's record (boxed: it is far larger than a
    /// content record).
    State(Box<StateRecord>),
    /// Content is a content id's record.
    Content(ContentRecord),
}

impl Record {
    /// set_by returns the index of the entry that wrote it.
    pub fn set_by(&self) -> u64 {
        match self {
            Record::State(r) => r.set_by,
            Record::Content(r) => r.set_by,
        }
    }
}

/// RecordError says why bytes are not the canonical record of a key.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum RecordError {
    /// Json: not a record of the key's kind.
    #[error("not a state record: {0}")]
    Json(String),
    /// NotCanonical: a record, but not in the one byte form the map commits to.
    #[error("the record is not in canonical form (schemas/FORMATS.md, \"State records\")")]
    NotCanonical,
    /// WrongKind: a record whose object is not of the key's kind.
    #[error("the record holds a {got} under a {want} key")]
    WrongKind {
        /// got is the object's kind.
        got: &'static str,
        /// want is the key's kind.
        want: &'static str,
    },
}

/// record_bytes returns the committed value of a registry object.
pub fn record_bytes(set_by: u64, object: &StateObject) -> Vec<u8> {
    #[derive(Serialize)]
    struct Ref<'a> {
        set_by: u64,
        object: &'a StateObject,
    }
    serde_json::to_vec(&Ref { set_by, object }).expect("state objects serialize")
}

/// content_record_bytes returns the committed value of a content id.
pub fn content_record_bytes(set_by: u64) -> Vec<u8> {
    serde_json::to_vec(&ContentRecord { set_by }).expect("serializes")
}

/// object_kind names a state object's kind as its key does ("product", …).
pub fn object_kind(o: &StateObject) -> &'static str {
    match o {
        StateObject::Genesis(_) => "genesis",
        StateObject::Participant(_) => "participant",
        StateObject::Key(_) => "key",
        StateObject::Resource(_) => "resource",
        StateObject::Agreement(_) => "agreement",
        StateObject::Credential(_) => "credential",
        StateObject::Product(_) => "product",
        StateObject::RegistrationNo(_) => "regno",
        StateObject::Objection(_) => "objection",
        StateObject::Calendar(_) => "calendar",
    }
}

/// key_kind names a key's kind ("product", "regno", "content", …).
pub fn key_kind(k: &MapKey) -> &'static str {
    match k {
        MapKey::Content(_) => "content",
        MapKey::State(s) => match s {
            StateKey::Genesis => "genesis",
            StateKey::Participant(_) => "participant",
            StateKey::Key(_) => "key",
            StateKey::Resource(_) => "resource",
            StateKey::Agreement(_) => "agreement",
            StateKey::Credential(_) => "credential",
            StateKey::Product(_) => "product",
            StateKey::RegistrationNo(_) => "regno",
            StateKey::Objection(_) => "objection",
            StateKey::Calendar(..) => "calendar",
        },
    }
}

/// parse_record reads the value of `key` strictly: a record of the key's
/// kind, in exactly the bytes [`record_bytes`] (or
/// [`content_record_bytes`]) writes. It does not check that the object
/// is the one the key names (an id inside it); a map proof ties the
/// bytes to the key.
///
/// # Errors
///
/// A [`RecordError`].
pub fn parse_record(key: &MapKey, bytes: &[u8]) -> Result<Record, RecordError> {
    let rec = match key {
        MapKey::Content(_) => Record::Content(
            serde_json::from_slice(bytes).map_err(|e| RecordError::Json(e.to_string()))?,
        ),
        MapKey::State(_) => {
            let r: StateRecord =
                serde_json::from_slice(bytes).map_err(|e| RecordError::Json(e.to_string()))?;
            let (got, want) = (object_kind(&r.object), key_kind(key));
            if got != want {
                return Err(RecordError::WrongKind { got, want });
            }
            Record::State(Box::new(r))
        }
    };
    let again = match &rec {
        Record::State(r) => record_bytes(r.set_by, &r.object),
        Record::Content(r) => content_record_bytes(r.set_by),
    };
    if again != bytes {
        return Err(RecordError::NotCanonical);
    }
    Ok(rec)
}

/// commits_content says whether an entry of `kind` commits its content id
/// to the map: every registry act, not an operation event.
pub fn commits_content(kind: EntryKind) -> bool {
    kind != EntryKind::OperationEvent
}

/// MapWrite is one write to the state map: key bytes and value bytes.
pub type MapWrite = (Vec<u8>, Vec<u8>);

/// entry_writes returns the map writes of the entry at `index` that the
/// rules accepted with effects `fx` and whose envelope has `content_id`:
/// every state write as a record set by `index`, then the content id of a
/// registry act. Writes to one key take effect in order (the last wins).
pub fn entry_writes(index: u64, fx: &Effects, content_id: &[u8; 32]) -> Vec<MapWrite> {
    let mut out = Vec::with_capacity(fx.writes.len() + 1);
    for (k, v) in &fx.writes {
        out.push((k.to_string().into_bytes(), record_bytes(index, v)));
    }
    if commits_content(fx.kind) {
        out.push((
            MapKey::Content(*content_id).bytes(),
            content_record_bytes(index),
        ));
    }
    out
}

/// apply_writes applies `writes` to `map` in one batch and returns the new
/// root (the current root when there are none: no hashing, no store write).
///
/// # Errors
///
/// The map's store fails or is corrupt.
pub fn apply_writes<S: NodeStore>(
    map: &mut StateMap<S>,
    writes: &[MapWrite],
) -> Result<Hash, MapError> {
    if writes.is_empty() {
        return map.root();
    }
    map.apply(
        writes
            .iter()
            .map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::state::{RegistrationNoState, Status};

    #[test]
    fn keys_parse_only_in_the_spelling_they_are_written_in() {
        for k in [
            MapKey::State(StateKey::Genesis),
            MapKey::State(StateKey::RegistrationNo("GXDP-2025-000001".into())),
            MapKey::State(StateKey::Key("gx-op/0a1b2c3d".into())),
            MapKey::State(StateKey::Calendar(2025, String::new())),
            MapKey::Content([0xab; 32]),
        ] {
            assert_eq!(k.to_string().parse::<MapKey>().unwrap(), k);
        }
        let upper = format!("content/{}", "AB".repeat(32));
        for bad in [
            upper.as_str(),
            "content/abab",
            "calendar/02025/",
            "calendar/+2025/",
            "nope/x",
            "genesis/",
        ] {
            assert!(bad.parse::<MapKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_record_parses_only_in_its_canonical_bytes_and_under_its_kind() {
        let o = StateObject::RegistrationNo(RegistrationNoState {
            product_id: "P-1".into(),
            status: Status::Suspended,
            status_index: 41,
        });
        let b = record_bytes(41, &o);
        assert_eq!(
            String::from_utf8(b.clone()).unwrap(),
            r#"{"set_by":41,"object":{"type":"registration-no","value":{"product_id":"P-1","status":"suspended","status_index":41}}}"#
        );
        let key = MapKey::State(StateKey::RegistrationNo("GXDP-1".into()));
        assert_eq!(
            parse_record(&key, &b).unwrap(),
            Record::State(Box::new(StateRecord {
                set_by: 41,
                object: o
            }))
        );
        let spaced = String::from_utf8(b.clone())
            .unwrap()
            .replace(":41,", ": 41,");
        assert_eq!(
            parse_record(&key, spaced.as_bytes()),
            Err(RecordError::NotCanonical)
        );
        let extra = String::from_utf8(b.clone())
            .unwrap()
            .replace(r#""status_index":41}"#, r#""status_index":41,"x":1}"#);
        assert_eq!(
            parse_record(&key, extra.as_bytes()),
            Err(RecordError::NotCanonical)
        );
        let product_key = MapKey::State(StateKey::Product("P-1".into()));
        assert!(matches!(
            parse_record(&product_key, &b),
            Err(RecordError::WrongKind { .. })
        ));
        let c = MapKey::Content([1; 32]);
        assert_eq!(content_record_bytes(7), br#"{"set_by":7}"#.to_vec());
        assert_eq!(parse_record(&c, br#"{"set_by":7}"#).unwrap().set_by(), 7);
        assert!(parse_record(&c, br#"{"set_by":7,"x":0}"#).is_err());
        assert!(parse_record(&key, br#"{"set_by":7}"#).is_err());
    }
}
