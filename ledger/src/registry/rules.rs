//! apply: the registry rules, entry by entry.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::de::DeserializeOwned;

use super::*;
use crate::blockchain_no::BlockchainNo;
use crate::calendar::Calendar;
use crate::envelope::{participant_key_id, Envelope, EnvelopeError, Preverified};
use crate::profile::{profile, Profile};

/// MAX_ID_BYTES bounds every id and short text field.
const MAX_ID_BYTES: usize = 256;
/// MAX_LIST bounds every list in a payload.
const MAX_LIST: usize = 256;

fn builtin_calendar() -> &'static Calendar {
    static C: OnceLock<Calendar> = OnceLock::new();
    C.get_or_init(Calendar::builtin)
}

type R<T> = Result<T, RuleViolation>;

fn parse<T: DeserializeOwned>(env: &Envelope) -> R<T> {
    serde_json::from_slice(&env.payload).map_err(|e| RuleViolation::MalformedPayload(e.to_string()))
}

fn check_id(what: &str, s: &str) -> R<()> {
    if s.is_empty()
        || s.len() > MAX_ID_BYTES
        || s.chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '/')
    {
        return Err(RuleViolation::MalformedPayload(format!(
            "{what} must be 1..256 bytes without spaces, control characters or '/'"
        )));
    }
    Ok(())
}

fn check_text(what: &str, s: &str) -> R<()> {
    if s.trim().is_empty() || s.len() > 4096 || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(RuleViolation::MalformedPayload(format!(
            "{what} must be non-empty text of at most 4096 bytes"
        )));
    }
    Ok(())
}

fn check_list<T>(what: &str, l: &[T]) -> R<()> {
    if l.len() > MAX_LIST {
        return Err(RuleViolation::MalformedPayload(format!(
            "{what} has more than {MAX_LIST} items"
        )));
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

fn decode_key(s: &str) -> R<[u8; 32]> {
    let b = B64
        .decode(s)
        .map_err(|_| RuleViolation::MalformedPayload("public key is not base64".into()))?;
    let k: [u8; 32] = b
        .try_into()
        .map_err(|_| RuleViolation::MalformedPayload("public key is not 32 bytes".into()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&k).map_err(|_| {
        RuleViolation::MalformedPayload("public key is not a valid Ed25519 point".into())
    })?;
    Ok(k)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn from_hex32(s: &str) -> Option<[u8; 32]> {
    crate::hash::Hash::from_hex(s).map(|h| h.0)
}

struct Ctx<'a, S: StateReader + ?Sized> {
    s: &'a S,
    profile: &'static Profile,
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
            _ => Err(RuleViolation::NotFound {
                what: "agreement",
                id: id.to_string(),
            }),
        }
    }
    fn product(&self, id: &str) -> R<ProductState> {
        match self.get(&StateKey::Product(id.to_string())) {
            Some(StateObject::Product(p)) => Ok(p),
            _ => Err(RuleViolation::NotFound {
                what: "product",
                id: id.to_string(),
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
    /// in_force fails unless agreement `id` is active and its term covers `on`.
    fn in_force(&self, id: &str, on: Date) -> R<AgreementState> {
        let a = self
            .agreement(id)
            .map_err(|_| RuleViolation::AuthorizationNotActive {
                agreement: id.into(),
                why: "no such authorization is filed".into(),
            })?;
        if a.status != Status::Active {
            return Err(RuleViolation::AuthorizationNotActive {
                agreement: id.into(),
                why: format!("it is {}", a.status.name()),
            });
        }
        if on < a.fields.term_start || on > a.fields.term_end {
            return Err(RuleViolation::AuthorizationNotActive {
                agreement: id.into(),
                why: format!(
                    "{on} is outside its term {}..{}",
                    a.fields.term_start, a.fields.term_end
                ),
            });
        }
        if !a.fields.agreement_type.authorizes_products() {
            return Err(RuleViolation::AuthorizationNotActive {
                agreement: id.into(),
                why: "it is not an operation, catalog or scene authorization".into(),
            });
        }
        Ok(a)
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
            let mut months = 0u32;
            while start.add_months(months + 1).is_some_and(|d| d <= end) {
                months += 1;
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
    match kind {
        EntryKind::Genesis => unreachable!("handled above"),
        EntryKind::ParticipantRegistered => {
            let p: ParticipantSpec = parse(env)?;
            check_id("id", &p.id)?;
            check_text("name", &p.name)?;
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
                check_text(w, v)?;
            }
            if c.get(&StateKey::Resource(r.id.clone())).is_some() {
                return Err(RuleViolation::Duplicate {
                    what: "resource",
                    id: r.id,
                });
            }
            let holder = c.active_participant(&r.holder)?;
            if holder.role != Role::DataSourceUnit {
                return Err(RuleViolation::WrongParty(format!(
                    "holder {} is not a data source unit",
                    holder.id
                )));
            }
            if signer.role == Role::DataSourceUnit && signer.id != holder.id {
                return Err(RuleViolation::WrongParty(
                    "a data source unit registers only its own resources".into(),
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
            if r.status != Status::Active {
                return Err(RuleViolation::InvalidTransition {
                    what: "resource",
                    id: ch.id,
                    from: r.status.name().into(),
                    action: "change",
                });
            }
            if signer.role == Role::DataSourceUnit && signer.id != r.fields.holder {
                return Err(RuleViolation::WrongParty(
                    "a data source unit changes only its own resources".into(),
                ));
            }
            macro_rules! set {
                ($f:ident) => {
                    if let Some(v) = ch.$f {
                        r.fields.$f = v;
                    }
                };
            }
            for v in [
                &ch.name,
                &ch.grade,
                &ch.format,
                &ch.update_frequency,
                &ch.scale,
            ]
            .into_iter()
            .flatten()
            {
                check_text("field", v)?;
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
            if r.status != Status::Active {
                return Err(RuleViolation::InvalidTransition {
                    what: "resource",
                    id: d.id,
                    from: r.status.name().into(),
                    action: "deregister",
                });
            }
            if signer.role == Role::DataSourceUnit && signer.id != r.fields.holder {
                return Err(RuleViolation::WrongParty(
                    "a data source unit deregisters only its own resources".into(),
                ));
            }
            r.status = Status::Deregistered;
            r.last_index = idx;
            c.subject(&d.id);
            c.put(StateKey::Resource(d.id.clone()), StateObject::Resource(r));
        }
        EntryKind::AgreementFiled => {
            let a: Agreement = parse(env)?;
            check_id("id", &a.id)?;
            check_text("document_title", &a.document_title)?;
            check_digest("document_blake3", &a.document_blake3)?;
            check_list("parties", &a.parties)?;
            check_list("scope", &a.scope)?;
            if c.get(&StateKey::Agreement(a.id.clone())).is_some() {
                return Err(RuleViolation::Duplicate {
                    what: "agreement",
                    id: a.id,
                });
            }
            if a.term_start < a.signed_on.add_days(-366).unwrap_or(a.signed_on) {
                return Err(RuleViolation::InvalidDates(
                    "term starts more than a year before signing".into(),
                ));
            }
            c.term_months(a.term_start, a.term_end)?;
            if a.signed_on > today {
                return Err(RuleViolation::InvalidDates(format!(
                    "signed_on {} is after the filing date {today}",
                    a.signed_on
                )));
            }
            let mut parties_ok =
                a.parties.contains(&signer.id) || signer.role == Role::DataAuthority;
            for p in &a.parties {
                c.active_participant(p)?;
            }
            c.active_participant(&a.grantee)?;
            parties_ok |= a.grantee == signer.id;
            if !parties_ok {
                return Err(RuleViolation::WrongParty(
                    "the filer must be a party, the grantee or a data authority".into(),
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
            if let Some(parent) = &a.parent {
                // A derived authorization needs its parent in force over the whole term (无授权不运营).
                let pa = c.agreement(parent)?;
                if pa.status != Status::Active {
                    return Err(RuleViolation::AuthorizationNotActive {
                        agreement: parent.clone(),
                        why: format!("it is {}", pa.status.name()),
                    });
                }
                if a.term_end > pa.fields.term_end || a.term_start < pa.fields.term_start {
                    return Err(RuleViolation::AuthorizationNotActive {
                        agreement: parent.clone(),
                        why: "the derived term exceeds the parent's".into(),
                    });
                }
            } else if a.agreement_type == AgreementType::SceneAuthorization {
                return Err(RuleViolation::AuthorizationNotActive {
                    agreement: a.id,
                    why: "a scene authorization must name the operation agreement it derives from (parent)".into(),
                });
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
            if a.status == Status::Terminated {
                return Err(RuleViolation::InvalidTransition {
                    what: "agreement",
                    id: m.id,
                    from: "terminated".into(),
                    action: "amend",
                });
            }
            if let Some(scope) = m.scope {
                check_list("scope", &scope)?;
                for rid in &scope {
                    if c.resource(rid)?.status != Status::Active {
                        return Err(RuleViolation::InvalidTransition {
                            what: "resource",
                            id: rid.clone(),
                            from: "deregistered".into(),
                            action: "be authorized",
                        });
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
            if a.status == Status::Terminated {
                return Err(RuleViolation::InvalidTransition {
                    what: "agreement",
                    id: rn.id,
                    from: "terminated".into(),
                    action: "renew (terminated agreements stay terminated)",
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
            if a.status != from {
                return Err(RuleViolation::InvalidTransition {
                    what: "agreement",
                    id: sc.id,
                    from: a.status.name().into(),
                    action,
                });
            }
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
            check_id("credential_no", &cr.credential_no)?;
            for (w, v) in [
                ("grantee_name", &cr.grantee_name),
                ("scope", &cr.scope),
                ("issuer", &cr.issuer),
            ] {
                check_text(w, v)?;
            }
            if c.get(&StateKey::Credential(cr.credential_no.clone()))
                .is_some()
            {
                return Err(RuleViolation::Duplicate {
                    what: "credential",
                    id: cr.credential_no,
                });
            }
            let a = c.in_force(&cr.agreement_id, cr.issued_on.max(cr.valid_from))?;
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
            check_text("product_name", &ap.product_name)?;
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
            c.in_force(&ap.authorization, ap.approved_on)?;
            if ap.approved_on > today {
                return Err(RuleViolation::InvalidDates(
                    "approval dated in the future".into(),
                ));
            }
            if let Some(applied) = ap.applied_on {
                if applied > ap.approved_on {
                    return Err(RuleViolation::InvalidDates("applied after approval".into()));
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
            if p.status != Status::Approved || p.notice_opened_on.is_some() {
                return Err(RuleViolation::InvalidTransition {
                    what: "product",
                    id: n.product_id,
                    from: p.status.name().into(),
                    action: "open a public notice",
                });
            }
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
            check_text("filer_name", &o.filer_name)?;
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
                return Err(RuleViolation::NotFound {
                    what: "objection",
                    id: r.objection_id,
                });
            };
            if o.resolution.is_some() {
                return Err(RuleViolation::InvalidTransition {
                    what: "objection",
                    id: r.objection_id,
                    from: "resolved".into(),
                    action: "resolve",
                });
            }
            if r.resolved_on < o.fields.filed_on {
                return Err(RuleViolation::InvalidDates(
                    "resolved before it was filed".into(),
                ));
            }
            let mut p = c.product(&o.fields.product_id)?;
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
            let reg: ProductRegistration = parse(env)?;
            check_id("registration_no", &reg.registration_no)?;
            for (w, v) in [
                ("certificate_name", &reg.certificate_name),
                ("product_name", &reg.product_name),
                ("product_type", &reg.product_type),
                ("business_entity_name", &reg.business_entity_name),
                ("update_cycle", &reg.update_cycle),
            ] {
                check_text(w, v)?;
            }
            check_list("scenarios", &reg.scenarios)?;
            for sc in &reg.scenarios {
                check_text("scenario", sc)?;
            }
            let mut p = c.product(&reg.product_id)?;
            if p.status != Status::Approved {
                return Err(RuleViolation::InvalidTransition {
                    what: "product",
                    id: reg.product_id,
                    from: p.status.name().into(),
                    action: "register",
                });
            }
            if c.get(&StateKey::RegistrationNo(reg.registration_no.clone()))
                .is_some()
            {
                return Err(RuleViolation::DuplicateRegistrationNo(reg.registration_no));
            }
            if reg.business_entity != p.approval.business_entity
                || reg.authorization != p.approval.authorization
            {
                return Err(RuleViolation::WrongParty(
                    "business entity and authorization must be those approved".into(),
                ));
            }
            let be = c.active_participant(&reg.business_entity)?;
            if be.name != reg.business_entity_name {
                return Err(RuleViolation::WrongParty(format!(
                    "business_entity_name is not the registered name of {}",
                    be.id
                )));
            }
            if reg.registered_on < p.approval.approved_on || reg.registered_on > today {
                return Err(RuleViolation::InvalidDates(
                    "registration date must lie between approval and the filing date".into(),
                ));
            }
            c.in_force(&reg.authorization, reg.registered_on)?;
            if p.approval.uses_non_public_data {
                let Some(opened) = p.notice_opened_on else {
                    return Err(RuleViolation::NoticeMissing(reg.product_id));
                };
                // Guangxi Art. 12(6): 10 natural days; the day it opens is day 1.
                let last = opened
                    .add_days(i64::from(c.profile.notice_natural_days) - 1)
                    .ok_or_else(|| {
                        RuleViolation::InvalidDates("notice date out of range".into())
                    })?;
                if reg.registered_on <= last || today <= last {
                    return Err(RuleViolation::NoticePeriodOpen {
                        product: reg.product_id,
                        until: last,
                    });
                }
            }
            if p.open_objections > 0 {
                return Err(RuleViolation::ObjectionPending(reg.product_id));
            }
            let cit = c.profile.registration_citation;
            c.deadline(
                "registration-late",
                &reg.product_id,
                p.approval.approved_on,
                c.profile.registration_working_days,
                reg.registered_on,
                cit,
            );
            let bno = BlockchainNo::new(&ctx.log_id, idx, &ctx.leaf_hash).to_string();
            c.subject(&reg.product_id);
            c.subject(&reg.registration_no);
            c.subject(&reg.business_entity);
            c.put(
                StateKey::RegistrationNo(reg.registration_no.clone()),
                StateObject::RegistrationNo(reg.product_id.clone()),
            );
            let pid = reg.product_id.clone();
            p.registration = Some(RegistrationState {
                fields: reg,
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
            if !matches!(p.status, Status::Active | Status::Suspended) {
                return Err(RuleViolation::InvalidTransition {
                    what: "product",
                    id: ch.id,
                    from: p.status.name().into(),
                    action: "change",
                });
            }
            let reg = p
                .registration
                .as_mut()
                .expect("active products are registered");
            if let Some(v) = ch.product_name {
                check_text("product_name", &v)?;
                reg.fields.product_name = v;
            }
            if let Some(v) = ch.update_cycle {
                check_text("update_cycle", &v)?;
                reg.fields.update_cycle = v;
            }
            if let Some(v) = ch.scenarios {
                check_list("scenarios", &v)?;
                reg.fields.scenarios = v;
            }
            let no = reg.fields.registration_no.clone();
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
            if !ok_from.contains(&p.status) {
                return Err(RuleViolation::InvalidTransition {
                    what: "product",
                    id: sc.id,
                    from: p.status.name().into(),
                    action,
                });
            }
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
            let known = c.get(&StateKey::Agreement(d.subject_id.clone())).is_some()
                || c.get(&StateKey::Product(d.subject_id.clone())).is_some();
            if !known {
                return Err(RuleViolation::NotFound {
                    what: "agreement or product",
                    id: d.subject_id,
                });
            }
            c.subject(&d.subject_id);
        }
        EntryKind::OperationEvent => {
            let ev: OperationEvent = parse(env)?;
            check_text("actor", &ev.actor)?;
            check_list("personal_data_commitments", &ev.personal_data_commitments)?;
            for cm in &ev.personal_data_commitments {
                check_digest("personal data commitment", cm)?;
            }
            let a = c.agreement(&ev.agreement_id)?;
            if a.fields.grantee != signer.id && !a.fields.parties.contains(&signer.id) {
                return Err(RuleViolation::WrongParty(format!(
                    "{} is not a party to {}",
                    signer.id, ev.agreement_id
                )));
            }
            let on = Date::from_unix_ms(ev.occurred_at_ms)
                .ok_or_else(|| RuleViolation::InvalidDates("occurred_at_ms out of range".into()))?;
            if on > today {
                return Err(RuleViolation::InvalidDates(
                    "an operation cannot be logged before it happens".into(),
                ));
            }
            // Operations outside an active authorization are recorded (the
            // log is the evidence) but flagged: 无授权不运营.
            if a.status != Status::Active || on > a.fields.term_end || on < a.fields.term_start {
                c.fx.flags.push(Flag {
                    code: "operation-without-authorization".into(),
                    subject: ev.agreement_id.clone(),
                    due: a.ended_on.unwrap_or(a.fields.term_end),
                    done: on,
                    working_days_late: 0,
                    provisional: false,
                    citation: "004_f74e87670fce17ff.txt Art. 2 (无授权不运营)".into(),
                });
            }
            if let Some(pid) = &ev.product_id {
                c.product(pid)?;
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
