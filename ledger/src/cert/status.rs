//! Status proofs (`regledger-status-proof/v2` and `/v1`, schemas/FORMATS.md
//! "Status proof"): as of a cosigned checkpoint of size N, the registry object
//! `kind`/`id` has this state, or no such object exists. What the node and
//! the mirror serve at `GET /v1/status/{kind}/{id}`, what a certificate
//! bundle v2 embeds for its 登记号, and what `regledger-verify status`
//! checks offline.
//!
//! The proof is the checkpoint, the state root after its N entries, and the
//! state map proof of the object's key against that root, with the
//! object's record when it exists (D15). A v2 proof takes the root from
//! the checkpoint's state line ([`crate::entry::state_line`], D26), which
//! the log key signs; a v1 proof carries leaf N−1 (a v2 leaf, whose state
//! root is the state after all N entries) with its inclusion proof, for a
//! checkpoint without a state line. The verifier builds the key from
//! `kind` and `id` itself (never takes one from the document), parses the
//! record strictly, and derives the state it shows; the document's own
//! `state` must equal it, so an edited status is refused, not believed.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::bundle::EntryProof;
use crate::descriptor::{verify_checkpoint, LogDescriptor};
use crate::entry::leaf::Leaf;
use crate::entry::state_line::StateLine;
use crate::registry::calendar::Date;
use crate::registry::commit::{parse_record, MapKey, Record, StateRecord};
use crate::registry::ident::{check_id, check_number, check_registration_no};
use crate::registry::{StateKey, StateObject, Status};
use crate::statemap::{verify_absence, verify_presence, MapProof};
use crate::tlog::checkpoint::{Checkpoint, VerifiedCheckpoint};
use crate::tlog::cosignature::cosignature_timestamp;
use crate::tlog::hash::Hash;
use crate::tlog::note::Note;
use crate::tlog::proof::verify_inclusion;

/// STATUS_FORMAT names the status proof format a prover makes for a
/// checkpoint with a state line: the root from the line, no state entry.
pub const STATUS_FORMAT: &str = "regledger-status-proof/v2";

/// STATUS_FORMAT_V1 names the format for a checkpoint without a state line
/// (signed before D26): the root from leaf N−1, carried with its inclusion
/// proof.
pub const STATUS_FORMAT_V1: &str = "regledger-status-proof/v1";

/// StatusKind is what a status proof is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    /// Product: a certified product, by 登记号 (the `regno/` record).
    Product,
    /// Participant: by participant id.
    Participant,
    /// Resource: a public data resource, by id.
    Resource,
    /// Agreement: a filing (plan, agreement, authorization), by id.
    Agreement,
    /// Credential: a catalog credential, by 授权编号.
    Credential,
}

impl StatusKind {
    /// ALL lists every kind, in the order of the contract.
    pub const ALL: [StatusKind; 5] = [
        StatusKind::Product,
        StatusKind::Participant,
        StatusKind::Resource,
        StatusKind::Agreement,
        StatusKind::Credential,
    ];

    /// name returns the kind's name in URLs and documents.
    pub fn name(self) -> &'static str {
        match self {
            StatusKind::Product => "product",
            StatusKind::Participant => "participant",
            StatusKind::Resource => "resource",
            StatusKind::Agreement => "agreement",
            StatusKind::Credential => "credential",
        }
    }

    /// from_name parses a kind's name.
    pub fn from_name(s: &str) -> Option<StatusKind> {
        StatusKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// key returns the state key of `id`, after checking `id` against the
    /// identifier grammar of the kind (schemas/FORMATS.md "Identifiers").
    ///
    /// # Errors
    ///
    /// Why `id` is no identifier of this kind.
    pub fn key(self, id: &str) -> Result<StateKey, String> {
        let checked = match self {
            StatusKind::Product => check_registration_no(id),
            StatusKind::Credential => check_number("credential_no", id, ""),
            _ => check_id("id", id),
        };
        checked.map_err(|e| e.to_string())?;
        Ok(match self {
            StatusKind::Product => StateKey::RegistrationNo(id.into()),
            StatusKind::Participant => StateKey::Participant(id.into()),
            StatusKind::Resource => StateKey::Resource(id.into()),
            StatusKind::Agreement => StateKey::Agreement(id.into()),
            StatusKind::Credential => StateKey::Credential(id.into()),
        })
    }
}

/// State is the state a status proof shows: what a venue acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// status is the state's name: `active`, `suspended`, `revoked`,
    /// `deregistered`, `terminated`, `expired`, `not-yet-valid` or `absent`.
    pub status: String,
    /// status_zh is its Chinese label (有效, 暂停, 已撤销登记, …, 不存在).
    pub status_zh: String,
    /// set_by is the entry that last wrote the object (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_by: Option<u64>,
    /// status_index is the entry that set a product's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_index: Option<u64>,
    /// product_id is the product a 登记号 names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
}

impl State {
    /// absent is the state of an object that does not exist.
    pub fn absent() -> State {
        State {
            status: "absent".into(),
            status_zh: "不存在".into(),
            set_by: None,
            status_index: None,
            product_id: None,
        }
    }

    /// is_active says whether the state is 有效.
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

fn named(status: &str, zh: &str, set_by: u64) -> State {
    State {
        status: status.into(),
        status_zh: zh.into(),
        set_by: Some(set_by),
        status_index: None,
        product_id: None,
    }
}

fn of_status(s: Status, set_by: u64) -> State {
    named(s.name(), s.label_zh(), set_by)
}

/// derive_state returns the state `record` shows for an object of `kind`
/// on `as_of` (the China date of the state entry's integrated time: an
/// agreement past its term, or a credential outside its validity, is not
/// 有效 then).
///
/// # Errors
///
/// The record's object is not of the kind, or names another object than `id`.
pub fn derive_state(
    kind: StatusKind,
    id: &str,
    record: &StateRecord,
    as_of: Date,
) -> Result<State, String> {
    let set_by = record.set_by;
    let other = |what: &str| {
        Err(format!(
            "the record is of {what}, not the {} {id}",
            kind.name()
        ))
    };
    Ok(match (&record.object, kind) {
        (StateObject::RegistrationNo(r), StatusKind::Product) => State {
            status_index: Some(r.status_index),
            product_id: Some(r.product_id.clone()),
            ..of_status(r.status, set_by)
        },
        (StateObject::Participant(p), StatusKind::Participant) => {
            if p.id != id {
                return other(&format!("participant {}", p.id));
            }
            if p.revoked_index.is_some() {
                named("revoked", "已撤销", set_by)
            } else {
                of_status(Status::Active, set_by)
            }
        }
        (StateObject::Resource(r), StatusKind::Resource) => {
            if r.fields.id != id {
                return other(&format!("resource {}", r.fields.id));
            }
            of_status(r.status, set_by)
        }
        (StateObject::Agreement(a), StatusKind::Agreement) => {
            if a.fields.id != id {
                return other(&format!("agreement {}", a.fields.id));
            }
            if a.status == Status::Active && as_of > a.fields.term_end {
                named("expired", "已到期", set_by)
            } else {
                of_status(a.status, set_by)
            }
        }
        (StateObject::Credential(c), StatusKind::Credential) => {
            if c.credential_no != id {
                return other(&format!("credential {}", c.credential_no));
            }
            if as_of < c.valid_from {
                named("not-yet-valid", "未生效", set_by)
            } else if as_of > c.valid_until {
                named("expired", "已到期", set_by)
            } else {
                of_status(Status::Active, set_by)
            }
        }
        (o, _) => return other(crate::registry::commit::object_kind(o)),
    })
}

/// StatusProof is the self-contained status document (module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusProof {
    /// format is [`STATUS_FORMAT`] or [`STATUS_FORMAT_V1`].
    pub format: String,
    /// origin is the log's origin.
    pub origin: String,
    /// kind is the [`StatusKind`] name.
    pub kind: String,
    /// id is the object's id (the 登记号 for a product).
    pub id: String,
    /// checkpoint is the signed, cosigned checkpoint of size N.
    pub checkpoint: String,
    /// state_entry is leaf N−1 (v2) with its inclusion proof at N: in a
    /// v1 proof only (a v2 proof takes the root from the checkpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_entry: Option<EntryProof>,
    /// map_proof is the base64 state map proof of the object's key.
    pub map_proof: String,
    /// record is the base64 record, when the object exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// state is the state the record shows (must equal what the verifier derives).
    pub state: State,
}

/// VerifiedStatus is what a verified status proof establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedStatus {
    /// kind is what the proof is about.
    pub kind: StatusKind,
    /// id is the object's id.
    pub id: String,
    /// state is the proven state as of the checkpoint.
    pub state: State,
    /// record is the object's record (None: absent).
    pub record: Option<StateRecord>,
    /// checkpoint is the verified checkpoint.
    pub checkpoint: Checkpoint,
    /// witnesses are the names of the witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
    /// witness_times are those cosignatures' timestamps (Unix seconds), in
    /// the order of `witnesses`.
    pub witness_times: Vec<u64>,
    /// state_time_ms is the integrated time of the state entry (leaf N−1),
    /// from the checkpoint's state line or the leaf itself: the checkpoint
    /// was signed after it.
    pub state_time_ms: u64,
}

impl VerifiedStatus {
    /// fresh_as_of returns the time (Unix seconds) the checkpoint is known
    /// to be current at: with witnesses (`quorum` ≥ 1), the `quorum`-th
    /// newest cosignature timestamp (so that a quorum vouched for it at or
    /// after that time); without, the state entry's integrated time (the
    /// checkpoint cannot be older than the entries it covers).
    pub fn fresh_as_of(&self, quorum: usize) -> u64 {
        fresh_as_of(&self.witness_times, quorum, self.state_time_ms)
    }
}

/// fresh_as_of: see [`VerifiedStatus::fresh_as_of`].
pub fn fresh_as_of(witness_times: &[u64], quorum: usize, state_time_ms: u64) -> u64 {
    if quorum == 0 || witness_times.len() < quorum {
        return state_time_ms / 1000;
    }
    let mut t = witness_times.to_vec();
    t.sort_unstable_by(|a, b| b.cmp(a));
    t[quorum - 1]
}

/// StatusError names the part of a status proof that failed and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("{part}: {reason}")]
pub struct StatusError {
    /// part is the document member, e.g. "map_proof" or "state.status".
    pub part: String,
    /// reason explains the failure.
    pub reason: String,
}

fn fail(part: &str, reason: impl Into<String>) -> StatusError {
    StatusError {
        part: part.into(),
        reason: reason.into(),
    }
}

/// witness_times returns the cosignature timestamps of the verified
/// witnesses of `v`, in the order of its witnesses.
pub fn witness_times(v: &VerifiedCheckpoint) -> Vec<u64> {
    v.witnesses
        .iter()
        .filter_map(|w| {
            v.opened
                .verified
                .iter()
                .find(|s| s.name == w.name() && s.key_id == w.key_id())
                .and_then(cosignature_timestamp)
        })
        .collect()
}

/// open_state_entry checks that `e` is leaf `size`−1 of the tree `cp`, a
/// v2 leaf included at `size` (and, if `cp` has a state line, the one it
/// names), and returns its state root and time.
///
/// # Errors
///
/// A [`StatusError`] under `part`.
pub fn open_state_entry(
    part: &str,
    e: &EntryProof,
    d: &LogDescriptor,
    cp: &Checkpoint,
) -> Result<(Hash, u64), StatusError> {
    if cp.size == 0 || e.index != cp.size - 1 {
        return Err(fail(
            &format!("{part}.index"),
            format!(
                "must be the last entry of the checkpoint, {}",
                cp.size.saturating_sub(1)
            ),
        ));
    }
    let bytes = B64
        .decode(&e.leaf)
        .map_err(|_| fail(&format!("{part}.leaf"), "not base64"))?;
    let leaf = Leaf::parse(&bytes).map_err(|x| fail(&format!("{part}.leaf"), x.to_string()))?;
    if leaf.index != e.index {
        return Err(fail(&format!("{part}.leaf"), "says another index"));
    }
    let root = leaf.state_root().ok_or_else(|| {
        fail(
            &format!("{part}.leaf"),
            "a v1 leaf commits to no state (the log has logged no entry since its upgrade)",
        )
    })?;
    if e.envelope.is_some() {
        return Err(fail(
            &format!("{part}.envelope"),
            "not part of a state entry",
        ));
    }
    let proof = e
        .inclusion_proof
        .iter()
        .map(|h| B64.decode(h).ok().and_then(|b| Hash::from_slice(&b)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| fail(&format!("{part}.inclusion_proof"), "not base64 hashes"))?;
    verify_inclusion(
        d.suite,
        cp.size,
        e.index,
        &d.suite.leaf_hash(&bytes),
        &proof,
        &cp.root,
    )
    .map_err(|x| fail(&format!("{part}.inclusion_proof"), x.to_string()))?;
    // A checkpoint that also signs a state line must say what the leaf says.
    if let Some(l) = StateLine::of_checkpoint(cp).map_err(|e| fail("checkpoint", e.to_string()))? {
        l.check_leaf(&leaf).map_err(|e| fail("checkpoint", e))?;
    }
    Ok((root, leaf.integrated_time_ms))
}

/// state_at returns the state root and time a status proof is against: a
/// v2 proof's from its checkpoint's state line (and it has no state
/// entry), a v1 proof's from its state entry.
///
/// # Errors
///
/// A [`StatusError`] under `checkpoint` or `state_entry`.
fn state_at(
    v2: bool,
    entry: Option<&EntryProof>,
    d: &LogDescriptor,
    cp: &Checkpoint,
) -> Result<(Hash, u64), StatusError> {
    if !v2 {
        let e = entry
            .ok_or_else(|| fail("state_entry", "a v1 status proof carries its state entry"))?;
        return open_state_entry("state_entry", e, d, cp);
    }
    if entry.is_some() {
        return Err(fail(
            "state_entry",
            "not part of a v2 status proof (its state root is the checkpoint's)",
        ));
    }
    match StateLine::of_checkpoint(cp) {
        Ok(Some(l)) => Ok((l.root, l.time_ms)),
        Ok(None) => Err(fail(
            "checkpoint",
            "has no state line (regledger-state): a v2 status proof needs one",
        )),
        Err(e) => Err(fail("checkpoint", e.to_string())),
    }
}

/// verify_status checks a status document against `log.json` (module
/// docs): the checkpoint and its witness quorum, the state entry, the map
/// proof of the key built from `kind` and `id`, the record, and that the
/// document's `state` is the one the record shows.
///
/// # Errors
///
/// A [`StatusError`] naming the first member that fails.
pub fn verify_status(p: &StatusProof, d: &LogDescriptor) -> Result<VerifiedStatus, StatusError> {
    let v2 = match p.format.as_str() {
        STATUS_FORMAT => true,
        STATUS_FORMAT_V1 => false,
        f => return Err(fail("format", format!("unknown format {f:?}"))),
    };
    if p.origin != d.origin {
        return Err(fail("origin", "not the log of this descriptor"));
    }
    let kind = StatusKind::from_name(&p.kind)
        .ok_or_else(|| fail("kind", format!("unknown kind {:?}", p.kind)))?;
    let key = kind.key(&p.id).map_err(|e| fail("id", e))?;
    let vc = verify_checkpoint(p.checkpoint.as_bytes(), d)
        .map_err(|e| fail("checkpoint", e.to_string()))?;
    let cp = vc.checkpoint.clone();
    let (root, state_time_ms) = state_at(v2, p.state_entry.as_ref(), d, &cp)?;
    let proof_bytes = B64
        .decode(&p.map_proof)
        .map_err(|_| fail("map_proof", "not base64"))?;
    let proof = MapProof::parse(&proof_bytes).map_err(|e| fail("map_proof", e.to_string()))?;
    let key_bytes = MapKey::State(key.clone()).bytes();
    let as_of = Date::from_unix_ms(state_time_ms)
        .ok_or_else(|| fail("checkpoint", "the state's integrated time is out of range"))?;
    let (state, record) = match &p.record {
        None => {
            verify_absence(d.suite, &root, &key_bytes, &proof)
                .map_err(|e| fail("map_proof", e.to_string()))?;
            (State::absent(), None)
        }
        Some(r) => {
            let bytes = B64.decode(r).map_err(|_| fail("record", "not base64"))?;
            verify_presence(d.suite, &root, &key_bytes, &bytes, &proof)
                .map_err(|e| fail("map_proof", e.to_string()))?;
            let Record::State(rec) = parse_record(&MapKey::State(key), &bytes)
                .map_err(|e| fail("record", e.to_string()))?
            else {
                return Err(fail("record", "not a registry object"));
            };
            let state = derive_state(kind, &p.id, &rec, as_of).map_err(|e| fail("record", e))?;
            (state, Some(*rec))
        }
    };
    if p.state != state {
        return Err(fail(
            "state",
            format!(
                "the document says {} ({}), the proven record shows {} ({})",
                p.state.status_zh, p.state.status, state.status_zh, state.status
            ),
        ));
    }
    Ok(VerifiedStatus {
        kind,
        id: p.id.clone(),
        state,
        record,
        witness_times: witness_times(&vc),
        witnesses: vc.witnesses.iter().map(|w| w.name().to_string()).collect(),
        checkpoint: cp,
        state_time_ms,
    })
}

/// BuildError says why a status document could not be built from the
/// prover's data (a prover's bug or a damaged store, never a user error).
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("status proof: {0}")]
pub struct BuildError(pub String);

/// build_status assembles the status document of `kind`/`id` from what a
/// prover holds at checkpoint size N: the checkpoint, the map proof of the
/// object's key at N and its record, and, for a checkpoint without a state
/// line, leaf N−1 with its inclusion proof (`state_entry`; a v1 proof). A
/// checkpoint with a state line gives a v2 proof (`state_entry` is then
/// only compared with the line, and left out). It checks the map proof
/// against the state root before returning, so a node never serves a proof
/// that does not verify.
///
/// # Errors
///
/// A [`BuildError`].
#[allow(clippy::too_many_arguments)]
pub fn build_status(
    suite: crate::HashSuite,
    origin: &str,
    kind: StatusKind,
    id: &str,
    checkpoint: &str,
    state_entry: Option<EntryProof>,
    proof: &MapProof,
    record: Option<&[u8]>,
) -> Result<StatusProof, BuildError> {
    let b = |e: String| BuildError(e);
    let key = kind.key(id).map_err(b)?;
    let cp = Note::parse(checkpoint.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|n| Checkpoint::parse(&n.text).map_err(|e| e.to_string()))
        .map_err(b)?;
    let line = StateLine::of_checkpoint(&cp).map_err(|e| b(e.to_string()))?;
    let entry_line =
        match &state_entry {
            Some(e) => {
                let leaf_bytes = B64.decode(&e.leaf).map_err(|e| b(e.to_string()))?;
                let leaf = Leaf::parse(&leaf_bytes).map_err(|e| b(e.to_string()))?;
                Some(StateLine::of_leaf(&leaf).ok_or_else(|| {
                    b("the last entry is a v1 leaf: no committed state yet".into())
                })?)
            }
            None => None,
        };
    let (at, v2) = match (line, entry_line) {
        (Some(l), Some(e)) if l != e => {
            return Err(b(format!(
                "the checkpoint's state line disagrees with leaf {}",
                cp.size.saturating_sub(1)
            )))
        }
        (Some(l), _) => (l, true),
        (None, Some(e)) => (e, false),
        (None, None) => {
            return Err(b(
                "the checkpoint has no state line and no state entry was given".into(),
            ))
        }
    };
    let root = at.root;
    let key_bytes = MapKey::State(key.clone()).bytes();
    let as_of =
        Date::from_unix_ms(at.time_ms).ok_or_else(|| b("integrated time out of range".into()))?;
    let state = match record {
        None => {
            verify_absence(suite, &root, &key_bytes, proof).map_err(|e| b(e.to_string()))?;
            State::absent()
        }
        Some(r) => {
            verify_presence(suite, &root, &key_bytes, r, proof).map_err(|e| b(e.to_string()))?;
            let Record::State(rec) =
                parse_record(&MapKey::State(key), r).map_err(|e| b(e.to_string()))?
            else {
                return Err(b("not a registry object".into()));
            };
            derive_state(kind, id, &rec, as_of).map_err(b)?
        }
    };
    Ok(StatusProof {
        format: if v2 { STATUS_FORMAT } else { STATUS_FORMAT_V1 }.into(),
        origin: origin.into(),
        kind: kind.name().into(),
        id: id.into(),
        checkpoint: checkpoint.into(),
        state_entry: if v2 { None } else { state_entry },
        map_proof: B64.encode(proof.to_bytes()),
        record: record.map(|r| B64.encode(r)),
        state,
    })
}
