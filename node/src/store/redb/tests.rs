//! The store's tests: the D12 migration on old data directories, the
//! on-disk format of every named value, and the append path's guards.

use super::*;
use redb::{ReadableTable, ReadableTableMetadata, TableHandle};
use regledger::testkit::{chain_v1 as chain, Testkit};
use regledger::HashSuite;

/// old_store writes `leaves` the way a node before D12 did: a META
/// head and a replay table of whole-envelope digests, no CONTENT_IDS.
pub(crate) fn old_store(path: &Path, leaves: &[regledger::entry::leaf::Leaf]) {
    let db = Database::create(path).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut l = tx.open_table(LEAVES).unwrap();
        let mut d = tx.open_table(LEGACY_DIGESTS).unwrap();
        let mut m = tx.open_table(META).unwrap();
        // The stored hashes too (blake3, as every caller's log), so that
        // an upgraded node can append.
        struct Stored(Vec<Hash>);
        impl regledger::tlog::tree::HashReader for Stored {
            fn read_hashes(
                &self,
                ix: &[u64],
            ) -> Result<Vec<Hash>, regledger::tlog::tree::TreeError> {
                Ok(ix.iter().map(|&i| self.0[i as usize]).collect())
            }
        }
        let mut h = tx.open_table(HASHES).unwrap();
        let mut stored = Stored(Vec::new());
        for (i, leaf) in leaves.iter().enumerate() {
            l.insert(i as u64, leaf.to_bytes().as_slice()).unwrap();
            d.insert(leaf.inline_envelope().unwrap().digest(), i as u64)
                .unwrap();
            let lh = leaf.hash(HashSuite::Blake3);
            let new = regledger::tlog::tree::stored_hashes_for_record(
                HashSuite::Blake3,
                i as u64,
                lh,
                &stored,
            )
            .unwrap();
            for x in new {
                h.insert(stored.0.len() as u64, x.0).unwrap();
                stored.0.push(x);
            }
        }
        if let Some(last) = leaves.last() {
            m.insert(M_LAST_HASH, last.hash(HashSuite::Blake3).0.as_slice())
                .unwrap();
        }
        m.insert(M_SIZE, (leaves.len() as u64).to_be_bytes().as_slice())
            .unwrap();
        if let Some(last) = leaves.last() {
            m.insert(
                M_LAST_TIME,
                last.integrated_time_ms.to_be_bytes().as_slice(),
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn tables(db: &Database) -> Vec<String> {
    let r = db.begin_write().unwrap();
    let v = r
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_string())
        .collect();
    r.abort().unwrap();
    v
}

fn content_ids(store: &RedbStore) -> Vec<([u8; 32], u64)> {
    let r = store.db().unwrap().begin_read().unwrap();
    let t = r.open_table(CONTENT_IDS).unwrap();
    t.iter()
        .unwrap()
        .map(|x| {
            let (k, v) = x.unwrap();
            (k.value(), v.value())
        })
        .collect()
}

#[test]
fn an_old_store_gets_every_logged_content_protected_at_open() {
    let kit = Testkit::new("store.test/migrate");
    let mut steps = kit.lifecycle(HashSuite::Blake3, "guangxi");
    // An old node let a re-signed copy in: the last entry is entry 17's
    // content (the suspension) with a second signature appended.
    let n = steps.len();
    let mut copy = steps[17].clone();
    copy.envelope
        .signatures
        .push(copy.envelope.signatures[0].clone());
    copy.time_ms = steps.last().unwrap().time_ms + 1;
    steps.push(copy);
    let leaves = chain(HashSuite::Blake3, &steps);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    old_store(&path, &leaves);

    let store = RedbStore::open(&path).unwrap();
    let mut want: Vec<([u8; 32], u64)> = leaves[..n]
        .iter()
        .enumerate()
        .map(|(i, l)| (l.inline_envelope().unwrap().content_id(), i as u64))
        .collect();
    want.sort();
    assert_eq!(content_ids(&store), want, "every entry, first index kept");
    let db = store.db().unwrap();
    assert!(!tables(&db).contains(&"digests".to_string()));
    let r = db.begin_read().unwrap();
    assert_eq!(
        meta_u64(&r.open_table(META).unwrap(), M_CONTENT_IDS_BUILT).unwrap(),
        0
    );
    assert_eq!(store.read().unwrap().head().unwrap().size, n as u64 + 1);
    drop(r);
    drop(db);
    // Opening again finds nothing to do.
    store.reopen().unwrap();
    assert_eq!(content_ids(&store), want);
}

#[test]
fn an_interrupted_migration_resumes_where_it_stopped() {
    let kit = Testkit::new("store.test/resume");
    let leaves = chain(
        HashSuite::Blake3,
        &kit.lifecycle(HashSuite::Blake3, "guangxi"),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    old_store(&path, &leaves);
    let db = Database::create(&path).unwrap();
    // As if a crash had stopped it after 7 leaves: the progress key says
    // 7, CONTENT_IDS holds 0..7, the old table is still there.
    {
        let tx = db.begin_write().unwrap();
        {
            let mut ids = tx.open_table(CONTENT_IDS).unwrap();
            for (i, l) in leaves[..7].iter().enumerate() {
                ids.insert(l.inline_envelope().unwrap().content_id(), i as u64)
                    .unwrap();
            }
            tx.open_table(META)
                .unwrap()
                .insert(M_CONTENT_IDS_BUILT, 7u64.to_be_bytes().as_slice())
                .unwrap();
        }
        tx.commit().unwrap();
    }
    // Small chunks: several transactions.
    migrate::content_ids(&db, false, 3).unwrap();
    assert!(!tables(&db).contains(&"digests".to_string()));
    drop(db);
    let store = RedbStore::open(&path).unwrap();
    let mut want: Vec<([u8; 32], u64)> = leaves
        .iter()
        .enumerate()
        .map(|(i, l)| (l.inline_envelope().unwrap().content_id(), i as u64))
        .collect();
    want.sort();
    assert_eq!(content_ids(&store), want);
}

#[test]
fn a_new_store_has_no_legacy_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(&dir.path().join("ledger.redb")).unwrap();
    let db = store.db().unwrap();
    let t = tables(&db);
    assert!(t.contains(&"content_ids".to_string()), "{t:?}");
    assert!(!t.contains(&"digests".to_string()), "{t:?}");
}

fn ctx(index: u64, time: u64, h: u8) -> (EntryContext, Hash) {
    (
        EntryContext {
            index,
            integrated_time_ms: time,
            log_id: "store.test/append".into(),
        },
        Hash([h; 32]),
    )
}

/// append stages an entry's (empty) state writes at the head and appends it.
fn append(
    a: &mut crate::store::Appender<'_>,
    (ctx, lh): (EntryContext, Hash),
    leaf: &[u8],
    fx: &Effects,
    content_id: [u8; 32],
) -> Result<(), StoreError> {
    if ctx.index == a.head().size {
        a.next_root(ctx.index, fx, &content_id)?;
    }
    a.append_entry(&ctx, lh, leaf, None, fx, content_id)
}

use regledger::entry::chain::EntryContext;
use regledger::registry::{Effects, EntryKind};

/// nothing is the effects of an entry that writes and concerns nothing.
fn nothing() -> Effects {
    Effects::new(EntryKind::OperationEvent, "p")
}

#[test]
fn a_transaction_whose_append_failed_half_way_does_not_commit() {
    // A head of one leaf without its stored hash: the next append finds
    // the hash it must combine missing, after nothing else was written.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    {
        let store = RedbStore::open(&path).unwrap();
        let db = store.db().unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(META)
            .unwrap()
            .insert(M_SIZE, 1u64.to_be_bytes().as_slice())
            .unwrap();
        // A store with a state map (an empty one), so that nothing is migrated.
        tx.open_table(STATE_MAP)
            .unwrap()
            .insert(
                MAP_ROOT_KEY,
                regledger::statemap::Child::Empty.to_bytes().as_slice(),
            )
            .unwrap();
        tx.commit().unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    let mut tx = store.write().unwrap();
    let mut a = crate::store::Appender::Redb(tx.appender(HashSuite::Sha256).unwrap());
    let e = append(&mut a, ctx(1, 10, 1), b"leaf 1", &nothing(), [1; 32]).unwrap_err();
    assert!(matches!(e, StoreError::Tree(_)), "{e}");
    drop(a);
    assert!(matches!(tx.commit(), Err(StoreError::Incomplete)));
    assert_eq!(store.read().unwrap().head().unwrap().size, 1);
    assert_eq!(store.read().unwrap().leaf(1).unwrap(), None);
}

#[test]
fn named_values_keep_their_on_disk_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(&dir.path().join("ledger.redb")).unwrap();
    let tx = store.write().unwrap();
    tx.set_published_checkpoint(5, "published note\n").unwrap();
    tx.set_tiles_size(5).unwrap();
    tx.set_witness_checkpoint("witness note\n").unwrap();
    tx.set_verifying_checkpoint(b"verifying note\n").unwrap();
    tx.set_cosigned_size("http://w.example", 4).unwrap();
    tx.set_webhook_delivered("http://h.example", 17).unwrap();
    tx.commit().unwrap();
    // The bytes under the keys nodes have always written.
    let db = store.db().unwrap();
    let r = db.begin_read().unwrap();
    let meta = r.open_table(META).unwrap();
    let raw = |k: &str| meta.get(k).unwrap().map(|v| v.value().to_vec());
    assert_eq!(raw("checkpoint").unwrap(), b"published note\n");
    assert_eq!(raw("tiles_size").unwrap(), 5u64.to_be_bytes());
    assert_eq!(raw("witness_checkpoint").unwrap(), b"witness note\n");
    assert_eq!(
        raw("mirror_verifying_checkpoint").unwrap(),
        b"verifying note\n"
    );
    assert_eq!(
        raw("witness_cosigned:http://w.example").unwrap(),
        4u64.to_be_bytes()
    );
    assert_eq!(raw("webhook:http://h.example").unwrap(), b"17");
    let history = r.open_table(CHECKPOINTS).unwrap();
    assert_eq!(history.get(5).unwrap().unwrap().value(), "published note\n");
    // And read back through the API.
    let v = store.read().unwrap();
    assert_eq!(
        v.published_checkpoint().unwrap().as_deref(),
        Some("published note\n")
    );
    assert_eq!(v.tiles_size().unwrap(), 5);
    assert_eq!(
        v.witness_checkpoint().unwrap().as_deref(),
        Some("witness note\n")
    );
    assert_eq!(
        v.verifying_checkpoint().unwrap().as_deref(),
        Some("verifying note\n")
    );
    assert_eq!(v.cosigned_size("http://w.example").unwrap(), 4);
    assert_eq!(v.cosigned_size("http://other.example").unwrap(), 0);
    assert_eq!(v.webhook_delivered("http://h.example").unwrap(), Some(17));
    assert_eq!(v.webhook_delivered("http://other.example").unwrap(), None);
}

/// Entry is a logged entry's leaf and envelope bytes.
type Entry = (Vec<u8>, Vec<u8>);

/// archived_log writes `n` v2 entries (real leaf and envelope hashes)
/// through the store of `dir`, with its tiles in `dir/tiles`, and
/// publishes them as the publisher does: tiles, then the tiles size and
/// the archive in one transaction. It returns the store and each entry's
/// (leaf, envelope).
fn archived_log(dir: &Path, n: u64, archive: bool) -> (crate::store::Store, Vec<Entry>) {
    let store = with_tiles(dir);
    let out = publish(dir, &store, n, archive);
    (store, out)
}

/// publish appends entries up to `n` to the store of `dir` (as
/// [`archived_log`] writes them), then publishes and, if `archive`,
/// archives them. It returns the entries appended.
fn publish(dir: &Path, store: &crate::store::Store, n: u64, archive: bool) -> Vec<Entry> {
    use regledger::entry::leaf::{envelope_hash, Leaf};
    let suite = HashSuite::Sha256;
    let tiles = dir.join("tiles");
    // Not operation events: each commits its content id to the state map,
    // as a real log's genesis writes state (a v2 store without a map root
    // is one from before the map, migrated at open).
    let fx = Effects::new(regledger::registry::EntryKind::ObjectionFiled, "p");
    let mut out = Vec::new();
    let mut tx = store.write().unwrap();
    let head = tx.head();
    let mut prev = head.last_leaf_hash;
    let mut a = tx.appender(suite).unwrap();
    for i in head.size..n {
        let env = format!("envelope {i} {}", "x".repeat((i % 7) as usize)).into_bytes();
        let cid = suite.digest(&[&env]).0;
        let root = a.next_root(i, &fx, &cid).unwrap();
        let leaf = Leaf::compact(i, 1000 + i, prev, root, envelope_hash(suite, &env)).to_bytes();
        let lh = suite.leaf_hash(&leaf);
        let c = EntryContext {
            index: i,
            integrated_time_ms: 1000 + i,
            log_id: "store.test/archive".into(),
        };
        a.append_entry(&c, lh, &leaf, Some(&env), &fx, cid).unwrap();
        prev = lh;
        out.push((leaf, env));
    }
    drop(a);
    tx.commit().unwrap();
    let view = store.read().unwrap();
    crate::log::tiles::write_tiles(&tiles, &view, head.size, n).unwrap();
    drop(view);
    if !archive {
        return out;
    }
    let upto = store.read().unwrap().archivable(n).unwrap();
    let tx = store.write().unwrap();
    tx.set_tiles_size(n).unwrap();
    tx.archive_below(upto).unwrap();
    tx.commit().unwrap();
    out
}

/// with_tiles opens the store of `dir` again, with its tile directory: a
/// fresh archive, nothing cached.
fn with_tiles(dir: &Path) -> crate::store::Store {
    crate::store::Store::open(&dir.join("ledger.redb"))
        .unwrap()
        .with_archive(&dir.join("tiles"), HashSuite::Sha256)
}

/// rows counts the LEAVES and ENVELOPES rows of the store.
fn rows(store: &crate::store::Store) -> (u64, u64) {
    let crate::store::Store::Redb(s) = store else {
        unreachable!()
    };
    let r = s.db().unwrap().begin_read().unwrap();
    (
        r.open_table(LEAVES).unwrap().len().unwrap(),
        r.open_table(ENVELOPES).unwrap().len().unwrap(),
    )
}

#[test]
fn full_bundles_become_the_store_of_record_and_every_read_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (store, entries) = archived_log(dir.path(), 600, true);
    // Two full bundles archived: 512 rows of each kind gone, 88 left.
    assert_eq!(rows(&store), (88, 88));
    let r = store.read().unwrap();
    for (i, (leaf, env)) in entries.iter().enumerate() {
        let i = i as u64;
        assert_eq!(r.leaf(i).unwrap().as_ref(), Some(leaf), "leaf {i}");
        assert_eq!(r.envelope(i).unwrap().as_ref(), Some(env), "envelope {i}");
    }
    // Range reads across the archived edge.
    let all: Vec<Vec<u8>> = entries.iter().map(|e| e.0.clone()).collect();
    assert_eq!(r.leaves(250, 530).unwrap(), all[250..530].to_vec());
    assert_eq!(r.leaves(0, 700).unwrap(), all);
    assert_eq!(r.leaf(600).unwrap(), None);
    drop(r);

    // A flipped byte in an archived entry bundle is an error naming the
    // file, never a wrong leaf; the other bundle still reads.
    let bundle = dir.path().join("tiles/tile/entries/001");
    let good = std::fs::read(&bundle).unwrap();
    let mut bad = good.clone();
    bad[40] ^= 1;
    std::fs::write(&bundle, &bad).unwrap();
    // A fresh store: nothing of the good bundle is cached.
    drop(store);
    let store = with_tiles(dir.path());
    let r = store.read().unwrap();
    let e = r.leaf(256).unwrap_err();
    assert!(
        matches!(&e, StoreError::Archive { path, first: 256, .. } if path == "tile/entries/001"),
        "{e}"
    );
    assert!(e.to_string().contains("only copy"), "{e}");
    assert!(r.leaves(200, 300).is_err());
    assert_eq!(r.leaf(255).unwrap().as_ref(), Some(&entries[255].0));
    // Repaired from a copy: it reads again (the damaged one is not cached).
    std::fs::write(&bundle, &good).unwrap();
    assert_eq!(r.leaf(256).unwrap().as_ref(), Some(&entries[256].0));

    // An envelope bundle whose item was swapped for another entry's.
    let envs = dir.path().join("tiles/tile/envelopes/000");
    let good_envs = std::fs::read(&envs).unwrap();
    let items: Vec<Vec<u8>> = regledger::tlog::tile::decode_entry_bundle(&good_envs, 256)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let mut swapped = items.clone();
    swapped.swap(3, 4);
    let refs: Vec<&[u8]> = swapped.iter().map(Vec::as_slice).collect();
    std::fs::write(
        &envs,
        regledger::tlog::tile::encode_entry_bundle(&refs).unwrap(),
    )
    .unwrap();
    let e = r.envelope(3).unwrap_err();
    assert!(matches!(e, StoreError::Archive { .. }), "{e}");
    // An empty item where no prune is logged is a lost envelope, not "pruned".
    let mut emptied = items.clone();
    emptied[5].clear();
    let refs: Vec<&[u8]> = emptied.iter().map(Vec::as_slice).collect();
    std::fs::write(
        &envs,
        regledger::tlog::tile::encode_entry_bundle(&refs).unwrap(),
    )
    .unwrap();
    let e = r.envelope(5).unwrap_err();
    assert!(e.to_string().contains("no prune of it"), "{e}");
    assert_eq!(r.envelope(6).unwrap().as_ref(), Some(&entries[6].1));
    // A missing bundle is the same error (a fresh store: nothing cached).
    std::fs::remove_file(&envs).unwrap();
    drop(r);
    drop(store);
    let store = with_tiles(dir.path());
    let r = store.read().unwrap();
    assert!(matches!(
        r.envelope(10).unwrap_err(),
        StoreError::Archive { .. }
    ));
    // Opened without its tile directory, the store refuses to read
    // archived entries instead of calling them absent.
    drop(r);
    drop(store);
    let bare = crate::store::Store::open(&dir.path().join("ledger.redb")).unwrap();
    let r = bare.read().unwrap();
    assert!(matches!(r.leaf(3).unwrap_err(), StoreError::Archive { .. }));
    assert!(matches!(
        r.envelope(3).unwrap_err(),
        StoreError::Archive { .. }
    ));
    assert!(r.leaves(0, 10).is_err());
    assert_eq!(r.leaf(599).unwrap().as_ref(), Some(&entries[599].0));
}

/// hash_rows counts the HASHES rows of the store.
fn hash_rows(store: &crate::store::Store) -> u64 {
    let crate::store::Store::Redb(s) = store else {
        unreachable!()
    };
    let r = s.db().unwrap().begin_read().unwrap();
    r.open_table(HASHES).unwrap().len().unwrap()
}

/// every_hash_and_root reads every stored hash of a tree of `n` and its
/// root at every size, through the store's snapshot.
fn every_hash_and_root(store: &crate::store::Store, n: u64) -> (Vec<Hash>, Vec<Hash>) {
    use regledger::tlog::tree::{stored_hash_count, HashReader};
    let r = store.read().unwrap();
    let all: Vec<u64> = (0..stored_hash_count(n)).collect();
    let hashes = r.read_hashes(&all).unwrap();
    let roots = (1..=n)
        .map(|size| r.root_at(HashSuite::Sha256, size).unwrap())
        .collect();
    (hashes, roots)
}

#[test]
fn the_hashes_inside_archived_bundles_are_recomputed_from_them_and_checked() {
    use regledger::tlog::tree::{stored_hash_count, stored_hash_index, HashReader};
    // The same entries twice: one store never archives, the other does,
    // in rounds that end inside bundles and on their edges.
    let plain_dir = tempfile::tempdir().unwrap();
    let (plain, _) = archived_log(plain_dir.path(), 1100, false);
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = archived_log(dir.path(), 300, true);
    for n in [512, 700, 1024, 1100] {
        publish(dir.path(), &store, n, true);
    }
    // Four bundles archived: 510 of the 511 stored hashes of each are gone
    // (levels 0–7; the level-8 hash each is checked against stays).
    assert_eq!(store.read().unwrap().archived_below(), 1024);
    assert_eq!(hash_rows(&store), stored_hash_count(1100) - 4 * 510);
    assert_eq!(hash_rows(&plain), stored_hash_count(1100));
    // Every stored hash, and the root at every size, read as before.
    let want = every_hash_and_root(&plain, 1100);
    assert!(
        every_hash_and_root(&store, 1100) == want,
        "hashes or roots differ"
    );
    // A write transaction's and an appender's roots too.
    let mut tx = store.write().unwrap();
    assert_eq!(tx.root_at(HashSuite::Sha256, 300).unwrap(), want.1[299]);
    let a = tx.appender(HashSuite::Sha256).unwrap();
    assert_eq!(a.root_at(777).unwrap(), want.1[776]);
    drop(a);
    drop(tx);

    // A flipped byte in archived bundle 1: every hash that needs it is an
    // error naming the file, never a wrong hash; the rest still read.
    let bundle = dir.path().join("tiles/tile/entries/001");
    let good = std::fs::read(&bundle).unwrap();
    // Inside leaf 300's bytes, so the bundle still decodes.
    let mut items: Vec<Vec<u8>> = regledger::tlog::tile::decode_entry_bundle(&good, 256)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    items[300 - 256][20] ^= 1;
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    let bad = regledger::tlog::tile::encode_entry_bundle(&refs).unwrap();
    std::fs::write(&bundle, &bad).unwrap();
    drop(store);
    let store = with_tiles(dir.path());
    let r = store.read().unwrap();
    for i in [256, 300, 511] {
        let e = r.read_hashes(&[stored_hash_index(0, i)]).unwrap_err();
        assert!(
            e.to_string().contains("tile/entries/001"),
            "hash of {i}: {e}"
        );
    }
    let e = r.root_at(HashSuite::Sha256, 300).unwrap_err();
    assert!(e.to_string().contains("tile/entries/001"), "{e}");
    let e = r.leaf(300).unwrap_err();
    assert!(
        matches!(&e, StoreError::Archive { path, .. } if path == "tile/entries/001"),
        "{e}"
    );
    // Bundle 0's hashes, and sizes built from whole bundles, need no
    // bundle 1 bytes (its level-8 hash is a row).
    assert_eq!(r.root_at(HashSuite::Sha256, 200).unwrap(), want.1[199]);
    assert_eq!(r.root_at(HashSuite::Sha256, 512).unwrap(), want.1[511]);
    assert_eq!(r.root_at(HashSuite::Sha256, 1100).unwrap(), want.1[1099]);
    // Restored: it reads again (nothing damaged was cached).
    std::fs::write(&bundle, &good).unwrap();
    assert_eq!(r.root_at(HashSuite::Sha256, 300).unwrap(), want.1[299]);
    drop(r);
    drop(store);

    // Opened without its tile directory, an archived hash is an error,
    // not a missing hash.
    let bare = crate::store::Store::open(&dir.path().join("ledger.redb")).unwrap();
    let e = bare
        .read()
        .unwrap()
        .read_hashes(&[stored_hash_index(3, 2)])
        .unwrap_err();
    assert!(e.to_string().contains("without its tile directory"), "{e}");
}

#[test]
fn rows_stay_until_the_tile_directory_holds_them_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    // 300 entries: bundle 0 archived, nothing else full.
    let (store, _) = archived_log(dir.path(), 300, true);
    assert_eq!(rows(&store), (44, 44));
    // A second archive call archives nothing more (no new full bundle).
    let upto = store.read().unwrap().archivable(300).unwrap();
    assert_eq!(upto.index(), 256);
    let tx = store.write().unwrap();
    assert_eq!(tx.archive_below(upto).unwrap(), 256);
    tx.commit().unwrap();
    assert_eq!(rows(&store), (44, 44));

    // A bundle missing from the tile directory, or different from the
    // rows, keeps its rows, and later bundles wait for it.
    for damage in ["missing", "different"] {
        let dir2 = tempfile::tempdir().unwrap();
        let (store2, _) = archived_log(dir2.path(), 600, false);
        let b0 = dir2.path().join("tiles/tile/entries/000");
        match damage {
            "missing" => std::fs::remove_file(&b0).unwrap(),
            _ => {
                let mut b = std::fs::read(&b0).unwrap();
                b[10] ^= 1;
                std::fs::write(&b0, b).unwrap();
            }
        }
        let upto = store2.read().unwrap().archivable(600).unwrap();
        assert_eq!(upto.index(), 0, "{damage}");
        let tx = store2.write().unwrap();
        assert_eq!(tx.archive_below(upto).unwrap(), 0, "{damage}");
        tx.commit().unwrap();
        assert_eq!(rows(&store2), (600, 600), "{damage}");
        // Asked past the log's end, it looks only at what is there.
        assert_eq!(
            store2.read().unwrap().archivable(1 << 20).unwrap().index(),
            0
        );
        // Bundle 1 is intact but waits for bundle 0.
        assert!(dir2.path().join("tiles/tile/entries/001").is_file());
    }

    // A store opened without an archive never drops rows.
    let dir3 = tempfile::tempdir().unwrap();
    let plain = crate::store::Store::open(&dir3.path().join("ledger.redb")).unwrap();
    let upto = plain.read().unwrap().archivable(1 << 20).unwrap();
    assert_eq!(upto.index(), 0);
    let tx = plain.write().unwrap();
    assert_eq!(tx.archive_below(upto).unwrap(), 0);
    tx.commit().unwrap();
}

#[test]
fn operation_events_are_indexed_by_16_bytes_and_a_hit_is_confirmed_on_all_32() {
    use regledger::entry::leaf::{envelope_hash, Leaf};
    let suite = HashSuite::Sha256;
    let kit = Testkit::live("store.test/event-ids");
    let event = |n: u64| {
        kit.business.sign(
            EntryKind::OperationEvent,
            &serde_json::json!({"agreement_id": "SA-1", "action": "access",
                "occurred_at_ms": 1_000 + n, "actor": "a", "records": 1,
                "personal_data_commitments": []}),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::Store::open(&dir.path().join("ledger.redb")).unwrap();
    let crate::store::Store::Redb(redb) = &store else {
        unreachable!()
    };
    let counts = || {
        let r = redb.db().unwrap().begin_read().unwrap();
        (
            r.open_table(EVENT_IDS).unwrap().len().unwrap(),
            r.open_table(CONTENT_IDS).unwrap().len().unwrap(),
        )
    };
    let (e0, e1, e2) = (event(0), event(1), event(2));
    let c0 = e0.content_id();
    // Another content id with c0's first 16 bytes (no real collision can
    // be made: the test names it).
    let mut twin = c0;
    twin[31] ^= 1;
    let put = |a: &mut crate::store::Appender<'_>, i: u64, env: &[u8], kind, cid: [u8; 32]| {
        let fx = Effects::new(kind, "p");
        let root = a.next_root(i, &fx, &cid).unwrap();
        let leaf = Leaf::compact(
            i,
            10 + i,
            Hash([i as u8; 32]),
            root,
            envelope_hash(suite, env),
        )
        .to_bytes();
        let c = EntryContext {
            index: i,
            integrated_time_ms: 10 + i,
            log_id: "store.test/event-ids".into(),
        };
        a.append_entry(&c, suite.leaf_hash(&leaf), &leaf, Some(env), &fx, cid)
            .unwrap();
    };
    let mut tx = store.write().unwrap();
    let mut a = tx.appender(suite).unwrap();
    put(&mut a, 0, &e0.to_bytes(), EntryKind::OperationEvent, c0);
    // In the same transaction: a replay is found, the twin is not one.
    assert_eq!(a.logged_at(&c0).unwrap(), Some(0));
    assert_eq!(a.logged_at(&twin).unwrap(), None);
    // The twin is logged (as entry 1): its prefix is taken, so it goes to
    // the whole-id table, and both are found.
    put(&mut a, 1, &e1.to_bytes(), EntryKind::OperationEvent, twin);
    // A registry act is indexed by its whole id (the snapshot lists them).
    let c2 = e2.content_id();
    put(&mut a, 2, &e2.to_bytes(), EntryKind::ObjectionFiled, c2);
    drop(a);
    tx.commit().unwrap();
    assert_eq!(counts(), (1, 2));
    let mut tx = store.write().unwrap();
    let a = tx.appender(suite).unwrap();
    assert_eq!(a.logged_at(&c0).unwrap(), Some(0));
    assert_eq!(a.logged_at(&twin).unwrap(), Some(1));
    assert_eq!(a.logged_at(&c2).unwrap(), Some(2));
    assert_eq!(a.logged_at(&event(3).content_id()).unwrap(), None);
    drop(a);
    drop(tx);
    let mut ids = Vec::new();
    store
        .read()
        .unwrap()
        .content_ids(&mut |id, i| {
            ids.push((*id, i));
            Ok(())
        })
        .unwrap();
    ids.sort();
    let mut want = vec![(twin, 1), (c2, 2)];
    want.sort();
    assert_eq!(ids, want);

    // Entry 0's envelope pruned (D22): its bytes are gone, so a content
    // with its first 16 bytes counts as a replay of it, as its whole id did.
    {
        let w = redb.db().unwrap().begin_write().unwrap();
        w.open_table(ENVELOPES).unwrap().remove(0).unwrap();
        w.open_table(PRUNED).unwrap().insert(0, 5).unwrap();
        w.commit().unwrap();
    }
    let mut other = c0;
    other[20] ^= 1;
    let mut tx = store.write().unwrap();
    let a = tx.appender(suite).unwrap();
    assert_eq!(a.logged_at(&c0).unwrap(), Some(0));
    assert_eq!(a.logged_at(&other).unwrap(), Some(0));
}
