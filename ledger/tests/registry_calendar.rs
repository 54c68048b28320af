//! Working days out of the box (issue 17, item 5): the official national
//! calendars shipped with regledger (2024–2026) are in force from genesis,
//! with no entry; a regional overlay (广西 壮族三月三) comes from a
//! `calendar-published` entry, and until it is published a Guangxi
//! deadline is marked provisional (never a silent guess).

use regledger::registry::calendar::Date;
use regledger::registry::{apply, EntryContext, EntryKind, Flag};
use regledger::testkit::{replay, Step, Testkit, BASE_MS, DAY_MS, DOC};
use regledger::HashSuite;
use serde_json::json;

const ORIGIN: &str = "regledger.test/calendar";

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

/// late_filing files an operation agreement signed on `signed_on` at `day`
/// days after 2025-03-03 on a log of `profile` set up by the testkit plus
/// `extra`, and returns its filing-late flag.
fn late_filing(profile: &str, extra: Vec<Step>, signed_on: &str, day: u64) -> Flag {
    let k = Testkit::new(ORIGIN);
    let mut steps = k.setup(HashSuite::Blake3, profile);
    steps.extend(extra);
    let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap_or_else(|(i, e)| panic!("{i}: {e}"));
    let late = k.agency.sign(
        EntryKind::AgreementFiled,
        &json!({"id": "OA-LATE", "agreement_type": "operation-agreement", "parties": [k.agency.id, k.operator.id],
                "grantee": k.operator.id, "scope": ["R-GX-TRANSPORT-001"], "signed_on": signed_on,
                "term_start": "2025-04-01", "term_end": "2026-03-31", "document_title": "协议", "document_blake3": DOC}),
    );
    let ctx = EntryContext {
        index: steps.len() as u64,
        integrated_time_ms: BASE_MS + day * DAY_MS,
        log_id: ORIGIN.into(),
    };
    let fx = apply(&r.state, &ctx, &late).unwrap();
    fx.flags
        .into_iter()
        .find(|f| f.code == "filing-late")
        .expect("a late filing is flagged")
}

#[test]
fn the_national_calendar_is_in_force_from_genesis_without_an_entry() {
    // Xi'an has no regional overlay: signed Fri 2025-01-24, 10 working days
    // cross the Spring Festival of the shipped 2025 notice (off 01-28..02-04,
    // make-up Sun 01-26 and Sat 02-08): due 02-13, and not provisional,
    // though no calendar-published entry is in the log.
    let f = late_filing("xian", vec![], "2025-01-24", 2);
    assert_eq!((f.due, f.provisional), (d("2025-02-13"), false), "{f:?}");
    // Counting Monday–Friday only would have given 2025-02-07.
}

#[test]
fn a_guangxi_deadline_is_provisional_until_the_overlay_is_published() {
    // Signed Mon 2025-03-24, filed 2025-04-15. Without the overlay: 10
    // working days on the national calendar (Qingming 04-04..06 off) end
    // 2025-04-08, marked provisional.
    let f = late_filing("guangxi", vec![], "2025-03-24", 43);
    assert_eq!((f.due, f.provisional), (d("2025-04-08"), true), "{f:?}");
    // The authority publishes the region's notice: 03-31 and 04-01 off.
    let k = Testkit::new(ORIGIN);
    let overlay = k.authority.sign(
        EntryKind::CalendarPublished,
        &json!({"year": 2025, "region": "guangxi", "notice": "广西壮族自治区2025年“壮族三月三”放假安排（测试数据）",
                "off": [["2025-03-31", "2025-04-01"]], "makeup_workdays": []}),
    );
    let step = Step {
        label: "overlay",
        envelope: overlay,
        time_ms: BASE_MS + DAY_MS + 100,
    };
    let f = late_filing("guangxi", vec![step], "2025-03-24", 43);
    assert_eq!((f.due, f.provisional), (d("2025-04-10"), false), "{f:?}");
}

#[test]
fn a_deadline_into_a_year_without_a_shipped_notice_is_provisional() {
    // Signed Tue 2026-12-22 on a Xi'an log: 10 working days run into 2027,
    // whose national notice is not shipped (docs/operator.md, "Calendars").
    let k = Testkit::new(ORIGIN);
    let steps = k.setup(HashSuite::Blake3, "xian");
    let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap();
    let oa = k.agency.sign(
        EntryKind::AgreementFiled,
        &json!({"id": "OA-2027", "agreement_type": "operation-agreement", "parties": [k.agency.id, k.operator.id],
                "grantee": k.operator.id, "scope": ["R-GX-TRANSPORT-001"], "signed_on": "2026-12-22",
                "term_start": "2027-01-01", "term_end": "2027-12-31", "document_title": "协议", "document_blake3": DOC}),
    );
    let t = u64::try_from(d("2027-01-20").days_since_epoch()).unwrap() * DAY_MS + 2 * 3_600_000;
    let ctx = EntryContext {
        index: steps.len() as u64,
        integrated_time_ms: t,
        log_id: ORIGIN.into(),
    };
    let fx = apply(&r.state, &ctx, &oa).unwrap();
    let f = fx.flags.iter().find(|f| f.code == "filing-late").unwrap();
    assert!(f.provisional, "{f:?}");
}
