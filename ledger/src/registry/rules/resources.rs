//! Public data resources (公共数据资源登记): first registration, change,
//! correction and deregistration, by the data source unit that holds them
//! or a data authority.

use super::checks::*;
use crate::entry::envelope::Envelope;
use crate::registry::ident::{check_id, check_name, check_text};
use crate::registry::regulations as reg;
use crate::registry::*;

/// resource_registered registers a public data resource held by a data
/// source unit (which registers only its own).
pub(super) fn resource_registered<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let idx = c.entry.index;
    let r: Resource = parse(env)?;
    check_id("id", &r.id)?;
    for (w, v) in [
        ("name", &r.name),
        ("catalog_id", &r.catalog_id),
        ("grade", &r.grade),
        ("format", &r.format),
        ("update_frequency", &r.update_frequency),
        ("scale", &r.scale),
    ] {
        check_name(w, v)?;
    }
    if c.get(&StateKey::Resource(r.id.clone())).is_some() {
        return Err(RuleViolation::Duplicate {
            what: "resource",
            id: r.id,
        });
    }
    let holder = c.active_participant(&r.holder)?;
    if holder.role != Role::DataSourceUnit {
        return Err(not_entitled(
            format!("holder {} is not a data source unit", holder.id),
            reg::RESOURCE_REGISTRATION,
        ));
    }
    if signer.role == Role::DataSourceUnit && signer.id != holder.id {
        return Err(not_entitled(
            format!(
                "{} may not register a resource held by {}: a data source unit registers only its own resources",
                signer.id, holder.id
            ),
            reg::RESOURCE_REGISTRATION,
        ));
    }
    c.subject(&r.id);
    c.subject(&r.holder);
    c.put(
        StateKey::Resource(r.id.clone()),
        StateObject::Resource(ResourceState {
            fields: r,
            status: Status::Active,
            registered_index: idx,
            last_index: idx,
        }),
    );
    Ok(())
}

/// resource_changed changes or corrects an active resource's fields.
pub(super) fn resource_changed<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let idx = c.entry.index;
    let ch: ResourceChange = parse(env)?;
    check_text("reason", &ch.reason)?;
    let mut r = c.resource(&ch.id)?;
    if signer.role == Role::DataSourceUnit && signer.id != r.fields.holder {
        return Err(not_entitled(
            format!(
                "{} may not change resource {} held by {}: a data source unit changes only its own resources",
                signer.id, ch.id, r.fields.holder
            ),
            reg::RESOURCE_REGISTRATION,
        ));
    }
    if r.status != Status::Active {
        return Err(RuleViolation::InvalidTransition {
            what: "resource",
            id: ch.id,
            from: r.status.name().into(),
            action: "change",
        });
    }
    for (w, v) in [
        ("name", &ch.name),
        ("grade", &ch.grade),
        ("format", &ch.format),
        ("update_frequency", &ch.update_frequency),
        ("scale", &ch.scale),
    ] {
        if let Some(v) = v {
            check_name(w, v)?;
        }
    }
    macro_rules! set {
        ($f:ident) => {
            if let Some(v) = ch.$f {
                r.fields.$f = v;
            }
        };
    }
    set!(name);
    set!(grade);
    set!(open_attribute);
    set!(format);
    set!(update_frequency);
    set!(scale);
    r.last_index = idx;
    c.subject(&r.fields.id.clone());
    c.put(
        StateKey::Resource(r.fields.id.clone()),
        StateObject::Resource(r),
    );
    Ok(())
}

/// resource_deregistered deregisters an active resource.
pub(super) fn resource_deregistered<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let idx = c.entry.index;
    let d: IdReason = parse(env)?;
    check_text("reason", &d.reason)?;
    let mut r = c.resource(&d.id)?;
    if signer.role == Role::DataSourceUnit && signer.id != r.fields.holder {
        return Err(not_entitled(
            format!(
                "{} may not deregister resource {} held by {}: a data source unit deregisters only its own resources",
                signer.id, d.id, r.fields.holder
            ),
            reg::RESOURCE_REGISTRATION,
        ));
    }
    if r.status != Status::Active {
        return Err(RuleViolation::InvalidTransition {
            what: "resource",
            id: d.id,
            from: r.status.name().into(),
            action: "deregister",
        });
    }
    r.status = Status::Deregistered;
    r.last_index = idx;
    c.subject(&d.id);
    c.put(StateKey::Resource(d.id.clone()), StateObject::Resource(r));
    Ok(())
}
