//! Audited retention pruning (issue 14 item 5): `retention-pruned`, signed
//! by a data authority, names operation events of one agreement whose log
//! retention has run out. Refused before the agreement's end plus the
//! profile's retention (Guangxi Art. 12(3) 6 months, Chengdu Art. 26 1 year),
//! for an agreement that has not ended, by any other signer, twice, and for
//! anything that is not an operation event of that agreement.

use regledger::registry::calendar::Date;
use regledger::registry::{
    check_prune_scope, EntryKind, RetentionPruned, RuleViolation, StateKey, StateObject,
};
use regledger::testkit::{apply_after, replay, Step, Testkit};
use regledger::HashSuite;
use serde_json::json;

const ORIGIN: &str = "regledger.test/prune";

/// at is 10:00 China time on `d`, in Unix ms.
fn at(d: &str) -> u64 {
    Date::parse(d).unwrap().days_since_epoch() as u64 * 86_400_000 + 2 * 3_600_000
}

fn try_after(
    prefix: &[Step],
    env: regledger::entry::envelope::Envelope,
    time_ms: u64,
) -> Result<regledger::registry::Effects, RuleViolation> {
    apply_after(ORIGIN, HashSuite::Blake3, prefix, &env, time_ms)
}

fn code(r: Result<regledger::registry::Effects, RuleViolation>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("{}: {e}", e.code()),
    }
}

/// scenario is the Guangxi lifecycle (one operation event under SA-1),
/// then SA-1 terminated effective 2025-04-22, logged the next day. It
/// returns the steps and the index of the operation event.
fn scenario(k: &Testkit, profile: &str) -> (Vec<Step>, u64) {
    let mut s = k.lifecycle(HashSuite::Blake3, profile);
    let op = s
        .iter()
        .position(|st| st.label == "operation event")
        .unwrap() as u64;
    s.push(Step {
        label: "terminate SA-1",
        envelope: k.agency.sign(
            EntryKind::AgreementTerminated,
            &json!({"id": "SA-1", "reason": "voluntary-exit", "detail": "经营主体主动退出", "effective_on": "2025-04-22"}),
        ),
        time_ms: at("2025-04-23"),
    });
    (s, op)
}

fn prune(k: &Testkit, agreement: &str, entries: &[u64]) -> regledger::entry::envelope::Envelope {
    k.authority.sign(
        EntryKind::RetentionPruned,
        &json!({"agreement_id": agreement, "entries": entries}),
    )
}

#[test]
fn a_prune_waits_for_the_end_plus_the_profiles_retention() {
    let k = Testkit::new(ORIGIN);
    let (s, op) = scenario(&k, "guangxi");
    // Guangxi Art. 12(3): kept at least 6 months after the end (2025-04-22 + 6 months).
    let early = code(try_after(&s, prune(&k, "SA-1", &[op]), at("2025-10-21")));
    assert!(early.starts_with("retention-not-over"), "{early}");
    assert!(early.contains("2025-10-22"), "{early}");
    let r = try_after(&s, prune(&k, "SA-1", &[op]), at("2025-10-21")).unwrap_err();
    assert!(
        r.citation().unwrap().contains("第十二条第（三）项"),
        "{:?}",
        r.citation()
    );
    assert_eq!(
        code(try_after(&s, prune(&k, "SA-1", &[op]), at("2025-10-22"))),
        "ok"
    );
    // Chengdu Art. 26: at least 1 year.
    let (s, op) = scenario(&k, "chengdu");
    let r = try_after(&s, prune(&k, "SA-1", &[op]), at("2026-04-21")).unwrap_err();
    assert_eq!(r.code(), "retention-not-over", "{r}");
    assert!(
        r.citation().unwrap().contains("第二十六条"),
        "{:?}",
        r.citation()
    );
    assert_eq!(
        code(try_after(&s, prune(&k, "SA-1", &[op]), at("2026-04-22"))),
        "ok"
    );
}

#[test]
fn an_agreement_that_did_not_end_is_not_pruned_and_an_expired_one_is_after_its_retention() {
    let k = Testkit::new(ORIGIN);
    let s = k.lifecycle(HashSuite::Blake3, "guangxi");
    let op = s
        .iter()
        .position(|st| st.label == "operation event")
        .unwrap() as u64;
    // SA-1 runs until 2027-03-04 and was never terminated.
    let r = code(try_after(&s, prune(&k, "SA-1", &[op]), at("2026-01-10")));
    assert!(r.starts_with("invalid-transition"), "{r}");
    // Its term over, it ended on its last day: retention counts from there.
    let r = code(try_after(&s, prune(&k, "SA-1", &[op]), at("2027-09-03")));
    assert!(r.starts_with("retention-not-over"), "{r}");
    assert_eq!(
        code(try_after(&s, prune(&k, "SA-1", &[op]), at("2027-09-04"))),
        "ok"
    );
    assert!(
        code(try_after(&s, prune(&k, "SA-404", &[op]), at("2027-09-04"))).starts_with("not-found")
    );
}

#[test]
fn only_a_data_authority_prunes() {
    let k = Testkit::new(ORIGIN);
    let (s, op) = scenario(&k, "guangxi");
    let p = json!({"agreement_id": "SA-1", "entries": [op]});
    for who in [&k.agency, &k.operator, &k.business] {
        let r = code(try_after(
            &s,
            who.sign(EntryKind::RetentionPruned, &p),
            at("2025-11-01"),
        ));
        assert!(r.starts_with("role-not-allowed"), "{}: {r}", who.id);
    }
}

#[test]
fn the_entry_list_is_canonical_and_before_the_prune() {
    let k = Testkit::new(ORIGIN);
    let (s, op) = scenario(&k, "guangxi");
    let n = s.len() as u64;
    let t = at("2025-11-01");
    for bad in [
        vec![],
        vec![op, op],
        vec![op + 1, op],
        vec![n],
        vec![op, n + 5],
    ] {
        let r = code(try_after(&s, prune(&k, "SA-1", &bad), t));
        assert!(r.starts_with("malformed-payload"), "{bad:?}: {r}");
    }
    let too_many: Vec<u64> = (1..=(regledger::registry::MAX_PRUNE_ENTRIES as u64 + 1)).collect();
    assert!(code(try_after(&s, prune(&k, "SA-1", &too_many), t)).starts_with("malformed-payload"));
    // Entries before the agreement was filed cannot be its operation events.
    let r = code(try_after(&s, prune(&k, "SA-1", &[1]), t));
    assert!(r.starts_with("not-prunable"), "{r}");
}

#[test]
fn a_second_prune_of_the_same_entries_is_refused() {
    let k = Testkit::new(ORIGIN);
    let (mut s, op) = scenario(&k, "guangxi");
    s.push(Step {
        label: "prune",
        envelope: prune(&k, "SA-1", &[op]),
        time_ms: at("2025-11-01"),
    });
    let r = replay(ORIGIN, HashSuite::Blake3, &s).unwrap();
    let Some(StateObject::Agreement(a)) = r.state.0.get(&StateKey::Agreement("SA-1".into())) else {
        panic!("SA-1")
    };
    assert_eq!(a.logs_pruned_through, Some(op));
    let again = k.authority.sign(
        EntryKind::RetentionPruned,
        &json!({"agreement_id": "SA-1", "entries": [op], "request_id": "again"}),
    );
    let r = code(try_after(&s, again, at("2025-11-02")));
    assert!(r.starts_with("not-prunable"), "{r}");
}

#[test]
fn only_operation_events_of_the_named_agreement_are_in_scope() {
    let k = Testkit::new(ORIGIN);
    let (s, op) = scenario(&k, "guangxi");
    let reg = s
        .iter()
        .position(|st| st.label == "product registered")
        .unwrap() as u64;
    let p = RetentionPruned {
        agreement_id: "SA-1".into(),
        entries: vec![op],
        request_id: None,
    };
    assert_eq!(
        check_prune_scope(&p, op, Some(&s[op as usize].envelope)),
        Ok(())
    );
    // A registration record is never pruned.
    let e = check_prune_scope(&p, reg, Some(&s[reg as usize].envelope)).unwrap_err();
    assert_eq!(e.code(), "not-prunable", "{e}");
    assert!(e.to_string().contains("product-registered"), "{e}");
    // An operation event of another agreement is not this one's.
    let other = RetentionPruned {
        agreement_id: "OA-1".into(),
        ..p.clone()
    };
    let e = check_prune_scope(&other, op, Some(&s[op as usize].envelope)).unwrap_err();
    assert!(e.to_string().contains("SA-1"), "{e}");
    // An envelope already gone cannot be pruned again.
    assert_eq!(
        check_prune_scope(&p, op, None).unwrap_err().code(),
        "not-prunable"
    );
}
