//! What the public site may show: the one allow-list of payload fields,
//! per entry kind. A field is either shown (the regulations disclose it:
//! certificate fields, catalogue fields, filings' parties, scope and
//! terms, notices, decisions and their reasons) or denied with the reason;
//! every page reads payloads and state through [`public`], so a field
//! that is in neither list never reaches a page, and the test below fails
//! when a kind's JSON Schema (schemas/entries/) has a field this table
//! does not decide.
//!
//! Denied across the board: `request_id` (a submitter's technical
//! de-duplication token). Denied because personal data may be in them:
//! an objection's `filer_name` and free-text `grounds`, an operation
//! event's `actor` and `personal_data_commitments`. Denied because they
//! stand for documents the site does not publish: the BLAKE3 digests of
//! documents and evidence (regulators check them with `regledger-verify
//! digest`; a digest of a short document can be confirmed by guessing).
//! Public keys are shown (participants' keys verify their entries); no
//! other key material is ever in a payload.

use regledger::registry::EntryKind;
use serde_json::{Map, Value};

/// Disclosure is what the site does with one kind's payload fields.
pub struct Disclosure {
    /// kind is the entry kind.
    pub kind: EntryKind,
    /// show are the fields a page may show.
    pub show: &'static [&'static str],
    /// deny are the fields no page shows, each with why (read by the
    /// tests: a field in neither list fails them).
    #[cfg_attr(not(test), allow(dead_code))]
    pub deny: &'static [(&'static str, &'static str)],
}

const REQ: (&str, &str) = (
    "request_id",
    "a technical de-duplication token, not disclosed",
);
const DOC: &str = "digest of a document the site does not publish";

/// DISCLOSURES is the allow-list, one row per kind.
pub const DISCLOSURES: &[Disclosure] = &[
    Disclosure {
        kind: EntryKind::Genesis,
        show: &["origin", "hash", "profile", "authority", "require_sm2"],
        deny: &[],
    },
    Disclosure {
        kind: EntryKind::ParticipantRegistered,
        show: &["id", "name", "role", "public_keys", "credit_code"],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ParticipantKeyRotated,
        show: &["id", "add_keys", "retire_key_ids"],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ParticipantRevoked,
        show: &["id", "reason"],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::CalendarPublished,
        show: &["year", "region", "notice", "off", "makeup_workdays"],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ResourceRegistered,
        show: &[
            "id",
            "name",
            "holder",
            "catalog_id",
            "grade",
            "open_attribute",
            "format",
            "update_frequency",
            "scale",
        ],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ResourceChanged,
        show: RESOURCE_CHANGE,
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ResourceCorrected,
        show: RESOURCE_CHANGE,
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ResourceDeregistered,
        show: &["id", "reason"],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::AgreementFiled,
        show: &[
            "id",
            "agreement_type",
            "parties",
            "grantee",
            "parent",
            "scope",
            "scene",
            "signed_on",
            "term_start",
            "term_end",
            "document_title",
        ],
        deny: &[("document_digest", DOC), ("document_blake3", DOC), REQ],
    },
    Disclosure {
        kind: EntryKind::AgreementAmended,
        show: &["id", "scope", "amended_on", "reason"],
        deny: &[("document_digest", DOC), ("document_blake3", DOC), REQ],
    },
    Disclosure {
        kind: EntryKind::AgreementRenewed,
        show: &["id", "applied_on", "new_term_end"],
        deny: &[("document_digest", DOC), ("document_blake3", DOC), REQ],
    },
    Disclosure {
        kind: EntryKind::AgreementSuspended,
        show: STATUS_CHANGE,
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::AgreementResumed,
        show: STATUS_CHANGE,
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::AgreementTerminated,
        show: &["id", "reason", "detail", "effective_on"],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::CatalogCredentialIssued,
        show: &[
            "credential_no",
            "agreement_id",
            "grantee_name",
            "scope",
            "valid_from",
            "valid_until",
            "issuer",
            "issued_on",
        ],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ProductApproved,
        show: &[
            "product_id",
            "product_name",
            "business_entity",
            "authorization",
            "applied_on",
            "approved_on",
            "uses_non_public_data",
        ],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::PublicNoticeOpened,
        show: &["product_id", "opened_on"],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ObjectionFiled,
        show: &["objection_id", "product_id", "filed_on"],
        deny: &[
            (
                "filer_name",
                "personal data: who objected (a person's name with consent)",
            ),
            (
                "grounds",
                "the filer's own words, which may carry personal data",
            ),
            (
                "evidence_digest",
                "digest of evidence, which may carry personal data",
            ),
            (
                "evidence_blake3",
                "digest of evidence, which may carry personal data",
            ),
            REQ,
        ],
    },
    Disclosure {
        kind: EntryKind::ObjectionResolved,
        show: &["objection_id", "resolved_on", "outcome", "reason"],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ProductRegistered,
        show: &[
            "product_id",
            "registration_no",
            "certificate_name",
            "product_name",
            "product_type",
            "business_entity",
            "business_entity_name",
            "update_cycle",
            "scenarios",
            "registered_on",
            "authorization",
        ],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ProductChanged,
        show: &[
            "id",
            "product_name",
            "update_cycle",
            "scenarios",
            "reason",
            "effective_on",
        ],
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ProductSuspended,
        show: STATUS_CHANGE,
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ProductResumed,
        show: STATUS_CHANGE,
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ProductRegistrationRevoked,
        show: STATUS_CHANGE,
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::ProductDeregistered,
        show: STATUS_CHANGE,
        deny: &[REQ],
    },
    Disclosure {
        kind: EntryKind::DataDestructionAttested,
        show: &["subject_id", "attested_on", "method"],
        deny: &[("evidence_digest", DOC), ("evidence_blake3", DOC), REQ],
    },
    Disclosure {
        kind: EntryKind::OperationEvent,
        show: &[
            "agreement_id",
            "product_id",
            "action",
            "occurred_at_ms",
            "records",
        ],
        deny: &[
            (
                "actor",
                "who did it: an account id that may identify a person",
            ),
            (
                "personal_data_commitments",
                "commitments to personal data, for regulators only",
            ),
            REQ,
        ],
    },
    Disclosure {
        kind: EntryKind::RetentionPruned,
        show: &["agreement_id", "entries"],
        deny: &[REQ],
    },
];

const RESOURCE_CHANGE: &[&str] = &[
    "id",
    "name",
    "grade",
    "open_attribute",
    "format",
    "update_frequency",
    "scale",
    "reason",
];
const STATUS_CHANGE: &[&str] = &["id", "reason", "effective_on"];

/// disclosure returns the row of `kind`.
pub fn disclosure(kind: EntryKind) -> &'static Disclosure {
    DISCLOSURES
        .iter()
        .find(|d| d.kind == kind)
        .expect("every kind has a row (tested)")
}

/// public returns the fields of a `kind` payload that a page may show, in
/// the payload's order; every other field is dropped.
pub fn public(kind: EntryKind, payload: &Value) -> Map<String, Value> {
    let d = disclosure(kind);
    let mut out = Map::new();
    if let Some(o) = payload.as_object() {
        for (k, v) in o {
            if d.show.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// public_of serialises a typed payload (or the payload part of a state
/// object) and keeps what a page may show.
pub fn public_of(kind: EntryKind, payload: &impl serde::Serialize) -> Map<String, Value> {
    public(kind, &serde_json::to_value(payload).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// schema_fields reads the top-level payload fields of a kind from its
    /// JSON Schema in schemas/entries/ (kept equal to the payload types by
    /// the e2e schema drift test).
    fn schema_fields(kind: EntryKind) -> BTreeSet<String> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../schemas/entries")
            .join(format!("{}.schema.json", kind.name()));
        let s: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        s["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: no properties", p.display()))
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn every_payload_field_of_every_kind_is_either_shown_or_denied() {
        let mut undecided = Vec::new();
        for &kind in EntryKind::ALL {
            let d = disclosure(kind);
            let fields = schema_fields(kind);
            for f in &fields {
                let shown = d.show.contains(&f.as_str());
                let denied = d.deny.iter().any(|(x, _)| x == f);
                assert!(
                    !(shown && denied),
                    "{}.{f} is both shown and denied",
                    kind.name()
                );
                if !shown && !denied {
                    undecided.push(format!("{}.{f}", kind.name()));
                }
            }
            // No stale rows: every listed field exists.
            for f in d.show.iter().chain(d.deny.iter().map(|(f, _)| f)) {
                assert!(
                    fields.contains(*f),
                    "{}.{f} is listed but not in the schema",
                    kind.name()
                );
            }
        }
        assert!(
            undecided.is_empty(),
            "payload fields neither shown nor denied in node/src/site/disclose.rs: {undecided:?}"
        );
        assert_eq!(DISCLOSURES.len(), EntryKind::ALL.len(), "one row per kind");
    }

    #[test]
    fn personal_data_is_denied() {
        for (kind, f) in [
            (EntryKind::ObjectionFiled, "filer_name"),
            (EntryKind::ObjectionFiled, "grounds"),
            (EntryKind::OperationEvent, "actor"),
            (EntryKind::OperationEvent, "personal_data_commitments"),
        ] {
            assert!(disclosure(kind).deny.iter().any(|(x, _)| *x == f));
        }
        let v = serde_json::json!({"objection_id": "O", "filer_name": "张三", "grounds": "x", "extra": 1});
        let p = public(EntryKind::ObjectionFiled, &v);
        assert_eq!(p.keys().collect::<Vec<_>>(), vec!["objection_id"]);
    }
}
