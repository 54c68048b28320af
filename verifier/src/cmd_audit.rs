//! `regledger-verify audit`: the whole-log audit and the regulator's report.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use regledger::descriptor::LogDescriptor;
use regledger::registry::calendar::Date;

use crate::audit::{self, Report};
use crate::input;
use crate::outcome::Outcome;
use crate::source::{DirSource, Source, UrlSource};

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
    /// Verify each envelope signature alone with verify_strict (exactly the node's rule) instead
    /// of in batches; about twice as slow. See docs/decisions.md D9.
    #[arg(long)]
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
    Box<dyn Source>,
);

/// run audits the log and prints the report.
pub fn run(a: &Args, as_json: bool) -> Outcome {
    let prep = || -> Result<Inputs, String> {
        let log = LogDescriptor::parse(&input::read_file(&a.log)?)
            .map_err(|e| format!("{}: {e}", a.log.display()))?;
        let trusted = a.trusted.as_deref().map(input::read_file).transpose()?;
        let as_of = a
            .as_of
            .as_deref()
            .map(|s| Date::parse(s).ok_or_else(|| format!("--as-of {s:?}: want YYYY-MM-DD")))
            .transpose()?;
        let src: Box<dyn Source> = match (&a.dir, &a.url) {
            (Some(d), None) => Box::new(DirSource::new(d)?),
            (None, Some(u)) => Box::new(UrlSource::new(u)?),
            _ => return Err("give exactly one of --dir and --url".into()),
        };
        Ok((log, trusted, as_of, src))
    };
    let (log, trusted, as_of, src) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input(e),
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
        strict_signatures: a.strict_signatures,
        progress: &progress,
    };
    let report = match audit::run(src.as_ref(), &opts) {
        Ok(r) => r,
        Err(e) => return Outcome::input(e),
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

fn none(w: &mut String, empty: bool) {
    if empty {
        w.push_str("  （无 / none）\n");
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "—".into())
}

/// render formats the report for people, Chinese labels first.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "regledger 日志审计报告 (log audit report)");
    let _ = writeln!(
        w,
        "日志 (log): {}  哈希 (hash): {}  政策 (profile): {}",
        r.origin, r.hash, r.profile
    );
    let _ = writeln!(w, "来源 (source): {}", r.source);
    if let Some(c) = &r.checkpoint {
        let _ = writeln!(
            w,
            "检查点 (checkpoint): size {}  root {}  见证 (witnesses): {}",
            c.size,
            c.root,
            if c.witnesses.is_empty() {
                "—".to_string()
            } else {
                c.witnesses.join(", ")
            }
        );
    }
    let _ = writeln!(w, "重算根 (recomputed root): {}", opt(&r.computed_root));
    if let Some(t) = &r.trusted {
        let _ = writeln!(
            w,
            "可信检查点 (trusted checkpoint): size {}  trusted root {}  log root {}  {}",
            t.size,
            t.trusted_root,
            opt(&t.log_root),
            if t.consistent {
                "一致 (consistent)"
            } else {
                "不一致 (NOT consistent: fork or rollback)"
            }
        );
    }
    let _ = writeln!(
        w,
        "条目 (entries): {} checked, {} signatures verified; 判定日期 (as of): {}",
        r.entries_checked,
        r.signatures_verified,
        opt(&r.as_of)
    );
    let _ = writeln!(w, "\n按类型 (entries by kind):");
    for (k, n) in &r.entries_by_kind {
        let _ = writeln!(w, "  {k}: {n}");
    }
    let _ = writeln!(w, "\n参与方 (participants):");
    none(w, r.participants.is_empty());
    for p in &r.participants {
        let _ = writeln!(
            w,
            "  {} {} — {} ({}), registered #{}{}",
            p.id,
            p.name,
            p.role_zh,
            p.role,
            p.registered_index,
            p.revoked_index
                .map(|i| format!(", revoked #{i}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(w, "\n公共数据资源 (resources):");
    none(w, r.resources.is_empty());
    for x in &r.resources {
        let _ = writeln!(
            w,
            "  {} {} — holder {}, {} (last #{})",
            x.id, x.name, x.holder, x.status, x.last_index
        );
    }
    let _ = writeln!(w, "\n备案协议 (agreements):");
    none(w, r.agreements.is_empty());
    for a in &r.agreements {
        let _ = writeln!(
            w,
            "  {} [{}] grantee {} term {}..{} {} (filed #{}), operation events {}",
            a.id,
            a.agreement_type,
            a.grantee,
            a.term_start,
            a.term_end,
            a.status,
            a.filed_index,
            a.operation_events
        );
    }
    let _ = writeln!(w, "\n数据产品 (products):");
    none(w, r.products.is_empty());
    for p in &r.products {
        let _ = writeln!(
            w,
            "  {} {} — 登记号 {} 区块链编号 {} 状态 {} ({}, #{})",
            p.product_id,
            p.name,
            opt(&p.registration_no),
            opt(&p.blockchain_no),
            p.status_zh,
            p.status,
            p.status_index
        );
    }
    let _ = writeln!(
        w,
        "\n逾期及其他发现 (deadlines missed: {}; other findings: {}):",
        r.deadlines_missed.len(),
        r.other_findings.len()
    );
    none(
        w,
        r.deadlines_missed.is_empty() && r.other_findings.is_empty(),
    );
    for d in r.deadlines_missed.iter().chain(&r.other_findings) {
        let _ = writeln!(
            w,
            "  #{} {} by {} on {}: due {}, done {}, {} working day(s) late{} [{}]",
            d.index,
            d.code,
            d.who,
            d.subject,
            d.due,
            d.done,
            d.working_days_late,
            if d.provisional {
                " (provisional calendar)"
            } else {
                ""
            },
            d.citation
        );
    }
    let _ = writeln!(w, "\n日志留存 (operation-log retention):");
    none(w, r.retention.is_empty());
    for x in &r.retention {
        let _ = writeln!(
            w,
            "  {} ended {}: keep logs until {} — {} [{}]",
            x.agreement,
            x.ended_on,
            x.retain_until,
            if x.may_prune_as_of {
                "可清理 (may be pruned)"
            } else {
                "须保留 (must be kept)"
            },
            x.citation
        );
    }
    if r.ok() {
        let _ = writeln!(w, "\n结论 (verdict): 通过 (OK)");
    } else {
        let _ = writeln!(
            w,
            "\n结论 (verdict): 不通过 (FAIL) — {} failure(s)",
            r.failure_count
        );
        for f in &r.failures {
            let _ = writeln!(
                w,
                "  {}{}: {}",
                f.index.map(|i| format!("#{i} ")).unwrap_or_default(),
                f.check,
                f.detail
            );
        }
    }
    s
}
