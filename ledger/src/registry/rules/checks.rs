//! What every rule shares: payload parsing, field checks, who is entitled
//! along an authorization chain, and [`Ctx`], the state an entry is judged
//! against with the writes it has made so far.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::de::DeserializeOwned;

use super::MAX_CHAIN_DEPTH;
use crate::entry::chain::EntryContext;
use crate::entry::envelope::Envelope;
use crate::registry::calendar::{days_in_month, Calendar, Date};
use crate::registry::ident::check_name;
use crate::registry::profile::Profile;
use crate::registry::regulations as reg;
use crate::registry::*;

/// MAX_LIST bounds every list in a payload.
pub(super) const MAX_LIST: usize = 256;

pub(super) fn builtin_calendar() -> &'static Calendar {
    static C: OnceLock<Calendar> = OnceLock::new();
    C.get_or_init(Calendar::builtin)
}

pub(super) type R<T> = Result<T, RuleViolation>;

pub(super) fn parse<T: DeserializeOwned>(env: &Envelope) -> R<T> {
    serde_json::from_slice(&env.payload).map_err(|e| RuleViolation::MalformedPayload(e.to_string()))
}

pub(super) fn check_list<T>(what: &str, l: &[T]) -> R<()> {
    if l.len() > MAX_LIST {
        return Err(RuleViolation::MalformedPayload(format!(
            "{what} has more than {MAX_LIST} items"
        )));
    }
    Ok(())
}

/// check_scenarios checks the 应用场景 of a certificate: at least one, each a name.
pub(super) fn check_scenarios(l: &[String]) -> R<()> {
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

pub(super) fn check_digest(what: &str, s: &str) -> R<()> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(RuleViolation::MalformedPayload(format!(
            "{what} must be 64 lowercase hex digits (a 32-byte digest)"
        )));
    }
    Ok(())
}

/// check_digest_pair checks a digest given as `{what}_digest` (in the log's
/// hash suite) or `{what}_blake3` (the older field, always BLAKE3): at most
/// one of them, exactly one when `required`, and the `_blake3` form never
/// in an `sm3` log, whose every hash is SM3 (docs/registry.md, "Document
/// digests"; D19).
pub(super) fn check_digest_pair<S: StateReader + ?Sized>(
    c: &Ctx<'_, S>,
    what: &str,
    digest: &Option<String>,
    blake3: &Option<String>,
    required: bool,
) -> R<()> {
    match (digest, blake3) {
        (Some(_), Some(_)) => Err(RuleViolation::MalformedPayload(format!(
            "give {what}_digest or the deprecated {what}_blake3, not both"
        ))),
        (None, None) if required => Err(RuleViolation::MalformedPayload(format!(
            "{what}_digest is missing (the document's digest in the log's hash suite, 64 lowercase hex digits)"
        ))),
        (None, None) => Ok(()),
        (Some(d), None) => check_digest(&format!("{what}_digest"), d),
        (None, Some(b)) => {
            let suite = c.suite();
            if suite == "sm3" {
                return Err(RuleViolation::MalformedPayload(format!(
                    "{what}_blake3 is a BLAKE3 digest, refused in an sm3 log: give {what}_digest, the document's SM3 digest"
                )));
            }
            check_digest(&format!("{what}_blake3"), b)
        }
    }
}

/// decode_key reads a base64 public key: 32 bytes are Ed25519, refused if
/// of small order (the identity and the other torsion points: any
/// signature verifies under them, so they would let anyone act as the
/// participant); 65 bytes or more are SM2, the uncompressed point on the
/// curve, then a stated signer ID if any (D19). With `require_sm2` (set at
/// genesis) an Ed25519 key is refused.
pub(super) fn decode_key(s: &str, require_sm2: bool) -> R<crate::crypto::PublicKey> {
    let b = B64
        .decode(s)
        .map_err(|_| RuleViolation::MalformedPayload("public key is not base64".into()))?;
    if b.len() == 32 {
        let k: [u8; 32] = b.as_slice().try_into().expect("32 bytes");
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&k).map_err(|_| {
            RuleViolation::MalformedPayload("public key is not a valid Ed25519 point".into())
        })?;
        if vk.is_weak() {
            return Err(RuleViolation::MalformedPayload(
                "public key is of small order (weak): it would accept forged signatures".into(),
            ));
        }
    }
    let k = crate::crypto::PublicKey::from_payload_material(&b)
        .map_err(|e| RuleViolation::MalformedPayload(format!("public key: {e}")))?;
    if require_sm2 && k.alg() != crate::crypto::SigAlg::Sm2 {
        return Err(RuleViolation::MalformedPayload(
            "this log requires SM2 keys (genesis require_sm2): an Ed25519 key is refused".into(),
        ));
    }
    Ok(k)
}

/// is_party reports whether `who` is the grantee or a party of `a`.
pub(super) fn is_party(a: &AgreementState, who: &str) -> bool {
    a.fields.grantee == who || a.fields.parties.iter().any(|p| p == who)
}

/// entitled reports whether `signer` may act on an object authorized by
/// `chain`: a data authority always; otherwise a participant of one of
/// `roles` that is the grantee or a party of an agreement on the chain.
pub(super) fn entitled(
    signer: &ParticipantState,
    chain: &[AgreementState],
    roles: &[Role],
) -> bool {
    signer.role == Role::DataAuthority
        || (roles.contains(&signer.role) && chain.iter().any(|a| is_party(a, &signer.id)))
}

pub(super) fn not_entitled(why: String, citation: &'static str) -> RuleViolation {
    RuleViolation::NotEntitled { why, citation }
}

/// chain_in_force fails unless `chain` (agreement `id` and its parents)
/// authorizes products and every agreement on it is active with a term
/// covering every date of `on`.
pub(super) fn chain_in_force(id: &str, chain: &[AgreementState], on: &[Date]) -> R<()> {
    if !chain[0].fields.agreement_type.authorizes_products() {
        return Err(RuleViolation::AuthorizationNotActive {
            agreement: id.into(),
            why: format!(
                "it is a {}, which authorizes no product: products are approved under a scene or catalog authorization (or the operator's own operation agreement)",
                chain[0].fields.agreement_type.name()
            ),
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

/// Stored is a type of state object the rules look up by id, with the
/// refusal for one that is not there.
pub(super) trait Stored: Sized {
    /// key is the state key of the object with id `id`.
    fn key(id: &str) -> StateKey;
    /// from_object returns the object if `o` is of this type.
    fn from_object(o: StateObject) -> Option<Self>;
    /// missing is the refusal when there is no such object, for an entry
    /// of kind `kind`: it names the step the submitter skipped (issue 17).
    fn missing(id: &str, kind: EntryKind) -> RuleViolation;
}

macro_rules! stored {
    ($t:ty, $variant:ident, |$id:ident, $kind:ident| $missing:expr) => {
        impl Stored for $t {
            fn key(id: &str) -> StateKey {
                StateKey::$variant(id.to_string())
            }
            fn from_object(o: StateObject) -> Option<Self> {
                match o {
                    StateObject::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn missing($id: &str, $kind: EntryKind) -> RuleViolation {
                $missing
            }
        }
    };
}

stored!(ParticipantState, Participant, |id, _kind| {
    RuleViolation::MissingStep {
        what: "participant",
        id: id.to_string(),
        missing: "is not registered",
        step: "participant-registered (signed by a data authority)",
        citation: reg::REGISTERED_OR_FILED,
    }
});
stored!(ResourceState, Resource, |id, _kind| {
    RuleViolation::MissingStep {
        what: "resource",
        id: id.to_string(),
        missing: "is not registered",
        step: "resource-registered",
        citation: reg::RESOURCE_REGISTRATION,
    }
});
stored!(AgreementState, Agreement, |id, _kind| {
    RuleViolation::MissingStep {
        what: "agreement",
        id: id.to_string(),
        missing: "has not been filed",
        step: "agreement-filed",
        citation: reg::REGISTERED_OR_FILED,
    }
});
stored!(ProductState, Product, |id, kind| missing_product(id, kind));

/// missing_product is the refusal of an act on a product that was never
/// approved: every act on a product starts with its approval, and those
/// on a registered product (change, status) with its registration too.
fn missing_product(id: &str, kind: EntryKind) -> RuleViolation {
    let (missing, step, citation) = match kind {
        EntryKind::PublicNoticeOpened => (
            "has not been approved",
            "product-approved",
            reg::PUBLIC_NOTICE,
        ),
        EntryKind::ObjectionFiled | EntryKind::ObjectionResolved => {
            ("has not been approved", "product-approved", reg::OBJECTIONS)
        }
        EntryKind::ProductChanged
        | EntryKind::ProductSuspended
        | EntryKind::ProductResumed
        | EntryKind::ProductRegistrationRevoked
        | EntryKind::ProductDeregistered => (
            "has not been approved or registered",
            "product-approved, then product-registered,",
            reg::PRODUCT_ACTS,
        ),
        _ => (
            "has not been approved",
            "product-approved",
            reg::PRODUCT_REGISTRATION,
        ),
    };
    RuleViolation::MissingStep {
        what: "product",
        id: id.to_string(),
        missing,
        step,
        citation,
    }
}

/// not_registered is the refusal of an act that needs a registered product
/// (change, suspension, resumption, revocation, deregistration) on one that
/// is only approved: the certificate comes first.
pub(super) fn not_registered(id: &str) -> RuleViolation {
    RuleViolation::MissingStep {
        what: "product",
        id: id.to_string(),
        missing: "is approved but not registered",
        step: "product-registered",
        citation: reg::PRODUCT_ACTS,
    }
}

/// Ctx is the state one entry is judged against: the registry state read,
/// the entry's context and kind, the log's profile, the China date of its
/// integrated time, and the effects it has produced so far (whose writes
/// [`Ctx::get`] reads before the state).
pub(super) struct Ctx<'a, S: StateReader + ?Sized> {
    pub(super) s: &'a S,
    pub(super) entry: &'a EntryContext,
    pub(super) kind: EntryKind,
    pub(super) profile: &'static Profile,
    pub(super) today: Date,
    pub(super) fx: Effects,
}

impl<S: StateReader + ?Sized> Ctx<'_, S> {
    pub(super) fn get(&self, k: &StateKey) -> Option<StateObject> {
        // Later writes of this same entry win over the state read.
        self.fx
            .writes
            .iter()
            .rev()
            .find(|(wk, _)| wk == k)
            .map(|(_, v)| v.clone())
            .or_else(|| self.s.get(k))
    }
    /// require_sm2 reports whether genesis requires SM2 participant keys.
    pub(super) fn require_sm2(&self) -> bool {
        matches!(self.get(&StateKey::Genesis), Some(StateObject::Genesis(g)) if g.require_sm2)
    }
    /// suite returns the name of the log's hash suite, as genesis fixed it.
    pub(super) fn suite(&self) -> String {
        match self.get(&StateKey::Genesis) {
            Some(StateObject::Genesis(g)) => g.hash,
            _ => String::new(),
        }
    }
    pub(super) fn put(&mut self, k: StateKey, v: StateObject) {
        self.fx.writes.push((k, v));
    }
    pub(super) fn subject(&mut self, id: &str) {
        if !self.fx.subjects.iter().any(|s| s == id) {
            self.fx.subjects.push(id.to_string());
        }
    }
    /// object returns the object of type `T` with id `id`, or the
    /// refusal `T` gives for a missing one.
    pub(super) fn object<T: Stored>(&self, id: &str) -> R<T> {
        self.get(&T::key(id))
            .and_then(T::from_object)
            .ok_or_else(|| T::missing(id, self.kind))
    }
    pub(super) fn participant(&self, id: &str) -> R<ParticipantState> {
        self.object(id)
    }
    pub(super) fn active_participant(&self, id: &str) -> R<ParticipantState> {
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
    pub(super) fn signers(&self, env: &Envelope) -> Vec<ParticipantState> {
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
    pub(super) fn resource(&self, id: &str) -> R<ResourceState> {
        self.object(id)
    }
    pub(super) fn agreement(&self, id: &str) -> R<AgreementState> {
        self.object(id)
    }
    /// product returns a product; one that does not exist has not been
    /// approved, whatever the act wanted to do with it.
    pub(super) fn product(&self, id: &str) -> R<ProductState> {
        self.object(id)
    }
    pub(super) fn calendar(&self, years: std::ops::RangeInclusive<i32>) -> Calendar {
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
    pub(super) fn deadline(
        &mut self,
        code: FlagCode,
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
                code,
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
    pub(super) fn window(
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
    pub(super) fn window_months(
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
    pub(super) fn window_from(
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
    pub(super) fn chain(&self, id: &str) -> R<Vec<AgreementState>> {
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
                        why: "it has not been filed: submit agreement-filed for it first".into(),
                    }
                } else {
                    RuleViolation::AuthorizationNotActive {
                        agreement: id.into(),
                        why: format!(
                            "its parent {cur} has not been filed: submit agreement-filed for {cur} first"
                        ),
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
    pub(super) fn in_force(&self, id: &str, on: &[Date]) -> R<Vec<AgreementState>> {
        let chain = self.chain(id)?;
        chain_in_force(id, &chain, on)?;
        Ok(chain)
    }
    /// product_chain returns the authorization chain of product `p` (its
    /// approval's authorization and parents), whatever their status.
    pub(super) fn product_chain(&self, p: &ProductState) -> R<Vec<AgreementState>> {
        self.chain(&p.approval.authorization)
    }
    /// operator_of refuses `signer` unless it is a data authority or the
    /// operator side of product `p`: a party to its authorization chain
    /// (Guangxi Art. 12: the operator verifies, registers and handles it).
    pub(super) fn operator_of(
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
    pub(super) fn agreement_actor(
        &self,
        signer: &ParticipantState,
        a: &AgreementState,
        act: &str,
    ) -> R<()> {
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
    pub(super) fn term_months(&self, start: Date, end: Date) -> R<()> {
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

/// date_months_before returns the date `months` before `d` (the last day
/// of the month when that month is shorter).
pub(super) fn date_months_before(d: Date, months: u32) -> Date {
    let total = i64::from(d.year) * 12 + i64::from(d.month) - 1 - i64::from(months);
    let y = total.div_euclid(12) as i32;
    let m = (total.rem_euclid(12) + 1) as u8;
    Date::new(y, m, d.day.min(days_in_month(y, m))).unwrap_or(d)
}
