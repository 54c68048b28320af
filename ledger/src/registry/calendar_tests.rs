//! Unit tests of the calendar, kept beside it in their own file (the module
//! itself stays a readable length).

use super::*;
use proptest::prelude::*;

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

/// oracle_add_working_days is the former day-by-day implementation,
/// kept as the oracle the arithmetic one must equal.
fn oracle_add_working_days(
    c: &Calendar,
    from: Date,
    n: u32,
    region: Option<&str>,
) -> Option<(Date, bool)> {
    let mut d = from;
    let mut left = n;
    let mut provisional = false;
    while left > 0 {
        d = d.add_days(1)?;
        let (w, p) = c.is_working_day(&d, region);
        provisional |= p;
        if w {
            left -= 1;
        }
    }
    Some((d, provisional))
}

/// oracle_working_days_between is the former day-by-day implementation.
fn oracle_working_days_between(c: &Calendar, from: Date, to: Date, region: Option<&str>) -> u32 {
    let mut d = from;
    let mut count = 0;
    while d < to {
        match d.add_days(1) {
            Some(x) => d = x,
            None => break,
        }
        if c.is_working_day(&d, region).0 {
            count += 1;
        }
    }
    count
}

/// oracle_is_working_day is the former per-day rule, written out again
/// (the implementation now shares it with the counting code).
fn oracle_is_working_day(c: &Calendar, d: &Date, region: Option<&str>) -> bool {
    let mut working = d.weekday() <= 5;
    if let Some(n) = c.national.get(&d.year) {
        if n.off.iter().any(|(a, b)| a <= d && d <= b) {
            working = false;
        }
        if n.makeup_workdays.contains(d) {
            working = true;
        }
    }
    if let Some(r) = region {
        if let Some(n) = c.regional.get(&(r.to_string(), d.year)) {
            if n.off.iter().any(|(a, b)| a <= d && d <= b) {
                working = false;
            }
            if n.makeup_workdays.contains(d) {
                working = true;
            }
        }
    }
    working
}

/// notice_in builds a notice for `year` from day-of-year offsets:
/// off ranges (start, length) and make-up days, clipped to the year.
fn notice_in(year: i32, off: &[(u16, u16)], makeup: &[u16]) -> YearNotice {
    let jan1 = Date::new(year, 1, 1).unwrap();
    let last = i64::from(if is_leap(year) { 365u16 } else { 364 });
    let day = |k: i64| jan1.add_days(k.min(last)).unwrap();
    YearNotice {
        notice: format!("test notice {year}"),
        off: off
            .iter()
            .map(|&(s, l)| (day(i64::from(s)), day(i64::from(s) + i64::from(l))))
            .collect(),
        makeup_workdays: makeup.iter().map(|&k| day(i64::from(k))).collect(),
    }
}

type Notices = Vec<(i32, bool, Vec<(u16, u16)>, Vec<u16>)>;

fn notices() -> impl Strategy<Value = Notices> {
    proptest::collection::vec(
        (
            2019..2031i32,
            any::<bool>(),
            proptest::collection::vec((0..366u16, 0..40u16), 0..8),
            proptest::collection::vec(0..366u16, 0..6),
        ),
        0..8,
    )
}

fn calendar_with(ns: &Notices) -> Calendar {
    let mut c = Calendar::builtin();
    for (year, regional, off, makeup) in ns {
        let r = regional.then_some("guangxi");
        c.publish(*year, r, notice_in(*year, off, makeup)).unwrap();
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The arithmetic counts equal the day-by-day oracle over random
    /// ranges, for the nation and for a region with random overlays
    /// (and random extra national notices), across years with and
    /// without notices.
    #[test]
    fn counts_equal_the_day_by_day_oracle(
        ns in notices(),
        start in 17_500..22_500i64,
        span in 0..4_000i64,
        n in 0..1_200u32,
        regional in any::<bool>(),
    ) {
        let c = calendar_with(&ns);
        let region = regional.then_some("guangxi");
        let from = Date::from_days_since_epoch(start).unwrap();
        let to = Date::from_days_since_epoch(start + span).unwrap();
        prop_assert_eq!(
            c.working_days_between(from, to, region),
            oracle_working_days_between(&c, from, to, region)
        );
        prop_assert_eq!(c.working_days_between(to, from, region), 0);
        prop_assert_eq!(
            c.add_working_days(from, n, region),
            oracle_add_working_days(&c, from, n, region)
        );
        // The per-day rule itself is unchanged.
        for k in [0, span / 3, span / 2, span] {
            let x = Date::from_days_since_epoch(start + k).unwrap();
            prop_assert_eq!(c.is_working_day(&x, region).0, oracle_is_working_day(&c, &x, region));
        }
    }
}

#[test]
fn counts_equal_the_oracle_at_the_ends_of_the_date_range() {
    let c = calendar_with(&vec![(2027, true, vec![(10, 3)], vec![5])]);
    let first = d("1970-01-01");
    let last = d("9999-12-31");
    for region in [None, Some("guangxi")] {
        // The objection: filed 1970-01-01, resolved 9999-12-31.
        let all = c.working_days_between(first, last, region);
        assert_eq!(all, oracle_working_days_between(&c, first, last, region));
        // add_working_days inverts it, and one more is past the end.
        let (due, p) = c.add_working_days(first, all, region).unwrap();
        assert!(p);
        assert_eq!(c.working_days_between(first, due, region), all);
        assert!(c.is_working_day(&due, region).0);
        assert_eq!(c.add_working_days(first, all + 1, region), None);
        assert_eq!(
            oracle_add_working_days(&c, d("9999-12-01"), 30, region),
            None
        );
        assert_eq!(c.add_working_days(d("9999-12-01"), 30, region), None);
        assert_eq!(
            c.add_working_days(d("9999-12-01"), 20, region),
            oracle_add_working_days(&c, d("9999-12-01"), 20, region)
        );
        // Huge N is refused at once, not counted out.
        assert_eq!(c.add_working_days(first, u32::MAX, region), None);
        assert_eq!(c.add_working_days(last, 1, region), None);
        assert_eq!(c.add_working_days(last, 0, region), Some((last, false)));
    }
}

#[test]
fn dates_parse_strictly_and_round_trip() {
    for bad in [
        "",
        "2025-1-01",
        "2025-02-29",
        "2024-13-01",
        "2024-00-10",
        "1969-12-31",
        "2024-02-30",
        "２０２４-01-01",
        "2024-01-01 ",
    ] {
        assert!(Date::parse(bad).is_none(), "{bad}");
    }
    assert_eq!(d("2024-02-29").to_string(), "2024-02-29");
    for z in -1000..30000 {
        if let Some(x) = Date::from_days_since_epoch(z) {
            assert_eq!(x.days_since_epoch(), z);
        }
    }
    assert_eq!(d("2026-11-23").weekday(), 1);
    assert_eq!(Date::from_unix_ms(0), Some(d("1970-01-01")));
    // 2024-01-01T16:00Z is already Jan 2 in Beijing.
    assert_eq!(Date::from_unix_ms(1_704_124_800_000), Some(d("2024-01-02")));
}

#[test]
fn month_arithmetic_follows_civil_code() {
    assert_eq!(d("2025-08-31").add_months(6), Some(d("2026-02-28")));
    assert_eq!(d("2023-08-31").add_months(6), Some(d("2024-02-29")));
    assert_eq!(d("2025-03-15").add_months(12), Some(d("2026-03-15")));
    assert_eq!(d("2025-01-31").add_months(1), Some(d("2025-02-28")));
}

#[test]
fn every_listed_day_is_classified() {
    let c = Calendar::builtin();
    let f: serde_json::Value = serde_json::from_str(BUILTIN_JSON).unwrap();
    for (y, n) in f["years"].as_object().unwrap() {
        if n["notice"].is_null() {
            continue;
        }
        for r in n["off"].as_array().unwrap() {
            let (a, b) = (d(r[0].as_str().unwrap()), d(r[1].as_str().unwrap()));
            let mut x = a;
            while x <= b {
                assert_eq!(
                    c.is_working_day(&x, None),
                    (false, false),
                    "{x} is off in {y}"
                );
                x = x.add_days(1).unwrap();
            }
        }
        for m in n["makeup_workdays"].as_array().unwrap() {
            let x = d(m.as_str().unwrap());
            assert!(x.weekday() >= 6, "{x} is a weekend make-up day");
            assert_eq!(
                c.is_working_day(&x, None),
                (true, false),
                "{x} is a make-up day"
            );
        }
    }
}

#[test]
fn deadlines_cross_spring_festival_and_national_day() {
    let c = Calendar::builtin();
    // 2025 Spring Festival: off 01-28..02-04, make-up 01-26 (Sun) and 02-08 (Sat).
    // 10 working days after Fri 2025-01-24: 01-26(1) 01-27(2) 02-05(3) 02-06(4) 02-07(5) 02-08(6) 02-10(7) 02-11(8) 02-12(9) 02-13(10).
    assert_eq!(
        c.add_working_days(d("2025-01-24"), 10, None),
        Some((d("2025-02-13"), false))
    );
    // 2024 National Day: off 10-01..10-07, make-up 09-29 (Sun) and 10-12 (Sat).
    // 5 working days after Fri 2024-09-27: 09-29(1) 09-30(2) 10-08(3) 10-09(4) 10-10(5).
    assert_eq!(
        c.add_working_days(d("2024-09-27"), 5, None),
        Some((d("2024-10-10"), false))
    );
    // 20 working days after 2026-09-18 cross Mid-Autumn and National Day 2026.
    let (due, p) = c.add_working_days(d("2026-09-18"), 20, None).unwrap();
    assert!(!p);
    assert_eq!(c.working_days_between(d("2026-09-18"), due, None), 20);
    // No notice for 2027: Mon–Fri counting, marked provisional.
    assert_eq!(
        c.add_working_days(d("2027-03-01"), 5, None),
        Some((d("2027-03-08"), true))
    );
    // A region without a published overlay is provisional too.
    assert!(
        c.add_working_days(d("2025-03-03"), 1, Some("guangxi"))
            .unwrap()
            .1
    );
}

#[test]
fn regional_overlay_from_the_log() {
    let mut c = Calendar::builtin();
    // A hypothetical overlay, for the mechanism only.
    let overlay = YearNotice {
        notice: "test overlay".into(),
        off: vec![(d("2025-03-31"), d("2025-04-01"))],
        makeup_workdays: vec![],
    };
    c.publish(2025, Some("guangxi"), overlay).unwrap();
    assert_eq!(
        c.is_working_day(&d("2025-03-31"), Some("guangxi")),
        (false, false)
    );
    assert_eq!(c.is_working_day(&d("2025-03-31"), None), (true, false));
    let bad = YearNotice {
        notice: "x".into(),
        off: vec![(d("2026-01-02"), d("2026-01-01"))],
        makeup_workdays: vec![],
    };
    assert!(c.publish(2026, None, bad).is_err());
}
