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
//! Format v2 (`regledger-certificate-bundle/v2`) adds the **status proof**
//! of its 登记号 ([`crate::cert::status`]) at the bundle's checkpoint: the
//! committed state shows the product's current status, so a v2 bundle
//! proves that status as of the checkpoint
//! ([`VerifiedCertificate::status_proven_current`]). Its entries are v2
//! leaves with their envelopes beside them (`envelope`), each checked
//! against its leaf's envelope hash.
//!
//! What a v1 bundle cannot prove: that no later entry (up to the
//! checkpoint) changed the status. Neither format proves that no entry
//! the bundle omits retired the signing key or revoked the signer.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::status::{verify_status, StatusKind, StatusProof, VerifiedStatus};
use crate::descriptor::{verify_checkpoint, LogDescriptor};
use crate::entry::blockchain_no::BlockchainNo;
use crate::entry::chain::{ChainError, ChainHead};
use crate::entry::envelope::Envelope;
use crate::entry::leaf::{open_entry as open_leaf_envelope, Leaf};
use crate::registry::{EntryKind, ProductRegistration};
use crate::tlog::checkpoint::Checkpoint;
use crate::tlog::hash::Hash;
use crate::tlog::proof::verify_inclusion;

/// BUNDLE_FORMAT names the bundle format a node writes (v2: with the
/// status proof of its 登记号).
pub const BUNDLE_FORMAT: &str = "regledger-certificate-bundle/v2";

/// BUNDLE_FORMAT_V1 names the first format (no status proof), still verified.
pub const BUNDLE_FORMAT_V1: &str = "regledger-certificate-bundle/v1";

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
    /// envelope is the envelope of a v2 leaf (base64 binary form), where
    /// the bundle needs it (a v1 leaf holds its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
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
    /// status_proof proves the current status of the 登记号 at the
    /// checkpoint (v2; absent in v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_proof: Option<StatusProof>,
    /// checkpoint is the signed (and cosigned) checkpoint all proofs are for.
    pub checkpoint: String,
}

/// BundleError names the part of a bundle that failed and why. It stays a
/// struct rather than an enum: `part` is a path into the bundle's JSON
/// (`entry.inclusion_proof`, `signer_entries[3].index`,
/// `certificate.product_name`), the one thing a regulator needs to find
/// the fault, printed the same by the Java client; `reason` carries the
/// underlying error's text.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("{part}: {reason}")]
pub struct BundleError {
    /// part is the bundle part, e.g. "entry.inclusion_proof" or "certificate.product_name".
    pub part: String,
    /// reason explains the failure.
    pub reason: String,
}

pub(super) fn err(part: &str, reason: impl Into<String>) -> BundleError {
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
    /// status_zh is the status's Chinese label.
    pub status_zh: String,
    /// status_proven_current: the bundle proves the status is the current
    /// one at the checkpoint (v2: by its status proof). Always false for
    /// format v1, which cannot show the absence of later entries.
    pub status_proven_current: bool,
    /// status_proof is the verified status proof (v2).
    pub status_proof: Option<VerifiedStatus>,
    /// checkpoint is the verified checkpoint.
    pub checkpoint: Checkpoint,
    /// witnesses are the names of the witnesses that cosigned.
    pub witnesses: Vec<String>,
}

/// open_signed opens an entry whose envelope the bundle needs (inline in a
/// v1 leaf, beside a v2 leaf and matching its envelope hash).
pub(super) fn open_signed(
    part: &str,
    e: &EntryProof,
    d: &LogDescriptor,
    cp: &Checkpoint,
) -> Result<(Leaf, Hash, Envelope), BundleError> {
    let (leaf, lh) = open_entry(part, e, d, cp)?;
    let given = e
        .envelope
        .as_ref()
        .map(|x| B64.decode(x))
        .transpose()
        .map_err(|_| err(&format!("{part}.envelope"), "not base64"))?;
    // open_entry decoded and parsed the leaf already; this pairs it with
    // the envelope beside it.
    let leaf_bytes = leaf.to_bytes();
    let opened = open_leaf_envelope(d.suite, &leaf_bytes, given.as_deref())
        .map_err(|x| err(&format!("{part}.envelope"), x.to_string()))?;
    let env = opened.envelope.ok_or_else(|| {
        err(
            &format!("{part}.envelope"),
            "missing: a v2 leaf's envelope is carried beside it",
        )
    })?;
    Ok((leaf, lh, env))
}

pub(super) fn open_entry(
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
    verify_inclusion(d.suite, cp.size, e.index, &lh, &proof, &cp.root)
        .map_err(|x| err(&format!("{part}.inclusion_proof"), x.to_string()))?;
    Ok((leaf, lh))
}

/// verify_bundle checks a certificate bundle against a log descriptor.
///
/// # Errors
///
/// A [`BundleError`] naming the first part of the bundle that fails
/// (`part`, e.g. `entry.inclusion_proof`) and why.
pub fn verify_bundle(
    b: &CertificateBundle,
    d: &LogDescriptor,
) -> Result<VerifiedCertificate, BundleError> {
    let v2 = match b.format.as_str() {
        BUNDLE_FORMAT => true,
        BUNDLE_FORMAT_V1 => false,
        _ => return Err(err("format", format!("unknown format {:?}", b.format))),
    };
    if b.origin != d.origin {
        return Err(err("origin", "not the log of this descriptor"));
    }
    let vc = verify_checkpoint(b.checkpoint.as_bytes(), d)
        .map_err(|e| err("checkpoint", e.to_string()))?;
    let cp = vc.checkpoint;

    // The registering entry and its payload.
    let (leaf, lh, env) = open_signed("entry", &b.entry, d, &cp)?;
    let env = &env;
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
    if b.previous.envelope.is_some() {
        return Err(err(
            "previous.envelope",
            "not part of a bundle: only the previous entry's leaf hash is checked",
        ));
    }
    // The link is the log's one chain rule (entry::chain), applied to the
    // single step from the previous entry to this one.
    let (prev, prev_hash) = open_entry("previous", &b.previous, d, &cp)?;
    let head = ChainHead {
        size: b.entry.index,
        last_leaf_hash: prev_hash,
        last_time_ms: prev.integrated_time_ms,
        last_version: prev.version,
    };
    if let Some(e) = head.breaks(&leaf).into_iter().next() {
        let field = match e {
            ChainError::BrokenLink { .. } => "entry.prev_leaf_hash",
            ChainError::TimeNotIncreasing { .. } => "entry.integrated_time_ms",
            ChainError::IndexMismatch { .. } => "entry.index",
            ChainError::VersionDowngrade { .. } => "entry.leaf",
        };
        return Err(err(field, e.to_string()));
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
        let (_, _, senv) = open_signed("status.entry", se, d, &cp)?;
        let kind = EntryKind::from_name(senv.kind_name().unwrap_or(""))
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
        let id = kind.subject_id(&senv.payload);
        if id.as_deref() != Some(signed.product_id.as_str()) {
            return Err(err("status.entry", "concerns another product"));
        }
        if b.status.state != state {
            return Err(err(
                "status.state",
                format!("bundle says {}, entry sets {state}", b.status.state),
            ));
        }
        status_env = Some((se.index, senv, kind));
        state.to_string()
    };

    // The signer history, replayed through the registry rules from the
    // genesis authority's key: each entry must be in the log and verify
    // with the keys valid at its index; the registration and the status
    // entry are checked against the keys valid at theirs.
    let chain = super::signers::replay_signer_history(b, d, &cp, env, status_env.as_ref())?;

    // v2: the status proof of the 登记号 at the same checkpoint shows the
    // status above is the current one.
    let proven = match (&b.status_proof, v2) {
        (None, false) => None,
        (Some(_), false) => {
            return Err(err(
                "status_proof",
                "a v1 bundle carries no status proof (its format says so)",
            ))
        }
        (None, true) => return Err(err("status_proof", "missing from a v2 bundle")),
        (Some(p), true) => Some(check_status_proof(b, p, d, &signed)?),
    };
    let status_zh = match &proven {
        Some(v) => v.state.status_zh.clone(),
        None => status_label_zh(&status).to_string(),
    };
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
        status_zh,
        status_proven_current: proven.is_some(),
        status_proof: proven,
        checkpoint: cp,
        witnesses: vc.witnesses.iter().map(|w| w.name().to_string()).collect(),
    })
}

/// status_label_zh is the Chinese label of a product status name.
fn status_label_zh(state: &str) -> &'static str {
    match state {
        "active" => "有效",
        "suspended" => "暂停",
        "revoked" => "已撤销登记",
        "deregistered" => "已注销登记",
        _ => "未知",
    }
}

/// check_status_proof verifies a v2 bundle's status proof: about its
/// 登记号, at its checkpoint, naming its product, and agreeing with its
/// `status` (state and the entry that set it).
fn check_status_proof(
    b: &CertificateBundle,
    p: &StatusProof,
    d: &LogDescriptor,
    signed: &ProductRegistration,
) -> Result<VerifiedStatus, BundleError> {
    if p.kind != StatusKind::Product.name() || p.id != signed.registration_no {
        return Err(err(
            "status_proof",
            format!(
                "is about {} {}, not the product {}",
                p.kind, p.id, signed.registration_no
            ),
        ));
    }
    if p.checkpoint != b.checkpoint {
        return Err(err(
            "status_proof.checkpoint",
            "must be the bundle's checkpoint",
        ));
    }
    let v = verify_status(p, d).map_err(|e| err(&format!("status_proof.{}", e.part), e.reason))?;
    if v.state.product_id.as_deref() != Some(signed.product_id.as_str()) {
        return Err(err(
            "status_proof.record",
            "the 登记号 names another product",
        ));
    }
    if v.state.status != b.status.state || v.state.status_index != Some(b.status.set_by_index) {
        return Err(err(
            "status",
            format!(
                "the bundle says {} (set by entry {}), the status proof shows {} (set by entry {})",
                b.status.state,
                b.status.set_by_index,
                v.state.status,
                v.state.status_index.unwrap_or_default()
            ),
        ));
    }
    Ok(v)
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
