//! Data products: approval, public notice, registration (the 数据产品登记证书
//! and its 区块链编号), change, suspension, resumption, revocation and
//! deregistration, by the operator party to the product's authorization.

use super::checks::*;
use super::{RECORDING_DAYS, SAME_DAY_GRACE_DAYS};
use crate::entry::envelope::Envelope;
use crate::registry::ident::{check_id, check_name, check_text};
use crate::registry::regulations as reg;
use crate::registry::*;

/// REVIEW_DAYS bounds how long before its approval a review may say it was
/// applied for (the review clock of Xi'an Art. 23 / Guangxi Art. 10 is 3
/// working days; a year is far beyond any late review).
const REVIEW_DAYS: i64 = 366;

/// product_approved records a product's approval under an authorization in
/// force, for a business entity party to it; a review later than the
/// profile allows is flagged `review-late`.
pub(super) fn product_approved<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let idx = c.entry.index;
    let today = c.today;
    let ap: ProductApproval = parse(env)?;
    check_id("product_id", &ap.product_id)?;
    check_name("product_name", &ap.product_name)?;
    if c.get(&StateKey::Product(ap.product_id.clone())).is_some() {
        return Err(RuleViolation::Duplicate {
            what: "product",
            id: ap.product_id,
        });
    }
    let be = c.active_participant(&ap.business_entity)?;
    if !matches!(be.role, Role::BusinessEntity | Role::Operator) {
        return Err(RuleViolation::WrongParty(format!(
            "{} is not a business entity or operator",
            be.id
        )));
    }
    c.window(
        "approved_on",
        ap.approved_on,
        RECORDING_DAYS,
        "an approval is logged within 14 days, and never ahead",
        reg::PRODUCT_REGISTRATION,
    )?;
    // In force on the day it is logged, not only on the day it claims.
    let chain = c.in_force(&ap.authorization, &[today, ap.approved_on])?;
    if !entitled(signer, &chain, &[Role::ImplementingAgency, Role::Operator]) {
        return Err(not_entitled(
            format!(
                "{} may not approve a product under {}: only a data authority or the operator party to it (or to its parent) may",
                signer.id, ap.authorization
            ),
            reg::PRODUCT_REGISTRATION,
        ));
    }
    if !is_party(&chain[0], &be.id) {
        return Err(not_entitled(
            format!(
                "business entity {} is neither grantee nor party of {}",
                be.id, ap.authorization
            ),
            reg::SCENE_AUTHORIZATION,
        ));
    }
    // Under a scene or catalog authorization the product is the
    // business entity's: the operator does not redevelop what it
    // delivered (its own products come under its operation agreement).
    if chain.len() > 1 && be.role == Role::Operator {
        return Err(not_entitled(
            format!(
                "operator {} may not be the business entity of a product under the derived authorization {}",
                be.id, ap.authorization
            ),
            reg::NO_REDEVELOPMENT,
        ));
    }
    if let Some(applied) = ap.applied_on {
        if applied > ap.approved_on {
            return Err(RuleViolation::InvalidDates("applied after approval".into()));
        }
        let earliest = ap
            .approved_on
            .add_days(-REVIEW_DAYS)
            .unwrap_or(ap.approved_on);
        if applied < earliest {
            return Err(RuleViolation::DateOutOfBounds {
                what: "applied_on",
                date: applied,
                earliest,
                latest: ap.approved_on,
                why: "a review is applied for at most a year before its approval",
                citation: c.profile.review_citation,
            });
        }
        let cit = c.profile.review_citation;
        c.deadline(
            FlagCode::ReviewLate,
            &ap.product_id,
            applied,
            c.profile.review_working_days,
            ap.approved_on,
            cit,
        );
    }
    c.subject(&ap.product_id);
    c.subject(&ap.business_entity);
    c.subject(&ap.authorization);
    c.put(
        StateKey::Product(ap.product_id.clone()),
        StateObject::Product(ProductState {
            approval: ap,
            approved_index: idx,
            notice_opened_on: None,
            open_objections: 0,
            registration: None,
            status: Status::Approved,
            status_index: idx,
        }),
    );
    Ok(())
}

/// public_notice_opened opens the public notice of an approved product, on
/// the day it is logged.
pub(super) fn public_notice_opened<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let n: PublicNotice = parse(env)?;
    let mut p = c.product(&n.product_id)?;
    c.operator_of(
        signer,
        &p,
        &[Role::ImplementingAgency, Role::Operator],
        "open a public notice for",
        reg::PUBLIC_NOTICE,
    )?;
    if p.status != Status::Approved || p.notice_opened_on.is_some() {
        return Err(RuleViolation::InvalidTransition {
            what: "product",
            id: n.product_id,
            from: p.status.name().into(),
            action: "open a public notice",
        });
    }
    // The public sees a notice from the day it is logged: one dated
    // earlier would shorten the 10 days nobody could object in.
    c.window(
        "opened_on",
        n.opened_on,
        SAME_DAY_GRACE_DAYS,
        "a public notice opens on the day it is logged",
        reg::PUBLIC_NOTICE,
    )?;
    if n.opened_on < p.approval.approved_on {
        return Err(RuleViolation::InvalidDates(
            "notice opened before approval".into(),
        ));
    }
    p.notice_opened_on = Some(n.opened_on);
    c.subject(&n.product_id);
    c.put(
        StateKey::Product(n.product_id.clone()),
        StateObject::Product(p),
    );
    Ok(())
}

/// product_registered issues the 数据产品登记证书: an approved product, its
/// notice run and no objection open, registered by the operator under an
/// authorization in force (its 区块链编号 is derived from the entry's index
/// and leaf hash when shown, never stored: D15). Registering
/// later than the profile allows is flagged `registration-late`.
pub(super) fn product_registered<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let idx = c.entry.index;
    let today = c.today;
    let reg_: ProductRegistration = parse(env)?;
    super::ident::check_registration_no(&reg_.registration_no)?;
    for (w, v) in [
        ("certificate_name", &reg_.certificate_name),
        ("product_name", &reg_.product_name),
        ("product_type", &reg_.product_type),
        ("business_entity_name", &reg_.business_entity_name),
        ("update_cycle", &reg_.update_cycle),
    ] {
        check_name(w, v)?;
    }
    check_scenarios(&reg_.scenarios)?;
    let mut p = c.product(&reg_.product_id)?;
    c.operator_of(
        signer,
        &p,
        &[Role::Operator],
        "register",
        reg::PRODUCT_REGISTRATION,
    )?;
    if p.status != Status::Approved {
        return Err(RuleViolation::InvalidTransition {
            what: "product",
            id: reg_.product_id,
            from: p.status.name().into(),
            action: "register",
        });
    }
    if c.get(&StateKey::RegistrationNo(reg_.registration_no.clone()))
        .is_some()
    {
        return Err(RuleViolation::DuplicateRegistrationNo(reg_.registration_no));
    }
    if reg_.business_entity != p.approval.business_entity
        || reg_.authorization != p.approval.authorization
    {
        return Err(not_entitled(
            format!(
                "business entity and authorization must be those approved: product {} was approved for {} under {} (product-approved, entry {})",
                reg_.product_id,
                p.approval.business_entity,
                p.approval.authorization,
                p.approved_index
            ),
            reg::PRODUCT_REGISTRATION,
        ));
    }
    let be = c.active_participant(&reg_.business_entity)?;
    if be.name != reg_.business_entity_name {
        return Err(not_entitled(
            format!(
                "business_entity_name is not the registered name of {}",
                be.id
            ),
            reg::PRODUCT_REGISTRATION,
        ));
    }
    // The certificate's 登记日期 is the day the platform issues it.
    c.window(
        "registered_on",
        reg_.registered_on,
        SAME_DAY_GRACE_DAYS,
        "a certificate is dated the day it is logged",
        reg::PRODUCT_REGISTRATION,
    )?;
    if reg_.registered_on < p.approval.approved_on {
        return Err(RuleViolation::InvalidDates(
            "registration date must not precede the approval".into(),
        ));
    }
    c.in_force(&reg_.authorization, &[today, reg_.registered_on])?;
    if p.approval.uses_non_public_data {
        let Some(opened) = p.notice_opened_on else {
            return Err(RuleViolation::NoticeMissing(reg_.product_id));
        };
        // Guangxi Art. 12(6): 10 natural days; the day it opens is day 1.
        let last = opened
            .add_days(i64::from(c.profile.notice_natural_days) - 1)
            .ok_or_else(|| RuleViolation::InvalidDates("notice date out of range".into()))?;
        if reg_.registered_on <= last || today <= last {
            return Err(RuleViolation::NoticePeriodOpen {
                product: reg_.product_id,
                until: last,
            });
        }
    }
    if p.open_objections > 0 {
        return Err(RuleViolation::ObjectionPending(reg_.product_id));
    }
    let cit = c.profile.registration_citation;
    c.deadline(
        FlagCode::RegistrationLate,
        &reg_.product_id,
        p.approval.approved_on,
        c.profile.registration_working_days,
        reg_.registered_on,
        cit,
    );
    c.subject(&reg_.product_id);
    c.subject(&reg_.registration_no);
    c.subject(&reg_.business_entity);
    c.put(
        StateKey::RegistrationNo(reg_.registration_no.clone()),
        StateObject::RegistrationNo(RegistrationNoState {
            product_id: reg_.product_id.clone(),
            status: Status::Active,
            status_index: idx,
        }),
    );
    let pid = reg_.product_id.clone();
    p.registration = Some(RegistrationState {
        fields: reg_,
        index: idx,
    });
    p.status = Status::Active;
    p.status_index = idx;
    c.put(StateKey::Product(pid), StateObject::Product(p));
    Ok(())
}

/// product_changed changes a registered product's name, update cycle or
/// scenarios.
pub(super) fn product_changed<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let ch: ProductChange = parse(env)?;
    check_text("reason", &ch.reason)?;
    let mut p = c.product(&ch.id)?;
    c.operator_of(signer, &p, &[Role::Operator], "change", reg::PRODUCT_ACTS)?;
    if p.status == Status::Approved {
        return Err(not_registered(&ch.id));
    }
    if !matches!(p.status, Status::Active | Status::Suspended) {
        return Err(RuleViolation::InvalidTransition {
            what: "product",
            id: ch.id,
            from: p.status.name().into(),
            action: "change",
        });
    }
    c.window(
        "effective_on",
        ch.effective_on,
        RECORDING_DAYS,
        "a change is logged within 14 days, and never ahead",
        reg::PRODUCT_REGISTRATION,
    )?;
    let reg_ = p
        .registration
        .as_mut()
        .expect("active products are registered");
    if let Some(v) = ch.product_name {
        check_name("product_name", &v)?;
        reg_.fields.product_name = v;
    }
    if let Some(v) = ch.update_cycle {
        check_name("update_cycle", &v)?;
        reg_.fields.update_cycle = v;
    }
    if let Some(v) = ch.scenarios {
        check_scenarios(&v)?;
        reg_.fields.scenarios = v;
    }
    let no = reg_.fields.registration_no.clone();
    c.subject(&ch.id);
    c.subject(&no);
    c.put(StateKey::Product(ch.id.clone()), StateObject::Product(p));
    Ok(())
}

/// product_status_changed suspends, resumes, revokes (撤销登记) or
/// deregisters (注销登记) a registered product.
pub(super) fn product_status_changed<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let idx = c.entry.index;
    let kind = c.kind;
    let sc: StatusChange = parse(env)?;
    check_text("reason", &sc.reason)?;
    let mut p = c.product(&sc.id)?;
    let (ok_from, to, action): (&[Status], Status, &'static str) = match kind {
        EntryKind::ProductSuspended => (&[Status::Active], Status::Suspended, "suspend"),
        EntryKind::ProductResumed => (&[Status::Suspended], Status::Active, "resume"),
        EntryKind::ProductRegistrationRevoked => (
            &[Status::Active, Status::Suspended],
            Status::Revoked,
            "revoke the registration of",
        ),
        _ => (
            &[Status::Active, Status::Suspended],
            Status::Deregistered,
            "deregister",
        ),
    };
    let citation = match kind {
        EntryKind::ProductSuspended | EntryKind::ProductResumed => reg::SUSPENSION,
        EntryKind::ProductRegistrationRevoked => reg::OBJECTIONS,
        _ => reg::EXIT,
    };
    c.operator_of(signer, &p, &[Role::Operator], action, reg::PRODUCT_ACTS)?;
    if p.status == Status::Approved {
        return Err(not_registered(&sc.id));
    }
    if !ok_from.contains(&p.status) {
        return Err(RuleViolation::InvalidTransition {
            what: "product",
            id: sc.id,
            from: p.status.name().into(),
            action,
        });
    }
    c.window(
        "effective_on",
        sc.effective_on,
        RECORDING_DAYS,
        "a status change is logged within 14 days, and never ahead",
        citation,
    )?;
    p.status = to;
    p.status_index = idx;
    let no = p
        .registration
        .as_ref()
        .map(|r| r.fields.registration_no.clone())
        .unwrap_or_default();
    c.subject(&sc.id);
    c.subject(&no);
    // The 登记号's status record follows the product's, so that the
    // status proof by 登记号 is one small record (D15). (Only registered
    // products reach here: `ok_from` holds no unregistered status.)
    if !no.is_empty() {
        c.put(
            StateKey::RegistrationNo(no),
            StateObject::RegistrationNo(RegistrationNoState {
                product_id: sc.id.clone(),
                status: to,
                status_index: idx,
            }),
        );
    }
    c.put(StateKey::Product(sc.id.clone()), StateObject::Product(p));
    Ok(())
}
