//! regledger: the pure core of a tamper-evident registration ledger.
//!
//! Everything a verifier needs and nothing it does not: RFC 9162 tree math
//! over a minimal storage trait, C2SP signed notes, checkpoints,
//! cosignatures, tiles and offline proofs, the signed entry envelope and
//! leaf layout, the registry model with its rules, policy profiles and the
//! working-day calendar. No I/O, no async, no database, no HTTP.
#![forbid(unsafe_code)]

pub mod cert;
pub mod descriptor;
pub mod entry;
pub mod registry;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod tlog;

pub use tlog::hash::{Hash, HashSuite};
