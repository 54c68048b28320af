//! The registry: what an entry means, who may submit it, and which
//! lifecycle transitions are valid — the rules the node enforces and every
//! verifier replays identically.
//!
//! State is a key-value map of [`StateKey`] → [`StateObject`] read through
//! [`StateReader`]; [`apply`] returns the writes an entry causes
//! ([`Effects`]) or the rule it breaks ([`RuleViolation`]). The node keeps
//! the map in redb, the verifier in memory ([`MemoryState`]).

pub mod calendar;
pub mod ident;
pub mod kinds;
pub mod payloads;
pub mod profile;
pub mod regulations;
mod rules;
pub mod state;
pub mod violation;

pub use crate::entry::chain::EntryContext;
pub use kinds::*;
pub use payloads::*;
pub use rules::{apply, apply_preverified, MAX_CHAIN_DEPTH, RECORDING_DAYS, SAME_DAY_GRACE_DAYS};
pub use state::*;
pub use violation::*;
