//! The audit report: what `regledger-verify audit` found, as JSON (the
//! types here, serialised unchanged) and as text for people, Chinese
//! labels first ([`render`]).

use std::collections::BTreeMap;

use regledger::registry::calendar::Date;
use regledger::registry::FlagCode;
use serde::Serialize;

/// Failure is one check that did not hold.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// index is the first entry concerned, when one is known.
    pub index: Option<u64>,
    /// check names the check, e.g. "hash-chain" or "rule:unknown-signer".
    pub check: String,
    /// detail says what was found.
    pub detail: String,
}

/// CheckpointInfo summarises a verified checkpoint.
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointInfo {
    /// size is the tree size.
    pub size: u64,
    /// root is the root hash (hex).
    pub root: String,
    /// witnesses are the names of the witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
    /// note is the checkpoint note audited: what to keep and pass as
    /// `--trusted` next time (with a snapshot taken before this audit).
    pub note: String,
}

/// TrustedCheck is the comparison with a checkpoint the regulator kept.
#[derive(Clone, Debug, Serialize)]
pub struct TrustedCheck {
    /// size is the trusted checkpoint's size.
    pub size: u64,
    /// trusted_root is the root the trusted checkpoint signed.
    pub trusted_root: String,
    /// log_root is the root this log has at that size (absent if the log is smaller).
    pub log_root: Option<String>,
    /// consistent: the log extends the trusted checkpoint.
    pub consistent: bool,
}

/// ParticipantRow is one participant.
#[derive(Clone, Debug, Serialize)]
pub struct ParticipantRow {
    /// id is the participant id.
    pub id: String,
    /// name is its name.
    pub name: String,
    /// role is its role name.
    pub role: String,
    /// role_zh is the role's Chinese name.
    pub role_zh: String,
    /// registered_index is the entry that registered it.
    pub registered_index: u64,
    /// revoked_index is the entry that revoked it.
    pub revoked_index: Option<u64>,
}

/// ResourceRow is one resource.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceRow {
    /// id is the resource id.
    pub id: String,
    /// name is its name.
    pub name: String,
    /// holder is the data source unit.
    pub holder: String,
    /// status is active or deregistered.
    pub status: String,
    /// last_index is the last entry that changed it.
    pub last_index: u64,
}

/// AgreementRow is one filed agreement with its term and retention.
#[derive(Clone, Debug, Serialize)]
pub struct AgreementRow {
    /// id is the filing id.
    pub id: String,
    /// agreement_type is what was filed.
    pub agreement_type: String,
    /// grantee is the authorized participant.
    pub grantee: String,
    /// term_start is the first day of the term.
    pub term_start: Date,
    /// term_end is the last day of the term.
    pub term_end: Date,
    /// status is its status.
    pub status: String,
    /// filed_index is the filing entry.
    pub filed_index: u64,
    /// ended_on is the day it ended, if it has.
    pub ended_on: Option<Date>,
    /// retain_logs_until is the first day its operation logs may be pruned.
    pub retain_logs_until: Option<Date>,
    /// operation_events counts operation events recorded under it.
    pub operation_events: u64,
}

/// ProductRow is one product and its certificate.
#[derive(Clone, Debug, Serialize)]
pub struct ProductRow {
    /// product_id is the product id.
    pub product_id: String,
    /// name is the product name.
    pub name: String,
    /// business_entity is the owner.
    pub business_entity: String,
    /// registration_no is the 登记号, once registered.
    pub registration_no: Option<String>,
    /// blockchain_no is the 区块链编号, once registered.
    pub blockchain_no: Option<String>,
    /// status is the status as of the checkpoint.
    pub status: String,
    /// status_zh is the Chinese status.
    pub status_zh: String,
    /// status_index is the entry that set it.
    pub status_index: u64,
}

/// DeadlineRow is one deadline missed, as recorded when the late act was logged.
#[derive(Clone, Debug, Serialize)]
pub struct DeadlineRow {
    /// index is the entry that did the act late.
    pub index: u64,
    /// code names the finding (serialized as e.g. "filing-late").
    pub code: FlagCode,
    /// who is the participant that submitted the late act.
    pub who: String,
    /// subject is the agreement, product or objection concerned.
    pub subject: String,
    /// due is the last day allowed.
    pub due: Date,
    /// done is the day it was done.
    pub done: Date,
    /// working_days_late counts working days after `due` (0 for natural-day checks).
    pub working_days_late: u32,
    /// provisional: the calendar lacked an official notice for a year crossed.
    pub provisional: bool,
    /// citation is the seed article.
    pub citation: String,
}

/// RetentionRow says when an ended agreement's operation logs may be pruned.
#[derive(Clone, Debug, Serialize)]
pub struct RetentionRow {
    /// agreement is the agreement id.
    pub agreement: String,
    /// ended_on is when it ended.
    pub ended_on: Date,
    /// retain_until is the first day the logs may be pruned.
    pub retain_until: Date,
    /// may_prune_as_of: pruning is allowed on the report's as-of date.
    pub may_prune_as_of: bool,
    /// citation is the seed article for the retention period.
    pub citation: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// SnapshotInfo is the state snapshot an incremental audit started from.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotInfo {
    /// size is N: the entries before it were not audited here (the
    /// trusted checkpoint vouches for them).
    pub size: u64,
    /// state_root is the state root of leaf N−1 the records make (hex).
    pub state_root: String,
    /// records is how many state map records it held.
    pub records: u64,
}

/// Report is the audit's result.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// source is where the log was read.
    pub source: String,
    /// origin is the log origin.
    pub origin: String,
    /// hash is the hash suite.
    pub hash: String,
    /// profile is the policy profile.
    pub profile: String,
    /// checkpoint is the verified checkpoint audited (absent if it failed).
    pub checkpoint: Option<CheckpointInfo>,
    /// computed_root is the root recomputed from the entries (hex).
    pub computed_root: Option<String>,
    /// entries_checked counts the entries read and replayed.
    pub entries_checked: u64,
    /// signatures_verified counts envelope signatures verified.
    pub signatures_verified: u64,
    /// signature_check is how they were verified: `strict` (each alone
    /// with verify_strict, the node's rule; the default) or `batch`
    /// (`--batch-signatures`, D27).
    pub signature_check: &'static str,
    /// pruned_entries counts the entries read without their envelope and
    /// accepted because a valid `retention-pruned` names them (D22): their
    /// leaves and inclusion are verified, their content is gone. Omitted
    /// when 0, so a report of a log without prunes is unchanged.
    #[serde(skip_serializing_if = "is_zero")]
    pub pruned_entries: u64,
    /// prune_scope_unchecked counts the entries a prune after an
    /// incremental audit's snapshot names, before the snapshot, whose
    /// envelopes are no longer served: that each was an operation event of
    /// the prune's agreement, named by no earlier prune, could not be
    /// checked (a full audit checks the second). Omitted when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub prune_scope_unchecked: u64,
    /// trusted is the comparison with `--trusted`, if given.
    pub trusted: Option<TrustedCheck>,
    /// from_snapshot is the snapshot an incremental audit started from
    /// (absent for a full audit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_snapshot: Option<SnapshotInfo>,
    /// state_root is the state root after the last entry read, recomputed
    /// from the entries (D15; absent if the entries were not all read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_root: Option<String>,
    /// as_of is the date deadlines and retention are judged on.
    pub as_of: Option<Date>,
    /// entries_by_kind counts entries per kind.
    pub entries_by_kind: BTreeMap<String, u64>,
    /// participants_by_role counts participants per role.
    pub participants_by_role: BTreeMap<String, u64>,
    /// participants are all participants.
    pub participants: Vec<ParticipantRow>,
    /// resources are all resources.
    pub resources: Vec<ResourceRow>,
    /// agreements are all filed agreements.
    pub agreements: Vec<AgreementRow>,
    /// products are all products.
    pub products: Vec<ProductRow>,
    /// deadlines_missed are the deadlines found missed.
    pub deadlines_missed: Vec<DeadlineRow>,
    /// other_findings are recorded findings that are not deadlines (e.g. renewal outside its window).
    pub other_findings: Vec<DeadlineRow>,
    /// retention lists ended agreements and their retention dates.
    pub retention: Vec<RetentionRow>,
    /// failure_count counts every failure found.
    pub failure_count: u64,
    /// failures are the first [`regledger_client::MAX_FAILURES`] failures, in index order.
    pub failures: Vec<Failure>,
}

impl Report {
    /// ok reports whether every check held.
    pub fn ok(&self) -> bool {
        self.failure_count == 0
    }

    /// set_failures records what the audit collected: the exact count and
    /// the [`regledger_client::MAX_FAILURES`] lowest failures, in index order.
    pub fn set_failures(&mut self, collected: regledger_client::Collect) {
        let (count, failures) = collected.finish();
        self.failure_count = count;
        self.failures = failures.into_iter().map(Failure::from).collect();
    }
}

impl From<regledger_client::Failure> for Failure {
    fn from(f: regledger_client::Failure) -> Failure {
        Failure {
            index: f.index,
            check: f.check.name().into_owned(),
            detail: f.detail,
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

/// render formats the report for people, Chinese labels first: what was
/// audited, the registry as the log left it, and the findings and verdict.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    render_head(&mut s, r);
    render_registry(&mut s, r);
    render_findings(&mut s, r);
    s
}

/// render_head writes the log, source, checkpoint, roots and counts.
fn render_head(w: &mut String, r: &Report) {
    use std::fmt::Write;
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
            crate::cmd_cert::witness_list(&c.witnesses)
        );
    }
    let _ = writeln!(w, "重算根 (recomputed root): {}", opt(&r.computed_root));
    if let Some(sr) = &r.state_root {
        let _ = writeln!(w, "状态根 (state root): {sr}");
    }
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
    if let Some(sn) = &r.from_snapshot {
        let _ = writeln!(
            w,
            "增量审计 (incremental audit): 自状态快照 (from state snapshot) size {}  state root {}  {} records; 此前条目由可信检查点担保 (entries before it are vouched for by the trusted checkpoint)",
            sn.size, sn.state_root, sn.records
        );
    }
    let _ = writeln!(
        w,
        "条目 (entries): {} checked, {} signatures verified ({}); 判定日期 (as of): {}",
        r.entries_checked,
        r.signatures_verified,
        if r.signature_check == "batch" {
            "批量验证 batch: 不排除签名者故意构造的畸形签名 (a signer's deliberately malformed signature may pass, D27)"
        } else {
            "逐一严格验证 strict: 与节点规则相同 (the node's rule)"
        },
        opt(&r.as_of)
    );
    if r.pruned_entries > 0 {
        let _ = writeln!(
            w,
            "  已清除的操作日志 (pruned operation events): {}：叶子与包含证明已验证，内容已按留存期满清除、不可再验证 (leaves and inclusion verified; content removed after retention, no longer verifiable; D22)",
            r.pruned_entries
        );
    }
    if r.prune_scope_unchecked > 0 {
        let _ = writeln!(
            w,
            "  未核对范围的清除 (prunes of entries before the snapshot, scope not checked): {}：快照之前的条目内容已清除，无法核对其是否属于该协议的操作日志，也无法核对是否已被清除过；完整审计可核对后者 (their content is gone before the snapshot, so whether each was an operation event of the prune's agreement, or was named before, cannot be checked here; a full audit checks the latter; D22)",
            r.prune_scope_unchecked
        );
    }
    let _ = writeln!(
        w,
        "  （签名数不含创世条目：其签名由创世规则以其声明的密钥验证；多签条目每个签名各计一次）\n  (the signature count leaves out the genesis entry, whose signature the genesis rule checks against the key it declares; an entry with several signatures counts each)"
    );
}

/// render_registry writes the entries by kind and the registry tables.
fn render_registry(w: &mut String, r: &Report) {
    use std::fmt::Write;
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
}

/// render_findings writes the deadlines, other findings, retention and the verdict.
fn render_findings(w: &mut String, r: &Report) {
    use std::fmt::Write;
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
                " 临时日历 (provisional calendar: no holiday notice for a year it crosses; see docs/operator.md, Working days)"
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
}
