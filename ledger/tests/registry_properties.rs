//! Property tests of the registry rules: random sequences of entries drawn
//! from a pool of valid, invalid and conflicting acts (every party signing
//! every kind of act on overlapping subjects, in any order) never reach an
//! inconsistent state, refused entries change nothing, and `apply` is
//! deterministic.

use proptest::prelude::*;
use regledger::envelope::Envelope;
use regledger::registry::testkit::{replay, Party, Testkit, BASE_MS, DAY_MS, DOC};
use regledger::registry::{
    apply, EntryContext, EntryKind, MemoryState, StateKey, StateObject, StateReader, Status,
};
use regledger::{Hash, HashSuite};
use serde_json::json;

const ORIGIN: &str = "props.regledger.test/gx";

/// pool returns the acts a sequence is drawn from.
fn pool(kit: &Testkit) -> Vec<Envelope> {
    let mut v = Vec::new();
    let parties: [&Party; 6] = [
        &kit.authority,
        &kit.agency,
        &kit.source,
        &kit.operator,
        &kit.business,
        &kit.venue,
    ];
    for (n, p) in ["P-1", "P-2"].iter().enumerate() {
        for who in [&kit.operator, &kit.venue] {
            v.push(who.sign(
                EntryKind::ProductApproved,
                &json!({"product_id": p, "product_name": format!("产品{n}"), "business_entity": kit.business.id,
                        "authorization": "SA-1", "applied_on": "2025-03-10", "approved_on": "2025-03-12", "uses_non_public_data": n == 0}),
            ));
        }
        v.push(kit.operator.sign(
            EntryKind::PublicNoticeOpened,
            &json!({"product_id": p, "opened_on": "2025-03-13"}),
        ));
        for no in ["GXDP-2025-000001", "GXDP-2025-000002"] {
            v.push(kit.operator.sign(
                EntryKind::ProductRegistered,
                &json!({"product_id": p, "registration_no": no, "certificate_name": "数据产品登记证书",
                        "product_name": format!("产品{n}"), "product_type": "数据服务", "business_entity": kit.business.id,
                        "business_entity_name": kit.business.name, "update_cycle": "每日", "scenarios": ["公交出行规划"],
                        "registered_on": "2025-03-24", "authorization": "SA-1"}),
            ));
        }
        for (k, obj) in ["OBJ-1", "OBJ-2"].iter().enumerate() {
            let filer = parties[(n + k) % 6];
            v.push(filer.sign(
                EntryKind::ObjectionFiled,
                &json!({"objection_id": obj, "product_id": p, "filed_on": "2025-03-14", "filer_name": "会员来函", "grounds": "来源说明不完整"}),
            ));
        }
        for kind in [
            EntryKind::ProductSuspended,
            EntryKind::ProductResumed,
            EntryKind::ProductRegistrationRevoked,
            EntryKind::ProductDeregistered,
        ] {
            for who in [&kit.authority, &kit.business] {
                v.push(who.sign(
                    kind,
                    &json!({"id": p, "reason": "检查", "effective_on": "2025-04-01"}),
                ));
            }
        }
        v.push(kit.operator.sign(
            EntryKind::ProductChanged,
            &json!({"id": p, "update_cycle": "每周", "changed_on": "2025-04-02"}),
        ));
    }
    for obj in ["OBJ-1", "OBJ-2"] {
        for outcome in ["dismissed", "upheld"] {
            v.push(kit.operator.sign(
                EntryKind::ObjectionResolved,
                &json!({"objection_id": obj, "resolved_on": "2025-03-19", "outcome": outcome, "reason": "核实"}),
            ));
        }
    }
    for a in ["SA-1", "OA-1"] {
        for kind in [EntryKind::AgreementSuspended, EntryKind::AgreementResumed] {
            v.push(kit.agency.sign(
                kind,
                &json!({"id": a, "reason": "检查", "effective_on": "2025-04-01"}),
            ));
        }
        v.push(kit.agency.sign(
            EntryKind::AgreementTerminated,
            &json!({"id": a, "reason": "voluntary-exit", "detail": "主动退出", "effective_on": "2025-05-31"}),
        ));
    }
    v.push(kit.operator.sign(
        EntryKind::AgreementFiled,
        &json!({"id": "SA-2", "agreement_type": "scene-authorization", "parties": [kit.operator.id, kit.business.id], "grantee": kit.business.id,
                "parent": "OA-1", "scope": ["R-GX-TRANSPORT-001"], "scene": "运力调度", "signed_on": "2025-03-20",
                "term_start": "2025-03-21", "term_end": "2029-03-20", "document_title": "场景授权协议", "document_blake3": DOC}),
    ));
    for who in [&kit.business, &kit.operator, &kit.venue] {
        v.push(who.sign(
            EntryKind::OperationEvent,
            &json!({"agreement_id": "SA-1", "product_id": "P-1", "action": "access", "occurred_at_ms": BASE_MS + 3 * DAY_MS,
                    "actor": "svc", "records": 10}),
        ));
    }
    v.push(kit.authority.sign(
        EntryKind::ParticipantRevoked,
        &json!({"id": kit.venue.id, "reason": "退出"}),
    ));
    v.push(kit.authority.sign(
        EntryKind::ResourceDeregistered,
        &json!({"id": "R-GX-TRANSPORT-001", "reason": "停止开放"}),
    ));
    v
}

fn str_of(s: &str) -> String {
    s.to_string()
}

/// check asserts the cross-object invariants of a registry state.
fn check(st: &MemoryState) -> Result<(), String> {
    for (k, o) in &st.0 {
        match (k, o) {
            (StateKey::Key(id), StateObject::Key(key)) => {
                let Some(StateObject::Participant(p)) =
                    st.get(&StateKey::Participant(key.participant.clone()))
                else {
                    return Err(format!("key {id} of a missing participant"));
                };
                if !p.key_ids.contains(id) {
                    return Err(format!("participant {} does not list its key {id}", p.id));
                }
            }
            (StateKey::Product(id), StateObject::Product(p)) => {
                let needs_registration = matches!(
                    p.status,
                    Status::Active | Status::Suspended | Status::Revoked | Status::Deregistered
                );
                if needs_registration != p.registration.is_some() {
                    return Err(format!(
                        "product {id} is {:?} with registration {:?}",
                        p.status,
                        p.registration.is_some()
                    ));
                }
                if let Some(r) = &p.registration {
                    match st.get(&StateKey::RegistrationNo(r.fields.registration_no.clone())) {
                        Some(StateObject::RegistrationNo(pid)) if &pid == id => {}
                        other => return Err(format!("registration no of {id} maps to {other:?}")),
                    }
                    if r.index < p.approved_index {
                        return Err(format!("{id} registered before approval"));
                    }
                }
                if p.status_index < p.approved_index {
                    return Err(format!("{id} status set before approval"));
                }
                let open = st
                    .0
                    .values()
                    .filter(|o| matches!(o, StateObject::Objection(x) if x.fields.product_id == *id && x.resolution.is_none()))
                    .count();
                if open != p.open_objections as usize {
                    return Err(format!(
                        "{id} counts {} open objections, state has {open}",
                        p.open_objections
                    ));
                }
            }
            (StateKey::RegistrationNo(no), StateObject::RegistrationNo(pid)) => {
                match st.get(&StateKey::Product(pid.clone())) {
                    Some(StateObject::Product(p))
                        if p.registration
                            .as_ref()
                            .map(|r| str_of(&r.fields.registration_no))
                            == Some(no.clone()) => {}
                    _ => {
                        return Err(format!(
                            "registration no {no} points at {pid}, which does not carry it"
                        ))
                    }
                }
            }
            (StateKey::Agreement(id), StateObject::Agreement(a)) => {
                if a.status_index < a.filed_index {
                    return Err(format!("agreement {id} status before filing"));
                }
                if a.status == Status::Terminated {
                    match (a.ended_on, a.retain_logs_until) {
                        (Some(e), Some(r)) if r > e => {}
                        other => {
                            return Err(format!("terminated {id} has end/retention {other:?}"))
                        }
                    }
                }
                if let Some(parent) = &a.fields.parent {
                    if st.get(&StateKey::Agreement(parent.clone())).is_none() {
                        return Err(format!("{id} derives from missing {parent}"));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_state_consistent(
        picks in proptest::collection::vec((any::<bool>(), 0usize..1000, 0u64..4 * DAY_MS), 1..48)
    ) {
        let kit = Testkit::new(ORIGIN);
        let setup = kit.setup(HashSuite::Blake3, "guangxi");
        let mut state = replay(ORIGIN, HashSuite::Blake3, &setup).expect("setup").state;
        let pool = pool(&kit);
        // Half the steps advance the canonical lifecycle, so sequences get
        // deep into it; the other half are arbitrary acts from the pool.
        let canonical: Vec<Envelope> = kit.lifecycle(HashSuite::Blake3, "guangxi")[setup.len()..]
            .iter()
            .map(|s| s.envelope.clone())
            .collect();
        let mut next = 0usize;
        let mut time = BASE_MS + 3 * DAY_MS;
        let mut index = setup.len() as u64;
        for (follow, pick, dt) in picks {
            let from_canonical = follow && next < canonical.len();
            let env = if from_canonical { &canonical[next] } else { &pool[pick % pool.len()] };
            time += dt + 1;
            let ctx = EntryContext {
                index,
                integrated_time_ms: time,
                leaf_hash: Hash([(index % 251) as u8; 32]),
                log_id: ORIGIN.into(),
            };
            let before = state.clone();
            let r1 = apply(&state, &ctx, env);
            let r2 = apply(&state, &ctx, env);
            prop_assert_eq!(&r1, &r2, "apply is deterministic");
            prop_assert_eq!(&state, &before, "apply never mutates the state it reads");
            if let Ok(fx) = r1 {
                state.apply_effects(&fx);
                index += 1;
                if from_canonical {
                    next += 1;
                }
                if let Err(e) = check(&state) {
                    return Err(TestCaseError::fail(format!("after {} at {index}: {e}", env.payload_type)));
                }
            }
        }
    }
}

#[test]
fn the_invariants_hold_on_the_lifecycle_and_catch_corruption() {
    let kit = Testkit::new(ORIGIN);
    let st = replay(
        ORIGIN,
        HashSuite::Blake3,
        &kit.lifecycle(HashSuite::Blake3, "guangxi"),
    )
    .expect("lifecycle")
    .state;
    check(&st).unwrap();
    let mut bad = st.clone();
    if let Some(StateObject::Product(p)) = bad.0.get_mut(&StateKey::Product("P-1".into())) {
        p.open_objections += 1;
    }
    assert!(check(&bad).unwrap_err().contains("open objections"));
    let mut bad = st.clone();
    bad.0
        .retain(|k, _| !matches!(k, StateKey::RegistrationNo(_)));
    assert!(check(&bad).unwrap_err().contains("registration no"));
    let mut bad = st;
    bad.0
        .retain(|k, _| *k != StateKey::Participant(kit.business.id.clone()));
    assert!(check(&bad).unwrap_err().contains("missing participant"));
}
