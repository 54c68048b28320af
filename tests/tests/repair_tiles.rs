//! `regledger-node check-tiles` on a real node's data directory (D29):
//! the full entry and envelope bundles below `archived_below` are the only
//! copy of their entries. An intact directory passes; a flipped byte in
//! an entry bundle and a missing envelope bundle are found and named; the
//! running node answers a 5xx naming the file for their entries, never
//! wrong data; a repair from a source serving damaged, truncated or no
//! bytes is refused and writes nothing; a repair from a static server over
//! a copy of the good tiles restores them, and the node serves the
//! entries again.

use std::path::Path;
use std::process::Command;

use regledger::entry::envelope::Envelope;
use regledger::testkit::{Testkit, REGISTRATION_NO};
use regledger::HashSuite;
use regledger_e2e::*;
use serde_json::Value;

const ORIGIN: &str = "regledger.test/repair-tiles";

/// check_tiles runs `regledger-node check-tiles --data DATA extra...`:
/// exit code, stdout, stderr.
fn check_tiles(data: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin("regledger-node"))
        .arg("check-tiles")
        .arg("--data")
        .arg(data)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// flip_in_item flips a byte in the middle of item `k` of the entry
/// bundle at `path` (not in a length prefix: the bundle still splits, one
/// leaf no longer hashes to its leaf hash).
fn flip_in_item(path: &Path, k: usize) {
    let mut b = std::fs::read(path).unwrap();
    let items = regledger::tlog::tile::decode_entry_bundle(&b, 256).unwrap();
    let at: usize = items[..k].iter().map(|i| i.len() + 2).sum::<usize>() + 2 + items[k].len() / 2;
    b[at] ^= 0x40;
    std::fs::write(path, b).unwrap();
}

/// assert_damaged checks that GET `url` answers 500 damaged-tile naming
/// `file` and saying how to repair it: a retry does not help, restoring
/// the file does.
fn assert_damaged(url: &str, file: &str) {
    let (s, body) = get_text(url).unwrap();
    assert_eq!(s, 500, "{url}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["type"].as_str().unwrap().ends_with("damaged-tile"),
        "{url}: {body}"
    );
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains(file) && detail.contains("Repairing tiles"),
        "{url}: {body}"
    );
}

#[test]
fn check_tiles_finds_damage_refuses_bad_sources_and_repairs_from_a_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let mut node = Node::start(&data, &[]);
    let url = node.url.clone();
    let tiles = data.join("tiles");

    // The setup and a product's life to its revocation: its certificate's
    // entries lie in bundle 000.
    for step in &kit.lifecycle(HashSuite::Blake3, "guangxi")[1..] {
        let (code, body) = post(&url, &step.envelope);
        assert_eq!(code, 200, "{}: {body}", step.label);
    }
    let mut i = 0u64;
    let mut size = tree_size(&url);
    while size < 620 {
        let envs: Vec<Envelope> = (0..100)
            .map(|_| {
                i += 1;
                operation_event(&kit.operator, i)
            })
            .collect();
        post_all(&url, &envs);
        size = tree_size(&url);
    }
    // Not at a bundle boundary: bundle 001 is not the last, which a
    // start rewrites.
    assert!(!size.is_multiple_of(256) && size < 768, "{size}");
    wait_for_checkpoint(&url, size);
    // The publisher archives bundles 000 and 001 in the transaction that
    // records their tiles; give it that moment.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let entry_300 = get_json(&format!("{url}/v1/entries/300"));
    let entry_100 = get_json(&format!("{url}/v1/entries/100"));
    assert!(entry_300["envelope"].is_object(), "{entry_300}");
    let certificate = format!("{url}/v1/certificates/{REGISTRATION_NO}");
    let site_bundle = format!("{url}/products/{REGISTRATION_NO}/bundle.json");
    for u in [&certificate, &site_bundle] {
        let (s, body) = get_text(u).unwrap();
        assert_eq!(s, 200, "{u}: {body}");
    }

    // While the node runs its store is locked.
    let (code, out, err) = check_tiles(&data, &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("is the node still running"), "{err}");

    let good = dir.path().join("good-tiles");
    copy_dir(&tiles, &good);
    node.kill9();

    // (a) Intact: both full bundles checked, nothing damaged.
    let (code, out, err) = check_tiles(&data, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("archived bundles checked: 2") && out.contains("damaged: 0"),
        "{out}"
    );

    // (b) A flipped byte in leaf 300 (item 44 of bundle 001), and the
    // envelope bundle 000 gone.
    let e1 = tiles.join("tile/entries/001");
    let v0 = tiles.join("tile/envelopes/000");
    flip_in_item(&e1, 300 - 256);
    std::fs::remove_file(&v0).unwrap();
    let damaged_e1 = std::fs::read(&e1).unwrap();
    let (code, out, err) = check_tiles(&data, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("damaged: 2"), "{out}");
    assert!(
        out.contains(
            "tile/entries/001: entries 256..512 do not hash to the tree's hash of their bundle"
        ),
        "{out}"
    );
    assert!(out.contains("tile/envelopes/000"), "{out}");
    assert!(err.contains("--repair-from"), "{err}");

    // The running node answers a 5xx naming the file, never wrong data:
    // an archived leaf or envelope it cannot read is 500 damaged-tile (a
    // retry does not help; restoring the file does), saying what to restore.
    node.restart();
    assert_damaged(&format!("{url}/v1/entries/300"), "tile/entries/001");
    assert_damaged(&format!("{url}/v1/entries/100"), "tile/envelopes/000");
    // So are the proofs that need hashes inside bundle 001, which are
    // recomputed from it (D30): an inclusion proof of one of its entries,
    // a consistency proof from a size inside it.
    for q in [
        format!("inclusion?index=300&size={size}"),
        format!("consistency?old=300&new={size}"),
    ] {
        assert_damaged(&format!("{url}/v1/proof/{q}"), "tile/entries/001");
    }
    // A certificate whose entries' envelopes were in bundle 000 is the
    // same 500, on the API and the public site: never "no such
    // certificate" for a registered product.
    for u in [&certificate, &site_bundle] {
        assert_damaged(u, "tile/envelopes/000");
    }
    // Entries of the live bundle are unaffected, and so are proofs that
    // need nothing inside bundle 001 (its level-8 hash is a row).
    let (s, _) = get_text(&format!("{url}/v1/entries/600")).unwrap();
    assert_eq!(s, 200);
    for q in [
        format!("inclusion?index=600&size={size}"),
        format!("inclusion?index=100&size={size}"),
        format!("consistency?old=512&new={size}"),
    ] {
        let (s, body) = get_text(&format!("{url}/v1/proof/{q}")).unwrap();
        assert_eq!(s, 200, "{q}: {body}");
    }
    node.kill9();

    // (d) Bad sources: nothing is written.
    let unchanged = || {
        assert_eq!(std::fs::read(&e1).unwrap(), damaged_e1);
        assert!(!v0.exists());
    };
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (code, out, err) = check_tiles(&data, &["--repair-from", &dead]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("cannot fetch from") && out.contains("refused"),
        "{out}"
    );
    assert!(
        out.contains("repaired: 0, 仍损坏 / still damaged: 2"),
        "{out}"
    );
    unchanged();

    // A source whose bundle 001 is damaged elsewhere (leaf 400), and whose
    // envelope bundle 000 is cut short.
    let bad = dir.path().join("bad-tiles");
    copy_dir(&good, &bad);
    flip_in_item(&bad.join("tile/entries/001"), 400 - 256);
    let bv0 = bad.join("tile/envelopes/000");
    let b = std::fs::read(&bv0).unwrap();
    std::fs::write(&bv0, &b[..b.len() - 7]).unwrap();
    let bad_src = StaticServer::start(&bad);
    let (code, out, err) = check_tiles(&data, &["--repair-from", &bad_src.url]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("refused: tile/entries/001")
            && out.contains("entries 256..512 do not hash to the tree's hash of their bundle"),
        "{out}"
    );
    assert!(
        out.contains("refused: tile/entries/000")
            && out.contains("the envelope bundle is not a full bundle"),
        "{out}"
    );
    unchanged();

    // Another bundle's bytes where bundle 001 belongs (what a bundle of
    // another log looks like: its leaves are not this tree's): 001 is
    // refused; bundle 000, served as it is, is repaired.
    let other = dir.path().join("other-tiles");
    copy_dir(&good, &other);
    std::fs::copy(
        good.join("tile/entries/000"),
        other.join("tile/entries/001"),
    )
    .unwrap();
    let other_src = StaticServer::start(&other);
    let (code, out, _) = check_tiles(&data, &["--repair-from", &other_src.url]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("refused: tile/entries/001")
            && out.contains("entries 256..512 do not hash to the tree's hash of their bundle"),
        "{out}"
    );
    assert!(
        out.contains("written from") && out.contains("tile/envelopes/000"),
        "{out}"
    );
    assert!(
        out.contains("damaged: 2, 已修复 / repaired: 1, 仍损坏 / still damaged: 1"),
        "{out}"
    );
    assert_eq!(std::fs::read(&e1).unwrap(), damaged_e1);
    assert_eq!(
        std::fs::read(&v0).unwrap(),
        std::fs::read(good.join("tile/envelopes/000")).unwrap()
    );

    // (c) A static server over the good copy: repaired, confirmed.
    let src = StaticServer::start(&good);
    let (code, out, err) = check_tiles(&data, &["--repair-from", &src.url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("damaged: 1, 已修复 / repaired: 1, 仍损坏 / still damaged: 0"),
        "{out}"
    );
    for p in ["tile/entries/001", "tile/envelopes/000", "tile/entries/000"] {
        assert_eq!(
            std::fs::read(tiles.join(p)).unwrap(),
            std::fs::read(good.join(p)).unwrap(),
            "{p}"
        );
    }
    let (code, out, err) = check_tiles(&data, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("damaged: 0"), "{out}");

    node.restart();
    assert_eq!(get_json(&format!("{url}/v1/entries/300")), entry_300);
    assert_eq!(get_json(&format!("{url}/v1/entries/100")), entry_100);
    let (s, body) = get_text(&certificate).unwrap();
    assert_eq!(s, 200, "{body}");
}
