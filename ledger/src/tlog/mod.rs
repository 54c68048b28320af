//! Generic transparency-log code: RFC 9162 and the C2SP specifications,
//! with no knowledge of what the entries mean (nothing here imports the
//! entry format or the registry). Each module implements one spec:
//!
//! | module | spec |
//! | --- | --- |
//! | [`hash`] | RFC 9162 §2.1.1 hashing, in SHA-256 or BLAKE3 |
//! | [`tree`] | RFC 9162 §2.1 tree hash and proofs over Go `sumdb/tlog`'s stored-hash layout |
//! | [`proof`] | RFC 9162 §2.1.3.2 and §2.1.4.2 proof verification |
//! | [`memory`] | an in-memory tree in that layout |
//! | [`tile`] | <https://c2sp.org/tlog-tiles> |
//! | [`note`] | <https://c2sp.org/signed-note> (Go `sumdb/note`), with the [`note::NoteVerifier`] trait |
//! | [`cosignature`] | <https://c2sp.org/tlog-cosignature> (`cosignature/v1`, quorums) |
//! | [`checkpoint`] | <https://c2sp.org/tlog-checkpoint> |
//! | [`witness`] | <https://c2sp.org/tlog-witness> request and answer bodies |
//! | [`tlog_proof`] | <https://c2sp.org/tlog-proof> |
//!
//! Dependencies run one way: `note` knows no key type but its own
//! (Ed25519); `cosignature` plugs its verifier in through
//! [`note::NoteVerifier`]; `checkpoint` uses both. The byte layouts, with
//! regledger's choices (tile height 8, key types 0x01 and 0x04), are in
//! `schemas/FORMATS.md`, "Signed notes, checkpoints, cosignatures,
//! tlog-proof, tiles".
pub mod checkpoint;
pub mod cosignature;
pub mod hash;
pub mod memory;
pub mod note;
pub mod proof;
pub mod tile;
pub mod tlog_proof;
pub mod tree;
pub mod witness;
