//! `regledger-verify cert`: a certificate bundle issued by a node.

use std::path::PathBuf;

use regledger::bundle::{verify_bundle, CertificateBundle, CERTIFICATE_LABELS};
use regledger::descriptor::LogDescriptor;
use serde_json::{json, Value};

use crate::input;
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
    let prep = || -> Result<(CertificateBundle, LogDescriptor), String> {
        let d = LogDescriptor::parse(&input::read_file(&a.log)?)
            .map_err(|e| format!("{}: {e}", a.log.display()))?;
        let b = serde_json::from_slice(&input::read_file(&a.bundle)?)
            .map_err(|e| format!("{}: not a certificate bundle: {e}", a.bundle.display()))?;
        Ok((b, d))
    };
    let (b, d) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input(e),
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
            text.push_str(&format!(
                "状态 (Status): {} — set by entry {}, as of checkpoint size {}\n登记条目 (Entry): {} signed by {}\n见证 (Witnesses): {}\n",
                v.status, v.status_index, v.checkpoint.size, v.index, v.signer, v.witnesses.join(", ")
            ));
            Outcome::Verified {
                text,
                json: json!({"certificate": fields, "status": v.status, "status_index": v.status_index, "index": v.index,
                             "signer": v.signer, "checkpoint_size": v.checkpoint.size, "root": v.checkpoint.root.to_hex(), "witnesses": v.witnesses}),
            }
        }
        Err(e) => Outcome::fail(e.to_string()),
    }
}
