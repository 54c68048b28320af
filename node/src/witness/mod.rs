//! Witnessing (C2SP tlog-witness), both sides: the [`client`] collects
//! cosignatures of the node's checkpoints before the publisher serves
//! them; the [`server`] is the `POST /add-checkpoint` endpoint a mirror
//! hosts, cosigning only what it verified entry by entry. The request and
//! response formats are the core's, [`regledger::tlog::witness`].

pub mod client;
pub mod server;
