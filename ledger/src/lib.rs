//! regledger: the pure core of a tamper-evident registration ledger.
//!
//! Everything a verifier needs and nothing it does not: RFC 9162 tree math
//! over a minimal storage trait, C2SP signed notes, checkpoints,
//! cosignatures, tiles and offline proofs, the signed entry envelope and
//! leaf layout, the registry model with its rules, policy profiles and the
//! working-day calendar. No I/O, no async, no database, no HTTP.
#![forbid(unsafe_code)]

pub mod blockchain_no;
pub mod bundle;
pub mod calendar;
pub mod checkpoint;
pub mod cosignature;
pub mod descriptor;
pub mod envelope;
pub mod hash;
pub mod leaf;
pub mod note;
pub mod profile;
pub mod registry;
pub mod statemap;
pub mod tile;
pub mod tlog_proof;
pub mod tree;

pub use hash::{Hash, HashSuite};
