//! Batch submissions (issue 18, item 3) against a real node: `POST
//! /v1/entries` with a JSON array or NDJSON. Each envelope gets its own
//! answer in order (the single path's receipt or problem), one bad envelope
//! does not fail the others, an envelope may rely on an earlier one of the
//! same batch, and a batch whose shape is wrong (not an array, empty, too
//! many or too large) is refused whole and writes nothing.

use regledger::entry::envelope::Envelope;
use regledger::registry::Role;
use regledger::testkit::{Party, Testkit};
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::{json, Value};

const ORIGIN: &str = "regledger.test/batch";
const PROBLEMS: &str = "https://regledger.dev/problems/";

fn start(extra: &[&str]) -> (tempfile::TempDir, Testkit, Node) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let node = Node::start(&data, extra);
    (dir, kit, node)
}

/// setup is the testkit's setup after genesis: participants registered by
/// the authority, then a resource and agreements signed by them (each
/// relies on the registrations before it).
fn setup(kit: &Testkit) -> Vec<Envelope> {
    kit.setup(HashSuite::Blake3, "guangxi")
        .into_iter()
        .skip(1)
        .map(|s| s.envelope)
        .collect()
}

fn array(envs: &[Envelope]) -> Vec<u8> {
    Value::Array(envs.iter().map(Envelope::to_json).collect())
        .to_string()
        .into_bytes()
}

fn ndjson(envs: &[Envelope]) -> Vec<u8> {
    envs.iter()
        .map(|e| format!("{}\n", e.to_json()))
        .collect::<String>()
        .into_bytes()
}

/// post_batch POSTs a batch body and returns status, content type and JSON.
fn post_batch(url: &str, content_type: &str, body: Vec<u8>) -> (u16, String, Value) {
    let (s, ct, t) = post_to(&format!("{url}/v1/entries"), content_type, body);
    (s, ct, serde_json::from_str(&t).unwrap_or(Value::String(t)))
}

/// statuses lists each result's status and problem type ("" for a receipt).
fn statuses(body: &Value) -> Vec<(u64, String)> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {body}"))
        .iter()
        .map(|r| {
            let t = r["problem"]["type"].as_str().unwrap_or("");
            (
                r["status"].as_u64().unwrap(),
                t.trim_start_matches(PROBLEMS).to_string(),
            )
        })
        .collect()
}

fn logged_envelope(url: &str, index: u64) -> Value {
    get_json(&format!("{url}/v1/entries/{index}"))["envelope"].clone()
}

#[test]
fn every_envelope_of_a_batch_gets_its_own_answer_in_order_and_the_receipts_are_durable() {
    let (_d, kit, mut node) = start(&[]);
    let url = node.url.clone();
    let mut envs = setup(&kit);
    let n_setup = envs.len();
    // The operator acts under OA-1, filed earlier in this same batch by
    // parties registered earlier in it: in-order sequencing makes it valid.
    let e1 = operation_event(&kit.operator, 1);
    let e2 = operation_event(&kit.operator, 2);
    let mut forged = operation_event(&kit.operator, 3);
    forged.signatures[0].sig[5] ^= 1;
    let stranger = Party::new("batch-stranger", "未登记单位", Role::Operator, 77);
    envs.extend([
        e1.clone(),
        forged,                        // bad signature by a registered key
        e1.clone(),                    // the same envelope twice: a replay
        operation_event(&stranger, 4), // a key nobody registered
        e2.clone(),                    // still fine after three bad ones
    ]);
    let mut body: Vec<Value> = envs.iter().map(Envelope::to_json).collect();
    // Not an envelope at all, and an envelope missing its signatures.
    body.insert(n_setup + 1, json!(42));
    body.insert(n_setup + 2, json!({"payloadType": "x"}));
    let (s, ct, v) = post_batch(
        &url,
        "application/json",
        Value::Array(body).to_string().into_bytes(),
    );
    assert_eq!((s, ct.as_str()), (200, "application/json"), "{v}");
    let got = statuses(&v);
    let mut want: Vec<(u64, String)> = vec![(200, String::new()); n_setup + 1];
    want.extend(
        [
            (400, "malformed-envelope"),
            (400, "malformed-envelope"),
            (403, "bad-signature"),
            (409, "replayed-envelope"),
            (403, "unknown-signer"),
            (200, ""),
        ]
        .map(|(s, t)| (s, t.to_string())),
    );
    assert_eq!(got, want, "{v}");
    assert_eq!(v["accepted"], n_setup + 2);
    assert_eq!(v["refused"], 5);

    // The receipts are the single path's: consecutive indexes after genesis,
    // each naming the envelope it logged.
    let results = v["results"].as_array().unwrap();
    let receipts: Vec<&Value> = results
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| &r["receipt"])
        .collect();
    for (k, r) in receipts.iter().enumerate() {
        assert_eq!(r["index"], k as u64 + 1, "{r}");
        assert_eq!(r["leaf_hash"].as_str().unwrap().len(), 64, "{r}");
        assert!(r["integrated_time_ms"].as_u64().is_some(), "{r}");
    }
    assert_eq!(receipts[n_setup]["kind"], "operation-event");
    let e1_index = receipts[n_setup]["index"].as_u64().unwrap();
    assert_eq!(logged_envelope(&url, e1_index), e1.to_json());
    assert_eq!(
        logged_envelope(&url, receipts[n_setup + 1]["index"].as_u64().unwrap()),
        e2.to_json()
    );
    // The replay names the index the first copy got.
    let replay = &results[n_setup + 4]["problem"];
    assert!(
        replay["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("entry {e1_index}")),
        "{replay}"
    );
    assert_eq!(tree_size(&url), 1 + receipts.len() as u64);

    // Acknowledged means durable: a SIGKILL right after the answer loses nothing.
    node.kill9();
    node.restart();
    assert_eq!(tree_size(&node.url), 1 + receipts.len() as u64);
    assert_eq!(logged_envelope(&node.url, e1_index), e1.to_json());

    // A single envelope still answers as before (a receipt object, no results).
    let (code, single) = post(&node.url, &operation_event(&kit.operator, 9));
    assert_eq!(code, 200, "{single}");
    assert!(
        single["index"].as_u64().is_some() && single.get("results").is_none(),
        "{single}"
    );
}

#[test]
fn ndjson_lines_are_answered_one_by_one_and_a_truncated_line_fails_alone() {
    let (_d, kit, node) = start(&[]);
    let url = &node.url;
    let (s, _, v) = post_batch(url, "application/x-ndjson", ndjson(&setup(&kit)));
    assert_eq!(s, 200, "{v}");
    assert!(statuses(&v).iter().all(|(s, _)| *s == 200), "{v}");
    // Now the operator's key is committed: a batch of its events is checked
    // before the queue, on every core, and a forged one is refused alone.
    let mut events: Vec<Envelope> = (10..22)
        .map(|i| operation_event(&kit.operator, i))
        .collect();
    events[4].signatures[0].sig[0] ^= 0x40;
    let (s, _, v) = post_batch(url, "application/json", array(&events));
    assert_eq!(s, 200, "{v}");
    let mut want = vec![(200, String::new()); events.len()];
    want[4] = (403, "bad-signature".to_string());
    assert_eq!(statuses(&v), want, "{v}");
    let before = tree_size(url);

    let (a, b, c) = (
        operation_event(&kit.operator, 1),
        operation_event(&kit.operator, 2),
        operation_event(&kit.operator, 3),
    );
    let b_line = b.to_json().to_string();
    // CRLF line ends and blank lines are tolerated; the middle line is cut
    // short (invalid JSON); the last line has no newline.
    let body = format!(
        "{}\r\n\r\n{}\n\n{}",
        a.to_json(),
        &b_line[..b_line.len() / 2],
        c.to_json()
    );
    let (s, _, v) = post_batch(
        url,
        "application/x-ndjson; charset=utf-8",
        body.into_bytes(),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        statuses(&v),
        vec![
            (200, String::new()),
            (400, "malformed-json".to_string()),
            (200, String::new())
        ],
        "{v}"
    );
    assert_eq!(tree_size(url), before + 2);
    let idx = v["results"][2]["receipt"]["index"].as_u64().unwrap();
    assert_eq!(logged_envelope(url, idx), c.to_json());
}

#[test]
fn a_batch_of_the_wrong_shape_is_refused_whole_and_writes_nothing() {
    let (_d, kit, node) = start(&["--request-timeout-s", "20"]);
    let url = &node.url;
    let good = setup(&kit);
    let valid = array(&good);
    let truncated = valid[..valid.len() - 10].to_vec();
    let mut trailing = valid.clone();
    trailing.extend_from_slice(b" [");
    let one = good[0].to_json().to_string();
    let too_many = format!("[{}]", vec![one.as_str(); 1025].join(",")).into_bytes();
    // One element above the single-envelope limit (128 KiB), valid JSON.
    let fat = format!("[{one}, {{\"pad\": \"{}\"}}]", "a".repeat(130 * 1024)).into_bytes();
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "a truncated array of good envelopes",
            "application/json",
            truncated,
            400,
            "malformed-json",
        ),
        (
            "an array followed by junk",
            "application/json",
            trailing,
            400,
            "malformed-json",
        ),
        (
            "an array of a bare number cut short",
            "application/json",
            b"[1,".to_vec(),
            400,
            "malformed-json",
        ),
        (
            "an empty array",
            "application/json",
            b" [ ] ".to_vec(),
            400,
            "empty-batch",
        ),
        (
            "an empty NDJSON body",
            "application/x-ndjson",
            b"\n\r\n".to_vec(),
            400,
            "empty-batch",
        ),
        (
            "1,025 envelopes",
            "application/json",
            too_many,
            413,
            "batch-too-large",
        ),
        (
            "1,025 NDJSON lines",
            "application/x-ndjson",
            ndjson(&vec![good[0].clone(); 1025]),
            413,
            "batch-too-large",
        ),
        (
            "one element over 128 KiB",
            "application/json",
            fat,
            413,
            "body-too-large",
        ),
    ];
    for (what, ct, body, status, code) in cases {
        let (s, got_ct, v) = post_batch(url, ct, body);
        assert_eq!(
            (s, got_ct.as_str()),
            (status, "application/problem+json"),
            "{what}: {v}"
        );
        assert_eq!(v["type"], format!("{PROBLEMS}{code}"), "{what}: {v}");
        assert_eq!(tree_size(url), 1, "{what}: something was written");
    }
    // ?wait=checkpoint is for one envelope.
    let (s, v) = post_raw(url, "?wait=checkpoint", valid.clone());
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["type"], format!("{PROBLEMS}bad-parameter"), "{v}");
    assert_eq!(tree_size(url), 1);
    // The same envelopes, well framed, are accepted.
    let (s, _, v) = post_batch(url, "application/json", valid);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["accepted"], good.len());
}

#[test]
fn a_full_queue_refuses_the_rest_of_a_batch_and_what_is_logged_is_a_prefix() {
    // One entry per sequencer batch, each held 2 s: the queue of 2 fills at
    // once and the batch's later envelopes find it full.
    let (_d, kit, node) = start(&[
        "--queue",
        "2",
        "--max-batch",
        "1",
        "--test-commit-delay-ms",
        "2000",
        "--request-timeout-s",
        "30",
    ]);
    let url = &node.url;
    let envs: Vec<Envelope> = (0..40u8)
        .map(|i| {
            let p = Party::new(
                &format!("batch-op-{i}"),
                &format!("运营机构 {i}"),
                Role::Operator,
                100 + i,
            );
            kit.register(&p)
        })
        .collect();
    let (s, _, v) = post_batch(url, "application/json", array(&envs));
    assert_eq!(s, 200, "{v}");
    let got = statuses(&v);
    let ok = got.iter().take_while(|(s, _)| *s == 200).count();
    assert!(ok >= 1, "{v}");
    assert!(
        got[ok..]
            .iter()
            .all(|(s, t)| *s == 503 && t == "overloaded"),
        "after the first refusal every later envelope is refused the same way: {v}"
    );
    assert!(ok < envs.len(), "a queue of 2 took all 40: {v}");
    assert_eq!(tree_size(url), 1 + ok as u64);
    for (i, r) in v["results"].as_array().unwrap()[..ok].iter().enumerate() {
        let idx = r["receipt"]["index"].as_u64().unwrap();
        assert_eq!(logged_envelope(url, idx), envs[i].to_json());
    }
}

#[test]
fn at_the_deadline_the_envelopes_not_taken_are_withdrawn_and_never_written() {
    // The sequencer takes one entry and holds it 3 s; the request's 1 s
    // deadline withdraws every other one, which must never be logged.
    let (_d, kit, node) = start(&[
        "--max-batch",
        "1",
        "--test-commit-delay-ms",
        "3000",
        "--request-timeout-s",
        "1",
    ]);
    let url = &node.url;
    let envs: Vec<Envelope> = (0..5u8)
        .map(|i| {
            let p = Party::new(
                &format!("late-op-{i}"),
                &format!("运营机构 {i}"),
                Role::Operator,
                150 + i,
            );
            kit.register(&p)
        })
        .collect();
    let (s, _, v) = post_batch(url, "application/json", array(&envs));
    assert_eq!(s, 200, "{v}");
    let got = statuses(&v);
    assert_eq!(
        got[0],
        (200, String::new()),
        "the taken one is answered with its commit: {v}"
    );
    assert!(
        got[1..]
            .iter()
            .all(|(s, t)| *s == 503 && t == "not-sequenced"),
        "{v}"
    );
    // Give the sequencer time to pass over the withdrawn ones: still one entry.
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(tree_size(url), 2);
}
