//! The example scenario (registry::examples) is valid: replayed in order,
//! every payload signed by the participant the scenario names, each entry
//! is accepted, on its fixed schema date and on today's, in every profile.
//! Only the public keys are swapped for the test's own (the scenario's are
//! placeholders nobody can sign with), and the placeholders themselves are
//! accepted as they are.

use regledger::registry::calendar::Date;
use regledger::registry::examples::{scenario, AUTHORITY, PARTICIPANTS, SCHEMA_EXAMPLE_DATE};
use regledger::registry::{EntryKind, Role};
use regledger::testkit::{replay, Party, Step};
use regledger::HashSuite;
use serde_json::json;

const ORIGIN: &str = "regledger.test/examples";

fn parties() -> Vec<Party> {
    let mut v = vec![Party::new(
        AUTHORITY,
        "数据主管部门 (development)",
        Role::DataAuthority,
        40,
    )];
    for (i, (id, name, role)) in PARTICIPANTS.iter().enumerate() {
        v.push(Party::new(id, name, *role, 41 + i as u8));
    }
    v
}

/// noon_ms is 10:00 China time on `d`, in Unix ms.
fn ten_am_ms(d: Date) -> u64 {
    u64::try_from(d.days_since_epoch() * 86_400_000 + 2 * 3_600_000).unwrap()
}

/// steps signs the scenario dated `day` for a log of `profile`.
fn steps(day: Date, profile: &str, keep_placeholders: bool) -> Vec<Step> {
    let ps = parties();
    let party = |id: &str| {
        ps.iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("no party {id}"))
    };
    let t = ten_am_ms(day);
    scenario(day)
        .into_iter()
        .enumerate()
        .map(|(i, ex)| {
            let mut payload = ex.payload.clone();
            match ex.kind {
                EntryKind::Genesis => {
                    payload["origin"] = json!(ORIGIN);
                    payload["profile"] = json!(profile);
                    payload["authority"]["public_keys"] =
                        json!([party(AUTHORITY).public_key_b64()]);
                }
                EntryKind::ParticipantRegistered if !keep_placeholders => {
                    let id = payload["id"].as_str().unwrap().to_string();
                    payload["public_keys"] = json!([party(&id).public_key_b64()]);
                }
                _ => {}
            }
            assert!(ex.cosigners.is_empty(), "the test signs one signature");
            // A prune waits for the retention after SA-1's end (the
            // longest, Chengdu's, is 12 months).
            let time_ms = if ex.kind == EntryKind::RetentionPruned {
                ten_am_ms(day.add_months(13).unwrap())
            } else {
                t + i as u64
            };
            Step {
                label: ex.what,
                envelope: party(ex.signer).sign(ex.kind, &payload),
                time_ms,
            }
        })
        .collect()
}

#[test]
fn the_example_scenario_replays_on_its_schema_date_and_today_in_every_profile() {
    let today = Date::from_unix_ms(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    )
    .unwrap();
    for day in [SCHEMA_EXAMPLE_DATE, today] {
        for profile in ["guangxi", "xian", "chengdu", "shuozhou"] {
            let s = steps(day, profile, false);
            let n = s.len();
            let r = replay(ORIGIN, HashSuite::Blake3, &s).unwrap_or_else(|(i, e)| {
                panic!(
                    "{day} {profile}: example {i} ({}: {}) refused: {e}",
                    s[i].envelope.kind_name().unwrap(),
                    s[i].label
                )
            });
            assert_eq!(r.effects.len(), n);
        }
    }
}

#[test]
fn placeholder_keys_register_but_cannot_sign() {
    // Registering the placeholders as printed is accepted (a template
    // left unedited does no harm): the registrations replay...
    let s = steps(SCHEMA_EXAMPLE_DATE, "guangxi", true);
    let regs = 1 + PARTICIPANTS.len();
    replay(ORIGIN, HashSuite::Blake3, &s[..regs]).unwrap();
    // ...but then no key the test holds is registered for them: the next
    // entry, signed by the data source unit, is refused as unknown.
    let upto = s
        .iter()
        .position(|st| st.envelope.kind_name().unwrap() == "resource-registered")
        .unwrap();
    let (i, e) = replay(ORIGIN, HashSuite::Blake3, &s[..=upto]).unwrap_err();
    assert_eq!((i, e.code()), (upto, "unknown-signer"), "{e}");
}

#[test]
fn docs_registry_md_embeds_the_kinds_table_the_command_prints() {
    let doc = include_str!("../../docs/registry.md");
    let begin = "<!-- kinds table: begin (regledger-node kinds --markdown) -->\n";
    let at = doc
        .find(begin)
        .expect("docs/registry.md has the kinds table marker")
        + begin.len();
    let end = doc[at..]
        .find("<!-- kinds table: end -->")
        .expect("end marker")
        + at;
    assert_eq!(
        &doc[at..end],
        regledger::registry::kinds::kinds_table(),
        "docs/registry.md: paste `regledger-node kinds --markdown` between the markers"
    );
}
