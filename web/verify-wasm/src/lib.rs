//! regledger-web-verify: the certificate check a visitor's browser runs on
//! the public site's certificate page (`/products/{登记号}`).
//!
//! It is the `regledger` crate's own bundle verification
//! ([`regledger::cert::bundle::verify_bundle`]) compiled to
//! `wasm32-unknown-unknown`, split into the checks a person can read: the
//! log key pinned from `log.json`, the log's signature on the checkpoint,
//! the witness quorum, the inclusion proofs, the certificate fields against
//! the signed entry, the hash prefix printed in the QR code, the signer
//! history, and the current status proven by the bundle's status proof
//! (a v1 bundle, which has none, is reported as not proven current; see
//! [`Verdict::status`]).
//!
//! [`verdict`] is pure and runs natively too (the node and the tests call
//! it); the `rl_*` functions are the wasm exports the page's small loader
//! (`node/src/site/assets/verify.js`) calls: two byte strings in, one JSON
//! document out. Why a plain export and not wasm-bindgen: decision D16.
#![deny(unsafe_code)]

mod checks;

use regledger::registry::Status;
use regledger::HashSuite;
use serde::Serialize;
use serde_json::Value;

use checks::{
    check_bundle, check_certificate, check_checkpoint, check_inclusion, check_log_key,
    check_qr_hash, check_with_the_ledger, Run,
};

/// MAX_INPUT_BYTES bounds each input (a bundle with 64 signer entries of
/// the largest envelopes fits well below it).
pub const MAX_INPUT_BYTES: usize = 8 << 20;

/// Outcome is the result of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Pass: the check verified.
    Pass,
    /// Fail: the check failed; the verdict names it.
    Fail,
    /// NotRun: an earlier failure left nothing to check, or there was no input for it.
    NotRun,
    /// NotProven: the bundle cannot prove this (the current status of a v1 bundle).
    NotProven,
}

/// Check is one line of the verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// id is the stable name of the check.
    pub id: &'static str,
    /// zh is its Chinese name.
    pub zh: &'static str,
    /// en is its English name.
    pub en: &'static str,
    /// result is the outcome.
    pub result: Outcome,
    /// detail says what was checked or why it failed.
    pub detail: String,
}

/// CHECKS are the checks in the order they run and are shown.
pub const CHECKS: [(&str, &str, &str); 9] = [
    ("log_key", "日志公钥", "Log key (from log.json)"),
    ("bundle", "证书包格式", "Bundle format"),
    ("log_signature", "日志签名", "Log signature"),
    ("witness_quorum", "见证法定数", "Witness quorum"),
    ("inclusion", "包含证明", "Inclusion proof"),
    ("certificate", "证书字段", "Certificate fields"),
    ("qr_hash", "二维码校验码", "QR hash prefix"),
    ("signer_history", "签署方链", "Signer history"),
    ("status", "当前状态", "Current status"),
];

/// Verdict is what the page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// ok: every check that can pass passed (the status of a v1 bundle is
    /// "not proven", which does not fail the verdict, as in `regledger-verify cert`).
    pub ok: bool,
    /// verdict is "验证通过" or "验证失败：<check>".
    pub verdict: String,
    /// failed is the id of the first failed check.
    pub failed: Option<&'static str>,
    /// checks are every check with its outcome.
    pub checks: Vec<Check>,
    /// log_vkey is the pinned log key.
    pub log_vkey: Option<String>,
    /// log_fingerprint is [`fingerprint`] of the log key (printed on the certificate).
    pub log_fingerprint: Option<String>,
    /// certificate are the verified fields (with blockchain_no), when ok.
    pub certificate: Option<Value>,
    /// leaf_hash is the registering entry's leaf hash (hex), once the entry opened.
    pub leaf_hash: Option<String>,
    /// checkpoint_size is the size of the verified checkpoint.
    pub checkpoint_size: Option<u64>,
    /// status is the status the bundle reports, when it verified: state,
    /// Chinese label, the entry that set it, and whether it is proven current.
    pub status: Option<Value>,
    /// witnesses are the witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
}

/// fingerprint is the short form of a log verifier key people compare
/// with the one printed on a certificate: the first 64 bits of
/// SHA-256(vkey text), in four groups of four hex digits.
pub fn fingerprint(vkey: &str) -> String {
    let h = HashSuite::Sha256.digest(&[vkey.as_bytes()]).to_hex();
    h.as_bytes()[..16]
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// valid_hash_prefix reports whether `h` is a QR hash prefix: 8 to 64 lowercase hex digits.
pub fn valid_hash_prefix(h: &str) -> bool {
    (8..=64).contains(&h.len())
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// verdict verifies a certificate bundle against a log descriptor, check
/// by check. `expect_no` is the 登记号 the page is for and `expect_h` the
/// hash prefix from the QR code's URL (`?h=`); either may be empty.
pub fn verdict(bundle_json: &[u8], log_json: &[u8], expect_no: &str, expect_h: &str) -> Verdict {
    let mut r = Run::new();
    let mut out = Verdict {
        ok: false,
        verdict: String::new(),
        failed: None,
        checks: vec![],
        log_vkey: None,
        log_fingerprint: None,
        certificate: None,
        leaf_hash: None,
        checkpoint_size: None,
        status: None,
        witnesses: vec![],
    };
    run(&mut r, &mut out, bundle_json, log_json, expect_no, expect_h);
    let failed = r
        .checks
        .iter()
        .find(|c| c.result == Outcome::Fail)
        .map(|c| (c.id, c.zh, c.en));
    let required_passed = r
        .checks
        .iter()
        .filter(|c| !matches!(c.id, "qr_hash" | "status"))
        .all(|c| c.result == Outcome::Pass);
    out.ok = failed.is_none() && required_passed;
    out.failed = failed.map(|f| f.0);
    out.verdict = match failed {
        None if out.ok => "验证通过".to_string(),
        None => "验证未完成 (verification incomplete)".to_string(),
        Some((_, zh, en)) => format!("验证失败：{zh}（{en} failed）"),
    };
    if !out.ok {
        out.certificate = None;
    }
    out.checks = r.checks;
    out
}

fn run(
    r: &mut Run,
    out: &mut Verdict,
    bundle_json: &[u8],
    log_json: &[u8],
    expect_no: &str,
    expect_h: &str,
) {
    let Some(d) = check_log_key(r, out, log_json) else {
        return;
    };
    let Some(b) = check_bundle(r, bundle_json, &d) else {
        return;
    };
    let Some(cp) = check_checkpoint(r, out, &b, &d) else {
        return;
    };
    let Some((leaf, lh)) = check_inclusion(r, out, &b, &d, &cp) else {
        return;
    };
    check_certificate(r, &b, &d, &leaf, &lh, expect_no);
    check_qr_hash(r, &lh, expect_h);
    check_with_the_ledger(r, out, &b, &d, &cp);
}

/// status_label returns the Chinese label of a product status name.
pub fn status_label(state: &str) -> &'static str {
    match state {
        "active" => Status::Active.label_zh(),
        "suspended" => Status::Suspended.label_zh(),
        "revoked" => Status::Revoked.label_zh(),
        "deregistered" => Status::Deregistered.label_zh(),
        _ => "未知",
    }
}

/// verdict_json is [`verdict`] as the JSON the page reads.
pub fn verdict_json(
    bundle_json: &[u8],
    log_json: &[u8],
    expect_no: &str,
    expect_h: &str,
) -> String {
    serde_json::to_string(&verdict(bundle_json, log_json, expect_no, expect_h))
        .expect("serializable")
}

// The wasm exports. JavaScript asks for a zeroed buffer per input slot,
// writes the UTF-8 bytes into linear memory there, calls `rl_verify`, and
// reads `rl_output_len` bytes at `rl_output`. No pointer is ever read from
// JavaScript: Rust owns every buffer and reads it as a Vec.
mod exports {
    use std::cell::RefCell;

    /// SLOTS: bundle JSON, log.json, 登记号, QR hash prefix.
    const SLOTS: usize = 4;

    thread_local! {
        static INPUTS: RefCell<[Vec<u8>; SLOTS]> = RefCell::new(Default::default());
        static OUTPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    /// rl_buffer returns a zeroed buffer of `len` bytes for input `slot`
    /// (null for a bad slot or size).
    // An exported symbol: #[no_mangle] is what the unsafe_code lint flags
    // (two exports of one name would clash at link time); these names are ours alone.
    #[allow(unsafe_code)]
    #[no_mangle]
    pub extern "C" fn rl_buffer(slot: u32, len: u32) -> *mut u8 {
        let (slot, len) = (slot as usize, len as usize);
        if slot >= SLOTS || len > super::MAX_INPUT_BYTES {
            return std::ptr::null_mut();
        }
        INPUTS.with(|i| {
            let mut i = i.borrow_mut();
            i[slot] = vec![0u8; len];
            i[slot].as_mut_ptr()
        })
    }

    /// rl_verify runs [`super::verdict_json`] on the inputs and returns the output's length.
    #[allow(unsafe_code)]
    #[no_mangle]
    pub extern "C" fn rl_verify() -> u32 {
        let json = INPUTS.with(|i| {
            let i = i.borrow();
            super::verdict_json(
                &i[0],
                &i[1],
                std::str::from_utf8(&i[2]).unwrap_or(""),
                std::str::from_utf8(&i[3]).unwrap_or(""),
            )
        });
        OUTPUT.with(|o| {
            *o.borrow_mut() = json.into_bytes();
            o.borrow().len() as u32
        })
    }

    /// rl_output returns where the last output lies.
    #[allow(unsafe_code)]
    #[no_mangle]
    pub extern "C" fn rl_output() -> *const u8 {
        OUTPUT.with(|o| o.borrow().as_ptr())
    }
}

#[cfg(test)]
mod tests;
