//! The registry: what an entry means, who may submit it, and which
//! lifecycle transitions are valid — the rules the node enforces and every
//! verifier replays identically.
//!
//! State is a key-value map of [`StateKey`] → [`StateObject`] read through
//! [`StateReader`]; [`apply`] returns the writes an entry causes
//! ([`Effects`]) or the rule it breaks ([`RuleViolation`]). The node keeps
//! the map in redb, the verifier in memory ([`MemoryState`]).

pub mod ident;
pub mod kinds;
pub mod regulations;
mod rules;
pub mod testkit;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use kinds::*;
pub use rules::{apply, apply_preverified, MAX_CHAIN_DEPTH, RECORDING_DAYS, SAME_DAY_GRACE_DAYS};

use crate::calendar::{Date, YearNotice};
use crate::hash::Hash;

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

impl FromStr for StateKey {
    type Err = String;
    fn from_str(s: &str) -> Result<StateKey, String> {
        if s == "genesis" {
            return Ok(StateKey::Genesis);
        }
        let (kind, rest) = s
            .split_once('/')
            .ok_or_else(|| format!("bad state key {s:?}"))?;
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
                let (y, region) = rest
                    .split_once('/')
                    .ok_or_else(|| format!("bad state key {s:?}"))?;
                StateKey::Calendar(
                    y.parse().map_err(|_| format!("bad year in {s:?}"))?,
                    region.to_string(),
                )
            }
            _ => return Err(format!("bad state key {s:?}")),
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
    /// public_key is the Ed25519 public key (hex).
    pub public_key: String,
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
}

/// RegistrationState is a product's certificate data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationState {
    /// fields are the certificate fields as signed.
    pub fields: ProductRegistration,
    /// index is the registering entry.
    pub index: u64,
    /// leaf_hash is the registering entry's leaf hash (hex).
    pub leaf_hash: String,
    /// blockchain_no is the 区块链编号.
    pub blockchain_no: String,
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
    /// A registration number's product id.
    RegistrationNo(String),
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

/// Flag is a finding recorded rather than refused: a missed deadline or a
/// retention date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    /// code names the check, e.g. "filing-late".
    pub code: String,
    /// subject is the id concerned.
    pub subject: String,
    /// due is the deadline.
    pub due: Date,
    /// done is when it happened.
    pub done: Date,
    /// working_days_late counts working days past `due` (0 for natural-day checks).
    pub working_days_late: u32,
    /// provisional: the deadline crossed a year without an official notice.
    pub provisional: bool,
    /// citation is the seed article.
    pub citation: String,
}

/// Effects is what an accepted entry changes and reports.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Effects {
    /// writes are the state objects to store (later writes win).
    pub writes: Vec<(StateKey, StateObject)>,
    /// flags are deadline findings.
    pub flags: Vec<Flag>,
    /// subjects are the ids this entry concerns (for indexes).
    pub subjects: Vec<String>,
    /// kind is the entry's kind.
    pub kind: Option<EntryKind>,
    /// signer is the submitting participant.
    pub signer: String,
}

/// EntryContext is what the sequencer knows about an entry besides its envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryContext {
    /// index is the entry's index.
    pub index: u64,
    /// integrated_time_ms is its integrated time.
    pub integrated_time_ms: u64,
    /// leaf_hash is its leaf hash.
    pub leaf_hash: Hash,
    /// log_id is the log's origin.
    pub log_id: String,
}

/// RuleViolation is a rule an entry breaks; each has a stable code (the
/// RFC 9457 problem type suffix) and, where a seed demands it, a citation.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RuleViolation {
    /// MalformedEnvelope: the envelope breaks its layout or limits.
    #[error("malformed envelope: {0}")]
    MalformedEnvelope(String),
    /// UnknownKind: the payload type names no entry kind.
    #[error("unknown entry kind {0:?}")]
    UnknownKind(String),
    /// MalformedPayload: the payload is not valid for its kind.
    #[error("malformed payload: {0}")]
    MalformedPayload(String),
    /// GenesisPosition: genesis must be entry 0 and only entry 0.
    #[error("genesis must be the first entry and only the first")]
    GenesisPosition,
    /// UnknownSigner: no registered, unretired key has that id.
    #[error("unknown or retired signing key {0:?}")]
    UnknownSigner(String),
    /// SignerRevoked: the signer's registration was revoked.
    #[error("participant {0:?} is revoked")]
    SignerRevoked(String),
    /// BadSignature: the signature does not verify.
    #[error("signature does not verify: {0}")]
    BadSignature(String),
    /// RoleNotAllowed: the signer's role may not submit this kind.
    #[error("role {role} may not submit {kind}")]
    RoleNotAllowed {
        /// role is the signer's role.
        role: String,
        /// kind is the entry kind.
        kind: String,
    },
    /// Duplicate: the id is already registered.
    #[error("{what} {id:?} already exists")]
    Duplicate {
        /// what kind of subject.
        what: &'static str,
        /// id is the subject id.
        id: String,
    },
    /// DuplicateRegistrationNo: the 登记号 is taken.
    #[error("registration number {0:?} is already used")]
    DuplicateRegistrationNo(String),
    /// NotFound: the subject does not exist.
    #[error("{what} {id:?} is not registered")]
    NotFound {
        /// what kind of subject.
        what: &'static str,
        /// id is the subject id.
        id: String,
    },
    /// InvalidTransition: the subject's status does not allow the act.
    #[error("{what} {id:?} is {from}: cannot {action}")]
    InvalidTransition {
        /// what kind of subject.
        what: &'static str,
        /// id is the subject id.
        id: String,
        /// from is the current status.
        from: String,
        /// action is what was attempted.
        action: &'static str,
    },
    /// AuthorizationNotActive: 无授权不运营.
    #[error("authorization {agreement:?} is not in force: {why}")]
    AuthorizationNotActive {
        /// agreement is the agreement id.
        agreement: String,
        /// why explains it.
        why: String,
    },
    /// TermTooLong: the term exceeds the profile's limit.
    #[error("term of {months} months exceeds the {max}-month limit ({citation})")]
    TermTooLong {
        /// months is the requested term, rounded up.
        months: u32,
        /// max is the limit.
        max: u32,
        /// citation is the seed article.
        citation: &'static str,
    },
    /// InvalidDates: dates out of order or out of range.
    #[error("invalid dates: {0}")]
    InvalidDates(String),
    /// NoticePeriodOpen: the public notice has not run its course.
    #[error("public notice for {product:?} runs until {until}: registration must wait")]
    NoticePeriodOpen {
        /// product is the product id.
        product: String,
        /// until is the last day of the notice.
        until: Date,
    },
    /// NoticeMissing: non-public data was used and no notice was opened.
    #[error("product {0:?} used non-public data and needs a public notice before registration")]
    NoticeMissing(String),
    /// ObjectionPending: an objection is unresolved.
    #[error("product {0:?} has an unresolved objection")]
    ObjectionPending(String),
    /// WrongParty: the signer or a named participant is not the right party
    /// (a generic refusal; party checks that have an article use
    /// [`RuleViolation::NotEntitled`]).
    #[error("wrong party: {0}")]
    WrongParty(String),
    /// NotEntitled: the signer may submit this kind, but not against this
    /// object: it is neither its owner nor a party the seeds entitle.
    #[error("wrong party: {why}")]
    NotEntitled {
        /// why names the signer, the object and who may act on it.
        why: String,
        /// citation is the article that assigns the duty.
        citation: &'static str,
    },
    /// DateOutOfBounds: a payload date lies outside the window its kind
    /// allows around the entry's integrated date (D13).
    #[error("{what} {date} is outside {earliest}..={latest}: {why}")]
    DateOutOfBounds {
        /// what names the payload field.
        what: &'static str,
        /// date is the date given.
        date: Date,
        /// earliest is the first date allowed.
        earliest: Date,
        /// latest is the last date allowed.
        latest: Date,
        /// why explains the window.
        why: &'static str,
        /// citation is the article the window derives from.
        citation: &'static str,
    },
    /// MissingStep: the act needs an earlier step that is not in the log.
    #[error("{what} {id:?} {missing}: submit {step} first")]
    MissingStep {
        /// what kind of subject.
        what: &'static str,
        /// id is the subject id.
        id: String,
        /// missing says what has not happened, e.g. "has not been approved".
        missing: &'static str,
        /// step is the entry kind to submit first.
        step: &'static str,
        /// citation is the article that orders the steps.
        citation: &'static str,
    },
    /// BadIdentifier: an identifier breaks its grammar (schemas/FORMATS.md).
    #[error("{what} {id:?} is not a valid identifier: {rule}")]
    BadIdentifier {
        /// what names the field.
        what: &'static str,
        /// id is the value given.
        id: String,
        /// rule is the grammar it breaks.
        rule: &'static str,
        /// citation is the article behind the identifier, where there is one.
        citation: Option<&'static str>,
    },
    /// UnknownProfile: genesis names no known profile or hash.
    #[error("unknown profile or hash suite: {0}")]
    UnknownProfile(String),
}

impl RuleViolation {
    /// code returns the stable kebab-case id of the rule.
    pub fn code(&self) -> &'static str {
        match self {
            RuleViolation::MalformedEnvelope(_) => "malformed-envelope",
            RuleViolation::UnknownKind(_) => "unknown-kind",
            RuleViolation::MalformedPayload(_) => "malformed-payload",
            RuleViolation::GenesisPosition => "genesis-position",
            RuleViolation::UnknownSigner(_) => "unknown-signer",
            RuleViolation::SignerRevoked(_) => "signer-revoked",
            RuleViolation::BadSignature(_) => "bad-signature",
            RuleViolation::RoleNotAllowed { .. } => "role-not-allowed",
            RuleViolation::Duplicate { .. } => "duplicate-id",
            RuleViolation::DuplicateRegistrationNo(_) => "duplicate-registration-no",
            RuleViolation::NotFound { .. } => "not-found",
            RuleViolation::InvalidTransition { .. } => "invalid-transition",
            RuleViolation::AuthorizationNotActive { .. } => "authorization-not-active",
            RuleViolation::TermTooLong { .. } => "term-too-long",
            RuleViolation::InvalidDates(_) => "invalid-dates",
            RuleViolation::NoticePeriodOpen { .. } => "notice-period-open",
            RuleViolation::NoticeMissing(_) => "notice-missing",
            RuleViolation::ObjectionPending(_) => "objection-pending",
            RuleViolation::WrongParty(_) | RuleViolation::NotEntitled { .. } => "wrong-party",
            RuleViolation::DateOutOfBounds { .. } => "invalid-dates",
            RuleViolation::MissingStep { .. } => "not-found",
            RuleViolation::BadIdentifier { .. } => "malformed-payload",
            RuleViolation::UnknownProfile(_) => "unknown-profile",
        }
    }

    /// citation returns the article behind the rule, where there is one,
    /// cited by title and article from the one table of regulations
    /// ([`regulations`]).
    pub fn citation(&self) -> Option<&'static str> {
        use regulations::cite;
        Some(match self {
            RuleViolation::RoleNotAllowed { .. }
            | RuleViolation::UnknownSigner(_)
            | RuleViolation::SignerRevoked(_)
            | RuleViolation::WrongParty(_) => concat!(
                cite!(xian, "第七条（可管、可控、可追溯）"),
                "；",
                cite!(guangxi, "第五条")
            ),
            RuleViolation::AuthorizationNotActive { .. } => concat!(
                cite!(guangxi, "第二条（坚持无授权不运营）"),
                "；",
                cite!(chengdu, "第三十四条")
            ),
            RuleViolation::TermTooLong { citation, .. }
            | RuleViolation::NotEntitled { citation, .. }
            | RuleViolation::DateOutOfBounds { citation, .. }
            | RuleViolation::MissingStep { citation, .. } => citation,
            RuleViolation::BadIdentifier { citation, .. } => return *citation,
            RuleViolation::NoticePeriodOpen { .. } | RuleViolation::NoticeMissing(_) => {
                regulations::PUBLIC_NOTICE
            }
            RuleViolation::ObjectionPending(_) => cite!(guangxi, "第十二条第（七）项、第（八）项"),
            RuleViolation::InvalidTransition { .. } => concat!(
                cite!(xian, "第三十二条"),
                "；",
                cite!(guangxi, "第十二条第（八）项")
            ),
            RuleViolation::DuplicateRegistrationNo(_) => cite!(guangxi, "第十二条第（七）项"),
            _ => return None,
        })
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

/// Overlay reads writes of earlier entries in a batch before the base state.
pub struct Overlay<'a, R: StateReader + ?Sized> {
    /// base is the committed state.
    pub base: &'a R,
    /// writes are the batch's writes so far.
    pub writes: BTreeMap<StateKey, StateObject>,
}

impl<'a, R: StateReader + ?Sized> Overlay<'a, R> {
    /// new starts an empty overlay over `base`.
    pub fn new(base: &'a R) -> Self {
        Overlay {
            base,
            writes: BTreeMap::new(),
        }
    }

    /// apply_effects records an entry's writes.
    pub fn apply_effects(&mut self, e: &Effects) {
        for (k, v) in &e.writes {
            self.writes.insert(k.clone(), v.clone());
        }
    }
}

impl<R: StateReader + ?Sized> StateReader for Overlay<'_, R> {
    fn get(&self, key: &StateKey) -> Option<StateObject> {
        self.writes.get(key).cloned().or_else(|| self.base.get(key))
    }
}

/// product_by_registration_no resolves a 登记号 to its product.
pub fn product_by_registration_no(
    s: &(impl StateReader + ?Sized),
    no: &str,
) -> Option<ProductState> {
    let Some(StateObject::RegistrationNo(pid)) = s.get(&StateKey::RegistrationNo(no.to_string()))
    else {
        return None;
    };
    match s.get(&StateKey::Product(pid)) {
        Some(StateObject::Product(p)) => Some(p),
        _ => None,
    }
}

macro_rules! serde_as_string {
    ($t:ty, $to:expr, $from:expr) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                #[allow(clippy::redundant_closure_call)]
                s.serialize_str(&($to)(self))
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let s = String::deserialize(d)?;
                #[allow(clippy::redundant_closure_call)]
                ($from)(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_string!(StateKey, |k: &StateKey| k.to_string(), |s: &str| {
    StateKey::from_str(s)
});
serde_as_string!(
    EntryKind,
    |k: &EntryKind| k.name().to_string(),
    |s: &str| EntryKind::from_name(s).ok_or_else(|| format!("unknown entry kind {s:?}"))
);
