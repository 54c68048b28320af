//! The entries a load run submits, built from the registry's typed payload
//! structs (so a payload the rules would refuse does not compile, and a
//! renamed field or kind is a build error here, not a run of 400s): a fresh
//! implementing agency, data source and operator registered by the
//! authority, a resource and an operation agreement, then operation events
//! under that agreement, padded with commitments to a payload size.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::entry::envelope::{participant_key_id, payload_type_for, Envelope};
use regledger::registry::calendar::Date;
use regledger::registry::{
    Agreement, AgreementType, EntryKind, OpenAttribute, OperationAction, OperationEvent,
    ParticipantSpec, Resource, Role,
};
use regledger::tlog::note::{KeyType, Signer};
use serde::Serialize;

/// DOC is the document digest the load's payloads carry (`document_digest`;
/// the rules check its form only, the document is never stored).
pub const DOC: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

/// sign_as signs `payload` as an entry of `kind` with a participant's signer key.
pub fn sign_as(signer: &Signer, kind: EntryKind, payload: &impl Serialize) -> Envelope {
    let kid = participant_key_id(signer.name(), signer.verifier().public_key());
    let bytes = serde_json::to_vec(payload).expect("payload structs serialize");
    Envelope::sign_with(&payload_type_for(kind.name()), bytes, &kid, signer.secret())
}

/// Setup is a run's own participants and agreement.
pub struct Setup {
    /// entries register them, in order.
    pub entries: Vec<Envelope>,
    /// operator signs the operation events.
    pub operator: Signer,
    /// agreement is the agreement the events are done under.
    pub agreement: String,
}

/// setup builds the entries that register a run's participants (tagged
/// `tag`, keys from `seed`), a resource and an operation agreement from
/// `today` for a year, signed by `authority` and the new participants.
///
/// # Errors
///
/// A date out of range, or a participant name a signer key cannot carry.
pub fn setup(
    authority: &Signer,
    tag: &str,
    today: Date,
    mut seed: impl FnMut() -> [u8; 32],
) -> Result<Setup, String> {
    // The run's participants sign with the authority's algorithm: SM2 in
    // an sm3 log (whose authority key init makes SM2), Ed25519 otherwise.
    let kt = match authority.key_type().alg() {
        regledger::crypto::SigAlg::Sm2 => KeyType::Sm2,
        regledger::crypto::SigAlg::Ed25519 => KeyType::Ed25519,
    };
    let mut mk = |id: &str| {
        Signer::generate(&format!("bench-{id}-{tag}"), kt, seed()).map_err(|e| e.to_string())
    };
    let (agency, source, operator) = (mk("agency")?, mk("source")?, mk("operator")?);
    let end = today.add_months(12).ok_or("date out of range")?;
    let reg = |s: &Signer, role: Role| ParticipantSpec {
        id: s.name().to_string(),
        name: s.name().to_string(),
        role,
        public_keys: vec![B64.encode(s.verifier().public_key().material())],
        credit_code: None,
        request_id: None,
    };
    let resource = format!("bench-res-{tag}");
    let agreement = format!("bench-oa-{tag}");
    let registered = EntryKind::ParticipantRegistered;
    let entries = vec![
        sign_as(
            authority,
            registered,
            &reg(&agency, Role::ImplementingAgency),
        ),
        sign_as(authority, registered, &reg(&source, Role::DataSourceUnit)),
        sign_as(authority, registered, &reg(&operator, Role::Operator)),
        sign_as(
            &source,
            EntryKind::ResourceRegistered,
            &Resource {
                id: resource.clone(),
                name: "bench".into(),
                holder: source.name().to_string(),
                catalog_id: "bench".into(),
                grade: "一般".into(),
                open_attribute: OpenAttribute::Conditional,
                format: "json".into(),
                update_frequency: "实时".into(),
                scale: "bench".into(),
                request_id: None,
            },
        ),
        sign_as(
            &agency,
            EntryKind::AgreementFiled,
            &Agreement {
                id: agreement.clone(),
                agreement_type: AgreementType::OperationAgreement,
                parties: vec![agency.name().to_string(), operator.name().to_string()],
                grantee: operator.name().to_string(),
                parent: None,
                scope: vec![resource],
                scene: None,
                signed_on: today,
                term_start: today,
                term_end: end,
                document_title: "bench".into(),
                document_digest: Some(DOC.into()),
                document_blake3: None,
                request_id: None,
            },
        ),
    ];
    Ok(Setup {
        entries,
        operator,
        agreement,
    })
}

/// event is operation event `i` under `agreement`, occurred at
/// `occurred_at_ms`, carrying `commitments` document-digest commitments.
pub fn event(agreement: &str, i: usize, commitments: usize, occurred_at_ms: u64) -> OperationEvent {
    OperationEvent {
        agreement_id: agreement.to_string(),
        product_id: None,
        action: OperationAction::Access,
        occurred_at_ms,
        actor: format!("svc-{i:08}"),
        records: i as u64,
        personal_data_commitments: vec![DOC.to_string(); commitments],
        request_id: None,
    }
}

/// commitments_for returns how many commitments pad an event to about
/// `payload_bytes` (each adds 67 bytes: 64 hex digits, quotes and a comma;
/// rounded to the nearest).
pub fn commitments_for(agreement: &str, payload_bytes: usize, occurred_at_ms: u64) -> usize {
    let unpadded = serde_json::to_vec(&event(agreement, 0, 0, occurred_at_ms))
        .expect("payload structs serialize")
        .len();
    (payload_bytes.saturating_sub(unpadded) + 33) / 67
}

#[cfg(test)]
mod tests {
    //! The load's entries against the registry rules themselves: a log
    //! replayed in memory from its genesis accepts every one of them.

    use super::*;
    use regledger::registry::Genesis;
    use regledger::HashSuite;

    const NOW_MS: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn genesis(authority: &Signer, origin: &str, suite: HashSuite) -> Envelope {
        let g = Genesis {
            origin: origin.into(),
            hash: suite.name().into(),
            profile: "guangxi".into(),
            authority: ParticipantSpec {
                id: authority.name().into(),
                name: "authority".into(),
                role: Role::DataAuthority,
                public_keys: vec![B64.encode(authority.verifier().public_key().material())],
                credit_code: None,
                request_id: None,
            },
            require_sm2: suite == HashSuite::Sm3,
        };
        sign_as(authority, EntryKind::Genesis, &g)
    }

    #[test]
    fn every_entry_of_a_load_run_is_accepted_by_the_rules() {
        // Ed25519 in a blake3 log; SM2 participants in an sm3 log that
        // requires SM2 (the load generator's 国密 mode).
        for (suite, kt) in [
            (HashSuite::Blake3, KeyType::Ed25519),
            (HashSuite::Sm3, KeyType::Sm2),
        ] {
            run(suite, kt);
        }
    }

    fn run(suite: HashSuite, kt: KeyType) {
        let origin = "loadgen.test/rules";
        let authority = Signer::generate("data-authority", kt, [7; 32]).unwrap();
        let today = Date::from_unix_ms(NOW_MS).unwrap();
        let mut n = 0u8;
        let s = setup(&authority, "t", today, || {
            n += 1;
            [n; 32]
        })
        .unwrap();
        let t0 = NOW_MS + 10_000;
        let k = commitments_for(&s.agreement, 512, t0 - 1000);
        let mut envs = vec![genesis(&authority, origin, suite)];
        envs.extend(s.entries);
        for i in 0..3 {
            envs.push(sign_as(
                &s.operator,
                EntryKind::OperationEvent,
                &event(&s.agreement, i, k, t0 - 1000),
            ));
        }
        let last = envs.last().unwrap().payload.len();
        assert!((512 - 34..=512 + 34).contains(&last), "{last} bytes");
        // The node's sequencing (rules, state map, v2 leaves) accepts them all.
        let mut sq = regledger::testkit::Sequencer::new(origin, suite);
        for (i, env) in envs.into_iter().enumerate() {
            assert!(env.signatures.iter().all(|s| s.alg == kt.alg()));
            sq.next(&env, t0 + i as u64)
                .unwrap_or_else(|v| panic!("entry {i} refused: {v}"));
        }
        assert_eq!(sq.head.size, 9);
    }
}
