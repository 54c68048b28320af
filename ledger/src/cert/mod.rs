//! Certificates (schemas/FORMATS.md, "Certificate bundle"): the
//! 数据产品登记证书 bundle and [`bundle::verify_bundle`], which checks it
//! offline against `log.json`; the replay of its signer history
//! (`signers`); and [`assemble::assemble`], how a node builds one from its
//! state and log.
pub mod assemble;
pub mod bundle;
mod signers;
#[cfg(test)]
mod tests;
