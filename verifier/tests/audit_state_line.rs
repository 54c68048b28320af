//! The checkpoint's state line (D26) is checked by the audit against the
//! last leaf: a log key that signs a checkpoint whose state line names
//! another state root or time than leaf N−1 commits to — the lie that a v2
//! status proof alone could not see — fails the audit as `checkpoint-state`
//! naming that leaf, as does a malformed or doubled line.

mod common;

use std::path::Path;

use regledger::entry::leaf::Leaf;
use regledger::entry::state_line::StateLine;
use regledger::testkit::{publish_steps, Testkit};
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::hash::Hash;
use regledger::tlog::note::{KeyType, Note, Signer};
use regledger::HashSuite;
use serde_json::Value;

const ORIGIN: &str = "audit.example/state-line";
const SUITE: HashSuite = HashSuite::Blake3;

fn log_signer() -> Signer {
    Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap()
}

fn audit(tiles: &Path, log: &Path) -> (i32, Value) {
    common::audit_json(tiles, log, &[])
}

/// resign replaces the published checkpoint's extension lines with
/// `extensions`, signed by the log key (an operator who holds it).
fn resign(tiles: &Path, extensions: Vec<String>) {
    let f = tiles.join("checkpoint");
    let note = Note::parse(&std::fs::read(&f).unwrap()).unwrap();
    let mut cp = Checkpoint::parse(&note.text).unwrap();
    cp.extensions = extensions;
    std::fs::write(&f, sign_checkpoint(&cp, &log_signer()).unwrap()).unwrap();
}

#[test]
fn a_state_line_the_last_leaf_does_not_commit_to_fails_the_audit() {
    let kit = Testkit::new(ORIGIN);
    let steps = kit.lifecycle(SUITE, "guangxi");
    let dir = tempfile::tempdir().unwrap();
    let (p, logged) =
        publish_steps(dir.path(), SUITE, ORIGIN, &log_signer(), "guangxi", &steps).unwrap();
    let last = logged.len() as u64 - 1;
    let truth =
        StateLine::of_leaf(&Leaf::parse(&logged.last().unwrap().leaf_bytes()).unwrap()).unwrap();

    // As a node publishes it: the line says what leaf N−1 says, and passes.
    let note = std::fs::read_to_string(p.tiles.join("checkpoint")).unwrap();
    assert!(note.contains(&truth.to_line()), "{note}");
    let (code, v) = audit(&p.tiles, &p.log_json);
    assert_eq!(code, 0, "{v}");

    let other_root = StateLine {
        root: Hash([9; 32]),
        ..truth
    };
    let other_time = StateLine {
        time_ms: truth.time_ms + 1,
        ..truth
    };
    let cases: Vec<(&str, Vec<String>, Option<u64>)> = vec![
        ("another state root", vec![other_root.to_line()], Some(last)),
        ("another time", vec![other_time.to_line()], Some(last)),
        (
            "two lines",
            vec![truth.to_line(), other_root.to_line()],
            None,
        ),
        ("malformed", vec!["regledger-state 12".into()], None),
    ];
    for (what, ext, index) in cases {
        resign(&p.tiles, ext);
        let (code, v) = audit(&p.tiles, &p.log_json);
        assert_eq!(code, 1, "{what}: {v}");
        let f = &v["failures"][0];
        assert_eq!(f["check"], "checkpoint-state", "{what}: {v}");
        assert_eq!(f["index"].as_u64(), index, "{what}: {v}");
        assert_eq!(v["failures"].as_array().unwrap().len(), 1, "{what}: {v}");
    }

    // No line (a checkpoint signed before D26) is no failure.
    resign(&p.tiles, vec![]);
    let (code, v) = audit(&p.tiles, &p.log_json);
    assert_eq!(code, 0, "{v}");
}
