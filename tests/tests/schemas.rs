//! Schema drift: the JSON Schemas in schemas/entries/ are exactly what the
//! payload types the rules parse generate, one file per entry kind, and the
//! testkit's payloads of the whole lifecycle conform to them.
//! `REGLEDGER_BLESS=1 cargo test -p regledger-e2e --test schemas` rewrites
//! the files after a deliberate change.

use std::collections::BTreeSet;
use std::path::PathBuf;

use regledger::registry::EntryKind;
use regledger::testkit::Testkit;
use regledger::HashSuite;
use serde_json::{json, Value};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/entries")
}

fn schema(kind: EntryKind) -> Value {
    let mut v = serde_json::to_value(kind.payload_schema()).unwrap();
    v["$id"] = json!(format!(
        "https://regledger.dev/schemas/entries/{}.schema.json",
        kind.name()
    ));
    v["title"] = json!(format!("{} — {}", kind.name(), kind.label_zh()));
    v["x-payload-type"] = json!(format!("application/vnd.regledger.{}+json", kind.name()));
    v["x-allowed-roles"] = json!(kind
        .allowed_roles()
        .iter()
        .map(|r| r.name())
        .collect::<Vec<_>>());
    v
}

#[test]
fn schemas_match_the_payload_types() {
    let bless = std::env::var_os("REGLEDGER_BLESS").is_some();
    if bless {
        std::fs::create_dir_all(dir()).unwrap();
    }
    for &k in EntryKind::ALL {
        let path = dir().join(format!("{}.schema.json", k.name()));
        let got = schema(k);
        if bless {
            let mut s = serde_json::to_string_pretty(&got).unwrap();
            s.push('\n');
            std::fs::write(&path, s).unwrap();
        }
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (REGLEDGER_BLESS=1 writes it)", path.display())
            }))
            .unwrap();
        assert_eq!(
            got,
            want,
            "{} drifted from the payload type",
            path.display()
        );
    }
    // No stale schema for a kind that no longer exists.
    let files: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let kinds: BTreeSet<String> = EntryKind::ALL
        .iter()
        .map(|k| format!("{}.schema.json", k.name()))
        .collect();
    assert_eq!(files, kinds);
}

/// conforms asserts that payload `p` of `kind` has only properties its
/// schema names, every required one, and that the schema refuses others.
fn conforms(kind: EntryKind, p: &Value) {
    let s = schema(kind);
    let props = s["properties"].as_object().unwrap();
    for key in p.as_object().unwrap().keys() {
        assert!(
            props.contains_key(key),
            "{}: {key} not in its schema",
            kind.name()
        );
    }
    for r in s["required"].as_array().into_iter().flatten() {
        assert!(
            p.get(r.as_str().unwrap()).is_some(),
            "{}: lacks required {r}",
            kind.name()
        );
    }
    assert_eq!(
        s["additionalProperties"],
        false,
        "{}: unknown fields are refused",
        kind.name()
    );
}

#[test]
fn every_schema_has_examples_that_conform_to_it() {
    for &k in EntryKind::ALL {
        let s = schema(k);
        let ex = s["examples"]
            .as_array()
            .unwrap_or_else(|| panic!("{} has no examples", k.name()));
        assert!(!ex.is_empty(), "{} has no examples", k.name());
        for p in ex {
            conforms(k, p);
        }
    }
}

#[test]
fn lifecycle_payloads_conform_to_their_schemas() {
    let kit = Testkit::new("schemas.example/gx");
    let mut seen = BTreeSet::new();
    for step in kit.lifecycle(HashSuite::Blake3, "guangxi") {
        let env = &step.envelope;
        let kind = EntryKind::from_name(env.kind_name().unwrap()).unwrap();
        seen.insert(kind);
        conforms(kind, &serde_json::from_slice(&env.payload).unwrap());
    }
    assert!(
        seen.len() >= 12,
        "the lifecycle covers most kinds: {seen:?}"
    );
}
