//! Objections to a product during and after its public notice: anyone
//! files one, the operator resolves it, and an open one blocks
//! registration.

use super::checks::*;
use super::RECORDING_DAYS;
use crate::entry::envelope::Envelope;
use crate::registry::ident::{check_id, check_name, check_text};
use crate::registry::regulations as reg;
use crate::registry::*;

/// objection_filed records an objection to a product not revoked or
/// deregistered; anyone may file one.
pub(super) fn objection_filed<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
) -> R<()> {
    let idx = c.entry.index;
    let o: Objection = parse(env)?;
    check_id("objection_id", &o.objection_id)?;
    check_text("grounds", &o.grounds)?;
    check_name("filer_name", &o.filer_name)?;
    check_digest_pair(c, "evidence", &o.evidence_digest, &o.evidence_blake3, false)?;
    if c.get(&StateKey::Objection(o.objection_id.clone()))
        .is_some()
    {
        return Err(RuleViolation::Duplicate {
            what: "objection",
            id: o.objection_id,
        });
    }
    let mut p = c.product(&o.product_id)?;
    if matches!(p.status, Status::Revoked | Status::Deregistered) {
        return Err(RuleViolation::InvalidTransition {
            what: "product",
            id: o.product_id,
            from: p.status.name().into(),
            action: "receive an objection",
        });
    }
    c.window(
        "filed_on",
        o.filed_on,
        RECORDING_DAYS,
        "an objection is logged within 14 days of receipt, and never ahead",
        reg::OBJECTIONS,
    )?;
    if o.filed_on < p.approval.approved_on {
        return Err(RuleViolation::InvalidDates(
            "objection filed before the product was approved".into(),
        ));
    }
    p.open_objections += 1;
    c.subject(&o.objection_id);
    c.subject(&o.product_id);
    c.put(
        StateKey::Product(o.product_id.clone()),
        StateObject::Product(p),
    );
    c.put(
        StateKey::Objection(o.objection_id.clone()),
        StateObject::Objection(ObjectionState {
            fields: o,
            filed_index: idx,
            resolution: None,
        }),
    );
    Ok(())
}

/// objection_resolved resolves an open objection, by the operator party to
/// the product's authorization; feedback later than the profile allows is
/// flagged `objection-feedback-late`.
pub(super) fn objection_resolved<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let r: ObjectionResolution = parse(env)?;
    check_text("reason", &r.reason)?;
    let Some(StateObject::Objection(mut o)) = c.get(&StateKey::Objection(r.objection_id.clone()))
    else {
        return Err(RuleViolation::MissingStep {
            what: "objection",
            id: r.objection_id,
            missing: "has not been filed",
            step: "objection-filed",
            citation: reg::OBJECTIONS,
        });
    };
    let mut p = c.product(&o.fields.product_id)?;
    // The operator or the business entity handles an objection
    // (Guangxi Art. 12(8)); an operator with no part in the
    // product's authorization does not.
    c.operator_of(
        signer,
        &p,
        &[Role::Operator],
        "resolve an objection to",
        reg::OBJECTIONS,
    )?;
    if o.resolution.is_some() {
        return Err(RuleViolation::InvalidTransition {
            what: "objection",
            id: r.objection_id,
            from: "resolved".into(),
            action: "resolve",
        });
    }
    c.window(
        "resolved_on",
        r.resolved_on,
        RECORDING_DAYS,
        "a resolution is logged within 14 days, and never ahead",
        reg::OBJECTIONS,
    )?;
    if r.resolved_on < o.fields.filed_on {
        return Err(RuleViolation::InvalidDates(
            "resolved before it was filed".into(),
        ));
    }
    p.open_objections = p.open_objections.saturating_sub(1);
    let cit = c.profile.objection_citation;
    c.deadline(
        FlagCode::ObjectionFeedbackLate,
        &r.objection_id,
        o.fields.filed_on,
        c.profile.objection_working_days,
        r.resolved_on,
        cit,
    );
    c.subject(&r.objection_id);
    c.subject(&o.fields.product_id);
    let pid = o.fields.product_id.clone();
    o.resolution = Some(r.clone());
    c.put(StateKey::Product(pid), StateObject::Product(p));
    c.put(
        StateKey::Objection(r.objection_id.clone()),
        StateObject::Objection(o),
    );
    Ok(())
}
