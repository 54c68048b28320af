//! The reference client: `regledger-node submit` signs a payload as a
//! participant and submits it; `submit --example KIND` prints a payload
//! template; `regledger-node kinds` lists the kinds. (The load generator
//! is tools/loadgen.)
//!
//! Output follows the CONTRACT: a receipt is JSON on stdout (exit 0); a
//! refusal is reported once, as one `FAIL:` line on stderr (exit 1), or,
//! with `--json`, as the node's problem JSON on stdout instead (exit 1);
//! an input or connection error is one `error:` line that says what to do
//! (exit 2).

use std::io::Read;
use std::path::PathBuf;

use regledger::entry::envelope::{participant_key_id, payload_type_for, Envelope};
use regledger::registry::calendar::Date;
use regledger::registry::examples;
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
    #[arg(long, required_unless_present = "example")]
    pub key: Option<PathBuf>,
    /// Entry kind, e.g. product-registered (`regledger-node kinds` lists them).
    #[arg(long, required_unless_present = "example")]
    pub kind: Option<String>,
    /// The payload JSON file, or `-` for stdin; its exact bytes are signed and stored.
    #[arg(long, required_unless_present = "example")]
    pub payload: Option<PathBuf>,
    /// Wait for a checkpoint and print the inclusion proof with it.
    #[arg(long)]
    pub wait: bool,
    /// The payload file is NDJSON: one payload per line (blank lines
    /// skipped, at most 1,024), each signed as KIND with --key and all sent
    /// as one batch; prints the batch result (one result per line, in order).
    #[arg(long, conflicts_with = "wait")]
    pub batch: bool,
    /// Print a refusal as the node's problem JSON on stdout instead of a `FAIL:` line.
    #[arg(long)]
    pub json: bool,
    /// Print a valid payload template for KIND (dated today, China time) and exit; nothing is sent.
    #[arg(long, value_name = "KIND", conflicts_with_all = ["key", "kind", "payload", "wait", "batch"])]
    pub example: Option<String>,
}

/// Arguments of `kinds`.
#[derive(clap::Args)]
pub struct KindsArgs {
    /// Print JSON: name, Chinese name, roles, prerequisites, payload type, example signer.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print the Markdown table docs/registry.md embeds.
    #[arg(long)]
    pub markdown: bool,
}

/// sign_as signs payload bytes of `kind` with a participant's signer key.
pub fn sign_as(signer: &Signer, kind: &str, payload: Vec<u8>) -> Envelope {
    let kid = participant_key_id(signer.name(), signer.verifier().public_key());
    Envelope::sign_with(&payload_type_for(kind), payload, &kid, signer.secret())
}

/// parse_kind parses a kind name; an unknown one is refused with the list of valid ones.
fn parse_kind(s: &str) -> Result<EntryKind, Failure> {
    EntryKind::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = EntryKind::ALL.iter().map(|k| k.name()).collect();
        Failure::Usage(format!(
            "unknown kind {s:?}; the kinds are: {} (`regledger-node kinds` shows who submits each and what must come first)",
            names.join(", ")
        ))
    })
}

/// today_china returns today's date in China (UTC+8), the day the node judges acts on.
fn today_china() -> Date {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Date::from_unix_ms(ms).unwrap_or(examples::SCHEMA_EXAMPLE_DATE)
}

/// example prints the template of `kind` on stdout and, on stderr, who signs it and what must come first.
fn example(kind: &str) -> Result<(), Failure> {
    let k = parse_kind(kind)?;
    let ex = examples::example(k, today_china());
    println!(
        "{}",
        serde_json::to_string_pretty(&ex.payload).expect("json")
    );
    let p = k.prerequisites();
    let after: Vec<&str> = p.after.iter().map(|a| a.name()).collect();
    eprintln!(
        "# {} — {}: {}. In the example it is signed by {}; may submit: {}. After: {}; {}.",
        k.name(),
        k.label_zh(),
        ex.what,
        ex.signer,
        k.allowed_roles()
            .iter()
            .map(|r| r.name())
            .collect::<Vec<_>>()
            .join(", "),
        if after.is_empty() {
            "nothing".to_string()
        } else {
            after.join(", ")
        },
        p.note
    );
    Ok(())
}

/// read_payload reads the payload file, or stdin for `-`, and checks it is JSON.
fn read_payload(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    let (payload, shown) = read_input(path)?;
    serde_json::from_slice::<Value>(&payload).map_err(|e| {
        Failure::Usage(format!(
            "{shown}: not JSON: {e} (`regledger-node submit --example KIND` prints a valid payload)"
        ))
    })?;
    Ok(payload)
}

/// read_payloads reads an NDJSON payload file (`--batch`): each line that
/// is not blank is one payload, checked to be JSON, its exact bytes signed.
fn read_payloads(path: &std::path::Path) -> Result<Vec<Vec<u8>>, Failure> {
    let (all, shown) = read_input(path)?;
    let mut out = Vec::new();
    for (n, line) in all.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        serde_json::from_slice::<Value>(line).map_err(|e| {
            Failure::Usage(format!(
                "{shown} line {}: not JSON: {e} (--batch reads one payload per line)",
                n + 1
            ))
        })?;
        out.push(line.to_vec());
    }
    if out.is_empty() || out.len() > 1024 {
        return Err(Failure::Usage(format!(
            "{shown}: {} payloads; a batch holds 1 to 1024, one per line",
            out.len()
        )));
    }
    Ok(out)
}

fn read_input(path: &std::path::Path) -> Result<(Vec<u8>, String), Failure> {
    Ok(if path.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .map_err(|e| Failure::Usage(format!("stdin: {e}")))?;
        (b, "stdin".to_string())
    } else {
        let b =
            std::fs::read(path).map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
        (b, path.display().to_string())
    })
}

/// unreachable says what to do when the node does not answer.
fn unreachable(url: &str, base: &str, e: &reqwest::Error) -> Failure {
    let why = if e.is_connect() {
        "connection refused or no route"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "no answer"
    };
    Failure::Usage(format!(
        "cannot reach the node at {base} ({why}: {url}): is the node running there? Start one with \
         `regledger-node serve` (default http://127.0.0.1:8470), or point --url / REGLEDGER_URL at it"
    ))
}

/// submit runs `regledger-node submit`.
///
/// # Errors
///
/// [`Failure::Usage`] for a bad key, kind or payload file or an unreachable
/// node; [`Failure::Fail`] when the node refuses the entry.
pub fn submit(a: SubmitArgs) -> Result<(), Failure> {
    if let Some(k) = &a.example {
        return example(k);
    }
    let (Some(key), Some(kind), Some(payload)) = (&a.key, &a.kind, &a.payload) else {
        return Err(Failure::Usage(
            "give --key, --kind and --payload (or --example KIND)".into(),
        ));
    };
    parse_kind(kind)?;
    let signer = read_signer(key).map_err(|e| {
        Failure::Usage(format!(
            "{e} (a signer key file is what `regledger-node keygen --name ID --out FILE` writes)"
        ))
    })?;
    let body = if a.batch {
        let envs: Vec<Value> = read_payloads(payload)?
            .into_iter()
            .map(|p| sign_as(&signer, kind, p).to_json())
            .collect();
        Value::Array(envs)
    } else {
        sign_as(&signer, kind, read_payload(payload)?).to_json()
    };
    let base = a.url.trim_end_matches('/');
    let url = format!(
        "{base}/v1/entries{}",
        if a.wait { "?wait=checkpoint" } else { "" }
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| unreachable(&url, base, &e))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| unreachable(&url, base, &e))?;
        if status.is_success() && a.batch {
            println!("{body}");
            return batch_outcome(&body, a.json);
        }
        if status.is_success() {
            println!("{body}");
            return Ok(());
        }
        // One report of the problem: JSON on stdout with --json, else one FAIL line.
        if a.json {
            println!("{body}");
            return Err(Failure::Silent);
        }
        let v: Value = serde_json::from_str(&body).unwrap_or(json!({"detail": body}));
        let code = v["type"]
            .as_str()
            .and_then(|t| t.rsplit('/').next())
            .unwrap_or("");
        let mut line = format!(
            "{} {code}: {}",
            status.as_u16(),
            v["detail"].as_str().unwrap_or("")
        );
        if let Some(c) = v["citation"].as_str() {
            line.push_str(&format!(" ({c})"));
        }
        Err(Failure::Fail(line))
    })
}

/// batch_outcome fails a batch (exit 1) if any envelope was refused,
/// naming each by its line (the printed result has the details).
/// With `--json` the printed result is the whole report.
fn batch_outcome(body: &str, json_only: bool) -> Result<(), Failure> {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let refused: Vec<String> = v["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .enumerate()
                .filter(|(_, r)| r["status"] != 200)
                .map(|(i, r)| {
                    let p = &r["problem"];
                    let code = p["type"]
                        .as_str()
                        .and_then(|t| t.rsplit('/').next())
                        .unwrap_or("");
                    format!(
                        "payload {} {} {code}: {}",
                        i + 1,
                        r["status"],
                        p["detail"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if refused.is_empty() {
        return Ok(());
    }
    if json_only {
        return Err(Failure::Silent);
    }
    Err(Failure::Fail(format!(
        "{} of the batch refused (the others are logged): {}",
        refused.len(),
        refused.join("; ")
    )))
}

/// kinds runs `regledger-node kinds`.
///
/// # Errors
///
/// None today; the signature matches the other commands.
pub fn kinds(a: KindsArgs) -> Result<(), Failure> {
    use std::fmt::Write as _;
    let out = if a.markdown {
        regledger::registry::kinds::kinds_table()
    } else if a.json {
        let today = today_china();
        let v: Vec<Value> = EntryKind::ALL
            .iter()
            .map(|k| {
                let p = k.prerequisites();
                json!({"kind": k.name(), "label_zh": k.label_zh(),
                       "payload_type": payload_type_for(k.name()),
                       "roles": k.allowed_roles().iter().map(|r| r.name()).collect::<Vec<_>>(),
                       "after": p.after.iter().map(|a| a.name()).collect::<Vec<_>>(),
                       "requires": p.note,
                       "example_signer": examples::example(*k, today).signer})
            })
            .collect();
        format!("{}\n", Value::Array(v))
    } else {
        let mut t = String::from(
            "条目类型 (entry kinds), in lifecycle order; `submit --example KIND` prints a template of each:\n",
        );
        for (i, k) in EntryKind::ALL.iter().enumerate() {
            let p = k.prerequisites();
            let after: Vec<&str> = p.after.iter().map(|a| a.name()).collect();
            let roles: Vec<String> = k
                .allowed_roles()
                .iter()
                .map(|r| format!("{} {}", r.name(), r.label_zh()))
                .collect();
            let _ = write!(
                t,
                "\n{:>2}. {}  {}\n    提交方 (submitted by): {}\n    前置 (after): {}\n    要求 (requires): {}\n",
                i + 1,
                k.name(),
                k.label_zh(),
                roles.join(", "),
                if after.is_empty() {
                    "无 (none)".to_string()
                } else {
                    after.join(", ")
                },
                p.note
            );
        }
        t
    };
    // A reader that stops early (`| head`) is not an error.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    Ok(())
}
