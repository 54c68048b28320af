//! Catalog authorization e-credentials (目录授权电子凭证), issued under a
//! catalog authorization in force.

use super::checks::*;
use super::RECORDING_DAYS;
use crate::entry::envelope::Envelope;
use crate::registry::ident::{check_name, check_number};
use crate::registry::regulations as reg;
use crate::registry::*;

/// catalog_credential_issued issues a catalog authorization e-credential
/// under an agreement in force, to its grantee, within its term.
pub(super) fn catalog_credential_issued<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let today = c.today;
    let cr: CatalogCredential = parse(env)?;
    check_number(
        "credential_no",
        &cr.credential_no,
        reg::CATALOG_AUTHORIZATION,
    )?;
    for (w, v) in [
        ("grantee_name", &cr.grantee_name),
        ("scope", &cr.scope),
        ("issuer", &cr.issuer),
    ] {
        check_name(w, v)?;
    }
    if c.get(&StateKey::Credential(cr.credential_no.clone()))
        .is_some()
    {
        return Err(RuleViolation::Duplicate {
            what: "credential",
            id: cr.credential_no,
        });
    }
    c.window(
        "issued_on",
        cr.issued_on,
        RECORDING_DAYS,
        "a credential is logged within 14 days of issue, and never ahead",
        reg::CATALOG_AUTHORIZATION,
    )?;
    let chain = c.in_force(&cr.agreement_id, &[today, cr.issued_on])?;
    if !entitled(signer, &chain, &[Role::ImplementingAgency, Role::Operator]) {
        return Err(not_entitled(
            format!(
                "{} may not issue a credential under {}: only a data authority or a party to it (or to its parent) may",
                signer.id, cr.agreement_id
            ),
            reg::CATALOG_AUTHORIZATION,
        ));
    }
    let a = &chain[0];
    let grantee = c.participant(&a.fields.grantee)?;
    if grantee.name != cr.grantee_name {
        return Err(not_entitled(
            format!(
                "grantee_name is not the registered name of {}, the grantee of {}",
                grantee.id, cr.agreement_id
            ),
            reg::CATALOG_AUTHORIZATION,
        ));
    }
    if cr.valid_until > a.fields.term_end
        || cr.valid_from < a.fields.term_start
        || cr.valid_until < cr.valid_from
    {
        return Err(RuleViolation::InvalidDates(
            "the credential's validity must lie within the agreement's term".into(),
        ));
    }
    c.subject(&cr.credential_no);
    c.subject(&cr.agreement_id);
    c.put(
        StateKey::Credential(cr.credential_no.clone()),
        StateObject::Credential(cr),
    );
    Ok(())
}
