//! Assembling a certificate bundle from a node's registry state and log:
//! what the node serves at `/v1/certificates/{no}` and tests build in memory.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::bundle::{
    CertificateBundle, EntryProof, StatusInfo, BUNDLE_FORMAT, BUNDLE_FORMAT_V1, MAX_SIGNER_ENTRIES,
};
use super::status::StatusProof;
use crate::entry::blockchain_no::BlockchainNo;
use crate::entry::leaf::{Leaf, LeafError};
use crate::registry::{StateKey, StateObject, StateReader};
use crate::tlog::checkpoint::{Checkpoint, CheckpointError};
use crate::tlog::note::NoteError;

/// AssembleError says why a bundle could not be assembled.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum AssembleError {
    /// CheckpointNote: the checkpoint is not a signed note.
    #[error("checkpoint: {0}")]
    CheckpointNote(NoteError),
    /// Checkpoint: its body is not a checkpoint.
    #[error("checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// UnknownRegistrationNo: no product has that 登记号.
    #[error("no product with registration number {0:?}")]
    UnknownRegistrationNo(String),
    /// NotRegistered: the product has no registration.
    #[error("product is not registered")]
    NotRegistered,
    /// RegisteredAtGenesis: a registration at entry 0 has no entry before it.
    #[error("registration cannot be entry 0")]
    RegisteredAtGenesis,
    /// Entry: the source of entries could not give one.
    #[error("{0}")]
    Entry(String),
    /// LeafBase64: an entry's leaf is not base64.
    #[error("{0}")]
    LeafBase64(String),
    /// Leaf: an entry's leaf does not parse.
    #[error("{0}")]
    Leaf(#[from] LeafError),
    /// UnknownKey: a signing key the registry does not hold.
    #[error("signing key {key_id} of entry {index} is not in the registry")]
    UnknownKey {
        /// key_id is the signature's key id.
        key_id: String,
        /// index is the entry it signs.
        index: u64,
    },
    /// UnknownSigner: a key's owner the registry does not hold.
    #[error("signer {0} is not in the registry")]
    UnknownSigner(String),
    /// HistoryTooLong: more signer entries than [`MAX_SIGNER_ENTRIES`].
    #[error("the signer history needs more than {MAX_SIGNER_ENTRIES} entries, more than a bundle carries")]
    HistoryTooLong,
    /// Envelope: an entry's envelope is missing or not what its leaf commits to.
    #[error("entry {0}: its envelope is not available")]
    Envelope(u64),
    /// NoGenesis: the registry holds no genesis (so no hash suite).
    #[error("the registry holds no genesis")]
    NoGenesis,
    /// StatusProof: the status proof is not about this certificate.
    #[error("the status proof is not about registration number {0:?}")]
    StatusProof(String),
}

/// signed_envelope returns an entry's envelope: inside a v1 leaf, or the
/// one carried beside a v2 leaf (which must hash to its envelope hash).
fn signed_envelope(e: &EntryProof) -> Result<crate::entry::envelope::Envelope, AssembleError> {
    let leaf = Leaf::parse(
        &B64.decode(&e.leaf)
            .map_err(|x| AssembleError::LeafBase64(x.to_string()))?,
    )?;
    if let Some(env) = leaf.inline_envelope() {
        return Ok(env.clone());
    }
    e.envelope
        .as_ref()
        .and_then(|x| B64.decode(x).ok())
        .and_then(|b| crate::entry::envelope::Envelope::from_bytes(&b).ok())
        .ok_or(AssembleError::Envelope(e.index))
}

/// assemble builds the bundle of registration number `no` from registry
/// state and a source of entries with proofs at the checkpoint's size
/// (each with its envelope when its leaf is v2). With `status_proof` (the
/// status proof of `no` at the same checkpoint) it builds a v2 bundle whose
/// status is the proven one; without, a v1 bundle whose status is the
/// state's. The node serves what this returns; tests use it with an
/// in-memory log.
///
/// The signer history it includes is genesis and, for every participant
/// that signed the registration or the status entry, or signed one of the
/// entries included for such a participant (and so on, back to the genesis
/// authority), its registration and every rotation and revocation below
/// the checkpoint's size. `entry_at` is only asked for entries below that
/// size, besides the registration, the entry before it and the status entry.
///
/// # Errors
///
/// An [`AssembleError`]: the checkpoint does not parse, the registry has no
/// such registration (or not a signer it needs), `entry_at` fails
/// ([`AssembleError::Entry`] carries its message), or the history is too long.
pub fn assemble(
    origin: &str,
    state: &(impl StateReader + ?Sized),
    no: &str,
    checkpoint: &str,
    entry_at: impl Fn(u64) -> Result<EntryProof, String>,
    status_proof: Option<StatusProof>,
) -> Result<CertificateBundle, AssembleError> {
    use crate::registry::product_by_registration_no;
    let entry_at = |i| entry_at(i).map_err(AssembleError::Entry);
    let size = crate::tlog::note::Note::parse(checkpoint.as_bytes())
        .map_err(AssembleError::CheckpointNote)
        .and_then(|n| Checkpoint::parse(&n.text).map_err(AssembleError::Checkpoint))?
        .size;
    let p = product_by_registration_no(state, no)
        .ok_or_else(|| AssembleError::UnknownRegistrationNo(no.to_string()))?;
    let reg = p.registration.ok_or(AssembleError::NotRegistered)?;
    let entry = entry_at(reg.index)?;
    // The certificate shows what the registering entry signed: a verifier
    // compares it with that entry's payload. The registry's fields may be
    // newer (product-changed), and a bundle carries no later entry to
    // prove them.
    let signed = signed_envelope(&entry)?;
    let certificate = serde_json::from_slice(&signed.payload)
        .map_err(|e| AssembleError::Entry(format!("registration entry payload: {e}")))?;
    let previous = EntryProof {
        envelope: None,
        ..entry_at(
            reg.index
                .checked_sub(1)
                .ok_or(AssembleError::RegisteredAtGenesis)?,
        )?
    };
    // The status as of the checkpoint: the proven one when there is a
    // proof (the state may have moved on since the checkpoint).
    let (state_name, status_index) = match &status_proof {
        Some(sp) => {
            let s = &sp.state;
            match (s.status_index, s.product_id.as_deref()) {
                (Some(i), Some(pid)) if sp.id == no && pid == reg.fields.product_id => {
                    (s.status.clone(), i)
                }
                _ => return Err(AssembleError::StatusProof(no.to_string())),
            }
        }
        None => (p.status.name().to_string(), p.status_index),
    };
    let status = if status_index == reg.index {
        StatusInfo {
            state: state_name,
            set_by_index: reg.index,
            entry: None,
        }
    } else {
        StatusInfo {
            state: state_name,
            set_by_index: status_index,
            entry: Some(entry_at(status_index)?),
        }
    };

    // The signer history: a worklist of entries whose signers must be covered.
    let mut history: std::collections::BTreeMap<u64, EntryProof> = Default::default();
    history.insert(0, entry_at(0)?);
    let mut covered: std::collections::BTreeSet<String> = Default::default();
    let mut todo: Vec<EntryProof> = vec![entry.clone()];
    todo.extend(status.entry.clone());
    while let Some(e) = todo.pop() {
        let env = signed_envelope(&e)?;
        for sig in &env.signatures {
            let Some(StateObject::Key(k)) = state.get(&StateKey::Key(sig.key_id.clone())) else {
                return Err(AssembleError::UnknownKey {
                    key_id: sig.key_id.clone(),
                    index: e.index,
                });
            };
            if !covered.insert(k.participant.clone()) {
                continue;
            }
            let Some(StateObject::Participant(part)) =
                state.get(&StateKey::Participant(k.participant.clone()))
            else {
                return Err(AssembleError::UnknownSigner(k.participant.clone()));
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
            return Err(AssembleError::HistoryTooLong);
        }
    }
    let leaf_bytes = B64
        .decode(&entry.leaf)
        .map_err(|x| AssembleError::LeafBase64(x.to_string()))?;
    // The 区块链编号 is derived, not stored (D15): from the origin, the
    // registering entry's index and its leaf hash in the log's suite.
    let suite = match state.get(&StateKey::Genesis) {
        Some(StateObject::Genesis(g)) => crate::HashSuite::from_name(&g.hash),
        _ => None,
    }
    .ok_or(AssembleError::NoGenesis)?;
    let blockchain_no = BlockchainNo::new(origin, reg.index, &suite.leaf_hash(&leaf_bytes));
    Ok(CertificateBundle {
        format: if status_proof.is_some() {
            BUNDLE_FORMAT
        } else {
            BUNDLE_FORMAT_V1
        }
        .into(),
        origin: origin.into(),
        blockchain_no: blockchain_no.to_string(),
        certificate,
        entry,
        previous,
        signer_entries: history.into_values().collect(),
        status,
        status_proof,
        checkpoint: checkpoint.into(),
    })
}
