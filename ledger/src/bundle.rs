//! Certificate bundles: a 数据产品登记证书 with everything needed to check
//! it offline — the registering entry, its inclusion proof, the entry
//! before it (hash chain), the entries that registered the signer's key,
//! the entry that set the current status, and the signed checkpoint.
//!
//! What a bundle proves: the certificate fields are exactly the signed
//! payload of an entry that is in the log at the checkpoint, signed by a
//! key registered to a participant whose role may register products, and
//! the status entry is in the log too. What it cannot prove: that no later
//! entry (up to the checkpoint) changed the status — absence needs the whole
//! log (`regledger-verify audit`) or a verified mirror.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::blockchain_no::BlockchainNo;
use crate::checkpoint::{check_origin, verify_checkpoint, Checkpoint};
use crate::descriptor::LogDescriptor;
use crate::envelope::participant_key_id;
use crate::hash::Hash;
use crate::leaf::Leaf;
use crate::registry::{
    EntryKind, Genesis, KeyRotation, ParticipantSpec, ProductRegistration, Role, StatusChange,
};
use crate::tree::verify_inclusion;

/// BUNDLE_FORMAT names the bundle format version.
pub const BUNDLE_FORMAT: &str = "regledger-certificate-bundle/v1";

/// MAX_SIGNER_ENTRIES bounds the signer history a bundle carries.
pub const MAX_SIGNER_ENTRIES: usize = 16;

/// EntryProof is one entry with its inclusion proof at the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryProof {
    /// index is the entry's index.
    pub index: u64,
    /// leaf is the leaf bytes, base64.
    pub leaf: String,
    /// inclusion_proof are base64 hashes, bottom-up.
    pub inclusion_proof: Vec<String>,
}

/// StatusInfo is the product's status and the entry that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusInfo {
    /// state is active, suspended, revoked or deregistered.
    pub state: String,
    /// set_by_index is the entry that set it.
    pub set_by_index: u64,
    /// entry is that entry with its proof (absent when it is the registering entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryProof>,
}

/// CertificateBundle is the JSON a node serves at /v1/certificates/{no}.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateBundle {
    /// format is [`BUNDLE_FORMAT`].
    pub format: String,
    /// origin is the log's origin.
    pub origin: String,
    /// blockchain_no is the 区块链编号.
    pub blockchain_no: String,
    /// certificate are the certificate fields (must equal the signed payload).
    pub certificate: ProductRegistration,
    /// entry is the registering entry.
    pub entry: EntryProof,
    /// previous is the entry before it (hash chain link).
    pub previous: EntryProof,
    /// signer_entries registered the signing key (genesis, participant-registered or key-rotated).
    pub signer_entries: Vec<EntryProof>,
    /// status is the current status.
    pub status: StatusInfo,
    /// checkpoint is the signed (and cosigned) checkpoint all proofs are for.
    pub checkpoint: String,
}

/// BundleError names the part of a bundle that failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("{part}: {reason}")]
pub struct BundleError {
    /// part is the bundle part, e.g. "entry.inclusion_proof" or "certificate.product_name".
    pub part: String,
    /// reason explains the failure.
    pub reason: String,
}

fn err(part: &str, reason: impl Into<String>) -> BundleError {
    BundleError {
        part: part.into(),
        reason: reason.into(),
    }
}

/// VerifiedCertificate is what a verified bundle establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCertificate {
    /// certificate are the verified fields.
    pub certificate: ProductRegistration,
    /// blockchain_no is the verified 区块链编号.
    pub blockchain_no: String,
    /// index is the registering entry.
    pub index: u64,
    /// signer is the participant that registered it.
    pub signer: String,
    /// status is the status shown by the bundle.
    pub status: String,
    /// status_index is the entry that set it.
    pub status_index: u64,
    /// checkpoint is the verified checkpoint.
    pub checkpoint: Checkpoint,
    /// witnesses are the names of the witnesses that cosigned.
    pub witnesses: Vec<String>,
}

fn open_entry(
    part: &str,
    e: &EntryProof,
    d: &LogDescriptor,
    cp: &Checkpoint,
) -> Result<(Leaf, Hash), BundleError> {
    let bytes = B64
        .decode(&e.leaf)
        .map_err(|_| err(&format!("{part}.leaf"), "not base64"))?;
    let leaf = Leaf::parse(&bytes).map_err(|x| err(&format!("{part}.leaf"), x.to_string()))?;
    if leaf.index != e.index {
        return Err(err(
            &format!("{part}.index"),
            format!("leaf says index {}, bundle says {}", leaf.index, e.index),
        ));
    }
    let proof = e
        .inclusion_proof
        .iter()
        .map(|h| B64.decode(h).ok().and_then(|b| Hash::from_slice(&b)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| err(&format!("{part}.inclusion_proof"), "not base64 hashes"))?;
    let lh = d.suite.leaf_hash(&bytes);
    verify_inclusion(d.suite, e.index, cp.size, &lh, &proof, &cp.root)
        .map_err(|x| err(&format!("{part}.inclusion_proof"), x.to_string()))?;
    Ok((leaf, lh))
}

/// verify_bundle checks a certificate bundle against a log descriptor.
pub fn verify_bundle(
    b: &CertificateBundle,
    d: &LogDescriptor,
) -> Result<VerifiedCertificate, BundleError> {
    if b.format != BUNDLE_FORMAT {
        return Err(err("format", format!("unknown format {:?}", b.format)));
    }
    if b.origin != d.origin {
        return Err(err("origin", "not the log of this descriptor"));
    }
    let vc = verify_checkpoint(b.checkpoint.as_bytes(), &d.log_key, &d.witnesses, d.quorum)
        .map_err(|e| err("checkpoint", e.to_string()))?;
    let cp = vc.checkpoint;
    check_origin(&cp, &d.origin).map_err(|e| err("checkpoint", e.to_string()))?;

    // The registering entry and its payload.
    let (leaf, lh) = open_entry("entry", &b.entry, d, &cp)?;
    let env = &leaf.envelope;
    if env.kind_name().ok() != Some(EntryKind::ProductRegistered.name()) {
        return Err(err(
            "entry.payload_type",
            format!("{} is not product-registered", env.payload_type),
        ));
    }
    let signed: ProductRegistration =
        serde_json::from_slice(&env.payload).map_err(|e| err("entry.payload", e.to_string()))?;
    compare_fields(&b.certificate, &signed)?;
    let bno =
        BlockchainNo::parse(&b.blockchain_no).ok_or_else(|| err("blockchain_no", "malformed"))?;
    if !bno.matches(&d.origin, b.entry.index, &lh) {
        return Err(err("blockchain_no", "does not name this entry of this log"));
    }

    // Hash chain: the entry's previous-leaf hash is the leaf hash of index-1.
    if b.entry.index == 0 || b.previous.index != b.entry.index - 1 {
        return Err(err(
            "previous.index",
            "must be the entry before the registering entry",
        ));
    }
    let (_, prev_hash) = open_entry("previous", &b.previous, d, &cp)?;
    if leaf.prev_leaf_hash != prev_hash {
        return Err(err(
            "entry.prev_leaf_hash",
            "does not chain to the previous entry",
        ));
    }

    // The signer: its key was registered, earlier in the log, to a participant whose role may register products.
    let sig = env
        .signatures
        .first()
        .ok_or_else(|| err("entry.signature", "unsigned"))?;
    if b.signer_entries.len() > MAX_SIGNER_ENTRIES {
        return Err(err("signer_entries", "too many"));
    }
    // Roles come from genesis / participant-registered entries; keys from those and from rotations.
    let mut roles: Vec<(String, Role)> = Vec::new();
    let mut keys: Vec<(String, [u8; 32])> = Vec::new();
    for (i, se) in b.signer_entries.iter().enumerate() {
        let part = format!("signer_entries[{i}]");
        let (sl, _) = open_entry(&part, se, d, &cp)?;
        if se.index >= b.entry.index {
            return Err(err(&part, "registered after the entry it vouches for"));
        }
        let kind = sl.envelope.kind_name().unwrap_or("");
        let (pid, ks) = match kind {
            "genesis" | "participant-registered" => {
                let s: ParticipantSpec = if kind == "genesis" {
                    serde_json::from_slice::<Genesis>(&sl.envelope.payload).map(|g| g.authority)
                } else {
                    serde_json::from_slice(&sl.envelope.payload)
                }
                .map_err(|e| err(&part, e.to_string()))?;
                roles.push((s.id.clone(), s.role));
                (s.id, s.public_keys)
            }
            "participant-key-rotated" => {
                let r: KeyRotation = serde_json::from_slice(&sl.envelope.payload)
                    .map_err(|e| err(&part, e.to_string()))?;
                (r.id, r.add_keys)
            }
            _ => return Err(err(&part, format!("{kind} does not register keys"))),
        };
        for k in ks {
            if let Some(pk) = B64
                .decode(&k)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
            {
                keys.push((pid.clone(), pk));
            }
        }
    }
    let signer = keys
        .iter()
        .find(|(pid, pk)| participant_key_id(pid, pk) == sig.key_id)
        .and_then(|(pid, pk)| {
            roles
                .iter()
                .find(|(r, _)| r == pid)
                .map(|(_, role)| (pid.clone(), *role, *pk))
        });
    let (signer_id, role, pk) = signer.ok_or_else(|| {
        err(
            "signer_entries",
            format!("no entry registers key {}", sig.key_id),
        )
    })?;
    if !EntryKind::ProductRegistered.allowed_roles().contains(&role) {
        return Err(err(
            "signer_entries",
            format!("role {} may not register products", role.name()),
        ));
    }
    env.verify_signature(&sig.key_id, &pk)
        .map_err(|e| err("entry.signature", e.to_string()))?;

    // The status and the entry that set it.
    let (status, status_index) = if b.status.set_by_index == b.entry.index {
        if b.status.state != "active" || b.status.entry.is_some() {
            return Err(err("status", "the registering entry sets status active"));
        }
        ("active".to_string(), b.entry.index)
    } else {
        let se = b
            .status
            .entry
            .as_ref()
            .ok_or_else(|| err("status.entry", "missing"))?;
        if se.index != b.status.set_by_index || se.index <= b.entry.index {
            return Err(err(
                "status.entry",
                "index must be set_by_index, after registration",
            ));
        }
        let (sl, _) = open_entry("status.entry", se, d, &cp)?;
        let kind = EntryKind::from_name(sl.envelope.kind_name().unwrap_or(""))
            .ok_or_else(|| err("status.entry", "unknown kind"))?;
        let state = match kind {
            EntryKind::ProductSuspended => "suspended",
            EntryKind::ProductResumed | EntryKind::ProductChanged => "active",
            EntryKind::ProductRegistrationRevoked => "revoked",
            EntryKind::ProductDeregistered => "deregistered",
            _ => {
                return Err(err(
                    "status.entry",
                    format!("{} does not set a product status", kind.name()),
                ))
            }
        };
        let id = if kind == EntryKind::ProductChanged {
            serde_json::from_slice::<serde_json::Value>(&sl.envelope.payload)
                .ok()
                .and_then(|v| v["id"].as_str().map(String::from))
        } else {
            serde_json::from_slice::<StatusChange>(&sl.envelope.payload)
                .ok()
                .map(|s| s.id)
        };
        if id.as_deref() != Some(signed.product_id.as_str()) {
            return Err(err("status.entry", "concerns another product"));
        }
        if b.status.state != state {
            return Err(err(
                "status.state",
                format!("bundle says {}, entry sets {state}", b.status.state),
            ));
        }
        (state.to_string(), se.index)
    };
    Ok(VerifiedCertificate {
        certificate: signed,
        blockchain_no: b.blockchain_no.clone(),
        index: b.entry.index,
        signer: signer_id,
        status,
        status_index,
        checkpoint: cp,
        witnesses: vc.witnesses.iter().map(|w| w.name().to_string()).collect(),
    })
}

fn compare_fields(
    shown: &ProductRegistration,
    signed: &ProductRegistration,
) -> Result<(), BundleError> {
    let a = serde_json::to_value(shown).expect("serializable");
    let b = serde_json::to_value(signed).expect("serializable");
    for (k, v) in a.as_object().expect("object") {
        if b.get(k) != Some(v) {
            return Err(err(
                &format!("certificate.{k}"),
                "differs from the signed payload",
            ));
        }
    }
    Ok(())
}

/// CERTIFICATE_LABELS are the certificate's fields with their Chinese names
/// (Guangxi Art. 12(7)), in display order.
pub const CERTIFICATE_LABELS: [(&str, &str, &str); 11] = [
    ("certificate_name", "证书名称", "Certificate"),
    ("product_name", "数据产品名称", "Product name"),
    ("registration_no", "登记号", "Registration no."),
    ("product_type", "产品类型", "Product type"),
    ("business_entity_name", "经营主体", "Business entity"),
    ("update_cycle", "数据更新周期", "Update cycle"),
    ("scenarios", "应用场景", "Scenarios"),
    ("blockchain_no", "区块链编号", "Blockchain no."),
    ("registered_on", "登记日期", "Registered on"),
    ("authorization", "授权依据", "Authorization"),
    ("business_entity", "经营主体标识", "Business entity id"),
];

/// assemble builds the bundle of registration number `no` from registry
/// state and a source of entries with proofs at the checkpoint's size.
/// The node serves what this returns; tests use it with an in-memory log.
pub fn assemble(
    origin: &str,
    state: &(impl crate::registry::StateReader + ?Sized),
    no: &str,
    checkpoint: &str,
    entry_at: impl Fn(u64) -> Result<EntryProof, String>,
) -> Result<CertificateBundle, String> {
    use crate::registry::{product_by_registration_no, StateKey, StateObject};
    let p = product_by_registration_no(state, no)
        .ok_or_else(|| format!("no product with registration number {no:?}"))?;
    let reg = p.registration.ok_or("product is not registered")?;
    let entry = entry_at(reg.index)?;
    let previous = entry_at(
        reg.index
            .checked_sub(1)
            .ok_or("registration cannot be entry 0")?,
    )?;
    let leaf = Leaf::parse(&B64.decode(&entry.leaf).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let kid = &leaf
        .envelope
        .signatures
        .first()
        .ok_or("unsigned entry")?
        .key_id;
    let Some(StateObject::Key(k)) = state.get(&StateKey::Key(kid.clone())) else {
        return Err(format!("signing key {kid} is not in the registry"));
    };
    let Some(StateObject::Participant(part)) =
        state.get(&StateKey::Participant(k.participant.clone()))
    else {
        return Err("signer is not in the registry".into());
    };
    let mut signer_entries = vec![entry_at(part.registered_index)?];
    if k.added_index != part.registered_index {
        signer_entries.push(entry_at(k.added_index)?);
    }
    let status = if p.status_index == reg.index {
        StatusInfo {
            state: p.status.name().into(),
            set_by_index: reg.index,
            entry: None,
        }
    } else {
        StatusInfo {
            state: p.status.name().into(),
            set_by_index: p.status_index,
            entry: Some(entry_at(p.status_index)?),
        }
    };
    Ok(CertificateBundle {
        format: BUNDLE_FORMAT.into(),
        origin: origin.into(),
        blockchain_no: reg.blockchain_no,
        certificate: reg.fields,
        entry,
        previous,
        signer_entries,
        status,
        checkpoint: checkpoint.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::sign_checkpoint;
    use crate::descriptor::LogDescriptorJson;
    use crate::hash::HashSuite;
    use crate::note::{KeyType, Signer};
    use crate::registry::testkit::{replay, Testkit, REGISTRATION_NO};
    use crate::tree::MemoryTree;

    const ORIGIN: &str = "regledger.test/bundle";

    fn setup(upto: &str) -> (CertificateBundle, LogDescriptor) {
        let k = Testkit::new(ORIGIN);
        let mut steps = k.lifecycle(HashSuite::Blake3, "guangxi");
        let end = steps.iter().position(|s| s.label == upto).unwrap();
        steps.truncate(end + 1);
        let r = replay(ORIGIN, HashSuite::Blake3, &steps).unwrap();
        let mut t = MemoryTree::new(HashSuite::Blake3);
        let leaves: Vec<Vec<u8>> = r.leaves.iter().map(|l| l.to_bytes()).collect();
        for l in &leaves {
            t.append_data(l);
        }
        let log = Signer::generate(ORIGIN, KeyType::Ed25519, [42; 32]).unwrap();
        let w = Signer::generate("witness.test", KeyType::CosignatureV1, [43; 32]).unwrap();
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: t.size(),
            root: t.root(),
            extensions: vec![],
        };
        let note = sign_checkpoint(&cp, &log).unwrap();
        let cosig = crate::cosignature::cosign(&w, &cp.to_text(), 1_700_000_000).unwrap();
        let note = crate::cosignature::add_signatures(&note, &[cosig]).unwrap();
        let d = LogDescriptor::from_json(&LogDescriptorJson {
            origin: ORIGIN.into(),
            log_vkey: log.verifier().to_vkey(),
            hash: "blake3".into(),
            witnesses: vec![w.verifier().to_vkey()],
            quorum: 1,
            profile: "guangxi".into(),
        })
        .unwrap();
        let b = assemble(ORIGIN, &r.state, REGISTRATION_NO, &note, |i| {
            Ok(EntryProof {
                index: i,
                leaf: B64.encode(&leaves[i as usize]),
                inclusion_proof: t
                    .prove_inclusion(t.size(), i)
                    .unwrap()
                    .iter()
                    .map(|h| B64.encode(h.0))
                    .collect(),
            })
        })
        .unwrap();
        (b, d)
    }

    #[test]
    fn valid_bundles_verify_with_their_status() {
        let (b, d) = setup("product registered");
        let v = verify_bundle(&b, &d).unwrap();
        assert_eq!(v.status, "active");
        assert_eq!(v.witnesses, vec!["witness.test".to_string()]);
        let (b, d) = setup("registration revoked");
        let v = verify_bundle(&b, &d).unwrap();
        assert_eq!(v.status, "revoked");
        assert_eq!(v.certificate.registration_no, REGISTRATION_NO);
    }

    /// flip_b64 flips one bit inside the decoded bytes of a base64 string.
    fn flip_b64(s: &str, byte: usize) -> String {
        let mut b = B64.decode(s).unwrap();
        let i = byte.min(b.len() - 1);
        b[i] ^= 1;
        B64.encode(b)
    }

    #[test]
    fn every_part_is_tamper_evident() {
        let (good, d) = setup("registration revoked");
        let mut cases: Vec<(String, CertificateBundle)> = Vec::new();
        let mut push = |name: &str, f: &dyn Fn(&mut CertificateBundle)| {
            let mut b = good.clone();
            f(&mut b);
            cases.push((name.to_string(), b));
        };
        push("certificate.product_name", &|b| {
            b.certificate.product_name.push('X')
        });
        push("certificate.registration_no", &|b| {
            b.certificate.registration_no.push('1')
        });
        push("certificate.registered_on", &|b| {
            b.certificate.registered_on = crate::calendar::Date::parse("2025-03-25").unwrap()
        });
        push("certificate.scenarios", &|b| {
            b.certificate.scenarios.push("x".into())
        });
        push("blockchain_no", &|b| {
            b.blockchain_no = b.blockchain_no.replace("-1", "-2")
        });
        // Inside the leaf: header, payload, signature, key id.
        push("entry.leaf", &|b| b.entry.leaf = flip_b64(&b.entry.leaf, 3));
        push("entry.leaf", &|b| {
            b.entry.leaf = flip_b64(&b.entry.leaf, 200)
        });
        push("entry.leaf", &|b| {
            let raw = B64.decode(&b.entry.leaf).unwrap();
            b.entry.leaf = flip_b64(&b.entry.leaf, raw.len() - 5);
        });
        push("entry.leaf", &|b| {
            let raw = B64.decode(&b.entry.leaf).unwrap();
            let at = raw
                .windows(b"nn-mobility".len())
                .position(|w| w == b"gx-operator")
                .unwrap_or(raw.len() - 80);
            b.entry.leaf = flip_b64(&b.entry.leaf, at);
        });
        push("entry.index", &|b| b.entry.index += 1);
        push("previous", &|b| {
            b.previous.leaf = flip_b64(&b.previous.leaf, 60)
        });
        push("signer_entries", &|b| b.signer_entries.clear());
        push("status.state", &|b| b.status.state = "active".into());
        push("status.entry", &|b| b.status.entry = None);
        push("checkpoint.text", &|b| {
            b.checkpoint = b.checkpoint.replacen('\n', "x\n", 1)
        });
        push("checkpoint.signature", &|b| {
            let mut n = crate::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
            n.sigs[0].sig[3] ^= 1;
            b.checkpoint = n.to_text();
        });
        push("checkpoint.cosignature", &|b| {
            let mut n = crate::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
            n.sigs[1].sig[20] ^= 1;
            b.checkpoint = n.to_text();
        });
        push("checkpoint.cosignature removed", &|b| {
            let mut n = crate::note::Note::parse(b.checkpoint.as_bytes()).unwrap();
            n.sigs.truncate(1);
            b.checkpoint = n.to_text();
        });
        let proof_len = good.entry.inclusion_proof.len();
        for i in 0..proof_len {
            let mut b = good.clone();
            b.entry.inclusion_proof[i] = flip_b64(&b.entry.inclusion_proof[i], 0);
            cases.push((format!("entry.inclusion_proof[{i}]"), b));
        }
        for (name, b) in cases {
            assert!(
                verify_bundle(&b, &d).is_err(),
                "tampered {name} still verifies"
            );
        }
    }
}
