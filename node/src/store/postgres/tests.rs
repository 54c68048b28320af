//! Fencing (decision D20), on a real server: a leader whose lease was
//! taken over cannot commit, whatever it believes; a commit in flight when
//! the lease lapses finishes before the takeover, under the old token.

use std::sync::Arc;
use std::time::Duration;

use regledger::entry::chain::EntryContext;
use regledger::registry::{Effects, EntryKind};
use regledger::{Hash, HashSuite};

use super::lease::{elect, Lease};
use super::PgStore;
use crate::store::StoreError;

const TTL: Duration = Duration::from_millis(400);

fn ctx(index: u64) -> EntryContext {
    EntryContext {
        index,
        integrated_time_ms: 10 + index,
        log_id: "store.test/fence".into(),
    }
}

/// append_one stages and appends one entry (leaf bytes `[h]`, hash `[h; 32]`).
fn append_one(w: &mut super::PgWrite, index: u64, h: u8) -> Result<(), StoreError> {
    let fx = Effects::new(EntryKind::OperationEvent, "p");
    let mut a = crate::store::Appender::Postgres(w.appender(HashSuite::Sha256)?);
    a.next_root(index, &fx, &[h; 32])?;
    a.append_entry(&ctx(index), Hash([h; 32]), &[h], None, &fx, [h; 32])
}

/// busy_for keeps `tx` working for `d`, a statement every 50 ms, as a
/// batch being prepared does: the server ends a write transaction idle for
/// the lease's idle timeout (one second here), and on a loaded machine one
/// long sleep can outlast it, which would fail the commit this test is about.
fn busy_for(tx: &super::PgWrite, d: Duration) {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        tx.witness_checkpoint().unwrap();
    }
}

/// candidate opens a store on `url` with a lease named `name` that the
/// test drives (no thread).
fn candidate(url: &str, name: &str) -> (PgStore, Arc<Lease>, tokio_postgres::Client) {
    let s = PgStore::open(url).unwrap();
    let l = Arc::new(Lease::new(name.into(), TTL));
    s.with_lease(l.clone());
    let c = s.connect_raw();
    (s, l, c)
}

fn append(s: &PgStore, index: u64, h: u8) -> Result<(), StoreError> {
    let mut tx = s.write()?;
    append_one(&mut tx, index, h)?;
    tx.commit()
}

#[test]
fn a_leader_whose_lease_was_taken_cannot_commit_whatever_it_believes() {
    let Some(url) = crate::store::pgtest::fresh_url() else {
        return;
    };
    let (a, la, ca) = candidate(&url, "a");
    let (b, lb, cb) = candidate(&url, "b");
    elect(&ca, &la).unwrap();
    elect(&cb, &lb).unwrap();
    let ta = la.token();
    assert!(ta != 0 && lb.token() == 0, "one leader: a");
    append(&a, 0, 1).unwrap();
    assert!(matches!(append(&b, 1, 2), Err(StoreError::NotLeader)));

    // a pauses past its lease; b takes over.
    std::thread::sleep(TTL + Duration::from_millis(200));
    elect(&cb, &lb).unwrap();
    let tb = lb.token();
    assert!(tb > ta, "b took the lease with the next token");
    // a wakes up believing it still leads: the database refuses it.
    la.believe(ta);
    match append(&a, 1, 3) {
        Err(StoreError::Fenced { mine, current }) => assert_eq!((mine, current), (ta, tb)),
        other => panic!("a fenced leader committed: {other:?}"),
    }
    assert_eq!(la.token(), 0, "a stood down");
    // Nothing of a's attempt is there; b continues the same tree.
    append(&b, 1, 4).unwrap();
    let r = b.read().unwrap();
    assert_eq!(r.size().unwrap(), 2);
    assert_eq!(r.leaf(1).unwrap().as_deref(), Some(&[4u8][..]));
    // And a's renewal finds the lease gone.
    la.believe(ta);
    elect(&ca, &la).unwrap();
    assert_eq!(la.token(), 0);
}

#[test]
fn a_commit_in_flight_finishes_before_the_takeover() {
    let Some(url) = crate::store::pgtest::fresh_url() else {
        return;
    };
    let (a, la, ca) = candidate(&url, "a");
    let (_b, lb, cb) = candidate(&url, "b");
    elect(&ca, &la).unwrap();
    let ta = la.token();
    // a begins a batch (its token checked), then its lease lapses.
    let mut tx = a.write().unwrap();
    append_one(&mut tx, 0, 1).unwrap();
    busy_for(&tx, TTL + Duration::from_millis(200));
    // b's takeover waits for the writer lock a's batch holds.
    let taker = std::thread::spawn(move || {
        elect(&cb, &lb).unwrap();
        lb.token()
    });
    busy_for(&tx, Duration::from_millis(200));
    assert!(
        !taker.is_finished(),
        "the takeover did not wait for the commit in flight"
    );
    tx.commit().unwrap();
    let tb = taker.join().unwrap();
    assert!(tb > ta, "then b took over");
    assert_eq!(
        a.read().unwrap().size().unwrap(),
        1,
        "a's batch committed under its token"
    );
    la.believe(ta);
    assert!(matches!(append(&a, 1, 2), Err(StoreError::Fenced { .. })));
}

#[test]
fn after_a_takeover_and_back_the_state_the_other_leader_wrote_is_seen() {
    use regledger::registry::StateReader;
    let Some(url) = crate::store::pgtest::fresh_url() else {
        return;
    };
    let (fx, key) = crate::store::tests::genesis_fx();
    let (a, la, ca) = candidate(&url, "a");
    let (b, lb, cb) = candidate(&url, "b");
    elect(&ca, &la).unwrap();
    // a leads, and reads the object as absent (kept in memory).
    append(&a, 0, 1).unwrap();
    {
        let mut tx = a.write().unwrap();
        let ap = crate::store::Appender::Postgres(tx.appender(HashSuite::Sha256).unwrap());
        assert_eq!(ap.state().get(&key), None);
    }
    // b takes over and writes it.
    std::thread::sleep(TTL + Duration::from_millis(200));
    elect(&cb, &lb).unwrap();
    assert!(lb.token() != 0);
    {
        let mut tx = b.write().unwrap();
        let mut ap = crate::store::Appender::Postgres(tx.appender(HashSuite::Sha256).unwrap());
        ap.next_root(1, &fx, &[2; 32]).unwrap();
        ap.append_entry(&ctx(1), Hash([2; 32]), &[2], None, &fx, [2; 32])
            .unwrap();
        drop(ap);
        tx.commit().unwrap();
    }
    // b lapses; a takes the lease back and must see b's write.
    std::thread::sleep(TTL + Duration::from_millis(200));
    la.step_down();
    elect(&ca, &la).unwrap();
    assert!(la.token() != 0, "a leads again");
    let mut tx = a.write().unwrap();
    assert_eq!(tx.head().size, 2);
    let ap = crate::store::Appender::Postgres(tx.appender(HashSuite::Sha256).unwrap());
    assert!(
        ap.state().get(&key).is_some(),
        "a answered from memory what b changed"
    );
}

/// Every committed hash an append reads is in the frontier the write
/// transaction reads with its first miss (no PostgreSQL needed).
#[test]
fn appends_read_only_the_committed_frontier() {
    use regledger::tlog::tree::{stored_hashes_for_record, HashReader, TreeError};
    use std::cell::RefCell;
    /// Asked records what the append asked for (every hash as zero).
    struct Asked(RefCell<Vec<u64>>);
    impl HashReader for Asked {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TreeError> {
            self.0.borrow_mut().extend_from_slice(indexes);
            Ok(vec![Hash::default(); indexes.len()])
        }
    }
    for size in 0..1100u64 {
        let f = super::write::frontier(size);
        assert_eq!(f.len() as u32, size.count_ones(), "size {size}");
        // The next append, and the whole batch after it: every read is of
        // the committed frontier or of a hash the batch itself stored.
        let mut stored: Vec<u64> = Vec::new();
        for n in size..size + 40 {
            let asked = Asked(RefCell::new(Vec::new()));
            let new =
                stored_hashes_for_record(HashSuite::Sha256, n, Hash::default(), &asked).unwrap();
            for x in asked.0.into_inner() {
                assert!(
                    f.contains(&x) || stored.contains(&x),
                    "size {size}, append {n}: hash {x} is neither committed frontier nor new"
                );
            }
            let first = regledger::tlog::tree::stored_hash_count(n);
            stored.extend(first..first + new.len() as u64);
        }
    }
}
