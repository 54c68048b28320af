//! regledger-node: the ledger node and its reference client. This file is
//! the command line and the wiring; the subsystems are modules: `store`
//! (the durable state behind a narrow API), `log` (the write path:
//! sequencer, publisher, tiles), `http` (the API, by area), `witness`
//! (cosignature client and server), `mirror` and `feed` (the verified
//! follower and its change feed), `logdir` (the data directory) and
//! `metrics`. The load generator is a separate tool, tools/loadgen.
//!
//! Exit codes: 0 success, 1 refused by a rule or a failed check (`FAIL:` on
//! stderr), 2 usage or input error (`error:`).
#![forbid(unsafe_code)]
// Handlers return axum `Response` as their error: it is what is sent, and boxing it buys nothing.
#![allow(clippy::result_large_err)]

mod client;
mod http;
mod keyfile;
mod keysigner;
mod log;
mod logdir;
mod metrics;
mod mirror;
mod repair;
mod site;
mod store;
mod witness;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use clap::{Parser, Subcommand};
use regledger::HashSuite;

use crate::log::{publisher, sequencer};
use crate::logdir::{InitOptions, Paths};

/// regledger node: a tamper-evident registration ledger.
#[derive(Parser)]
#[command(name = "regledger-node", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a log: keys (mode 0600), genesis entry, log.json. Refuses to overwrite an existing log.
    Init(InitArgs),
    /// Run the node. With no log in --data it first initialises a development log.
    Serve(ServeArgs),
    /// Sign a payload as a participant and submit it; prints the receipt JSON (`--example KIND`: a payload template).
    Submit(client::SubmitArgs),
    /// List the entry kinds: Chinese name, who may submit each, what must come first.
    Kinds(client::KindsArgs),
    /// Generate a signer key file and print its verifier key and base64 public key.
    Keygen(KeygenArgs),
    /// Follow an upstream log as a verified mirror (and witness); serve its read API and change feed.
    Mirror(mirror::MirrorArgs),
    /// Make a regledger key file of an SM2 private key in PKCS#8 PEM (OpenSSL, BouncyCastle, a 密码机 vendor's tool).
    PemImport(keyfile::PemImportArgs),
    /// The reference software signer of the external signer interface: sign stdin, print base64.
    Sign(keysigner::SignArgs),
    /// Write an SM2 key file as PKCS#8 PEM (<out>.pem) and its public key as SubjectPublicKeyInfo PEM (<out>.pub.pem).
    PemExport(keyfile::PemExportArgs),
    /// Check the archived entry and envelope bundles (the only copy of old entries, D29) of a
    /// stopped node against the tree; `--repair-from URL` fetches, verifies and rewrites damaged ones.
    CheckTiles(repair::CheckTilesArgs),
}

#[derive(clap::Args)]
struct InitArgs {
    /// Data directory to create the log in.
    #[arg(long, env = "REGLEDGER_DATA", default_value = "./regledger-data")]
    data: PathBuf,
    /// Checkpoint origin (also the log key's name), e.g. "ledger.example.gov.cn/gx".
    #[arg(long)]
    origin: Option<String>,
    /// Hash suite: blake3 (default), sha256 (readable by any C2SP client) or
    /// sm3 (国密: SM3 hashes, SM2 log and witness keys; D19).
    #[arg(long, default_value = "blake3")]
    hash: String,
    /// Policy profile fixed in genesis: xian, chengdu, shuozhou or guangxi.
    #[arg(long, default_value = "guangxi")]
    profile: String,
    /// Use this log signer key file instead of generating one.
    #[arg(long)]
    log_key: Option<PathBuf>,
    /// Use this authority signer key file (its key name is the authority's participant id).
    #[arg(long)]
    authority_key: Option<PathBuf>,
    /// Display name of the root data authority.
    #[arg(long, default_value = "数据主管部门 (root data authority)")]
    authority_name: String,
    /// A witness's verifier key (cosignature/v1, see `keygen --type witness`); repeatable. Written to log.json.
    #[arg(long)]
    witness: Vec<String>,
    /// Genesis requires every participant key to be SM2 (D19; for a log
    /// assessed under GB/T 39786). The generated authority key is then SM2.
    #[arg(long)]
    require_sm2: bool,
    /// How many witnesses must cosign each checkpoint (default: all of them).
    #[arg(long)]
    quorum: Option<usize>,
    /// Where the log's durable state lives: redb (the default, DATA/ledger.redb)
    /// or a PostgreSQL database, postgres://user@host:port/db (decision D20).
    #[arg(long, env = "REGLEDGER_STORE")]
    store: Option<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Data directory.
    #[arg(long, env = "REGLEDGER_DATA", default_value = "./regledger-data")]
    data: PathBuf,
    /// Where the log's durable state lives: redb (the default, DATA/ledger.redb)
    /// or a PostgreSQL database, postgres://user@host:port/db (decision D20).
    #[arg(long, env = "REGLEDGER_STORE")]
    store: Option<String>,
    /// Listen address.
    #[arg(long, env = "REGLEDGER_LISTEN", default_value = "127.0.0.1:8470")]
    listen: SocketAddr,
    /// Sign checkpoints through an external signer holding the log key
    /// (a 密码机 / signing server): `cmd:<program> [args]`, given the message
    /// on stdin (docs/operator.md). keys/log.key is then not read.
    #[arg(long, env = "REGLEDGER_LOG_SIGNER")]
    log_signer: Option<String>,
    /// How long the external signer may take to answer one signature, in
    /// milliseconds (killed after; nothing is published without a verified
    /// signature). 1..=300000.
    #[arg(long, env = "REGLEDGER_SIGNER_TIMEOUT_MS", default_value_t = 10_000)]
    signer_timeout_ms: u64,
    /// Most entries per batch (one fsync per batch).
    #[arg(long, env = "REGLEDGER_MAX_BATCH", default_value_t = 4096)]
    max_batch: usize,
    /// How long a batch waits to fill, in milliseconds.
    #[arg(long, env = "REGLEDGER_BATCH_WAIT_MS", default_value_t = 2)]
    batch_wait_ms: u64,
    /// Submissions queued before the node answers 503 (backpressure).
    #[arg(long, env = "REGLEDGER_QUEUE", default_value_t = 16384)]
    queue: usize,
    /// Checkpoint interval while entries arrive, in milliseconds.
    #[arg(long, env = "REGLEDGER_CHECKPOINT_MS", default_value_t = 500)]
    checkpoint_ms: u64,
    /// Re-sign the checkpoint at least this often when idle, in seconds.
    #[arg(long, env = "REGLEDGER_IDLE_RESIGN_S", default_value_t = 300)]
    idle_resign_s: u64,
    /// Longest time a request may take, body upload included (slow clients are cut off), in seconds.
    #[arg(long, env = "REGLEDGER_REQUEST_TIMEOUT_S", default_value_t = 30)]
    request_timeout_s: u64,
    /// Close a connection that sends no complete request head for this long, in seconds
    /// (idle keep-alive connections and slow-header clients alike).
    #[arg(long, env = "REGLEDGER_IDLE_TIMEOUT_S", default_value_t = 20)]
    idle_timeout_s: u64,
    /// Most open connections; more wait in the listen backlog. Keep it below `ulimit -n`.
    #[arg(long, env = "REGLEDGER_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// A witness's base URL (C2SP tlog-witness add-checkpoint); repeatable. Its key must be in log.json.
    #[arg(long)]
    witness: Vec<String>,
    /// How long to wait for the witnesses' cosignatures of each checkpoint.
    #[arg(long, default_value_t = 2000)]
    witness_timeout_ms: u64,
    /// wait: publish a checkpoint only with log.json's quorum of cosignatures; best-effort: publish with what arrived.
    #[arg(long, default_value = "wait")]
    witness_policy: String,
    /// After a crash, open the database by walking and re-checking the whole file (slow on large logs)
    /// instead of loading the allocator state every commit saves (quick repair, the default).
    #[arg(long, env = "REGLEDGER_FULL_REPAIR")]
    full_repair: bool,
    /// TEST ONLY: hold every batch this long before committing it (stands
    /// for a slow disk in the end-to-end tests). Hidden; never set it in production.
    #[arg(long, hide = true, default_value_t = 0)]
    test_commit_delay_ms: u64,
    /// Also publish tiles, entry bundles and the checkpoint to S3-compatible object storage,
    /// s3://BUCKET/PREFIX, with conditional puts (decision D20). Credentials and region from
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.
    #[arg(long, env = "REGLEDGER_TILES")]
    tiles: Option<String>,
    /// Run as one of several candidate leaders of a log in one PostgreSQL database (--store
    /// postgres://...), with a lease of this many milliseconds: the holder sequences and
    /// publishes, the others serve reads and take over when the lease lapses (decision D20).
    /// 0: the only node.
    #[arg(long, env = "REGLEDGER_HA_LEASE_MS", default_value_t = 0)]
    ha_lease_ms: u64,
    /// This node's name in the lease (default: the listen address).
    #[arg(long, env = "REGLEDGER_NODE_ID")]
    node_id: Option<String>,
    /// The endpoint of an S3-compatible service (MinIO, OSS, OBS, COS, ...), addressed path-style.
    #[arg(long, env = "REGLEDGER_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    #[command(flatten)]
    site: site::SiteArgs,
}

#[derive(clap::Args)]
struct KeygenArgs {
    /// Key name: the participant id (for participant keys) or the witness/log name.
    #[arg(long)]
    name: String,
    /// Key type: ed25519 or sm2 (participants, logs), witness (cosignature/v1,
    /// Ed25519) or sm2-witness (an SM2 witness key, for sm3 logs).
    #[arg(long, default_value = "ed25519")]
    r#type: String,
    /// Algorithm: ed25519 (default) or sm2, which makes `--type ed25519` an
    /// SM2 key and `--type witness` an SM2 witness key (D19).
    #[arg(long, default_value = "ed25519")]
    alg: String,
    /// Also write the key as PKCS#8 PEM (<out>.pem) and its public key as
    /// SubjectPublicKeyInfo PEM (<out>.pub.pem); SM2 keys only.
    #[arg(long)]
    pem: bool,
    /// Where to write the private key (mode 0600; refuses to overwrite).
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REGLEDGER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        // Colour only on a terminal: a log file or journal gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        // A log line that cannot be written (stderr on a full disk) is
        // dropped: the layer's fallback would eprintln!, which panics
        // when stderr fails, in whichever thread logged (the sequencer's
        // storage warning stopped it). tests/tests/faults.rs.
        .log_internal_errors(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Init(a) => init(a),
        Cmd::Serve(a) => serve(a),
        Cmd::Submit(a) => client::submit(a),
        Cmd::Kinds(a) => client::kinds(a),
        Cmd::Keygen(a) => keygen(a),
        Cmd::Mirror(a) => mirror::run_mirror(a),
        Cmd::PemImport(a) => keyfile::pem_import(a),
        Cmd::Sign(a) => keysigner::sign(a),
        Cmd::PemExport(a) => keyfile::pem_export(a),
        Cmd::CheckTiles(a) => repair::check_tiles(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Fail(m)) => {
            eprintln!("FAIL: {m}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Silent) => ExitCode::from(1),
    }
}

/// Failure is how a command ends unsuccessfully.
pub enum Failure {
    /// Fail: refused or failed check (exit 1).
    Fail(String),
    /// Usage: usage or input error (exit 2).
    Usage(String),
    /// Silent: refused, and already reported on stdout (`--json`; exit 1).
    Silent,
}

/// fatal_if_it_panics runs a thread the node cannot do without (the
/// sequencer, the publisher) and ends the process if it panics. A node
/// whose sequencer died would otherwise keep serving reads and answer
/// every write 503 until someone noticed; exiting lets the supervisor
/// restart it, and a restart loses nothing (every acknowledged entry was
/// committed before its answer).
fn fatal_if_it_panics<T>(name: &str, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            tracing::error!("the {name} thread panicked: stopping the node (restart it; nothing acknowledged is lost)");
            std::process::exit(70)
        }
    }
}

fn init(a: InitArgs) -> Result<(), Failure> {
    let suite = HashSuite::from_name(&a.hash)
        .ok_or_else(|| Failure::Usage(format!("unknown hash {:?}", a.hash)))?;
    let origin = a.origin.unwrap_or_else(dev_origin);
    let paths = Paths { dir: a.data };
    let store =
        store::StoreSpec::parse(a.store.as_deref(), &paths.db(), true).map_err(Failure::Usage)?;
    let spec_text = store.describe();
    let d = logdir::init(
        &paths,
        &InitOptions {
            store,
            origin,
            suite,
            profile: a.profile,
            log_key: a.log_key,
            authority_key: a.authority_key,
            authority_name: a.authority_name,
            quorum: a.quorum.unwrap_or(a.witness.len()),
            witnesses: a.witness,
            require_sm2: a.require_sm2,
        },
    )
    .map_err(Failure::Usage)?;
    print_created(&paths, &d, &spec_text);
    Ok(())
}

fn dev_origin() -> String {
    let s = logdir::random_seed();
    format!("regledger.local/dev-{}", hex::encode(&s[..4]))
}

fn print_created(paths: &Paths, d: &regledger::descriptor::LogDescriptor, store: &str) {
    println!(
        "created log {} ({}, profile {})",
        d.origin, d.suite, d.profile
    );
    println!("  log.json:       {}", paths.descriptor().display());
    println!("  log key:        {}", paths.log_key().display());
    println!("  authority key:  {}", paths.authority_key().display());
    println!("  database:       {store}");
}

fn keygen(a: KeygenArgs) -> Result<(), Failure> {
    let t = keyfile::key_type(&a.r#type, &a.alg).map_err(Failure::Usage)?;
    if a.pem && t.alg() != regledger::crypto::SigAlg::Sm2 {
        return Err(Failure::Usage(
            "--pem is for SM2 keys (add --alg sm2)".into(),
        ));
    }
    let s = logdir::generate_signer(&a.name, t).map_err(Failure::Usage)?;
    logdir::write_secret(&a.out, &s.to_skey())
        .map_err(|e| Failure::Usage(format!("{}: {e}", a.out.display())))?;
    let mut j = keyfile::key_json(&s, &a.out);
    if a.pem {
        let (pp, pubp) = keyfile::write_pem(&s, &a.out).map_err(Failure::Usage)?;
        j["pem"] = serde_json::json!(pp);
        j["public_pem"] = serde_json::json!(pubp);
    }
    println!("{j}");
    if !t.is_cosignature() {
        eprintln!(
            "next: a data authority registers {:?} with this public_key (`regledger-node submit --example participant-registered` prints the payload); the key file stays with its owner",
            s.name()
        );
    }
    Ok(())
}

fn serve(a: ServeArgs) -> Result<(), Failure> {
    let paths = Paths {
        dir: a.data.clone(),
    };
    let store_spec = store::StoreSpec::parse(a.store.as_deref(), &paths.db(), !a.full_repair)
        .map_err(Failure::Usage)?;
    if !paths.exists() {
        let origin = dev_origin();
        let d = logdir::init(
            &paths,
            &InitOptions {
                origin,
                suite: HashSuite::Blake3,
                profile: "guangxi".into(),
                log_key: None,
                authority_key: None,
                authority_name: "数据主管部门 (development)".into(),
                witnesses: vec![],
                quorum: 0,
                store: store_spec.clone(),
                require_sm2: false,
            },
        )
        .map_err(Failure::Usage)?;
        println!(
            "no log in {}: initialised a development log",
            paths.dir.display()
        );
        print_created(&paths, &d, &store_spec.describe());
    }
    let descriptor = logdir::load_descriptor(&paths).map_err(Failure::Usage)?;
    let descriptor_json =
        std::fs::read_to_string(paths.descriptor()).map_err(|e| Failure::Usage(e.to_string()))?;
    // The log key: keys/log.key, or an external signer (a 密码机) for the
    // log_vkey of log.json, in which case no private key is on disk.
    let signer = match &a.log_signer {
        Some(spec) => keysigner::KeySigner::external(spec, descriptor.log_key.clone())
            .map_err(Failure::Usage)?
            .with_timeout(keysigner::signer_timeout(a.signer_timeout_ms).map_err(Failure::Usage)?),
        None => {
            let signer = logdir::read_signer(&paths.log_key()).map_err(Failure::Usage)?;
            if signer.verifier() != descriptor.log_key {
                return Err(Failure::Usage(
                    "keys/log.key does not match log_vkey in log.json".into(),
                ));
            }
            keysigner::KeySigner::Local(signer)
        }
    };
    let store = Arc::new(
        store::Store::open_spec(&store_spec)
            .map_err(|e| Failure::Usage(format!("{}: {e}", store_spec.describe())))?
            // Full bundles become the store of record of their entries (D29).
            .with_archive(&paths.tiles(), descriptor.suite),
    );
    if a.ha_lease_ms > 0 {
        let holder = a.node_id.clone().unwrap_or_else(|| a.listen.to_string());
        store
            .start_lease(holder, Duration::from_millis(a.ha_lease_ms.max(300)))
            .map_err(Failure::Usage)?;
    }
    let metrics = Arc::new(metrics::Metrics::default());
    let latest = Arc::new(RwLock::new(publisher::Published::default()));
    let (notify, published) = tokio::sync::watch::channel(0u64);
    let publisher = publisher::Publisher {
        store: store.clone(),
        suite: descriptor.suite,
        origin: descriptor.origin.clone(),
        signer,
        tiles_dir: paths.tiles(),
        latest: latest.clone(),
        notify,
        metrics: metrics.clone(),
        witnesses: witnesses(&a, &descriptor)?,
        tiles_written: Default::default(),
        objects: match &a.tiles {
            None => None,
            Some(url) => Some(
                log::objects::ObjectTiles::open(
                    url,
                    a.s3_endpoint.as_deref(),
                    descriptor_json.as_bytes(),
                )
                .map_err(Failure::Usage)?,
            ),
        },
    };
    publisher
        .load()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    // Reconcile at start: tiles and a checkpoint for everything committed.
    match publisher.publish_once(false) {
        Ok(_) => {}
        // The bucket may be down: serve and acknowledge from the store of
        // record; the publisher copies everything once it is back.
        Err(publisher::PublishError::Objects(e)) => {
            tracing::warn!("object store not reachable at start (retrying): {e}")
        }
        Err(e) => return Err(Failure::Usage(format!("cannot publish at start: {e}"))),
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(a.queue.max(1));
    let seq_store = store.clone();
    let seq_metrics = metrics.clone();
    let (suite, origin) = (descriptor.suite, descriptor.origin.clone());
    let cfg = sequencer::Config {
        max_batch: a.max_batch.max(1),
        max_wait: Duration::from_millis(a.batch_wait_ms),
        // Capped, and loud: a test hook that must never slow a real node unnoticed.
        test_commit_delay: Duration::from_millis(a.test_commit_delay_ms.min(10_000)),
    };
    if a.test_commit_delay_ms > 0 {
        tracing::warn!(
            "TEST ONLY: every batch is held {} ms before its commit (--test-commit-delay-ms)",
            cfg.test_commit_delay.as_millis()
        );
    }
    // Before the server answers: /metrics must not read a tree size of 0
    // for a log with entries while the sequencer thread starts.
    if let Ok(h) = seq_store.head() {
        metrics
            .tree_size
            .store(h.size, std::sync::atomic::Ordering::Relaxed);
    }
    let seq = std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || {
            fatal_if_it_panics("sequencer", || {
                sequencer::run(seq_store, suite, origin, cfg, rx, seq_metrics)
            })
        })
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let pub_stop = stop.clone();
    let (interval, idle) = (
        Duration::from_millis(a.checkpoint_ms.max(10)),
        Duration::from_secs(a.idle_resign_s.max(1)),
    );
    let pubt = std::thread::Builder::new()
        .name("publisher".into())
        .spawn(move || fatal_if_it_panics("publisher", || publisher.run(interval, idle, pub_stop)))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let app = Arc::new(http::App {
        store,
        descriptor,
        descriptor_json,
        queue: Some(tx),
        latest,
        published,
        tiles_dir: paths.tiles(),
        metrics,
    });
    let server = http::Server {
        name: "regledger-node",
        listen: a.listen,
        request_timeout: Duration::from_secs(a.request_timeout_s.max(1)),
        limits: http::Limits {
            idle_timeout: Duration::from_secs(a.idle_timeout_s.max(1)),
            max_connections: a.max_connections.max(1),
        },
        drain: None,
    };
    let site_args = a.site.clone();
    let result = http::run(server, move |addr| {
        let site = crate::site::routes(app.clone(), &site_args, addr, None)?;
        Ok((app, site))
    });
    // Router (and queue sender) dropped with the runtime: the sequencer drains and exits.
    let seq_ok = seq.join().is_ok();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let pub_ok = pubt.join().is_ok();
    if result.is_ok() && seq_ok && pub_ok {
        tracing::info!(
            "已正常关闭 (closed cleanly: every acknowledged entry is committed, the database closed; the next start needs no repair)"
        );
    }
    result.map_err(Failure::Usage)
}

/// witnesses builds the publisher's witness configuration from the serve flags and log.json.
fn witnesses(
    a: &ServeArgs,
    d: &regledger::descriptor::LogDescriptor,
) -> Result<Option<witness::client::Witnesses>, Failure> {
    let wait = match a.witness_policy.as_str() {
        "wait" => true,
        "best-effort" => false,
        other => {
            return Err(Failure::Usage(format!(
                "--witness-policy {other:?}: want wait or best-effort"
            )))
        }
    };
    if a.witness.is_empty() {
        if d.quorum > 0 {
            return Err(Failure::Usage(format!(
                "log.json requires {} witness cosignature(s): give the witnesses with --witness URL",
                d.quorum
            )));
        }
        return Ok(None);
    }
    for u in &a.witness {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(Failure::Usage(format!(
                "--witness {u:?}: want an http(s) URL"
            )));
        }
    }
    Ok(Some(witness::client::Witnesses {
        urls: a.witness.clone(),
        log_key: d.log_key.clone(),
        keys: d.witnesses.clone(),
        quorum: d.quorum,
        timeout: Duration::from_millis(a.witness_timeout_ms.max(1)),
        wait,
        cosigned: Default::default(),
    }))
}
