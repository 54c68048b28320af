//! The whole-log audit: everything a regulator can check about a log from
//! its public tiles and its `log.json`, without trusting the operator.
//!
//! One pass over the entry bundles in order: every leaf is hashed into a
//! fresh tree, parsed, checked against the hash chain, its index and time
//! order, and replayed through the registry rules into a fresh state;
//! envelope signatures are verified by worker threads on the other cores
//! while the main thread replays. Then every hash tile is compared with the
//! recomputed tree, the root with the signed checkpoint, and the tree at the
//! trusted size with the trusted checkpoint.

use std::collections::BTreeMap;
use std::sync::mpsc;

use regledger::descriptor::{verify_checkpoint, verify_log_signature, LogDescriptor};
use regledger::entry::chain::ChainHead;
use regledger::entry::envelope::{verify_batch, verify_each, Envelope, Preverified};
use regledger::entry::leaf::Leaf;
use regledger::registry::apply_preverified;
use regledger::registry::calendar::Date;
use regledger::registry::profile::profile;
use regledger::registry::{key_of, EntryContext, EntryKind, FlagCode, MemoryState, StateObject};
use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::tile::{
    decode_entry_bundle, read_tile_data, tile_at, TileKind, MAX_TILE_LEVEL, TILE_WIDTH,
};
use regledger::Hash;
use serde::Serialize;

use crate::source::Source;

/// MAX_FAILURES bounds the failures listed (the count is always exact).
pub const MAX_FAILURES: usize = 100;

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
    /// trusted is the comparison with `--trusted`, if given.
    pub trusted: Option<TrustedCheck>,
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
    /// failures are the first [`MAX_FAILURES`] failures, in index order.
    pub failures: Vec<Failure>,
}

impl Report {
    fn fail(&mut self, index: Option<u64>, check: impl Into<String>, detail: impl Into<String>) {
        self.failure_count += 1;
        self.failures.push(Failure {
            index,
            check: check.into(),
            detail: detail.into(),
        });
        // Failures arrive nearly but not exactly in index order (signature
        // batches finish late): keep a bounded list that still holds the
        // MAX_FAILURES lowest at the end, since a failure dropped here has
        // MAX_FAILURES lower ones before it.
        if self.failures.len() >= MAX_FAILURES * 4 {
            self.finish_failures();
        }
    }

    /// ok reports whether every check held.
    pub fn ok(&self) -> bool {
        self.failure_count == 0
    }

    fn finish_failures(&mut self) {
        self.failures
            .sort_by_key(|f| (f.index.unwrap_or(u64::MAX), f.check.clone()));
        self.failures.truncate(MAX_FAILURES);
    }
}

/// Options are the audit's inputs besides the source.
pub struct Options<'a> {
    /// log is the trusted log descriptor.
    pub log: &'a LogDescriptor,
    /// trusted is a checkpoint note the regulator saved earlier.
    pub trusted: Option<Vec<u8>>,
    /// as_of is the date to judge retention on (default: the last entry's day).
    pub as_of: Option<Date>,
    /// strict_signatures checks each signature alone with `verify_strict`
    /// instead of in batches (slower; exactly the node's rule, see D9).
    pub strict_signatures: bool,
    /// progress is called with the number of entries done so far.
    pub progress: &'a (dyn Fn(u64, u64) + Sync),
}

/// SigJob is one entry's signatures to verify off the main thread: the
/// public key of every signature, in signature order.
struct SigJob {
    index: u64,
    envelope: Envelope,
    keys: Vec<[u8; 32]>,
}

/// ReplaySeen maps the first 16 bytes of each applied entry's content id to
/// its index, so a second occurrence is refused as the node refuses it (D12).
/// Sixteen bytes, not 32, because the audit must stay within bounded memory
/// at 10 M entries and more (about 25 bytes a slot instead of 41): a false
/// match needs two signed contents equal in 128 bits (some 2^64 hashes by a
/// signer against its own entries), and can only add a failure, never hide
/// a replay, since a true replay matches in all 32 bytes.
type ReplaySeen = std::collections::HashMap<[u8; 16], u64>;

/// run audits the log read from `src`. It returns `Err` only for input
/// errors (unreadable source); everything the log gets wrong is a
/// [`Failure`] in the report.
pub fn run(src: &dyn Source, o: &Options) -> Result<Report, String> {
    let log = o.log;
    let mut r = Report {
        source: src.describe(),
        origin: log.origin.clone(),
        hash: log.suite.name().to_string(),
        profile: log.profile.clone(),
        as_of: o.as_of,
        ..Report::default()
    };

    let Some(note) = src.get("checkpoint")? else {
        return Err(format!("{}: no checkpoint", src.describe()));
    };
    let cp = match verify_checkpoint(&note, log) {
        Ok(v) => {
            r.checkpoint = Some(CheckpointInfo {
                size: v.checkpoint.size,
                root: v.checkpoint.root.to_hex(),
                witnesses: v.witnesses.iter().map(|w| w.name().to_string()).collect(),
            });
            v.checkpoint
        }
        Err(e) => {
            r.fail(None, "checkpoint", e.to_string());
            r.finish_failures();
            return Ok(r);
        }
    };

    let trusted = match &o.trusted {
        None => None,
        Some(t) => match verify_log_signature(t, log) {
            Ok(v) => Some(v.checkpoint),
            Err(e) => {
                r.fail(None, "trusted-checkpoint", e.to_string());
                None
            }
        },
    };

    let tree = replay_entries(src, o, &cp, &mut r)?;
    let Some(tree) = tree else {
        r.finish_failures();
        return Ok(r);
    };

    compare_hash_tiles(src, &cp, &tree, &mut r)?;
    let root = tree.root();
    r.computed_root = Some(root.to_hex());
    if root != cp.root {
        r.fail(
            None,
            "root",
            format!(
                "the entries hash to root {} but the checkpoint signed {} at size {}",
                root.to_hex(),
                cp.root.to_hex(),
                cp.size
            ),
        );
    }
    if let Some(t) = trusted {
        compare_trusted(&t, &cp, &tree, &mut r);
    }
    r.finish_failures();
    Ok(r)
}

fn compare_trusted(t: &Checkpoint, cp: &Checkpoint, tree: &MemoryTree, r: &mut Report) {
    if t.size > cp.size {
        r.trusted = Some(TrustedCheck {
            size: t.size,
            trusted_root: t.root.to_hex(),
            log_root: None,
            consistent: false,
        });
        r.fail(
            None,
            "trusted-rollback",
            format!(
                "the log (size {}) is smaller than the trusted checkpoint (size {}, root {}): it was rolled back or forked",
                cp.size, t.size, t.root.to_hex()
            ),
        );
        return;
    }
    let at = tree.root_at(t.size).unwrap_or(Hash([0; 32]));
    let consistent = at == t.root;
    r.trusted = Some(TrustedCheck {
        size: t.size,
        trusted_root: t.root.to_hex(),
        log_root: Some(at.to_hex()),
        consistent,
    });
    if !consistent {
        r.fail(
            None,
            "trusted-fork",
            format!(
                "fork: at size {} the trusted checkpoint signed root {} but this log has root {}",
                t.size,
                t.root.to_hex(),
                at.to_hex()
            ),
        );
    }
}

/// replay_entries reads every entry bundle, builds the tree and replays the
/// rules. It returns `None` when the tree could not be completed (missing or
/// undecodable bundles), after recording why.
fn replay_entries(
    src: &dyn Source,
    o: &Options,
    cp: &Checkpoint,
    r: &mut Report,
) -> Result<Option<MemoryTree>, String> {
    let log = o.log;
    let size = cp.size;
    // The tree grows with the entries actually read: the checkpoint's size
    // is only a claim (a signed 2^62 over three tiles must fail, not abort).
    let mut tree = MemoryTree::new(log.suite);
    let mut state = MemoryState::default();
    let mut head = ChainHead::default();
    let mut ops_by_agreement: std::collections::HashMap<String, u64> = Default::default();
    let mut seen = ReplaySeen::default();
    let mut complete = true;

    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1);
    let (job_tx, job_rx) = mpsc::sync_channel::<Vec<SigJob>>(workers * 4);
    let job_rx = std::sync::Mutex::new(job_rx);
    let strict = o.strict_signatures;

    let sig_results: Vec<(u64, Vec<Failure>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let rx = &job_rx;
                scope.spawn(move || {
                    let mut verified = 0u64;
                    let mut failures = Vec::new();
                    loop {
                        let batch = match rx.lock().expect("lock").recv() {
                            Ok(b) => b,
                            Err(_) => break,
                        };
                        // Every signature of every entry, one key each: an
                        // entry never passes on some of its signatures.
                        let items: Vec<(&Envelope, &[[u8; 32]])> = batch
                            .iter()
                            .map(|j| (&j.envelope, j.keys.as_slice()))
                            .collect();
                        let bad = if strict {
                            verify_each(&items)
                        } else {
                            verify_batch(&items)
                        };
                        let total: usize = batch.iter().map(|j| j.envelope.signatures.len()).sum();
                        verified += total.saturating_sub(bad.len()) as u64;
                        for (b, sig) in bad {
                            let key_id = batch[b]
                                .envelope
                                .signatures
                                .get(sig)
                                .map_or("?", |s| s.key_id.as_str());
                            failures.push(Failure {
                                index: Some(batch[b].index),
                                check: "signature".into(),
                                detail: format!(
                                    "the signature by {key_id} does not verify with its registered key"
                                ),
                            });
                        }
                    }
                    (verified, failures)
                })
            })
            .collect();

        let result = (|| -> Result<(), String> {
            // Bundle by bundle, lazily: the list of every bundle a claimed
            // size implies is not built (2^62 / 256 of them).
            for t in (0u64..).map_while(|n| tile_at(size, TileKind::Entries, n)) {
                let start = t.n * TILE_WIDTH;
                let Some(data) = src.get(&t.path())? else {
                    r.fail(
                        Some(start),
                        "entries-missing",
                        format!("entry bundle {} is missing", t.path()),
                    );
                    complete = false;
                    break;
                };
                let entries = match decode_entry_bundle(&data, usize::from(t.width)) {
                    Ok(e) => e,
                    Err(e) => {
                        r.fail(
                            Some(start),
                            "entry-bundle",
                            format!("{}: {e} (an entry removed, added or cut?)", t.path()),
                        );
                        complete = false;
                        break;
                    }
                };
                let mut batch = Vec::with_capacity(entries.len());
                for (k, raw) in entries.iter().enumerate() {
                    let i = start + k as u64;
                    let lh = log.suite.leaf_hash(raw);
                    tree.append(lh);
                    debug_assert_eq!(head.size, i);
                    let leaf = match Leaf::parse(raw) {
                        Ok(l) => l,
                        Err(e) => {
                            r.fail(Some(i), "leaf", e.to_string());
                            // The chain goes on from its hash; its time is unknown.
                            let t = head.last_time_ms;
                            head.advance(lh, t);
                            continue;
                        }
                    };
                    // Every break is reported, and the entry is replayed anyway.
                    for e in head.breaks(&leaf) {
                        r.fail(Some(i), e.check(), e.to_string());
                    }
                    let ctx = head.context(&leaf, lh, &log.origin);
                    head.advance(lh, leaf.integrated_time_ms);
                    replay_one(
                        &mut state,
                        r,
                        log,
                        ctx,
                        leaf,
                        &mut batch,
                        &mut ops_by_agreement,
                        &mut seen,
                    );
                    r.entries_checked += 1;
                }
                if !batch.is_empty() && job_tx.send(batch).is_err() {
                    return Err("signature workers stopped".into());
                }
                (o.progress)(r.entries_checked, size);
            }
            Ok(())
        })();
        drop(job_tx);
        let sigs = handles
            .into_iter()
            .map(|h| h.join().expect("signature worker"))
            .collect();
        result.map(|()| sigs)
    })?;
    for (n, failures) in sig_results {
        r.signatures_verified += n;
        for f in failures {
            r.fail(f.index, f.check, f.detail);
        }
    }
    summarise_state(
        &state,
        o.as_of.or_else(|| Date::from_unix_ms(head.last_time_ms)),
        &ops_by_agreement,
        r,
    );
    Ok(complete.then_some(tree))
}

/// replay_one applies one parsed entry to the state; the signatures it
/// relied on are queued in `batch` for the workers.
#[allow(clippy::too_many_arguments)]
fn replay_one(
    state: &mut MemoryState,
    r: &mut Report,
    log: &LogDescriptor,
    ctx: EntryContext,
    leaf: Leaf,
    batch: &mut Vec<SigJob>,
    ops: &mut std::collections::HashMap<String, u64>,
    seen: &mut ReplaySeen,
) {
    let i = ctx.index;
    let env = leaf.envelope;
    // The node refuses a signed content it has logged before, whatever the
    // signatures, before any rule: so does the audit, and the copy is not
    // applied (none of its signatures is verified or counted).
    let content_id = env.content_id();
    let short: [u8; 16] = content_id[..16].try_into().expect("16 of 32 bytes");
    if let Some(&first) = seen.get(&short) {
        r.fail(
            Some(i),
            "rule:replayed-envelope",
            format!(
                "the node should have refused this entry: it logs the signed content of entry {first} again \
                 (the same payload type and payload; adding, replacing or reordering signatures is not a new act) [D12]"
            ),
        );
        return;
    }
    // Genesis carries the key that signs it: apply checks it directly.
    // Every other signature by a known key is verified by the workers,
    // named by position; apply verifies any it is not given.
    let mut keys = Vec::new();
    let mut pre = Vec::new();
    if i > 0 {
        for (index, s) in env.signatures.iter().enumerate() {
            if let Some(public_key) = key_of(state, &s.key_id) {
                keys.push(public_key);
                pre.push(Preverified { index, public_key });
            }
        }
    }
    match apply_preverified(state, &ctx, &env, &pre) {
        Ok(fx) => {
            seen.insert(short, i);
            if fx.kind == EntryKind::Genesis {
                check_genesis(&fx, log, r);
            }
            if fx.kind == EntryKind::OperationEvent {
                // Its subjects are its agreement (and product): the
                // agreement rows pick their own ids out of this count.
                for s in &fx.subjects {
                    match ops.get_mut(s) {
                        Some(n) => *n += 1,
                        None => {
                            ops.insert(s.clone(), 1);
                        }
                    }
                }
            }
            *r.entries_by_kind
                .entry(fx.kind.name().to_string())
                .or_default() += 1;
            for f in &fx.flags {
                let row = DeadlineRow {
                    index: i,
                    code: f.code,
                    who: fx.signer.clone(),
                    subject: f.subject.clone(),
                    due: f.due,
                    done: f.done,
                    working_days_late: f.working_days_late,
                    provisional: f.provisional,
                    citation: f.citation.clone(),
                };
                if f.code.is_missed_deadline() {
                    r.deadlines_missed.push(row);
                } else {
                    r.other_findings.push(row);
                }
            }
            state.apply_effects(&fx);
            // apply accepted it, so every signature had a known key.
            if !keys.is_empty() && keys.len() == env.signatures.len() {
                batch.push(SigJob {
                    index: i,
                    envelope: env,
                    keys,
                });
            }
        }
        Err(v) => {
            let cite = v.citation().map(|c| format!(" [{c}]")).unwrap_or_default();
            r.fail(
                Some(i),
                format!("rule:{}", v.code()),
                format!("the node should have refused this entry: {v}{cite}"),
            );
        }
    }
}

fn check_genesis(fx: &regledger::registry::Effects, log: &LogDescriptor, r: &mut Report) {
    for (_, obj) in &fx.writes {
        if let StateObject::Genesis(g) = obj {
            if g.hash != log.suite.name() || g.profile != log.profile || g.origin != log.origin {
                r.fail(
                    Some(0),
                    "genesis",
                    format!(
                        "genesis fixes origin {:?}, hash {}, profile {} but log.json says {:?}, {}, {}",
                        g.origin,
                        g.hash,
                        g.profile,
                        log.origin,
                        log.suite.name(),
                        log.profile
                    ),
                );
            }
        }
    }
}

/// compare_hash_tiles checks every hash tile against the recomputed tree.
fn compare_hash_tiles(
    src: &dyn Source,
    cp: &Checkpoint,
    tree: &MemoryTree,
    r: &mut Report,
) -> Result<(), String> {
    // Only reached with every entry read, but still lazy: nothing is
    // sized by the checkpoint's claim.
    let tiles = (0..MAX_TILE_LEVEL)
        .flat_map(|level| (0u64..).map_while(move |n| tile_at(cp.size, TileKind::Hash(level), n)));
    for t in tiles {
        let TileKind::Hash(level) = t.kind else {
            continue;
        };
        let first_leaf = |k: u64| (t.n * TILE_WIDTH + k).checked_shl(8 * u32::from(level));
        let want = read_tile_data(&t, tree.stored()).map_err(|e| e.to_string())?;
        match src.get(&t.path())? {
            None => r.fail(
                first_leaf(0),
                "hash-tile-missing",
                format!("hash tile {} is missing", t.path()),
            ),
            Some(got) if got != want => {
                let k = got
                    .chunks(32)
                    .zip(want.chunks(32))
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.len().min(want.len()) / 32) as u64;
                r.fail(
                    first_leaf(k),
                    "hash-tile",
                    format!(
                        "hash tile {} differs from the entries at hash {k} ({} bytes served, {} expected)",
                        t.path(),
                        got.len(),
                        want.len()
                    ),
                );
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn summarise_state(
    state: &MemoryState,
    as_of: Option<Date>,
    ops: &std::collections::HashMap<String, u64>,
    r: &mut Report,
) {
    r.as_of = as_of;
    let retention_citation = profile(&r.profile)
        .map(|p| p.retention_citation)
        .unwrap_or("");
    for obj in state.0.values() {
        match obj {
            StateObject::Participant(p) => {
                *r.participants_by_role
                    .entry(p.role.name().to_string())
                    .or_default() += 1;
                r.participants.push(ParticipantRow {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    role: p.role.name().into(),
                    role_zh: p.role.label_zh().into(),
                    registered_index: p.registered_index,
                    revoked_index: p.revoked_index,
                });
            }
            StateObject::Resource(x) => r.resources.push(ResourceRow {
                id: x.fields.id.clone(),
                name: x.fields.name.clone(),
                holder: x.fields.holder.clone(),
                status: x.status.name().into(),
                last_index: x.last_index,
            }),
            StateObject::Agreement(a) => {
                r.agreements.push(AgreementRow {
                    id: a.fields.id.clone(),
                    agreement_type: serde_json::to_value(a.fields.agreement_type)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                    grantee: a.fields.grantee.clone(),
                    term_start: a.fields.term_start,
                    term_end: a.fields.term_end,
                    status: a.status.name().into(),
                    filed_index: a.filed_index,
                    ended_on: a.ended_on,
                    retain_logs_until: a.retain_logs_until,
                    operation_events: ops.get(&a.fields.id).copied().unwrap_or(0),
                });
                if let (Some(end), Some(until)) = (a.ended_on, a.retain_logs_until) {
                    r.retention.push(RetentionRow {
                        agreement: a.fields.id.clone(),
                        ended_on: end,
                        retain_until: until,
                        may_prune_as_of: as_of.is_some_and(|d| d >= until),
                        citation: retention_citation.into(),
                    });
                }
            }
            StateObject::Product(p) => {
                let reg = p.registration.as_ref();
                r.products.push(ProductRow {
                    product_id: p.approval.product_id.clone(),
                    name: p.approval.product_name.clone(),
                    business_entity: p.approval.business_entity.clone(),
                    registration_no: reg.map(|g| g.fields.registration_no.clone()),
                    blockchain_no: reg.map(|g| g.blockchain_no.clone()),
                    status: p.status.name().into(),
                    status_zh: p.status.label_zh().into(),
                    status_index: p.status_index,
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Report, MAX_FAILURES};

    #[test]
    fn failures_keep_the_lowest_indexes_whatever_the_arrival_order() {
        let mut r = Report::default();
        // Highest first: the worst order for a list that keeps the first arrivals.
        let n = MAX_FAILURES as u64 * 10;
        for i in (0..n).rev() {
            r.fail(Some(i), "test", "x");
            assert!(r.failures.len() < MAX_FAILURES * 4);
        }
        r.finish_failures();
        assert_eq!(r.failure_count, n);
        let got: Vec<u64> = r.failures.iter().map(|f| f.index.unwrap()).collect();
        assert_eq!(got, (0..MAX_FAILURES as u64).collect::<Vec<_>>());
    }
}
