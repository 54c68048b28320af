//! Generic transparency-log code: RFC 9162 and the C2SP specifications,
//! with no knowledge of what the entries mean.
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
