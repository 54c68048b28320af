//! Assembling a certificate bundle from a node's registry state and log:
//! what the node serves at `/v1/certificates/{no}` and tests build in memory.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::bundle::{CertificateBundle, EntryProof, StatusInfo, BUNDLE_FORMAT, MAX_SIGNER_ENTRIES};
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
}

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
    // newer (product-changed), and bundle v1 carries no later entry to
    // prove them.
    let signed = Leaf::parse(
        &B64.decode(&entry.leaf)
            .map_err(|x| AssembleError::LeafBase64(x.to_string()))?,
    )?;
    let certificate = serde_json::from_slice(&signed.envelope.payload)
        .map_err(|e| AssembleError::Entry(format!("registration entry payload: {e}")))?;
    let previous = entry_at(
        reg.index
            .checked_sub(1)
            .ok_or(AssembleError::RegisteredAtGenesis)?,
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
        let leaf = Leaf::parse(
            &B64.decode(&e.leaf)
                .map_err(|x| AssembleError::LeafBase64(x.to_string()))?,
        )?;
        for sig in &leaf.envelope.signatures {
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
    Ok(CertificateBundle {
        format: BUNDLE_FORMAT.into(),
        origin: origin.into(),
        blockchain_no: reg.blockchain_no,
        certificate,
        entry,
        previous,
        signer_entries: history.into_values().collect(),
        status,
        checkpoint: checkpoint.into(),
    })
}
