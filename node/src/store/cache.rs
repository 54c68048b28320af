//! The committed registry state in memory (issue 18.4), for both drivers:
//! the sequencer judges every entry against a few state objects (the
//! genesis, the signer's key and participant, the resource or agreement it
//! names), and reading them from the store parses their JSON record every
//! time (on PostgreSQL, one round trip each).
//!
//! # What may be in it
//!
//! Only committed state, tagged with the committed head it is valid at and
//! the lease token it was read under (0 without a lease):
//!
//! - a write transaction begins at a head read from the store itself; if
//!   the cache is tagged otherwise (a commit whose outcome was unknown, a
//!   reopen, another leader's appends, a takeover and back) it is emptied
//!   first, so it never answers for a state that is not the durable one;
//! - an object read during the transaction and not written by it is the
//!   committed one at that head, and is kept;
//! - the transaction's own writes are kept beside it ([`TxCache`]) and
//!   reach the shared cache only once the commit succeeded, together with
//!   the new head. A failed or dropped transaction leaves nothing behind.
//!
//! Signature pre-verification on the request path reads public keys
//! through [`StateCache::key`]: a key id names one public key for good
//! (the rules refuse a key id registered twice, and check a pre-verified
//! key against the one registered when the entry is sequenced), so a
//! committed key read once is kept until a reopen or a change of lease.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use regledger::crypto::PublicKey;
use regledger::registry::{StateKey, StateObject};

use super::Head;

/// MAX_OBJECTS bounds the cache: past it, objects are read from the store
/// again rather than kept (a registry this large has no single hot set to
/// keep anyway).
const MAX_OBJECTS: usize = 1 << 17;
/// MAX_KEYS bounds the key cache likewise.
const MAX_KEYS: usize = 1 << 16;

/// StateCache is one store's committed registry state in memory.
#[derive(Default)]
pub struct StateCache {
    inner: Mutex<Inner>,
    /// fail_commit makes the next commit fail after its writes were
    /// staged (the store tests' and sequencer tests' fault hook).
    #[cfg(test)]
    pub(crate) fail_commit: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Inner {
    /// at is the committed head and lease token `objects` are valid at.
    at: Option<(Head, i64)>,
    /// objects are committed state objects by key (absent ones as `None`).
    objects: HashMap<String, Option<StateObject>>,
    /// keys are committed public keys by key id, read under lease token `keys_token`.
    keys: HashMap<String, PublicKey>,
    keys_token: i64,
}

impl StateCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it leaves nothing half-done that matters:
        // the worst is a missing object, read again.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// clear forgets everything (a reopen, a lost lease).
    pub fn clear(&self) {
        let mut g = self.lock();
        g.at = None;
        g.objects.clear();
        g.keys.clear();
    }

    /// begin starts a write transaction's view at the committed `head`
    /// under lease `token`, emptying the cache if it is tagged otherwise.
    pub fn begin(self: &Arc<Self>, head: Head, token: i64) -> TxCache {
        let mut g = self.lock();
        if g.at != Some((head, token)) {
            g.objects.clear();
            g.at = Some((head, token));
        }
        drop(g);
        TxCache {
            shared: self.clone(),
            start: (head, token),
            writes: HashMap::new(),
            poisoned: false,
        }
    }

    /// key returns the committed public key `key_id`, from memory or
    /// through `read` (a read of the committed state), under lease `token`.
    pub fn key(
        &self,
        key_id: &str,
        token: i64,
        read: impl FnOnce() -> Option<PublicKey>,
    ) -> Option<PublicKey> {
        {
            let mut g = self.lock();
            if g.keys_token != token {
                g.keys.clear();
                g.keys_token = token;
            }
            if let Some(k) = g.keys.get(key_id) {
                return Some(k.clone());
            }
        }
        let k = read()?;
        let mut g = self.lock();
        if g.keys_token == token && g.keys.len() < MAX_KEYS {
            g.keys.insert(key_id.to_string(), k.clone());
        }
        Some(k)
    }

    /// len is how many objects are kept (for the tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().objects.len()
    }
}

/// TxCache is one write transaction's view: its own writes, then the
/// shared committed state.
pub struct TxCache {
    shared: Arc<StateCache>,
    start: (Head, i64),
    /// writes are this transaction's state writes (the last one wins).
    writes: HashMap<String, StateObject>,
    /// poisoned: an append failed part-way; the driver's table may hold
    /// some of its writes, so nothing read now may be kept as committed.
    poisoned: bool,
}

impl TxCache {
    /// get returns the object at `key` in this transaction: its own write,
    /// the committed one in memory, or `read` (the driver's read inside
    /// the transaction), kept when it is the committed one. A failed read
    /// (`Err`) answers absent and is not kept: the driver has failed the
    /// transaction.
    pub fn get(
        &self,
        key: &StateKey,
        read: impl FnOnce() -> Result<Option<StateObject>, ()>,
    ) -> Option<StateObject> {
        if self.poisoned {
            return read().ok().flatten();
        }
        let k = key.to_string();
        if let Some(v) = self.writes.get(&k) {
            return Some(v.clone());
        }
        {
            let g = self.shared.lock();
            if g.at == Some(self.start) {
                if let Some(v) = g.objects.get(&k) {
                    return v.clone();
                }
            }
        }
        // Not written by this transaction: what the driver reads is the
        // committed object at the head this transaction began at.
        let Ok(v) = read() else {
            return None;
        };
        let mut g = self.shared.lock();
        if g.at == Some(self.start) && g.objects.len() < MAX_OBJECTS {
            g.objects.insert(k, v.clone());
        }
        v
    }

    /// wrote records the state writes of an entry about to be appended
    /// (before the driver writes them, so a read never takes one for a
    /// committed object).
    pub fn wrote(&mut self, writes: &[(StateKey, StateObject)]) {
        for (k, v) in writes {
            self.writes.insert(k.to_string(), v.clone());
        }
    }

    /// poison: an append failed part-way (the transaction cannot commit).
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// committed moves this transaction's writes into the shared cache,
    /// now valid at `head`: call it only once the commit is durable.
    pub fn committed(self, head: Head) {
        let mut g = self.shared.lock();
        if self.poisoned || g.at != Some(self.start) {
            g.objects.clear();
            g.at = None;
            return;
        }
        for (k, v) in self.writes {
            if g.objects.len() < MAX_OBJECTS || g.objects.contains_key(&k) {
                g.objects.insert(k, Some(v));
            } else {
                // Not kept: an older value of it must not stay either.
                g.objects.remove(&k);
            }
        }
        g.at = Some((head, self.start.1));
    }

    /// fail_commit takes the test fault hook (see [`StateCache::fail_commit`]).
    #[cfg(test)]
    pub(crate) fn take_fault(&self) -> bool {
        self.shared
            .fail_commit
            .swap(false, std::sync::atomic::Ordering::SeqCst)
    }
}
