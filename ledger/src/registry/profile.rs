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

use crate::registry::regulations::cite;

/// PROFILES are the built-in profiles. Every citation is built from the
/// one table of regulations (`registry::regulations`).
pub static PROFILES: [Profile; 4] = [
    Profile {
        name: "xian",
        max_term_months: 60,
        max_term_citation: cite!(xian, "第二十条第（二）项"),
        filing_working_days: 10,
        filing_citation: cite!(xian, "第十九条、第二十二条"),
        registration_working_days: 20,
        registration_citation: cite!(xian, "第二十六条"),
        review_working_days: 3,
        review_citation: cite!(xian, "第二十三条"),
        objection_working_days: 10,
        objection_citation: cite!(xian_open, "第二十五条"),
        notice_natural_days: 10,
        notice_citation: cite!(guangxi, "第十二条第（六）项（西安未规定，适用广西公示期）"),
        renewal_window_months: None,
        renewal_citation: "",
        retention_months: 6,
        retention_citation: cite!(
            guangxi,
            "第十二条第（三）项（西安未规定，适用广西留存下限）"
        ),
        region: None,
    },
    Profile {
        name: "chengdu",
        max_term_months: 60,
        max_term_citation: cite!(chengdu, "第十七条第（二）项"),
        filing_working_days: 10,
        filing_citation: cite!(chengdu, "第十三条、第十六条"),
        registration_working_days: 20,
        registration_citation: cite!(xian, "第二十六条（成都未规定，适用西安）"),
        review_working_days: 5,
        review_citation: cite!(chengdu, "第二十三条"),
        objection_working_days: 10,
        objection_citation: cite!(xian_open, "第二十五条"),
        notice_natural_days: 10,
        notice_citation: cite!(guangxi, "第十二条第（六）项（成都未规定，适用广西公示期）"),
        renewal_window_months: None,
        renewal_citation: "",
        retention_months: 12,
        retention_citation: cite!(chengdu, "第二十六条"),
        region: None,
    },
    Profile {
        name: "shuozhou",
        max_term_months: 36,
        max_term_citation: cite!(shuozhou, "八、授权运营期限（原则上不超过3年）"),
        filing_working_days: 10,
        filing_citation: cite!(xian, "第二十二条（朔州未规定，适用西安）"),
        registration_working_days: 20,
        registration_citation: cite!(xian, "第二十六条（朔州未规定，适用西安）"),
        review_working_days: 3,
        review_citation: cite!(xian, "第二十三条（朔州未规定，适用西安）"),
        objection_working_days: 10,
        objection_citation: cite!(xian_open, "第二十五条"),
        notice_natural_days: 10,
        notice_citation: cite!(guangxi, "第十二条第（六）项（朔州未规定，适用广西公示期）"),
        renewal_window_months: Some((3, 6)),
        renewal_citation: cite!(shuozhou, "八、授权运营期限（到期前3-6个月内申请续期）"),
        retention_months: 6,
        retention_citation: cite!(
            guangxi,
            "第十二条第（三）项（朔州未规定，适用广西留存下限）"
        ),
        region: None,
    },
    Profile {
        name: "guangxi",
        max_term_months: 60,
        max_term_citation: cite!(guangxi, "第十二条第（三）项（一般不超过5年）"),
        filing_working_days: 10,
        filing_citation: cite!(xian, "第二十二条（广西未规定，适用西安）"),
        registration_working_days: 20,
        registration_citation: cite!(xian, "第二十六条（广西未规定，适用西安）"),
        review_working_days: 3,
        review_citation: cite!(guangxi, "第十条、第十二条第（二）项"),
        objection_working_days: 10,
        objection_citation: cite!(xian_open, "第二十五条"),
        notice_natural_days: 10,
        notice_citation: cite!(guangxi, "第十二条第（六）项"),
        renewal_window_months: None,
        renewal_citation: "",
        retention_months: 6,
        retention_citation: cite!(guangxi, "第十二条第（三）项"),
        region: Some("guangxi"),
    },
];

/// profile returns the built-in profile of that name.
pub fn profile(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::regulations::Regulation;

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
                p.objection_citation,
                p.notice_citation,
            ] {
                // Cited by title and article, never by seed file name.
                assert!(
                    Regulation::ALL.iter().any(|r| c.starts_with(r.title())),
                    "{}: {c}",
                    p.name
                );
                assert!(!c.contains(".txt"), "{c}");
            }
        }
        assert_eq!(profile("shuozhou").unwrap().max_term_months, 36);
        assert_eq!(profile("chengdu").unwrap().retention_months, 12);
        assert_eq!(profile("guangxi").unwrap().retention_months, 6);
        assert!(profile("beijing").is_none());
    }
}
