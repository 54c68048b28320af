//! The reference client: `regledger-node submit` signs a payload as a
//! participant and submits it. (The load generator is tools/loadgen.)

use std::path::PathBuf;

use regledger::entry::envelope::{participant_key_id, payload_type_for, Envelope};
use regledger::registry::EntryKind;
use regledger::tlog::note::Signer;
use serde_json::{json, Value};

use crate::logdir::read_signer;
use crate::Failure;

/// Arguments of `submit`.
#[derive(clap::Args)]
pub struct SubmitArgs {
    /// Node URL, e.g. http://127.0.0.1:8470.
    #[arg(long, env = "REGLEDGER_URL", default_value = "http://127.0.0.1:8470")]
    pub url: String,
    /// The participant's signer key file (its key name is the participant id).
    #[arg(long)]
    pub key: PathBuf,
    /// Entry kind, e.g. product-registered (see docs/registry.md).
    #[arg(long)]
    pub kind: String,
    /// The payload JSON file; its exact bytes are signed and stored.
    #[arg(long)]
    pub payload: PathBuf,
    /// Wait for a checkpoint and print the inclusion proof with it.
    #[arg(long)]
    pub wait: bool,
}

/// sign_as signs payload bytes of `kind` with a participant's signer key.
pub fn sign_as(signer: &Signer, kind: &str, payload: Vec<u8>) -> Envelope {
    let kid = participant_key_id(signer.name(), signer.verifier().public_key());
    Envelope::sign_with(&payload_type_for(kind), payload, &kid, signer.secret())
}

/// submit runs `regledger-node submit`.
///
/// # Errors
///
/// [`Failure::Usage`] for a bad key, kind or payload file or an unreachable
/// node; [`Failure::Fail`] when the node refuses the entry.
pub fn submit(a: SubmitArgs) -> Result<(), Failure> {
    let signer = read_signer(&a.key).map_err(Failure::Usage)?;
    if EntryKind::from_name(&a.kind).is_none() {
        return Err(Failure::Usage(format!("unknown kind {:?}", a.kind)));
    }
    let payload = std::fs::read(&a.payload)
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.payload.display())))?;
    serde_json::from_slice::<Value>(&payload)
        .map_err(|e| Failure::Usage(format!("{}: not JSON: {e}", a.payload.display())))?;
    let env = sign_as(&signer, &a.kind, payload);
    let url = format!(
        "{}/v1/entries{}",
        a.url.trim_end_matches('/'),
        if a.wait { "?wait=checkpoint" } else { "" }
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(&url)
            .json(&env.to_json())
            .send()
            .await
            .map_err(|e| Failure::Usage(format!("{url}: {e}")))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| Failure::Usage(e.to_string()))?;
        if status.is_success() {
            println!("{body}");
            Ok(())
        } else {
            let v: Value = serde_json::from_str(&body).unwrap_or(json!({"detail": body}));
            println!("{body}");
            Err(Failure::Fail(format!(
                "{} {}: {}",
                status.as_u16(),
                v["type"].as_str().unwrap_or(""),
                v["detail"].as_str().unwrap_or("")
            )))
        }
    })
}
