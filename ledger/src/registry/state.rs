//! Registry state: the objects the rules read and write, keyed by
//! [`StateKey`], read through [`StateReader`]. The node keeps them in its
//! database, the verifier in memory ([`MemoryState`]); both store each
//! object as the JSON of [`StateObject`], so the serialized forms here are
//! part of the node's data directory and of the mirror's: they are kept
//! byte for byte (docs/registry.md).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::registry::calendar::{Date, YearNotice};
use crate::registry::kinds::*;
use crate::registry::payloads::*;
use crate::registry::violation::Flag;

/// hex_key writes a public key as the string state has always held for
/// Ed25519, 64 hex digits (so existing data directories read back
/// unchanged), and an SM2 key as `sm2:` and the hex of its material
/// ([`crate::crypto::PublicKey::to_state_string`]); it reads both strictly.
mod hex_key {
    use crate::crypto::PublicKey;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(key: &PublicKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&key.to_state_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PublicKey, D::Error> {
        let s = String::deserialize(d)?;
        PublicKey::from_state_string(&s).map_err(serde::de::Error::custom)
    }
}

/// StateKey names one object of registry state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateKey {
    /// Genesis is the log's genesis facts.
    Genesis,
    /// Participant is a participant by id.
    Participant(String),
    /// Key is a participant key by key id.
    Key(String),
    /// Resource is a public data resource by id.
    Resource(String),
    /// Agreement is a filing by id.
    Agreement(String),
    /// Credential is a catalog credential by 授权编号.
    Credential(String),
    /// Product is a data product by id.
    Product(String),
    /// RegistrationNo maps a 登记号 to its product id.
    RegistrationNo(String),
    /// Objection is an objection by id.
    Objection(String),
    /// Calendar is a published notice for (year, region or "" for national).
    Calendar(i32, String),
}

impl fmt::Display for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateKey::Genesis => write!(f, "genesis"),
            StateKey::Participant(x) => write!(f, "participant/{x}"),
            StateKey::Key(x) => write!(f, "key/{x}"),
            StateKey::Resource(x) => write!(f, "resource/{x}"),
            StateKey::Agreement(x) => write!(f, "agreement/{x}"),
            StateKey::Credential(x) => write!(f, "credential/{x}"),
            StateKey::Product(x) => write!(f, "product/{x}"),
            StateKey::RegistrationNo(x) => write!(f, "regno/{x}"),
            StateKey::Objection(x) => write!(f, "objection/{x}"),
            StateKey::Calendar(y, r) => write!(f, "calendar/{y}/{r}"),
        }
    }
}

/// StateKeyError is a state key string that is not the form [`StateKey`]
/// writes.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum StateKeyError {
    /// Malformed: not `<kind>/<id>` of a known kind.
    #[error("bad state key {0:?}")]
    Malformed(String),
    /// BadYear: a calendar key whose year is not a number.
    #[error("bad year in {0:?}")]
    BadYear(String),
}

impl FromStr for StateKey {
    type Err = StateKeyError;
    fn from_str(s: &str) -> Result<StateKey, StateKeyError> {
        let bad = || StateKeyError::Malformed(s.to_string());
        if s == "genesis" {
            return Ok(StateKey::Genesis);
        }
        let (kind, rest) = s.split_once('/').ok_or_else(bad)?;
        let r = rest.to_string();
        Ok(match kind {
            "participant" => StateKey::Participant(r),
            "key" => StateKey::Key(r),
            "resource" => StateKey::Resource(r),
            "agreement" => StateKey::Agreement(r),
            "credential" => StateKey::Credential(r),
            "product" => StateKey::Product(r),
            "regno" => StateKey::RegistrationNo(r),
            "objection" => StateKey::Objection(r),
            "calendar" => {
                let (y, region) = rest.split_once('/').ok_or_else(bad)?;
                StateKey::Calendar(
                    y.parse()
                        .map_err(|_| StateKeyError::BadYear(s.to_string()))?,
                    region.to_string(),
                )
            }
            _ => return Err(bad()),
        })
    }
}

/// GenesisState is what genesis fixed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisState {
    /// origin is the log's origin.
    pub origin: String,
    /// hash is the hash suite name.
    pub hash: String,
    /// profile is the policy profile name.
    pub profile: String,
    /// require_sm2: participant keys must be SM2 (omitted when false, so
    /// the state of existing logs is byte for byte unchanged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_sm2: bool,
}

/// ParticipantState is a participant as registered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantState {
    /// id is the participant id.
    pub id: String,
    /// name is its name.
    pub name: String,
    /// role is its role.
    pub role: Role,
    /// credit_code is its 统一社会信用代码.
    pub credit_code: Option<String>,
    /// key_ids are its keys, retired ones included.
    pub key_ids: Vec<String>,
    /// registered_index is the entry that registered it.
    pub registered_index: u64,
    /// revoked_index is the entry that revoked it, if any.
    pub revoked_index: Option<u64>,
}

/// KeyState is one participant key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    /// key_id is the key id.
    pub key_id: String,
    /// participant is the owner.
    pub participant: String,
    /// public_key is the public key, stored (in the node's database and
    /// the mirror's) and served as 64 lowercase hex digits (Ed25519) or
    /// `sm2:<hex of point ‖ stated ID>` (SM2).
    #[serde(with = "hex_key")]
    pub public_key: crate::crypto::PublicKey,
    /// added_index is the entry that added it.
    pub added_index: u64,
    /// retired_index is the entry that retired it, if any.
    pub retired_index: Option<u64>,
}

/// Status is the lifecycle status of a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Approved: a product approved but not yet registered.
    Approved,
    /// Active: registered / in force.
    Active,
    /// Suspended: temporarily not in force.
    Suspended,
    /// Terminated: an agreement that ended.
    Terminated,
    /// Revoked: a registration revoked (撤销登记).
    Revoked,
    /// Deregistered: deregistered (注销登记).
    Deregistered,
}

impl Status {
    /// label_zh returns the Chinese status label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Approved => "已审核待登记",
            Status::Active => "有效",
            Status::Suspended => "暂停",
            Status::Terminated => "已终止",
            Status::Revoked => "已撤销登记",
            Status::Deregistered => "已注销登记",
        }
    }

    /// name returns the kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Approved => "approved",
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Terminated => "terminated",
            Status::Revoked => "revoked",
            Status::Deregistered => "deregistered",
        }
    }
}

/// ResourceState is a registered resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceState {
    /// fields are the current registration fields.
    pub fields: Resource,
    /// status is Active or Deregistered.
    pub status: Status,
    /// registered_index is the first registration entry.
    pub registered_index: u64,
    /// last_index is the last entry that changed it.
    pub last_index: u64,
}

/// AgreementState is a filing and its lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementState {
    /// fields are the current filing fields.
    pub fields: Agreement,
    /// status is Active, Suspended or Terminated.
    pub status: Status,
    /// status_index is the entry that set the status.
    pub status_index: u64,
    /// filed_index is the filing entry.
    pub filed_index: u64,
    /// filed_on is the date the ledger recorded the filing.
    pub filed_on: Date,
    /// ended_on is the last day (termination or expiry), when known.
    pub ended_on: Option<Date>,
    /// retain_logs_until is the earliest date its operation logs may be pruned.
    pub retain_logs_until: Option<Date>,
    /// logs_pruned_through is the last entry index a `retention-pruned`
    /// pruned of its operation events: a later prune names only entries
    /// after it (omitted while none, so state written before pruning
    /// existed reads and commits byte for byte unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_pruned_through: Option<u64>,
}

/// RegistrationState is a product's certificate data.
///
/// It holds no leaf hash and no 区块链编号: state is committed in the
/// entry's own leaf (D15), so it cannot depend on that leaf's hash. The
/// number is derived when shown, from the origin, `index` and the leaf
/// hash of entry `index` ([`crate::entry::blockchain_no::BlockchainNo::new`]).
/// Rows a node wrote before issue 14 carried `leaf_hash` and
/// `blockchain_no` too; they are ignored when read, and the node rewrites
/// every row when it upgrades a data directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationState {
    /// fields are the certificate fields as signed.
    pub fields: ProductRegistration,
    /// index is the registering entry.
    pub index: u64,
}

/// RegistrationNoState is the small status record of a 登记号 (the
/// `regno/<登记号>` key): the product it names and that product's current
/// status, rewritten by every status act, so that a status proof by
/// 登记号 is one map proof with a record of about 100 bytes (D15).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationNoState {
    /// product_id is the registered product.
    pub product_id: String,
    /// status is the product's status.
    pub status: Status,
    /// status_index is the entry that set it.
    pub status_index: u64,
}

/// ProductState is a product and its lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductState {
    /// approval is the approval record.
    pub approval: ProductApproval,
    /// approved_index is the approval entry.
    pub approved_index: u64,
    /// notice_opened_on is the first day of the public notice, if opened.
    pub notice_opened_on: Option<Date>,
    /// open_objections counts unresolved objections.
    pub open_objections: u32,
    /// registration is set once registered.
    pub registration: Option<RegistrationState>,
    /// status is the product status.
    pub status: Status,
    /// status_index is the entry that set the status.
    pub status_index: u64,
}

/// ObjectionState is an objection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectionState {
    /// fields are the filing.
    pub fields: Objection,
    /// filed_index is the filing entry.
    pub filed_index: u64,
    /// resolution is set once resolved.
    pub resolution: Option<ObjectionResolution>,
}

/// StateObject is one object of registry state.
// A product (approval and certificate fields, each with its request_id) is
// the largest variant by some 200 bytes; objects are few (one per
// participant, key, resource, agreement, product), so boxing it would buy
// little memory for a `Box` in every match.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "kebab-case")]
pub enum StateObject {
    /// Genesis facts.
    Genesis(GenesisState),
    /// A participant.
    Participant(ParticipantState),
    /// A key.
    Key(KeyState),
    /// A resource.
    Resource(ResourceState),
    /// An agreement.
    Agreement(AgreementState),
    /// A catalog credential.
    Credential(CatalogCredential),
    /// A product.
    Product(ProductState),
    /// A registration number's product and status.
    RegistrationNo(RegistrationNoState),
    /// An objection.
    Objection(ObjectionState),
    /// A published calendar notice.
    Calendar(YearNotice),
}

/// StateReader reads registry state.
pub trait StateReader {
    /// get returns the object at `key`, if any.
    fn get(&self, key: &StateKey) -> Option<StateObject>;
}

/// Effects is what an accepted entry changes and reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effects {
    /// writes are the state objects to store (later writes win).
    pub writes: Vec<(StateKey, StateObject)>,
    /// flags are deadline findings.
    pub flags: Vec<Flag>,
    /// subjects are the ids this entry concerns (for indexes).
    pub subjects: Vec<String>,
    /// kind is the entry's kind.
    pub kind: EntryKind,
    /// signer is the submitting participant.
    pub signer: String,
}

impl Effects {
    /// new returns the effects of an entry of `kind` by `signer` that
    /// writes, flags and concerns nothing yet.
    pub fn new(kind: EntryKind, signer: &str) -> Effects {
        Effects {
            writes: Vec::new(),
            flags: Vec::new(),
            subjects: Vec::new(),
            kind,
            signer: signer.to_string(),
        }
    }
}

/// MemoryState is registry state held in memory (verifier, tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryState(pub BTreeMap<StateKey, StateObject>);

impl StateReader for MemoryState {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        self.0.get(key).cloned()
    }
}

impl MemoryState {
    /// apply_effects stores an entry's writes.
    pub fn apply_effects(&mut self, e: &Effects) {
        for (k, v) in &e.writes {
            self.0.insert(k.clone(), v.clone());
        }
    }

    /// product_by_registration_no returns the product with that 登记号.
    pub fn product_by_registration_no(&self, no: &str) -> Option<ProductState> {
        product_by_registration_no(self, no)
    }
}
/// key_of returns the public key registered under `key_id`, retired or
/// not: what the node and the audit verify a signature with before the
/// rules decide whether the key may still sign (see
/// [`crate::entry::envelope::Envelope::verify_known`]).
pub fn key_of(s: &(impl StateReader + ?Sized), key_id: &str) -> Option<crate::crypto::PublicKey> {
    match s.get(&StateKey::Key(key_id.to_string())) {
        Some(StateObject::Key(k)) => Some(k.public_key),
        _ => None,
    }
}

/// product_by_registration_no resolves a 登记号 to its product.
pub fn product_by_registration_no(
    s: &(impl StateReader + ?Sized),
    no: &str,
) -> Option<ProductState> {
    let Some(StateObject::RegistrationNo(r)) = s.get(&StateKey::RegistrationNo(no.to_string()))
    else {
        return None;
    };
    match s.get(&StateKey::Product(r.product_id)) {
        Some(StateObject::Product(p)) => Some(p),
        _ => None,
    }
}

impl Serialize for StateKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for StateKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<StateKey, D::Error> {
        let s = String::deserialize(d)?;
        StateKey::from_str(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_key_is_known_by_its_key_id_only() {
        let mut st = MemoryState::default();
        st.0.insert(
            StateKey::Key("p/aa".into()),
            StateObject::Key(KeyState {
                key_id: "p/aa".into(),
                participant: "p".into(),
                public_key: crate::crypto::PublicKey::Ed25519([0xab; 32]),
                added_index: 1,
                retired_index: Some(3),
            }),
        );
        // Another object under a key's name is not a key.
        st.0.insert(
            StateKey::Key("p/cc".into()),
            StateObject::RegistrationNo(RegistrationNoState {
                product_id: "x".into(),
                status: Status::Active,
                status_index: 2,
            }),
        );
        assert_eq!(
            key_of(&st, "p/aa"),
            Some(crate::crypto::PublicKey::Ed25519([0xab; 32])),
            "retired or not"
        );
        assert_eq!(key_of(&st, "p/cc"), None);
        assert_eq!(key_of(&st, "p/dd"), None);
    }

    #[test]
    fn a_key_is_stored_as_the_hex_string_it_always_was() {
        // The JSON a node wrote before keys were bytes, byte for byte.
        let stored = r#"{"type":"key","value":{"key_id":"p/0a1b2c3d","participant":"p","public_key":"8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c","added_index":3,"retired_index":null}}"#;
        let o: StateObject = serde_json::from_str(stored).unwrap();
        let StateObject::Key(k) = &o else {
            panic!("{o:?}")
        };
        assert_eq!(k.public_key.material()[..2], [0x8a, 0x88]);
        assert_eq!(serde_json::to_string(&o).unwrap(), stored);
        for bad in [
            "8a88",
            "zz88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
        ] {
            let j = stored.replace(
                "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
                bad,
            );
            assert!(serde_json::from_str::<StateObject>(&j).is_err(), "{bad}");
        }
    }
}
