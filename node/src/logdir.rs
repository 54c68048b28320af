//! The data directory: keys, log.json, the database, tiles; and `init`.
//!
//! Layout: `ledger.redb` (all durable state), `log.json` (the public log
//! descriptor), `keys/log.key` and `keys/authority.key` (C2SP signer keys,
//! mode 0600), `tiles/` (the tiles; with the embedded store, its full bundles are the only copy of their entries, D29).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand_core::{OsRng, RngCore};
use regledger::descriptor::{LogDescriptor, LogDescriptorJson};
use regledger::entry::envelope::{participant_key_id, payload_type_for, Envelope};
use regledger::tlog::note::{KeyType, Signer};
use regledger::HashSuite;
use serde_json::json;

use crate::store::{Store, StoreSpec};

/// Paths names the files of a data directory.
pub struct Paths {
    /// dir is the data directory.
    pub dir: PathBuf,
}

impl Paths {
    /// db is the redb file.
    pub fn db(&self) -> PathBuf {
        self.dir.join("ledger.redb")
    }
    /// descriptor is log.json.
    pub fn descriptor(&self) -> PathBuf {
        self.dir.join("log.json")
    }
    /// log_key is the log's signer key.
    pub fn log_key(&self) -> PathBuf {
        self.dir.join("keys").join("log.key")
    }
    /// authority_key is the root authority's signer key.
    pub fn authority_key(&self) -> PathBuf {
        self.dir.join("keys").join("authority.key")
    }
    /// tiles is the tile directory.
    pub fn tiles(&self) -> PathBuf {
        self.dir.join("tiles")
    }
    /// exists reports whether a log was initialised here.
    pub fn exists(&self) -> bool {
        self.descriptor().exists() || self.db().exists()
    }
}

/// random_seed draws 32 bytes from the OS.
pub fn random_seed() -> [u8; 32] {
    let mut s = [0u8; 32];
    OsRng.fill_bytes(&mut s);
    s
}

/// write_secret writes a key file readable by the owner only.
///
/// # Errors
///
/// The file system's error; an existing file is never overwritten.
pub fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d)?;
    }
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// read_signer reads a C2SP signer key file.
///
/// # Errors
///
/// The file cannot be read or is not a signer key (the message names the file).
pub fn read_signer(path: &Path) -> Result<Signer, String> {
    let t = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Signer::from_skey(t.trim()).map_err(|e| format!("{}: {e}", path.display()))
}

/// InitOptions are the choices of `init`.
pub struct InitOptions {
    /// origin is the log's origin (and log key name).
    pub origin: String,
    /// suite is the hash suite.
    pub suite: HashSuite,
    /// profile is the policy profile.
    pub profile: String,
    /// log_key is an existing log key file to use.
    pub log_key: Option<PathBuf>,
    /// authority_key is an existing authority key file to use (its name is the participant id).
    pub authority_key: Option<PathBuf>,
    /// authority_name is the authority's display name.
    pub authority_name: String,
    /// witnesses are the witnesses' verifier keys (cosignature/v1) for log.json.
    pub witnesses: Vec<String>,
    /// quorum is how many of them must cosign a checkpoint.
    pub quorum: usize,
    /// store is where the log's durable state goes (`--store`).
    pub store: StoreSpec,
    /// require_sm2 is written to genesis: participant keys must be SM2.
    pub require_sm2: bool,
}

/// generate_signer makes a key of `key_type` from fresh randomness (an SM2
/// d outside [1, n-2], probability about 2^-32, is drawn again).
///
/// # Errors
///
/// The name is not a valid key name.
pub fn generate_signer(name: &str, key_type: KeyType) -> Result<Signer, String> {
    let mut last = String::new();
    for _ in 0..8 {
        match Signer::generate(name, key_type, random_seed()) {
            Ok(s) => return Ok(s),
            Err(regledger::tlog::note::KeyError::Key(e)) => last = e,
            Err(e) => return Err(format!("key name {name:?}: {e}")),
        }
    }
    Err(last)
}

/// note_type is the log key type of a suite: SM2 for sm3, else Ed25519.
pub fn note_type(suite: HashSuite) -> KeyType {
    if suite == HashSuite::Sm3 {
        KeyType::Sm2
    } else {
        KeyType::Ed25519
    }
}

/// check_log_key_suite refuses a log key whose algorithm the suite does
/// not use: an sm3 log is signed with SM2 only (D19), and the log key is
/// never a witness key.
///
/// # Errors
///
/// A message naming the key type and the suite.
pub fn check_log_key_suite(suite: HashSuite, t: KeyType) -> Result<(), String> {
    if t.is_cosignature() {
        return Err("the log key must be a note key, not a witness key".into());
    }
    if suite == HashSuite::Sm3 && t != KeyType::Sm2 {
        return Err(format!(
            "an sm3 log signs with SM2: the log key is {} (make one with keygen --type sm2)",
            t.name()
        ));
    }
    Ok(())
}

/// init creates a log in `paths.dir`: keys, genesis entry, log.json. It refuses to overwrite.
///
/// # Errors
///
/// A log already there, a bad witness key, quorum or profile (nothing
/// written), or a file, store or genesis failure.
pub fn init(paths: &Paths, o: &InitOptions) -> Result<LogDescriptor, String> {
    if paths.exists() {
        return Err(format!(
            "{} already holds a log; refusing to overwrite it",
            paths.dir.display()
        ));
    }
    // Witness keys and quorum are checked before anything is written.
    for w in &o.witnesses {
        let k = regledger::tlog::note::VerifierKey::parse(w)
            .map_err(|e| format!("witness key {w:?}: {e}"))?;
        if !k.key_type().is_cosignature() {
            return Err(format!(
                "witness key {w:?} is not a witness key (cosignature/v1, or SM2 for an sm3 log)"
            ));
        }
        if o.suite == HashSuite::Sm3 && k.key_type() != KeyType::Sm2CosignatureV1 {
            return Err(format!(
                "witness key {w:?} is {}: an sm3 log's witnesses cosign with SM2 (keygen --alg sm2 --type witness)",
                k.key_type().name()
            ));
        }
    }
    if o.quorum > o.witnesses.len() {
        return Err(format!(
            "quorum {} exceeds the {} witnesses given",
            o.quorum,
            o.witnesses.len()
        ));
    }
    if regledger::registry::profile::profile(&o.profile).is_none() {
        return Err(format!(
            "unknown profile {:?} (xian, chengdu, shuozhou, guangxi)",
            o.profile
        ));
    }
    if let StoreSpec::Postgres(_) = &o.store {
        // A shared database may already hold a log (a second node of the
        // same log copies the first one's data directory instead): say so
        // before writing anything.
        let s = Store::open_spec(&o.store).map_err(|e| format!("{}: {e}", o.store.describe()))?;
        let size = s.head().map_err(|e| e.to_string())?.size;
        if size != 0 {
            return Err(format!(
                "{} already holds a log of {size} entries; refusing to start another",
                o.store.describe()
            ));
        }
    }
    let log = match &o.log_key {
        Some(p) => read_signer(p)?,
        // An sm3 log signs its checkpoints with SM2 (D19).
        None => generate_signer(&o.origin, note_type(o.suite))
            .map_err(|e| format!("origin {:?}: {e}", o.origin))?,
    };
    check_log_key_suite(o.suite, log.key_type())?;
    if log.name() != o.origin {
        return Err(format!(
            "log key name {:?} must equal the origin {:?}",
            log.name(),
            o.origin
        ));
    }
    let authority = match &o.authority_key {
        Some(p) => read_signer(p)?,
        None => generate_signer(
            "data-authority",
            if o.suite == HashSuite::Sm3 || o.require_sm2 {
                KeyType::Sm2
            } else {
                KeyType::Ed25519
            },
        )?,
    };
    if o.require_sm2 && authority.key_type() != KeyType::Sm2 {
        return Err("--require-sm2: the authority key must be SM2 (keygen --alg sm2)".into());
    }
    if authority.key_type().is_cosignature() {
        return Err(
            "the authority key must be a note key (ed25519 or sm2), not a witness key".into(),
        );
    }
    // Only now, with every choice checked, is anything written.
    fs::create_dir_all(&paths.dir).map_err(|e| format!("{}: {e}", paths.dir.display()))?;
    write_secret(&paths.log_key(), &log.to_skey())
        .map_err(|e| format!("{}: {e}", paths.log_key().display()))?;
    write_secret(&paths.authority_key(), &authority.to_skey())
        .map_err(|e| format!("{}: {e}", paths.authority_key().display()))?;
    let pk = authority.verifier().public_key().clone();
    let mut genesis = json!({
        "origin": o.origin, "hash": o.suite.name(), "profile": o.profile,
        "authority": {"id": authority.name(), "name": o.authority_name, "role": "data-authority", "public_keys": [B64.encode(pk.material())]}
    });
    if o.require_sm2 {
        genesis["require_sm2"] = json!(true);
    }
    let env = Envelope::sign_with(
        &payload_type_for("genesis"),
        serde_json::to_vec(&genesis).expect("json"),
        &participant_key_id(authority.name(), &pk),
        authority.secret(),
    );
    let store = Store::open_spec(&o.store).map_err(|e| format!("{}: {e}", o.store.describe()))?;
    crate::log::sequencer::append_genesis(&store, o.suite, &o.origin, env)?;
    let d = LogDescriptorJson {
        origin: o.origin.clone(),
        log_vkey: log.verifier().to_vkey(),
        hash: o.suite.name().into(),
        witnesses: o.witnesses.clone(),
        quorum: o.quorum,
        profile: o.profile.clone(),
    };
    let text = serde_json::to_string_pretty(&d).expect("json") + "\n";
    crate::log::tiles::write_atomic(&paths.descriptor(), text.as_bytes())
        .map_err(|e| e.to_string())?;
    LogDescriptor::from_json(&d).map_err(|e| e.to_string())
}

/// load_descriptor reads log.json.
///
/// # Errors
///
/// log.json cannot be read or is not a valid descriptor.
pub fn load_descriptor(paths: &Paths) -> Result<LogDescriptor, String> {
    let b = fs::read(paths.descriptor())
        .map_err(|e| format!("{}: {e}", paths.descriptor().display()))?;
    LogDescriptor::parse(&b).map_err(|e| format!("{}: {e}", paths.descriptor().display()))
}
