//! apply: the registry rules, entry by entry.
//!
//! Every act is judged at the entry's integrated time (`today`, the China
//! date of [`EntryContext::integrated_time_ms`]), never only at the dates
//! its payload asserts (D13): an authorization must be in force on the day
//! the act is logged, and every payload date must lie in a window around
//! that day, so no date can be back-dated past an expiry or make a rule
//! count millions of days. Every act on an object is checked against who
//! owns it, along the chain resource → operation agreement → scene or
//! catalog authorization → product (docs/registry.md has the table).
//!
//! This module checks what every entry shares (the envelope, every
//! signer, the submitter's role, `request_id`) and dispatches on the kind,
//! in one `match`; each kind's own rules are a function in the file of its
//! lifecycle group.

mod agreements;
mod calendar;
mod checks;
mod credentials;
mod objections;
mod operations;
mod participants;
mod products;
mod resources;

use checks::{Ctx, R};

pub use operations::check_prune_scope;

use crate::entry::chain::EntryContext;
use crate::entry::envelope::{Envelope, Preverified};
use crate::registry::calendar::Date;
use crate::registry::profile::profile;
use crate::registry::*;

/// RECORDING_DAYS is how many natural days before the day it is logged an
/// act may be dated: the seeds' shortest recording duty is "within 10
/// working days" (Xi'an Art. 19/22, Chengdu Art. 13/16), and 10 working
/// days never span fewer than 14 natural days.
pub const RECORDING_DAYS: i64 = 14;

/// SAME_DAY_GRACE_DAYS is how far a date that must be "the day it is
/// logged" may lag: one day, for an act signed just before midnight and
/// sequenced just after.
pub const SAME_DAY_GRACE_DAYS: i64 = 1;

/// MAX_CHAIN_DEPTH bounds the chain of parents walked to decide whether an
/// authorization is in force: a scene authorization under an operation
/// agreement is two; anything deeper than four is refused.
pub const MAX_CHAIN_DEPTH: usize = 4;

/// check_request_id enforces the limits of a payload's optional
/// `request_id` (see [`valid_request_id`]); the rules give it
/// no other meaning. It reads only that member, so it serves every kind; a
/// payload that is not a JSON object, or whose `request_id` is not a
/// string, is left to the kind's own parse, which refuses it.
fn check_request_id(env: &Envelope) -> R<()> {
    #[derive(serde::Deserialize)]
    struct RequestId {
        request_id: Option<String>,
    }
    match serde_json::from_slice::<RequestId>(&env.payload) {
        Ok(RequestId {
            request_id: Some(r),
        }) if !valid_request_id(&r) => Err(request_id_error()),
        _ => Ok(()),
    }
}

fn request_id_error() -> RuleViolation {
    RuleViolation::MalformedPayload(format!(
        "request_id must be 1..{} printable ASCII characters without spaces (e.g. a UUID)",
        MAX_REQUEST_ID_BYTES
    ))
}

/// apply checks one entry against the state and returns its effects.
///
/// It verifies, in order: the envelope's limits; the kind; the signer (a
/// registered, unretired key of an unrevoked participant) and signature;
/// that the signer's role may submit the kind; the payload; and the kind's
/// lifecycle rules. Deadlines are flagged in [`Effects::flags`], not refused.
///
/// # Errors
///
/// The [`RuleViolation`] the entry breaks (its `code()` and `citation()`
/// name the rule and the article); the state is not changed.
pub fn apply(
    s: &(impl StateReader + ?Sized),
    ctx: &EntryContext,
    env: &Envelope,
) -> Result<Effects, RuleViolation> {
    apply_preverified(s, ctx, env, &[])
}

/// apply_preverified is [`apply`] for callers that already verified some
/// signatures (in parallel, before sequencing): a signature listed in
/// `preverified` (by its position, with the key it verified with) is not
/// verified again, provided that key is still the one registered under its
/// key id. Every signature not listed is verified; every other check is the same.
///
/// # Errors
///
/// As [`apply`].
pub fn apply_preverified(
    s: &(impl StateReader + ?Sized),
    ctx: &EntryContext,
    env: &Envelope,
    preverified: &[Preverified],
) -> Result<Effects, RuleViolation> {
    env.check()
        .map_err(|e| RuleViolation::MalformedEnvelope(e.to_string()))?;
    let kind_name = env
        .kind_name()
        .map_err(|_| RuleViolation::UnknownKind(env.payload_type.clone()))?;
    let kind = EntryKind::from_name(kind_name)
        .ok_or_else(|| RuleViolation::UnknownKind(kind_name.to_string()))?;
    let today = Date::from_unix_ms(ctx.integrated_time_ms)
        .ok_or_else(|| RuleViolation::InvalidDates("integrated time out of range".into()))?;
    if kind == EntryKind::Genesis || ctx.index == 0 {
        if kind != EntryKind::Genesis || ctx.index != 0 || s.get(&StateKey::Genesis).is_some() {
            return Err(RuleViolation::GenesisPosition);
        }
        return participants::genesis(ctx, env);
    }
    let Some(StateObject::Genesis(g)) = s.get(&StateKey::Genesis) else {
        return Err(RuleViolation::GenesisPosition);
    };
    let profile =
        profile(&g.profile).ok_or_else(|| RuleViolation::UnknownProfile(g.profile.clone()))?;
    let mut c = Ctx {
        s,
        entry: ctx,
        kind,
        profile,
        today,
        fx: Effects::new(kind, ""),
    };

    // Every signature must be by a registered, unretired key of an unrevoked
    // participant, and every one must verify (a preverified one only with
    // the key registered now): an envelope is never accepted on some of its
    // signatures (issue 12). Each comes from a distinct key and a distinct
    // participant, because the rules read signatures as parties (D12). The
    // first signer is the submitter.
    let mut signers: Vec<(&str, crate::crypto::PublicKey, ParticipantState)> =
        Vec::with_capacity(env.signatures.len());
    for sig in &env.signatures {
        let Some(StateObject::Key(k)) = c.get(&StateKey::Key(sig.key_id.clone())) else {
            return Err(RuleViolation::UnknownSigner(sig.key_id.clone()));
        };
        if k.retired_index.is_some() {
            return Err(RuleViolation::UnknownSigner(sig.key_id.clone()));
        }
        let p = c.participant(&k.participant)?;
        if p.revoked_index.is_some() {
            return Err(RuleViolation::SignerRevoked(p.id));
        }
        signers.push((sig.key_id.as_str(), k.public_key, p));
    }
    env.verify_all_preverified(
        |kid| {
            signers
                .iter()
                .find(|(id, _, _)| *id == kid)
                .map(|(_, pk, _)| pk.clone())
        },
        preverified,
    )
    .map_err(|e| RuleViolation::BadSignature(e.to_string()))?;
    for (i, (_, _, p)) in signers.iter().enumerate() {
        if signers[..i].iter().any(|(_, _, q)| q.id == p.id) {
            return Err(RuleViolation::BadSignature(format!(
                "two signatures by participant {:?}: each signature must come from a distinct participant",
                p.id
            )));
        }
    }
    check_request_id(env)?;
    let signer = signers.swap_remove(0).2;
    if !kind.allowed_roles().contains(&signer.role) {
        return Err(RuleViolation::RoleNotAllowed {
            role: signer.role.name().into(),
            kind: kind.name().into(),
        });
    }
    c.fx.signer = signer.id.clone();
    match kind {
        EntryKind::Genesis => unreachable!("handled above"),
        EntryKind::ParticipantRegistered => participants::participant_registered(&mut c, env)?,
        EntryKind::ParticipantKeyRotated => participants::participant_key_rotated(&mut c, env)?,
        EntryKind::ParticipantRevoked => participants::participant_revoked(&mut c, env, &signer)?,
        EntryKind::CalendarPublished => calendar::calendar_published(&mut c, env)?,
        EntryKind::ResourceRegistered => resources::resource_registered(&mut c, env, &signer)?,
        EntryKind::ResourceChanged | EntryKind::ResourceCorrected => {
            resources::resource_changed(&mut c, env, &signer)?
        }
        EntryKind::ResourceDeregistered => resources::resource_deregistered(&mut c, env, &signer)?,
        EntryKind::AgreementFiled => agreements::agreement_filed(&mut c, env, &signer)?,
        EntryKind::AgreementAmended => agreements::agreement_amended(&mut c, env, &signer)?,
        EntryKind::AgreementRenewed => agreements::agreement_renewed(&mut c, env, &signer)?,
        EntryKind::AgreementSuspended | EntryKind::AgreementResumed => {
            agreements::agreement_suspended_or_resumed(&mut c, env, &signer)?
        }
        EntryKind::AgreementTerminated => agreements::agreement_terminated(&mut c, env, &signer)?,
        EntryKind::CatalogCredentialIssued => {
            credentials::catalog_credential_issued(&mut c, env, &signer)?
        }
        EntryKind::ProductApproved => products::product_approved(&mut c, env, &signer)?,
        EntryKind::PublicNoticeOpened => products::public_notice_opened(&mut c, env, &signer)?,
        EntryKind::ObjectionFiled => objections::objection_filed(&mut c, env)?,
        EntryKind::ObjectionResolved => objections::objection_resolved(&mut c, env, &signer)?,
        EntryKind::ProductRegistered => products::product_registered(&mut c, env, &signer)?,
        EntryKind::ProductChanged => products::product_changed(&mut c, env, &signer)?,
        EntryKind::ProductSuspended
        | EntryKind::ProductResumed
        | EntryKind::ProductRegistrationRevoked
        | EntryKind::ProductDeregistered => products::product_status_changed(&mut c, env, &signer)?,
        EntryKind::DataDestructionAttested => {
            operations::data_destruction_attested(&mut c, env, &signer)?
        }
        EntryKind::OperationEvent => operations::operation_event(&mut c, env, &signer)?,
        EntryKind::RetentionPruned => operations::retention_pruned(&mut c, env)?,
    }
    Ok(c.fx)
}
