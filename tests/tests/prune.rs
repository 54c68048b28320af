//! Audited retention pruning on a real node (issue 14 item 5, D22): a data
//! authority's `retention-pruned` drops the envelopes of operation events
//! whose retention ran out; the leaves stay, so the tree, every checkpoint
//! and inclusion proof still verify; the audit accepts exactly those gaps;
//! a mirror drops them too; the prune survives SIGKILL. Bad prunes are
//! refused with nothing written, and a gap no prune names fails the audit.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::registry::EntryKind;
use regledger::testkit::Testkit;
use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::note::Note;
use regledger::tlog::proof::verify_inclusion;
use regledger::tlog::tile::{decode_entry_bundle, encode_entry_bundle, TILE_WIDTH};
use regledger::{Hash, HashSuite};
use regledger_e2e::s3::{credentials, s3s_fs, site};
use regledger_e2e::*;
use serde_json::{json, Value};

const ORIGIN: &str = "regledger.test/prune";

fn audit(tiles: &Path, log: &Path) -> (i32, Value, String) {
    audit_from(&["--dir".as_ref(), tiles.as_os_str()], log)
}

/// envelope_items returns the items of the full-or-partial envelope bundle
/// 0 of width `width` in `tiles`.
fn envelope_items(tiles: &Path, width: u64) -> Vec<Vec<u8>> {
    let p = tiles.join(format!("tile/envelopes/000.p/{width}"));
    let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    decode_entry_bundle(&b, width as usize)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect()
}

/// clear_envelope empties item `i` of envelope bundle 0 of the tree of
/// size `n` in `tiles`: entry `i` served without its envelope.
fn clear_envelope(tiles: &Path, n: u64, i: u64) {
    let (path, width) = if n >= TILE_WIDTH {
        ("tile/envelopes/000".to_string(), TILE_WIDTH)
    } else {
        (format!("tile/envelopes/000.p/{n}"), n)
    };
    let p = tiles.join(path);
    let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut items: Vec<Vec<u8>> = decode_entry_bundle(&b, width as usize)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    assert!(
        !items[i as usize].is_empty(),
        "entry {i} has an envelope to clear"
    );
    items[i as usize].clear();
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    std::fs::write(&p, encode_entry_bundle(&refs).unwrap()).unwrap();
}

/// files_holding lists the files under `dir` whose bytes contain `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn a_prune_drops_envelopes_keeps_proofs_passes_the_audit_is_mirrored_and_survives_sigkill() {
    prune_flow(None);
}

/// The same on the PostgreSQL driver (D20): the drop and the `pruned`
/// rows commit with the prune.
#[test]
fn on_postgres_a_prune_drops_envelopes_and_survives_sigkill() {
    let Some(pg) = postgres() else { return };
    prune_flow(Some(&pg.fresh_db()));
}

/// prune_flow runs the whole flow on a node whose store is `store`
/// (`--store`; `None`: redb).
fn prune_flow(store: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit_in(&data, ORIGIN, "sha256", &kit, store);
    let log = data.join("log.json");
    let tiles = data.join("tiles");
    let store_args: Vec<&str> = match store {
        Some(s) => vec!["--store", s],
        None => vec![],
    };
    let mut node = Node::start(&data, &store_args);
    for s in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    let Prunable {
        ops,
        op_envs,
        terminated,
    } = prunable(&node.url, &kit, 3);
    let n0 = tree_size(&node.url);
    wait_for_checkpoint(&node.url, n0);

    // A mirror that holds every envelope before the prune.
    let mirror = Mirror::start(&node.url, &log, &dir.path().join("mirror"), &[]);
    wait_for_checkpoint(&mirror.url, n0);
    let mtiles = mirror.data.join("tiles");
    assert!(!envelope_items(&mtiles, n0)[ops[0] as usize].is_empty());

    // Refused, nothing written: another signer, an agreement that did not
    // end, a registration record in the list.
    for (env, status, code) in [
        (
            prune(&kit.agency, "OA-P", &ops[..2]),
            403,
            "role-not-allowed",
        ),
        (
            prune(&kit.authority, "OA-1", &ops[..2]),
            409,
            "invalid-transition",
        ),
        (
            prune(&kit.authority, "OA-P", &[ops[0], terminated]),
            409,
            "not-prunable",
        ),
    ] {
        let (c, body) = post(&node.url, &env);
        assert_eq!(c, status, "{body}");
        assert!(body["type"].as_str().unwrap().ends_with(code), "{body}");
        assert_eq!(tree_size(&node.url), n0);
    }

    // The valid prune of the first two events (the third stays).
    let (code, r) = post(&node.url, &prune(&kit.authority, "OA-P", &ops[..2]));
    assert_eq!(code, 200, "{r}");
    let p = r["index"].as_u64().unwrap();
    let n1 = p + 1;
    let cp = wait_for_checkpoint(&node.url, n1);
    let root = Checkpoint::parse(&Note::parse(cp.as_bytes()).unwrap().text)
        .unwrap()
        .root;

    let check_node = |url: &str, tiles: &Path| {
        // The envelope bundles hold no pruned envelope, in no file.
        for (k, env) in op_envs.iter().enumerate() {
            let held = files_holding(tiles, &env.to_bytes());
            if k < 2 {
                assert!(held.is_empty(), "entry {} still in {held:?}", ops[k]);
            } else {
                assert!(!held.is_empty());
            }
        }
        let items = envelope_items(tiles, n1);
        assert!(items[ops[0] as usize].is_empty() && items[ops[1] as usize].is_empty());
        assert!(!items[ops[2] as usize].is_empty());
        // The entry tiles are unchanged: the leaves stay, and prove.
        let (c, body) = get_text(&format!("{url}/v1/entries/{}", ops[0])).unwrap();
        assert_eq!(c, 410, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["pruned_by"], p.to_string(), "{body}");
        let bundle = std::fs::read(tiles.join(format!("tile/entries/000.p/{n1}"))).unwrap();
        let leaves = decode_entry_bundle(&bundle, n1 as usize).unwrap();
        let leaf_hash = HashSuite::Sha256.leaf_hash(leaves[ops[0] as usize]);
        let proof = get_json(&format!(
            "{url}/v1/proof/inclusion?index={}&size={n1}",
            ops[0]
        ));
        let proof: Vec<Hash> = proof["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash(B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap()))
            .collect();
        verify_inclusion(HashSuite::Sha256, n1, ops[0], &leaf_hash, &proof, &root).unwrap();
    };
    check_node(&node.url, &tiles);
    let (code, v, err) = audit(&tiles, &log);
    assert_eq!(code, 0, "{err}{v}");
    assert_eq!(v["entries_checked"], n1);
    assert_eq!(v["pruned_entries"], 2, "{v}");

    // The mirror follows the prune: it drops the envelopes too.
    assert_eq!(wait_for_checkpoint(&mirror.url, n1), cp);
    let items = envelope_items(&mtiles, n1);
    assert!(items[ops[0] as usize].is_empty() && !items[ops[2] as usize].is_empty());
    assert!(files_holding(&mtiles, &op_envs[0].to_bytes()).is_empty());

    // A mirror that never held the pruned envelopes follows the log as
    // it is now, and serves the same gaps.
    let late = Mirror::start(&node.url, &log, &dir.path().join("late-mirror"), &[]);
    assert_eq!(wait_for_checkpoint(&late.url, n1), cp);
    let ltiles = late.data.join("tiles");
    let items = envelope_items(&ltiles, n1);
    assert!(items[ops[0] as usize].is_empty() && !items[ops[2] as usize].is_empty());
    let (c, body) = get_text(&format!("{}/v1/entries/{}", late.url, ops[1])).unwrap();
    assert_eq!(c, 410, "{body}");
    let (code, v, err) = audit(&ltiles, &log);
    assert_eq!((code, &v["pruned_entries"]), (0, &json!(2)), "{err}{v}");

    // A gap no prune names fails the audit, naming the entry.
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    copy_dir(&tiles, &copy);
    clear_envelope(&copy, n1, ops[2]);
    let (code, v, err) = audit(&copy, &log);
    assert_eq!(code, 1, "{err}{v}");
    let failures = v["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{v}");
    assert_eq!(failures[0]["index"], ops[2], "{v}");
    assert_eq!(failures[0]["check"], "envelope-missing", "{v}");

    // SIGKILL: the prune, and everything else, is still there.
    node.kill9();
    node.restart();
    assert_eq!(tree_size(&node.url), n1);
    let (c, _) = get_text(&format!("{}/v1/entries/{}", node.url, ops[2])).unwrap();
    assert_eq!(c, 200);
    check_node(&node.url, &tiles);
    let (code, v, err) = audit(&tiles, &log);
    assert_eq!(code, 0, "{err}{v}");
}

/// With the tiles copied to S3-compatible storage (`--tiles s3://…`, D20),
/// a prune replaces the bucket's envelope bundles too (D24): afterwards no
/// object in the bucket holds a pruned envelope and the audit of the
/// bucket passes. An old copy of the node (from before the prune) that
/// uploads its tiles again, with the bucket's checkpoint gone so it starts
/// from nothing, cannot put a pruned envelope back.
#[test]
fn on_s3_a_prune_replaces_the_buckets_envelope_bundles_and_a_stale_copy_cannot_undo_it() {
    let Some(bin) = s3s_fs() else { return };
    let s = site(&bin);
    credentials();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "sha256", &kit);
    let log = data.join("log.json");
    let args = s.node_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut node = Node::start(&data, &args);
    for st in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &st.envelope).0, 200, "{}", st.label);
    }
    let Prunable { ops, op_envs, .. } = prunable(&node.url, &kit, 3);
    let n0 = tree_size(&node.url);
    s.wait_bucket(n0);
    let bucket = s.prefix_dir();
    let held = |k: usize| files_holding(&bucket, &op_envs[k].to_bytes());
    assert!(!held(0).is_empty(), "the bucket never held the envelope");

    // An old copy of the node, from before the prune.
    node.kill9();
    let old = dir.path().join("old");
    copy_dir(&data, &old);
    node.restart();

    let (code, r) = post(&node.url, &prune(&kit.authority, "OA-P", &ops[..2]));
    assert_eq!(code, 200, "{r}");
    let n1 = r["index"].as_u64().unwrap() + 1;
    s.wait_bucket(n1);
    let after_prune = |when: &str| {
        for (k, op) in ops.iter().enumerate().take(2) {
            assert!(
                held(k).is_empty(),
                "{when}: entry {op} still in {:?}",
                held(k)
            );
        }
        assert!(!held(2).is_empty(), "{when}: the unpruned envelope is gone");
    };
    after_prune("after the prune");
    let (c, bundle) = get_bytes(&format!("{}/tile/envelopes/000.p/{n1}", s.public()));
    assert_eq!(c, 200);
    let items = decode_entry_bundle(&bundle, n1 as usize).unwrap();
    assert!(items[ops[0] as usize].is_empty() && !items[ops[2] as usize].is_empty());
    let url = s.public();
    let (code, v, err) = audit_from(&["--url".as_ref(), url.as_ref()], &log);
    assert_eq!((code, &v["pruned_entries"]), (0, &json!(2)), "{err}{v}");

    // The stale copy, against the bucket without its checkpoint.
    node.kill9();
    let checkpoint = bucket.join("checkpoint");
    let note = std::fs::read(&checkpoint).unwrap();
    std::fs::remove_file(&checkpoint).unwrap();
    let stale = Node::start(&old, &args);
    assert_eq!(tree_size(&stale.url), n0);
    let stale_log = stderr_file(&old);
    let deadline = std::time::Instant::now() + patience();
    // Until it was refused, or it published (over the pruned bundle).
    while !std::fs::read_to_string(&stale_log)
        .unwrap_or_default()
        .contains("not replaced")
        && !checkpoint.exists()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the stale copy never tried the pruned bundle: {}",
            std::fs::read_to_string(&stale_log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(stale);
    after_prune("after the stale copy");
    std::fs::write(&checkpoint, note).unwrap();
    let (code, v, err) = audit_from(&["--url".as_ref(), url.as_ref()], &log);
    assert_eq!((code, &v["pruned_entries"]), (0, &json!(2)), "{err}{v}");
}

/// An entry served without its envelope is held open until a prune names
/// it (D22). A mirror that commits such an entry in an early window of a
/// checkpoint and stops before the checkpoint's end (a source failure
/// there, then SIGKILL) must hold it open again (D25): every retry, and
/// the restarted mirror, still refuses the checkpoint (`envelope-missing`,
/// naming the entry), where a mirror that forgot it would accept the gap
/// on its second try. Once the log prunes the entry, the mirror follows.
#[test]
fn a_gap_a_mirror_committed_part_way_stays_open_across_retries_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "sha256", &kit);
    let log = data.join("log.json");
    let node = Node::start(&data, &[]);
    for s in kit.setup(HashSuite::Sha256, "guangxi").iter().skip(1) {
        assert_eq!(post(&node.url, &s.envelope).0, 200, "{}", s.label);
    }
    // More than one entry bundle, the gap in the first.
    let Prunable { ops, .. } = prunable(&node.url, &kit, 300);
    let g = ops[0];
    let n = tree_size(&node.url);
    assert!(g < TILE_WIDTH && n > TILE_WIDTH, "{g} {n}");
    wait_for_checkpoint(&node.url, n);
    // A copy of the log that serves entry g without its envelope, which no prune names.
    let served = dir.path().join("static");
    copy_dir(&data.join("tiles"), &served);
    clear_envelope(&served, n, g);
    let web = StaticServer::start(&served);
    // One bundle per window: the first (g held open) commits before the checkpoint's end.
    let mut mirror = Mirror::start(
        &web.url,
        &log,
        &dir.path().join("mirror"),
        &["--window-bundles", "1"],
    );
    let served_size = |m: &Mirror| match get_text(&format!("{}/checkpoint", m.url)) {
        Ok((200, cp)) => checkpoint_size(&cp),
        _ => None,
    };
    let stderr = |m: &Mirror| std::fs::read_to_string(stderr_file(&m.data)).unwrap_or_default();
    // refused waits for `tries` failed attempts (or the checkpoint served) and checks the mirror said why.
    let refused = |m: &Mirror, tries: u64, log_from: usize| {
        wait_until(
            "the mirror neither served nor refused the checkpoint",
            || {
                served_size(m) == Some(n)
                    || metric(&m.url, "regledger_mirror_source_errors_total").unwrap_or(0) >= tries
            },
        );
        let said = stderr(m);
        assert_ne!(
            served_size(m),
            Some(n),
            "the mirror accepted a gap no prune names:\n{said}"
        );
        let said = &said[log_from..];
        assert!(
            said.contains("envelope-missing") && said.contains(&format!("entry {g} ")),
            "{said}"
        );
    };
    refused(&mirror, 3, 0);
    let before = stderr(&mirror).len();
    mirror.kill9();
    mirror.restart();
    refused(&mirror, 2, before);

    // The log prunes entry g: the copy now serves the log as it is, and the
    // mirror, still holding g open, closes it with the prune and follows.
    let (code, r) = post(
        &node.url,
        &kit.authority.sign(
            EntryKind::RetentionPruned,
            &json!({"agreement_id": "OA-P", "entries": [g]}),
        ),
    );
    assert_eq!(code, 200, "{r}");
    let n1 = r["index"].as_u64().unwrap() + 1;
    let cp = wait_for_checkpoint(&node.url, n1);
    let next = dir.path().join("next");
    copy_dir(&data.join("tiles"), &next);
    std::fs::remove_dir_all(&served).unwrap();
    std::fs::rename(&next, &served).unwrap();
    assert_eq!(wait_for_checkpoint(&mirror.url, n1), cp);
    let (code, v, err) = audit(&mirror.data.join("tiles"), &log);
    assert_eq!((code, &v["pruned_entries"]), (0, &json!(1)), "{err}{v}");
}
