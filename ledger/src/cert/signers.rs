//! The signer history of a certificate bundle: replayed through the
//! registry rules from the genesis authority's key, it shows that the
//! registration (and the status entry) were signed by keys valid at their
//! indexes (schemas/FORMATS.md, "Verifying a certificate bundle").

use super::bundle::{err, open_signed, BundleError, CertificateBundle, MAX_SIGNER_ENTRIES};
use crate::descriptor::LogDescriptor;
use crate::entry::envelope::Envelope;
use crate::registry::{
    apply, EntryContext, EntryKind, MemoryState, ParticipantState, StateKey, StateObject,
    StateReader,
};
use crate::tlog::checkpoint::Checkpoint;

/// SignerHistory is what replaying a bundle's signer entries established.
pub(super) struct SignerHistory {
    pub(super) indexes: Vec<u64>,
    pub(super) signer: String,
    pub(super) key_retired: Option<u64>,
    pub(super) signer_revoked: Option<u64>,
    pub(super) status_signer: Option<String>,
}

/// replay_signer_history replays `b.signer_entries` in index order into a
/// fresh registry state, with the same rules the node and the audit apply
/// (so a participant-registered entry needs a valid signature by a data
/// authority key registered before it, a rotation by one valid then, and
/// so on back to the key genesis declares and signs with). Between them, at
/// their own indexes, the registration and the status entry must be signed
/// by keys valid at that point. Only these kinds may appear: the history
/// is not a place to smuggle other entries in.
pub(super) fn replay_signer_history(
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
        let (leaf, _, env) = open_signed(&part, se, d, cp)?;
        let kind = env.kind_name().unwrap_or("?").to_string();
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
            log_id: d.origin.clone(),
        };
        let fx = apply(&state, &ctx, &env).map_err(|v| {
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
        env.verify_signature(&s.key_id, &k.public_key)
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
