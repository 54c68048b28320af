//! How a follower verifies the envelope signatures the registry rules
//! accepted an entry on: a [`SignatureCheck`], either [`Inline`] (each at
//! once, the mirror) or one that queues them for batches on every core
//! (the audit's, docs/decisions.md D9). The keys are always the ones the
//! registry holds ([`regledger::registry::key_of`]); the rules
//! verify every signature whose key is not known yet.

use regledger::entry::envelope::{verify_each, Envelope};

use crate::failure::{Check, Failure, Policy};

/// SignatureCheck verifies the envelope signatures the rules accepted an
/// entry on: each signature under the key registered for it now. It may
/// verify at once ([`Inline`]) or queue them and report later (the
/// audit's batches on every core, docs/decisions.md D9); either way every
/// one is verified.
pub trait SignatureCheck {
    /// check verifies (or queues) the signatures of entry `index`; `keys`
    /// are their registered public keys, one per signature, in order.
    /// Each signature that does not verify is a [`Check::Signature`]
    /// failure given to `policy` (see [`signature_failure`]).
    ///
    /// # Errors
    ///
    /// The failure back when `policy` stops.
    fn check(
        &mut self,
        index: u64,
        envelope: Envelope,
        keys: Vec<regledger::crypto::PublicKey>,
        policy: &mut dyn Policy,
    ) -> Result<(), Failure>;
}

/// Inline verifies each signature at once with `verify_strict`, exactly
/// the node's rule: nothing is appended before its signatures verified.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inline {
    /// verified counts the signatures verified.
    pub verified: u64,
}

impl SignatureCheck for Inline {
    fn check(
        &mut self,
        index: u64,
        envelope: Envelope,
        keys: Vec<regledger::crypto::PublicKey>,
        policy: &mut dyn Policy,
    ) -> Result<(), Failure> {
        let bad = verify_each(&[(&envelope, keys.as_slice())]);
        self.verified += envelope.signatures.len().saturating_sub(bad.len()) as u64;
        for (_, sig) in bad {
            policy.fail(signature_failure(index, &envelope, sig))?;
        }
        Ok(())
    }
}

/// signature_failure is the failure of signature `sig` of entry `index`.
pub fn signature_failure(index: u64, envelope: &Envelope, sig: usize) -> Failure {
    let key_id = envelope
        .signatures
        .get(sig)
        .map_or("?", |s| s.key_id.as_str());
    Failure::at(
        index,
        Check::Signature,
        format!("the signature by {key_id} does not verify with its registered key"),
    )
}
