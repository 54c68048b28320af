//! The entry format: the signed envelope, the leaf around it, the
//! leaf-chain rule every replay applies, and the 区块链编号 that names an
//! entry of a log.
pub mod blockchain_no;
pub mod chain;
pub mod envelope;
pub mod leaf;
