//! Key files to and from PEM (D19): an SM2 signer key converts to a PKCS#8
//! "PRIVATE KEY" and a SubjectPublicKeyInfo "PUBLIC KEY" (algorithm
//! id-ecPublicKey, curve OID 1.2.156.10197.1.301), which OpenSSL 3,
//! BouncyCastle and the tools of a 密码机 vendor read and write, and back.
//! The regledger key file (skey) carries what PEM cannot: the key name
//! (participant id, origin or witness name) and the note key type.

use std::path::{Path, PathBuf};

use regledger::crypto::sm2::pem;
use regledger::crypto::{PublicKey, SecretKey};
use regledger::tlog::note::{KeyType, Signer};

use crate::logdir;
use crate::Failure;

/// key_type reads `keygen --type` and `--alg`: `--alg sm2` turns the
/// Ed25519 types into their SM2 counterparts.
///
/// # Errors
///
/// An unknown type or algorithm.
pub fn key_type(t: &str, alg: &str) -> Result<KeyType, String> {
    let t = match t {
        "ed25519" => KeyType::Ed25519,
        "witness" => KeyType::CosignatureV1,
        "sm2" => KeyType::Sm2,
        "sm2-witness" => KeyType::Sm2CosignatureV1,
        other => {
            return Err(format!(
                "unknown key type {other:?} (ed25519, sm2, witness or sm2-witness)"
            ))
        }
    };
    Ok(match (alg, t) {
        ("ed25519", t) => t,
        ("sm2", KeyType::Ed25519) => KeyType::Sm2,
        ("sm2", KeyType::CosignatureV1) => KeyType::Sm2CosignatureV1,
        ("sm2", t) => t,
        (other, _) => return Err(format!("unknown algorithm {other:?} (ed25519 or sm2)")),
    })
}

/// pem_paths are the PEM files written beside a key file `out`:
/// `<out>.pem` (PKCS#8 private) and `<out>.pub.pem` (SubjectPublicKeyInfo).
pub fn pem_paths(out: &Path) -> (PathBuf, PathBuf) {
    let s = out.as_os_str().to_owned();
    let mut private = s.clone();
    private.push(".pem");
    let mut public = s;
    public.push(".pub.pem");
    (PathBuf::from(private), PathBuf::from(public))
}

/// to_pem returns the PKCS#8 and SubjectPublicKeyInfo PEM of an SM2 signer.
///
/// # Errors
///
/// The key is not SM2 (PEM export is for SM2 keys).
pub fn to_pem(s: &Signer) -> Result<(String, String), String> {
    match (s.secret(), s.verifier().public_key()) {
        (SecretKey::Sm2(k), PublicKey::Sm2(p)) => {
            Ok((pem::private_to_pem(k), pem::public_to_pem(p)))
        }
        _ => Err(format!(
            "{} is an {} key: PEM export is for SM2 keys",
            s.name(),
            s.key_type().name()
        )),
    }
}

/// write_pem writes the two PEM files of an SM2 signer beside `out`
/// (the private one with mode 0600, refusing to overwrite).
///
/// # Errors
///
/// As [`to_pem`], or the files cannot be written.
pub fn write_pem(s: &Signer, out: &Path) -> Result<(PathBuf, PathBuf), String> {
    let (private, public) = to_pem(s)?;
    let (pp, pubp) = pem_paths(out);
    logdir::write_secret(&pp, private.trim_end()).map_err(|e| format!("{}: {e}", pp.display()))?;
    logdir::write_secret(&pubp, public.trim_end())
        .map_err(|e| format!("{}: {e}", pubp.display()))?;
    Ok((pp, pubp))
}

/// PemImportArgs are `regledger-node pem-import`'s.
#[derive(clap::Args)]
pub struct PemImportArgs {
    /// The PKCS#8 "PRIVATE KEY" PEM of an SM2 key (e.g. `openssl genpkey -algorithm SM2`).
    #[arg(long)]
    pub pem: PathBuf,
    /// Key name: the participant id, the log's origin or the witness name.
    #[arg(long)]
    pub name: String,
    /// Key type: sm2 (participants, logs) or sm2-witness.
    #[arg(long, default_value = "sm2")]
    pub r#type: String,
    /// Where to write the regledger key file (mode 0600; refuses to overwrite).
    #[arg(long)]
    pub out: PathBuf,
}

/// PemExportArgs are `regledger-node pem-export`'s.
#[derive(clap::Args)]
pub struct PemExportArgs {
    /// The regledger SM2 key file (writes both PEM files).
    #[arg(long, required_unless_present = "vkey", conflicts_with = "vkey")]
    pub key: Option<PathBuf>,
    /// Or an SM2 verifier key (e.g. log_vkey of log.json): writes only
    /// `<out>.pub.pem`, for an assessor's `openssl pkeyutl -verify`.
    #[arg(long)]
    pub vkey: Option<String>,
    /// Write `<out>.pem` (PKCS#8 private) and `<out>.pub.pem` (public key).
    #[arg(long)]
    pub out: PathBuf,
}

/// pem_import runs `regledger-node pem-import`.
///
/// # Errors
///
/// The PEM is not an SM2 private key, the name or type is invalid, or the
/// key file cannot be written.
pub fn pem_import(a: PemImportArgs) -> Result<(), Failure> {
    let t = key_type(&a.r#type, "sm2").map_err(Failure::Usage)?;
    let text = std::fs::read_to_string(&a.pem)
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.pem.display())))?;
    let k = pem::private_from_pem(&text, None)
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.pem.display())))?;
    let s = Signer::from_secret(&a.name, t, SecretKey::Sm2(k))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    logdir::write_secret(&a.out, &s.to_skey())
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.out.display())))?;
    println!("{}", key_json(&s, &a.out));
    Ok(())
}

/// pem_export runs `regledger-node pem-export`.
///
/// # Errors
///
/// The key file does not parse or is not SM2, or the PEM files exist.
pub fn pem_export(a: PemExportArgs) -> Result<(), Failure> {
    if let Some(v) = &a.vkey {
        let v = regledger::tlog::note::VerifierKey::parse(v)
            .map_err(|e| Failure::Usage(format!("--vkey: {e}")))?;
        let PublicKey::Sm2(p) = v.public_key() else {
            return Err(Failure::Usage(format!(
                "{} is an {} key: PEM export is for SM2 keys",
                v.name(),
                v.key_type().name()
            )));
        };
        let (_, pubp) = pem_paths(&a.out);
        logdir::write_secret(&pubp, pem::public_to_pem(p).trim_end())
            .map_err(|e| Failure::Usage(format!("{}: {e}", pubp.display())))?;
        println!(
            "{}",
            serde_json::json!({"vkey": v.to_vkey(), "public_pem": pubp})
        );
        return Ok(());
    }
    let key = a.key.expect("clap requires --key or --vkey");
    let s = logdir::read_signer(&key).map_err(Failure::Usage)?;
    let (pp, pubp) = write_pem(&s, &a.out).map_err(Failure::Usage)?;
    let mut j = key_json(&s, &key);
    j["pem"] = serde_json::json!(pp);
    j["public_pem"] = serde_json::json!(pubp);
    println!("{j}");
    Ok(())
}

/// key_json is what keygen and the PEM commands print about a key.
pub fn key_json(s: &Signer, file: &Path) -> serde_json::Value {
    use base64::Engine;
    let pk = s.verifier().public_key().clone();
    serde_json::json!({
        "vkey": s.verifier().to_vkey(),
        "alg": pk.alg().name(),
        "public_key": base64::engine::general_purpose::STANDARD.encode(pk.material()),
        "key_id": regledger::entry::envelope::participant_key_id(s.name(), &pk),
        "file": file,
    })
}
