#![no_main]
//! Registry rules: apply on envelopes built from fuzz bytes.
//!
//! The first byte picks a mode:
//! - 0: the rest is an envelope in binary form, applied to the state after
//!   the testkit's setup();
//! - 1: a test party (byte 1) signs the rest as the payload of an entry
//!   kind (byte 2), applied to the setup() state;
//! - 2: a lifecycle entry (byte 1) is edited (pairs of bytes pick a JSON
//!   value and an edit), re-signed by its party and applied to the state of
//!   the lifecycle up to it.
//!
//! Properties: apply never panics and is deterministic; an accepted entry
//! reports its own kind and a signer; the same entry with one signature bit
//! flipped is refused; an unedited lifecycle entry is accepted.
use libfuzzer_sys::fuzz_target;
use regledger::entry::envelope::{kind_name_of, payload_type_for, Envelope};
use regledger::registry::{apply, EntryContext, EntryKind, MemoryState};
use regledger::testkit::{replay, Party, Step, Testkit};
use regledger::{Hash, HashSuite};
use serde_json::Value;
use std::sync::OnceLock;

const ORIGIN: &str = "regledger.test/fuzz";
const SUITE: HashSuite = HashSuite::Sha256;

struct Fixture {
    kit: Testkit,
    setup: MemoryState,
    setup_len: usize,
    setup_last: (u64, Hash),
    lifecycle: Vec<Step>,
    /// states[j] and prev[j]: the state before lifecycle entry j and the leaf hash of j-1.
    states: Vec<(MemoryState, Hash)>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let kit = Testkit::new(ORIGIN);
        let setup = kit.setup(SUITE, "guangxi");
        let r = replay(ORIGIN, SUITE, &setup).expect("setup replays");
        let last = r.leaves.last().unwrap();
        let setup_last = (last.integrated_time_ms, last.hash(SUITE));
        let lifecycle = kit.lifecycle(SUITE, "guangxi");
        let mut states = Vec::new();
        for j in setup.len()..lifecycle.len() {
            let r = replay(ORIGIN, SUITE, &lifecycle[..j]).expect("lifecycle replays");
            states.push((r.state, r.leaves.last().unwrap().hash(SUITE)));
        }
        Fixture {
            setup_len: setup.len(),
            setup: r.state,
            setup_last,
            lifecycle,
            states,
            kit,
        }
    })
}

fn parties(k: &Testkit) -> [&Party; 6] {
    [
        &k.authority,
        &k.agency,
        &k.source,
        &k.operator,
        &k.business,
        &k.venue,
    ]
}

fn ctx(index: u64, time_ms: u64) -> EntryContext {
    // The rules judge an entry by its position and time; the leaf (and its
    // hash) is built after them, from the state root they produce.
    EntryContext {
        index,
        integrated_time_ms: time_ms,
        log_id: ORIGIN.into(),
    }
}

/// check applies `env` and checks the properties; it returns whether it was accepted.
fn check(state: &MemoryState, c: &EntryContext, env: &Envelope) -> bool {
    let r = apply(state, c, env);
    assert_eq!(r, apply(state, c, env), "apply is not deterministic");
    let Ok(fx) = r else {
        return false;
    };
    let kind = kind_name_of(&env.payload_type).and_then(EntryKind::from_name);
    assert_eq!(Some(fx.kind), kind);
    assert!(!fx.signer.is_empty());
    let mut bad = env.clone();
    bad.signatures[0].sig[7] ^= 0x10;
    assert!(
        apply(state, c, &bad).is_err(),
        "a bad signature was accepted"
    );
    let mut s = state.clone();
    s.apply_effects(&fx);
    true
}

/// edit changes the `target`-th JSON value (depth first) by `op`.
fn edit(v: &mut Value, target: &mut usize, op: u8) {
    if *target == 0 {
        *v = match (op % 8, &*v) {
            (0, Value::String(s)) => Value::String(format!("{s}X")),
            (1, Value::String(s)) => Value::String(s.chars().skip(1).collect()),
            (2, Value::String(_)) => Value::String("2025-02-29".into()),
            (3, Value::String(_)) => Value::String("gx-operator".into()),
            (0, Value::Number(n)) => Value::from(n.as_i64().unwrap_or(0).wrapping_add(1)),
            (1, Value::Number(n)) => Value::from(n.as_i64().unwrap_or(0).wrapping_neg()),
            (_, Value::Bool(b)) => Value::Bool(!b),
            (4, Value::Array(a)) => Value::Array(a.iter().skip(1).cloned().collect()),
            // Doubling is capped: repeated edits would otherwise grow the
            // input exponentially (a harness OOM, found at 4,248 runs);
            // the rules refuse lists over 256 items anyway.
            (5, Value::Array(a)) if a.len() <= 512 => {
                Value::Array(a.iter().chain(a.iter()).cloned().collect())
            }
            (4, Value::Object(o)) => Value::Object(
                o.iter()
                    .skip(1)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            (5, Value::Object(o)) => {
                let mut o = o.clone();
                o.insert("extra".into(), Value::Null);
                Value::Object(o)
            }
            (6, _) => Value::Null,
            (7, _) => Value::from(u64::MAX),
            (_, x) => x.clone(),
        };
        *target = usize::MAX;
        return;
    }
    *target -= 1;
    match v {
        Value::Array(a) => {
            for x in a {
                if *target == usize::MAX {
                    return;
                }
                edit(x, target, op);
            }
        }
        Value::Object(o) => {
            for (_, x) in o.iter_mut() {
                if *target == usize::MAX {
                    return;
                }
                edit(x, target, op);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (t0, _) = f.setup_last;
    let index = f.setup_len as u64;
    match mode % 3 {
        0 => {
            if let Ok(env) = Envelope::from_bytes(rest) {
                let time = t0 + 1;
                check(&f.setup, &ctx(index, time), &env);
            }
        }
        1 => {
            if rest.len() < 4 {
                return;
            }
            let p = parties(&f.kit)[usize::from(rest[0]) % 6];
            let kind = EntryKind::ALL[usize::from(rest[1]) % EntryKind::ALL.len()];
            let hours = u64::from(rest[2]);
            let env = Envelope::sign(
                &payload_type_for(kind.name()),
                rest[3..].to_vec(),
                &p.key_id(),
                &p.key,
            );
            let time = t0 + 1 + hours * 3_600_000;
            check(&f.setup, &ctx(index, time), &env);
        }
        _ => {
            if rest.is_empty() || f.states.is_empty() {
                return;
            }
            let j = usize::from(rest[0]) % f.states.len();
            let step = &f.lifecycle[f.setup_len + j];
            let (state, _) = &f.states[j];
            let idx = (f.setup_len + j) as u64;
            let edits = &rest[1..];
            let env = if edits.len() < 2 {
                step.envelope.clone()
            } else {
                let Some(p) = parties(&f.kit)
                    .into_iter()
                    .find(|p| p.key_id() == step.envelope.signatures[0].key_id)
                else {
                    return;
                };
                let Ok(mut v) = serde_json::from_slice::<Value>(&step.envelope.payload) else {
                    return;
                };
                for e in edits.chunks_exact(2) {
                    let mut target = usize::from(e[0]) % 48;
                    edit(&mut v, &mut target, e[1]);
                }
                let payload = serde_json::to_vec(&v).unwrap();
                Envelope::sign(&step.envelope.payload_type, payload, &p.key_id(), &p.key)
            };
            let accepted = check(state, &ctx(idx, step.time_ms), &env);
            if edits.len() < 2 {
                assert!(accepted, "lifecycle step {:?} refused", step.label);
            }
        }
    }
});
