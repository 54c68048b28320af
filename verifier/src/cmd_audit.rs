//! `regledger-verify audit`: the whole-log audit and the regulator's report.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use regledger::descriptor::LogDescriptor;
use regledger::registry::calendar::Date;

use regledger_client::{DirSource, HttpSource, TileSource};

use crate::audit;
use crate::input::{self, InputError};
use crate::outcome::Outcome;
use crate::report::render;

/// Arguments of `audit`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("from").required(true).args(["dir", "url"])))]
pub struct Args {
    /// A tile directory (the node's `tiles/`, or a copy): `checkpoint` and `tile/…`.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// A node or mirror base URL to fetch the checkpoint and tiles from (the only network use).
    #[arg(long)]
    pub url: Option<String>,
    /// The log descriptor (log.json) the regulator trusts.
    #[arg(long)]
    pub log: PathBuf,
    /// A checkpoint saved earlier: the log must extend it (same root at its size).
    #[arg(long)]
    pub trusted: Option<PathBuf>,
    /// Start from this state snapshot (GET /v1/state/snapshot) and audit only the entries after
    /// it (incremental audit; needs --trusted at or after the snapshot's size: the trusted
    /// checkpoint vouches for the entries before it). See docs/regulator.md.
    #[arg(long, requires = "trusted")]
    pub from_snapshot: Option<PathBuf>,
    /// Verify envelope signatures in batches (one multiscalar multiplication per entry bundle):
    /// about twice as fast, but it can pass a signature its holder deliberately malformed that
    /// the node refuses. The default checks each alone with verify_strict, exactly the node's
    /// rule. See docs/decisions.md D9 and D27.
    #[arg(long)]
    pub batch_signatures: bool,
    /// The default since D27 (each signature alone with verify_strict); kept so that scripts
    /// written for the batch default still run.
    #[arg(long, hide = true, conflicts_with = "batch_signatures")]
    pub strict_signatures: bool,
    /// Judge retention on this date (YYYY-MM-DD; default: the day of the last entry, UTC+8).
    #[arg(long)]
    pub as_of: Option<String>,
}

/// Inputs are the parsed inputs of an audit.
type Inputs = (
    LogDescriptor,
    Option<Vec<u8>>,
    Option<Date>,
    Box<dyn TileSource>,
);

/// run audits the log and prints the report.
pub fn run(a: &Args, as_json: bool) -> Outcome {
    let prep = || -> Result<Inputs, InputError> {
        let log = LogDescriptor::parse(&input::read_file(&a.log)?)
            .map_err(|e| input::invalid(&a.log, e))?;
        let trusted = a.trusted.as_deref().map(input::read_file).transpose()?;
        let as_of = a
            .as_of
            .as_deref()
            .map(|s| {
                Date::parse(s).ok_or_else(|| InputError::Flag {
                    flag: "--as-of",
                    value: s.to_string(),
                    want: "want YYYY-MM-DD".into(),
                })
            })
            .transpose()?;
        let src: Box<dyn TileSource> = match (&a.dir, &a.url) {
            (Some(d), None) => Box::new(DirSource::new(d)?),
            (None, Some(u)) => Box::new(HttpSource::new(u).map_err(|_| InputError::Flag {
                flag: "--url",
                value: u.clone(),
                want: "want an http:// or https:// URL".into(),
            })?),
            _ => return Err(InputError::Usage("give exactly one of --dir and --url")),
        };
        Ok((log, trusted, as_of, src))
    };
    let (log, trusted, as_of, src) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input_error(e),
    };
    let bar = if !as_json && std::io::stderr().is_terminal() {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} audit {pos}/{len} entries {wide_bar} {per_sec} eta {eta}",
            )
            .expect("template"),
        );
        Some(b)
    } else {
        None
    };
    let progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let opts = audit::Options {
        log: &log,
        trusted,
        as_of,
        batch_signatures: a.batch_signatures,
        progress: &progress,
        snapshot: a.from_snapshot.clone(),
    };
    let report = match audit::run(src.as_ref(), &opts) {
        Ok(r) => r,
        Err(e) => return Outcome::input_error(InputError::from(e)),
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let json = serde_json::to_value(&report).expect("report serialises");
    let text = render(&report);
    if report.ok() {
        Outcome::Verified { text, json }
    } else {
        let f = &report.failures[0];
        let at = f
            .index
            .map(|i| format!(" at index {i}"))
            .unwrap_or_default();
        Outcome::Failed {
            reason: format!(
                "{} failure(s); first: {}{at}: {}",
                report.failure_count, f.check, f.detail
            ),
            json,
            text,
        }
    }
}
