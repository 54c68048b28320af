//! What the rules report: a [`RuleViolation`] refuses an entry, a [`Flag`]
//! records a finding (a missed deadline) on an accepted one. Each carries
//! the regulation it comes from, cited by title and article from
//! [`crate::registry::regulations`].

use serde::{Deserialize, Serialize};

use crate::registry::calendar::Date;
use crate::registry::regulations;

/// FlagCode names a finding, serialized by its kebab-case name (e.g.
/// "filing-late") in receipts of the audit report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlagCode {
    /// FilingLate: an agreement or amendment filed after the profile's deadline.
    FilingLate,
    /// ReviewLate: a product approved later after its application than the profile allows.
    ReviewLate,
    /// RegistrationLate: a product registered later after its approval than the profile allows.
    RegistrationLate,
    /// ObjectionFeedbackLate: an objection resolved later than the profile allows.
    ObjectionFeedbackLate,
    /// RenewalOutsideWindow: a renewal applied for outside the profile's window.
    RenewalOutsideWindow,
    /// OperationWithoutAuthorization: an operation logged outside an authorization in force.
    OperationWithoutAuthorization,
}

impl FlagCode {
    /// name returns the stable kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            FlagCode::FilingLate => "filing-late",
            FlagCode::ReviewLate => "review-late",
            FlagCode::RegistrationLate => "registration-late",
            FlagCode::ObjectionFeedbackLate => "objection-feedback-late",
            FlagCode::RenewalOutsideWindow => "renewal-outside-window",
            FlagCode::OperationWithoutAuthorization => "operation-without-authorization",
        }
    }

    /// is_missed_deadline reports whether the finding is a deadline counted
    /// in working days that was missed (the audit lists these apart).
    pub fn is_missed_deadline(self) -> bool {
        matches!(
            self,
            FlagCode::FilingLate
                | FlagCode::ReviewLate
                | FlagCode::RegistrationLate
                | FlagCode::ObjectionFeedbackLate
        )
    }
}

impl std::fmt::Display for FlagCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq<&str> for FlagCode {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// Flag is a finding recorded rather than refused: a missed deadline or a
/// retention date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    /// code names the finding.
    pub code: FlagCode,
    /// subject is the id concerned.
    pub subject: String,
    /// due is the deadline.
    pub due: Date,
    /// done is when it happened.
    pub done: Date,
    /// working_days_late counts working days past `due` (0 for natural-day checks).
    pub working_days_late: u32,
    /// provisional: the deadline crossed a year without an official notice.
    pub provisional: bool,
    /// citation is the seed article.
    pub citation: String,
}

/// RuleViolation is a rule an entry breaks; each has a stable code (the
/// RFC 9457 problem type suffix) and, where a seed demands it, a citation.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RuleViolation {
    /// MalformedEnvelope: the envelope breaks its layout or limits.
    #[error("malformed envelope: {0}")]
    MalformedEnvelope(String),
    /// UnknownKind: the payload type names no entry kind.
    #[error("unknown entry kind {0:?}")]
    UnknownKind(String),
    /// MalformedPayload: the payload is not valid for its kind.
    #[error("malformed payload: {0}")]
    MalformedPayload(String),
    /// GenesisPosition: genesis must be entry 0 and only entry 0.
    #[error("genesis must be the first entry and only the first")]
    GenesisPosition,
    /// UnknownSigner: no registered, unretired key has that id.
    #[error("unknown or retired signing key {0:?}: a key signs only once a data authority has registered it (participant-registered, or participant-key-rotated for a new key)")]
    UnknownSigner(String),
    /// SignerRevoked: the signer's registration was revoked.
    #[error("participant {0:?} is revoked: it signs nothing more (a data authority registers a new participant)")]
    SignerRevoked(String),
    /// BadSignature: the signature does not verify.
    #[error("signature does not verify: {0}")]
    BadSignature(String),
    /// RoleNotAllowed: the signer's role may not submit this kind.
    #[error("role {role} may not submit {kind}: {}", submitted_by(kind))]
    RoleNotAllowed {
        /// role is the signer's role.
        role: String,
        /// kind is the entry kind.
        kind: String,
    },
    /// Duplicate: the id is already registered.
    #[error("{what} {id:?} already exists")]
    Duplicate {
        /// what kind of subject.
        what: &'static str,
        /// id is the subject id.
        id: String,
    },
    /// DuplicateRegistrationNo: the 登记号 is taken.
    #[error("registration number {0:?} is already used")]
    DuplicateRegistrationNo(String),
    /// NotFound: the subject does not exist.
    #[error("{what} {id:?} is not registered")]
    NotFound {
        /// what kind of subject.
        what: &'static str,
        /// id is the subject id.
        id: String,
    },
    /// InvalidTransition: the subject's status does not allow the act.
    #[error("{what} {id:?} is {from}: cannot {action}")]
    InvalidTransition {
        /// what kind of subject.
        what: &'static str,
        /// id is the subject id.
        id: String,
        /// from is the current status.
        from: String,
        /// action is what was attempted.
        action: &'static str,
    },
    /// AuthorizationNotActive: 无授权不运营.
    #[error("authorization {agreement:?} is not in force: {why}")]
    AuthorizationNotActive {
        /// agreement is the agreement id.
        agreement: String,
        /// why explains it.
        why: String,
    },
    /// TermTooLong: the term exceeds the profile's limit.
    #[error("term of {months} months exceeds the {max}-month limit ({citation})")]
    TermTooLong {
        /// months is the requested term, rounded up.
        months: u32,
        /// max is the limit.
        max: u32,
        /// citation is the seed article.
        citation: &'static str,
    },
    /// InvalidDates: dates out of order or out of range.
    #[error("invalid dates: {0}")]
    InvalidDates(String),
    /// NoticePeriodOpen: the public notice has not run its course.
    #[error("public notice for {product:?} runs until {until}: registration must wait until the notice is over (register after {until})")]
    NoticePeriodOpen {
        /// product is the product id.
        product: String,
        /// until is the last day of the notice.
        until: Date,
    },
    /// NoticeMissing: non-public data was used and no notice was opened.
    #[error("product {0:?} used non-public data and needs a public notice before registration: submit public-notice-opened first, then register once the notice is over")]
    NoticeMissing(String),
    /// ObjectionPending: an objection is unresolved.
    #[error("product {0:?} has an unresolved objection: submit objection-resolved for it first")]
    ObjectionPending(String),
    /// WrongParty: the signer or a named participant is not the right party
    /// (a generic refusal; party checks that have an article use
    /// [`RuleViolation::NotEntitled`]).
    #[error("wrong party: {0}")]
    WrongParty(String),
    /// NotEntitled: the signer may submit this kind, but not against this
    /// object: it is neither its owner nor a party the seeds entitle.
    #[error("wrong party: {why}")]
    NotEntitled {
        /// why names the signer, the object and who may act on it.
        why: String,
        /// citation is the article that assigns the duty.
        citation: &'static str,
    },
    /// DateOutOfBounds: a payload date lies outside the window its kind
    /// allows around the entry's integrated date (D13).
    #[error("{what} {date} is outside {earliest}..={latest}: {why}")]
    DateOutOfBounds {
        /// what names the payload field.
        what: &'static str,
        /// date is the date given.
        date: Date,
        /// earliest is the first date allowed.
        earliest: Date,
        /// latest is the last date allowed.
        latest: Date,
        /// why explains the window.
        why: &'static str,
        /// citation is the article the window derives from.
        citation: &'static str,
    },
    /// MissingStep: the act needs an earlier step that is not in the log.
    #[error("{what} {id:?} {missing}: submit {step} first")]
    MissingStep {
        /// what kind of subject.
        what: &'static str,
        /// id is the subject id.
        id: String,
        /// missing says what has not happened, e.g. "has not been approved".
        missing: &'static str,
        /// step is the entry kind to submit first.
        step: &'static str,
        /// citation is the article that orders the steps.
        citation: &'static str,
    },
    /// BadIdentifier: an identifier breaks its grammar (schemas/FORMATS.md).
    #[error("{what} {id:?} is not a valid identifier: {rule}")]
    BadIdentifier {
        /// what names the field.
        what: &'static str,
        /// id is the value given.
        id: String,
        /// rule is the grammar it breaks.
        rule: &'static str,
        /// citation is the article behind the identifier, where there is one.
        citation: Option<&'static str>,
    },
    /// UnknownProfile: genesis names no known profile or hash.
    #[error("unknown profile or hash suite: {0}")]
    UnknownProfile(String),
    /// RetentionNotOver: a prune before the agreement's end plus the
    /// profile's log retention period.
    #[error("the operation logs of {agreement:?} are kept until {until} (the agreement ended {ended}; {citation}): prune on or after {until}")]
    RetentionNotOver {
        /// agreement is the agreement id.
        agreement: String,
        /// ended is its last day.
        ended: Date,
        /// until is the first day its logs may be pruned.
        until: Date,
        /// citation is the profile's retention article.
        citation: &'static str,
    },
    /// NotPrunable: a prune names an entry that is not an operation event
    /// of its agreement still held (a registration record, another
    /// agreement's event, or one already pruned).
    #[error("entry {index} cannot be pruned: {why}")]
    NotPrunable {
        /// index is the entry named.
        index: u64,
        /// why says what it is.
        why: String,
    },
}

/// submitted_by says which roles submit `kind` (for the refusal of any other).
fn submitted_by(kind: &str) -> String {
    match crate::registry::kinds::EntryKind::from_name(kind) {
        Some(k) => {
            let roles: Vec<&str> = k.allowed_roles().iter().map(|r| r.name()).collect();
            format!(
                "it is submitted by {} (regledger-node kinds lists who submits what)",
                roles.join(", ")
            )
        }
        None => "no role submits it".into(),
    }
}

impl RuleViolation {
    /// code returns the stable kebab-case id of the rule.
    pub fn code(&self) -> &'static str {
        match self {
            RuleViolation::MalformedEnvelope(_) => "malformed-envelope",
            RuleViolation::UnknownKind(_) => "unknown-kind",
            RuleViolation::MalformedPayload(_) => "malformed-payload",
            RuleViolation::GenesisPosition => "genesis-position",
            RuleViolation::UnknownSigner(_) => "unknown-signer",
            RuleViolation::SignerRevoked(_) => "signer-revoked",
            RuleViolation::BadSignature(_) => "bad-signature",
            RuleViolation::RoleNotAllowed { .. } => "role-not-allowed",
            RuleViolation::Duplicate { .. } => "duplicate-id",
            RuleViolation::DuplicateRegistrationNo(_) => "duplicate-registration-no",
            RuleViolation::NotFound { .. } => "not-found",
            RuleViolation::InvalidTransition { .. } => "invalid-transition",
            RuleViolation::AuthorizationNotActive { .. } => "authorization-not-active",
            RuleViolation::TermTooLong { .. } => "term-too-long",
            RuleViolation::InvalidDates(_) => "invalid-dates",
            RuleViolation::NoticePeriodOpen { .. } => "notice-period-open",
            RuleViolation::NoticeMissing(_) => "notice-missing",
            RuleViolation::ObjectionPending(_) => "objection-pending",
            RuleViolation::WrongParty(_) | RuleViolation::NotEntitled { .. } => "wrong-party",
            RuleViolation::DateOutOfBounds { .. } => "invalid-dates",
            RuleViolation::MissingStep { .. } => "not-found",
            RuleViolation::BadIdentifier { .. } => "malformed-payload",
            RuleViolation::UnknownProfile(_) => "unknown-profile",
            RuleViolation::RetentionNotOver { .. } => "retention-not-over",
            RuleViolation::NotPrunable { .. } => "not-prunable",
        }
    }

    /// citation returns the article behind the rule, where there is one,
    /// cited by title and article from the one table of regulations
    /// ([`regulations`]).
    pub fn citation(&self) -> Option<&'static str> {
        use regulations::cite;
        Some(match self {
            RuleViolation::RoleNotAllowed { .. }
            | RuleViolation::UnknownSigner(_)
            | RuleViolation::SignerRevoked(_)
            | RuleViolation::WrongParty(_) => concat!(
                cite!(xian, "第七条（可管、可控、可追溯）"),
                "；",
                cite!(guangxi, "第五条")
            ),
            RuleViolation::AuthorizationNotActive { .. } => concat!(
                cite!(guangxi, "第二条（坚持无授权不运营）"),
                "；",
                cite!(chengdu, "第三十四条")
            ),
            RuleViolation::TermTooLong { citation, .. }
            | RuleViolation::NotEntitled { citation, .. }
            | RuleViolation::DateOutOfBounds { citation, .. }
            | RuleViolation::MissingStep { citation, .. }
            | RuleViolation::RetentionNotOver { citation, .. } => citation,
            RuleViolation::NotPrunable { .. } => regulations::TERMINATION,
            RuleViolation::BadIdentifier { citation, .. } => return *citation,
            RuleViolation::NoticePeriodOpen { .. } | RuleViolation::NoticeMissing(_) => {
                regulations::PUBLIC_NOTICE
            }
            RuleViolation::ObjectionPending(_) => cite!(guangxi, "第十二条第（七）项、第（八）项"),
            RuleViolation::InvalidTransition { .. } => concat!(
                cite!(xian, "第三十二条"),
                "；",
                cite!(guangxi, "第十二条第（八）项")
            ),
            RuleViolation::DuplicateRegistrationNo(_) => cite!(guangxi, "第十二条第（七）项"),
            _ => return None,
        })
    }
}
