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
#[path = "calendar_tests.rs"]
mod tests;
