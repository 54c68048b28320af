//! `regledger-verify cert`: a certificate bundle issued by a node.

use std::path::PathBuf;

use regledger::cert::bundle::{
    verify_bundle, CertificateBundle, VerifiedCertificate, CERTIFICATE_LABELS,
};
use regledger::descriptor::LogDescriptor;
use serde_json::{json, Value};

use crate::input::{self, InputError};
use crate::outcome::Outcome;

/// Arguments of `cert`.
#[derive(clap::Args)]
pub struct Args {
    /// The certificate bundle JSON (GET /v1/certificates/{registration_no}).
    pub bundle: PathBuf,
    /// The log descriptor (log.json) the regulator trusts.
    #[arg(long)]
    pub log: PathBuf,
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
            let mut fields = serde_json::to_value(&v.certificate).expect("json");
            fields["blockchain_no"] = json!(v.blockchain_no);
            let mut text = String::from(
                "OK: 数据产品登记证书 verified (Data product registration certificate)\n",
            );
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
            Outcome::Verified {
                text,
                json: json!({"certificate": fields, "index": v.index, "signer": v.signer,
                             "signer_chain": v.signer_chain,
                             "signer_key_retired_index": v.signer_key_retired_index,
                             "signer_revoked_index": v.signer_revoked_index,
                             "signer_history_proven_complete": false,
                             "status": v.status, "status_index": v.status_index,
                             "status_signer": v.status_signer,
                             "status_proven_current": v.status_proven_current,
                             "checkpoint_size": v.checkpoint.size, "root": v.checkpoint.root.to_hex(),
                             "witnesses": v.witnesses}),
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
