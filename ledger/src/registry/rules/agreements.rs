//! Agreements and plans filed on the platform (备案): implementation plans,
//! operation agreements and the scene and catalog authorizations derived
//! from them; amendment, renewal, suspension, resumption and termination.
//! An authorization is in force only while every agreement up its chain
//! is (无授权不运营).

use super::checks::*;
use super::RECORDING_DAYS;
use crate::entry::envelope::Envelope;
use crate::registry::ident::{check_id, check_name, check_text};
use crate::registry::regulations::{self as reg, cite};
use crate::registry::*;

/// RENEWAL_APPLICATION_MONTHS is how long before the day it is logged a
/// renewal may say it was applied for: twice Shuozhou's longest window
/// (apply 3–6 months before expiry).
const RENEWAL_APPLICATION_MONTHS: u32 = 12;

/// agreement_filed files an agreement or plan (备案): a new id, a term within
/// the profile's limit, filed by a party, the grantee or a data authority,
/// over active resources; a derived authorization must fit its parent.
/// Filing later than the profile's deadline is flagged `filing-late`.
pub(super) fn agreement_filed<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let idx = c.entry.index;
    let today = c.today;
    let a: Agreement = parse(env)?;
    check_id("id", &a.id)?;
    check_name("document_title", &a.document_title)?;
    if let Some(scene) = &a.scene {
        check_name("scene", scene)?;
    }
    check_digest_pair(c, "document", &a.document_digest, &a.document_blake3, true)?;
    if a.parties.is_empty() {
        return Err(RuleViolation::MalformedPayload(
            "an agreement needs at least one party".into(),
        ));
    }
    check_list("parties", &a.parties)?;
    check_list("scope", &a.scope)?;
    if c.get(&StateKey::Agreement(a.id.clone())).is_some() {
        return Err(RuleViolation::Duplicate {
            what: "agreement",
            id: a.id,
        });
    }
    if a.term_start < a.signed_on.add_days(-366).unwrap_or(a.signed_on)
        || a.term_start > a.signed_on.add_days(366).unwrap_or(a.signed_on)
    {
        return Err(RuleViolation::InvalidDates(
            "the term must start within a year of signing".into(),
        ));
    }
    c.term_months(a.term_start, a.term_end)?;
    // Late filing is flagged, not refused; but an agreement signed
    // longer ago than the longest term is not filed as new.
    c.window_months(
        "signed_on",
        a.signed_on,
        c.profile.max_term_months,
        "an agreement is filed after it is signed, and no later than the longest term allows",
        c.profile.filing_citation,
    )?;
    let mut parties_ok = a.parties.contains(&signer.id) || signer.role == Role::DataAuthority;
    for p in &a.parties {
        c.active_participant(p)?;
    }
    let grantee = c.active_participant(&a.grantee)?;
    parties_ok |= a.grantee == signer.id;
    if !parties_ok {
        return Err(not_entitled(
            format!(
                "{} may not file agreement {}: the filer must be a party, the grantee or a data authority",
                signer.id, a.id
            ),
            reg::REGISTERED_OR_FILED,
        ));
    }
    for rid in &a.scope {
        let r = c.resource(rid)?;
        if r.status != Status::Active {
            return Err(RuleViolation::InvalidTransition {
                what: "resource",
                id: rid.clone(),
                from: r.status.name().into(),
                action: "be authorized",
            });
        }
    }
    let derived = matches!(
        a.agreement_type,
        AgreementType::SceneAuthorization | AgreementType::CatalogAuthorization
    );
    match (&a.parent, derived) {
        (Some(parent), true) => derived_grant(c, signer, &a, parent, &grantee)?,
        (None, true) => {
            return Err(RuleViolation::AuthorizationNotActive {
                agreement: a.id.clone(),
                why: "a scene or catalog authorization must name the operation agreement it derives from (parent)".into(),
            });
        }
        (Some(_), false) => {
            return Err(RuleViolation::MalformedPayload(
                "only a scene or catalog authorization derives from a parent".into(),
            ));
        }
        (None, false) => root_grant(c, env, signer, &a, &grantee)?,
    }
    let cit = c.profile.filing_citation;
    c.deadline(
        FlagCode::FilingLate,
        &a.id,
        a.signed_on,
        c.profile.filing_working_days,
        today,
        cit,
    );
    c.subject(&a.id);
    for p in a.parties.iter().chain(std::iter::once(&a.grantee)) {
        c.subject(p);
    }
    c.put(
        StateKey::Agreement(a.id.clone()),
        StateObject::Agreement(AgreementState {
            fields: a,
            status: Status::Active,
            status_index: idx,
            filed_index: idx,
            filed_on: today,
            ended_on: None,
            retain_logs_until: None,
            logs_pruned_through: None,
        }),
    );
    Ok(())
}

/// agreement_amended changes an unterminated agreement's scope or document,
/// by a data authority or an implementing agency party to it.
pub(super) fn agreement_amended<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let today = c.today;
    let m: AgreementAmend = parse(env)?;
    check_text("reason", &m.reason)?;
    check_digest_pair(c, "document", &m.document_digest, &m.document_blake3, true)?;
    let mut a = c.agreement(&m.id)?;
    c.agreement_actor(signer, &a, "amend")?;
    if a.status == Status::Terminated {
        return Err(RuleViolation::InvalidTransition {
            what: "agreement",
            id: m.id,
            from: "terminated".into(),
            action: "amend",
        });
    }
    c.window_months(
        "amended_on",
        m.amended_on,
        c.profile.max_term_months,
        "an amendment is filed after it is made, and no later than the longest term allows",
        c.profile.filing_citation,
    )?;
    if m.amended_on < a.fields.signed_on {
        return Err(RuleViolation::InvalidDates(
            "amended before the agreement was signed".into(),
        ));
    }
    // An orphan (its parent no longer in force) is not amended.
    let parent = match &a.fields.parent {
        Some(p) => Some(c.in_force(p, &[today])?.remove(0)),
        None => None,
    };
    if let Some(scope) = m.scope {
        check_list("scope", &scope)?;
        for rid in &scope {
            let r = c.resource(rid)?;
            if r.status != Status::Active {
                return Err(RuleViolation::InvalidTransition {
                    what: "resource",
                    id: rid.clone(),
                    from: r.status.name().into(),
                    action: "be authorized",
                });
            }
            if let Some(pa) = &parent {
                if !pa.fields.scope.contains(rid) {
                    return Err(not_entitled(
                        format!("resource {rid} is not in the scope of {}", pa.fields.id),
                        cite!(xian, "第八条（不得超范围使用）"),
                    ));
                }
            }
        }
        a.fields.scope = scope;
    }
    a.fields.document_digest = m.document_digest;
    a.fields.document_blake3 = m.document_blake3;
    let cit = c.profile.filing_citation;
    c.deadline(
        FlagCode::FilingLate,
        &a.fields.id.clone(),
        m.amended_on,
        c.profile.filing_working_days,
        today,
        cit,
    );
    c.subject(&m.id);
    c.put(StateKey::Agreement(m.id.clone()), StateObject::Agreement(a));
    Ok(())
}

/// agreement_renewed extends an unterminated agreement's term before it ends,
/// within the profile's limit and never past a parent's term.
pub(super) fn agreement_renewed<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let today = c.today;
    let rn: AgreementRenewal = parse(env)?;
    check_digest_pair(
        c,
        "document",
        &rn.document_digest,
        &rn.document_blake3,
        true,
    )?;
    let mut a = c.agreement(&rn.id)?;
    c.agreement_actor(signer, &a, "renew")?;
    if a.status == Status::Terminated {
        return Err(RuleViolation::InvalidTransition {
            what: "agreement",
            id: rn.id,
            from: "terminated".into(),
            action: "renew (terminated agreements stay terminated)",
        });
    }
    c.window_months(
        "applied_on",
        rn.applied_on,
        RENEWAL_APPLICATION_MONTHS,
        "a renewal is logged within a year of the application",
        if c.profile.renewal_citation.is_empty() {
            reg::RENEWAL
        } else {
            c.profile.renewal_citation
        },
    )?;
    if rn.applied_on > a.fields.term_end {
        return Err(RuleViolation::DateOutOfBounds {
            what: "applied_on",
            date: rn.applied_on,
            earliest: date_months_before(today, RENEWAL_APPLICATION_MONTHS),
            latest: a.fields.term_end,
            why: "renewal is agreed before the term ends (协议期满之前); an expired agreement is authorized anew",
            citation: cite!(guangxi, "第十二条第（三）项（协议期满之前，双方可协商确定是否续签）"),
        });
    }
    if rn.new_term_end <= a.fields.term_end {
        return Err(RuleViolation::InvalidDates(
            "a renewal must extend the term".into(),
        ));
    }
    let new_start = a
        .fields
        .term_end
        .add_days(1)
        .ok_or_else(|| RuleViolation::InvalidDates("term end out of range".into()))?;
    c.term_months(new_start, rn.new_term_end)?;
    if let Some(parent) = &a.fields.parent {
        // A derived authorization never outlives its parent.
        let chain = c.in_force(parent, &[today])?;
        let end = chain
            .iter()
            .map(|p| p.fields.term_end)
            .min()
            .unwrap_or(today);
        if rn.new_term_end > end {
            return Err(RuleViolation::AuthorizationNotActive {
                agreement: parent.clone(),
                why: format!(
                    "the renewed term would end {} after the parent's {end}: a derived authorization never outlives its parent",
                    rn.new_term_end
                ),
            });
        }
    }
    if let Some((lo, hi)) = c.profile.renewal_window_months {
        // Shuozhou §8: apply 3–6 months before expiry.
        let end = a.fields.term_end;
        let earliest = date_months_before(end, hi);
        let latest = date_months_before(end, lo);
        if rn.applied_on < earliest || rn.applied_on > latest {
            c.fx.flags.push(Flag {
                code: FlagCode::RenewalOutsideWindow,
                subject: rn.id.clone(),
                due: latest,
                done: rn.applied_on,
                working_days_late: 0,
                provisional: false,
                citation: c.profile.renewal_citation.into(),
            });
        }
    }
    a.fields.term_end = rn.new_term_end;
    a.fields.document_digest = rn.document_digest;
    a.fields.document_blake3 = rn.document_blake3;
    c.subject(&rn.id);
    c.put(
        StateKey::Agreement(rn.id.clone()),
        StateObject::Agreement(a),
    );
    Ok(())
}

/// agreement_suspended_or_resumed suspends an active agreement or resumes a
/// suspended one.
pub(super) fn agreement_suspended_or_resumed<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let idx = c.entry.index;
    let kind = c.kind;
    let sc: StatusChange = parse(env)?;
    check_text("reason", &sc.reason)?;
    let mut a = c.agreement(&sc.id)?;
    let (from, to, action) = if kind == EntryKind::AgreementSuspended {
        (Status::Active, Status::Suspended, "suspend")
    } else {
        (Status::Suspended, Status::Active, "resume")
    };
    c.agreement_actor(signer, &a, action)?;
    if a.status != from {
        return Err(RuleViolation::InvalidTransition {
            what: "agreement",
            id: sc.id,
            from: a.status.name().into(),
            action,
        });
    }
    c.window(
        "effective_on",
        sc.effective_on,
        RECORDING_DAYS,
        "a suspension or resumption is logged within 14 days, and never ahead",
        reg::SUSPENSION,
    )?;
    a.status = to;
    a.status_index = idx;
    c.subject(&sc.id);
    c.put(
        StateKey::Agreement(sc.id.clone()),
        StateObject::Agreement(a),
    );
    Ok(())
}

/// agreement_terminated ends an agreement and sets the date until which its
/// operation logs must be kept.
pub(super) fn agreement_terminated<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let idx = c.entry.index;
    let t: Termination = parse(env)?;
    check_text("detail", &t.detail)?;
    let mut a = c.agreement(&t.id)?;
    c.agreement_actor(signer, &a, "terminate")?;
    if a.status == Status::Terminated {
        return Err(RuleViolation::InvalidTransition {
            what: "agreement",
            id: t.id,
            from: "terminated".into(),
            action: "terminate",
        });
    }
    if t.effective_on < a.fields.term_start {
        return Err(RuleViolation::InvalidDates(
            "termination before the term starts".into(),
        ));
    }
    // No termination ahead of time (it takes effect when logged),
    // and none dated so far back that its log retention would
    // already have run out on the day it is logged.
    c.window_months(
        "effective_on",
        t.effective_on,
        c.profile.retention_months,
        "a termination is logged before its log retention period has run out, and never ahead",
        c.profile.retention_citation,
    )?;
    let ended = t.effective_on.min(a.fields.term_end);
    a.status = Status::Terminated;
    a.status_index = idx;
    a.ended_on = Some(ended);
    // Logs are kept at least N months after the end (Guangxi Art. 12(3), Chengdu Art. 26).
    a.retain_logs_until = ended.add_months(c.profile.retention_months);
    c.subject(&t.id);
    c.put(StateKey::Agreement(t.id.clone()), StateObject::Agreement(a));
    Ok(())
}

/// derived_grant checks a scene or catalog authorization `a` derived from
/// agreement `parent`: only an operation agreement in force is passed on,
/// by its grantee (or a data authority), to a business entity, within the
/// parent's scope and term.
fn derived_grant<S: StateReader + ?Sized>(
    c: &Ctx<'_, S>,
    signer: &ParticipantState,
    a: &Agreement,
    parent: &str,
    grantee: &ParticipantState,
) -> R<()> {
    // A scene or catalog authorization is granted by the
    // operator out of its own operation agreement: the
    // operator holding the parent files it, is a party to
    // it, grants no resource the parent does not, and the
    // grant never outlives the parent (无授权不运营).
    let citation = if a.agreement_type == AgreementType::SceneAuthorization {
        reg::SCENE_AUTHORIZATION
    } else {
        reg::CATALOG_AUTHORIZATION
    };
    let chain = c.in_force(parent, &[c.today])?;
    let pa = &chain[0];
    if pa.fields.agreement_type != AgreementType::OperationAgreement {
        return Err(not_entitled(
            format!(
                "{} derives from {parent}, which is not an operation agreement: an authorization is not passed on (不得转移、转让)",
                a.id
            ),
            cite!(xian, "第八条"),
        ));
    }
    if signer.role != Role::DataAuthority && signer.id != pa.fields.grantee {
        return Err(not_entitled(
            format!(
                "{} may not grant {} under {parent}: only its grantee {} (or a data authority) may",
                signer.id, a.id, pa.fields.grantee
            ),
            citation,
        ));
    }
    let holder = &pa.fields.grantee;
    if a.grantee != *holder && !a.parties.contains(holder) {
        return Err(not_entitled(
            format!(
                "the operator {} holding {parent} must be a party to {}",
                pa.fields.grantee, a.id
            ),
            citation,
        ));
    }
    if grantee.role != Role::BusinessEntity {
        return Err(not_entitled(
            format!(
                "the grantee {} of {} is not a business entity: the operator does not redevelop what it delivers",
                grantee.id, a.id
            ),
            reg::NO_REDEVELOPMENT,
        ));
    }
    if let Some(rid) = a.scope.iter().find(|r| !pa.fields.scope.contains(r)) {
        return Err(not_entitled(
            format!("resource {rid} is not in the scope of {parent}"),
            cite!(xian, "第八条（不得超范围使用）"),
        ));
    }
    if a.term_end > pa.fields.term_end || a.term_start < pa.fields.term_start {
        return Err(RuleViolation::AuthorizationNotActive {
            agreement: parent.to_string(),
            why: "the derived term exceeds the parent's".into(),
        });
    }
    Ok(())
}

/// root_grant checks an agreement that derives from none: an operation
/// agreement or implementation plan is signed (or co-signed) by its
/// grantor, and an operation agreement's grantee is an operator.
fn root_grant<S: StateReader + ?Sized>(
    c: &Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
    a: &Agreement,
    grantee: &ParticipantState,
) -> R<()> {
    // A root grant is made by the grantor: a data
    // authority, or an implementing agency party to it,
    // signs (or co-signs) it; the grantee alone cannot
    // authorize itself.
    if matches!(
        a.agreement_type,
        AgreementType::OperationAgreement | AgreementType::ImplementationPlan
    ) {
        let grantor = c.signers(env).into_iter().any(|p| {
            p.role == Role::DataAuthority
                || (p.role == Role::ImplementingAgency && a.parties.contains(&p.id))
        });
        if !grantor {
            return Err(not_entitled(
                format!(
                    "{} must be signed by a data authority or an implementing agency party to it, not only by {}",
                    a.id, signer.id
                ),
                reg::OPERATION_AGREEMENT,
            ));
        }
    }
    if a.agreement_type == AgreementType::OperationAgreement && grantee.role != Role::Operator {
        return Err(not_entitled(
            format!(
                "the grantee {} of operation agreement {} is not an operator",
                grantee.id, a.id
            ),
            reg::OPERATION_AGREEMENT,
        ));
    }
    Ok(())
}
