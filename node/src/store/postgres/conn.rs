//! Connections: the driver's runtime, the pool, and blocking on a query.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use tokio_postgres::{Client, NoTls};

use super::POOL;
use crate::store::StoreError;

/// ThreadWaker wakes the thread blocked in [`block_on`].
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// block_on polls `f` to completion on the calling thread, parking it
/// between polls. The futures it runs are the client's halves of queries
/// (channels to a connection task on the driver's runtime), which need no
/// runtime of their own.
pub(super) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The server's message (and its SQLSTATE) says what went wrong; the
        // error's own Display is only "db error".
        StoreError::Postgres(match e.as_db_error() {
            Some(d) => format!("{e}: {} ({})", d.message(), d.code().code()),
            // A connection error's cause ("Connection refused", a timeout)
            // is its source, not its Display.
            None => match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            },
        })
    }
}

/// i is a u64 index as PostgreSQL's bigint (indexes stay far below 2^63).
pub(super) fn i(v: u64) -> i64 {
    v as i64
}

/// Shared is what a store's transactions share: the connections' runtime and the pool.
pub(super) struct Shared {
    pub(super) config: tokio_postgres::Config,
    pub(super) rt: Option<tokio::runtime::Runtime>,
    pub(super) pool: Mutex<Vec<Client>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Dropping a runtime blocks; the store may be dropped on a tokio
        // worker, where blocking panics.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Shared {
    pub(super) fn connect(&self) -> Result<Client, StoreError> {
        let cfg = self.config.clone();
        let rt = self.rt.as_ref().ok_or(StoreError::Closed)?;
        let client = block_on(rt.spawn(async move {
            let (client, conn) = cfg.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::warn!("PostgreSQL connection ended: {e}");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        }))
        .map_err(|_| StoreError::Closed)??;
        block_on(client.batch_execute("SET synchronous_commit = on"))?;
        Ok(client)
    }

    /// checkout takes an idle connection, or connects.
    pub(super) fn checkout(&self) -> Result<Client, StoreError> {
        loop {
            let c = self.pool.lock().expect("pool").pop();
            match c {
                Some(c) if !c.is_closed() => return Ok(c),
                Some(_) => continue,
                None => return self.connect(),
            }
        }
    }

    /// checkin returns a connection that is out of any transaction.
    pub(super) fn checkin(&self, c: Client) {
        let mut p = self.pool.lock().expect("pool");
        if !c.is_closed() && p.len() < POOL {
            p.push(c);
        }
    }
}
