//! Civil dates and the working-day calendar behind every "within N working
//! days" deadline of the regulations.
//!
//! A working day is Monday–Friday, minus the national off days, plus the
//! make-up working days (调休上班) of the State Council's annual notice
//! (built in from `data/cn-holidays-2024-2026.json`), with regional overlays
//! (e.g. Guangxi 壮族三月三) added only from `calendar-published` entries in
//! the log. A year without a notice (or a region-year without its overlay)
//! still counts Monday–Friday but marks the result *provisional*: never a
//! silent guess. Month arithmetic follows 民法典 Art. 200–204.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Date is a proleptic Gregorian civil date (China Standard Time calendar day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// year is the year, 1970..=9999.
    pub year: i32,
    /// month is 1..=12.
    pub month: u8,
    /// day is 1..=31.
    pub day: u8,
}

/// is_leap reports whether `y` is a Gregorian leap year.
pub fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// days_in_month returns the number of days of month `m` of year `y`.
pub fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

impl Date {
    /// new returns the date if it exists and lies in 1970..=9999.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// parse reads exactly `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        Date::new(
            digits(0..4)? as i32,
            digits(5..7)? as u8,
            digits(8..10)? as u8,
        )
    }

    /// days_since_epoch returns the number of days since 1970-01-01.
    pub fn days_since_epoch(&self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// from_days_since_epoch is the inverse of [`Date::days_since_epoch`].
    pub fn from_days_since_epoch(z: i64) -> Option<Date> {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let y = if m <= 2 { y + 1 } else { y };
        Date::new(i32::try_from(y).ok()?, m, d)
    }

    /// from_unix_ms returns the China Standard Time (UTC+8) date of a Unix time in milliseconds.
    pub fn from_unix_ms(ms: u64) -> Option<Date> {
        let secs = i64::try_from(ms / 1000).ok()? + 8 * 3600;
        Date::from_days_since_epoch(secs.div_euclid(86_400))
    }

    /// weekday returns 1 (Monday) ..= 7 (Sunday).
    pub fn weekday(&self) -> u8 {
        // 1970-01-01 was a Thursday.
        ((self.days_since_epoch() + 3).rem_euclid(7) + 1) as u8
    }

    /// add_days returns the date `n` days later (or earlier for negative n).
    pub fn add_days(&self, n: i64) -> Option<Date> {
        Date::from_days_since_epoch(self.days_since_epoch().checked_add(n)?)
    }

    /// add_months returns the end of a period of `months` months starting on
    /// this date (民法典 Art. 200–204): the same day number in the last
    /// month, or that month's last day when it has no such day.
    pub fn add_months(&self, months: u32) -> Option<Date> {
        let total = i64::from(self.year) * 12 + i64::from(self.month) - 1 + i64::from(months);
        let y = i32::try_from(total.div_euclid(12)).ok()?;
        let m = (total.rem_euclid(12) + 1) as u8;
        let d = self.day.min(days_in_month(y, m));
        Date::new(y, m, d)
    }

    /// days_until returns the number of days from this date to `other`.
    pub fn days_until(&self, other: &Date) -> i64 {
        other.days_since_epoch() - self.days_since_epoch()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Date {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "description": "A calendar day YYYY-MM-DD (China Standard Time when derived from a timestamp)."
        })
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid date {s:?} (want YYYY-MM-DD)"))
        })
    }
}

/// YearNotice is one year's official holiday arrangement (national or regional).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearNotice {
    /// notice names the official notice the data comes from.
    pub notice: String,
    /// off are inclusive ranges of days off.
    pub off: Vec<(Date, Date)>,
    /// makeup_workdays are weekend days that are working days.
    pub makeup_workdays: Vec<Date>,
}

/// MAX_OFF_RANGES bounds the ranges of one notice.
pub const MAX_OFF_RANGES: usize = 64;

/// NoticeError says why a year's notice is not consistent.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum NoticeError {
    /// TooManyDays: more than [`MAX_OFF_RANGES`] ranges or make-up days.
    #[error("too many days in one notice")]
    TooManyDays,
    /// BadRange: an off range outside the year, or reversed.
    #[error("off range {from}..{to} is not inside {year} or is reversed")]
    BadRange {
        /// from is the range's first day.
        from: Date,
        /// to is its last day.
        to: Date,
        /// year is the notice's year.
        year: i32,
    },
    /// BadMakeupDay: a make-up working day outside the year.
    #[error("make-up day {day} is not in {year}")]
    BadMakeupDay {
        /// day is the make-up day.
        day: Date,
        /// year is the notice's year.
        year: i32,
    },
}

impl YearNotice {
    /// validate checks that every date lies in `year` and ranges are ordered.
    ///
    /// # Errors
    ///
    /// The first [`NoticeError`] the notice breaks.
    pub fn validate(&self, year: i32) -> Result<(), NoticeError> {
        if self.off.len() > MAX_OFF_RANGES || self.makeup_workdays.len() > MAX_OFF_RANGES {
            return Err(NoticeError::TooManyDays);
        }
        for (a, b) in &self.off {
            if a.year != year || b.year != year || a > b {
                return Err(NoticeError::BadRange {
                    from: *a,
                    to: *b,
                    year,
                });
            }
        }
        if let Some(d) = self.makeup_workdays.iter().find(|d| d.year != year) {
            return Err(NoticeError::BadMakeupDay { day: *d, year });
        }
        Ok(())
    }

    fn is_off(&self, d: &Date) -> bool {
        self.off.iter().any(|(a, b)| a <= d && d <= b)
    }
}

/// Calendar holds the national notices and regional overlays in force.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Calendar {
    national: BTreeMap<i32, YearNotice>,
    regional: BTreeMap<(String, i32), YearNotice>,
}

#[derive(Deserialize)]
struct BuiltinFile {
    years: BTreeMap<String, serde_json::Value>,
}

/// BUILTIN_JSON is the shipped national holiday data (2024–2026).
pub const BUILTIN_JSON: &str = include_str!("../../data/cn-holidays-2024-2026.json");

impl Calendar {
    /// builtin returns the calendar of the shipped national notices.
    pub fn builtin() -> Calendar {
        // The shipped file has descriptive fields too; only `years` is read.
        let f: BuiltinFile =
            serde_json::from_str(BUILTIN_JSON).expect("shipped holiday data parses");
        let mut c = Calendar::default();
        for (y, n) in f.years {
            let y: i32 = y.parse().expect("shipped year");
            // A year whose notice is not yet published ("notice": null) stays unknown: provisional.
            if n["notice"].is_null() {
                continue;
            }
            let n: YearNotice = serde_json::from_value(n).expect("shipped notice parses");
            n.validate(y).expect("shipped holiday data is consistent");
            c.national.insert(y, n);
        }
        c
    }

    /// publish adds or replaces a year's notice, national (`region` None) or regional.
    ///
    /// # Errors
    ///
    /// The [`NoticeError`] of [`YearNotice::validate`]; nothing is changed.
    pub fn publish(
        &mut self,
        year: i32,
        region: Option<&str>,
        notice: YearNotice,
    ) -> Result<(), NoticeError> {
        notice.validate(year)?;
        match region {
            None => {
                self.national.insert(year, notice);
            }
            Some(r) => {
                self.regional.insert((r.to_string(), year), notice);
            }
        }
        Ok(())
    }

    /// has_notice reports whether the year's national notice (and the
    /// region's overlay, when a region is given) is known.
    pub fn has_notice(&self, year: i32, region: Option<&str>) -> bool {
        self.national.contains_key(&year)
            && region.is_none_or(|r| self.regional.contains_key(&(r.to_string(), year)))
    }

    /// notices returns the year's national notice and, when a region is
    /// given, the region's overlay (each if known).
    fn notices(&self, year: i32, region: Option<&str>) -> YearNotices<'_> {
        YearNotices {
            national: self.national.get(&year),
            regional: region.and_then(|r| self.regional.get(&(r.to_string(), year))),
        }
    }

    /// is_working_day returns whether `d` is a working day, and whether that
    /// answer is provisional (no notice for its year).
    pub fn is_working_day(&self, d: &Date, region: Option<&str>) -> (bool, bool) {
        let provisional = !self.has_notice(d.year, region);
        (self.notices(d.year, region).working(d), provisional)
    }

    /// add_working_days returns the date that is `n` working days after
    /// `from` (the day `from` itself not counted), and whether any day
    /// counted lies in a year without a notice (provisional); `None` if it
    /// falls after 9999-12-31.
    ///
    /// It costs O(years crossed + the notices' days), not O(days): whole
    /// years are counted with [`Calendar::working_days_between`], and only
    /// the last year is walked day by day (at most 366 days).
    pub fn add_working_days(
        &self,
        from: Date,
        n: u32,
        region: Option<&str>,
    ) -> Option<(Date, bool)> {
        if n == 0 {
            return Some((from, false));
        }
        // Each working day takes at least one calendar day: a count larger
        // than the days left before 9999-12-31 can never be reached.
        if i64::from(n) > from.days_until(&LAST_DAY) {
            return None;
        }
        let mut left = n;
        let mut provisional = false;
        let mut year_start = from.add_days(1)?;
        loop {
            let y = year_start.year;
            provisional |= !self.has_notice(y, region);
            let year_end = Date::new(y, 12, 31).expect("Dec 31");
            let in_year = self.notices(y, region).count(year_start, year_end);
            if in_year < left {
                left -= in_year;
                year_start = Date::new(y + 1, 1, 1)?;
                continue;
            }
            // The date is in this year: walk it.
            let ns = self.notices(y, region);
            let mut d = year_start;
            loop {
                if ns.working(&d) {
                    left -= 1;
                    if left == 0 {
                        return Some((d, provisional));
                    }
                }
                d = d.add_days(1).expect("inside the year");
            }
        }
    }

    /// working_days_between counts working days in (from, to] (0 if to ≤ from),
    /// in O(years crossed + the notices' days).
    pub fn working_days_between(&self, from: Date, to: Date, region: Option<&str>) -> u32 {
        if to <= from {
            return 0;
        }
        let Some(mut a) = from.add_days(1) else {
            return 0;
        };
        let mut count: u64 = 0;
        loop {
            let year_end = Date::new(a.year, 12, 31).expect("Dec 31");
            let b = year_end.min(to);
            count += u64::from(self.notices(a.year, region).count(a, b));
            if b == to {
                break;
            }
            a = Date::new(a.year + 1, 1, 1).expect("to is later");
        }
        // At most 8030 years × 366 days: always fits.
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

/// LAST_DAY is the last date [`Date`] can hold.
const LAST_DAY: Date = Date {
    year: 9999,
    month: 12,
    day: 31,
};

/// weekdays_before returns how many Mondays–Fridays lie in the days
/// `0..z` counted from 1970-01-01 (`z` ≥ 0).
fn weekdays_before(z: i64) -> i64 {
    // 1970-01-01 was a Thursday: shift by 3 so that k = 0 is a Monday.
    let k = z + 3;
    let whole = 5 * k.div_euclid(7) + k.rem_euclid(7).min(5);
    whole - 3 // the three days Mon–Wed before the epoch (k = 0, 1, 2)
}

/// YearNotices are the notices in force for one year (and region).
#[derive(Clone, Copy)]
struct YearNotices<'a> {
    national: Option<&'a YearNotice>,
    regional: Option<&'a YearNotice>,
}

impl YearNotices<'_> {
    /// working applies the rule: Monday–Friday, then the national notice's
    /// off days and make-up days, then the regional overlay's, later ones winning.
    fn working(&self, d: &Date) -> bool {
        let mut working = d.weekday() <= 5;
        for n in [self.national, self.regional].into_iter().flatten() {
            if n.is_off(d) {
                working = false;
            }
            if n.makeup_workdays.contains(d) {
                working = true;
            }
        }
        working
    }

    /// count counts working days in [a, b], both in one year (a ≤ b):
    /// Monday–Friday by arithmetic, corrected on the days a notice names.
    fn count(&self, a: Date, b: Date) -> u32 {
        let (za, zb) = (a.days_since_epoch(), b.days_since_epoch());
        let mut n = weekdays_before(zb + 1) - weekdays_before(za);
        if self.national.is_some() || self.regional.is_some() {
            for d in self.named_days(a, b) {
                n += i64::from(self.working(&d)) - i64::from(d.weekday() <= 5);
            }
        }
        u32::try_from(n).expect("a count within one year")
    }

    /// named_days lists, once each, the days of [a, b] that some notice
    /// names (an off range or a make-up day): the only days whose status
    /// can differ from Monday–Friday.
    fn named_days(&self, a: Date, b: Date) -> Vec<Date> {
        let notices = [self.national, self.regional];
        let mut ranges: Vec<(i64, i64)> = notices
            .iter()
            .flatten()
            .flat_map(|n| n.off.iter())
            .map(|(x, y)| (x.max(&a).days_since_epoch(), y.min(&b).days_since_epoch()))
            .filter(|(x, y)| x <= y)
            .collect();
        ranges.extend(
            notices
                .iter()
                .flatten()
                .flat_map(|n| n.makeup_workdays.iter())
                .filter(|d| a <= **d && **d <= b)
                .map(|d| (d.days_since_epoch(), d.days_since_epoch())),
        );
        ranges.sort_unstable();
        let mut days = Vec::new();
        let mut next = i64::MIN;
        for (x, y) in ranges {
            for z in x.max(next)..=y {
                days.push(Date::from_days_since_epoch(z).expect("inside [a, b]"));
            }
            next = next.max(y + 1);
        }
        days
    }
}

#[cfg(test)]
mod tests {
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
    fn oracle_working_days_between(
        c: &Calendar,
        from: Date,
        to: Date,
        region: Option<&str>,
    ) -> u32 {
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
}
