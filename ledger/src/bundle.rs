//! Certificate bundles: a 数据产品登记证书 with everything needed to check
//! it offline — the registering entry, its inclusion proof, the entry
//! before it (hash chain), the signer history (every entry that registered,
//! rotated or revoked a key or participant the bundle's signatures rely on,
//! back to genesis), the entry that set the status, and the signed checkpoint.
//!
//! What a bundle proves: the certificate fields are exactly the signed
//! payload of an entry that is in the log at the checkpoint; the signer
//! history, replayed from the genesis authority's key through the registry
//! rules, makes the registration's signer a participant whose role may
//! register products, with a key valid at the registration's index; and
//! the status entry, if any, is in the log, is signed by a key valid at its
//! index, and sets that status as of its index.
//!
//! What it cannot prove (format v1): that no later entry (up to the
//! checkpoint) changed the status, nor that no entry the bundle omits
//! retired the signing key or revoked the signer. Absence needs the whole
//! log (`regledger-verify audit`) or, later, a proof against committed
//! state. [`VerifiedCertificate::status_proven_current`] says so.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::blockchain_no::BlockchainNo;
use crate::checkpoint::{check_origin, verify_checkpoint, Checkpoint};
use crate::descriptor::LogDescriptor;
use crate::envelope::Envelope;
use crate::hash::Hash;
use crate::leaf::Leaf;
use crate::registry::{
    apply, EntryContext, EntryKind, MemoryState, ParticipantState, ProductRegistration, StateKey,
    StateObject, StateReader, StatusChange,
};
use crate::tree::verify_inclusion;

/// BUNDLE_FORMAT names the bundle format version.
pub const BUNDLE_FORMAT: &str = "regledger-certificate-bundle/v1";

/// MAX_SIGNER_ENTRIES bounds the signer history a bundle carries (genesis,
/// the registrations, key rotations and revocations of every participant
/// whose signature the bundle relies on).
pub const MAX_SIGNER_ENTRIES: usize = 64;

/// EntryProof is one entry with its inclusion proof at the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryProof {
    /// index is the entry's index.
    pub index: u64,
    /// leaf is the leaf bytes, base64.
    pub leaf: String,
    /// inclusion_proof are base64 hashes, bottom-up.
    pub inclusion_proof: Vec<String>,
}

/// StatusInfo is the product's status and the entry that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusInfo {
    /// state is active, suspended, revoked or deregistered.
    pub state: String,
    /// set_by_index is the entry that set it.
    pub set_by_index: u64,
    /// entry is that entry with its proof (absent when it is the registering entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryProof>,
}

/// CertificateBundle is the JSON a node serves at /v1/certificates/{no}.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateBundle {
    /// format is [`BUNDLE_FORMAT`].
    pub format: String,
    /// origin is the log's origin.
    pub origin: String,
    /// blockchain_no is the 区块链编号.
    pub blockchain_no: String,
    /// certificate are the certificate fields (must equal the signed payload).
    pub certificate: ProductRegistration,
    /// entry is the registering entry.
    pub entry: EntryProof,
    /// previous is the entry before it (hash chain link).
    pub previous: EntryProof,
    /// signer_entries are the signer history in index order: genesis, then
    /// every participant-registered, participant-key-rotated and
    /// participant-revoked entry (up to the checkpoint) of each participant
    /// that signed the registration, the status entry, or one of these.
    pub signer_entries: Vec<EntryProof>,
    /// status is the status the node reports, with the entry that set it
    /// (a v1 bundle cannot prove that it is still current).
    pub status: StatusInfo,
    /// checkpoint is the signed (and cosigned) checkpoint all proofs are for.
    pub checkpoint: String,
}

/// BundleError names the part of a bundle that failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("{part}: {reason}")]
pub struct BundleError {
    /// part is the bundle part, e.g. "entry.inclusion_proof" or "certificate.product_name".
    pub part: String,
    /// reason explains the failure.
    pub reason: String,
}

fn err(part: &str, reason: impl Into<String>) -> BundleError {
    BundleError {
        part: part.into(),
        reason: reason.into(),
    }
}

/// VerifiedCertificate is what a verified bundle establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCertificate {
    /// certificate are the verified fields.
    pub certificate: ProductRegistration,
    /// blockchain_no is the verified 区块链编号.
    pub blockchain_no: String,
    /// index is the registering entry.
    pub index: u64,
    /// signer is the participant that registered it.
    pub signer: String,
    /// signer_chain are the indexes of the signer history replayed, genesis first.
    pub signer_chain: Vec<u64>,
    /// signer_key_retired_index is the included entry that retired the
    /// signing key after the registration, if the bundle includes one.
    pub signer_key_retired_index: Option<u64>,
    /// signer_revoked_index is the included entry that revoked the signer
    /// after the registration, if the bundle includes one.
    pub signer_revoked_index: Option<u64>,
    /// status is the state that entry `status_index` set.
    pub status: String,
    /// status_index is the entry that set it (the registration itself for "active").
    pub status_index: u64,
    /// status_signer is the participant that signed the status entry
    /// (None when the status is the registration's own).
    pub status_signer: Option<String>,
    /// status_proven_current: the bundle proves that no later entry up to
    /// the checkpoint changed the status. Always false for format v1, which
    /// cannot show the absence of later entries.
    pub status_proven_current: bool,
    /// checkpoint is the verified checkpoint.
    pub checkpoint: Checkpoint,
    /// witnesses are the names of the witnesses that cosigned.
    pub witnesses: Vec<String>,
}

fn open_entry(
    part: &str,
    e: &EntryProof,
    d: &LogDescriptor,
    cp: &Checkpoint,
) -> Result<(Leaf, Hash), BundleError> {
    let bytes = B64
        .decode(&e.leaf)
        .map_err(|_| err(&format!("{part}.leaf"), "not base64"))?;
    let leaf = Leaf::parse(&bytes).map_err(|x| err(&format!("{part}.leaf"), x.to_string()))?;
    if leaf.index != e.index {
        return Err(err(
            &format!("{part}.index"),
            format!("leaf says index {}, bundle says {}", leaf.index, e.index),
        ));
    }
    let proof = e
        .inclusion_proof
        .iter()
        .map(|h| B64.decode(h).ok().and_then(|b| Hash::from_slice(&b)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| err(&format!("{part}.inclusion_proof"), "not base64 hashes"))?;
    let lh = d.suite.leaf_hash(&bytes);
    verify_inclusion(d.suite, e.index, cp.size, &lh, &proof, &cp.root)
        .map_err(|x| err(&format!("{part}.inclusion_proof"), x.to_string()))?;
    Ok((leaf, lh))
}

/// verify_bundle checks a certificate bundle against a log descriptor.
pub fn verify_bundle(
    b: &CertificateBundle,
    d: &LogDescriptor,
) -> Result<VerifiedCertificate, BundleError> {
    if b.format != BUNDLE_FORMAT {
        return Err(err("format", format!("unknown format {:?}", b.format)));
    }
    if b.origin != d.origin {
        return Err(err("origin", "not the log of this descriptor"));
    }
    let vc = verify_checkpoint(b.checkpoint.as_bytes(), &d.log_key, &d.witnesses, d.quorum)
        .map_err(|e| err("checkpoint", e.to_string()))?;
    let cp = vc.checkpoint;
    check_origin(&cp, &d.origin).map_err(|e| err("checkpoint", e.to_string()))?;

    // The registering entry and its payload.
    let (leaf, lh) = open_entry("entry", &b.entry, d, &cp)?;
    let env = &leaf.envelope;
    if env.kind_name().ok() != Some(EntryKind::ProductRegistered.name()) {
        return Err(err(
            "entry.payload_type",
            format!("{} is not product-registered", env.payload_type),
        ));
    }
    let signed: ProductRegistration =
        serde_json::from_slice(&env.payload).map_err(|e| err("entry.payload", e.to_string()))?;
    compare_fields(&b.certificate, &signed)?;
    let bno =
        BlockchainNo::parse(&b.blockchain_no).ok_or_else(|| err("blockchain_no", "malformed"))?;
    if !bno.matches(&d.origin, b.entry.index, &lh) {
        return Err(err("blockchain_no", "does not name this entry of this log"));
    }

    // Hash chain: the entry's previous-leaf hash is the leaf hash of index-1.
    if b.entry.index == 0 || b.previous.index != b.entry.index - 1 {
        return Err(err(
            "previous.index",
            "must be the entry before the registering entry",
        ));
    }
    let (_, prev_hash) = open_entry("previous", &b.previous, d, &cp)?;
    if leaf.prev_leaf_hash != prev_hash {
        return Err(err(
            "entry.prev_leaf_hash",
            "does not chain to the previous entry",
        ));
    }

    // The status and the entry that set it (its signatures are checked in
    // the signer history below, at its index).
    let mut status_env: Option<(u64, Envelope, EntryKind)> = None;
    let status = if b.status.set_by_index == b.entry.index {
        if b.status.state != "active" || b.status.entry.is_some() {
            return Err(err("status", "the registering entry sets status active"));
        }
        "active".to_string()
    } else {
        let se = b
            .status
            .entry
            .as_ref()
            .ok_or_else(|| err("status.entry", "missing"))?;
        if se.index != b.status.set_by_index || se.index <= b.entry.index {
            return Err(err(
                "status.entry",
                "index must be set_by_index, after registration",
            ));
        }
        let (sl, _) = open_entry("status.entry", se, d, &cp)?;
        let kind = EntryKind::from_name(sl.envelope.kind_name().unwrap_or(""))
            .ok_or_else(|| err("status.entry", "unknown kind"))?;
        let state = match kind {
            EntryKind::ProductSuspended => "suspended",
            EntryKind::ProductResumed | EntryKind::ProductChanged => "active",
            EntryKind::ProductRegistrationRevoked => "revoked",
            EntryKind::ProductDeregistered => "deregistered",
            _ => {
                return Err(err(
                    "status.entry",
                    format!("{} does not set a product status", kind.name()),
                ))
            }
        };
        let id = if kind == EntryKind::ProductChanged {
            serde_json::from_slice::<serde_json::Value>(&sl.envelope.payload)
                .ok()
                .and_then(|v| v["id"].as_str().map(String::from))
        } else {
            serde_json::from_slice::<StatusChange>(&sl.envelope.payload)
                .ok()
                .map(|s| s.id)
        };
        if id.as_deref() != Some(signed.product_id.as_str()) {
            return Err(err("status.entry", "concerns another product"));
        }
        if b.status.state != state {
            return Err(err(
                "status.state",
                format!("bundle says {}, entry sets {state}", b.status.state),
            ));
        }
        status_env = Some((se.index, sl.envelope, kind));
        state.to_string()
    };

    // The signer history, replayed through the registry rules from the
    // genesis authority's key: each entry must be in the log and verify
    // with the keys valid at its index; the registration and the status
    // entry are checked against the keys valid at theirs.
    let chain = replay_signer_history(b, d, &cp, env, status_env.as_ref())?;
    Ok(VerifiedCertificate {
        certificate: signed,
        blockchain_no: b.blockchain_no.clone(),
        index: b.entry.index,
        signer: chain.signer,
        signer_chain: chain.indexes,
        signer_key_retired_index: chain.key_retired,
        signer_revoked_index: chain.signer_revoked,
        status,
        status_index: b.status.set_by_index,
        status_signer: chain.status_signer,
        status_proven_current: false,
        checkpoint: cp,
        witnesses: vc.witnesses.iter().map(|w| w.name().to_string()).collect(),
    })
}

/// SignerHistory is what replaying a bundle's signer entries established.
struct SignerHistory {
    indexes: Vec<u64>,
    signer: String,
    key_retired: Option<u64>,
    signer_revoked: Option<u64>,
    status_signer: Option<String>,
}

/// replay_signer_history replays `b.signer_entries` in index order into a
/// fresh registry state, with the same rules the node and the audit apply
/// (so a participant-registered entry needs a valid signature by a data
/// authority key registered before it, a rotation by one valid then, and
/// so on back to the key genesis declares and signs with). Between them, at
/// their own indexes, the registration and the status entry must be signed
/// by keys valid at that point. Only these kinds may appear: the history
/// is not a place to smuggle other entries in.
fn replay_signer_history(
    b: &CertificateBundle,
    d: &LogDescriptor,
    cp: &Checkpoint,
    reg: &Envelope,
    status: Option<&(u64, Envelope, EntryKind)>,
) -> Result<SignerHistory, BundleError> {
    if b.signer_entries.is_empty() {
        return Err(err(
            "signer_entries",
            "missing: the signer history starts at genesis",
        ));
    }
    if b.signer_entries.len() > MAX_SIGNER_ENTRIES {
        return Err(err("signer_entries", "too many"));
    }
    // The checks due between history entries, in index order (the status
    // entry is after the registration).
    let mut due = Due {
        items: vec![(b.entry.index, reg, EntryKind::ProductRegistered, "entry")],
        next: 0,
        signers: Vec::new(),
    };
    if let Some((i, e, k)) = status {
        due.items.push((*i, e, *k, "status.entry"));
    }
    let mut state = MemoryState::default();
    let mut indexes = Vec::with_capacity(b.signer_entries.len());
    for (n, se) in b.signer_entries.iter().enumerate() {
        let part = format!("signer_entries[{n}]");
        match indexes.last() {
            None if se.index != 0 => {
                return Err(err(
                    &format!("{part}.index"),
                    "the signer history starts with the genesis entry (entry 0)",
                ))
            }
            Some(&last) if se.index <= last => {
                return Err(err(
                    &format!("{part}.index"),
                    "signer entries must be in index order, each once",
                ))
            }
            _ => {}
        }
        due.run(&state, Some(se.index))?;
        let (leaf, lh) = open_entry(&part, se, d, cp)?;
        let kind = leaf.envelope.kind_name().unwrap_or("?").to_string();
        if !matches!(
            EntryKind::from_name(&kind),
            Some(
                EntryKind::Genesis
                    | EntryKind::ParticipantRegistered
                    | EntryKind::ParticipantKeyRotated
                    | EntryKind::ParticipantRevoked
            )
        ) {
            return Err(err(
                &part,
                format!("entry {} is {kind}, not part of a signer history", se.index),
            ));
        }
        let ctx = EntryContext {
            index: se.index,
            integrated_time_ms: leaf.integrated_time_ms,
            leaf_hash: lh,
            log_id: d.origin.clone(),
        };
        let fx = apply(&state, &ctx, &leaf.envelope).map_err(|v| {
            err(
                &part,
                format!(
                    "entry {} ({kind}) does not verify with the keys valid at its index: {v}",
                    se.index
                ),
            )
        })?;
        state.apply_effects(&fx);
        if let Some(StateObject::Genesis(g)) = (se.index == 0)
            .then(|| state.get(&StateKey::Genesis))
            .flatten()
        {
            if g.hash != d.suite.name() || g.profile != d.profile {
                return Err(err(
                    &part,
                    format!(
                        "genesis fixes hash {} and profile {}, log.json says {} and {}",
                        g.hash,
                        g.profile,
                        d.suite.name(),
                        d.profile
                    ),
                ));
            }
        }
        indexes.push(se.index);
    }
    due.run(&state, None)?;
    let mut signers = due.signers.into_iter();
    let signer = signers
        .next()
        .expect("the registration is checked once the history ends");
    let status_signer = signers.next();
    // What the included later entries say about the signing key and its owner.
    let kid = &reg.signatures[0].key_id;
    let key_retired = match state.get(&StateKey::Key(kid.clone())) {
        Some(StateObject::Key(k)) => k.retired_index,
        _ => None,
    };
    let signer_revoked = match state.get(&StateKey::Participant(signer.clone())) {
        Some(StateObject::Participant(p)) => p.revoked_index,
        _ => None,
    };
    Ok(SignerHistory {
        indexes,
        signer,
        key_retired,
        signer_revoked,
        status_signer,
    })
}

/// Due are the entries checked (not applied) between history entries.
struct Due<'a> {
    /// items are (index, envelope, kind, bundle part), in index order.
    items: Vec<(u64, &'a Envelope, EntryKind, &'static str)>,
    next: usize,
    /// signers are the submitters found, in the order of `items`.
    signers: Vec<String>,
}

impl Due<'_> {
    /// run checks every item before index `before` (all, if None) against `state`.
    fn run(&mut self, state: &MemoryState, before: Option<u64>) -> Result<(), BundleError> {
        while let Some(&(i, e, k, part)) = self
            .items
            .get(self.next)
            .filter(|x| before.is_none_or(|b| x.0 < b))
        {
            self.signers
                .push(check_signatures(part, i, state, e, k)?.id);
            self.next += 1;
        }
        Ok(())
    }
}

/// check_signatures verifies every signature on entry `index` against the
/// signer history replayed up to it, as the registry does: each key once,
/// registered and not retired, of a participant not revoked, and the
/// submitter's (first signer's) role allowed to submit `kind`.
fn check_signatures(
    part: &str,
    index: u64,
    state: &MemoryState,
    env: &Envelope,
    kind: EntryKind,
) -> Result<ParticipantState, BundleError> {
    env.check().map_err(|e| err(part, e.to_string()))?;
    let mut submitter: Option<ParticipantState> = None;
    for (n, s) in env.signatures.iter().enumerate() {
        if env.signatures[..n].iter().any(|o| o.key_id == s.key_id) {
            return Err(err(
                &format!("{part}.signature"),
                format!("key {} signs entry {index} twice", s.key_id),
            ));
        }
        let Some(StateObject::Key(k)) = state.get(&StateKey::Key(s.key_id.clone())) else {
            return Err(err(
                "signer_entries",
                format!(
                    "no signer entry before entry {index} registers its key {}",
                    s.key_id
                ),
            ));
        };
        if let Some(r) = k.retired_index {
            return Err(err(
                "signer_entries",
                format!("key {} of entry {index} was retired by entry {r}", s.key_id),
            ));
        }
        let Some(StateObject::Participant(p)) =
            state.get(&StateKey::Participant(k.participant.clone()))
        else {
            return Err(err(
                "signer_entries",
                format!("no signer entry registers participant {}", k.participant),
            ));
        };
        if let Some(r) = p.revoked_index {
            return Err(err(
                "signer_entries",
                format!("signer {} of entry {index} was revoked by entry {r}", p.id),
            ));
        }
        let pk = Hash::from_hex(&k.public_key)
            .ok_or_else(|| err("signer_entries", format!("key {} is malformed", s.key_id)))?;
        env.verify_signature(&s.key_id, &pk.0)
            .map_err(|e| err(&format!("{part}.signature"), e.to_string()))?;
        submitter.get_or_insert(p);
    }
    let p = submitter.ok_or_else(|| err(&format!("{part}.signature"), "unsigned"))?;
    if !kind.allowed_roles().contains(&p.role) {
        return Err(err(
            "signer_entries",
            format!(
                "{} (role {}) may not submit {} (entry {index})",
                p.id,
                p.role.name(),
                kind.name()
            ),
        ));
    }
    Ok(p)
}

fn compare_fields(
    shown: &ProductRegistration,
    signed: &ProductRegistration,
) -> Result<(), BundleError> {
    let a = serde_json::to_value(shown).expect("serializable");
    let b = serde_json::to_value(signed).expect("serializable");
    for (k, v) in a.as_object().expect("object") {
        if b.get(k) != Some(v) {
            return Err(err(
                &format!("certificate.{k}"),
                "differs from the signed payload",
            ));
        }
    }
    Ok(())
}

/// CERTIFICATE_LABELS are the certificate's fields with their Chinese names
/// (Guangxi Art. 12(7)), in display order.
pub const CERTIFICATE_LABELS: [(&str, &str, &str); 11] = [
    ("certificate_name", "证书名称", "Certificate"),
    ("product_name", "数据产品名称", "Product name"),
    ("registration_no", "登记号", "Registration no."),
    ("product_type", "产品类型", "Product type"),
    ("business_entity_name", "经营主体", "Business entity"),
    ("update_cycle", "数据更新周期", "Update cycle"),
    ("scenarios", "应用场景", "Scenarios"),
    ("blockchain_no", "区块链编号", "Blockchain no."),
    ("registered_on", "登记日期", "Registered on"),
    ("authorization", "授权依据", "Authorization"),
    ("business_entity", "经营主体标识", "Business entity id"),
];

/// assemble builds the bundle of registration number `no` from registry
/// state and a source of entries with proofs at the checkpoint's size.
/// The node serves what this returns; tests use it with an in-memory log.
///
/// The signer history it includes is genesis and, for every participant
/// that signed the registration or the status entry, or signed one of the
/// entries included for such a participant (and so on, back to the genesis
/// authority), its registration and every rotation and revocation below
/// the checkpoint's size. `entry_at` is only asked for entries below that
/// size, besides the registration, the entry before it and the status entry.
pub fn assemble(
    origin: &str,
    state: &(impl StateReader + ?Sized),
    no: &str,
    checkpoint: &str,
    entry_at: impl Fn(u64) -> Result<EntryProof, String>,
) -> Result<CertificateBundle, String> {
    use crate::registry::product_by_registration_no;
    let size = crate::note::Note::parse(checkpoint.as_bytes())
        .map_err(|e| format!("checkpoint: {e}"))
        .and_then(|n| Checkpoint::parse(&n.text).map_err(|e| format!("checkpoint: {e}")))?
        .size;
    let p = product_by_registration_no(state, no)
        .ok_or_else(|| format!("no product with registration number {no:?}"))?;
    let reg = p.registration.ok_or("product is not registered")?;
    let entry = entry_at(reg.index)?;
    let previous = entry_at(
        reg.index
            .checked_sub(1)
            .ok_or("registration cannot be entry 0")?,
    )?;
    let status = if p.status_index == reg.index {
        StatusInfo {
            state: p.status.name().into(),
            set_by_index: reg.index,
            entry: None,
        }
    } else {
        StatusInfo {
            state: p.status.name().into(),
            set_by_index: p.status_index,
            entry: Some(entry_at(p.status_index)?),
        }
    };

    // The signer history: a worklist of entries whose signers must be covered.
    let mut history: std::collections::BTreeMap<u64, EntryProof> = Default::default();
    history.insert(0, entry_at(0)?);
    let mut covered: std::collections::BTreeSet<String> = Default::default();
    let mut todo: Vec<EntryProof> = vec![entry.clone()];
    todo.extend(status.entry.clone());
    while let Some(e) = todo.pop() {
        let leaf = Leaf::parse(&B64.decode(&e.leaf).map_err(|x| x.to_string())?)
            .map_err(|x| x.to_string())?;
        for sig in &leaf.envelope.signatures {
            let Some(StateObject::Key(k)) = state.get(&StateKey::Key(sig.key_id.clone())) else {
                return Err(format!(
                    "signing key {} of entry {} is not in the registry",
                    sig.key_id, e.index
                ));
            };
            if !covered.insert(k.participant.clone()) {
                continue;
            }
            let Some(StateObject::Participant(part)) =
                state.get(&StateKey::Participant(k.participant.clone()))
            else {
                return Err(format!("signer {} is not in the registry", k.participant));
            };
            let mut own = vec![part.registered_index];
            for kid in &part.key_ids {
                if let Some(StateObject::Key(k)) = state.get(&StateKey::Key(kid.clone())) {
                    own.push(k.added_index);
                    own.extend(k.retired_index);
                }
            }
            own.extend(part.revoked_index);
            for i in own {
                // Entries past the checkpoint cannot be proven at it; the
                // registry state may be newer than the checkpoint.
                if i < size && !history.contains_key(&i) {
                    let ep = entry_at(i)?;
                    history.insert(i, ep.clone());
                    todo.push(ep);
                }
            }
        }
        if history.len() > MAX_SIGNER_ENTRIES {
            return Err(format!(
                "the signer history needs more than {MAX_SIGNER_ENTRIES} entries, more than a bundle carries"
            ));
        }
    }
    Ok(CertificateBundle {
        format: BUNDLE_FORMAT.into(),
        origin: origin.into(),
        blockchain_no: reg.blockchain_no,
        certificate: reg.fields,
        entry,
        previous,
        signer_entries: history.into_values().collect(),
        status,
        checkpoint: checkpoint.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::sign_checkpoint;
    use crate::descriptor::LogDescriptorJson;
    use crate::hash::HashSuite;
    use crate::note::{KeyType, Signer};
    use crate::registry::testkit::{chain, replay, Party, Step, Testkit, REGISTRATION_NO};
    use crate::registry::Role;
    use crate::tree::MemoryTree;

    const ORIGIN: &str = "regledger.test/bundle";

    /// TestLog is a log of `steps` (hash-chained, no rules applied) with a
    /// checkpoint over its first `size` leaves, cosigned by one witness.
    struct TestLog {
        leaves: Vec<Vec<u8>>,
        tree: MemoryTree,
        size: u64,
        note: String,
        d: LogDescriptor,
    }

    fn test_log(steps: &[Step], size: Option<u64>) -> TestLog {
        let leaves: Vec<Vec<u8>> = chain(HashSuite::Blake3, steps)
            .iter()
            .map(|l| l.to_bytes())
            .collect();
        let mut t = MemoryTree::new(HashSuite::Blake3);
        for l in &leaves {
            t.append_data(l);
        }
        let size = size.unwrap_or(t.size());
        let log = Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap();
        let w = Signer::generate("witness.test", KeyType::CosignatureV1, [43; 32]).unwrap();
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size,
            root: t.root_at(size).unwrap(),
            extensions: vec![],
        };
        let note = sign_checkpoint(&cp, &log).unwrap();
        let cosig = crate::cosignature::cosign(&w, &cp.to_text(), 1_700_000_000).unwrap();
        let note = crate::cosignature::add_signatures(&note, &[cosig]).unwrap();
        let d = LogDescriptor::from_json(&LogDescriptorJson {
            origin: ORIGIN.into(),
            log_vkey: log.verifier().to_vkey(),
            hash: "blake3".into(),
            witnesses: vec![w.verifier().to_vkey()],
            quorum: 1,
            profile: "guangxi".into(),
        })
        .unwrap();
        TestLog {
            leaves,
            tree: t,
            size,
            note,
            d,
        }
    }

    impl TestLog {
        /// at is entry `i` with its proof at the checkpoint; entries past
        /// it cannot be proven, as on a node.
        fn at(&self, i: u64) -> Result<EntryProof, String> {
            if i >= self.size {
                return Err(format!("entry {i} is past the checkpoint"));
            }
            Ok(EntryProof {
                index: i,
                leaf: B64.encode(&self.leaves[i as usize]),
                inclusion_proof: self
                    .tree
                    .prove_inclusion(self.size, i)
                    .unwrap()
                    .iter()
                    .map(|h| B64.encode(h.0))
                    .collect(),
            })
        }

        /// assembled is what a node serves for the lifecycle's certificate.
        fn assembled(&self, state: &MemoryState) -> CertificateBundle {
            assemble(ORIGIN, state, REGISTRATION_NO, &self.note, |i| self.at(i)).unwrap()
        }

        /// hand is the bundle of the registration at `reg` with exactly the
        /// signer entries `signers` and the status set by `status`, as a
        /// hostile operator may build it.
        fn hand(
            &self,
            reg: u64,
            signers: &[u64],
            status: Option<(&str, u64)>,
        ) -> CertificateBundle {
            let leaf = Leaf::parse(&self.leaves[reg as usize]).unwrap();
            let lh = HashSuite::Blake3.leaf_hash(&self.leaves[reg as usize]);
            let (state, set_by_index, entry) = match status {
                None => ("active".to_string(), reg, None),
                Some((s, i)) => (s.to_string(), i, Some(self.at(i).unwrap())),
            };
            CertificateBundle {
                format: BUNDLE_FORMAT.into(),
                origin: ORIGIN.into(),
                blockchain_no: BlockchainNo::new(ORIGIN, reg, &lh).to_string(),
                certificate: serde_json::from_slice(&leaf.envelope.payload).unwrap(),
                entry: self.at(reg).unwrap(),
                previous: self.at(reg - 1).unwrap(),
                signer_entries: signers.iter().map(|&i| self.at(i).unwrap()).collect(),
                status: StatusInfo {
                    state,
                    set_by_index,
                    entry,
                },
                checkpoint: self.note.clone(),
            }
        }
    }

    fn steps_upto(upto: &str) -> Vec<Step> {
        let k = Testkit::new(ORIGIN);
        let mut steps = k.lifecycle(HashSuite::Blake3, "guangxi");
        let end = steps.iter().position(|s| s.label == upto).unwrap();
        steps.truncate(end + 1);
        steps
    }

    fn setup(upto: &str) -> (CertificateBundle, LogDescriptor) {
        let steps = steps_upto(upto);
        let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap();
        let log = test_log(&steps, None);
        (log.assembled(&r.state), log.d)
    }

    /// step is a step at `time_ms`.
    fn step(label: &'static str, envelope: crate::envelope::Envelope, time_ms: u64) -> Step {
        Step {
            label,
            envelope,
            time_ms,
        }
    }

    /// rotation is the authority's rotation of the operator's key to the key of seed 44.
    fn rotation(k: &Testkit) -> crate::envelope::Envelope {
        let new = Party::new(&k.operator.id, &k.operator.name, Role::Operator, 44);
        k.authority.sign(
            EntryKind::ParticipantKeyRotated,
            &serde_json::json!({"id": k.operator.id, "add_keys": [new.public_key_b64()],
                                "retire_key_ids": [k.operator.key_id()]}),
        )
    }

    #[test]
    fn valid_bundles_verify_with_their_status() {
        let (b, d) = setup("product registered");
        let v = verify_bundle(&b, &d).unwrap();
        assert_eq!(v.status, "active");
        assert_eq!(v.witnesses, vec!["witness.test".to_string()]);
        let (b, d) = setup("registration revoked");
        let v = verify_bundle(&b, &d).unwrap();
        assert_eq!(v.status, "revoked");
        assert_eq!(v.certificate.registration_no, REGISTRATION_NO);
    }

    /// flip_b64 flips one bit inside the decoded bytes of a base64 string.
    fn flip_b64(s: &str, byte: usize) -> String {
        let mut b = B64.decode(s).unwrap();
        let i = byte.min(b.len() - 1);
        b[i] ^= 1;
        B64.encode(b)
    }

    #[test]
    fn every_part_is_tamper_evident() {
        let (good, d) = setup("registration revoked");
        let mut cases: Vec<(String, CertificateBundle)> = Vec::new();
        let mut push = |name: &str, f: &dyn Fn(&mut CertificateBundle)| {
            let mut b = good.clone();
            f(&mut b);
            cases.push((name.to_string(), b));
        };
        push("certificate.product_name", &|b| {
            b.certificate.product_name.push('X')
        });
        push("certificate.registration_no", &|b| {
            b.certificate.registration_no.push('1')
        });
        push("certificate.registered_on", &|b| {
            b.certificate.registered_on = crate::calendar::Date::parse("2025-03-25").unwrap()
        });
        push("certificate.scenarios", &|b| {
            b.certificate.scenarios.push("x".into())
        });
        push("blockchain_no", &|b| {
            b.blockchain_no = b.blockchain_no.replace("-1", "-2")
        });
        // Inside the leaf: header, payload, signature, key id.
        push("entry.leaf", &|b| b.entry.leaf = flip_b64(&b.entry.leaf, 3));
        push("entry.leaf", &|b| {
            b.entry.leaf = flip_b64(&b.entry.leaf, 200)
        });
        push("entry.leaf", &|b| {
            let raw = B64.decode(&b.entry.leaf).unwrap();
            b.entry.leaf = flip_b64(&b.entry.leaf, raw.len() - 5);
        });
        push("entry.leaf", &|b| {
            let raw = B64.decode(&b.entry.leaf).unwrap();
            let at = raw
                .windows(b"nn-mobility".len())
                .position(|w| w == b"gx-operator")
                .unwrap_or(raw.len() - 80);
            b.entry.leaf = flip_b64(&b.entry.leaf, at);
        });
        push("entry.index", &|b| b.entry.index += 1);
        push("previous", &|b| {
            b.previous.leaf = flip_b64(&b.previous.leaf, 60)
        });
        push("signer_entries", &|b| b.signer_entries.clear());
        push("status.state", &|b| b.status.state = "active".into());
        push("status.entry", &|b| b.status.entry = None);
        push("checkpoint.text", &|b| {
            b.checkpoint = b.checkpoint.replacen('\n', "x\n", 1)
        });
        push("checkpoint.signature", &|b| {
            let mut n = crate::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
            n.sigs[0].sig[3] ^= 1;
            b.checkpoint = n.to_text();
        });
        push("checkpoint.cosignature", &|b| {
            let mut n = crate::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
            n.sigs[1].sig[20] ^= 1;
            b.checkpoint = n.to_text();
        });
        push("checkpoint.cosignature removed", &|b| {
            let mut n = crate::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
            n.sigs.truncate(1);
            b.checkpoint = n.to_text();
        });
        let proof_len = good.entry.inclusion_proof.len();
        for i in 0..proof_len {
            let mut b = good.clone();
            b.entry.inclusion_proof[i] = flip_b64(&b.entry.inclusion_proof[i], 0);
            cases.push((format!("entry.inclusion_proof[{i}]"), b));
        }
        for (name, b) in cases {
            assert!(
                verify_bundle(&b, &d).is_err(),
                "tampered {name} still verifies"
            );
        }
    }

    #[test]
    fn the_signer_history_runs_from_genesis_and_shows_later_retirement_and_revocation() {
        let k = Testkit::new(ORIGIN);
        let mut steps = steps_upto("product registered");
        let t = steps.last().unwrap().time_ms;
        steps.push(step("operator key rotated", rotation(&k), t + 1));
        steps.push(step(
            "operator revoked",
            k.authority.sign(
                EntryKind::ParticipantRevoked,
                &serde_json::json!({"id": k.operator.id, "reason": "资格取消"}),
            ),
            t + 2,
        ));
        let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap();
        let log = test_log(&steps, None);
        let b = log.assembled(&r.state);
        let idx: Vec<u64> = b.signer_entries.iter().map(|e| e.index).collect();
        assert_eq!(idx, vec![0, 3, 16, 17]);
        let v = verify_bundle(&b, &log.d).unwrap();
        assert_eq!(v.signer, k.operator.id);
        assert_eq!(v.signer_chain, idx);
        assert_eq!(v.signer_key_retired_index, Some(16));
        assert_eq!(v.signer_revoked_index, Some(17));
        assert!(!v.status_proven_current);

        // Checkpointed before the rotation, the registry is newer than the
        // checkpoint: the bundle leaves out what it cannot prove at it.
        let log = test_log(&steps, Some(16));
        let b = log.assembled(&r.state);
        let v = verify_bundle(&b, &log.d).unwrap();
        assert_eq!(v.signer_chain, vec![0, 3]);
        assert_eq!(v.signer_key_retired_index, None);
        assert_eq!(v.signer_revoked_index, None);
    }

    #[test]
    fn the_status_signer_is_checked_at_its_index() {
        let (b, d) = setup("product suspended");
        let v = verify_bundle(&b, &d).unwrap();
        assert_eq!(v.status, "suspended");
        assert_eq!(v.status_signer.as_deref(), Some("gx-data-bureau"));
        assert!(!v.status_proven_current);
        // A suspension "signed" by the trading venue, whose role may not suspend.
        let k = Testkit::new(ORIGIN);
        let mut steps = steps_upto("product suspended");
        let last = steps.last_mut().unwrap();
        last.envelope = k.venue.sign(
            EntryKind::ProductSuspended,
            &serde_json::from_slice::<serde_json::Value>(&last.envelope.payload).unwrap(),
        );
        let log = test_log(&steps, None);
        let b = log.hand(15, &[0, 3, 5], Some(("suspended", 17)));
        let e = verify_bundle(&b, &log.d).unwrap_err();
        assert_eq!(e.part, "signer_entries", "{e}");
        assert!(e.reason.contains("may not submit product-suspended"), "{e}");
        // Without the venue's registration its key is unknown.
        let e = verify_bundle(&log.hand(15, &[0, 3], Some(("suspended", 17))), &log.d).unwrap_err();
        assert!(e.reason.contains("registers its key"), "{e}");
    }

    #[test]
    fn a_registration_signed_with_a_retired_key_fails() {
        // The operator's key is retired (entry 15) before the registration
        // (entry 16) that it still signs: a log a correct node never writes.
        let k = Testkit::new(ORIGIN);
        let mut steps = steps_upto("product registered");
        let reg = steps.pop().unwrap();
        steps.push(step("operator key rotated", rotation(&k), reg.time_ms - 1));
        steps.push(reg);
        let log = test_log(&steps, None);
        let e = verify_bundle(&log.hand(16, &[0, 3, 15], None), &log.d).unwrap_err();
        assert_eq!(e.part, "signer_entries", "{e}");
        assert!(e.reason.contains("retired by entry 15"), "{e}");
        // Leaving the rotation out hides it: which is why the report says
        // the signer history is not proven complete.
        let v = verify_bundle(&log.hand(16, &[0, 3], None), &log.d).unwrap();
        assert_eq!(v.signer_key_retired_index, None);
    }

    #[test]
    fn a_malformed_signer_history_fails_naming_the_part() {
        let steps = steps_upto("product registered");
        let log = test_log(&steps, None);
        assert!(verify_bundle(&log.hand(15, &[0, 3], None), &log.d).is_ok());
        for (signers, part, why) in [
            (&[3][..], "signer_entries[0].index", "genesis"),
            (&[0, 3, 3], "signer_entries[2].index", "index order"),
            (&[3, 0], "signer_entries[0].index", "genesis"),
            (&[0, 4, 3], "signer_entries[2].index", "index order"),
            (
                &[0, 3, 9],
                "signer_entries[2]",
                "not part of a signer history",
            ),
            (
                &[0, 1, 3, 6],
                "signer_entries[3]",
                "not part of a signer history",
            ),
            (&[], "signer_entries", "missing"),
        ] {
            let e = verify_bundle(&log.hand(15, signers, None), &log.d).unwrap_err();
            assert_eq!(e.part, part, "{signers:?}: {e}");
            assert!(e.reason.contains(why), "{signers:?}: {e}");
        }
        // A garbage signature anywhere in the history.
        for (label, n) in [("genesis", 0), ("register operator", 1)] {
            let mut bad = steps.clone();
            let s = bad.iter_mut().find(|s| s.label == label).unwrap();
            s.envelope.signatures[0].sig[9] ^= 1;
            let log = test_log(&bad, None);
            let e = verify_bundle(&log.hand(15, &[0, 3], None), &log.d).unwrap_err();
            assert_eq!(e.part, format!("signer_entries[{n}]"), "{e}");
            assert!(e.reason.contains("signature"), "{e}");
        }
        // A genesis for another hash or profile than log.json says.
        let mut other = steps.clone();
        other[0].envelope = Testkit::new(ORIGIN).genesis(HashSuite::Sha256, "guangxi");
        let log = test_log(&other, None);
        let e = verify_bundle(&log.hand(15, &[0, 3], None), &log.d).unwrap_err();
        assert_eq!(e.part, "signer_entries[0]", "{e}");
        assert!(e.reason.contains("genesis fixes hash sha256"), "{e}");
    }
}
