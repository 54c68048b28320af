//! Certificates and status (schemas/FORMATS.md, "Certificate bundle",
//! "Status proof"): the 数据产品登记证书 bundle and
//! [`bundle::verify_bundle`], which checks it offline against `log.json`;
//! the replay of its signer history (`signers`); [`assemble::assemble`],
//! how a node builds one from its state and log; and [`status`], the proof
//! of an object's current state against the committed state root.
pub mod assemble;
pub mod bundle;
mod signers;
pub mod snapshot;
pub mod status;
#[cfg(test)]
mod tests;
