//! Certificates: the 数据产品登记证书 bundle, how a node assembles it and
//! how a verifier checks it offline.
pub mod assemble;
pub mod bundle;
mod signers;
#[cfg(test)]
mod tests;
