//! regledger: the pure core of a tamper-evident registration ledger for the
//! authorized operation of public data (公共数据资源授权运营).
//!
//! Every registration and filing is an *entry*, appended to a log whose
//! operator can neither change nor remove it unseen: the entries are the
//! leaves of an RFC 9162 Merkle tree, the tree's root is signed in a
//! *checkpoint*, and independent *witnesses* cosign each checkpoint after
//! checking that the tree only grew. This crate holds everything needed to
//! write and to check such a log, and nothing else: no I/O, no clock, no
//! database, no network, no async (it builds for `wasm32-unknown-unknown`).
//! The node (`regledger-node`) and the offline verifier (`regledger-verify`)
//! are built on it, so a regulator who reads this crate and `verifier/` has
//! read every check a verification makes.
//!
//! The byte layouts are specified in `schemas/FORMATS.md` (with a worked
//! vector of each in `schemas/vectors/formats.json`); the registry's rules
//! in `docs/registry.md`; the reasons for each choice in `docs/decisions.md`.
//!
//! # Formats
//!
//! An **envelope** ([`entry::envelope`]) is one signed act: a payload type
//! (`application/vnd.regledger.<kind>+json`, naming the entry kind), the
//! exact JSON payload bytes, and 1 to 8 Ed25519 signatures over the DSSE
//! pre-authentication encoding of type and payload. The first signer is the
//! submitter; every signature must be by a distinct registered participant.
//!
//! A **leaf** ([`entry::leaf`]) is what the log appends: `version ‖ index ‖
//! integrated time ‖ previous leaf hash ‖ envelope`. The previous leaf hash
//! links each entry to the one before it independently of the tree; the
//! rule that every leaf continues that chain is [`entry::chain`]. The
//! **区块链编号** of an entry ([`entry::blockchain_no`]) is derived from the
//! log's origin, the entry's index and its leaf hash.
//!
//! The **tree** ([`tlog::tree`], [`tlog::proof`]) is RFC 9162's: leaf hash
//! `H(0x00 ‖ leaf)`, node hash `H(0x01 ‖ left ‖ right)`, in the log's hash
//! suite ([`HashSuite`]: SHA-256 or BLAKE3). It is published as C2SP
//! **tiles** ([`tlog::tile`]): hash tiles of 256 hashes, and entry bundles
//! holding the leaves themselves.
//!
//! A **checkpoint** ([`tlog::checkpoint`]) is a C2SP signed note
//! ([`tlog::note`]) whose text says "the log with this origin has this size
//! and this root"; the log signs it with its Ed25519 key, witnesses add
//! `cosignature/v1` lines ([`tlog::cosignature`]) after they have checked,
//! with a consistency proof sent in a tlog-witness request
//! ([`tlog::witness`]), that it extends the last checkpoint they cosigned.
//! A **tlog-proof** ([`tlog::tlog_proof`]) is one entry's inclusion proof
//! and the checkpoint it leads to, in one offline file.
//!
//! `log.json` ([`descriptor`]) is what a verifier trusts: the origin, the
//! log key, the hash suite, the witness keys and their quorum, and the
//! policy profile. It holds nothing secret.
//!
//! The **registry** ([`registry`]) gives entries their meaning: 28 kinds
//! ([`registry::EntryKind`], one table in [`registry::kinds`]) for
//! participants and their keys, resources, agreements and authorizations,
//! catalog credentials, products and their certificates, objections and
//! operation events; who may submit each; and the lifecycle rules, replayed
//! identically by the node, the mirror and the audit. Rules cite the
//! regulation they implement by title and article
//! ([`registry::regulations`]).
//!
//! A **certificate bundle** ([`cert::bundle`]) is a 数据产品登记证书 with
//! everything needed to check it offline: the registering entry and the one
//! before it, the history of every key its signatures rely on back to
//! genesis, the entry that set its status, their inclusion proofs and the
//! checkpoint.
//!
//! # Verifying
//!
//! Each entry point states what it proves and returns a typed error naming
//! what failed (see each function's `# Errors`):
//!
//! - [`descriptor::LogDescriptor::parse`] reads `log.json`.
//! - [`descriptor::verify_checkpoint`]`(note, &log)`: the note is signed by
//!   the log key, cosigned by at least `quorum` of the listed witnesses, and
//!   names the log's origin. It proves that the log committed to a tree of
//!   that size and root, and that the witnesses saw it consistent with what
//!   they saw before; [`descriptor::verify_log_signature`] is the same
//!   without the quorum. (For a log without `log.json`, such as
//!   sum.golang.org, [`tlog::checkpoint::open_checkpoint`] and
//!   [`tlog::checkpoint::open_witnessed_checkpoint`] check the signatures
//!   only.)
//! - [`tlog::proof::verify_inclusion`]`(suite, size, index, leaf, proof,
//!   root)`: the leaf is at `index` in the tree of `size` leaves with that
//!   root. Every tree function takes the size before the index.
//! - [`tlog::proof::verify_consistency`]`(suite, old_size, new_size, proof,
//!   old_root, new_root)`: the newer tree extends the older one; nothing was
//!   changed or removed in between.
//! - [`tlog::tlog_proof::verify_tlog_proof`]: a tlog-proof file, checkpoint
//!   and inclusion together.
//! - [`entry::chain::ChainHead::check_next`]: a leaf continues the leaf
//!   chain (its index, previous leaf hash and time), giving the
//!   [`registry::EntryContext`] the rules judge it in.
//! - [`registry::apply`]`(state, context, envelope)`: the entry is valid
//!   against the registry state before it (its signers, their roles, the
//!   lifecycle), returning its [`registry::Effects`] or the
//!   [`registry::RuleViolation`] it breaks, with its code and citation.
//! - [`cert::bundle::verify_bundle`]`(bundle, &log)`: the certificate fields
//!   are the signed payload of an entry in the log at the checkpoint, signed
//!   by a participant whose keys the replayed history shows valid there,
//!   with the status the bundle claims as of its entry. It cannot prove that
//!   no later entry changed the status; only the whole log can.
//!
//! The whole-log audit (`regledger-verify audit`) combines them: it checks
//! the checkpoint, reads every entry bundle, checks the leaf chain, replays
//! every entry through [`registry::apply`], rebuilds the tree and compares
//! its root and hash tiles with what the log serves.
//!
//! # Module map
//!
//! The modules are layered; each uses only those above it in this table.
//!
//! | module | what | spec |
//! | --- | --- | --- |
//! | [`tlog`] | generic transparency-log code, no knowledge of entries: [`tlog::hash`], [`tlog::tree`] (stored-hash layout, tree hash, proofs), [`tlog::proof`] (their verification), [`tlog::memory`], [`tlog::tile`], [`tlog::note`], [`tlog::cosignature`], [`tlog::checkpoint`], [`tlog::witness`], [`tlog::tlog_proof`] | RFC 9162; C2SP signed-note, tlog-checkpoint, tlog-cosignature, tlog-tiles, tlog-witness, tlog-proof |
//! | [`entry`] | the entry format: [`entry::envelope`], [`entry::leaf`], [`entry::chain`], [`entry::blockchain_no`] | DSSE; `schemas/FORMATS.md` |
//! | [`registry`] | what entries mean: kinds, payloads, state, rules, violations, profiles, calendar, regulations, identifier grammar | `docs/registry.md`; `schemas/entries/` |
//! | [`descriptor`] | `log.json` and checking a log's checkpoints against it | `schemas/FORMATS.md` |
//! | [`cert`] | certificate bundles: verifying and assembling them | `schemas/FORMATS.md` |
//! | [`statemap`] | the sparse Merkle tree of registry state (keys and values are bytes; presence and absence proofs; D15) | `schemas/FORMATS.md` "State map" |
//! | `testkit` | signed test histories from fixed, public seeds (cargo feature `testkit`, never in a binary) | — |
#![forbid(unsafe_code)]

pub mod cert;
pub mod crypto;
pub mod descriptor;
pub mod entry;
pub mod registry;
pub mod statemap;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod tlog;

pub use tlog::hash::{Hash, HashSuite};
