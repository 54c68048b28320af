//! `regledger-verify cert`: a certificate bundle issued by a node.

use std::path::PathBuf;

use regledger::cert::bundle::{
    verify_bundle, CertificateBundle, VerifiedCertificate, CERTIFICATE_LABELS,
};
use regledger::descriptor::LogDescriptor;
use serde_json::{json, Value};

use crate::input::{self, InputError};
use crate::outcome::{Outcome, StatusCode};

/// Arguments of `cert`.
#[derive(clap::Args)]
pub struct Args {
    /// The certificate bundle JSON (GET /v1/certificates/{registration_no}).
    pub bundle: PathBuf,
    /// The log descriptor (log.json) the regulator trusts.
    #[arg(long)]
    pub log: PathBuf,
    /// Refuse a bundle whose status proof's checkpoint is older than this
    /// (e.g. 90s, 10m, 24h, 7d), as `status --max-age` does.
    #[arg(long, value_parser = crate::cmd_status::parse_duration)]
    pub max_age: Option<u64>,
}

/// run verifies the bundle and prints the certificate, Chinese field names first.
pub fn run(a: &Args) -> Outcome {
    let prep = || -> Result<(CertificateBundle, LogDescriptor), InputError> {
        let d = LogDescriptor::parse(&input::read_file(&a.log)?)
            .map_err(|e| input::invalid(&a.log, e))?;
        let b = serde_json::from_slice(&input::read_file(&a.bundle)?)
            .map_err(|e| input::invalid(&a.bundle, format!("not a certificate bundle: {e}")))?;
        Ok((b, d))
    };
    let (b, d) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input_error(e),
    };
    match verify_bundle(&b, &d) {
        Ok(v) => {
            if let Some(sp) = &v.status_proof {
                if let Some(why) = crate::cmd_status::stale(sp, d.quorum, a.max_age) {
                    return Outcome::fail(why);
                }
            }
            let mut fields = serde_json::to_value(&v.certificate).expect("json");
            fields["blockchain_no"] = json!(v.blockchain_no);
            // Chinese status first: what a venue acts on.
            let (head, code) = match (&v.status_proof, v.status_proven_current) {
                (Some(sp), true) => match StatusCode::of(&sp.state.status) {
                    None => (
                        "OK: 数据产品登记证书 verified, 状态 有效 (active, proven current)".to_string(),
                        None,
                    ),
                    Some(c) => (
                        format!(
                            "NOT ACTIVE: 数据产品登记证书 verified, 状态 {} ({}, proven current)",
                            sp.state.status_zh, sp.state.status
                        ),
                        Some(c),
                    ),
                },
                _ => (
                    format!(
                        "UNPROVEN: 数据产品登记证书 verified, 状态 {} ({}) 未经证明为当前状态 (not proven current: a v1 bundle carries no status proof)",
                        v.status_zh, v.status
                    ),
                    Some(StatusCode::Unproven),
                ),
            };
            let mut text = format!("{head}\n");
            for (k, zh, en) in CERTIFICATE_LABELS {
                let val = match &fields[k] {
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("、"),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                text.push_str(&format!("{zh} ({en}): {val}\n"));
            }
            text.push_str(&proven_lines(&v));
            text.push_str(&format!(
                "见证 (Witnesses): {}\n",
                witness_list(&v.witnesses)
            ));
            if let Some(sp) = &v.status_proof {
                text.push_str(&crate::cmd_status::state_lines(sp));
            }
            let state = v
                .status_proof
                .as_ref()
                .map(|sp| serde_json::to_value(&sp.state).expect("json"));
            let json = json!({"certificate": fields, "index": v.index, "signer": v.signer,
                             "signer_chain": v.signer_chain,
                             "signer_key_retired_index": v.signer_key_retired_index,
                             "signer_revoked_index": v.signer_revoked_index,
                             "signer_history_proven_complete": false,
                             "status": v.status, "status_index": v.status_index,
                             "status_signer": v.status_signer,
                             "status_proven_current": v.status_proven_current,
                             "status_zh": v.status_zh, "state": state,
                             "checkpoint_size": v.checkpoint.size, "root": v.checkpoint.root.to_hex(),
                             "witnesses": v.witnesses});
            match code {
                None => Outcome::Verified { text, json },
                Some(code) => Outcome::NotActive { code, text, json },
            }
        }
        Err(e) => Outcome::fail(e.to_string()),
    }
}

/// witness_list names the witnesses that cosigned, or says 无 (none) when
/// none did: an empty field would read as a missing line.
pub fn witness_list(w: &[String]) -> String {
    if w.is_empty() {
        "无 (none: this log.json names no witnesses, or none was required)".into()
    } else {
        w.join(", ")
    }
}

/// proven_lines says what a verified bundle proves about the entry, its
/// signer and its status, and, plainly, what a v1 bundle cannot prove: that
/// the status is still current, and that no entry it omits retired the key
/// or revoked the signer. Nothing here is worded as "the status now".
fn proven_lines(v: &VerifiedCertificate) -> String {
    let size = v.checkpoint.size;
    let mut t = format!(
        "登记条目 (Entry): {} 由 {} 签署，已收录于检查点 size {size} (signed by {}; in the log at checkpoint size {size})\n",
        v.index, v.signer, v.signer
    );
    let chain: Vec<String> = v.signer_chain.iter().map(u64::to_string).collect();
    t.push_str(&format!(
        "签署方链 (Signer chain): 条目 {} 自创世条目起逐条验签 (entries {}: each verified with the keys valid at its index, from the genesis authority)\n",
        chain.join(", "),
        chain.join(", ")
    ));
    if let Some(i) = v.signer_key_retired_index {
        t.push_str(&format!(
            "  签署密钥于登记后由条目 {i} 停用 (the signing key was retired by entry {i}, after the registration)\n"
        ));
    }
    if let Some(i) = v.signer_revoked_index {
        t.push_str(&format!(
            "  签署方于登记后由条目 {i} 撤销 (the signer was revoked by entry {i}, after the registration)\n"
        ));
    }
    t.push_str(
        "  签署方链未经证明完整 (signer history not proven complete: this bundle format cannot show that no entry it omits retired the key or revoked the signer)\n",
    );
    match &v.status_signer {
        Some(who) => t.push_str(&format!(
            "状态 (Status): {} — 由条目 {} 设定，{who} 签署，该条目已收录于检查点 size {size} (set by entry {}, signed by {who}; that entry is in the log at checkpoint size {size})\n",
            v.status, v.status_index, v.status_index
        )),
        None => t.push_str(&format!(
            "状态 (Status): {} — 由登记条目 {} 设定 (set by the registering entry {})\n",
            v.status, v.status_index, v.status_index
        )),
    }
    if !v.status_proven_current {
        t.push_str(&format!(
            "  状态未经证明为当前状态 (status not proven current: this bundle format cannot show later entries; audit the log for the status at checkpoint size {size})\n"
        ));
    }
    t
}
