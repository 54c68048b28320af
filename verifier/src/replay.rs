//! The audit's side of the replay: an in-memory [`Sink`] for the
//! follower that keeps the whole tree, the registry state and what the
//! report counts (entries by kind, deadlines missed, operation events per
//! agreement), and the registry tables drawn from the final state.

use std::collections::HashMap;

use regledger::entry::chain::ChainHead;
use regledger::registry::calendar::Date;
use regledger::registry::commit::{apply_writes, entry_writes};
use regledger::registry::profile::profile;
use regledger::registry::{EntryKind, MemoryState, StateObject, StateReader};
use regledger::statemap::{MemoryStore, StateMap};
use regledger::tlog::memory::MemoryTree;
use regledger::tlog::tree::TreeError;
use regledger::{Hash, HashSuite};
use regledger_client::{Applied, Entry, Sink};

use crate::report::{
    AgreementRow, DeadlineRow, ParticipantRow, ProductRow, Report, ResourceRow, RetentionRow,
};

/// ReplaySeen maps the first 16 bytes of each applied entry's content id to
/// its index, so a second occurrence is refused as the node refuses it (D12).
/// Sixteen bytes, not 32, because the audit must stay within bounded memory
/// at 10 M entries and more (about 25 bytes a slot instead of 41): a false
/// match needs two signed contents equal in 128 bits (some 2^64 hashes by a
/// signer against its own entries), and can only add a failure, never hide
/// a replay, since a true replay matches in all 32 bytes.
type ReplaySeen = HashMap<[u8; 16], u64>;

fn short(content_id: &[u8; 32]) -> [u8; 16] {
    content_id[..16].try_into().expect("16 of 32 bytes")
}

/// AuditSink holds everything the audit replays, in memory.
pub struct AuditSink {
    tree: MemoryTree,
    state: MemoryState,
    head: ChainHead,
    /// map is the state map the entries make (D15), checked against every v2 leaf.
    map: StateMap<MemoryStore>,
    seen: ReplaySeen,
    /// ops counts the operation events recorded under each subject.
    ops: HashMap<String, u64>,
    /// registered maps each product-registered entry's index to its leaf
    /// hash: the 区块链编号 is derived from it when shown (D15).
    registered: HashMap<u64, Hash>,
    /// entries_checked counts the entries read that are leaves.
    pub entries_checked: u64,
    /// report holds what the replay adds to the report as it goes.
    pub report: Report,
}

impl AuditSink {
    /// new starts an empty replay of a log in `suite`, filling `report`.
    pub fn new(suite: HashSuite, report: Report) -> AuditSink {
        AuditSink {
            tree: MemoryTree::new(suite),
            state: MemoryState::default(),
            head: ChainHead::default(),
            map: StateMap::new(suite, MemoryStore::default()),
            seen: ReplaySeen::default(),
            ops: HashMap::new(),
            registered: HashMap::new(),
            entries_checked: 0,
            report,
        }
    }

    /// tree returns the tree of the entries replayed.
    pub fn tree(&self) -> &MemoryTree {
        &self.tree
    }

    /// finish fills the registry tables, judging retention on `as_of`
    /// (default: the day of the last entry), and returns the report.
    pub fn finish(mut self, as_of: Option<Date>) -> Report {
        let as_of = as_of.or_else(|| Date::from_unix_ms(self.head.last_time_ms));
        self.report.entries_checked = self.entries_checked;
        summarise_state(
            &self.state,
            as_of,
            &self.ops,
            &self.registered,
            &mut self.report,
        );
        self.report
    }
}

impl Sink for AuditSink {
    type Error = TreeError;

    fn next_root(&mut self, index: u64, applied: Option<&Applied>) -> Result<Hash, TreeError> {
        let writes = applied
            .map(|a| entry_writes(index, &a.effects, &a.content_id))
            .unwrap_or_default();
        apply_writes(&mut self.map, &writes).map_err(|e| TreeError::Storage(e.to_string()))
    }

    fn head(&self) -> ChainHead {
        self.head
    }

    fn state(&self) -> &dyn StateReader {
        &self.state
    }

    fn root_at(&self, size: u64) -> Result<Hash, TreeError> {
        self.tree.root_at(size)
    }

    fn replayed(&self, content_id: &[u8; 32]) -> Result<Option<u64>, TreeError> {
        Ok(self.seen.get(&short(content_id)).copied())
    }

    fn append(&mut self, e: Entry<'_>) -> Result<(), TreeError> {
        self.tree.append(e.leaf_hash);
        self.head
            .advance(e.leaf_hash, e.ctx.integrated_time_ms, e.version);
        if e.parsed {
            self.entries_checked += 1;
        }
        let Some(a) = e.applied else {
            return Ok(());
        };
        let fx = &a.effects;
        self.seen.insert(short(&a.content_id), e.ctx.index);
        if fx.kind == EntryKind::ProductRegistered {
            self.registered.insert(e.ctx.index, e.leaf_hash);
        }
        if fx.kind == EntryKind::OperationEvent {
            // Its subjects are its agreement (and product): the agreement
            // rows pick their own ids out of this count.
            for s in &fx.subjects {
                *self.ops.entry(s.clone()).or_default() += 1;
            }
        }
        *self
            .report
            .entries_by_kind
            .entry(fx.kind.name().to_string())
            .or_default() += 1;
        for f in &fx.flags {
            let row = DeadlineRow {
                index: e.ctx.index,
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
                self.report.deadlines_missed.push(row);
            } else {
                self.report.other_findings.push(row);
            }
        }
        self.state.apply_effects(fx);
        Ok(())
    }
}

/// summarise_state fills the report's registry tables from the state the
/// replay ended with, judging retention on `as_of`.
fn summarise_state(
    state: &MemoryState,
    as_of: Option<Date>,
    ops: &HashMap<String, u64>,
    registered: &HashMap<u64, Hash>,
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
                    blockchain_no: reg.and_then(|g| {
                        let lh = registered.get(&g.index)?;
                        Some(
                            regledger::entry::blockchain_no::BlockchainNo::new(
                                &r.origin, g.index, lh,
                            )
                            .to_string(),
                        )
                    }),
                    status: p.status.name().into(),
                    status_zh: p.status.label_zh().into(),
                    status_index: p.status_index,
                });
            }
            _ => {}
        }
    }
}
