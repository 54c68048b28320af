//! Whether a tree extends a checkpoint accepted before (Tessera's
//! `LogStateTracker` keeps exactly this): the same root at the accepted
//! size. The mirror asks it of every new checkpoint against its own
//! verified tree, the audit of the log against `--trusted`.

use regledger::Hash;

use crate::failure::{Check, Failure, Stop};

/// Accepted is a checkpoint accepted before: the follower's own tree (the
/// mirror's verified size) or one a reader trusts (`audit --trusted`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// size is its tree size.
    pub size: u64,
    /// root is its root hash.
    pub root: Hash,
}

/// Consistency is how a tree stands to a checkpoint accepted before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Extends: the tree's root at the accepted size is the accepted root.
    Extends,
    /// Forked: at the accepted size the tree has root `root_at`.
    Forked {
        /// root_at is the tree's root at the accepted size.
        root_at: Hash,
    },
    /// RolledBack: the tree is smaller than the accepted one.
    RolledBack,
}

/// consistency says whether a tree of `size` leaves, whose root at any
/// size up to its own `root_at` gives, extends `accepted`.
///
/// # Errors
///
/// Whatever `root_at` returns.
pub fn consistency(
    accepted: &Accepted,
    size: u64,
    root_at: impl FnOnce(u64) -> Result<Hash, Stop>,
) -> Result<Consistency, Stop> {
    if accepted.size > size {
        return Ok(Consistency::RolledBack);
    }
    let at = root_at(accepted.size)?;
    Ok(if at == accepted.root {
        Consistency::Extends
    } else {
        Consistency::Forked { root_at: at }
    })
}

impl Consistency {
    /// failure is the failure a reader that trusts `accepted` reports for a
    /// log of `size` leaves: [`Check::TrustedRollback`] or
    /// [`Check::TrustedFork`]; `None` if it extends it.
    pub fn failure(&self, accepted: &Accepted, size: u64) -> Option<Failure> {
        match self {
            Consistency::Extends => None,
            Consistency::RolledBack => Some(Failure::of(
                Check::TrustedRollback,
                format!(
                    "the log (size {size}) is smaller than the trusted checkpoint (size {}, root {}): it was rolled back or forked",
                    accepted.size,
                    accepted.root.to_hex()
                ),
            )),
            Consistency::Forked { root_at } => Some(Failure::of(
                Check::TrustedFork,
                format!(
                    "fork: at size {} the trusted checkpoint signed root {} but this log has root {}",
                    accepted.size,
                    accepted.root.to_hex(),
                    root_at.to_hex()
                ),
            )),
        }
    }
}
