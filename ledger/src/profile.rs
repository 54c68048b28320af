//! Policy profiles: the numbers in which the seed regulations differ
//! (terms, deadlines, retention). A log's profile is fixed in its genesis
//! entry so every verifier replays the same rules.

use serde::Serialize;

/// Profile holds one jurisdiction's limits and deadlines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// name is the profile's name as written in genesis and log.json.
    pub name: &'static str,
    /// max_term_months is the longest agreement term allowed.
    pub max_term_months: u32,
    /// max_term_citation is where that limit comes from.
    pub max_term_citation: &'static str,
    /// filing_working_days: agreements and plans are filed within this many working days of signing.
    pub filing_working_days: u32,
    /// filing_citation is where that deadline comes from.
    pub filing_citation: &'static str,
    /// registration_working_days: products are registered within this many working days of approval.
    pub registration_working_days: u32,
    /// registration_citation is where that deadline comes from.
    pub registration_citation: &'static str,
    /// review_working_days: applications are reviewed within this many working days.
    pub review_working_days: u32,
    /// review_citation is where that deadline comes from.
    pub review_citation: &'static str,
    /// objection_working_days: objections get feedback within this many working days.
    pub objection_working_days: u32,
    /// objection_citation is where that deadline comes from.
    pub objection_citation: &'static str,
    /// notice_natural_days is the length of the public notice period (公示期).
    pub notice_natural_days: u32,
    /// notice_citation is where that period comes from.
    pub notice_citation: &'static str,
    /// renewal_window_months: renewal is applied for between the first and second number of months before expiry.
    pub renewal_window_months: Option<(u32, u32)>,
    /// renewal_citation is where that window comes from.
    pub renewal_citation: &'static str,
    /// retention_months: operation logs of an agreement are kept at least this long after it ends.
    pub retention_months: u32,
    /// retention_citation is where that period comes from.
    pub retention_citation: &'static str,
    /// region is the regional calendar overlay the profile's deadlines use.
    pub region: Option<&'static str>,
}

const XIAN: &str = "000_acb393464e5e7bf2.txt";
const CHENGDU: &str = "001_c6d727a03fb1b123.txt";
const SHUOZHOU: &str = "002_45e26b3c5bafdef4.txt";
const XIAN_OPEN: &str = "003_47b60ea010027ee7.txt";
const GUANGXI: &str = "004_f74e87670fce17ff.txt";

/// PROFILES are the built-in profiles.
pub static PROFILES: [Profile; 4] = [
    Profile {
        name: "xian",
        max_term_months: 60,
        max_term_citation: "000_acb393464e5e7bf2.txt Art. 20",
        filing_working_days: 10,
        filing_citation: "000_acb393464e5e7bf2.txt Art. 19, Art. 22",
        registration_working_days: 20,
        registration_citation: "000_acb393464e5e7bf2.txt Art. 26",
        review_working_days: 3,
        review_citation: "000_acb393464e5e7bf2.txt Art. 23",
        objection_working_days: 10,
        objection_citation: "003_47b60ea010027ee7.txt Art. 25",
        notice_natural_days: 10,
        notice_citation:
            "004_f74e87670fce17ff.txt Art. 12(6) (Xi'an sets none; Guangxi's period applied)",
        renewal_window_months: None,
        renewal_citation: "",
        retention_months: 6,
        retention_citation:
            "004_f74e87670fce17ff.txt Art. 12(3) (Xi'an sets none; Guangxi's floor applied)",
        region: None,
    },
    Profile {
        name: "chengdu",
        max_term_months: 60,
        max_term_citation: "001_c6d727a03fb1b123.txt Art. 16(2)",
        filing_working_days: 10,
        filing_citation: "001_c6d727a03fb1b123.txt Art. 13, Art. 16",
        registration_working_days: 20,
        registration_citation:
            "000_acb393464e5e7bf2.txt Art. 26 (Chengdu sets none; Xi'an's applied)",
        review_working_days: 5,
        review_citation: "001_c6d727a03fb1b123.txt Art. 23",
        objection_working_days: 10,
        objection_citation: "003_47b60ea010027ee7.txt Art. 25",
        notice_natural_days: 10,
        notice_citation:
            "004_f74e87670fce17ff.txt Art. 12(6) (Chengdu sets none; Guangxi's period applied)",
        renewal_window_months: None,
        renewal_citation: "",
        retention_months: 12,
        retention_citation: "001_c6d727a03fb1b123.txt Art. 26",
        region: None,
    },
    Profile {
        name: "shuozhou",
        max_term_months: 36,
        max_term_citation: "002_45e26b3c5bafdef4.txt §8 (授权期限原则上不超过3年)",
        filing_working_days: 10,
        filing_citation: "000_acb393464e5e7bf2.txt Art. 22 (Shuozhou sets none; Xi'an's applied)",
        registration_working_days: 20,
        registration_citation:
            "000_acb393464e5e7bf2.txt Art. 26 (Shuozhou sets none; Xi'an's applied)",
        review_working_days: 3,
        review_citation: "000_acb393464e5e7bf2.txt Art. 23 (Shuozhou sets none; Xi'an's applied)",
        objection_working_days: 10,
        objection_citation: "003_47b60ea010027ee7.txt Art. 25",
        notice_natural_days: 10,
        notice_citation:
            "004_f74e87670fce17ff.txt Art. 12(6) (Shuozhou sets none; Guangxi's period applied)",
        renewal_window_months: Some((3, 6)),
        renewal_citation: "002_45e26b3c5bafdef4.txt §8 (到期前3-6个月内申请续期)",
        retention_months: 6,
        retention_citation:
            "004_f74e87670fce17ff.txt Art. 12(3) (Shuozhou sets none; Guangxi's floor applied)",
        region: None,
    },
    Profile {
        name: "guangxi",
        max_term_months: 60,
        max_term_citation: "004_f74e87670fce17ff.txt Art. 12(3) (一般不超过5年)",
        filing_working_days: 10,
        filing_citation: "000_acb393464e5e7bf2.txt Art. 22 (Guangxi sets none; Xi'an's applied)",
        registration_working_days: 20,
        registration_citation:
            "000_acb393464e5e7bf2.txt Art. 26 (Guangxi sets none; Xi'an's applied)",
        review_working_days: 3,
        review_citation: "004_f74e87670fce17ff.txt Art. 10, Art. 12(2)",
        objection_working_days: 10,
        objection_citation: "003_47b60ea010027ee7.txt Art. 25",
        notice_natural_days: 10,
        notice_citation: "004_f74e87670fce17ff.txt Art. 12(6)",
        renewal_window_months: None,
        renewal_citation: "",
        retention_months: 6,
        retention_citation: "004_f74e87670fce17ff.txt Art. 12(3)",
        region: Some("guangxi"),
    },
];

/// profile returns the built-in profile of that name.
pub fn profile(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

/// SEED_FILES lists the seed files profiles cite, for documentation checks.
pub const SEED_FILES: [&str; 5] = [XIAN, CHENGDU, SHUOZHOU, XIAN_OPEN, GUANGXI];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_distinct_and_cite_seeds() {
        for p in &PROFILES {
            assert_eq!(profile(p.name), Some(p));
            for c in [
                p.max_term_citation,
                p.filing_citation,
                p.registration_citation,
                p.review_citation,
                p.retention_citation,
            ] {
                assert!(
                    SEED_FILES.iter().any(|f| c.starts_with(f)),
                    "{}: {c}",
                    p.name
                );
            }
        }
        assert_eq!(profile("shuozhou").unwrap().max_term_months, 36);
        assert_eq!(profile("chengdu").unwrap().retention_months, 12);
        assert_eq!(profile("guangxi").unwrap().retention_months, 6);
        assert!(profile("beijing").is_none());
    }
}
