//! The checks of a verdict, one function each, in the order the page
//! shows them ([`crate::CHECKS`]); [`crate::verdict`] runs them.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::cert::bundle::{
    verify_bundle, BundleError, CertificateBundle, EntryProof, BUNDLE_FORMAT, BUNDLE_FORMAT_V1,
};
use regledger::descriptor::{verify_checkpoint, verify_log_signature, LogDescriptor};
use regledger::entry::blockchain_no::BlockchainNo;
use regledger::entry::leaf::Leaf;
use regledger::registry::{EntryKind, ProductRegistration};
use regledger::tlog::checkpoint::Checkpoint;
use regledger::tlog::proof::verify_inclusion;
use regledger::Hash;
use serde_json::json;

use crate::{
    fingerprint, status_label, valid_hash_prefix, Check, Outcome, Verdict, CHECKS, MAX_INPUT_BYTES,
};

pub(crate) struct Run {
    pub(crate) checks: Vec<Check>,
}

impl Run {
    pub(crate) fn new() -> Run {
        Run {
            checks: CHECKS
                .iter()
                .map(|&(id, zh, en)| Check {
                    id,
                    zh,
                    en,
                    result: Outcome::NotRun,
                    detail: String::new(),
                })
                .collect(),
        }
    }

    pub(crate) fn set(&mut self, id: &str, result: Outcome, detail: impl Into<String>) {
        let c = self
            .checks
            .iter_mut()
            .find(|c| c.id == id)
            .expect("a known check");
        c.result = result;
        c.detail = detail.into();
    }

    pub(crate) fn result(&self, id: &str) -> Outcome {
        self.checks
            .iter()
            .find(|c| c.id == id)
            .map_or(Outcome::NotRun, |c| c.result)
    }
}

/// check_of maps the part a [`BundleError`] names to the check it belongs to.
pub(crate) fn check_of(e: &BundleError) -> &'static str {
    let p = e.part.as_str();
    if p.starts_with("signer_entries") || p.ends_with(".signature") {
        "signer_history"
    } else if p.starts_with("status") {
        "status"
    } else if p.starts_with("certificate") || p.starts_with("entry.payload") || p == "blockchain_no"
    {
        "certificate"
    } else if p.starts_with("entry") || p.starts_with("previous") {
        "inclusion"
    } else if p == "checkpoint" && e.reason.contains("quorum") {
        "witness_quorum"
    } else if p == "checkpoint" {
        "log_signature"
    } else {
        "bundle"
    }
}

/// envelope_of returns an entry's envelope: inside a v1 leaf, or carried
/// beside a v2 leaf and matching its envelope hash.
pub(crate) fn envelope_of(
    what: &str,
    e: &EntryProof,
    leaf: &Leaf,
    d: &LogDescriptor,
) -> Result<regledger::entry::envelope::Envelope, String> {
    let given = match &e.envelope {
        Some(x) => Some(
            B64.decode(x)
                .map_err(|_| format!("{what}: the envelope is not base64"))?,
        ),
        None => None,
    };
    let opened = regledger::entry::leaf::open_entry(d.suite, &leaf.to_bytes(), given.as_deref())
        .map_err(|x| format!("{what}: {x}"))?;
    opened
        .envelope
        .ok_or_else(|| format!("{what}: the envelope of a v2 leaf is missing"))
}

/// open_entry opens an entry and checks its inclusion at `cp`; returns the leaf and its hash.
pub(crate) fn open_entry(
    what: &str,
    e: &EntryProof,
    d: &LogDescriptor,
    cp: &Checkpoint,
) -> Result<(Leaf, Hash), String> {
    let bytes = B64
        .decode(&e.leaf)
        .map_err(|_| format!("{what}: leaf is not base64"))?;
    let leaf = Leaf::parse(&bytes).map_err(|x| format!("{what}: {x}"))?;
    if leaf.index != e.index {
        return Err(format!(
            "{what}: the leaf says index {}, the bundle {}",
            leaf.index, e.index
        ));
    }
    let proof = e
        .inclusion_proof
        .iter()
        .map(|h| B64.decode(h).ok().and_then(|b| Hash::from_slice(&b)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("{what}: the proof is not base64 hashes"))?;
    let lh = d.suite.leaf_hash(&bytes);
    verify_inclusion(d.suite, cp.size, e.index, &lh, &proof, &cp.root).map_err(|x| {
        format!(
            "{what} (entry {}) is not in the tree of checkpoint size {}: {x}",
            e.index, cp.size
        )
    })?;
    Ok((leaf, lh))
}

/// check_log_key reads log.json: the pinned log key, shown with its fingerprint.
pub(crate) fn check_log_key(
    r: &mut Run,
    out: &mut Verdict,
    log_json: &[u8],
) -> Option<LogDescriptor> {
    // The log key: pinned from log.json, shown with its fingerprint.
    let d = match LogDescriptor::parse(log_json) {
        Ok(d) => d,
        Err(e) => {
            r.set("log_key", Outcome::Fail, format!("log.json: {e}"));
            return None;
        }
    };
    let vkey = d.log_key.to_vkey();
    r.set(
        "log_key",
        Outcome::Pass,
        format!(
            "{} — 指纹 (fingerprint) {}; {} 个见证，法定数 {} ({} witnesses, quorum {})",
            vkey,
            fingerprint(&vkey),
            d.witnesses.len(),
            d.quorum,
            d.witnesses.len(),
            d.quorum
        ),
    );
    out.log_fingerprint = Some(fingerprint(&vkey));
    out.log_vkey = Some(vkey);

    Some(d)
}

/// check_bundle parses the bundle and checks its format and log.
pub(crate) fn check_bundle(
    r: &mut Run,
    bundle_json: &[u8],
    d: &LogDescriptor,
) -> Option<CertificateBundle> {
    if bundle_json.len() > MAX_INPUT_BYTES {
        {
            r.set("bundle", Outcome::Fail, "larger than 8 MiB");
            return None;
        };
    }
    let b: CertificateBundle = match serde_json::from_slice(bundle_json) {
        Ok(b) => b,
        Err(e) => {
            r.set(
                "bundle",
                Outcome::Fail,
                format!("not a certificate bundle: {e}"),
            );
            return None;
        }
    };
    if b.format != BUNDLE_FORMAT && b.format != BUNDLE_FORMAT_V1 {
        {
            r.set(
                "bundle",
                Outcome::Fail,
                format!("unknown format {:?}", b.format),
            );
            return None;
        };
    }
    if b.origin != d.origin {
        {
            r.set(
                "bundle",
                Outcome::Fail,
                format!("issued by log {:?}, log.json is {:?}", b.origin, d.origin),
            );
            return None;
        };
    }
    r.set("bundle", Outcome::Pass, b.format.clone());

    Some(b)
}

/// check_checkpoint checks the log's signature alone, then the witnesses.
pub(crate) fn check_checkpoint(
    r: &mut Run,
    out: &mut Verdict,
    b: &CertificateBundle,
    d: &LogDescriptor,
) -> Option<Checkpoint> {
    // The log's signature alone, then the witnesses.
    let cp = match verify_log_signature(b.checkpoint.as_bytes(), d) {
        Ok(v) => v.checkpoint,
        Err(e) => {
            r.set("log_signature", Outcome::Fail, e.to_string());
            return None;
        }
    };
    out.checkpoint_size = Some(cp.size);
    r.set(
        "log_signature",
        Outcome::Pass,
        format!(
            "检查点 size {} 由日志密钥签署 (checkpoint of size {} signed by the log key)",
            cp.size, cp.size
        ),
    );
    match verify_checkpoint(b.checkpoint.as_bytes(), d) {
        Ok(v) => {
            out.witnesses = v.witnesses.iter().map(|w| w.name().to_string()).collect();
            let detail = if d.quorum == 0 {
                "log.json 未要求见证签名 (log.json requires no witness cosignature)".to_string()
            } else {
                format!(
                    "{} / {}（法定数 quorum {}）: {}",
                    v.witnesses.len(),
                    d.witnesses.len(),
                    d.quorum,
                    out.witnesses.join(", ")
                )
            };
            r.set("witness_quorum", Outcome::Pass, detail);
        }
        Err(e) => r.set("witness_quorum", Outcome::Fail, e.to_string()),
    }

    Some(cp)
}

/// check_inclusion proves the registering entry, the entry before it (its
/// link through the one chain rule is checked again by verify_bundle) and
/// the status entry at the checkpoint.
pub(crate) fn check_inclusion(
    r: &mut Run,
    out: &mut Verdict,
    b: &CertificateBundle,
    d: &LogDescriptor,
    cp: &Checkpoint,
) -> Option<(Leaf, Hash)> {
    // Inclusion: the registering entry, the entry before it (hash chain), the status entry.
    let inclusion = (|| -> Result<(Leaf, Hash), String> {
        let (leaf, lh) = open_entry("entry", &b.entry, d, cp)?;
        if b.entry.index == 0 || b.previous.index != b.entry.index - 1 {
            return Err("previous: not the entry before the registering entry".into());
        }
        let (_, ph) = open_entry("previous", &b.previous, d, cp)?;
        if leaf.prev_leaf_hash != ph {
            return Err("entry: does not chain to the entry before it".into());
        }
        if let Some(se) = &b.status.entry {
            open_entry("status.entry", se, d, cp)?;
        }
        Ok((leaf, lh))
    })();
    let (leaf, lh) = match inclusion {
        Ok(x) => x,
        Err(e) => {
            r.set("inclusion", Outcome::Fail, e);
            return None;
        }
    };
    out.leaf_hash = Some(lh.to_hex());
    r.set(
        "inclusion",
        Outcome::Pass,
        format!(
            "条目 {} 收录于检查点 size {}，叶哈希 {} (entry {} is in the tree at size {}; leaf hash {})",
            b.entry.index,
            cp.size,
            lh.to_hex(),
            b.entry.index,
            cp.size,
            lh.to_hex()
        ),
    );

    Some((leaf, lh))
}

/// check_certificate compares the fields shown with the signed payload and
/// the 区块链编号 with the entry.
pub(crate) fn check_certificate(
    r: &mut Run,
    b: &CertificateBundle,
    d: &LogDescriptor,
    leaf: &Leaf,
    lh: &Hash,
    expect_no: &str,
) {
    // The certificate: the fields shown are the signed payload; the 区块链编号 names the entry.
    let cert = (|| -> Result<(), String> {
        let env = envelope_of("entry", &b.entry, leaf, d)?;
        if env.kind_name().ok() != Some(EntryKind::ProductRegistered.name()) {
            return Err(format!(
                "entry {} is {}, not product-registered",
                b.entry.index, env.payload_type
            ));
        }
        let signed: ProductRegistration =
            serde_json::from_slice(&env.payload).map_err(|e| format!("the signed payload: {e}"))?;
        let shown = serde_json::to_value(&b.certificate).map_err(|e| e.to_string())?;
        let signed_v = serde_json::to_value(&signed).map_err(|e| e.to_string())?;
        if shown != signed_v {
            let field = shown
                .as_object()
                .and_then(|o| o.iter().find(|(k, v)| signed_v.get(k.as_str()) != Some(v)))
                .map(|(k, _)| k.clone())
                .unwrap_or_default();
            return Err(format!(
                "certificate.{field} differs from the signed payload"
            ));
        }
        let bno = BlockchainNo::parse(&b.blockchain_no).ok_or("区块链编号 is malformed")?;
        if !bno.matches(&d.origin, b.entry.index, lh) {
            return Err("区块链编号 does not name this entry of this log".into());
        }
        if !expect_no.is_empty() && signed.registration_no != expect_no {
            return Err(format!(
                "the bundle is for 登记号 {}, the page for {expect_no}",
                signed.registration_no
            ));
        }
        Ok(())
    })();
    match cert {
        Ok(()) => r.set(
            "certificate",
            Outcome::Pass,
            format!(
                "登记号 {}，区块链编号 {} 与签名条目一致 (fields equal the signed entry)",
                b.certificate.registration_no, b.blockchain_no
            ),
        ),
        Err(e) => r.set("certificate", Outcome::Fail, e),
    }
}

/// check_qr_hash ties the printed paper to this entry by the QR code's hash prefix.
pub(crate) fn check_qr_hash(r: &mut Run, lh: &Hash, expect_h: &str) {
    // The QR code's hash prefix ties the printed paper to this entry.
    if expect_h.is_empty() {
        r.set(
            "qr_hash",
            Outcome::NotRun,
            "网址中无校验码 h (no h= in the address: the page was not opened from a QR code)",
        );
    } else if !valid_hash_prefix(expect_h) {
        r.set(
            "qr_hash",
            Outcome::Fail,
            "h= must be 8 to 64 lowercase hex digits",
        );
    } else if lh.to_hex().starts_with(expect_h) {
        r.set(
            "qr_hash",
            Outcome::Pass,
            format!("叶哈希以 {expect_h} 开头 (the leaf hash starts with the printed {expect_h})"),
        );
    } else {
        r.set(
            "qr_hash",
            Outcome::Fail,
            format!(
                "印刷的校验码 {expect_h} 与叶哈希 {} 不符 (the printed prefix does not match the leaf hash)",
                &lh.to_hex()[..expect_h.len()]
            ),
        );
    }
}

/// check_with_the_ledger runs everything again through the ledger's own
/// verify_bundle, the authority: the signer history replayed from genesis
/// and the status.
pub(crate) fn check_with_the_ledger(
    r: &mut Run,
    out: &mut Verdict,
    b: &CertificateBundle,
    d: &LogDescriptor,
    cp: &Checkpoint,
) {
    // Everything again through the ledger's own verify_bundle: the signer
    // history replayed from genesis, and the status entry.
    match verify_bundle(b, d) {
        Ok(v) => {
            r.set(
                "signer_history",
                Outcome::Pass,
                format!(
                    "登记条目由 {} 签署；签署方链 {:?} 自创世条目起逐条验签 (signed by {}; signer chain replayed from genesis)",
                    v.signer, v.signer_chain, v.signer
                ),
            );
            let label = status_label(&v.status);
            let (result, detail) = if v.status_proven_current {
                (
                    Outcome::Pass,
                    format!("{label}（已证明为检查点 size {} 时的状态 proven current at the checkpoint)", cp.size),
                )
            } else {
                (
                    Outcome::NotProven,
                    format!(
                        "{label} — 由条目 {} 设定；本证书包格式不能证明其后无变更，状态未经证明为当前状态 (set by entry {}; status not proven current: this bundle format cannot show later entries)",
                        v.status_index, v.status_index
                    ),
                )
            };
            r.set("status", result, detail);
            out.status = Some(
                json!({"state": v.status, "label_zh": label, "set_by_index": v.status_index,
                                     "proven_current": v.status_proven_current}),
            );
            let mut fields = serde_json::to_value(&v.certificate).expect("serializable");
            fields["blockchain_no"] = json!(v.blockchain_no);
            out.certificate = Some(fields);
        }
        Err(e) => {
            // A failure seen above is the cause verify_bundle stopped at too;
            // otherwise the part it names says which check failed.
            if !r.checks.iter().any(|c| c.result == Outcome::Fail) {
                r.set(check_of(&e), Outcome::Fail, e.to_string());
            }
            if r.result("signer_history") == Outcome::NotRun {
                r.set(
                    "signer_history",
                    Outcome::NotRun,
                    "not checked: an earlier part failed",
                );
            }
        }
    }
}
