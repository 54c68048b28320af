//! testkit builds valid, signed registry histories from fixed seeds, for
//! tests, examples, benchmarks and end-to-end checks of the node and
//! verifier. Keys here are public test keys: never use them in production.
//!
//! It compiles only with the `testkit` feature, so it is not part of the
//! surface a verifier links. It is long (about 700 lines) because it builds
//! one complete, valid history of every lifecycle (one method per entry
//! kind, in the order the rules require), which the tests of every crate
//! share; splitting it by kind would split that order across files.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use crate::crypto::{PublicKey, SecretKey, SigAlg};
use crate::entry::envelope::{participant_key_id, payload_type_for, Envelope};
use crate::entry::leaf::{envelope_hash, Leaf};
use crate::registry::calendar::Date;
use crate::registry::commit::{apply_writes, entry_writes};
use crate::registry::*;
use crate::statemap::{MemoryStore, StateMap};
use crate::tlog::hash::HashSuite;

/// Party is a test participant with its signing key.
#[derive(Clone, Debug)]
pub struct Party {
    /// id is the participant id.
    pub id: String,
    /// name is its name.
    pub name: String,
    /// role is its role.
    pub role: Role,
    /// key is its Ed25519 key.
    pub key: SigningKey,
    /// sm2, when set, is the key the party registers and signs with
    /// instead (an SM2 key from the same seed, see [`Party::new_sm2`]).
    pub sm2: Option<SecretKey>,
}

impl Party {
    /// new makes a party whose key is derived from `seed`.
    pub fn new(id: &str, name: &str, role: Role, seed: u8) -> Party {
        Party {
            id: id.into(),
            name: name.into(),
            role,
            key: SigningKey::from_bytes(&[seed; 32]),
            sm2: None,
        }
    }

    /// new_sm2 makes a party whose key is the SM2 key d = `seed` repeated
    /// (default signer ID).
    pub fn new_sm2(id: &str, name: &str, role: Role, seed: u8) -> Party {
        let mut p = Party::new(id, name, role, seed);
        p.sm2 = Some(SecretKey::from_seed(SigAlg::Sm2, &[seed; 32]).expect("d in range"));
        p
    }

    /// secret returns the key the party signs with.
    pub fn secret(&self) -> SecretKey {
        self.sm2
            .clone()
            .unwrap_or_else(|| SecretKey::Ed25519(self.key.clone()))
    }

    /// public_key returns the party's typed public key.
    pub fn public_key(&self) -> PublicKey {
        self.secret().public_key()
    }

    /// key_id returns the party's key id.
    pub fn key_id(&self) -> String {
        participant_key_id(&self.id, &self.public_key())
    }

    /// public_key_b64 returns the base64 public key (its material).
    pub fn public_key_b64(&self) -> String {
        B64.encode(self.public_key().material())
    }

    /// sign signs a payload of `kind` as this party.
    pub fn sign(&self, kind: EntryKind, payload: &Value) -> Envelope {
        Envelope::sign_with(
            &payload_type_for(kind.name()),
            serde_json::to_vec(payload).expect("json"),
            &self.key_id(),
            &self.secret(),
        )
    }

    /// spec returns the participant-registered payload for this party.
    pub fn spec(&self) -> Value {
        json!({"id": self.id, "name": self.name, "role": self.role.name(), "public_keys": [self.public_key_b64()]})
    }
}

/// Step is one entry of a history with the time the sequencer gives it.
#[derive(Clone, Debug)]
pub struct Step {
    /// label says what the step does.
    pub label: &'static str,
    /// envelope is the signed entry.
    pub envelope: Envelope,
    /// time_ms is the integrated time to use.
    pub time_ms: u64,
}

/// Testkit holds the parties of a test log.
#[derive(Clone, Debug)]
pub struct Testkit {
    /// origin is the log origin.
    pub origin: String,
    /// authority is the root data authority (数据主管部门).
    pub authority: Party,
    /// agency is the implementing agency (实施机构).
    pub agency: Party,
    /// source is a data source unit (数源单位).
    pub source: Party,
    /// operator is the operator (运营机构).
    pub operator: Party,
    /// business is a business entity (经营主体).
    pub business: Party,
    /// venue is a trading venue (数据交易场所).
    pub venue: Party,
    /// base_ms is the integrated time of the first step.
    pub base_ms: u64,
    /// live: every act of the scenarios is dated the China date of
    /// `base_ms`, so a real node can log them all at once (see [`Testkit::live`]).
    pub live: bool,
}

/// BASE_MS is 2025-03-03 10:00 China Standard Time, a Monday.
pub const BASE_MS: u64 = 1_740_967_200_000;

/// DAY_MS is one day in milliseconds.
pub const DAY_MS: u64 = 86_400_000;

/// DOC is a digest of a (fictional) document.
pub const DOC: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

/// suite_fields renames a payload's `document_blake3` to `document_digest`
/// in an `sm3` log, which refuses the BLAKE3 field; other suites keep the
/// older field so that their histories (and every vector pinned on them)
/// stay byte for byte what they were.
pub fn suite_fields(hash: HashSuite, mut v: Value) -> Value {
    if hash == HashSuite::Sm3 {
        if let Some(o) = v.as_object_mut() {
            for (old, new) in [
                ("document_blake3", "document_digest"),
                ("evidence_blake3", "evidence_digest"),
            ] {
                if let Some(x) = o.remove(old) {
                    o.insert(new.into(), x);
                }
            }
        }
    }
    v
}

/// REGISTRATION_NO is the 登记号 of the lifecycle's product.
pub const REGISTRATION_NO: &str = "GXDP-2025-000001";

impl Testkit {
    /// new returns the standard test parties for a log with `origin`.
    pub fn new(origin: &str) -> Testkit {
        Testkit {
            origin: origin.into(),
            authority: Party::new(
                "gx-data-bureau",
                "广西壮族自治区数据局",
                Role::DataAuthority,
                1,
            ),
            agency: Party::new(
                "gx-implementing",
                "广西数据实施中心",
                Role::ImplementingAgency,
                2,
            ),
            source: Party::new("gx-transport", "广西交通运输厅", Role::DataSourceUnit, 3),
            operator: Party::new("gx-operator", "广西数字运营有限公司", Role::Operator, 4),
            business: Party::new(
                "nn-mobility",
                "南宁出行科技有限公司",
                Role::BusinessEntity,
                5,
            ),
            venue: Party::new("bbw-exchange", "北部湾数据交易所", Role::TradingVenue, 6),
            base_ms: BASE_MS,
            live: false,
        }
    }

    /// with_sm2 gives every party an SM2 key (from its seed), for a log of
    /// the `sm3` suite (D19).
    pub fn with_sm2(mut self) -> Testkit {
        for p in [
            &mut self.authority,
            &mut self.agency,
            &mut self.source,
            &mut self.operator,
            &mut self.business,
            &mut self.venue,
        ] {
            let seed = p.key.to_bytes()[0];
            *p = Party::new_sm2(&p.id, &p.name, p.role, seed);
        }
        self
    }

    /// live returns the standard parties with scenarios dated today (China
    /// time), for end-to-end tests against a real node, which logs every
    /// entry at its own clock: the rules judge dates at the integrated time
    /// (D13), so a scenario dated in 2025 would be refused in 2027.
    ///
    /// Every act is dated today and terms keep their lengths. The product
    /// then uses only public data: a public notice must run 10 real days,
    /// which no test waits for.
    pub fn live(origin: &str) -> Testkit {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(BASE_MS);
        Testkit::live_at(origin, now)
    }

    /// live_at is [`Testkit::live`] at a given time (Unix ms).
    pub fn live_at(origin: &str, now_ms: u64) -> Testkit {
        Testkit {
            base_ms: now_ms,
            live: true,
            ..Testkit::new(origin)
        }
    }

    /// on returns the date of an act of the scenarios: `fixed` itself (a
    /// 2025 date of the fixed scenarios), or, live, today.
    pub fn on(&self, fixed: &str) -> String {
        if !self.live {
            return fixed.to_string();
        }
        self.today().to_string()
    }

    /// until returns the date of a term's end: `fixed` itself, or, live,
    /// as many days after today as `fixed` lies after 2025-03-03.
    pub fn until(&self, fixed: &str) -> String {
        if !self.live {
            return fixed.to_string();
        }
        let base = Date::from_unix_ms(BASE_MS).expect("base date");
        let d = Date::parse(fixed).expect("a fixed scenario date");
        self.today()
            .add_days(base.days_until(&d))
            .expect("within range")
            .to_string()
    }

    /// today returns the China date of `base_ms`.
    pub fn today(&self) -> Date {
        Date::from_unix_ms(self.base_ms).expect("base time in range")
    }

    /// at returns the integrated time of a step `days` days and `ms`
    /// milliseconds into the fixed scenarios; live, every step is logged
    /// within the same second.
    pub fn at(&self, days: u64, ms: u64) -> u64 {
        if self.live {
            self.base_ms + days * 10 + ms
        } else {
            self.base_ms + days * DAY_MS + ms
        }
    }

    /// genesis returns the genesis entry.
    pub fn genesis(&self, hash: HashSuite, profile: &str) -> Envelope {
        self.authority.sign(
            EntryKind::Genesis,
            &json!({"origin": self.origin, "hash": hash.name(), "profile": profile, "authority": self.authority.spec()}),
        )
    }

    /// register returns the authority's registration of `p`.
    pub fn register(&self, p: &Party) -> Envelope {
        self.authority
            .sign(EntryKind::ParticipantRegistered, &p.spec())
    }

    /// setup returns genesis, every participant, a resource and the
    /// agreements a product needs (operation agreement OA-1 and scene
    /// authorization SA-1), all on 2025-03-03/04 (live: today).
    pub fn setup(&self, hash: HashSuite, profile: &str) -> Vec<Step> {
        let t0 = self.at(0, 0);
        let st = |label, envelope, time_ms| Step {
            label,
            envelope,
            time_ms,
        };
        let (on, until) = (|d: &str| self.on(d), |d: &str| self.until(d));
        vec![
            st("genesis", self.genesis(hash, profile), t0),
            st("register implementing agency", self.register(&self.agency), t0 + 1),
            st("register data source unit", self.register(&self.source), t0 + 2),
            st("register operator", self.register(&self.operator), t0 + 3),
            st("register business entity", self.register(&self.business), t0 + 4),
            st("register trading venue", self.register(&self.venue), t0 + 5),
            st(
                "resource registered",
                self.source.sign(
                    EntryKind::ResourceRegistered,
                    &json!({"id": "R-GX-TRANSPORT-001", "name": "公交实时到站数据", "holder": self.source.id, "catalog_id": "GX-CAT-0451",
                            "grade": "二级", "open_attribute": "conditional", "format": "JSON API", "update_frequency": "实时", "scale": "约 2 亿条/年"}),
                ),
                t0 + 6,
            ),
            st(
                "implementation plan filed",
                self.agency.sign(
                    EntryKind::AgreementFiled,
                    &suite_fields(hash, json!({"id": "PLAN-1", "agreement_type": "implementation-plan", "parties": [self.agency.id], "grantee": self.agency.id,
                            "scope": ["R-GX-TRANSPORT-001"], "signed_on": on("2025-02-28"), "term_start": on("2025-03-01"), "term_end": until("2028-02-27"),
                            "document_title": "公共数据授权运营实施方案", "document_blake3": DOC})),
                ),
                self.at(1, 0),
            ),
            st(
                "operation agreement filed",
                self.agency.sign(
                    EntryKind::AgreementFiled,
                    &suite_fields(hash, json!({"id": "OA-1", "agreement_type": "operation-agreement", "parties": [self.agency.id, self.operator.id], "grantee": self.operator.id,
                            "scope": ["R-GX-TRANSPORT-001"], "signed_on": on("2025-02-28"), "term_start": on("2025-03-01"), "term_end": until("2028-02-27"),
                            "document_title": "公共数据资源授权运营协议", "document_blake3": DOC})),
                ),
                self.at(1, 1),
            ),
            st(
                "scene authorization filed",
                self.operator.sign(
                    EntryKind::AgreementFiled,
                    &suite_fields(hash, json!({"id": "SA-1", "agreement_type": "scene-authorization", "parties": [self.operator.id, self.business.id], "grantee": self.business.id,
                            "parent": "OA-1", "scope": ["R-GX-TRANSPORT-001"], "scene": "公交出行规划", "signed_on": on("2025-03-04"),
                            "term_start": on("2025-03-05"), "term_end": until("2027-03-04"), "document_title": "场景授权协议", "document_blake3": DOC})),
                ),
                self.at(1, 2),
            ),
        ]
    }

    /// lifecycle returns the whole registration lifecycle (docs/registry.md): setup, a catalog
    /// credential, product approval, a public notice, an objection and its
    /// resolution, registration (certificate), operation events,
    /// suspension, resumption and finally revocation (撤销登记).
    ///
    /// Fixed, the product used non-public data, so its registration waits
    /// for the 10-day public notice (2025-03-13..22); live, every act is
    /// dated today and the product uses only public data (the notice is
    /// still opened, and an objection still blocks registration until it
    /// is resolved).
    pub fn lifecycle(&self, hash: HashSuite, profile: &str) -> Vec<Step> {
        let mut v = self.setup(hash, profile);
        let day = |d: u64| self.at(d, 0);
        let st = |label, envelope, time_ms| Step {
            label,
            envelope,
            time_ms,
        };
        let (on, until) = (|d: &str| self.on(d), |d: &str| self.until(d));
        v.extend([
            st(
                "catalog credential issued",
                self.operator.sign(
                    EntryKind::CatalogCredentialIssued,
                    &json!({"credential_no": "GX-CAT-AUTH-2025-0007", "agreement_id": "SA-1", "grantee_name": self.business.name,
                            "scope": "公交实时到站数据（脱敏）", "valid_from": on("2025-03-05"), "valid_until": until("2027-03-04"),
                            "issuer": self.operator.name, "issued_on": on("2025-03-05")}),
                ),
                day(2),
            ),
            st(
                "product approved",
                self.operator.sign(
                    EntryKind::ProductApproved,
                    &json!({"product_id": "P-1", "product_name": "公交客流预测服务", "business_entity": self.business.id,
                            "authorization": "SA-1", "applied_on": on("2025-03-10"), "approved_on": on("2025-03-12"), "uses_non_public_data": !self.live}),
                ),
                day(9),
            ),
            st("public notice opened", self.operator.sign(EntryKind::PublicNoticeOpened, &json!({"product_id": "P-1", "opened_on": on("2025-03-13")})), day(10)),
            st(
                "objection filed",
                self.venue.sign(
                    EntryKind::ObjectionFiled,
                    &json!({"objection_id": "OBJ-1", "product_id": "P-1", "filed_on": on("2025-03-14"), "filer_name": "北部湾数据交易所（会员来函）", "grounds": "数据来源说明不完整"}),
                ),
                day(11),
            ),
            st(
                "objection resolved",
                self.operator.sign(
                    EntryKind::ObjectionResolved,
                    &json!({"objection_id": "OBJ-1", "resolved_on": on("2025-03-19"), "outcome": "dismissed", "reason": "补充来源说明后核实无误"}),
                ),
                day(16),
            ),
            st(
                "product registered",
                self.operator.sign(
                    EntryKind::ProductRegistered,
                    &json!({"product_id": "P-1", "registration_no": REGISTRATION_NO, "certificate_name": "数据产品登记证书",
                            "product_name": "公交客流预测服务", "product_type": "数据服务", "business_entity": self.business.id,
                            "business_entity_name": self.business.name, "update_cycle": "每日", "scenarios": ["公交出行规划", "运力调度"],
                            "registered_on": on("2025-03-24"), "authorization": "SA-1"}),
                ),
                day(21),
            ),
            st(
                "operation event",
                self.business.sign(
                    EntryKind::OperationEvent,
                    &json!({"agreement_id": "SA-1", "product_id": "P-1", "action": "access", "occurred_at_ms": day(21) + 5, "actor": "svc-forecast",
                            "records": 1200, "personal_data_commitments": [DOC]}),
                ),
                day(21) + 10,
            ),
            st("product suspended", self.authority.sign(EntryKind::ProductSuspended, &json!({"id": "P-1", "reason": "整改", "effective_on": on("2025-04-01")})), day(29)),
            st("product resumed", self.authority.sign(EntryKind::ProductResumed, &json!({"id": "P-1", "reason": "整改完成", "effective_on": on("2025-04-08")})), day(36)),
            st(
                "registration revoked",
                self.authority.sign(EntryKind::ProductRegistrationRevoked, &json!({"id": "P-1", "reason": "异议成立：撤销登记", "effective_on": on("2025-04-15")})),
                day(43),
            ),
        ]);
        v
    }
}

/// Logged is one entry as a node logs it: its leaf and, beside it, its
/// envelope (inside the leaf for v1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// leaf is the leaf.
    pub leaf: Leaf,
    /// envelope is its envelope.
    pub envelope: Envelope,
}

impl Logged {
    /// leaf_bytes returns the leaf bytes.
    pub fn leaf_bytes(&self) -> Vec<u8> {
        self.leaf.to_bytes()
    }

    /// envelope_bytes returns what the envelope bundle holds for it: the
    /// envelope's binary form for a v2 leaf, nothing for a v1 leaf (whose
    /// envelope is inside it).
    pub fn envelope_bytes(&self) -> Vec<u8> {
        match self.leaf.version {
            crate::entry::leaf::LEAF_V1 => Vec::new(),
            _ => self.envelope.to_bytes(),
        }
    }
}

/// Replayed is a history replayed the way the node sequences it.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// state is the final registry state.
    pub state: MemoryState,
    /// leaves are the leaves in order (v2).
    pub leaves: Vec<Leaf>,
    /// envelopes are their envelopes.
    pub envelopes: Vec<Envelope>,
    /// effects are each entry's effects.
    pub effects: Vec<Effects>,
    /// map is the final state map's store (see [`Replayed::map`]).
    pub map: MemoryStore,
    /// records are the final map's keys and values.
    pub records: std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
    /// suite is the log's hash suite.
    pub suite: HashSuite,
}

impl Replayed {
    /// map returns the final state map.
    pub fn map(&self) -> StateMap<&MemoryStore> {
        StateMap::new(self.suite, &self.map)
    }

    /// logged returns the entries as [`Logged`].
    pub fn logged(&self) -> Vec<Logged> {
        self.leaves
            .iter()
            .zip(&self.envelopes)
            .map(|(l, e)| Logged {
                leaf: l.clone(),
                envelope: e.clone(),
            })
            .collect()
    }
}

/// Sequencer sequences entries in memory as the node does: the leaf chain,
/// the registry rules and the state map, one v2 leaf per entry.
#[derive(Clone, Debug)]
pub struct Sequencer {
    origin: String,
    suite: HashSuite,
    /// state is the registry state so far.
    pub state: MemoryState,
    /// map is the state map's store.
    pub map: MemoryStore,
    /// records are the map's keys and values (what a snapshot lists).
    pub records: std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
    /// head is the end of the chain.
    pub head: crate::entry::chain::ChainHead,
    /// seen are the content ids logged (D12: a node refuses a replay).
    seen: std::collections::HashSet<[u8; 32]>,
}

impl Sequencer {
    /// new starts an empty log.
    pub fn new(origin: &str, suite: HashSuite) -> Sequencer {
        Sequencer {
            origin: origin.into(),
            suite,
            state: MemoryState::default(),
            map: MemoryStore::default(),
            records: Default::default(),
            head: Default::default(),
            seen: Default::default(),
        }
    }

    /// map returns the state map.
    pub fn map(&self) -> StateMap<&MemoryStore> {
        StateMap::new(self.suite, &self.map)
    }

    /// root returns the current state root.
    pub fn root(&self) -> crate::Hash {
        StateMap::new(self.suite, &self.map)
            .root()
            .expect("memory map")
    }

    /// next sequences `env` at `time_ms` through the rules: its v2 leaf and
    /// effects, or the violation (nothing changes then).
    ///
    /// # Errors
    ///
    /// The rule the entry breaks.
    pub fn next(&mut self, env: &Envelope, time_ms: u64) -> Result<(Leaf, Effects), RuleViolation> {
        let ctx = self.head.context_at(time_ms, &self.origin);
        let fx = apply(&self.state, &ctx, env)?;
        let writes = entry_writes(ctx.index, &fx, &env.content_id());
        let mut map = StateMap::new(self.suite, &mut self.map);
        let root = apply_writes(&mut map, &writes).expect("memory map");
        self.records.extend(writes);
        self.seen.insert(env.content_id());
        self.state.apply_effects(&fx);
        let leaf = self.push(env, time_ms, root);
        Ok((leaf, fx))
    }

    /// next_unchecked appends `env` at `time_ms` whatever the rules say: a
    /// leaf a node without rules would write. Where the rules accept it,
    /// its effects are applied; where they refuse it, the state (and the
    /// root its leaf commits to) stays as it was, which is what a correct
    /// replay computes.
    pub fn next_unchecked(&mut self, env: &Envelope, time_ms: u64) -> Leaf {
        // A replayed content is refused by every replay before any rule
        // (D12): it writes nothing.
        if self.seen.contains(&env.content_id()) {
            let root = self.root();
            return self.push(env, time_ms, root);
        }
        match self.next(env, time_ms) {
            Ok((leaf, _)) => leaf,
            Err(_) => {
                let root = self.root();
                self.push(env, time_ms, root)
            }
        }
    }

    fn push(&mut self, env: &Envelope, time_ms: u64, root: crate::Hash) -> Leaf {
        let h = self.head;
        let leaf = Leaf::compact(
            h.size,
            time_ms,
            h.last_leaf_hash,
            root,
            envelope_hash(self.suite, &env.to_bytes()),
        );
        self.head
            .advance(leaf.hash(self.suite), time_ms, leaf.version);
        leaf
    }
}

/// replay sequences `steps` into v2 leaves (hash chain and state roots
/// included) and applies them, stopping at the first violation (returned
/// with its position).
pub fn replay(
    origin: &str,
    suite: HashSuite,
    steps: &[Step],
) -> Result<Replayed, (usize, RuleViolation)> {
    let mut sq = Sequencer::new(origin, suite);
    let mut leaves = Vec::new();
    let mut envelopes = Vec::new();
    let mut effects = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let (leaf, fx) = sq.next(&s.envelope, s.time_ms).map_err(|e| (i, e))?;
        effects.push(fx);
        leaves.push(leaf);
        envelopes.push(s.envelope.clone());
    }
    Ok(Replayed {
        state: sq.state,
        leaves,
        envelopes,
        effects,
        map: sq.map,
        records: sq.records,
        suite,
    })
}

/// apply_after replays `prefix` (panicking, naming the step, if the rules
/// refuse one of it), then applies `env` at `time_ms` as the next entry:
/// what the node's sequencer would answer to `env` after that log.
pub fn apply_after(
    origin: &str,
    suite: HashSuite,
    prefix: &[Step],
    env: &Envelope,
    time_ms: u64,
) -> Result<Effects, RuleViolation> {
    let r = replay(origin, suite, prefix)
        .unwrap_or_else(|(i, e)| panic!("prefix step {i} ({}) refused: {e}", prefix[i].label));
    let ctx = EntryContext {
        index: prefix.len() as u64,
        integrated_time_ms: time_ms,
        log_id: origin.into(),
    };
    apply(&r.state, &ctx, env)
}

/// chain sequences `steps` into v2 leaves with the hash chain whatever the
/// rules say (see [`Sequencer::next_unchecked`]): for building logs a
/// correct node would never have written.
pub fn chain(origin: &str, suite: HashSuite, steps: &[Step]) -> Vec<Logged> {
    let mut sq = Sequencer::new(origin, suite);
    steps
        .iter()
        .map(|s| Logged {
            leaf: sq.next_unchecked(&s.envelope, s.time_ms),
            envelope: s.envelope.clone(),
        })
        .collect()
}

/// chain_v1 sequences `steps` into v1 leaves (envelope inline, no state
/// root), as a node before issue 14 wrote them.
pub fn chain_v1(suite: HashSuite, steps: &[Step]) -> Vec<Leaf> {
    let mut prev = crate::tlog::hash::Hash([0; 32]);
    let mut leaves = Vec::with_capacity(steps.len());
    for (i, s) in steps.iter().enumerate() {
        let leaf = Leaf::inline(i as u64, s.time_ms, prev, s.envelope.clone());
        prev = leaf.hash(suite);
        leaves.push(leaf);
    }
    leaves
}

/// tile_files returns what a node publishes for these leaf bytes and
/// envelope bytes (one per leaf, empty for a v1 leaf or a pruned envelope;
/// none at all for a v1 log): every hash tile, entry bundle and envelope
/// bundle (C2SP tlog-tiles paths, `tile/envelopes/…` beside
/// `tile/entries/…`) and `checkpoint`, signed by `log_key` for `origin`.
pub fn tile_files(
    suite: HashSuite,
    origin: &str,
    log_key: &crate::tlog::note::Signer,
    leaves: &[Vec<u8>],
    envelopes: &[Vec<u8>],
) -> std::collections::BTreeMap<String, Vec<u8>> {
    use crate::tlog::tile::{
        encode_entry_bundle, entry_tiles_for_size, hash_tiles_for_size, read_tile_data, TILE_WIDTH,
    };
    let mut tree = crate::tlog::memory::MemoryTree::with_capacity(suite, leaves.len());
    for l in leaves {
        tree.append_data(l);
    }
    let n = leaves.len() as u64;
    let mut files = std::collections::BTreeMap::new();
    for t in hash_tiles_for_size(0, n) {
        let data = read_tile_data(&t, tree.stored()).expect("tile within the tree");
        files.insert(t.path(), data);
    }
    for t in entry_tiles_for_size(0, n) {
        let start = (t.n * TILE_WIDTH) as usize;
        let refs: Vec<&[u8]> = leaves[start..start + usize::from(t.width)]
            .iter()
            .map(|l| l.as_slice())
            .collect();
        files.insert(t.path(), encode_entry_bundle(&refs).expect("entries fit"));
        if !envelopes.is_empty() {
            let refs: Vec<&[u8]> = envelopes[start..start + usize::from(t.width)]
                .iter()
                .map(|e| e.as_slice())
                .collect();
            files.insert(
                t.envelopes().path(),
                encode_entry_bundle(&refs).expect("envelopes fit"),
            );
        }
    }
    // The state line a node signs (D26), when the last leaf is a v2 leaf.
    let line = leaves
        .last()
        .and_then(|l| crate::entry::leaf::Leaf::parse(l).ok())
        .and_then(|l| crate::entry::state_line::StateLine::of_leaf(&l));
    let cp = crate::tlog::checkpoint::Checkpoint {
        origin: origin.into(),
        size: n,
        root: tree.root(),
        extensions: line.map(|l| l.to_line()).into_iter().collect(),
    };
    files.insert(
        "checkpoint".into(),
        crate::tlog::checkpoint::sign_checkpoint(&cp, log_key)
            .expect("sign")
            .into_bytes(),
    );
    files
}

/// write_files writes `files` (paths as [`tile_files`] names them) under
/// the directory `root`, creating what it needs.
///
/// # Errors
///
/// The file system's error.
pub fn write_files(
    root: &std::path::Path,
    files: &std::collections::BTreeMap<String, Vec<u8>>,
) -> std::io::Result<()> {
    for (path, data) in files {
        let p = root.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, data)?;
    }
    Ok(())
}

/// descriptor is the `log.json` of a log with no witnesses, signed by
/// `log_key`, for `origin`, `suite` and `profile`.
pub fn descriptor(
    origin: &str,
    suite: HashSuite,
    log_key: &crate::tlog::note::Signer,
    profile: &str,
) -> crate::descriptor::LogDescriptorJson {
    crate::descriptor::LogDescriptorJson {
        origin: origin.into(),
        log_vkey: log_key.verifier().to_vkey(),
        hash: suite.name().into(),
        witnesses: vec![],
        quorum: 0,
        profile: profile.into(),
    }
}

/// Published is a log written to a directory as a node publishes it.
#[derive(Clone, Debug)]
pub struct Published {
    /// tiles is the tlog-tiles root (`checkpoint`, `tile/…`).
    pub tiles: std::path::PathBuf,
    /// log_json is the log's descriptor.
    pub log_json: std::path::PathBuf,
}

/// publish writes what a node publishes for `leaves` and `envelopes` (see
/// [`tile_files`]) under `dir/tiles`, and its descriptor (`profile`, no
/// witnesses) as `dir/log.json`: what the verifier's `audit --dir … --log …`
/// and a mirror read.
///
/// # Errors
///
/// The file system's error.
#[allow(clippy::too_many_arguments)]
pub fn publish(
    dir: &std::path::Path,
    suite: HashSuite,
    origin: &str,
    log_key: &crate::tlog::note::Signer,
    profile: &str,
    leaves: &[Vec<u8>],
    envelopes: &[Vec<u8>],
) -> std::io::Result<Published> {
    let tiles = dir.join("tiles");
    write_files(
        &tiles,
        &tile_files(suite, origin, log_key, leaves, envelopes),
    )?;
    let log_json = dir.join("log.json");
    let d = descriptor(origin, suite, log_key, profile);
    std::fs::write(&log_json, serde_json::to_vec_pretty(&d)?)?;
    Ok(Published { tiles, log_json })
}

/// publish_steps sequences `steps` as a node without the rules would
/// ([`chain`]) and publishes them under `dir` ([`publish`]). It returns
/// what was published and the logged entries.
///
/// # Errors
///
/// The file system's error.
pub fn publish_steps(
    dir: &std::path::Path,
    suite: HashSuite,
    origin: &str,
    log_key: &crate::tlog::note::Signer,
    profile: &str,
    steps: &[Step],
) -> std::io::Result<(Published, Vec<Logged>)> {
    let logged = chain(origin, suite, steps);
    let leaves: Vec<Vec<u8>> = logged.iter().map(Logged::leaf_bytes).collect();
    let envelopes: Vec<Vec<u8>> = logged.iter().map(Logged::envelope_bytes).collect();
    let p = publish(dir, suite, origin, log_key, profile, &leaves, &envelopes)?;
    Ok((p, logged))
}
