//! The regulations the rules come from, cited by title and article.
//!
//! This is the one table of the seed regulations in the code: every
//! citation the rules, profiles and reports print is built here, from the
//! full Chinese title and the article (e.g.
//! 《广西壮族自治区公共数据资源授权运营管理办法（试行）》第十二条). Nothing in
//! the code, the documents or the reports names the files the texts are
//! kept in.
//!
//! Citations are `&'static str`, assembled at compile time with
//! `cite!`, so a rule can carry one
//! without allocating and every consumer (audit report, HTTP problem,
//! profile) prints the same text.

/// title_of expands to the full Chinese title of a regulation, with its
/// book-title marks. The one place each title is written.
macro_rules! title_of {
    (xian) => {
        "《西安市公共数据资源授权运营管理实施细则》"
    };
    (chengdu) => {
        "《成都市公共数据资源授权运营管理办法（征求意见稿）》"
    };
    (shuozhou) => {
        "《朔州市公共数据资源授权运营实施方案（试行）》（征求意见稿）"
    };
    (xian_open) => {
        "《西安市政务数据开放管理办法（征求意见稿）》"
    };
    (guangxi) => {
        "《广西壮族自治区公共数据资源授权运营管理办法（试行）》"
    };
}
pub(crate) use title_of;

/// cite expands to a citation: the regulation's title followed by the
/// article (and any note), e.g. `cite!(guangxi, "第十二条第（七）项")`.
macro_rules! cite {
    ($reg:ident, $article:literal) => {
        concat!($crate::registry::regulations::title_of!($reg), $article)
    };
}
pub(crate) use cite;

/// Regulation is one of the seed regulations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Regulation {
    /// Xi'an implementing rules for authorized operation (2025).
    Xian,
    /// Chengdu measures (draft for comments).
    Chengdu,
    /// Shuozhou implementation plan (draft for comments).
    Shuozhou,
    /// Xi'an open government data measures (draft for comments).
    XianOpenData,
    /// Guangxi measures (trial).
    Guangxi,
}

impl Regulation {
    /// ALL lists every regulation.
    pub const ALL: [Regulation; 5] = [
        Regulation::Xian,
        Regulation::Chengdu,
        Regulation::Shuozhou,
        Regulation::XianOpenData,
        Regulation::Guangxi,
    ];

    /// title returns the full Chinese title with its book-title marks.
    pub const fn title(self) -> &'static str {
        match self {
            Regulation::Xian => title_of!(xian),
            Regulation::Chengdu => title_of!(chengdu),
            Regulation::Shuozhou => title_of!(shuozhou),
            Regulation::XianOpenData => title_of!(xian_open),
            Regulation::Guangxi => title_of!(guangxi),
        }
    }

    /// cite returns a citation of `article` (e.g. "第十二条") of this regulation.
    pub fn cite(self, article: &str) -> String {
        format!("{}{article}", self.title())
    }

    /// cited_in returns the regulations a citation names, in order of appearance.
    pub fn cited_in(citation: &str) -> Vec<Regulation> {
        let mut found: Vec<(usize, Regulation)> = Regulation::ALL
            .iter()
            .filter_map(|r| citation.find(r.title()).map(|at| (at, *r)))
            .collect();
        found.sort();
        found.into_iter().map(|(_, r)| r).collect()
    }
}

/// header_value returns `citation` as an HTTP header value: printable
/// ASCII kept, every other byte percent-encoded (RFC 3986), so a Chinese
/// title survives the trip instead of turning into question marks. Decode
/// with any URL decoder.
pub fn header_value(citation: &str) -> String {
    let mut out = String::with_capacity(citation.len() * 3);
    for b in citation.bytes() {
        if (b.is_ascii_graphic() && b != b'%') || b == b' ' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// The articles the rules cite, one constant each, so a rule and the
// documentation name the same text.

/// 可管、可控、可追溯: who may act is checked on every entry.
pub const TRACEABLE: &str = cite!(xian, "第七条（可管、可控、可追溯）");
/// Every act of authorized operation is registered or filed on the platform.
pub const REGISTERED_OR_FILED: &str = cite!(guangxi, "第五条");
/// 无授权不运营.
pub const NO_AUTHORIZATION_NO_OPERATION: &str = cite!(guangxi, "第二条（坚持无授权不运营）");
/// Suspension during rectification.
pub const SUSPENSION: &str = cite!(chengdu, "第三十四条");
/// Who holds and registers resources: data source units register their own.
pub const RESOURCE_REGISTRATION: &str = cite!(xian, "第十一条第（三）项");
/// The implementing agency signs the operation agreement with the operator.
pub const OPERATION_AGREEMENT: &str = cite!(guangxi, "第七条第（四）项");
/// The operator signs the scene authorization with the applicant and files it.
pub const SCENE_AUTHORIZATION: &str = cite!(guangxi, "第十二条第（三）项");
/// Catalog authorization: agreement with the operator, then the e-credential.
pub const CATALOG_AUTHORIZATION: &str = cite!(guangxi, "第十条第（三）项");
/// The operator verifies consistency; the platform issues the certificate.
pub const PRODUCT_REGISTRATION: &str = cite!(guangxi, "第十二条第（五）项、第（七）项");
/// Registered products are the operator's to change, suspend, revoke.
pub const PRODUCT_ACTS: &str = cite!(guangxi, "第十二条第（七）项、第（八）项");
/// The public notice of 10 natural days.
pub const PUBLIC_NOTICE: &str = cite!(guangxi, "第十二条第（六）项");
/// Objections: anyone files; the operator or the business entity handles them.
pub const OBJECTIONS: &str = cite!(guangxi, "第十二条第（八）项");
/// Termination, log retention and destruction of the data.
pub const TERMINATION: &str = cite!(guangxi, "第十二条第（三）项（终止、留存日志、数据销毁）");
/// Exit and deregistration (注销登记).
pub const EXIT: &str = cite!(xian, "第三十二条");
/// The operator may not redevelop products it delivered.
pub const NO_REDEVELOPMENT: &str = cite!(guangxi, "第七条第（八）项");
/// Product registration coding before launch (登记编码).
pub const REGISTRATION_CODING: &str = cite!(shuozhou, "六、（三）开发流程（统一进行产品登记编码）");
/// Renewal or a new authorization after assessment.
pub const RENEWAL: &str = cite!(shuozhou, "八、授权运营期限（续期或重新授权）");
/// Filings within 10 working days of signing.
pub const FILING: &str = cite!(xian, "第十九条、第二十二条");
/// Product registration within 20 working days of approval.
pub const REGISTRATION_DEADLINE: &str = cite!(xian, "第二十六条");
/// Whole-process traces (全程留痕) and call logs.
pub const OPERATION_LOGS: &str = cite!(shuozhou, "十、（五）安全管理机制（全程留痕）");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_distinct_and_match_the_mission_table() {
        for (i, a) in Regulation::ALL.iter().enumerate() {
            assert!(a.title().starts_with('《'));
            for b in &Regulation::ALL[i + 1..] {
                assert!(!a.title().contains(b.title()) && !b.title().contains(a.title()));
            }
        }
        assert_eq!(
            Regulation::Guangxi.cite("第十二条"),
            "《广西壮族自治区公共数据资源授权运营管理办法（试行）》第十二条"
        );
        assert_eq!(
            Regulation::cited_in(TRACEABLE),
            vec![Regulation::Xian],
            "{TRACEABLE}"
        );
    }

    #[test]
    fn header_values_are_ascii_and_decode_back() {
        let h = header_value(SCENE_AUTHORIZATION);
        assert!(h.bytes().all(|b| b.is_ascii_graphic()));
        let mut raw = Vec::new();
        let b = h.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let s = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                raw.push(u8::from_str_radix(s, 16).unwrap());
                i += 3;
            } else {
                raw.push(b[i]);
                i += 1;
            }
        }
        assert_eq!(String::from_utf8(raw).unwrap(), SCENE_AUTHORIZATION);
    }
}
