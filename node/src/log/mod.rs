//! The write path of the log: the [`sequencer`] turns submissions into
//! durable entries (one batch, one transaction, through the store's one
//! append); the [`publisher`] makes committed sizes public, writing the
//! [`tiles`] first and then a signed, optionally cosigned, checkpoint.

pub mod objects;
pub mod publisher;
pub mod sequencer;
pub mod tiles;
