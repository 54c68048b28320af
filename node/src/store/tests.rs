//! The driver-independent store tests: every driver gives the boundary the
//! same meaning, so each test here runs against every driver ([`drivers`]).
//! Driver-specific ones (redb's on-disk format and migrations) live beside
//! their driver.

use super::*;
use regledger::entry::chain::EntryContext;
use regledger::registry::{Effects, EntryKind};

/// Driver is one store under test, with what keeps it alive (a temp dir).
struct Driver {
    name: &'static str,
    store: Store,
    _keep: Box<dyn std::any::Any>,
}

/// drivers opens a fresh, empty store of every driver (PostgreSQL on a
/// real server, see store/pgtest.rs).
fn drivers() -> Vec<Driver> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("ledger.redb")).unwrap();
    let mut out = vec![Driver {
        name: "redb",
        store,
        _keep: Box::new(dir),
    }];
    if let Some(url) = super::pgtest::fresh_url() {
        out.push(Driver {
            name: "postgres",
            store: Store::open_spec(&StoreSpec::Postgres(url)).unwrap(),
            _keep: Box::new(()),
        });
    }
    out
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

/// append stages an entry's state writes at the head and appends it.
fn append(
    a: &mut Appender<'_>,
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

/// nothing is the effects of an entry that writes and concerns nothing.
fn nothing() -> Effects {
    Effects::new(EntryKind::OperationEvent, "p")
}

/// about is the effects of an entry that concerns `subjects`.
fn about(subjects: &[&str]) -> Effects {
    let mut fx = nothing();
    fx.subjects = subjects.iter().map(|s| s.to_string()).collect();
    fx
}

#[test]
fn an_append_not_at_the_head_is_refused_and_writes_nothing() {
    for Driver { name, store, .. } in drivers() {
        let mut tx = store.write().unwrap();
        let mut a = tx.appender(HashSuite::Sha256).unwrap();
        append(&mut a, ctx(0, 10, 1), b"leaf 0", &nothing(), [1; 32]).unwrap();
        let e = append(&mut a, ctx(2, 20, 2), b"leaf 2", &nothing(), [2; 32]).unwrap_err();
        assert!(
            matches!(e, StoreError::NotNext { index: 2, size: 1 }),
            "{name}: {e}"
        );
        assert_eq!(a.logged_at(&[2; 32]).unwrap(), None, "{name}");
        assert_eq!(a.logged_at(&[1; 32]).unwrap(), Some(0), "{name}");
        drop(a);
        assert_eq!(tx.head().size, 1, "{name}");
        tx.commit().unwrap();
        let r = store.read().unwrap();
        assert_eq!(
            r.head().unwrap(),
            Head {
                size: 1,
                last_leaf_hash: Hash([1; 32]),
                last_time_ms: 10,
                last_version: 0,
            },
            "{name}"
        );
        assert_eq!(r.leaf(0).unwrap().as_deref(), Some(&b"leaf 0"[..]));
        assert_eq!(r.leaf(1).unwrap(), None, "{name}");
        // The one stored hash of a one-leaf tree is the leaf hash: its root.
        assert_eq!(r.root_at(HashSuite::Sha256, 1).unwrap(), Hash([1; 32]));
    }
}

#[test]
fn a_dropped_write_transaction_writes_nothing() {
    for Driver { name, store, .. } in drivers() {
        let mut tx = store.write().unwrap();
        append(
            &mut tx.appender(HashSuite::Sha256).unwrap(),
            ctx(0, 10, 1),
            b"leaf 0",
            &nothing(),
            [1; 32],
        )
        .unwrap();
        tx.set_tiles_size(1).unwrap();
        drop(tx);
        assert_eq!(store.head().unwrap(), Head::default(), "{name}");
        let r = store.read().unwrap();
        assert_eq!(r.leaf(0).unwrap(), None, "{name}");
        assert_eq!(r.tiles_size().unwrap(), 0, "{name}");
        drop(r);
        // And the next transaction starts from the durable head.
        let mut tx = store.write().unwrap();
        assert_eq!(tx.head(), Head::default(), "{name}");
        append(
            &mut tx.appender(HashSuite::Sha256).unwrap(),
            ctx(0, 11, 3),
            b"leaf 0'",
            &nothing(),
            [3; 32],
        )
        .unwrap();
        tx.commit().unwrap();
        assert_eq!(store.head().unwrap().last_time_ms, 11, "{name}");
    }
}

#[test]
fn a_batch_sees_its_own_appends_and_commits_them_at_once() {
    for Driver { name, store, .. } in drivers() {
        let suite = HashSuite::Sha256;
        let mut tx = store.write().unwrap();
        let mut a = tx.appender(suite).unwrap();
        for i in 0..7u64 {
            let s = format!("subject-{}", i % 2);
            append(
                &mut a,
                ctx(i, 100 + i, i as u8 + 1),
                format!("leaf {i}").as_bytes(),
                &about(&[s.as_str(), "all"]),
                [i as u8 + 1; 32],
            )
            .unwrap();
            assert_eq!(a.head().size, i + 1, "{name}");
            assert_eq!(a.logged_at(&[i as u8 + 1; 32]).unwrap(), Some(i));
        }
        let in_batch = a.root_at(7).unwrap();
        drop(a);
        assert_eq!(tx.root_at(suite, 7).unwrap(), in_batch, "{name}");
        // Another snapshot does not see the batch before it commits.
        assert_eq!(store.read().unwrap().size().unwrap(), 0, "{name}");
        tx.commit().unwrap();

        let r = store.read().unwrap();
        assert_eq!(r.size().unwrap(), 7, "{name}");
        assert_eq!(r.root_at(suite, 7).unwrap(), in_batch, "{name}");
        // The roots of every prefix agree with the tree over the leaf
        // hashes, computed in memory.
        let mut mem: Vec<Hash> = Vec::new();
        for (i, h) in (0u64..).zip(1..=7u8) {
            let more =
                regledger::tlog::tree::stored_hashes_for_record(suite, i, Hash([h; 32]), &mem)
                    .unwrap();
            mem.extend(more);
            let want = regledger::tlog::tree::tree_hash(suite, i + 1, &mem).unwrap();
            assert_eq!(
                r.root_at(suite, i + 1).unwrap(),
                want,
                "{name}: size {}",
                i + 1
            );
        }
        assert_eq!(
            r.leaves(2, 5).unwrap(),
            vec![b"leaf 2".to_vec(), b"leaf 3".to_vec(), b"leaf 4".to_vec()],
            "{name}"
        );
        assert_eq!(r.leaves(5, 100).unwrap().len(), 2, "{name}");
        assert_eq!(r.subjects("subject-1", 100).unwrap(), vec![1, 3, 5]);
        assert_eq!(r.subjects("all", 3).unwrap(), vec![0, 1, 2], "{name}");
        assert!(r.subjects("nobody", 3).unwrap().is_empty(), "{name}");
    }
}

#[test]
fn a_snapshot_does_not_see_later_commits() {
    for Driver { name, store, .. } in drivers() {
        let before = store.read().unwrap();
        let mut tx = store.write().unwrap();
        append(
            &mut tx.appender(HashSuite::Sha256).unwrap(),
            ctx(0, 10, 1),
            b"leaf 0",
            &nothing(),
            [1; 32],
        )
        .unwrap();
        tx.set_published_checkpoint(1, "note 1\n").unwrap();
        tx.commit().unwrap();
        assert_eq!(before.size().unwrap(), 0, "{name}");
        assert_eq!(before.leaf(0).unwrap(), None, "{name}");
        assert_eq!(before.published_checkpoint().unwrap(), None, "{name}");
        let after = store.read().unwrap();
        assert_eq!(after.size().unwrap(), 1, "{name}");
        assert_eq!(
            after.published_checkpoint().unwrap().as_deref(),
            Some("note 1\n")
        );
    }
}

#[test]
fn named_values_read_back() {
    for Driver { name, store, .. } in drivers() {
        let tx = store.write().unwrap();
        tx.set_published_checkpoint(5, "published note\n").unwrap();
        tx.set_tiles_size(5).unwrap();
        tx.set_witness_checkpoint("witness note\n").unwrap();
        assert_eq!(
            tx.witness_checkpoint().unwrap().as_deref(),
            Some("witness note\n"),
            "{name}"
        );
        tx.set_verifying_checkpoint(b"verifying note\n").unwrap();
        tx.set_cosigned_size("http://w.example", 4).unwrap();
        tx.set_webhook_delivered("http://h.example", 17).unwrap();
        tx.commit().unwrap();
        let v = store.read().unwrap();
        assert_eq!(
            v.published_checkpoint().unwrap().as_deref(),
            Some("published note\n"),
            "{name}"
        );
        assert_eq!(v.tiles_size().unwrap(), 5, "{name}");
        assert_eq!(
            v.witness_checkpoint().unwrap().as_deref(),
            Some("witness note\n"),
            "{name}"
        );
        assert_eq!(
            v.verifying_checkpoint().unwrap().as_deref(),
            Some("verifying note\n"),
            "{name}"
        );
        assert_eq!(v.cosigned_size("http://w.example").unwrap(), 4, "{name}");
        assert_eq!(v.cosigned_size("http://other.example").unwrap(), 0);
        assert_eq!(v.webhook_delivered("http://h.example").unwrap(), Some(17));
        assert_eq!(v.webhook_delivered("http://other.example").unwrap(), None);
        drop(v);
        // A later value replaces the earlier one.
        let tx = store.write().unwrap();
        tx.set_published_checkpoint(6, "newer note\n").unwrap();
        tx.set_webhook_delivered("http://h.example", 18).unwrap();
        tx.commit().unwrap();
        let v = store.read().unwrap();
        assert_eq!(
            v.published_checkpoint().unwrap().as_deref(),
            Some("newer note\n"),
            "{name}"
        );
        assert_eq!(v.webhook_delivered("http://h.example").unwrap(), Some(18));
    }
}

#[test]
fn a_prefetched_replay_index_answers_as_the_store_does() {
    for Driver { name, store, .. } in drivers() {
        let mut tx = store.write().unwrap();
        append(
            &mut tx.appender(HashSuite::Sha256).unwrap(),
            ctx(0, 10, 1),
            b"leaf 0",
            &nothing(),
            [1; 32],
        )
        .unwrap();
        tx.commit().unwrap();
        let mut tx = store.write().unwrap();
        let mut a = tx.appender(HashSuite::Sha256).unwrap();
        a.prefetch_logged(&[[1; 32], [2; 32]]).unwrap();
        assert_eq!(a.logged_at(&[1; 32]).unwrap(), Some(0), "{name}");
        assert_eq!(a.logged_at(&[2; 32]).unwrap(), None, "{name}");
        assert_eq!(a.logged_at(&[3; 32]).unwrap(), None, "{name}");
        // An entry appended after the prefetch counts at once.
        append(&mut a, ctx(1, 11, 2), b"leaf 1", &nothing(), [2; 32]).unwrap();
        assert_eq!(a.logged_at(&[2; 32]).unwrap(), Some(1), "{name}");
        drop(a);
        tx.commit().unwrap();
    }
}

#[test]
fn the_state_map_envelopes_and_leaf_version_read_back_alike_on_every_driver() {
    let suite = HashSuite::Sha256;
    // Not an operation event: each entry commits its content id to the map.
    let fx = Effects::new(EntryKind::ObjectionFiled, "p");
    let mut roots_by_driver = Vec::new();
    for Driver { name, store, .. } in drivers() {
        let mut roots = Vec::new();
        // Two transactions: the second stages its map writes on the nodes
        // the first committed (read back from the store, not the overlay).
        for batch in [0..2u64, 2..4u64] {
            let mut tx = store.write().unwrap();
            let mut a = tx.appender(suite).unwrap();
            for i in batch {
                let cid = [i as u8 + 1; 32];
                roots.push(a.next_root(i, &fx, &cid).unwrap());
                let leaf = [regledger::entry::leaf::LEAF_V2, i as u8];
                let (c, lh) = ctx(i, 10 + i, i as u8 + 1);
                let env = format!("envelope {i}");
                a.append_entry(&c, lh, &leaf, Some(env.as_bytes()), &fx, cid)
                    .unwrap();
            }
            drop(a);
            if roots.len() == 2 {
                // The snapshot the publisher would serve size 2 from.
                tx.commit().unwrap();
                store.pin(store.read().unwrap());
            } else {
                tx.commit().unwrap();
            }
        }
        let r = store.read().unwrap();
        assert_eq!(r.head().unwrap().last_version, 2, "{name}");
        assert_eq!(
            r.state_map(suite).root().unwrap(),
            *roots.last().unwrap(),
            "{name}"
        );
        for i in 0..4u64 {
            assert_eq!(
                r.envelope(i).unwrap(),
                Some(format!("envelope {i}").into_bytes()),
                "{name}"
            );
            let key = regledger::registry::commit::MapKey::Content([i as u8 + 1; 32]).bytes();
            assert!(r.state_map(suite).get(&key).unwrap().is_some(), "{name}");
        }
        assert_eq!(r.envelope(4).unwrap(), None, "{name}");
        // The pinned snapshot still sees the map at size 2.
        let pinned = store.pinned().unwrap();
        assert_eq!(pinned.size().unwrap(), 2, "{name}");
        assert_eq!(pinned.state_map(suite).root().unwrap(), roots[1], "{name}");
        let key = regledger::registry::commit::MapKey::Content([3; 32]).bytes();
        assert!(
            pinned.state_map(suite).get(&key).unwrap().is_none(),
            "{name}"
        );
        // A staged index must be appended before the next is staged.
        let mut tx = store.write().unwrap();
        let mut a = tx.appender(suite).unwrap();
        a.next_root(4, &fx, &[9; 32]).unwrap();
        assert!(matches!(
            a.next_root(4, &fx, &[9; 32]),
            Err(StoreError::NotNext { .. })
        ));
        drop(a);
        drop(tx);
        roots_by_driver.push((name, roots));
    }
    // Every driver computes the same roots for the same entries.
    for w in roots_by_driver.windows(2) {
        assert_eq!(w[0].1, w[1].1, "{} vs {}", w[0].0, w[1].0);
    }
}

/// genesis_fx is the effects of a real genesis entry (it writes the
/// registry's genesis object), and the key it writes.
pub(super) fn genesis_fx() -> (Effects, regledger::registry::StateKey) {
    use regledger::registry::{apply, MemoryState, StateKey};
    let kit = regledger::testkit::Testkit::new("store.test/cache");
    let steps = kit.lifecycle(HashSuite::Sha256, "guangxi");
    let c = EntryContext {
        index: 0,
        integrated_time_ms: steps[0].time_ms,
        log_id: kit.origin.clone(),
    };
    let fx = apply(&MemoryState::default(), &c, &steps[0].envelope).unwrap();
    assert!(fx.writes.iter().any(|(k, _)| *k == StateKey::Genesis));
    (fx, StateKey::Genesis)
}

#[test]
fn a_failed_commit_leaves_none_of_its_state_behind_for_the_next_transaction() {
    let (fx, key) = genesis_fx();
    for Driver { name, store, .. } in drivers() {
        // The object is read as absent first: the cache knows "absent".
        {
            let mut tx = store.write().unwrap();
            let a = tx.appender(HashSuite::Sha256).unwrap();
            assert_eq!(a.state().get(&key), None, "{name}");
        }
        // A batch writes it, reads its own write, and its commit fails.
        let mut tx = store.write().unwrap();
        let mut a = tx.appender(HashSuite::Sha256).unwrap();
        append(&mut a, ctx(0, 10, 1), b"leaf 0", &fx, [1; 32]).unwrap();
        assert!(a.state().get(&key).is_some(), "{name}: its own write");
        drop(a);
        store
            .cache()
            .fail_commit
            .store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(tx.commit().is_err(), "{name}");
        // The next transaction is judged against the durable state.
        {
            let mut tx = store.write().unwrap();
            assert_eq!(tx.head().size, 0, "{name}");
            let a = tx.appender(HashSuite::Sha256).unwrap();
            assert_eq!(a.state().get(&key), None, "{name}: a failed write stayed");
        }
        assert_eq!(store.read().unwrap().get(&key), None, "{name}");
        // Committed, it is seen, and kept in memory.
        let mut tx = store.write().unwrap();
        let mut a = tx.appender(HashSuite::Sha256).unwrap();
        append(&mut a, ctx(0, 10, 1), b"leaf 0", &fx, [1; 32]).unwrap();
        drop(a);
        tx.commit().unwrap();
        let mut tx = store.write().unwrap();
        let a = tx.appender(HashSuite::Sha256).unwrap();
        assert_eq!(
            a.state().get(&key),
            store.read().unwrap().get(&key),
            "{name}: the cache answers as the store"
        );
        assert!(store.read().unwrap().get(&key).is_some(), "{name}");
        assert!(store.cache().len() > 0, "{name}: kept in memory");
    }
}

#[test]
fn a_reopen_forgets_the_state_in_memory() {
    let (fx, key) = genesis_fx();
    for Driver { name, store, .. } in drivers() {
        let mut tx = store.write().unwrap();
        let mut a = tx.appender(HashSuite::Sha256).unwrap();
        append(&mut a, ctx(0, 10, 1), b"leaf 0", &fx, [1; 32]).unwrap();
        drop(a);
        tx.commit().unwrap();
        assert!(store.cache().len() > 0, "{name}");
        store.reopen().unwrap();
        assert_eq!(store.cache().len(), 0, "{name}");
        let mut tx = store.write().unwrap();
        let a = tx.appender(HashSuite::Sha256).unwrap();
        assert!(
            a.state().get(&key).is_some(),
            "{name}: read again from the store"
        );
    }
}
