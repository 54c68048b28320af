//! The registry: what an entry means, who may submit it, and which
//! lifecycle transitions are valid — the rules the node enforces and every
//! verifier replays identically (docs/registry.md; payload JSON Schemas in
//! `schemas/entries/`).
//!
//! State is a key-value map of [`StateKey`] → [`StateObject`] read through
//! [`StateReader`]; [`apply`] returns the writes an entry causes
//! ([`Effects`]) or the rule it breaks ([`RuleViolation`]). The node keeps
//! the map in redb, the verifier in memory ([`MemoryState`]).
//!
//! | module | what |
//! | --- | --- |
//! | [`kinds`] | the one table of entry kinds, their Chinese labels and the roles that may submit each |
//! | [`payloads`] | the payload of every kind |
//! | [`examples`] | a valid example of every kind: one Guangxi lifecycle (schemas, `submit --example`, docs/walkthrough.md) |
//! | [`state`] | the state objects, [`StateReader`], [`MemoryState`], [`Effects`] |
//! | `rules` | [`apply`]: the checks every entry shares and the one dispatch on its kind in `rules/mod.rs`; each kind's rules in the file of its lifecycle group (participants, calendar, resources, agreements, credentials, products, objections, operations) |
//! | [`violation`] | [`RuleViolation`] (refusals) and [`Flag`] (findings), with their codes and citations |
//! | [`regulations`] | the one table of the regulations, cited by title and article |
//! | [`profile`] | the numbers in which the regulations differ, per jurisdiction |
//! | [`calendar`] | civil dates and working days |
//! | [`commit`] | committed state: the state map's keys and records, an entry's writes, its root (D15) |
//! | [`ident`] | the grammar of identifiers and free text |

pub mod calendar;
pub mod commit;
pub mod examples;
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
pub use rules::{
    apply, apply_preverified, check_prune_scope, MAX_CHAIN_DEPTH, RECORDING_DAYS,
    SAME_DAY_GRACE_DAYS,
};
pub use state::*;
pub use violation::*;
