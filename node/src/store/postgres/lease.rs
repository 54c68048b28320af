//! Leadership of a log whose nodes share one PostgreSQL database (decision
//! D20): a lease row with a fencing token.
//!
//! `regledger.leader` holds one row: the holder, its token and when its
//! lease expires, by the server's clock (no node's clock matters). Every
//! candidate runs [`run`]: one statement renews the lease of the holder
//! that still has its token, or takes an expired lease with the next token.
//! A leader that cannot renew for its whole lease steps down locally.
//!
//! The token is what fences: every write transaction of a node with a
//! lease takes the writer lock and then checks, inside the transaction,
//! that the row's token is still its own ([`super::PgStore::write`]). A
//! takeover changes the token only while holding the writer lock itself,
//! so every commit happens under the token valid when it commits, and a
//! leader paused past its lease (SIGSTOP, a VM freeze, a long GC) that
//! wakes up cannot commit: the token moved on with the new leader. A paused
//! leader's open transaction is ended by the server after
//! `idle_in_transaction_session_timeout` (half the lease), so it cannot
//! hold the new leader back.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::types::Type;

use super::{block_on, Shared};
use crate::store::StoreError;

/// Lease is this node's view of its leadership.
pub struct Lease {
    /// holder names this node in the lease row.
    pub holder: String,
    /// ttl is the lease's length.
    pub ttl: Duration,
    /// token is this node's fencing token while it leads, 0 otherwise.
    token: AtomicI64,
    /// valid_until is when this node's lease ends by its own clock
    /// (measured from before the renewal was sent), while it leads.
    valid_until: Mutex<Option<Instant>>,
}

impl Lease {
    /// new is a lease not held yet.
    pub fn new(holder: String, ttl: Duration) -> Lease {
        Lease {
            holder,
            ttl,
            token: AtomicI64::new(0),
            valid_until: Mutex::new(None),
        }
    }

    /// token is the fencing token while this node believes it leads (0: it does not).
    pub fn token(&self) -> i64 {
        let valid = self
            .valid_until
            .lock()
            .expect("lease")
            .is_some_and(|t| Instant::now() < t);
        if valid {
            self.token.load(Ordering::Acquire)
        } else {
            0
        }
    }

    /// step_down forgets the leadership (a write found the token moved on,
    /// or the lease could not be renewed in time).
    pub fn step_down(&self) {
        if self.token.swap(0, Ordering::AcqRel) != 0 {
            tracing::warn!(holder = %self.holder, "leadership lost: standing down (no more commits or checkpoints)");
        }
        *self.valid_until.lock().expect("lease") = None;
    }

    /// idle_timeout_ms is how long the server lets a write transaction of
    /// this node sit idle: half the lease, at least a second.
    pub fn idle_timeout_ms(&self) -> u128 {
        (self.ttl.as_millis() / 2).max(1000)
    }
}

/// RENEW extends the lease of the holder that still has its token.
const RENEW: &str = "UPDATE regledger.leader \
     SET expires_at = clock_timestamp() + $3 * interval '1 millisecond' \
     WHERE id = 1 AND holder = $1 AND token = $2 RETURNING token";

/// EXPIRED says whether the lease can be taken.
const EXPIRED: &str = "SELECT expires_at < clock_timestamp() FROM regledger.leader WHERE id = 1";

/// TAKE takes an expired lease with the next token. It runs after taking
/// the writer lock, so no commit of the previous leader is in flight when
/// the token changes: one that began before commits first, under the old
/// token; every later one reads the new token and is refused.
const TAKE: &str = "UPDATE regledger.leader SET token = token + 1, holder = $1, \
     expires_at = clock_timestamp() + $2 * interval '1 millisecond' \
     WHERE id = 1 AND expires_at < clock_timestamp() RETURNING token";

#[cfg(test)]
impl Lease {
    /// believe makes this node believe it holds `token` for another lease,
    /// whatever the database says: what a paused leader believes on waking.
    pub(crate) fn believe(&self, token: i64) {
        self.token.store(token, Ordering::Release);
        *self.valid_until.lock().expect("lease") = Some(Instant::now() + self.ttl);
    }
}

/// elect runs one round on `c`: renew, take over, or stay a standby.
pub(crate) fn elect(c: &tokio_postgres::Client, lease: &Lease) -> Result<(), StoreError> {
    let sent = Instant::now();
    let mine = lease.token.load(Ordering::Acquire);
    let ttl_ms = lease.ttl.as_millis() as f64;
    if mine != 0 {
        let renewed = block_on(c.query_typed_opt(
            RENEW,
            &[
                (&lease.holder, Type::TEXT),
                (&mine, Type::INT8),
                (&ttl_ms, Type::FLOAT8),
            ],
        ))?;
        if renewed.is_some() {
            // Counted from before the statement was sent: the server's
            // expiry is later than this, never earlier.
            *lease.valid_until.lock().expect("lease") = Some(sent + lease.ttl);
            return Ok(());
        }
        lease.step_down();
    }
    let expired: bool = block_on(c.query_typed_one(EXPIRED, &[]))?.get(0);
    if !expired {
        return Ok(());
    }
    let sent = Instant::now();
    // The writer lock waits for a commit in flight (a paused leader's open
    // transaction ends after its idle timeout).
    block_on(c.batch_execute(&format!(
        "BEGIN; SET LOCAL lock_timeout = '{}ms'; SELECT id FROM regledger.writer WHERE id = 1 FOR UPDATE",
        lease.ttl.as_millis().max(1000)
    )))?;
    let taken = block_on(c.query_typed_opt(
        TAKE,
        &[(&lease.holder, Type::TEXT), (&ttl_ms, Type::FLOAT8)],
    ));
    let taken = match taken {
        Ok(t) => t,
        Err(e) => {
            let _ = block_on(c.batch_execute("ROLLBACK"));
            return Err(e.into());
        }
    };
    block_on(c.batch_execute("COMMIT"))?;
    if let Some(r) = taken {
        let t: i64 = r.get(0);
        tracing::warn!(holder = %lease.holder, token = t, "leadership taken: this node sequences and publishes");
        lease.token.store(t, Ordering::Release);
        *lease.valid_until.lock().expect("lease") = Some(sent + lease.ttl);
    }
    Ok(())
}

/// run keeps `lease` current for the life of the process: a round every
/// third of the lease (a tenth of a second at least).
pub(super) fn run(shared: Arc<Shared>, lease: Arc<Lease>) {
    let every = (lease.ttl / 3).max(Duration::from_millis(100));
    let mut conn: Option<tokio_postgres::Client> = None;
    loop {
        if conn.as_ref().is_none_or(|c| c.is_closed()) {
            conn = shared.connect().ok();
        }
        let r = match &conn {
            Some(c) => elect(c, &lease),
            None => Err(StoreError::Postgres("cannot connect".into())),
        };
        if let Err(e) = r {
            // Leadership holds only as long as the lease this node could
            // renew: token() reads 0 once valid_until passes.
            tracing::debug!("leadership round failed: {e}");
            if lease.token() == 0 {
                lease.step_down();
            }
        }
        std::thread::sleep(every);
    }
}
