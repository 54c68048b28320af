//! The working-day calendar: a data authority publishes the official
//! notice of a year's holidays and make-up working days, which the
//! deadline checks then count with (docs/registry.md, "Calendar").

use super::checks::*;
use crate::entry::envelope::Envelope;
use crate::registry::calendar::YearNotice;
use crate::registry::ident::{check_id, check_text};
use crate::registry::*;

/// calendar_published records a year's official holiday notice (national or
/// for the profile's region), from six years back to one year ahead.
pub(super) fn calendar_published<S: StateReader + ?Sized>(
    c: &mut Ctx<'_, S>,
    env: &Envelope,
) -> R<()> {
    let today = c.today;
    let n: CalendarNotice = parse(env)?;
    check_text("notice", &n.notice)?;
    // Notices are published ahead for the next year, and late for
    // the years an old filing's deadline may still cross.
    let years = (today.year - 6)..=(today.year + 1);
    if !years.contains(&n.year) {
        return Err(RuleViolation::InvalidDates(format!(
            "a calendar for {} is outside {}..={} (six years back to one ahead of the day it is logged)",
            n.year,
            years.start(),
            years.end()
        )));
    }
    let notice = YearNotice {
        notice: n.notice,
        off: n.off,
        makeup_workdays: n.makeup_workdays,
    };
    notice
        .validate(n.year)
        .map_err(|e| RuleViolation::InvalidDates(e.to_string()))?;
    let region = n.region.unwrap_or_default();
    if !region.is_empty() {
        check_id("region", &region)?;
    }
    c.subject(&format!("calendar-{}", n.year));
    c.put(
        StateKey::Calendar(n.year, region),
        StateObject::Calendar(notice),
    );
    Ok(())
}
