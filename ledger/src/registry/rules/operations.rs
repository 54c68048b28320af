//! What happens under an authorization: operation events (操作日志/调用日志,
//! the hot path) and attestations that data was destroyed at the end.

use super::checks::*;
use super::RECORDING_DAYS;
use crate::entry::envelope::Envelope;
use crate::registry::calendar::Date;
use crate::registry::ident::{check_name, check_text};
use crate::registry::regulations as reg;
use crate::registry::*;

/// data_destruction_attested records that the data of an agreement or a
/// product was destroyed, attested by a party to it.
pub(super) fn data_destruction_attested<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let d: DestructionAttestation = parse(env)?;
    check_text("method", &d.method)?;
    check_digest_pair(c, "evidence", &d.evidence_digest, &d.evidence_blake3, true)?;
    // Who destroyed the data attests it: the parties to the
    // agreement (or the operator above it), or, for a product, its
    // business entity or operator; a data authority always may.
    let entitled = if let Some(StateObject::Agreement(a)) =
        c.get(&StateKey::Agreement(d.subject_id.clone()))
    {
        let chain = c.chain(&a.fields.id)?;
        entitled(signer, &chain, &[Role::Operator, Role::BusinessEntity])
    } else if let Some(StateObject::Product(p)) = c.get(&StateKey::Product(d.subject_id.clone())) {
        p.approval.business_entity == signer.id
            || entitled(signer, &c.product_chain(&p)?, &[Role::Operator])
    } else {
        return Err(RuleViolation::MissingStep {
            what: "agreement or product",
            id: d.subject_id,
            missing: "has not been filed or approved",
            step: "agreement-filed (or product-approved)",
            citation: reg::TERMINATION,
        });
    };
    if !entitled {
        return Err(not_entitled(
            format!(
                "{} may not attest destruction of the data of {}: it is no party to it",
                signer.id, d.subject_id
            ),
            reg::TERMINATION,
        ));
    }
    c.window(
        "attested_on",
        d.attested_on,
        RECORDING_DAYS,
        "an attestation is logged within 14 days, and never ahead",
        reg::TERMINATION,
    )?;
    c.subject(&d.subject_id);
    Ok(())
}

/// operation_event records an operation under an agreement the signer is a
/// party to; one outside an authorization in force is recorded and flagged
/// `operation-without-authorization` (无授权不运营).
pub(super) fn operation_event<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
    signer: &ParticipantState,
) -> R<()> {
    let ev: OperationEvent = parse(env)?;
    check_name("actor", &ev.actor)?;
    check_list("personal_data_commitments", &ev.personal_data_commitments)?;
    for cm in &ev.personal_data_commitments {
        check_digest("personal data commitment", cm)?;
    }
    let chain = c
        .chain(&ev.agreement_id)
        .map_err(|_| RuleViolation::MissingStep {
            what: "agreement",
            id: ev.agreement_id.clone(),
            missing: "has not been filed",
            step: "agreement-filed",
            citation: reg::REGISTERED_OR_FILED,
        })?;
    if !chain.iter().any(|a| is_party(a, &signer.id)) {
        return Err(not_entitled(
            format!(
                "{} is not a party to {} (or to its parent)",
                signer.id, ev.agreement_id
            ),
            reg::OPERATION_LOGS,
        ));
    }
    let on = Date::from_unix_ms(ev.occurred_at_ms)
        .ok_or_else(|| RuleViolation::InvalidDates("occurred_at_ms out of range".into()))?;
    // A record of an operation is worth logging as long as the logs
    // of its agreement must be kept: the longest term plus the
    // retention period after it.
    c.window_months(
        "occurred_at_ms",
        on,
        c.profile.max_term_months + c.profile.retention_months,
        "an operation is logged after it happens, within the longest term plus the log retention period",
        c.profile.retention_citation,
    )?;
    // Operations outside an authorization in force (up its whole
    // chain) are recorded, since the log is the evidence, but
    // flagged: 无授权不运营.
    if chain_in_force(&ev.agreement_id, &chain, &[on]).is_err() {
        let a = &chain[0];
        c.fx.flags.push(Flag {
            code: FlagCode::OperationWithoutAuthorization,
            subject: ev.agreement_id.clone(),
            due: a.ended_on.unwrap_or(a.fields.term_end),
            done: on,
            working_days_late: 0,
            provisional: false,
            citation: reg::NO_AUTHORIZATION_NO_OPERATION.into(),
        });
    }
    if let Some(pid) = &ev.product_id {
        let p = c.product(pid)?;
        // Most events name the product's own authorization: no walk needed.
        let under = p.approval.authorization == ev.agreement_id
            || c.product_chain(&p)?
                .iter()
                .any(|a| a.fields.id == ev.agreement_id);
        if !under {
            return Err(not_entitled(
                format!(
                    "product {pid} is not authorized under {} (its authorization is {})",
                    ev.agreement_id, p.approval.authorization
                ),
                reg::OPERATION_LOGS,
            ));
        }
        c.subject(pid);
    }
    c.subject(&ev.agreement_id);
    Ok(())
}

/// retention_pruned checks a data authority's prune of an agreement's
/// operation logs (the role is checked by the kinds table): the agreement
/// ended (terminated, or its term over without renewal) and its log
/// retention has run out on the day the prune is logged — Guangxi Art.
/// 12(3) at least 6 months after it ends, Chengdu Art. 26 at least 1 year,
/// months counted as [`Date::add_months`] counts them — and the entries
/// named are canonical, before this one, after the filing and after any
/// earlier prune of it (a second prune of the same entries is refused, not
/// a no-op: the log keeps one signed act per gap). That each named entry
/// is an operation event of the agreement is a fact of the log's history,
/// not of the state: the node and the mirror check it with
/// [`check_prune_scope`] against the envelopes they hold.
pub(super) fn retention_pruned<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
) -> R<()> {
    let p: RetentionPruned = parse(env)?;
    let idx = c.entry.index;
    if p.entries.is_empty() || p.entries.len() > MAX_PRUNE_ENTRIES {
        return Err(RuleViolation::MalformedPayload(format!(
            "entries names 1..={MAX_PRUNE_ENTRIES} entry indexes (prune a longer history in several entries)"
        )));
    }
    if p.entries.windows(2).any(|w| w[0] >= w[1]) {
        return Err(RuleViolation::MalformedPayload(
            "entries must be strictly increasing".into(),
        ));
    }
    let last = *p.entries.last().expect("not empty");
    if last >= idx {
        return Err(RuleViolation::MalformedPayload(format!(
            "entries must be before this entry ({idx}); {last} is not"
        )));
    }
    let mut a = c.agreement(&p.agreement_id)?;
    let first = p.entries[0];
    if first <= a.filed_index {
        return Err(RuleViolation::NotPrunable {
            index: first,
            why: format!(
                "it precedes the filing of {} (entry {}): it is no operation event of it",
                p.agreement_id, a.filed_index
            ),
        });
    }
    if let Some(through) = a.logs_pruned_through {
        if first <= through {
            return Err(RuleViolation::NotPrunable {
                index: first,
                why: format!(
                    "the operation logs of {} are pruned through entry {through} already: a prune names only later entries",
                    p.agreement_id
                ),
            });
        }
    }
    let (ended, until) = match (a.status, a.ended_on, a.retain_logs_until) {
        (Status::Terminated, Some(end), Some(until)) => (end, until),
        // A term that ran out without renewal ended on its last day (a
        // renewal is applied for before the term ends, 协议期满之前).
        _ if a.fields.term_end < c.today => {
            let end = a.fields.term_end;
            let until = end
                .add_months(c.profile.retention_months)
                .ok_or_else(|| RuleViolation::InvalidDates("retention out of range".into()))?;
            (end, until)
        }
        _ => {
            return Err(RuleViolation::InvalidTransition {
                what: "agreement",
                id: p.agreement_id.clone(),
                from: a.status.name().into(),
                action: "prune its operation logs (it has not ended: terminate it, or wait for its term to end)",
            })
        }
    };
    if c.today < until {
        return Err(RuleViolation::RetentionNotOver {
            agreement: p.agreement_id.clone(),
            ended,
            until,
            citation: c.profile.retention_citation,
        });
    }
    a.logs_pruned_through = Some(last);
    c.subject(&p.agreement_id);
    c.put(
        StateKey::Agreement(p.agreement_id.clone()),
        StateObject::Agreement(a),
    );
    Ok(())
}

/// check_prune_scope checks one entry a prune names, against the envelope
/// of entry `index` as the checker holds it (`None`: it holds none): it
/// must be an operation event of the prune's agreement. A registration
/// record — any other kind — is never pruned (the seeds' retention periods
/// are for operation logs; registration records are what the log is for),
/// and an envelope already gone cannot be pruned again.
///
/// # Errors
///
/// [`RuleViolation::NotPrunable`], saying what the entry is.
pub fn check_prune_scope(
    p: &RetentionPruned,
    index: u64,
    envelope: Option<&Envelope>,
) -> Result<(), RuleViolation> {
    let not = |why: String| RuleViolation::NotPrunable { index, why };
    let Some(env) = envelope else {
        return Err(not(
            "its envelope is not held (pruned already, or never logged)".into(),
        ));
    };
    let kind = env.kind_name().unwrap_or("?");
    if kind != EntryKind::OperationEvent.name() {
        return Err(not(format!(
            "it is a {kind}: only operation events are pruned, registration records never"
        )));
    }
    match serde_json::from_slice::<OperationEvent>(&env.payload) {
        Ok(ev) if ev.agreement_id == p.agreement_id => Ok(()),
        Ok(ev) => Err(not(format!(
            "it is an operation event of {}, not of {}",
            ev.agreement_id, p.agreement_id
        ))),
        Err(e) => Err(not(format!("its operation event does not parse: {e}"))),
    }
}
