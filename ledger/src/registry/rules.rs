//! apply: the registry rules, entry by entry.
//!
//! Every act is judged at the entry's integrated time (`today`, the China
//! date of [`EntryContext::integrated_time_ms`]), never only at the dates
//! its payload asserts (D13): an authorization must be in force on the day
//! the act is logged, and every payload date must lie in a window around
//! that day, so no date can be back-dated past an expiry or make a rule
//! count millions of days. Every act on an object is checked against who
//! owns it, along the chain resource → operation agreement → scene or
//! catalog authorization → product (docs/registry.md has the table).

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::de::DeserializeOwned;

use super::ident::{check_credit_code, check_id, check_name, check_number, check_text};
use super::regulations::{self as reg, cite};
use super::*;
use crate::blockchain_no::BlockchainNo;
use crate::calendar::Calendar;
use crate::envelope::{participant_key_id, Envelope, EnvelopeError, Preverified};
use crate::profile::{profile, Profile};

/// MAX_LIST bounds every list in a payload.
const MAX_LIST: usize = 256;

/// RECORDING_DAYS is how many natural days before the day it is logged an
/// act may be dated: the seeds' shortest recording duty is "within 10
/// working days" (Xi'an Art. 19/22, Chengdu Art. 13/16), and 10 working
/// days never span fewer than 14 natural days.
pub const RECORDING_DAYS: i64 = 14;

/// SAME_DAY_GRACE_DAYS is how far a date that must be "the day it is
/// logged" may lag: one day, for an act signed just before midnight and
/// sequenced just after.
pub const SAME_DAY_GRACE_DAYS: i64 = 1;

/// MAX_CHAIN_DEPTH bounds the chain of parents walked to decide whether an
/// authorization is in force: a scene authorization under an operation
/// agreement is two; anything deeper than four is refused.
pub const MAX_CHAIN_DEPTH: usize = 4;

/// RENEWAL_APPLICATION_MONTHS is how long before the day it is logged a
/// renewal may say it was applied for: twice Shuozhou's longest window
/// (apply 3–6 months before expiry).
const RENEWAL_APPLICATION_MONTHS: u32 = 12;

/// REVIEW_DAYS bounds how long before its approval a review may say it was
/// applied for (the review clock of Xi'an Art. 23 / Guangxi Art. 10 is 3
/// working days; a year is far beyond any late review).
const REVIEW_DAYS: i64 = 366;

fn builtin_calendar() -> &'static Calendar {
    static C: OnceLock<Calendar> = OnceLock::new();
    C.get_or_init(Calendar::builtin)
}

type R<T> = Result<T, RuleViolation>;

fn parse<T: DeserializeOwned>(env: &Envelope) -> R<T> {
    serde_json::from_slice(&env.payload).map_err(|e| RuleViolation::MalformedPayload(e.to_string()))
}

fn check_list<T>(what: &str, l: &[T]) -> R<()> {
    if l.len() > MAX_LIST {
        return Err(RuleViolation::MalformedPayload(format!(
            "{what} has more than {MAX_LIST} items"
        )));
    }
    Ok(())
}

/// check_scenarios checks the 应用场景 of a certificate: at least one, each a name.
fn check_scenarios(l: &[String]) -> R<()> {
    if l.is_empty() {
        return Err(RuleViolation::MalformedPayload(
            "scenarios must name at least one application scene (应用场景)".into(),
        ));
    }
    check_list("scenarios", l)?;
    for sc in l {
        check_name("scenario", sc)?;
    }
    Ok(())
}

fn check_digest(what: &str, s: &str) -> R<()> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(RuleViolation::MalformedPayload(format!(
            "{what} must be 64 lowercase hex digits (BLAKE3)"
        )));
    }
    Ok(())
}

/// decode_key reads a base64 Ed25519 public key and refuses keys of small
/// order (the identity and the other torsion points): any signature
/// verifies under them, so they would let anyone act as the participant.
fn decode_key(s: &str) -> R<[u8; 32]> {
    let b = B64
        .decode(s)
        .map_err(|_| RuleViolation::MalformedPayload("public key is not base64".into()))?;
    let k: [u8; 32] = b
        .try_into()
        .map_err(|_| RuleViolation::MalformedPayload("public key is not 32 bytes".into()))?;
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&k).map_err(|_| {
        RuleViolation::MalformedPayload("public key is not a valid Ed25519 point".into())
    })?;
    if vk.is_weak() {
        return Err(RuleViolation::MalformedPayload(
            "public key is of small order (weak): it would accept forged signatures".into(),
        ));
    }
    Ok(k)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn from_hex32(s: &str) -> Option<[u8; 32]> {
    crate::hash::Hash::from_hex(s).map(|h| h.0)
}

/// is_party reports whether `who` is the grantee or a party of `a`.
fn is_party(a: &AgreementState, who: &str) -> bool {
    a.fields.grantee == who || a.fields.parties.iter().any(|p| p == who)
}

/// entitled reports whether `signer` may act on an object authorized by
/// `chain`: a data authority always; otherwise a participant of one of
/// `roles` that is the grantee or a party of an agreement on the chain.
fn entitled(signer: &ParticipantState, chain: &[AgreementState], roles: &[Role]) -> bool {
    signer.role == Role::DataAuthority
        || (roles.contains(&signer.role) && chain.iter().any(|a| is_party(a, &signer.id)))
}

fn not_entitled(why: String, citation: &'static str) -> RuleViolation {
    RuleViolation::NotEntitled { why, citation }
}

/// chain_in_force fails unless `chain` (agreement `id` and its parents)
/// authorizes products and every agreement on it is active with a term
/// covering every date of `on`.
fn chain_in_force(id: &str, chain: &[AgreementState], on: &[Date]) -> R<()> {
    if !chain[0].fields.agreement_type.authorizes_products() {
        return Err(RuleViolation::AuthorizationNotActive {
            agreement: id.into(),
            why: "it is not an operation, catalog or scene authorization".into(),
        });
    }
    for (i, a) in chain.iter().enumerate() {
        // Named only when refused: the hot path (operation events) allocates nothing.
        let who = || {
            if i == 0 {
                "it".to_string()
            } else {
                format!("its parent {}", a.fields.id)
            }
        };
        if a.status != Status::Active {
            return Err(RuleViolation::AuthorizationNotActive {
                agreement: id.into(),
                why: format!("{} is {}", who(), a.status.name()),
            });
        }
        for d in on {
            if *d < a.fields.term_start || *d > a.fields.term_end {
                return Err(RuleViolation::AuthorizationNotActive {
                    agreement: id.into(),
                    why: format!(
                        "{d} is outside the term {}..{} of {}",
                        a.fields.term_start,
                        a.fields.term_end,
                        who()
                    ),
                });
            }
        }
    }
    Ok(())
}

struct Ctx<'a, S: StateReader + ?Sized> {
    s: &'a S,
    profile: &'static Profile,
    today: Date,
    fx: Effects,
}

impl<S: StateReader + ?Sized> Ctx<'_, S> {
    fn get(&self, k: &StateKey) -> Option<StateObject> {
        // Later writes of this same entry win over the state read.
        self.fx
            .writes
            .iter()
            .rev()
            .find(|(wk, _)| wk == k)
            .map(|(_, v)| v.clone())
            .or_else(|| self.s.get(k))
    }
    fn put(&mut self, k: StateKey, v: StateObject) {
        self.fx.writes.push((k, v));
    }
    fn subject(&mut self, id: &str) {
        if !self.fx.subjects.iter().any(|s| s == id) {
            self.fx.subjects.push(id.to_string());
        }
    }
    fn participant(&self, id: &str) -> R<ParticipantState> {
        match self.get(&StateKey::Participant(id.to_string())) {
            Some(StateObject::Participant(p)) => Ok(p),
            _ => Err(RuleViolation::NotFound {
                what: "participant",
                id: id.to_string(),
            }),
        }
    }
    fn active_participant(&self, id: &str) -> R<ParticipantState> {
        let p = self.participant(id)?;
        if p.revoked_index.is_some() {
            return Err(RuleViolation::InvalidTransition {
                what: "participant",
                id: id.into(),
                from: "revoked".into(),
                action: "take part",
            });
        }
        Ok(p)
    }
    /// signers returns every participant that signed the envelope, the
    /// submitter first (the signature loop has verified each of them).
    fn signers(&self, env: &Envelope) -> Vec<ParticipantState> {
        let mut out: Vec<ParticipantState> = Vec::new();
        for sig in &env.signatures {
            if let Some(StateObject::Key(k)) = self.get(&StateKey::Key(sig.key_id.clone())) {
                if let Ok(p) = self.participant(&k.participant) {
                    if !out.iter().any(|q| q.id == p.id) {
                        out.push(p);
                    }
                }
            }
        }
        out
    }
    fn resource(&self, id: &str) -> R<ResourceState> {
        match self.get(&StateKey::Resource(id.to_string())) {
            Some(StateObject::Resource(r)) => Ok(r),
            _ => Err(RuleViolation::NotFound {
                what: "resource",
                id: id.to_string(),
            }),
        }
    }
    fn agreement(&self, id: &str) -> R<AgreementState> {
        match self.get(&StateKey::Agreement(id.to_string())) {
            Some(StateObject::Agreement(a)) => Ok(a),
            _ => Err(RuleViolation::MissingStep {
                what: "agreement",
                id: id.to_string(),
                missing: "has not been filed",
                step: "agreement-filed",
                citation: reg::REGISTERED_OR_FILED,
            }),
        }
    }
    /// product returns a product; one that does not exist has not been
    /// approved, whatever the act wanted to do with it.
    fn product(&self, id: &str) -> R<ProductState> {
        match self.get(&StateKey::Product(id.to_string())) {
            Some(StateObject::Product(p)) => Ok(p),
            _ => Err(RuleViolation::MissingStep {
                what: "product",
                id: id.to_string(),
                missing: "has not been approved",
                step: "product-approved (then, for a certificate, product-registered)",
                citation: reg::PRODUCT_REGISTRATION,
            }),
        }
    }
    fn calendar(&self, years: std::ops::RangeInclusive<i32>) -> Calendar {
        let mut c = builtin_calendar().clone();
        for y in years {
            for region in [
                "".to_string(),
                self.profile.region.unwrap_or("").to_string(),
            ] {
                if let Some(StateObject::Calendar(n)) =
                    self.get(&StateKey::Calendar(y, region.clone()))
                {
                    let r = (!region.is_empty()).then_some(region.as_str());
                    let _ = c.publish(y, r, n);
                }
            }
        }
        c
    }
    /// deadline flags `done` if it is later than `n` working days after `from`.
    ///
    /// Callers pass dates the windows below have bounded, so the working
    /// days counted here span at most the life of the log.
    fn deadline(
        &mut self,
        code: &str,
        subject: &str,
        from: Date,
        n: u32,
        done: Date,
        citation: &str,
    ) {
        let cal = self.calendar(from.year..=done.year.max(from.year) + 1);
        let region = self.profile.region;
        let Some((due, provisional)) = cal.add_working_days(from, n, region) else {
            return;
        };
        if done > due {
            let late = cal.working_days_between(due, done, region);
            self.fx.flags.push(Flag {
                code: code.to_string(),
                subject: subject.to_string(),
                due,
                done,
                working_days_late: late,
                provisional,
                citation: citation.to_string(),
            });
        }
    }
    /// window refuses `date` unless it lies in `[today - back_days, today]`.
    fn window(
        &self,
        what: &'static str,
        date: Date,
        back_days: i64,
        why: &'static str,
        citation: &'static str,
    ) -> R<()> {
        let earliest = self
            .today
            .add_days(-back_days)
            .unwrap_or(Date::new(1970, 1, 1).expect("epoch"));
        self.window_from(what, date, earliest, why, citation)
    }
    /// window_months refuses `date` unless it lies in `[today - months, today]`.
    fn window_months(
        &self,
        what: &'static str,
        date: Date,
        months: u32,
        why: &'static str,
        citation: &'static str,
    ) -> R<()> {
        let earliest = date_months_before(self.today, months);
        self.window_from(what, date, earliest, why, citation)
    }
    fn window_from(
        &self,
        what: &'static str,
        date: Date,
        earliest: Date,
        why: &'static str,
        citation: &'static str,
    ) -> R<()> {
        if date < earliest || date > self.today {
            return Err(RuleViolation::DateOutOfBounds {
                what,
                date,
                earliest,
                latest: self.today,
                why,
                citation,
            });
        }
        Ok(())
    }
    /// chain returns agreement `id` and its parents, nearest first.
    fn chain(&self, id: &str) -> R<Vec<AgreementState>> {
        let mut out: Vec<AgreementState> = Vec::new();
        let mut next = Some(id.to_string());
        while let Some(cur) = next {
            if out.len() == MAX_CHAIN_DEPTH {
                return Err(RuleViolation::AuthorizationNotActive {
                    agreement: id.into(),
                    why: format!("its chain of parents is deeper than {MAX_CHAIN_DEPTH}"),
                });
            }
            let a = self.agreement(&cur).map_err(|_| {
                if out.is_empty() {
                    RuleViolation::AuthorizationNotActive {
                        agreement: id.into(),
                        why: "no such authorization is filed: submit agreement-filed first".into(),
                    }
                } else {
                    RuleViolation::AuthorizationNotActive {
                        agreement: id.into(),
                        why: format!("its parent {cur} is not filed"),
                    }
                }
            })?;
            next = a.fields.parent.clone();
            out.push(a);
        }
        Ok(out)
    }
    /// in_force fails unless agreement `id` authorizes products and it and
    /// every parent up its chain are active with terms covering every date
    /// of `on` (today first): a derived authorization is never in force
    /// when its parent is not (无授权不运营).
    fn in_force(&self, id: &str, on: &[Date]) -> R<Vec<AgreementState>> {
        let chain = self.chain(id)?;
        chain_in_force(id, &chain, on)?;
        Ok(chain)
    }
    /// product_chain returns the authorization chain of product `p` (its
    /// approval's authorization and parents), whatever their status.
    fn product_chain(&self, p: &ProductState) -> R<Vec<AgreementState>> {
        self.chain(&p.approval.authorization)
    }
    /// operator_of refuses `signer` unless it is a data authority or the
    /// operator side of product `p`: a party to its authorization chain
    /// (Guangxi Art. 12: the operator verifies, registers and handles it).
    fn operator_of(
        &self,
        signer: &ParticipantState,
        p: &ProductState,
        roles: &[Role],
        act: &str,
        citation: &'static str,
    ) -> R<Vec<AgreementState>> {
        let chain = self.product_chain(p)?;
        if !entitled(signer, &chain, roles) {
            return Err(not_entitled(
                format!(
                    "{} may not {act} product {}: only a data authority or the operator party to its authorization {} (or that authorization's parent) may",
                    signer.id, p.approval.product_id, p.approval.authorization
                ),
                citation,
            ));
        }
        Ok(chain)
    }
    /// agreement_actor refuses `signer` unless it is a data authority or an
    /// implementing agency party to agreement `a` or one of its parents.
    fn agreement_actor(&self, signer: &ParticipantState, a: &AgreementState, act: &str) -> R<()> {
        let chain = self.chain(&a.fields.id)?;
        if !entitled(signer, &chain, &[Role::ImplementingAgency]) {
            return Err(not_entitled(
                format!(
                    "{} may not {act} agreement {}: only a data authority or an implementing agency party to it (or to its parent) may",
                    signer.id, a.fields.id
                ),
                reg::OPERATION_AGREEMENT,
            ));
        }
        Ok(())
    }
    fn term_months(&self, start: Date, end: Date) -> R<()> {
        if end < start {
            return Err(RuleViolation::InvalidDates(format!(
                "term ends {end} before it starts {start}"
            )));
        }
        // The term may last max months: it must end before start + max months.
        let max = self.profile.max_term_months;
        let limit = start
            .add_months(max)
            .ok_or_else(|| RuleViolation::InvalidDates("term start out of range".into()))?;
        if end >= limit {
            // Whole months from start to end, computed, not counted one by
            // one: a term ending 9999-12-31 costs no more than any other.
            let span = (i64::from(end.year) * 12 + i64::from(end.month))
                - (i64::from(start.year) * 12 + i64::from(start.month));
            let mut months = u32::try_from(span.max(0)).unwrap_or(u32::MAX);
            while months > 0 && start.add_months(months).is_none_or(|d| d > end) {
                months -= 1;
            }
            return Err(RuleViolation::TermTooLong {
                months: months + 1,
                max,
                citation: self.profile.max_term_citation,
            });
        }
        Ok(())
    }
}

/// check_request_id enforces the limits of a payload's optional
/// `request_id` (see [`super::kinds::valid_request_id`]); the rules give it
/// no other meaning. It reads only that member, so it serves every kind; a
/// payload that is not a JSON object, or whose `request_id` is not a
/// string, is left to the kind's own parse, which refuses it.
fn check_request_id(env: &Envelope) -> R<()> {
    #[derive(serde::Deserialize)]
    struct RequestId {
        request_id: Option<String>,
    }
    match serde_json::from_slice::<RequestId>(&env.payload) {
        Ok(RequestId {
            request_id: Some(r),
        }) if !super::kinds::valid_request_id(&r) => Err(request_id_error()),
        _ => Ok(()),
    }
}

fn request_id_error() -> RuleViolation {
    RuleViolation::MalformedPayload(format!(
        "request_id must be 1..{} printable ASCII characters without spaces (e.g. a UUID)",
        super::kinds::MAX_REQUEST_ID_BYTES
    ))
}

/// apply checks one entry against the state and returns its effects.
///
/// It verifies, in order: the envelope's limits; the kind; the signer (a
/// registered, unretired key of an unrevoked participant) and signature;
/// that the signer's role may submit the kind; the payload; and the kind's
/// lifecycle rules. Deadlines are flagged in [`Effects::flags`], not refused.
pub fn apply(
    s: &(impl StateReader + ?Sized),
    ctx: &EntryContext,
    env: &Envelope,
) -> Result<Effects, RuleViolation> {
    apply_preverified(s, ctx, env, &[])
}

/// apply_preverified is [`apply`] for callers that already verified some
/// signatures (in parallel, before sequencing): a signature listed in
/// `preverified` (by its position, with the key it verified with) is not
/// verified again, provided that key is still the one registered under its
/// key id. Every signature not listed is verified; every other check is the same.
pub fn apply_preverified(
    s: &(impl StateReader + ?Sized),
    ctx: &EntryContext,
    env: &Envelope,
    preverified: &[Preverified],
) -> Result<Effects, RuleViolation> {
    env.check()
        .map_err(|e| RuleViolation::MalformedEnvelope(e.to_string()))?;
    let kind_name = env
        .kind_name()
        .map_err(|_| RuleViolation::UnknownKind(env.payload_type.clone()))?;
    let kind = EntryKind::from_name(kind_name)
        .ok_or_else(|| RuleViolation::UnknownKind(kind_name.to_string()))?;
    let today = Date::from_unix_ms(ctx.integrated_time_ms)
        .ok_or_else(|| RuleViolation::InvalidDates("integrated time out of range".into()))?;
    if kind == EntryKind::Genesis || ctx.index == 0 {
        if kind != EntryKind::Genesis || ctx.index != 0 || s.get(&StateKey::Genesis).is_some() {
            return Err(RuleViolation::GenesisPosition);
        }
        return genesis(ctx, env);
    }
    let Some(StateObject::Genesis(g)) = s.get(&StateKey::Genesis) else {
        return Err(RuleViolation::GenesisPosition);
    };
    let profile =
        profile(&g.profile).ok_or_else(|| RuleViolation::UnknownProfile(g.profile.clone()))?;
    let mut c = Ctx {
        s,
        profile,
        today,
        fx: Effects {
            kind: Some(kind),
            ..Effects::default()
        },
    };

    // Every signature must be by a registered, unretired key of an unrevoked
    // participant, and every one must verify (a preverified one only with
    // the key registered now): an envelope is never accepted on some of its
    // signatures (issue 12). Each comes from a distinct key and a distinct
    // participant, because the rules read signatures as parties (D12). The
    // first signer is the submitter.
    let mut signers: Vec<(&str, [u8; 32], ParticipantState)> =
        Vec::with_capacity(env.signatures.len());
    for sig in &env.signatures {
        let Some(StateObject::Key(k)) = c.get(&StateKey::Key(sig.key_id.clone())) else {
            return Err(RuleViolation::UnknownSigner(sig.key_id.clone()));
        };
        if k.retired_index.is_some() {
            return Err(RuleViolation::UnknownSigner(sig.key_id.clone()));
        }
        let p = c.participant(&k.participant)?;
        if p.revoked_index.is_some() {
            return Err(RuleViolation::SignerRevoked(p.id));
        }
        let pk = from_hex32(&k.public_key)
            .ok_or_else(|| RuleViolation::UnknownSigner(sig.key_id.clone()))?;
        signers.push((sig.key_id.as_str(), pk, p));
    }
    env.verify_all_preverified(
        |kid| {
            signers
                .iter()
                .find(|(id, _, _)| *id == kid)
                .map(|(_, pk, _)| *pk)
        },
        preverified,
    )
    .map_err(|e| RuleViolation::BadSignature(e.to_string()))?;
    for (i, (_, _, p)) in signers.iter().enumerate() {
        if signers[..i].iter().any(|(_, _, q)| q.id == p.id) {
            return Err(RuleViolation::BadSignature(format!(
                "two signatures by participant {:?}: each signature must come from a distinct participant",
                p.id
            )));
        }
    }
    check_request_id(env)?;
    let signer = signers.swap_remove(0).2;
    if !kind.allowed_roles().contains(&signer.role) {
        return Err(RuleViolation::RoleNotAllowed {
            role: signer.role.name().into(),
            kind: kind.name().into(),
        });
    }
    c.fx.signer = signer.id.clone();
    let idx = ctx.index;
    let today = c.today;
    match kind {
        EntryKind::Genesis => unreachable!("handled above"),
        EntryKind::ParticipantRegistered => {
            let p: ParticipantSpec = parse(env)?;
            // An id no key id could carry would register a participant
            // that can never sign: refused here, not left unusable.
            check_id("id", &p.id)?;
            check_name("name", &p.name)?;
            if let Some(cc) = &p.credit_code {
                check_credit_code(cc)?;
            }
            if p.public_keys.is_empty() {
                return Err(RuleViolation::MalformedPayload(
                    "a participant needs at least one public key".into(),
                ));
            }
            check_list("public_keys", &p.public_keys)?;
            if c.get(&StateKey::Participant(p.id.clone())).is_some() {
                return Err(RuleViolation::Duplicate {
                    what: "participant",
                    id: p.id,
                });
            }
            let mut key_ids = Vec::new();
            for k in &p.public_keys {
                let pk = decode_key(k)?;
                let kid = participant_key_id(&p.id, &pk);
                if c.get(&StateKey::Key(kid.clone())).is_some() || key_ids.contains(&kid) {
                    return Err(RuleViolation::Duplicate {
                        what: "key",
                        id: kid,
                    });
                }
                c.put(
                    StateKey::Key(kid.clone()),
                    StateObject::Key(KeyState {
                        key_id: kid.clone(),
                        participant: p.id.clone(),
                        public_key: hex(&pk),
                        added_index: idx,
                        retired_index: None,
                    }),
                );
                key_ids.push(kid);
            }
            c.subject(&p.id);
            c.put(
                StateKey::Participant(p.id.clone()),
                StateObject::Participant(ParticipantState {
                    id: p.id,
                    name: p.name,
                    role: p.role,
                    credit_code: p.credit_code,
                    key_ids,
                    registered_index: idx,
                    revoked_index: None,
                }),
            );
        }
        EntryKind::ParticipantKeyRotated => {
            let r: KeyRotation = parse(env)?;
            check_list("add_keys", &r.add_keys)?;
            check_list("retire_key_ids", &r.retire_key_ids)?;
            let mut p = c.active_participant(&r.id)?;
            for kid in &r.retire_key_ids {
                let Some(StateObject::Key(mut k)) = c.get(&StateKey::Key(kid.clone())) else {
                    return Err(RuleViolation::NotFound {
                        what: "key",
                        id: kid.clone(),
                    });
                };
                if k.participant != p.id || k.retired_index.is_some() {
                    return Err(RuleViolation::InvalidTransition {
                        what: "key",
                        id: kid.clone(),
                        from: "retired or foreign".into(),
                        action: "retire",
                    });
                }
                k.retired_index = Some(idx);
                c.put(StateKey::Key(kid.clone()), StateObject::Key(k));
            }
            for k in &r.add_keys {
                let pk = decode_key(k)?;
                let kid = participant_key_id(&p.id, &pk);
                if c.get(&StateKey::Key(kid.clone())).is_some() {
                    return Err(RuleViolation::Duplicate {
                        what: "key",
                        id: kid,
                    });
                }
                c.put(
                    StateKey::Key(kid.clone()),
                    StateObject::Key(KeyState {
                        key_id: kid.clone(),
                        participant: p.id.clone(),
                        public_key: hex(&pk),
                        added_index: idx,
                        retired_index: None,
                    }),
                );
                p.key_ids.push(kid);
            }
            let live = p.key_ids.iter().any(|kid| matches!(c.get(&StateKey::Key(kid.clone())), Some(StateObject::Key(k)) if k.retired_index.is_none()));
            if !live {
                return Err(RuleViolation::MalformedPayload(
                    "a rotation must leave the participant at least one live key".into(),
                ));
            }
            c.subject(&p.id);
            c.put(
                StateKey::Participant(p.id.clone()),
                StateObject::Participant(p),
            );
        }
        EntryKind::ParticipantRevoked => {
            let r: IdReason = parse(env)?;
            check_text("reason", &r.reason)?;
            let mut p = c.active_participant(&r.id)?;
            if p.id == signer.id {
                return Err(RuleViolation::WrongParty(
                    "a participant cannot revoke itself".into(),
                ));
            }
            p.revoked_index = Some(idx);
            c.subject(&p.id);
            c.put(
                StateKey::Participant(p.id.clone()),
                StateObject::Participant(p),
            );
        }
        EntryKind::CalendarPublished => {
            let n: CalendarNotice = parse(env)?;
            check_text("notice", &n.notice)?;
            // Notices are published ahead for the next year, and late for
            // the years an old filing's deadline may still cross.
            let years = (today.year - 6)..=(today.year + 1);
            if !years.contains(&n.year) {
                return Err(RuleViolation::InvalidDates(format!(
                    "a calendar for {} is outside {}..={} (six years back to one ahead of the day it is logged)",
                    n.year,
                    years.start(),
                    years.end()
                )));
            }
            let notice = YearNotice {
                notice: n.notice,
                off: n.off,
                makeup_workdays: n.makeup_workdays,
            };
            notice
                .validate(n.year)
                .map_err(RuleViolation::InvalidDates)?;
            let region = n.region.unwrap_or_default();
            if !region.is_empty() {
                check_id("region", &region)?;
            }
            c.subject(&format!("calendar-{}", n.year));
            c.put(
                StateKey::Calendar(n.year, region),
                StateObject::Calendar(notice),
            );
        }
        EntryKind::ResourceRegistered => {
            let r: Resource = parse(env)?;
            check_id("id", &r.id)?;
            for (w, v) in [
                ("name", &r.name),
                ("catalog_id", &r.catalog_id),
                ("grade", &r.grade),
                ("format", &r.format),
                ("update_frequency", &r.update_frequency),
                ("scale", &r.scale),
            ] {
                check_name(w, v)?;
            }
            if c.get(&StateKey::Resource(r.id.clone())).is_some() {
                return Err(RuleViolation::Duplicate {
                    what: "resource",
                    id: r.id,
                });
            }
            let holder = c.active_participant(&r.holder)?;
            if holder.role != Role::DataSourceUnit {
                return Err(not_entitled(
                    format!("holder {} is not a data source unit", holder.id),
                    reg::RESOURCE_REGISTRATION,
                ));
            }
            if signer.role == Role::DataSourceUnit && signer.id != holder.id {
                return Err(not_entitled(
                    format!(
                        "{} may not register a resource held by {}: a data source unit registers only its own resources",
                        signer.id, holder.id
                    ),
                    reg::RESOURCE_REGISTRATION,
                ));
            }
            c.subject(&r.id);
            c.subject(&r.holder);
            c.put(
                StateKey::Resource(r.id.clone()),
                StateObject::Resource(ResourceState {
                    fields: r,
                    status: Status::Active,
                    registered_index: idx,
                    last_index: idx,
                }),
            );
        }
        EntryKind::ResourceChanged | EntryKind::ResourceCorrected => {
            let ch: ResourceChange = parse(env)?;
            check_text("reason", &ch.reason)?;
            let mut r = c.resource(&ch.id)?;
            if signer.role == Role::DataSourceUnit && signer.id != r.fields.holder {
                return Err(not_entitled(
                    format!(
                        "{} may not change resource {} held by {}: a data source unit changes only its own resources",
                        signer.id, ch.id, r.fields.holder
                    ),
                    reg::RESOURCE_REGISTRATION,
                ));
            }
            if r.status != Status::Active {
                return Err(RuleViolation::InvalidTransition {
                    what: "resource",
                    id: ch.id,
                    from: r.status.name().into(),
                    action: "change",
                });
            }
            for (w, v) in [
                ("name", &ch.name),
                ("grade", &ch.grade),
                ("format", &ch.format),
                ("update_frequency", &ch.update_frequency),
                ("scale", &ch.scale),
            ] {
                if let Some(v) = v {
                    check_name(w, v)?;
                }
            }
            macro_rules! set {
                ($f:ident) => {
                    if let Some(v) = ch.$f {
                        r.fields.$f = v;
                    }
                };
            }
            set!(name);
            set!(grade);
            set!(open_attribute);
            set!(format);
            set!(update_frequency);
            set!(scale);
            r.last_index = idx;
            c.subject(&r.fields.id.clone());
            c.put(
                StateKey::Resource(r.fields.id.clone()),
                StateObject::Resource(r),
            );
        }
        EntryKind::ResourceDeregistered => {
            let d: IdReason = parse(env)?;
            check_text("reason", &d.reason)?;
            let mut r = c.resource(&d.id)?;
            if signer.role == Role::DataSourceUnit && signer.id != r.fields.holder {
                return Err(not_entitled(
                    format!(
                        "{} may not deregister resource {} held by {}: a data source unit deregisters only its own resources",
                        signer.id, d.id, r.fields.holder
                    ),
                    reg::RESOURCE_REGISTRATION,
                ));
            }
            if r.status != Status::Active {
                return Err(RuleViolation::InvalidTransition {
                    what: "resource",
                    id: d.id,
                    from: r.status.name().into(),
                    action: "deregister",
                });
            }
            r.status = Status::Deregistered;
            r.last_index = idx;
            c.subject(&d.id);
            c.put(StateKey::Resource(d.id.clone()), StateObject::Resource(r));
        }
        EntryKind::AgreementFiled => {
            let a: Agreement = parse(env)?;
            check_id("id", &a.id)?;
            check_name("document_title", &a.document_title)?;
            if let Some(scene) = &a.scene {
                check_name("scene", scene)?;
            }
            check_digest("document_blake3", &a.document_blake3)?;
            if a.parties.is_empty() {
                return Err(RuleViolation::MalformedPayload(
                    "an agreement needs at least one party".into(),
                ));
            }
            check_list("parties", &a.parties)?;
            check_list("scope", &a.scope)?;
            if c.get(&StateKey::Agreement(a.id.clone())).is_some() {
                return Err(RuleViolation::Duplicate {
                    what: "agreement",
                    id: a.id,
                });
            }
            if a.term_start < a.signed_on.add_days(-366).unwrap_or(a.signed_on)
                || a.term_start > a.signed_on.add_days(366).unwrap_or(a.signed_on)
            {
                return Err(RuleViolation::InvalidDates(
                    "the term must start within a year of signing".into(),
                ));
            }
            c.term_months(a.term_start, a.term_end)?;
            // Late filing is flagged, not refused; but an agreement signed
            // longer ago than the longest term is not filed as new.
            c.window_months(
                "signed_on",
                a.signed_on,
                c.profile.max_term_months,
                "an agreement is filed after it is signed, and no later than the longest term allows",
                c.profile.filing_citation,
            )?;
            let mut parties_ok =
                a.parties.contains(&signer.id) || signer.role == Role::DataAuthority;
            for p in &a.parties {
                c.active_participant(p)?;
            }
            let grantee = c.active_participant(&a.grantee)?;
            parties_ok |= a.grantee == signer.id;
            if !parties_ok {
                return Err(not_entitled(
                    format!(
                        "{} may not file agreement {}: the filer must be a party, the grantee or a data authority",
                        signer.id, a.id
                    ),
                    reg::REGISTERED_OR_FILED,
                ));
            }
            for rid in &a.scope {
                let r = c.resource(rid)?;
                if r.status != Status::Active {
                    return Err(RuleViolation::InvalidTransition {
                        what: "resource",
                        id: rid.clone(),
                        from: r.status.name().into(),
                        action: "be authorized",
                    });
                }
            }
            let derived = matches!(
                a.agreement_type,
                AgreementType::SceneAuthorization | AgreementType::CatalogAuthorization
            );
            match (&a.parent, derived) {
                (Some(parent), true) => {
                    // A scene or catalog authorization is granted by the
                    // operator out of its own operation agreement: the
                    // operator holding the parent files it, is a party to
                    // it, grants no resource the parent does not, and the
                    // grant never outlives the parent (无授权不运营).
                    let citation = if a.agreement_type == AgreementType::SceneAuthorization {
                        reg::SCENE_AUTHORIZATION
                    } else {
                        reg::CATALOG_AUTHORIZATION
                    };
                    let chain = c.in_force(parent, &[today])?;
                    let pa = &chain[0];
                    if pa.fields.agreement_type != AgreementType::OperationAgreement {
                        return Err(not_entitled(
                            format!(
                                "{} derives from {parent}, which is not an operation agreement: an authorization is not passed on (不得转移、转让)",
                                a.id
                            ),
                            cite!(xian, "第八条"),
                        ));
                    }
                    if signer.role != Role::DataAuthority && signer.id != pa.fields.grantee {
                        return Err(not_entitled(
                            format!(
                                "{} may not grant {} under {parent}: only its grantee {} (or a data authority) may",
                                signer.id, a.id, pa.fields.grantee
                            ),
                            citation,
                        ));
                    }
                    let holder = &pa.fields.grantee;
                    if a.grantee != *holder && !a.parties.contains(holder) {
                        return Err(not_entitled(
                            format!(
                                "the operator {} holding {parent} must be a party to {}",
                                pa.fields.grantee, a.id
                            ),
                            citation,
                        ));
                    }
                    if grantee.role != Role::BusinessEntity {
                        return Err(not_entitled(
                            format!(
                                "the grantee {} of {} is not a business entity: the operator does not redevelop what it delivers",
                                grantee.id, a.id
                            ),
                            reg::NO_REDEVELOPMENT,
                        ));
                    }
                    if let Some(rid) = a.scope.iter().find(|r| !pa.fields.scope.contains(r)) {
                        return Err(not_entitled(
                            format!("resource {rid} is not in the scope of {parent}"),
                            cite!(xian, "第八条（不得超范围使用）"),
                        ));
                    }
                    if a.term_end > pa.fields.term_end || a.term_start < pa.fields.term_start {
                        return Err(RuleViolation::AuthorizationNotActive {
                            agreement: parent.clone(),
                            why: "the derived term exceeds the parent's".into(),
                        });
                    }
                }
                (None, true) => {
                    return Err(RuleViolation::AuthorizationNotActive {
                        agreement: a.id,
                        why: "a scene or catalog authorization must name the operation agreement it derives from (parent)".into(),
                    });
                }
                (Some(_), false) => {
                    return Err(RuleViolation::MalformedPayload(
                        "only a scene or catalog authorization derives from a parent".into(),
                    ));
                }
                (None, false) => {
                    // A root grant is made by the grantor: a data
                    // authority, or an implementing agency party to it,
                    // signs (or co-signs) it; the grantee alone cannot
                    // authorize itself.
                    if matches!(
                        a.agreement_type,
                        AgreementType::OperationAgreement | AgreementType::ImplementationPlan
                    ) {
                        let grantor = c.signers(env).into_iter().any(|p| {
                            p.role == Role::DataAuthority
                                || (p.role == Role::ImplementingAgency && a.parties.contains(&p.id))
                        });
                        if !grantor {
                            return Err(not_entitled(
                                format!(
                                    "{} must be signed by a data authority or an implementing agency party to it, not only by {}",
                                    a.id, signer.id
                                ),
                                reg::OPERATION_AGREEMENT,
                            ));
                        }
                    }
                    if a.agreement_type == AgreementType::OperationAgreement
                        && grantee.role != Role::Operator
                    {
                        return Err(not_entitled(
                            format!(
                                "the grantee {} of operation agreement {} is not an operator",
                                grantee.id, a.id
                            ),
                            reg::OPERATION_AGREEMENT,
                        ));
                    }
                }
            }
            let cit = c.profile.filing_citation;
            c.deadline(
                "filing-late",
                &a.id,
                a.signed_on,
                c.profile.filing_working_days,
                today,
                cit,
            );
            c.subject(&a.id);
            for p in a.parties.iter().chain(std::iter::once(&a.grantee)) {
                c.subject(p);
            }
            c.put(
                StateKey::Agreement(a.id.clone()),
                StateObject::Agreement(AgreementState {
                    fields: a,
                    status: Status::Active,
                    status_index: idx,
                    filed_index: idx,
                    filed_on: today,
                    ended_on: None,
                    retain_logs_until: None,
                }),
            );
        }
        EntryKind::AgreementAmended => {
            let m: AgreementAmend = parse(env)?;
            check_text("reason", &m.reason)?;
            check_digest("document_blake3", &m.document_blake3)?;
            let mut a = c.agreement(&m.id)?;
            c.agreement_actor(&signer, &a, "amend")?;
            if a.status == Status::Terminated {
                return Err(RuleViolation::InvalidTransition {
                    what: "agreement",
                    id: m.id,
                    from: "terminated".into(),
                    action: "amend",
                });
            }
            c.window_months(
                "amended_on",
                m.amended_on,
                c.profile.max_term_months,
                "an amendment is filed after it is made, and no later than the longest term allows",
                c.profile.filing_citation,
            )?;
            if m.amended_on < a.fields.signed_on {
                return Err(RuleViolation::InvalidDates(
                    "amended before the agreement was signed".into(),
                ));
            }
            // An orphan (its parent no longer in force) is not amended.
            let parent = match &a.fields.parent {
                Some(p) => Some(c.in_force(p, &[today])?.remove(0)),
                None => None,
            };
            if let Some(scope) = m.scope {
                check_list("scope", &scope)?;
                for rid in &scope {
                    let r = c.resource(rid)?;
                    if r.status != Status::Active {
                        return Err(RuleViolation::InvalidTransition {
                            what: "resource",
                            id: rid.clone(),
                            from: r.status.name().into(),
                            action: "be authorized",
                        });
                    }
                    if let Some(pa) = &parent {
                        if !pa.fields.scope.contains(rid) {
                            return Err(not_entitled(
                                format!("resource {rid} is not in the scope of {}", pa.fields.id),
                                cite!(xian, "第八条（不得超范围使用）"),
                            ));
                        }
                    }
                }
                a.fields.scope = scope;
            }
            a.fields.document_blake3 = m.document_blake3;
            let cit = c.profile.filing_citation;
            c.deadline(
                "filing-late",
                &a.fields.id.clone(),
                m.amended_on,
                c.profile.filing_working_days,
                today,
                cit,
            );
            c.subject(&m.id);
            c.put(StateKey::Agreement(m.id.clone()), StateObject::Agreement(a));
        }
        EntryKind::AgreementRenewed => {
            let rn: AgreementRenewal = parse(env)?;
            check_digest("document_blake3", &rn.document_blake3)?;
            let mut a = c.agreement(&rn.id)?;
            c.agreement_actor(&signer, &a, "renew")?;
            if a.status == Status::Terminated {
                return Err(RuleViolation::InvalidTransition {
                    what: "agreement",
                    id: rn.id,
                    from: "terminated".into(),
                    action: "renew (terminated agreements stay terminated)",
                });
            }
            c.window_months(
                "applied_on",
                rn.applied_on,
                RENEWAL_APPLICATION_MONTHS,
                "a renewal is logged within a year of the application",
                if c.profile.renewal_citation.is_empty() {
                    reg::RENEWAL
                } else {
                    c.profile.renewal_citation
                },
            )?;
            if rn.applied_on > a.fields.term_end {
                return Err(RuleViolation::DateOutOfBounds {
                    what: "applied_on",
                    date: rn.applied_on,
                    earliest: date_months_before(today, RENEWAL_APPLICATION_MONTHS),
                    latest: a.fields.term_end,
                    why: "renewal is agreed before the term ends (协议期满之前); an expired agreement is authorized anew",
                    citation: cite!(guangxi, "第十二条第（三）项（协议期满之前，双方可协商确定是否续签）"),
                });
            }
            if rn.new_term_end <= a.fields.term_end {
                return Err(RuleViolation::InvalidDates(
                    "a renewal must extend the term".into(),
                ));
            }
            let new_start = a
                .fields
                .term_end
                .add_days(1)
                .ok_or_else(|| RuleViolation::InvalidDates("term end out of range".into()))?;
            c.term_months(new_start, rn.new_term_end)?;
            if let Some(parent) = &a.fields.parent {
                // A derived authorization never outlives its parent.
                let chain = c.in_force(parent, &[today])?;
                let end = chain
                    .iter()
                    .map(|p| p.fields.term_end)
                    .min()
                    .unwrap_or(today);
                if rn.new_term_end > end {
                    return Err(RuleViolation::AuthorizationNotActive {
                        agreement: parent.clone(),
                        why: format!(
                            "the renewed term would end {} after the parent's {end}: a derived authorization never outlives its parent",
                            rn.new_term_end
                        ),
                    });
                }
            }
            if let Some((lo, hi)) = c.profile.renewal_window_months {
                // Shuozhou §8: apply 3–6 months before expiry.
                let end = a.fields.term_end;
                let earliest = date_months_before(end, hi);
                let latest = date_months_before(end, lo);
                if rn.applied_on < earliest || rn.applied_on > latest {
                    c.fx.flags.push(Flag {
                        code: "renewal-outside-window".into(),
                        subject: rn.id.clone(),
                        due: latest,
                        done: rn.applied_on,
                        working_days_late: 0,
                        provisional: false,
                        citation: c.profile.renewal_citation.into(),
                    });
                }
            }
            a.fields.term_end = rn.new_term_end;
            a.fields.document_blake3 = rn.document_blake3;
            c.subject(&rn.id);
            c.put(
                StateKey::Agreement(rn.id.clone()),
                StateObject::Agreement(a),
            );
        }
        EntryKind::AgreementSuspended | EntryKind::AgreementResumed => {
            let sc: StatusChange = parse(env)?;
            check_text("reason", &sc.reason)?;
            let mut a = c.agreement(&sc.id)?;
            let (from, to, action) = if kind == EntryKind::AgreementSuspended {
                (Status::Active, Status::Suspended, "suspend")
            } else {
                (Status::Suspended, Status::Active, "resume")
            };
            c.agreement_actor(&signer, &a, action)?;
            if a.status != from {
                return Err(RuleViolation::InvalidTransition {
                    what: "agreement",
                    id: sc.id,
                    from: a.status.name().into(),
                    action,
                });
            }
            c.window(
                "effective_on",
                sc.effective_on,
                RECORDING_DAYS,
                "a suspension or resumption is logged within 14 days, and never ahead",
                reg::SUSPENSION,
            )?;
            a.status = to;
            a.status_index = idx;
            c.subject(&sc.id);
            c.put(
                StateKey::Agreement(sc.id.clone()),
                StateObject::Agreement(a),
            );
        }
        EntryKind::AgreementTerminated => {
            let t: Termination = parse(env)?;
            check_text("detail", &t.detail)?;
            let mut a = c.agreement(&t.id)?;
            c.agreement_actor(&signer, &a, "terminate")?;
            if a.status == Status::Terminated {
                return Err(RuleViolation::InvalidTransition {
                    what: "agreement",
                    id: t.id,
                    from: "terminated".into(),
                    action: "terminate",
                });
            }
            if t.effective_on < a.fields.term_start {
                return Err(RuleViolation::InvalidDates(
                    "termination before the term starts".into(),
                ));
            }
            // No termination ahead of time (it takes effect when logged),
            // and none dated so far back that its log retention would
            // already have run out on the day it is logged.
            c.window_months(
                "effective_on",
                t.effective_on,
                c.profile.retention_months,
                "a termination is logged before its log retention period has run out, and never ahead",
                c.profile.retention_citation,
            )?;
            let ended = t.effective_on.min(a.fields.term_end);
            a.status = Status::Terminated;
            a.status_index = idx;
            a.ended_on = Some(ended);
            // Logs are kept at least N months after the end (Guangxi Art. 12(3), Chengdu Art. 26).
            a.retain_logs_until = ended.add_months(c.profile.retention_months);
            c.subject(&t.id);
            c.put(StateKey::Agreement(t.id.clone()), StateObject::Agreement(a));
        }
        EntryKind::CatalogCredentialIssued => {
            let cr: CatalogCredential = parse(env)?;
            check_number(
                "credential_no",
                &cr.credential_no,
                reg::CATALOG_AUTHORIZATION,
            )?;
            for (w, v) in [
                ("grantee_name", &cr.grantee_name),
                ("scope", &cr.scope),
                ("issuer", &cr.issuer),
            ] {
                check_name(w, v)?;
            }
            if c.get(&StateKey::Credential(cr.credential_no.clone()))
                .is_some()
            {
                return Err(RuleViolation::Duplicate {
                    what: "credential",
                    id: cr.credential_no,
                });
            }
            c.window(
                "issued_on",
                cr.issued_on,
                RECORDING_DAYS,
                "a credential is logged within 14 days of issue, and never ahead",
                reg::CATALOG_AUTHORIZATION,
            )?;
            let chain = c.in_force(&cr.agreement_id, &[today, cr.issued_on])?;
            if !entitled(&signer, &chain, &[Role::ImplementingAgency, Role::Operator]) {
                return Err(not_entitled(
                    format!(
                        "{} may not issue a credential under {}: only a data authority or a party to it (or to its parent) may",
                        signer.id, cr.agreement_id
                    ),
                    reg::CATALOG_AUTHORIZATION,
                ));
            }
            let a = &chain[0];
            let grantee = c.participant(&a.fields.grantee)?;
            if grantee.name != cr.grantee_name {
                return Err(not_entitled(
                    format!(
                        "grantee_name is not the registered name of {}, the grantee of {}",
                        grantee.id, cr.agreement_id
                    ),
                    reg::CATALOG_AUTHORIZATION,
                ));
            }
            if cr.valid_until > a.fields.term_end
                || cr.valid_from < a.fields.term_start
                || cr.valid_until < cr.valid_from
            {
                return Err(RuleViolation::InvalidDates(
                    "the credential's validity must lie within the agreement's term".into(),
                ));
            }
            c.subject(&cr.credential_no);
            c.subject(&cr.agreement_id);
            c.put(
                StateKey::Credential(cr.credential_no.clone()),
                StateObject::Credential(cr),
            );
        }
        EntryKind::ProductApproved => {
            let ap: ProductApproval = parse(env)?;
            check_id("product_id", &ap.product_id)?;
            check_name("product_name", &ap.product_name)?;
            if c.get(&StateKey::Product(ap.product_id.clone())).is_some() {
                return Err(RuleViolation::Duplicate {
                    what: "product",
                    id: ap.product_id,
                });
            }
            let be = c.active_participant(&ap.business_entity)?;
            if !matches!(be.role, Role::BusinessEntity | Role::Operator) {
                return Err(RuleViolation::WrongParty(format!(
                    "{} is not a business entity or operator",
                    be.id
                )));
            }
            c.window(
                "approved_on",
                ap.approved_on,
                RECORDING_DAYS,
                "an approval is logged within 14 days, and never ahead",
                reg::PRODUCT_REGISTRATION,
            )?;
            // In force on the day it is logged, not only on the day it claims.
            let chain = c.in_force(&ap.authorization, &[today, ap.approved_on])?;
            if !entitled(&signer, &chain, &[Role::ImplementingAgency, Role::Operator]) {
                return Err(not_entitled(
                    format!(
                        "{} may not approve a product under {}: only a data authority or the operator party to it (or to its parent) may",
                        signer.id, ap.authorization
                    ),
                    reg::PRODUCT_REGISTRATION,
                ));
            }
            if !is_party(&chain[0], &be.id) {
                return Err(not_entitled(
                    format!(
                        "business entity {} is neither grantee nor party of {}",
                        be.id, ap.authorization
                    ),
                    reg::SCENE_AUTHORIZATION,
                ));
            }
            // Under a scene or catalog authorization the product is the
            // business entity's: the operator does not redevelop what it
            // delivered (its own products come under its operation agreement).
            if chain.len() > 1 && be.role == Role::Operator {
                return Err(not_entitled(
                    format!(
                        "operator {} may not be the business entity of a product under the derived authorization {}",
                        be.id, ap.authorization
                    ),
                    reg::NO_REDEVELOPMENT,
                ));
            }
            if let Some(applied) = ap.applied_on {
                if applied > ap.approved_on {
                    return Err(RuleViolation::InvalidDates("applied after approval".into()));
                }
                let earliest = ap
                    .approved_on
                    .add_days(-REVIEW_DAYS)
                    .unwrap_or(ap.approved_on);
                if applied < earliest {
                    return Err(RuleViolation::DateOutOfBounds {
                        what: "applied_on",
                        date: applied,
                        earliest,
                        latest: ap.approved_on,
                        why: "a review is applied for at most a year before its approval",
                        citation: c.profile.review_citation,
                    });
                }
                let cit = c.profile.review_citation;
                c.deadline(
                    "review-late",
                    &ap.product_id,
                    applied,
                    c.profile.review_working_days,
                    ap.approved_on,
                    cit,
                );
            }
            c.subject(&ap.product_id);
            c.subject(&ap.business_entity);
            c.subject(&ap.authorization);
            c.put(
                StateKey::Product(ap.product_id.clone()),
                StateObject::Product(ProductState {
                    approval: ap,
                    approved_index: idx,
                    notice_opened_on: None,
                    open_objections: 0,
                    registration: None,
                    status: Status::Approved,
                    status_index: idx,
                }),
            );
        }
        EntryKind::PublicNoticeOpened => {
            let n: PublicNotice = parse(env)?;
            let mut p = c.product(&n.product_id)?;
            c.operator_of(
                &signer,
                &p,
                &[Role::ImplementingAgency, Role::Operator],
                "open a public notice for",
                reg::PUBLIC_NOTICE,
            )?;
            if p.status != Status::Approved || p.notice_opened_on.is_some() {
                return Err(RuleViolation::InvalidTransition {
                    what: "product",
                    id: n.product_id,
                    from: p.status.name().into(),
                    action: "open a public notice",
                });
            }
            // The public sees a notice from the day it is logged: one dated
            // earlier would shorten the 10 days nobody could object in.
            c.window(
                "opened_on",
                n.opened_on,
                SAME_DAY_GRACE_DAYS,
                "a public notice opens on the day it is logged",
                reg::PUBLIC_NOTICE,
            )?;
            if n.opened_on < p.approval.approved_on {
                return Err(RuleViolation::InvalidDates(
                    "notice opened before approval".into(),
                ));
            }
            p.notice_opened_on = Some(n.opened_on);
            c.subject(&n.product_id);
            c.put(
                StateKey::Product(n.product_id.clone()),
                StateObject::Product(p),
            );
        }
        EntryKind::ObjectionFiled => {
            let o: Objection = parse(env)?;
            check_id("objection_id", &o.objection_id)?;
            check_text("grounds", &o.grounds)?;
            check_name("filer_name", &o.filer_name)?;
            if let Some(d) = &o.evidence_blake3 {
                check_digest("evidence_blake3", d)?;
            }
            if c.get(&StateKey::Objection(o.objection_id.clone()))
                .is_some()
            {
                return Err(RuleViolation::Duplicate {
                    what: "objection",
                    id: o.objection_id,
                });
            }
            let mut p = c.product(&o.product_id)?;
            if matches!(p.status, Status::Revoked | Status::Deregistered) {
                return Err(RuleViolation::InvalidTransition {
                    what: "product",
                    id: o.product_id,
                    from: p.status.name().into(),
                    action: "receive an objection",
                });
            }
            c.window(
                "filed_on",
                o.filed_on,
                RECORDING_DAYS,
                "an objection is logged within 14 days of receipt, and never ahead",
                reg::OBJECTIONS,
            )?;
            if o.filed_on < p.approval.approved_on {
                return Err(RuleViolation::InvalidDates(
                    "objection filed before the product was approved".into(),
                ));
            }
            p.open_objections += 1;
            c.subject(&o.objection_id);
            c.subject(&o.product_id);
            c.put(
                StateKey::Product(o.product_id.clone()),
                StateObject::Product(p),
            );
            c.put(
                StateKey::Objection(o.objection_id.clone()),
                StateObject::Objection(ObjectionState {
                    fields: o,
                    filed_index: idx,
                    resolution: None,
                }),
            );
        }
        EntryKind::ObjectionResolved => {
            let r: ObjectionResolution = parse(env)?;
            check_text("reason", &r.reason)?;
            let Some(StateObject::Objection(mut o)) =
                c.get(&StateKey::Objection(r.objection_id.clone()))
            else {
                return Err(RuleViolation::MissingStep {
                    what: "objection",
                    id: r.objection_id,
                    missing: "has not been filed",
                    step: "objection-filed",
                    citation: reg::OBJECTIONS,
                });
            };
            let mut p = c.product(&o.fields.product_id)?;
            // The operator or the business entity handles an objection
            // (Guangxi Art. 12(8)); an operator with no part in the
            // product's authorization does not.
            c.operator_of(
                &signer,
                &p,
                &[Role::Operator],
                "resolve an objection to",
                reg::OBJECTIONS,
            )?;
            if o.resolution.is_some() {
                return Err(RuleViolation::InvalidTransition {
                    what: "objection",
                    id: r.objection_id,
                    from: "resolved".into(),
                    action: "resolve",
                });
            }
            c.window(
                "resolved_on",
                r.resolved_on,
                RECORDING_DAYS,
                "a resolution is logged within 14 days, and never ahead",
                reg::OBJECTIONS,
            )?;
            if r.resolved_on < o.fields.filed_on {
                return Err(RuleViolation::InvalidDates(
                    "resolved before it was filed".into(),
                ));
            }
            p.open_objections = p.open_objections.saturating_sub(1);
            let cit = c.profile.objection_citation;
            c.deadline(
                "objection-feedback-late",
                &r.objection_id,
                o.fields.filed_on,
                c.profile.objection_working_days,
                r.resolved_on,
                cit,
            );
            c.subject(&r.objection_id);
            c.subject(&o.fields.product_id);
            let pid = o.fields.product_id.clone();
            o.resolution = Some(r.clone());
            c.put(StateKey::Product(pid), StateObject::Product(p));
            c.put(
                StateKey::Objection(r.objection_id.clone()),
                StateObject::Objection(o),
            );
        }
        EntryKind::ProductRegistered => {
            let reg_: ProductRegistration = parse(env)?;
            super::ident::check_registration_no(&reg_.registration_no)?;
            for (w, v) in [
                ("certificate_name", &reg_.certificate_name),
                ("product_name", &reg_.product_name),
                ("product_type", &reg_.product_type),
                ("business_entity_name", &reg_.business_entity_name),
                ("update_cycle", &reg_.update_cycle),
            ] {
                check_name(w, v)?;
            }
            check_scenarios(&reg_.scenarios)?;
            let mut p = c.product(&reg_.product_id)?;
            c.operator_of(
                &signer,
                &p,
                &[Role::Operator],
                "register",
                reg::PRODUCT_REGISTRATION,
            )?;
            if p.status != Status::Approved {
                return Err(RuleViolation::InvalidTransition {
                    what: "product",
                    id: reg_.product_id,
                    from: p.status.name().into(),
                    action: "register",
                });
            }
            if c.get(&StateKey::RegistrationNo(reg_.registration_no.clone()))
                .is_some()
            {
                return Err(RuleViolation::DuplicateRegistrationNo(reg_.registration_no));
            }
            if reg_.business_entity != p.approval.business_entity
                || reg_.authorization != p.approval.authorization
            {
                return Err(not_entitled(
                    "business entity and authorization must be those approved".into(),
                    reg::PRODUCT_REGISTRATION,
                ));
            }
            let be = c.active_participant(&reg_.business_entity)?;
            if be.name != reg_.business_entity_name {
                return Err(not_entitled(
                    format!(
                        "business_entity_name is not the registered name of {}",
                        be.id
                    ),
                    reg::PRODUCT_REGISTRATION,
                ));
            }
            // The certificate's 登记日期 is the day the platform issues it.
            c.window(
                "registered_on",
                reg_.registered_on,
                SAME_DAY_GRACE_DAYS,
                "a certificate is dated the day it is logged",
                reg::PRODUCT_REGISTRATION,
            )?;
            if reg_.registered_on < p.approval.approved_on {
                return Err(RuleViolation::InvalidDates(
                    "registration date must not precede the approval".into(),
                ));
            }
            c.in_force(&reg_.authorization, &[today, reg_.registered_on])?;
            if p.approval.uses_non_public_data {
                let Some(opened) = p.notice_opened_on else {
                    return Err(RuleViolation::NoticeMissing(reg_.product_id));
                };
                // Guangxi Art. 12(6): 10 natural days; the day it opens is day 1.
                let last = opened
                    .add_days(i64::from(c.profile.notice_natural_days) - 1)
                    .ok_or_else(|| {
                        RuleViolation::InvalidDates("notice date out of range".into())
                    })?;
                if reg_.registered_on <= last || today <= last {
                    return Err(RuleViolation::NoticePeriodOpen {
                        product: reg_.product_id,
                        until: last,
                    });
                }
            }
            if p.open_objections > 0 {
                return Err(RuleViolation::ObjectionPending(reg_.product_id));
            }
            let cit = c.profile.registration_citation;
            c.deadline(
                "registration-late",
                &reg_.product_id,
                p.approval.approved_on,
                c.profile.registration_working_days,
                reg_.registered_on,
                cit,
            );
            let bno = BlockchainNo::new(&ctx.log_id, idx, &ctx.leaf_hash).to_string();
            c.subject(&reg_.product_id);
            c.subject(&reg_.registration_no);
            c.subject(&reg_.business_entity);
            c.put(
                StateKey::RegistrationNo(reg_.registration_no.clone()),
                StateObject::RegistrationNo(reg_.product_id.clone()),
            );
            let pid = reg_.product_id.clone();
            p.registration = Some(RegistrationState {
                fields: reg_,
                index: idx,
                leaf_hash: ctx.leaf_hash.to_hex(),
                blockchain_no: bno,
            });
            p.status = Status::Active;
            p.status_index = idx;
            c.put(StateKey::Product(pid), StateObject::Product(p));
        }
        EntryKind::ProductChanged => {
            let ch: ProductChange = parse(env)?;
            check_text("reason", &ch.reason)?;
            let mut p = c.product(&ch.id)?;
            c.operator_of(&signer, &p, &[Role::Operator], "change", reg::PRODUCT_ACTS)?;
            if !matches!(p.status, Status::Active | Status::Suspended) {
                return Err(RuleViolation::InvalidTransition {
                    what: "product",
                    id: ch.id,
                    from: p.status.name().into(),
                    action: "change",
                });
            }
            c.window(
                "effective_on",
                ch.effective_on,
                RECORDING_DAYS,
                "a change is logged within 14 days, and never ahead",
                reg::PRODUCT_REGISTRATION,
            )?;
            let reg_ = p
                .registration
                .as_mut()
                .expect("active products are registered");
            if let Some(v) = ch.product_name {
                check_name("product_name", &v)?;
                reg_.fields.product_name = v;
            }
            if let Some(v) = ch.update_cycle {
                check_name("update_cycle", &v)?;
                reg_.fields.update_cycle = v;
            }
            if let Some(v) = ch.scenarios {
                check_scenarios(&v)?;
                reg_.fields.scenarios = v;
            }
            let no = reg_.fields.registration_no.clone();
            c.subject(&ch.id);
            c.subject(&no);
            c.put(StateKey::Product(ch.id.clone()), StateObject::Product(p));
        }
        EntryKind::ProductSuspended
        | EntryKind::ProductResumed
        | EntryKind::ProductRegistrationRevoked
        | EntryKind::ProductDeregistered => {
            let sc: StatusChange = parse(env)?;
            check_text("reason", &sc.reason)?;
            let mut p = c.product(&sc.id)?;
            let (ok_from, to, action): (&[Status], Status, &'static str) = match kind {
                EntryKind::ProductSuspended => (&[Status::Active], Status::Suspended, "suspend"),
                EntryKind::ProductResumed => (&[Status::Suspended], Status::Active, "resume"),
                EntryKind::ProductRegistrationRevoked => (
                    &[Status::Active, Status::Suspended],
                    Status::Revoked,
                    "revoke the registration of",
                ),
                _ => (
                    &[Status::Active, Status::Suspended],
                    Status::Deregistered,
                    "deregister",
                ),
            };
            let citation = match kind {
                EntryKind::ProductSuspended | EntryKind::ProductResumed => reg::SUSPENSION,
                EntryKind::ProductRegistrationRevoked => reg::OBJECTIONS,
                _ => reg::EXIT,
            };
            c.operator_of(&signer, &p, &[Role::Operator], action, reg::PRODUCT_ACTS)?;
            if !ok_from.contains(&p.status) {
                return Err(RuleViolation::InvalidTransition {
                    what: "product",
                    id: sc.id,
                    from: p.status.name().into(),
                    action,
                });
            }
            c.window(
                "effective_on",
                sc.effective_on,
                RECORDING_DAYS,
                "a status change is logged within 14 days, and never ahead",
                citation,
            )?;
            p.status = to;
            p.status_index = idx;
            let no = p
                .registration
                .as_ref()
                .map(|r| r.fields.registration_no.clone())
                .unwrap_or_default();
            c.subject(&sc.id);
            c.subject(&no);
            c.put(StateKey::Product(sc.id.clone()), StateObject::Product(p));
        }
        EntryKind::DataDestructionAttested => {
            let d: DestructionAttestation = parse(env)?;
            check_text("method", &d.method)?;
            check_digest("evidence_blake3", &d.evidence_blake3)?;
            // Who destroyed the data attests it: the parties to the
            // agreement (or the operator above it), or, for a product, its
            // business entity or operator; a data authority always may.
            let entitled = if let Some(StateObject::Agreement(a)) =
                c.get(&StateKey::Agreement(d.subject_id.clone()))
            {
                let chain = c.chain(&a.fields.id)?;
                entitled(&signer, &chain, &[Role::Operator, Role::BusinessEntity])
            } else if let Some(StateObject::Product(p)) =
                c.get(&StateKey::Product(d.subject_id.clone()))
            {
                p.approval.business_entity == signer.id
                    || entitled(&signer, &c.product_chain(&p)?, &[Role::Operator])
            } else {
                return Err(RuleViolation::NotFound {
                    what: "agreement or product",
                    id: d.subject_id,
                });
            };
            if !entitled {
                return Err(not_entitled(
                    format!(
                        "{} may not attest destruction of the data of {}: it is no party to it",
                        signer.id, d.subject_id
                    ),
                    reg::TERMINATION,
                ));
            }
            c.window(
                "attested_on",
                d.attested_on,
                RECORDING_DAYS,
                "an attestation is logged within 14 days, and never ahead",
                reg::TERMINATION,
            )?;
            c.subject(&d.subject_id);
        }
        EntryKind::OperationEvent => {
            let ev: OperationEvent = parse(env)?;
            check_name("actor", &ev.actor)?;
            check_list("personal_data_commitments", &ev.personal_data_commitments)?;
            for cm in &ev.personal_data_commitments {
                check_digest("personal data commitment", cm)?;
            }
            let chain = c
                .chain(&ev.agreement_id)
                .map_err(|_| RuleViolation::MissingStep {
                    what: "agreement",
                    id: ev.agreement_id.clone(),
                    missing: "has not been filed",
                    step: "agreement-filed",
                    citation: reg::REGISTERED_OR_FILED,
                })?;
            if !chain.iter().any(|a| is_party(a, &signer.id)) {
                return Err(not_entitled(
                    format!(
                        "{} is not a party to {} (or to its parent)",
                        signer.id, ev.agreement_id
                    ),
                    reg::OPERATION_LOGS,
                ));
            }
            let on = Date::from_unix_ms(ev.occurred_at_ms)
                .ok_or_else(|| RuleViolation::InvalidDates("occurred_at_ms out of range".into()))?;
            // A record of an operation is worth logging as long as the logs
            // of its agreement must be kept: the longest term plus the
            // retention period after it.
            c.window_months(
                "occurred_at_ms",
                on,
                c.profile.max_term_months + c.profile.retention_months,
                "an operation is logged after it happens, within the longest term plus the log retention period",
                c.profile.retention_citation,
            )?;
            // Operations outside an authorization in force (up its whole
            // chain) are recorded, since the log is the evidence, but
            // flagged: 无授权不运营.
            if chain_in_force(&ev.agreement_id, &chain, &[on]).is_err() {
                let a = &chain[0];
                c.fx.flags.push(Flag {
                    code: "operation-without-authorization".into(),
                    subject: ev.agreement_id.clone(),
                    due: a.ended_on.unwrap_or(a.fields.term_end),
                    done: on,
                    working_days_late: 0,
                    provisional: false,
                    citation: reg::NO_AUTHORIZATION_NO_OPERATION.into(),
                });
            }
            if let Some(pid) = &ev.product_id {
                let p = c.product(pid)?;
                // Most events name the product's own authorization: no walk needed.
                let under = p.approval.authorization == ev.agreement_id
                    || c.product_chain(&p)?
                        .iter()
                        .any(|a| a.fields.id == ev.agreement_id);
                if !under {
                    return Err(not_entitled(
                        format!(
                            "product {pid} is not authorized under {} (its authorization is {})",
                            ev.agreement_id, p.approval.authorization
                        ),
                        reg::OPERATION_LOGS,
                    ));
                }
                c.subject(pid);
            }
            c.subject(&ev.agreement_id);
        }
    }
    Ok(c.fx)
}

fn date_months_before(d: Date, months: u32) -> Date {
    let total = i64::from(d.year) * 12 + i64::from(d.month) - 1 - i64::from(months);
    let y = total.div_euclid(12) as i32;
    let m = (total.rem_euclid(12) + 1) as u8;
    Date::new(y, m, d.day.min(crate::calendar::days_in_month(y, m))).unwrap_or(d)
}

fn genesis(ctx: &EntryContext, env: &Envelope) -> Result<Effects, RuleViolation> {
    let g: Genesis = parse(env)?;
    if g.origin.is_empty() || g.origin != ctx.log_id {
        return Err(RuleViolation::WrongParty(format!(
            "genesis origin {:?} is not this log's origin {:?}",
            g.origin, ctx.log_id
        )));
    }
    if crate::hash::HashSuite::from_name(&g.hash).is_none() || profile(&g.profile).is_none() {
        return Err(RuleViolation::UnknownProfile(format!(
            "{} / {}",
            g.hash, g.profile
        )));
    }
    let a = &g.authority;
    check_id("authority.id", &a.id)?;
    check_text("authority.name", &a.name)?;
    if a.role != Role::DataAuthority || a.public_keys.is_empty() {
        return Err(RuleViolation::MalformedPayload(
            "the genesis authority is a data authority with at least one key".into(),
        ));
    }
    check_list("public_keys", &a.public_keys)?;
    let mut fx = Effects {
        kind: Some(EntryKind::Genesis),
        signer: a.id.clone(),
        ..Effects::default()
    };
    // The authority's spec may carry a request_id like any participant's.
    if let Some(r) = &a.request_id {
        if !super::kinds::valid_request_id(r) {
            return Err(request_id_error());
        }
    }
    let mut key_ids = Vec::new();
    let mut declared: Vec<[u8; 32]> = Vec::new();
    for k in &a.public_keys {
        let pk = decode_key(k)?;
        let kid = participant_key_id(&a.id, &pk);
        fx.writes.push((
            StateKey::Key(kid.clone()),
            StateObject::Key(KeyState {
                key_id: kid.clone(),
                participant: a.id.clone(),
                public_key: hex(&pk),
                added_index: 0,
                retired_index: None,
            }),
        ));
        key_ids.push(kid);
        declared.push(pk);
    }
    // Every signature must be by a key the genesis declares, and verify; all
    // those keys are the authority's, and signatures come from distinct
    // participants (D12), so genesis carries exactly one.
    env.verify_all(|kid| key_ids.iter().position(|k| k == kid).map(|i| declared[i]))
        .map_err(|e| match e {
            EnvelopeError::UnknownKey(_) => RuleViolation::UnknownSigner(
                "genesis must be signed by the authority key it declares".into(),
            ),
            e => RuleViolation::BadSignature(e.to_string()),
        })?;
    if env.signatures.len() != 1 {
        return Err(RuleViolation::BadSignature(
            "genesis carries one signature, by one of the authority keys it declares".into(),
        ));
    }
    fx.writes.push((
        StateKey::Genesis,
        StateObject::Genesis(GenesisState {
            origin: g.origin.clone(),
            hash: g.hash.clone(),
            profile: g.profile.clone(),
        }),
    ));
    fx.writes.push((
        StateKey::Participant(a.id.clone()),
        StateObject::Participant(ParticipantState {
            id: a.id.clone(),
            name: a.name.clone(),
            role: a.role,
            credit_code: a.credit_code.clone(),
            key_ids,
            registered_index: 0,
            revoked_index: None,
        }),
    ));
    fx.subjects.push(a.id.clone());
    Ok(fx)
}
