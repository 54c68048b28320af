//! `regledger-verify deadline`: N working days after a date, on the official calendar.

use regledger::registry::calendar::{Calendar, Date};
use serde_json::json;

use crate::outcome::Outcome;

/// MAX_WORKING_DAYS bounds N (the seeds' longest deadline is 20 working days).
const MAX_WORKING_DAYS: u32 = 3_650;

/// Arguments of `deadline`.
#[derive(clap::Args)]
pub struct Args {
    /// The day the period starts from (YYYY-MM-DD); it is not counted itself.
    #[arg(long)]
    pub from: String,
    /// How many working days (工作日) the period has.
    #[arg(long)]
    pub working_days: u32,
    /// Regional calendar overlay (e.g. guangxi, whose 三月三 holidays differ from the national
    /// calendar). Regional notices are not shipped: they are published in each log, so offline
    /// the answer for a region is marked provisional.
    #[arg(long)]
    pub region: Option<String>,
}

/// run prints the due date, with "provisional" when a year crossed has no official notice in the calendar.
pub fn run(a: &Args) -> Outcome {
    let Some(from) = Date::parse(&a.from) else {
        return Outcome::input(format!("--from {:?}: want a date YYYY-MM-DD", a.from));
    };
    if a.working_days > MAX_WORKING_DAYS {
        return Outcome::input(format!(
            "--working-days {}: at most {MAX_WORKING_DAYS}",
            a.working_days
        ));
    }
    let cal = Calendar::builtin();
    let region = a.region.as_deref();
    if let Some(r) = region {
        if r.is_empty() || r.len() > 64 || !r.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
            return Outcome::input(format!(
                "--region {r:?}: want a lowercase region name such as guangxi"
            ));
        }
    }
    let Some((due, provisional)) = cal.add_working_days(from, a.working_days, region) else {
        return Outcome::input("date out of range".to_string());
    };
    Outcome::Verified {
        text: format!("{due}{}\n", if provisional { " provisional" } else { "" }),
        json: json!({"from": from, "working_days": a.working_days, "region": region, "due": due, "provisional": provisional}),
    }
}
