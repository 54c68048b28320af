//! Property tests of the registry rules: random sequences of entries drawn
//! from a pool of valid, invalid and conflicting acts (every party signing
//! every kind of act on overlapping subjects, in any order) never reach an
//! inconsistent state, refused entries change nothing, and `apply` is
//! deterministic.

use proptest::prelude::*;
use regledger::entry::envelope::Envelope;
use regledger::registry::calendar::Date;
use regledger::registry::{
    apply, EntryContext, EntryKind, MemoryState, StateKey, StateObject, StateReader, Status,
};
use regledger::testkit::{replay, Party, Testkit, BASE_MS, DAY_MS, DOC};
use regledger::HashSuite;
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
            &json!({"id": p, "update_cycle": "每周", "reason": "变更", "effective_on": "2025-04-02"}),
        ));
    }
    for obj in ["OBJ-1", "OBJ-2"] {
        for outcome in ["dismissed", "revoke-registration"] {
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
                        // The 登记号's status record follows the product's (D15).
                        Some(StateObject::RegistrationNo(r))
                            if &r.product_id == id
                                && r.status == p.status
                                && r.status_index == p.status_index => {}
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
            (StateKey::RegistrationNo(no), StateObject::RegistrationNo(rn)) => {
                let pid = &rn.product_id;
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

// ---------------------------------------------------------------------
// Random acts by random parties at random dates (issue 12): whatever the
// sequence, no act succeeds unless its signer is the owner of the object
// or a party the profile's table entitles (docs/registry.md), no payload
// date escapes its window around the integrated date, nothing is
// registered or approved under an authorization not in force that day,
// and no status moves in a way the lifecycle forbids.
// ---------------------------------------------------------------------

/// World is the testkit's parties plus a second tenant (operator, business
/// entity, implementing agency) with its own OA-B and SA-B.
struct World {
    kit: Testkit,
    parties: Vec<Party>,
}

fn world() -> (World, Vec<regledger::testkit::Step>) {
    use regledger::registry::Role;
    use regledger::testkit::Step;
    let kit = Testkit::new(ORIGIN);
    let bo = Party::new("gx-operator-b", "乙运营有限公司", Role::Operator, 21);
    let bb = Party::new("nn-other", "乙经营主体有限公司", Role::BusinessEntity, 22);
    let ba = Party::new(
        "gx-implementing-b",
        "乙实施机构",
        Role::ImplementingAgency,
        23,
    );
    let mut steps = kit.setup(HashSuite::Blake3, "guangxi");
    let t = BASE_MS + DAY_MS + 100;
    for (i, env) in [
        kit.register(&bo),
        kit.register(&bb),
        kit.register(&ba),
        ba.sign(
            EntryKind::AgreementFiled,
            &json!({"id": "OA-B", "agreement_type": "operation-agreement", "parties": [ba.id, bo.id], "grantee": bo.id,
                    "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2025-03-04", "term_start": "2025-03-04", "term_end": "2027-03-03",
                    "document_title": "乙授权运营协议", "document_blake3": DOC}),
        ),
        bo.sign(
            EntryKind::AgreementFiled,
            &json!({"id": "SA-B", "agreement_type": "scene-authorization", "parties": [bo.id, bb.id], "grantee": bb.id,
                    "parent": "OA-B", "scope": ["R-GX-TRANSPORT-001"], "scene": "乙场景", "signed_on": "2025-03-04",
                    "term_start": "2025-03-05", "term_end": "2026-09-02", "document_title": "乙场景授权协议", "document_blake3": DOC}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        steps.push(Step {
            label: "tenant B",
            envelope: env,
            time_ms: t + i as u64,
        });
    }
    let parties = vec![
        kit.authority.clone(),
        kit.agency.clone(),
        kit.source.clone(),
        kit.operator.clone(),
        kit.business.clone(),
        kit.venue.clone(),
        bo,
        bb,
        ba,
    ];
    (World { kit, parties }, steps)
}

const KINDS: [EntryKind; 19] = [
    EntryKind::ProductApproved,
    EntryKind::PublicNoticeOpened,
    EntryKind::ObjectionFiled,
    EntryKind::ObjectionResolved,
    EntryKind::ProductRegistered,
    EntryKind::ProductChanged,
    EntryKind::ProductSuspended,
    EntryKind::ProductResumed,
    EntryKind::ProductRegistrationRevoked,
    EntryKind::ProductDeregistered,
    EntryKind::AgreementFiled,
    EntryKind::AgreementSuspended,
    EntryKind::AgreementResumed,
    EntryKind::AgreementTerminated,
    EntryKind::AgreementRenewed,
    EntryKind::AgreementAmended,
    EntryKind::CatalogCredentialIssued,
    EntryKind::OperationEvent,
    EntryKind::DataDestructionAttested,
];
/// WEIGHTS says how often each of KINDS is drawn: the product lifecycle
/// more often than the acts that end it, so sequences get deep.
const WEIGHTS: [usize; 19] = [16, 8, 4, 12, 32, 8, 8, 8, 2, 2, 4, 1, 4, 1, 2, 2, 4, 8, 2];

fn kind_of(pick: usize) -> EntryKind {
    let total: usize = WEIGHTS.iter().sum();
    let mut n = pick % total;
    for (k, w) in KINDS.iter().zip(WEIGHTS) {
        if n < w {
            return *k;
        }
        n -= w;
    }
    unreachable!()
}

const PRODUCTS: [&str; 3] = ["P-1", "P-2", "P-3"];
const AGREEMENTS: [&str; 5] = ["SA-1", "SA-B", "OA-1", "OA-B", "SA-N"];
const OBJECTIONS: [&str; 3] = ["OBJ-1", "OBJ-2", "OBJ-3"];
const NUMBERS: [&str; 3] = ["GXDP-2025-000001", "GXDP-2025-000002", "gxdp-2025-000001"];
/// OFFSETS are payload dates relative to the integrated date; None is a
/// date far outside any window (1970 or 9999).
const OFFSETS: [i64; 10] = [-3000, -400, -30, -15, -14, -2, -1, 0, 1, 30];

fn agreement(st: &MemoryState, id: &str) -> Option<regledger::registry::AgreementState> {
    match st.get(&StateKey::Agreement(id.into())) {
        Some(StateObject::Agreement(a)) => Some(a),
        _ => None,
    }
}

fn product(st: &MemoryState, id: &str) -> Option<regledger::registry::ProductState> {
    match st.get(&StateKey::Product(id.into())) {
        Some(StateObject::Product(p)) => Some(p),
        _ => None,
    }
}

/// chain_of is an agreement and its parents (the oracle's own walk).
fn chain_of(st: &MemoryState, id: &str) -> Vec<regledger::registry::AgreementState> {
    let mut out = Vec::new();
    let mut next = Some(id.to_string());
    while let Some(cur) = next.take() {
        if out.len() > 8 {
            break;
        }
        if let Some(a) = agreement(st, &cur) {
            next = a.fields.parent.clone();
            out.push(a);
        }
    }
    out
}

fn party_to(a: &regledger::registry::AgreementState, who: &str) -> bool {
    a.fields.grantee == who || a.fields.parties.iter().any(|p| p == who)
}

/// in_force_on is the oracle's 无授权不运营: every agreement up the chain
/// active with a term covering `d`.
fn in_force_on(st: &MemoryState, id: &str, d: Date) -> bool {
    let c = chain_of(st, id);
    !c.is_empty()
        && c.iter().all(|a| {
            a.status == Status::Active && a.fields.term_start <= d && d <= a.fields.term_end
        })
}

/// entitled is the table of docs/registry.md, written independently of the rules.
fn entitled(st: &MemoryState, kind: EntryKind, who: &Party, p: &serde_json::Value) -> bool {
    use regledger::registry::Role;
    if !kind.allowed_roles().contains(&who.role) {
        return false;
    }
    let da = who.role == Role::DataAuthority;
    let chain_party = |auth: &str, roles: &[Role]| {
        da || (roles.contains(&who.role) && chain_of(st, auth).iter().any(|a| party_to(a, &who.id)))
    };
    let product_operator = |pid: &str, roles: &[Role]| {
        product(st, pid).is_some_and(|pr| chain_party(&pr.approval.authorization, roles))
    };
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    match kind {
        EntryKind::ProductApproved => {
            // Under a derived authorization the operator is never the
            // business entity (no redevelopment of what it delivered).
            let be_is_operator = matches!(
                st.get(&StateKey::Participant(s("business_entity"))),
                Some(StateObject::Participant(x)) if x.role == Role::Operator
            );
            chain_party(
                &s("authorization"),
                &[Role::ImplementingAgency, Role::Operator],
            ) && agreement(st, &s("authorization")).is_some_and(|a| {
                party_to(&a, &s("business_entity"))
                    && !(a.fields.parent.is_some() && be_is_operator)
            })
        }
        EntryKind::PublicNoticeOpened => product_operator(
            &s("product_id"),
            &[Role::ImplementingAgency, Role::Operator],
        ),
        EntryKind::ObjectionFiled => true,
        EntryKind::ObjectionResolved => match st.get(&StateKey::Objection(s("objection_id"))) {
            Some(StateObject::Objection(o)) => {
                product_operator(&o.fields.product_id, &[Role::Operator])
            }
            _ => false,
        },
        EntryKind::ProductRegistered
        | EntryKind::ProductSuspended
        | EntryKind::ProductResumed
        | EntryKind::ProductRegistrationRevoked
        | EntryKind::ProductDeregistered => {
            let id = if kind == EntryKind::ProductRegistered {
                s("product_id")
            } else {
                s("id")
            };
            product_operator(&id, &[Role::Operator])
        }
        EntryKind::ProductChanged => product_operator(&s("id"), &[Role::Operator]),
        EntryKind::AgreementFiled => match p["parent"].as_str() {
            Some(parent) => da || agreement(st, parent).is_some_and(|a| a.fields.grantee == who.id),
            None => da || who.role == Role::ImplementingAgency,
        },
        EntryKind::AgreementSuspended
        | EntryKind::AgreementResumed
        | EntryKind::AgreementTerminated
        | EntryKind::AgreementRenewed
        | EntryKind::AgreementAmended => chain_party(&s("id"), &[Role::ImplementingAgency]),
        EntryKind::CatalogCredentialIssued => chain_party(
            &s("agreement_id"),
            &[Role::ImplementingAgency, Role::Operator],
        ),
        EntryKind::OperationEvent => chain_of(st, &s("agreement_id"))
            .iter()
            .any(|a| party_to(a, &who.id)),
        EntryKind::DataDestructionAttested => {
            let id = s("subject_id");
            if agreement(st, &id).is_some() {
                chain_party(&id, &[Role::Operator, Role::BusinessEntity])
            } else {
                product(st, &id).is_some_and(|pr| {
                    pr.approval.business_entity == who.id
                        || chain_party(&pr.approval.authorization, &[Role::Operator])
                })
            }
        }
        _ => da,
    }
}

/// owner picks the party most likely entitled to act on the act's subject,
/// so random sequences get deep into the lifecycle.
fn owner<'a>(w: &'a World, st: &MemoryState, kind: EntryKind, s1: usize) -> &'a Party {
    let op_of = |auth: &str| {
        let c = chain_of(st, auth);
        let g = c
            .last()
            .map(|a| a.fields.grantee.clone())
            .unwrap_or_default();
        w.parties
            .iter()
            .find(|p| p.id == g)
            .unwrap_or(&w.kit.operator)
    };
    match kind {
        EntryKind::AgreementSuspended
        | EntryKind::AgreementResumed
        | EntryKind::AgreementTerminated
        | EntryKind::AgreementRenewed
        | EntryKind::AgreementAmended => {
            if AGREEMENTS[s1 % AGREEMENTS.len()].ends_with('B') {
                &w.parties[8]
            } else {
                &w.kit.agency
            }
        }
        EntryKind::OperationEvent | EntryKind::DataDestructionAttested => {
            if AGREEMENTS[s1 % AGREEMENTS.len()].ends_with('B') {
                &w.parties[7]
            } else {
                &w.kit.business
            }
        }
        EntryKind::ObjectionFiled => &w.kit.venue,
        EntryKind::ProductApproved
        | EntryKind::AgreementFiled
        | EntryKind::CatalogCredentialIssued => op_of(AGREEMENTS[s1 % 2]),
        _ => {
            let pid = PRODUCTS[s1 % PRODUCTS.len()];
            match product(st, pid) {
                Some(p) => op_of(&p.approval.authorization),
                None => &w.kit.operator,
            }
        }
    }
}

/// payload builds an act of `kind` on the subjects picked by `s1`, `s2`, dated `d`.
///
/// A registration names the business entity and authorization of the
/// product's approval unless `flag` is set (then they are drawn too).
fn act_payload(
    w: &World,
    st: &MemoryState,
    kind: EntryKind,
    s1: usize,
    s2: usize,
    d: &str,
    flag: bool,
) -> serde_json::Value {
    let pid = PRODUCTS[s1 % PRODUCTS.len()];
    let auth = AGREEMENTS[s1 % 2];
    let agr = AGREEMENTS[s1 % AGREEMENTS.len()];
    let be = [&w.kit.business, &w.parties[7], &w.kit.operator][s2 % 3];
    match kind {
        EntryKind::ProductApproved => {
            json!({"product_id": pid, "product_name": "产品", "business_entity": be.id,
            "authorization": AGREEMENTS[(s1 + s2) % 2], "approved_on": d, "uses_non_public_data": flag && s2 & 1 == 0})
        }
        EntryKind::PublicNoticeOpened => json!({"product_id": pid, "opened_on": d}),
        EntryKind::ObjectionFiled => {
            json!({"objection_id": OBJECTIONS[s2 % 3], "product_id": pid, "filed_on": d, "filer_name": "来函", "grounds": "异议"})
        }
        EntryKind::ObjectionResolved => {
            json!({"objection_id": OBJECTIONS[s2 % 3], "resolved_on": d, "outcome": "dismissed", "reason": "核实"})
        }
        EntryKind::ProductRegistered => {
            let (be, auth) = match product(st, pid) {
                Some(p) if !flag => (
                    w.parties
                        .iter()
                        .find(|x| x.id == p.approval.business_entity)
                        .unwrap_or(be),
                    p.approval.authorization.clone(),
                ),
                _ => (be, AGREEMENTS[(s1 + s2) % 2].to_string()),
            };
            json!({"product_id": pid, "registration_no": NUMBERS[s2 % 3], "certificate_name": "数据产品登记证书",
                "product_name": "产品", "product_type": "数据服务", "business_entity": be.id, "business_entity_name": be.name,
                "update_cycle": "每日", "scenarios": ["场景"], "registered_on": d, "authorization": auth})
        }
        EntryKind::ProductChanged => {
            json!({"id": pid, "update_cycle": "每周", "reason": "变更", "effective_on": d})
        }
        EntryKind::ProductSuspended
        | EntryKind::ProductResumed
        | EntryKind::ProductRegistrationRevoked
        | EntryKind::ProductDeregistered => json!({"id": pid, "reason": "检查", "effective_on": d}),
        EntryKind::AgreementFiled => {
            json!({"id": "SA-N", "agreement_type": "scene-authorization", "parties": [(w.parties[3 + 3 * (s2 % 2)].id), (be.id)],
            "grantee": be.id, "parent": (["OA-1", "OA-B"][(s1 + s2) % 2]), "scope": ["R-GX-TRANSPORT-001"], "scene": "新场景",
            "signed_on": d, "term_start": d, "term_end": "2026-03-01", "document_title": "场景授权协议", "document_blake3": DOC})
        }
        EntryKind::AgreementSuspended | EntryKind::AgreementResumed => {
            json!({"id": agr, "reason": "检查", "effective_on": d})
        }
        EntryKind::AgreementTerminated => {
            json!({"id": agr, "reason": "violation", "detail": "违规", "effective_on": d})
        }
        EntryKind::AgreementRenewed => {
            json!({"id": agr, "applied_on": d, "new_term_end": (["2027-06-01", "2028-06-01"][s2 % 2]), "document_blake3": DOC})
        }
        EntryKind::AgreementAmended => {
            json!({"id": agr, "document_blake3": DOC, "amended_on": d, "reason": "变更"})
        }
        EntryKind::CatalogCredentialIssued => {
            json!({"credential_no": format!("GX-CAT-{s2}"), "agreement_id": auth, "grantee_name": be.name,
            "scope": "范围", "valid_from": "2025-03-05", "valid_until": "2026-03-01", "issuer": "运营机构", "issued_on": d})
        }
        EntryKind::OperationEvent => {
            let ms = Date::parse(d)
                .map(|x| x.days_since_epoch() as u64 * DAY_MS)
                .unwrap_or(0);
            let mut v = json!({"agreement_id": agr, "action": "access", "occurred_at_ms": ms, "actor": "svc", "records": 1});
            if flag {
                v["product_id"] = json!(pid);
            }
            v
        }
        EntryKind::DataDestructionAttested => {
            json!({"subject_id": if flag { pid } else { agr }, "attested_on": d, "method": "擦除", "evidence_blake3": DOC})
        }
        _ => unreachable!(),
    }
}

/// date_fields are the act dates of a payload (never term ends).
fn date_fields(kind: EntryKind, p: &serde_json::Value) -> Vec<Date> {
    let keys: &[&str] = match kind {
        EntryKind::ProductApproved => &["approved_on"],
        EntryKind::PublicNoticeOpened => &["opened_on"],
        EntryKind::ObjectionFiled => &["filed_on"],
        EntryKind::ObjectionResolved => &["resolved_on"],
        EntryKind::ProductRegistered => &["registered_on"],
        EntryKind::AgreementFiled => &["signed_on"],
        EntryKind::AgreementRenewed => &["applied_on"],
        EntryKind::AgreementAmended => &["amended_on"],
        EntryKind::CatalogCredentialIssued => &["issued_on"],
        EntryKind::DataDestructionAttested => &["attested_on"],
        EntryKind::OperationEvent => &[],
        _ => &["effective_on"],
    };
    keys.iter()
        .filter_map(|k| p[*k].as_str().and_then(Date::parse))
        .collect()
}

/// number_ok is FORMATS.md's grammar of a 登记号, written independently:
/// upper-case ASCII letters and digits in groups joined by single hyphens.
fn number_ok(no: &str) -> bool {
    !no.is_empty()
        && no.len() <= 64
        && no.split('-').all(|g| {
            !g.is_empty()
                && g.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

/// allowed_move is the lifecycle: which status may follow which.
fn allowed_move(what: &str, from: Status, to: Status) -> bool {
    use Status::*;
    from == to
        || match what {
            "product" => matches!(
                (from, to),
                (Approved, Active)
                    | (Active, Suspended)
                    | (Suspended, Active)
                    | (Active | Suspended, Revoked | Deregistered)
            ),
            _ => matches!(
                (from, to),
                (Active, Suspended) | (Suspended, Active) | (Active | Suspended, Terminated)
            ),
        }
}

fn statuses(st: &MemoryState) -> Vec<(String, &'static str, Status)> {
    st.0.iter()
        .filter_map(|(k, o)| match o {
            StateObject::Product(p) => Some((k.to_string(), "product", p.status)),
            StateObject::Agreement(a) => Some((k.to_string(), "agreement", a.status)),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_acts_by_random_parties_at_random_dates_succeed_only_when_entitled(
        acts in proptest::collection::vec(
            (0usize..1000, 0usize..27, 0usize..15, 0usize..6, 0usize..20, any::<bool>(), 0u64..2 * DAY_MS),
            1..128,
        )
    ) {
        let (w, steps) = world();
        let mut state = replay(ORIGIN, HashSuite::Blake3, &steps).expect("world").state;
        let mut time = BASE_MS + 3 * DAY_MS;
        let mut index = steps.len() as u64;
        let mut accepted = 0usize;
        for (k, who, s1, s2, date, flag, dt) in acts {
            time += dt + 1;
            let kind = kind_of(k);
            let today = Date::from_unix_ms(time).unwrap();
            let d = match date {
                0 => "1970-01-01".to_string(),
                1 => "9999-12-31".to_string(),
                i if i < 2 + OFFSETS.len() => today.add_days(OFFSETS[i - 2]).unwrap().to_string(),
                _ => today.to_string(),
            };
            let signer = if who < w.parties.len() { &w.parties[who] } else { owner(&w, &state, kind, s1) };
            let p = act_payload(&w, &state, kind, s1, s2, &d, flag);
            let env = signer.sign(kind, &p);
            let ctx = EntryContext {
                index,
                integrated_time_ms: time,
                log_id: ORIGIN.into(),
            };
            let Ok(fx) = apply(&state, &ctx, &env) else { continue };
            accepted += 1;
            prop_assert!(
                entitled(&state, kind, signer, &p),
                "{} accepted from {} ({:?}), who is not entitled: {p}", kind.name(), signer.id, signer.role
            );
            for dd in date_fields(kind, &p) {
                prop_assert!(dd <= today, "{} dated {dd} after its integrated date {today}", kind.name());
                prop_assert!(today.days_since_epoch() - dd.days_since_epoch() <= 5 * 366, "{} dated {dd}, years before {today}", kind.name());
            }
            match kind {
                EntryKind::ProductApproved | EntryKind::ProductRegistered => {
                    prop_assert!(in_force_on(&state, p["authorization"].as_str().unwrap(), today),
                        "{} under {} not in force on {today}", kind.name(), p["authorization"]);
                }
                EntryKind::CatalogCredentialIssued => {
                    prop_assert!(in_force_on(&state, p["agreement_id"].as_str().unwrap(), today));
                }
                _ => {}
            }
            let before = statuses(&state);
            state.apply_effects(&fx);
            index += 1;
            for (key, what, from) in before {
                let to = statuses(&state).into_iter().find(|(k, _, _)| *k == key).map(|x| x.2).unwrap();
                prop_assert!(allowed_move(what, from, to), "{key} moved {from:?} -> {to:?} by {}", kind.name());
            }
            if let Err(e) = check(&state) {
                return Err(TestCaseError::fail(format!("after {} at {index}: {e}", kind.name())));
            }
            // A derived authorization never outlives its parent.
            for o in state.0.values() {
                if let StateObject::Agreement(a) = o {
                    if let Some(parent) = a.fields.parent.as_deref().and_then(|x| agreement(&state, x)) {
                        prop_assert!(a.fields.term_end <= parent.fields.term_end, "{} outlives {}", a.fields.id, parent.fields.id);
                    }
                }
                if let StateObject::RegistrationNo(_) = o {}
            }
            for k in state.0.keys() {
                if let StateKey::RegistrationNo(no) = k {
                    prop_assert!(number_ok(no), "look-alike registration number {no:?} was registered");
                }
            }
        }
        // Depth is checked by the_random_acts_reach_deep_into_the_lifecycle.
        let _ = accepted;
    }
}

#[test]
fn the_random_acts_reach_deep_into_the_lifecycle() {
    // The generator above is only meaningful if entitled acts get through:
    // the owner-biased choice of signer makes a plain lifecycle reachable.
    let (w, steps) = world();
    let mut state = replay(ORIGIN, HashSuite::Blake3, &steps)
        .expect("world")
        .state;
    let mut time = BASE_MS + 3 * DAY_MS;
    let plan = [
        (EntryKind::ProductApproved, 0usize, 0usize, false),
        (EntryKind::PublicNoticeOpened, 0, 0, false),
        (EntryKind::ObjectionFiled, 0, 0, false),
        (EntryKind::ObjectionResolved, 0, 0, false),
        (EntryKind::ProductRegistered, 0, 0, false),
        (EntryKind::ProductSuspended, 0, 0, false),
        (EntryKind::ProductResumed, 0, 0, false),
        (EntryKind::ProductDeregistered, 0, 0, false),
        (EntryKind::AgreementTerminated, 1, 0, false),
    ];
    for (i, (kind, s1, s2, flag)) in plan.into_iter().enumerate() {
        time += DAY_MS;
        let today = Date::from_unix_ms(time).unwrap().to_string();
        let signer = owner(&w, &state, kind, s1);
        let p = act_payload(&w, &state, kind, s1, s2, &today, flag);
        let ctx = EntryContext {
            index: (steps.len() + i) as u64,
            integrated_time_ms: time,
            log_id: ORIGIN.into(),
        };
        let fx = apply(&state, &ctx, &signer.sign(kind, &p))
            .unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
        assert!(entitled(&state, kind, signer, &p), "{}", kind.name());
        state.apply_effects(&fx);
    }
    assert_eq!(product(&state, "P-1").unwrap().status, Status::Deregistered);
}
