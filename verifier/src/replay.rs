//! The audit's side of the replay: an in-memory [`Sink`] for the
//! follower that keeps the right edge of the tree (not the tree: hash
//! tiles are compared as the entries complete them), the registry state,
//! its state map, the replay set and what the report counts (entries by
//! kind, deadlines missed, operation events per agreement), and the
//! registry tables drawn from the final state. It starts empty (a full
//! audit) or from a verified state snapshot (an incremental one).

use std::cell::RefCell;
use std::collections::HashMap;

use regledger::cert::snapshot::{SnapRecord, SnapshotStart};
use regledger::entry::chain::ChainHead;
use regledger::entry::envelope::Envelope;
use regledger::entry::leaf::open_entry;
use regledger::registry::calendar::Date;
use regledger::registry::commit::{apply_writes, entry_writes, MapKey, MapWrite, Record};
use regledger::registry::profile::profile;
use regledger::registry::{EntryKind, MemoryState, StateObject, StateReader};
use regledger::statemap::{MemoryStore, StateMap};
use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::tile::{decode_entry_bundle, TILE_WIDTH};
use regledger::{Hash, HashSuite};
use regledger_client::edge::{compare_tile, EdgeTree};
use regledger_client::{Applied, Collect, Entry, Held, SignedTree, Sink, Stop, TileSource};

use crate::report::{
    AgreementRow, DeadlineRow, ParticipantRow, ProductRow, Report, ResourceRow, RetentionRow,
};
use crate::seen::Seen;

/// SinkError is why the audit's sink could not go on (an input error:
/// the source could not be read, or the map failed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Opened is an entry's envelope as read again, and whether it is inside
/// its (v1) leaf rather than beside it.
type Opened = Option<(Envelope, bool)>;

/// BundleEnvelopes are an entry bundle's number and its entries' envelopes.
type BundleEnvelopes = (u64, Vec<Opened>);

/// Reread reads an earlier entry's envelope again, authenticated against
/// the signed tree: to confirm a match of the replay set's 8 bytes, and to
/// check the scope of a prune that names it (D22).
struct Reread<'a> {
    suite: HashSuite,
    cp: Checkpoint,
    src: &'a dyn TileSource,
    tree: RefCell<Option<SignedTree<'a>>>,
    /// cache is the last bundle read: its number and its entries' envelopes.
    cache: RefCell<Option<BundleEnvelopes>>,
}

impl Reread<'_> {
    fn content_id(&self, k: u64) -> Result<Option<[u8; 32]>, SinkError> {
        Ok(self
            .envelope(k, "to confirm a replay (D12)")?
            .map(|(e, _)| e.content_id()))
    }

    /// envelope returns entry `k`'s envelope as served, checked against its
    /// leaf, and whether it is inside a v1 leaf (None: not served, or not
    /// one); `why` says what for, in errors.
    fn envelope(&self, k: u64, why: &str) -> Result<Opened, SinkError> {
        let n = k / TILE_WIDTH;
        let slot = (k % TILE_WIDTH) as usize;
        if let Some((m, envs)) = &*self.cache.borrow() {
            if *m == n {
                return Ok(envs.get(slot).cloned().flatten());
            }
        }
        let why = |e: Stop| SinkError(format!("re-reading entry {k} {why}: {e}"));
        let mut tree = self.tree.borrow_mut();
        if tree.is_none() {
            *tree = Some(SignedTree::open(self.suite, &self.cp, self.src).map_err(why)?);
        }
        let (t, data, envs) = tree.as_mut().expect("opened").bundle(n).map_err(why)?;
        let width = usize::from(t.width);
        let leaves = decode_entry_bundle(&data, width).map_err(|e| SinkError(e.to_string()))?;
        let envs = envs
            .as_deref()
            .and_then(|e| decode_entry_bundle(e, width).ok());
        let opened: Vec<Opened> = leaves
            .iter()
            .enumerate()
            .map(|(j, l)| {
                let env = envs.as_ref().and_then(|e| e.get(j).copied());
                let o = open_entry(self.suite, l, env).ok()?;
                let inline = o.leaf.version == regledger::entry::leaf::LEAF_V1;
                o.envelope.map(|e| (e, inline))
            })
            .collect();
        let got = opened.get(slot).cloned().flatten();
        *self.cache.borrow_mut() = Some((n, opened));
        Ok(got)
    }
}

/// AuditSink holds everything the audit replays, in memory bounded by the
/// state, not by the log (issue 14): the tree's right edge, the state and
/// its map, the compact replay set.
pub struct AuditSink<'a> {
    tree: EdgeTree,
    src: &'a dyn TileSource,
    /// tiles collects hash tile failures: reported only if every entry
    /// bundle was read (a tree cut short has no tiles to compare).
    tiles: Collect,
    reread: Reread<'a>,
    state: MemoryState,
    head: ChainHead,
    /// map is the state map the entries make (D15), checked against every v2 leaf.
    map: StateMap<MemoryStore>,
    seen: Seen,
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

/// MAP_BATCH bounds the writes a snapshot's records are applied in at once.
const MAP_BATCH: usize = 65_536;

impl<'a> AuditSink<'a> {
    /// new starts an empty replay of a log in `suite` whose checkpoint
    /// `cp` is read from `src`, filling `report`.
    pub fn new(
        suite: HashSuite,
        report: Report,
        src: &'a dyn TileSource,
        cp: &Checkpoint,
    ) -> AuditSink<'a> {
        AuditSink {
            tree: EdgeTree::new(suite),
            src,
            tiles: Collect::default(),
            reread: Reread {
                suite,
                cp: cp.clone(),
                src,
                tree: RefCell::new(None),
                cache: RefCell::new(None),
            },
            state: MemoryState::default(),
            head: ChainHead::default(),
            map: StateMap::new(suite, MemoryStore::default()),
            seen: Seen::default(),
            ops: HashMap::new(),
            registered: HashMap::new(),
            entries_checked: 0,
            report,
        }
    }

    /// from_snapshot continues from a verified snapshot header `start`:
    /// the tree from its right edge, the chain from leaf N−1, the state,
    /// the map and the replay set from `records` (parsed strictly by the
    /// caller's reader). It returns the number of records.
    ///
    /// # Errors
    ///
    /// The reader's error, or a [`regledger::cert::snapshot::SnapshotError`]
    /// under `records` if the records do not make the state root leaf N−1
    /// commits to (a record changed, added or removed).
    pub fn start_from(
        &mut self,
        start: &SnapshotStart,
        mut records: impl FnMut()
            -> Result<Option<SnapRecord>, regledger::cert::snapshot::SnapshotError>,
    ) -> Result<u64, regledger::cert::snapshot::SnapshotError> {
        let suite = self.map.suite();
        self.tree = EdgeTree::from_frontier(suite, start.head.size, start.frontier.clone());
        self.head = start.head;
        let mut batch: Vec<MapWrite> = Vec::new();
        let mut n = 0u64;
        let flush = |map: &mut StateMap<MemoryStore>, batch: &mut Vec<MapWrite>| {
            apply_writes(map, batch)
                .map(|_| batch.clear())
                .map_err(|e| regledger::cert::snapshot::SnapshotError {
                    part: "records".into(),
                    reason: e.to_string(),
                })
        };
        while let Some(r) = records()? {
            n += 1;
            match (&r.key, r.record) {
                (MapKey::State(k), Record::State(rec)) => {
                    self.state.0.insert(k.clone(), rec.object);
                }
                (MapKey::Content(id), Record::Content(c)) => self.seen.insert(id, c.set_by),
                _ => unreachable!("parse_record checks the kind against the key"),
            }
            batch.push((r.key_bytes, r.value));
            if batch.len() >= MAP_BATCH {
                flush(&mut self.map, &mut batch)?;
            }
        }
        flush(&mut self.map, &mut batch)?;
        let root = self
            .map
            .root()
            .map_err(|e| regledger::cert::snapshot::SnapshotError {
                part: "records".into(),
                reason: e.to_string(),
            })?;
        if root != start.state_root {
            return Err(regledger::cert::snapshot::SnapshotError {
                part: "records".into(),
                reason: format!(
                    "the {n} records make state root {} but leaf {} commits to {} (a record changed, added or removed)",
                    root.to_hex(),
                    start.head.size - 1,
                    start.state_root.to_hex()
                ),
            });
        }
        Ok(n)
    }

    /// want_root keeps the tree's root at `size` when the replay passes it
    /// (the trusted checkpoint's size).
    pub fn want_root(&mut self, size: u64) {
        self.tree.want_root(size);
    }

    /// state_root returns the current state root.
    pub fn state_root(&self) -> Result<Hash, SinkError> {
        self.map.root().map_err(|e| SinkError(e.to_string()))
    }

    /// finish_tiles compares the partial hash tiles at the end and hands
    /// every hash tile failure to `policy` (call it only if every entry
    /// bundle was read).
    ///
    /// # Errors
    ///
    /// [`Stop::Fetch`].
    pub fn finish_tiles(&mut self, policy: &mut Collect) -> Result<(), Stop> {
        for r in self.tree.partial() {
            compare_tile(self.src, &r, &mut self.tiles)?;
        }
        policy.absorb(std::mem::take(&mut self.tiles));
        Ok(())
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

impl Sink for AuditSink<'_> {
    type Error = SinkError;

    fn next_root(&mut self, index: u64, applied: Option<&Applied>) -> Result<Hash, SinkError> {
        let writes = applied
            .map(|a| entry_writes(index, &a.effects, &a.content_id))
            .unwrap_or_default();
        apply_writes(&mut self.map, &writes).map_err(|e| SinkError(e.to_string()))
    }

    fn head(&self) -> ChainHead {
        self.head
    }

    fn held_envelope(&self, index: u64) -> Result<Held, SinkError> {
        // The audit keeps no envelopes: it reads the one the source serves
        // again. Why one is not served it cannot tell (the follower knows
        // for the entries it read itself).
        Ok(
            match self
                .reread
                .envelope(index, "to check the prune that names it (D22)")?
            {
                // Inside a v1 leaf: no prune can drop it, the node refuses.
                Some((_, true)) => Held::Gone,
                Some((e, false)) => Held::Envelope(e),
                None => Held::Unknown,
            },
        )
    }

    fn state(&self) -> &dyn StateReader {
        &self.state
    }

    fn root_at(&self, size: u64) -> Result<Hash, SinkError> {
        self.tree.root_at(size).ok_or_else(|| {
            SinkError(format!(
                "the root at size {size} was not kept (the tree is at {})",
                self.tree.size()
            ))
        })
    }

    fn replayed(&self, content_id: &[u8; 32]) -> Result<Option<u64>, SinkError> {
        // Eight bytes match: confirm on all 32 by reading that entry again.
        for k in self.seen.candidates(content_id, self.head.size) {
            if self.reread.content_id(k)? == Some(*content_id) {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    fn append(&mut self, e: Entry<'_>) -> Result<(), SinkError> {
        self.tree.append(e.leaf_hash);
        for r in self.tree.take_ready() {
            compare_tile(self.src, &r, &mut self.tiles).map_err(|e| SinkError(e.to_string()))?;
        }
        self.head
            .advance(e.leaf_hash, e.ctx.integrated_time_ms, e.version);
        if e.parsed {
            self.entries_checked += 1;
        }
        let Some(a) = e.applied else {
            return Ok(());
        };
        let fx = &a.effects;
        self.seen.insert(&a.content_id, e.ctx.index);
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

#[cfg(test)]
mod tests {
    //! The replay set keeps 8 bytes of each content id; a match is
    //! confirmed by re-reading the earlier entry. Forced collisions (the
    //! set keeping only 8 bits here, so ids sharing their first byte
    //! collide, dozens of times in this log) must neither make a false
    //! `replayed-envelope` nor hide a true one.
    use std::collections::HashSet;

    use regledger::descriptor::LogDescriptorJson;
    use regledger::registry::EntryKind;
    use regledger::testkit::{chain, tile_files, Logged, Step, Testkit, DAY_MS};
    use regledger::tlog::note::{KeyType, Signer};
    use regledger::HashSuite;
    use serde_json::json;

    use crate::audit::{run, Options};

    const ORIGIN: &str = "audit.example/collisions";

    fn audit(steps: &[Step]) -> crate::report::Report {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap();
        let logged = chain(ORIGIN, HashSuite::Sha256, steps);
        let leaves: Vec<Vec<u8>> = logged.iter().map(Logged::leaf_bytes).collect();
        let envs: Vec<Vec<u8>> = logged.iter().map(Logged::envelope_bytes).collect();
        for (path, data) in tile_files(HashSuite::Sha256, ORIGIN, &signer, &leaves, &envs) {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        let d = LogDescriptorJson {
            origin: ORIGIN.into(),
            log_vkey: signer.verifier().to_vkey(),
            hash: "sha256".into(),
            witnesses: vec![],
            quorum: 0,
            profile: "guangxi".into(),
        };
        let log = regledger::descriptor::LogDescriptor::from_json(&d).unwrap();
        let src = regledger_client::DirSource::new(dir.path()).unwrap();
        let progress = |_: u64, _: u64| {};
        let o = Options {
            log: &log,
            trusted: None,
            as_of: None,
            batch_signatures: false,
            progress: &progress,
            snapshot: None,
        };
        crate::seen::PREFIX_BITS.with(|b| b.set(8));
        let r = run(&src, &o).unwrap();
        crate::seen::PREFIX_BITS.with(|b| b.set(64));
        r
    }

    fn log_steps(kit: &Testkit) -> Vec<Step> {
        let mut v = kit.lifecycle(HashSuite::Sha256, "guangxi");
        let t = v.last().unwrap().time_ms;
        for j in 0..300u64 {
            v.push(Step {
                label: "operation",
                envelope: kit.business.sign(
                    EntryKind::OperationEvent,
                    &json!({"agreement_id": "SA-1", "action": "access", "occurred_at_ms": t, "actor": "svc",
                            "records": j + 1, "request_id": format!("r-{j}")}),
                ),
                time_ms: t + 1 + j,
            });
        }
        v
    }

    #[test]
    fn forced_prefix_collisions_make_no_false_replay_and_hide_no_true_one() {
        let kit = Testkit::new(ORIGIN);
        let steps = log_steps(&kit);
        // The test forces collisions only if ids share a first byte.
        let mut firsts = HashSet::new();
        let collisions = steps
            .iter()
            .filter(|s| !firsts.insert(s.envelope.content_id()[0]))
            .count();
        assert!(collisions > 20, "{collisions} forced collisions");

        let r = audit(&steps);
        assert!(r.ok(), "no false replay: {:?}", r.failures);
        assert_eq!(r.entries_checked, steps.len() as u64);

        let mut replayed = steps.clone();
        let first = 150;
        replayed.push(Step {
            label: "replayed operation",
            envelope: steps[first].envelope.clone(),
            time_ms: steps.last().unwrap().time_ms + DAY_MS,
        });
        let r = audit(&replayed);
        assert_eq!(r.failure_count, 1, "{:?}", r.failures);
        let f = &r.failures[0];
        assert_eq!(f.check, "rule:replayed-envelope");
        assert_eq!(f.index, Some(steps.len() as u64));
        assert!(
            f.detail.contains(&format!("entry {first} ")),
            "{}",
            f.detail
        );
    }
}
