//! The grammar of public identifiers and free text (schemas/FORMATS.md,
//! "Identifiers and text").
//!
//! Identifiers are refused, never normalised: the seeds give no rule by
//! which `ｇｘ-1` and `GX-1` would be the same number, so the ledger admits
//! exactly one spelling and refuses look-alikes (lower case in a 登记号,
//! full-width forms, Cyrillic or Greek letters, zero-width and bidi
//! characters) instead of guessing which one was meant.

use super::regulations;
use super::RuleViolation;

/// MAX_ID_BYTES bounds every identifier: a participant id must also fit a
/// key id (`<id>/<8 hex>`, at most 128 bytes, FORMATS.md "Envelope").
pub const MAX_ID_BYTES: usize = 64;
/// MAX_NAME_BYTES bounds a one-line name the public site shows.
pub const MAX_NAME_BYTES: usize = 256;
/// MAX_TEXT_BYTES bounds a free-text field (reasons, grounds, details).
pub const MAX_TEXT_BYTES: usize = 4096;

type R = Result<(), RuleViolation>;

fn bad(what: &'static str, id: &str, rule: &'static str, citation: Option<&'static str>) -> R {
    // The value is echoed (Debug-escaped) so a user sees the invisible
    // character that made it fail, but never more than a screenful of it.
    let shown: String = id.chars().take(80).collect();
    Err(RuleViolation::BadIdentifier {
        what,
        id: shown,
        rule,
        citation,
    })
}

/// is_id_char reports whether `b` may appear in an identifier after its first byte.
fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// check_id checks an identifier (participant, resource, agreement,
/// product, objection id; region): 1..=64 bytes of ASCII letters, digits,
/// `-`, `_` and `.`, starting and ending with a letter or digit. Case is
/// significant and never folded.
pub fn check_id(what: &'static str, s: &str) -> R {
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= MAX_ID_BYTES
        && b.iter().all(|&c| is_id_byte(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric();
    if !ok {
        return bad(
            what,
            s,
            "1..=64 ASCII letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            None,
        );
    }
    Ok(())
}

/// check_number checks a public number printed on a certificate or
/// credential (登记号, 授权编号): 1..=64 bytes of upper-case ASCII letters
/// and digits in groups joined by single hyphens, e.g. `GXDP-2025-000001`.
pub fn check_number(what: &'static str, s: &str, citation: &'static str) -> R {
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= MAX_ID_BYTES
        && b.iter()
            .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--");
    if !ok {
        return bad(
            what,
            s,
            "1..=64 upper-case ASCII letters and digits in groups joined by single '-'",
            Some(citation),
        );
    }
    Ok(())
}

/// check_registration_no checks a 登记号.
pub fn check_registration_no(s: &str) -> R {
    check_number(
        "registration_no",
        s,
        concat!(
            regulations::cite!(guangxi, "第十二条第（七）项"),
            "；",
            regulations::cite!(shuozhou, "六、（三）开发流程（统一进行产品登记编码）")
        ),
    )
}

/// CREDIT_CODE_CHARS are the characters of a 统一社会信用代码 (GB 32100-2015:
/// digits and upper-case letters without I, O, Z, S, V), in value order.
const CREDIT_CODE_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// check_credit_code checks a 统一社会信用代码: 18 characters of
/// GB 32100-2015 whose last is the check character of the first 17.
pub fn check_credit_code(s: &str) -> R {
    const W: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let b = s.as_bytes();
    let value = |c: u8| CREDIT_CODE_CHARS.iter().position(|&x| x == c);
    let ok = b.len() == 18 && b.iter().all(|&c| value(c).is_some()) && {
        let sum: u32 = b[..17]
            .iter()
            .zip(W)
            .map(|(&c, w)| value(c).unwrap_or(0) as u32 * w)
            .sum();
        let check = (31 - sum % 31) % 31;
        value(b[17]) == Some(check as usize)
    };
    if !ok {
        return bad(
            "credit_code",
            s,
            "18 characters of GB 32100-2015 (digits and upper-case letters but I, O, Z, S, V) with a valid check character",
            None,
        );
    }
    Ok(())
}

/// is_invisible reports characters a reader cannot see or that reorder
/// what they see: format and bidi controls, zero-width characters,
/// variation selectors, tags, private-use and non-characters.
pub fn is_invisible(c: char) -> bool {
    matches!(u32::from(c),
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5
        | 0x180B..=0x180F
        | 0x200B..=0x200F
        | 0x2028..=0x202E
        | 0x2060..=0x206F
        | 0x3164 | 0xFFA0
        | 0xFE00..=0xFE0F
        | 0xFEFF
        | 0xFFF9..=0xFFFD
        | 0xFDD0..=0xFDEF
        | 0xE000..=0xF8FF
        | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF
        | 0xF0000..=0x10FFFF)
        || (u32::from(c) & 0xFFFE) == 0xFFFE
}

fn text_error(what: &'static str, rule: &'static str) -> R {
    Err(RuleViolation::MalformedPayload(format!("{what} {rule}")))
}

/// check_name checks a one-line name the public site shows (participant
/// and product names, scenarios, titles): 1..=256 bytes, not blank, no
/// leading or trailing white space, no control characters (line breaks
/// included) and no invisible or bidi characters ([`is_invisible`]).
pub fn check_name(what: &'static str, s: &str) -> R {
    if s.trim().is_empty() {
        return text_error(what, "must not be empty or only white space");
    }
    if s.len() > MAX_NAME_BYTES {
        return text_error(what, "must be at most 256 bytes");
    }
    if s.trim() != s {
        return text_error(what, "must not begin or end with white space");
    }
    if s.chars().any(|c| c.is_control() || is_invisible(c)) {
        return text_error(
            what,
            "must be one line without control, zero-width or bidi characters",
        );
    }
    Ok(())
}

/// check_text checks free text (reasons, grounds, details, notices):
/// 1..=4096 bytes, not blank, no control characters but line feeds, no
/// invisible or bidi characters.
pub fn check_text(what: &'static str, s: &str) -> R {
    if s.trim().is_empty() {
        return text_error(what, "must not be empty or only white space");
    }
    if s.len() > MAX_TEXT_BYTES {
        return text_error(what, "must be at most 4096 bytes");
    }
    if s.chars()
        .any(|c| (c.is_control() && c != '\n') || is_invisible(c))
    {
        return text_error(
            what,
            "must not contain control characters (but line feeds), zero-width or bidi characters",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_numbers_admit_one_spelling() {
        assert!(check_registration_no("GXDP-2025-000001").is_ok());
        for bad in [
            "gxdp-2025-000001",
            "ＧＸDP-2025-000001",
            "GXDP-2025-000001\u{200B}",
            "G\u{0425}DP-2025-000001", // Cyrillic Ха
            "\u{202E}GXDP-2025-000001",
            "GXDP--2025",
            "-GXDP",
            "GXDP ",
            "",
            &"A".repeat(65),
        ] {
            let e = check_registration_no(bad).unwrap_err();
            assert_eq!(e.code(), "malformed-payload", "{bad:?}");
            assert!(e.citation().unwrap().contains("第十二条"), "{bad:?}");
        }
    }

    #[test]
    fn ids_are_ascii_and_fit_a_key_id() {
        assert!(check_id("id", "gx-operator").is_ok());
        assert!(check_id("id", "91440300708461136T").is_ok());
        assert!(check_id("id", &"a".repeat(64)).is_ok());
        for bad in [
            "",
            "a/b",
            "运营机构",
            "a b",
            "-a",
            "a.",
            &"a".repeat(65),
            "ａ",
        ] {
            assert!(check_id("id", bad).is_err(), "{bad:?}");
        }
        // The longest id still makes a key id within the envelope's limit.
        let kid = crate::entry::envelope::participant_key_id(
            &"a".repeat(MAX_ID_BYTES),
            &crate::crypto::PublicKey::Ed25519([7; 32]),
        );
        assert!(kid.len() <= crate::entry::envelope::MAX_KEY_ID_BYTES);
    }

    #[test]
    fn credit_codes_carry_their_check_character() {
        assert!(check_credit_code("91440300708461136T").is_ok());
        assert!(check_credit_code("91440300708461136A").is_err());
        assert!(check_credit_code("9144030070846113OT").is_err());
        assert!(check_credit_code("91440300708461136").is_err());
    }

    #[test]
    fn names_refuse_invisible_and_multi_line_text() {
        assert!(check_name("name", "南宁出行科技有限公司").is_ok());
        for bad in [
            "",
            "   ",
            "\u{3000}",
            " 前导空格",
            "两行\n名称",
            "tab\there",
            "零宽\u{200B}空格",
            "\u{202E}反向",
            "隔离\u{2066}",
            "\u{FEFF}bom",
            "私用\u{E000}",
        ] {
            assert!(check_name("name", bad).is_err(), "{bad:?}");
        }
        assert!(check_text("reason", "第一行\n第二行").is_ok());
        assert!(check_text("reason", "cr\r\n").is_err());
        assert!(check_text("reason", "\n\n").is_err());
        assert!(check_text("reason", "隐藏\u{200D}").is_err());
    }
}
