//! The entry format (schemas/FORMATS.md, "Envelope", "Leaf", "区块链编号"):
//! the signed [`envelope`] (DSSE pre-authentication encoding,
//! <https://github.com/secure-systems-lab/dsse>), the [`leaf`] around it,
//! the leaf-chain rule every replay applies ([`chain`]), and the
//! [`blockchain_no`] that names an entry of a log, and the checkpoint's
//! [`state_line`] that repeats the last leaf's state root. It knows no entry kind's
//! meaning; that is [`crate::registry`].
pub mod blockchain_no;
pub mod chain;
pub mod envelope;
pub mod leaf;
pub mod state_line;
