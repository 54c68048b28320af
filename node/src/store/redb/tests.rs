//! The store's tests: the D12 migration on old data directories, the
//! on-disk format of every named value, and the append path's guards.

use super::*;
use redb::{ReadableTable, TableHandle};
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
