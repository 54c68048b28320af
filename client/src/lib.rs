//! regledger-client: the one client-side view of a regledger log, shared
//! by the regulator's whole-log audit (`regledger-verify audit`) and the
//! venue's mirror (`regledger-node mirror`), the way Tessera's `client/`
//! is shared by its fsck, mirror and witness.
//!
//! # What it guarantees
//!
//! A caller hands the [`Follower`] a log descriptor (`log.json`: log key,
//! origin, hash suite, witnesses and quorum, policy profile) and a
//! [`TileSource`]. Nothing the source serves is trusted. An entry reaches
//! the caller's [`Sink`] only
//! - under a checkpoint signed by the log key for that origin (and, when
//!   asked, cosigned by the witness quorum), checked by the core's
//!   [`regledger::descriptor::verify_checkpoint`];
//! - in a tree that extends the checkpoint the caller accepted before
//!   ([`consistency()`]);
//! - as part of that signed tree: its tiles authenticated against the
//!   signed root before use ([`tiles::SignedTree`], like Go's
//!   `tlog.TileHashReader`), or every tile compared after the fact with
//!   the tree recomputed from the entries ([`tiles::compare_hash_tiles`]);
//! - after it continues the leaf chain ([`regledger::entry::chain`]), is
//!   not a replay of a signed content logged before (D12), passes the
//!   registry rules ([`regledger::registry::apply_preverified`]), and has
//!   every signature verified under the key the registry holds for it
//!   ([`regledger::registry::key_of`]).
//!
//! Every failure is a [`Failure`] with a stable [`Check`] code (the audit
//! report's `check`, the mirror's alarms and evidence), handed to a
//! [`Policy`]: [`StopAtFirst`] (the mirror commits nothing after a
//! failure) or [`Collect`] (the audit judges every entry and reports every
//! failure, the lowest indexes kept). [`Check::fault`] tells a source that
//! is down or serves bad data (retry, or try a [`Fallback`] source) from a
//! log that signed something it should not have (a split view).
//!
//! Nothing is sized by what a checkpoint claims: a signed size of 2^62
//! costs one missing tile, not an allocation. Every object read is bounded
//! by [`source::MAX_OBJECT_BYTES`]; a tile directory yields only regular
//! files inside it.
//!
//! # What it is not
//!
//! No server, no database, no async runtime: the verifier depends on this
//! crate and must stay free of them (CI checks its dependency tree). The
//! caller keeps the state ([`Sink`]): the mirror in its redb store, the
//! audit in memory. Signature verification is pluggable
//! ([`SignatureCheck`]): [`Inline`] verifies each signature at once with
//! `verify_strict`; the audit queues them to verify in batches on every
//! core (docs/decisions.md D9).
//!
//! # Modules
//!
//! - [`source`]: [`TileSource`], [`DirSource`], [`HttpSource`], bounded reads.
//! - [`fallback`]: [`Fallback`], several sources with a backoff each.
//! - [`tiles`]: authenticating tiles before use, or comparing them after.
//! - [`edge`]: [`edge::EdgeTree`], the right edge of a tree and its hash tiles as they complete.
//! - [`follower`]: [`Follower`], [`Sink`].
//! - [`signatures`]: [`SignatureCheck`], [`Inline`].
//! - [`mod@consistency`]: [`Accepted`], [`Consistency`].
//! - [`failure`]: [`Check`], [`Failure`], [`Policy`], [`Stop`].
#![forbid(unsafe_code)]

pub mod consistency;
pub mod edge;
pub mod failure;
pub mod fallback;
pub mod follower;
pub mod signatures;
pub mod source;
pub mod tiles;

pub use consistency::{consistency, Accepted, Consistency};
pub use failure::{Check, Collect, Failure, Fault, Policy, Stop, StopAtFirst, MAX_FAILURES};
pub use fallback::Fallback;
pub use follower::{Applied, Entry, Follower, Held, Sink};
pub use signatures::{Inline, SignatureCheck};
pub use source::{DirSource, FetchError, HttpSource, TileSource, MAX_OBJECT_BYTES};
pub use tiles::SignedTree;
