//! Partial tiles are removed once their full tile is published (issue 18
//! item 5, D28), on a real node: several publishes complete a few full
//! tiles; the partials of those tiles (hash tiles, entry bundles, envelope
//! bundles) are gone from the node's and the mirror's tile directories;
//! GET of an old partial path still answers the bytes it answered before
//! (cut from the full tile); the audit over the directory and over HTTP
//! passes; a mirror that started at an old size follows; a damaged full
//! tile is an error, never a wrong prefix.

use std::path::Path;

use regledger::entry::envelope::Envelope;
use regledger::testkit::Testkit;
use regledger::HashSuite;
use regledger_e2e::*;

const ORIGIN: &str = "regledger.test/partials";

/// partial_dirs lists the `<N>.p` directories (each holds a tile's
/// partials) under tile/<kind>/ of `tiles`.
/// audit runs the audit on `source` and returns its exit code and output
/// (report and stderr) as one text.
fn audit(source: &[&std::ffi::OsStr], log: &Path) -> (i32, String) {
    let (code, v, err) = audit_from(source, log);
    (code, format!("{v}{err}"))
}

fn partial_dirs(tiles: &Path, kind: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(tiles.join("tile").join(kind))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".p"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn partials_of_full_tiles_are_removed_and_still_served_and_readers_follow() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let kit = Testkit::live(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let node = Node::start(&data, &[]);
    let url = node.url.clone();
    let log = data.join("log.json");
    let tiles = data.join("tiles");

    post_setup(&url, &kit, HashSuite::Blake3);
    let mut size = tree_size(&url);
    wait_for_checkpoint(&url, size);

    // An old size, inside tile 0: what its partials serve now is what a
    // reader of that checkpoint must still get after they are removed.
    let mut i = 0;
    let batch = |i: &mut u64, n: u64| -> Vec<Envelope> {
        (0..n)
            .map(|_| {
                *i += 1;
                operation_event(&kit.operator, *i)
            })
            .collect()
    };
    post_all(&url, &batch(&mut i, 90));
    size = tree_size(&url);
    let old = size;
    assert!(old < 256, "{old}");
    wait_for_checkpoint(&url, old);
    let old_paths = [
        format!("tile/0/000.p/{old}"),
        format!("tile/entries/000.p/{old}"),
        format!("tile/envelopes/000.p/{old}"),
    ];
    let mut before = Vec::new();
    for p in &old_paths {
        assert!(tiles.join(p).is_file(), "{p} written at size {old}");
        let (s, b) = get_bytes(&format!("{url}/{p}"));
        assert_eq!(s, 200, "{p}");
        before.push(b);
    }

    // A mirror that follows from this old size.
    let mdir = dir.path().join("mirror");
    let mirror = Mirror::start(&url, &log, &mdir, &[]);
    wait_for_checkpoint(&mirror.url, old);

    // Several publishes that complete tiles 0 and 1 (levels 0, entries
    // and envelopes) and leave tile 2 partial.
    while size < 3 * 256 - 40 {
        post_all(&url, &batch(&mut i, 70));
        size = tree_size(&url);
        wait_for_checkpoint(&url, size);
    }
    assert!((512..768).contains(&size), "{size}");
    let edge = size % 256;

    // The publisher removes them right after the checkpoint; give it the
    // moment between serving the checkpoint and the removal.
    for kind in ["0", "entries", "envelopes"] {
        wait_until(
            &format!("partials of tile/{kind}/000 and 001 removed"),
            || partial_dirs(&tiles, kind) == vec!["002.p".to_string()],
        );
        let edge_file = tiles.join(format!("tile/{kind}/002.p/{edge}"));
        assert!(edge_file.is_file(), "{}", edge_file.display());
        for n in ["000", "001"] {
            assert!(tiles.join(format!("tile/{kind}/{n}")).is_file());
        }
    }
    // Level 1 holds one partial tile only (fewer than 65536 entries): kept.
    assert!(tiles.join("tile/1/000.p/2").is_file());

    // GET of an old partial path: the same bytes as when it was a file.
    for (p, b) in old_paths.iter().zip(&before) {
        assert!(!tiles.join(p).exists(), "{p} removed");
        let (s, got) = get_bytes(&format!("{url}/{p}"));
        assert_eq!(s, 200, "{p}");
        assert_eq!(&got, b, "{p}: the prefix of the full tile");
    }
    // A width never published answers too (any prefix of a full tile is
    // that partial tile).
    let (s, got) = get_bytes(&format!("{url}/tile/0/001.p/3"));
    assert_eq!(s, 200);
    let (_, full) = get_bytes(&format!("{url}/tile/0/001"));
    assert_eq!(got, full[..3 * 32]);
    // A partial of a tile not full yet and not there: still 404.
    let (s, _) = get_bytes(&format!("{url}/tile/0/002.p/{}", edge + 1));
    assert_eq!(s, 404);

    // The audit, from the directory and over HTTP.
    let (code, out) = audit(&["--dir".as_ref(), tiles.as_os_str()], &log);
    assert_eq!(code, 0, "{out}");
    let (code, out) = audit(&["--url".as_ref(), url.as_ref()], &log);
    assert_eq!(code, 0, "{out}");

    // The mirror, which last read size `old`, follows to the end and
    // removes the partials of its own full tiles too.
    wait_for_checkpoint(&mirror.url, size);
    let mtiles = mdir.join("tiles");
    for kind in ["0", "entries", "envelopes"] {
        wait_until(&format!("mirror's partials of tile/{kind} removed"), || {
            partial_dirs(&mtiles, kind) == vec!["002.p".to_string()]
        });
    }
    let (code, out) = audit(&["--url".as_ref(), mirror.url.as_ref()], &log);
    assert_eq!(code, 0, "{out}");
    let (s, got) = get_bytes(&format!("{}/{}", mirror.url, old_paths[1]));
    assert_eq!((s, &got), (200, &before[1]));

    // A restart keeps it all (the sweep at start removes nothing more).
    drop(mirror);
    let mut node = node;
    node.kill9();
    node.restart();
    for (p, b) in old_paths.iter().zip(&before) {
        assert_eq!(get_bytes(&format!("{url}/{p}")), (200, b.clone()), "{p}");
    }
    let (code, out) = audit(&["--url".as_ref(), url.as_ref()], &log);
    assert_eq!(code, 0, "{out}");

    // A short full tile: an error, not a prefix of the wrong bytes.
    let f = tiles.join("tile/entries/000");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 1]).unwrap();
    let (s, got) = get_bytes(&format!("{url}/{}", old_paths[1]));
    assert_eq!(s, 500, "{}", String::from_utf8_lossy(&got));
    let (code, out) = audit(&["--dir".as_ref(), tiles.as_os_str()], &log);
    assert_ne!(code, 0, "{out}");
}
