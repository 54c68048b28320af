//! Participants and their keys: genesis (the root data authority),
//! registration, key rotation and revocation (docs/registry.md,
//! "Participants"). Only a data authority acts here.

use super::checks::*;
use super::request_id_error;
use crate::entry::envelope::Envelope;
use crate::entry::envelope::{participant_key_id, EnvelopeError};
use crate::registry::ident::{check_credit_code, check_id, check_name, check_text};
use crate::registry::profile::profile;
use crate::registry::*;

/// participant_registered registers a participant with its keys (new ids,
/// valid keys, none of small order).
pub(super) fn participant_registered<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
) -> R<()> {
    let idx = c.entry.index;
    let p: ParticipantSpec = parse(env)?;
    // An id no key id could carry would register a participant
    // that can never sign: refused here, not left unusable.
    check_id("id", &p.id)?;
    check_name("name", &p.name)?;
    if let Some(cc) = &p.credit_code {
        check_credit_code(cc)?;
    }
    if p.public_keys.is_empty() {
        return Err(RuleViolation::MalformedPayload(
            "a participant needs at least one public key".into(),
        ));
    }
    check_list("public_keys", &p.public_keys)?;
    if c.get(&StateKey::Participant(p.id.clone())).is_some() {
        return Err(RuleViolation::Duplicate {
            what: "participant",
            id: p.id,
        });
    }
    let mut key_ids = Vec::new();
    for k in &p.public_keys {
        let pk = decode_key(k, c.require_sm2())?;
        let kid = participant_key_id(&p.id, &pk);
        if c.get(&StateKey::Key(kid.clone())).is_some() || key_ids.contains(&kid) {
            return Err(RuleViolation::Duplicate {
                what: "key",
                id: kid,
            });
        }
        c.put(
            StateKey::Key(kid.clone()),
            StateObject::Key(KeyState {
                key_id: kid.clone(),
                participant: p.id.clone(),
                public_key: pk,
                added_index: idx,
                retired_index: None,
            }),
        );
        key_ids.push(kid);
    }
    c.subject(&p.id);
    c.put(
        StateKey::Participant(p.id.clone()),
        StateObject::Participant(ParticipantState {
            id: p.id,
            name: p.name,
            role: p.role,
            credit_code: p.credit_code,
            key_ids,
            registered_index: idx,
            revoked_index: None,
        }),
    );
    Ok(())
}

/// participant_key_rotated adds and retires keys of an active participant,
/// leaving it at least one live key.
pub(super) fn participant_key_rotated<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
) -> R<()> {
    let idx = c.entry.index;
    let r: KeyRotation = parse(env)?;
    check_list("add_keys", &r.add_keys)?;
    check_list("retire_key_ids", &r.retire_key_ids)?;
    let mut p = c.active_participant(&r.id)?;
    for kid in &r.retire_key_ids {
        let Some(StateObject::Key(mut k)) = c.get(&StateKey::Key(kid.clone())) else {
            return Err(RuleViolation::NotFound {
                what: "key",
                id: kid.clone(),
            });
        };
        if k.participant != p.id || k.retired_index.is_some() {
            return Err(RuleViolation::InvalidTransition {
                what: "key",
                id: kid.clone(),
                from: "retired or foreign".into(),
                action: "retire",
            });
        }
        k.retired_index = Some(idx);
        c.put(StateKey::Key(kid.clone()), StateObject::Key(k));
    }
    for k in &r.add_keys {
        let pk = decode_key(k, c.require_sm2())?;
        let kid = participant_key_id(&p.id, &pk);
        if c.get(&StateKey::Key(kid.clone())).is_some() {
            return Err(RuleViolation::Duplicate {
                what: "key",
                id: kid,
            });
        }
        c.put(
            StateKey::Key(kid.clone()),
            StateObject::Key(KeyState {
                key_id: kid.clone(),
                participant: p.id.clone(),
                public_key: pk,
                added_index: idx,
                retired_index: None,
            }),
        );
        p.key_ids.push(kid);
    }
    let live = p.key_ids.iter().any(|kid| matches!(c.get(&StateKey::Key(kid.clone())), Some(StateObject::Key(k)) if k.retired_index.is_none()));
    if !live {
        return Err(RuleViolation::MalformedPayload(
            "a rotation must leave the participant at least one live key".into(),
        ));
    }
    c.subject(&p.id);
    c.put(
        StateKey::Participant(p.id.clone()),
        StateObject::Participant(p),
    );
    Ok(())
}

/// participant_revoked revokes a participant (never the signer itself).
pub(super) fn participant_revoked<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let idx = c.entry.index;
    let r: IdReason = parse(env)?;
    check_text("reason", &r.reason)?;
    let mut p = c.active_participant(&r.id)?;
    if p.id == signer.id {
        return Err(RuleViolation::WrongParty(
            "a participant cannot revoke itself".into(),
        ));
    }
    p.revoked_index = Some(idx);
    c.subject(&p.id);
    c.put(
        StateKey::Participant(p.id.clone()),
        StateObject::Participant(p),
    );
    Ok(())
}

/// genesis applies entry 0: it fixes the log's origin, hash suite and
/// profile and registers the root data authority with the keys it declares,
/// one of which signs it.
pub(super) fn genesis(ctx: &EntryContext, env: &Envelope) -> Result<Effects, RuleViolation> {
    let g: Genesis = parse(env)?;
    if g.origin.is_empty() || g.origin != ctx.log_id {
        return Err(RuleViolation::WrongParty(format!(
            "genesis origin {:?} is not this log's origin {:?}",
            g.origin, ctx.log_id
        )));
    }
    if crate::tlog::hash::HashSuite::from_name(&g.hash).is_none() || profile(&g.profile).is_none() {
        return Err(RuleViolation::UnknownProfile(format!(
            "{} / {}",
            g.hash, g.profile
        )));
    }
    let a = &g.authority;
    check_id("authority.id", &a.id)?;
    check_text("authority.name", &a.name)?;
    if a.role != Role::DataAuthority || a.public_keys.is_empty() {
        return Err(RuleViolation::MalformedPayload(
            "the genesis authority is a data authority with at least one key".into(),
        ));
    }
    check_list("public_keys", &a.public_keys)?;
    let mut fx = Effects::new(EntryKind::Genesis, &a.id);
    // The authority's spec may carry a request_id like any participant's.
    if let Some(r) = &a.request_id {
        if !valid_request_id(r) {
            return Err(request_id_error());
        }
    }
    let mut key_ids = Vec::new();
    let mut declared: Vec<crate::crypto::PublicKey> = Vec::new();
    for k in &a.public_keys {
        let pk = decode_key(k, g.require_sm2)?;
        let kid = participant_key_id(&a.id, &pk);
        fx.writes.push((
            StateKey::Key(kid.clone()),
            StateObject::Key(KeyState {
                key_id: kid.clone(),
                participant: a.id.clone(),
                public_key: pk.clone(),
                added_index: 0,
                retired_index: None,
            }),
        ));
        key_ids.push(kid);
        declared.push(pk);
    }
    // Every signature must be by a key the genesis declares, and verify; all
    // those keys are the authority's, and signatures come from distinct
    // participants (D12), so genesis carries exactly one.
    env.verify_all(|kid| {
        key_ids
            .iter()
            .position(|k| k == kid)
            .map(|i| declared[i].clone())
    })
    .map_err(|e| match e {
        EnvelopeError::UnknownKey(_) => RuleViolation::UnknownSigner(
            "genesis must be signed by the authority key it declares".into(),
        ),
        e => RuleViolation::BadSignature(e.to_string()),
    })?;
    if env.signatures.len() != 1 {
        return Err(RuleViolation::BadSignature(
            "genesis carries one signature, by one of the authority keys it declares".into(),
        ));
    }
    fx.writes.push((
        StateKey::Genesis,
        StateObject::Genesis(GenesisState {
            origin: g.origin.clone(),
            hash: g.hash.clone(),
            profile: g.profile.clone(),
            require_sm2: g.require_sm2,
        }),
    ));
    fx.writes.push((
        StateKey::Participant(a.id.clone()),
        StateObject::Participant(ParticipantState {
            id: a.id.clone(),
            name: a.name.clone(),
            role: a.role,
            credit_code: a.credit_code.clone(),
            key_ids,
            registered_index: 0,
            revoked_index: None,
        }),
    ));
    fx.subjects.push(a.id.clone());
    Ok(fx)
}
