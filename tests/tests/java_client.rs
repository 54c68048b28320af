//! The Java client library (clients/java) against a live node: build it
//! with its own build.sh (which also runs its offline tests against
//! schemas/vectors and ledger/tests/vectors), then run its live scenario,
//! which signs entries with participant key files, submits them and
//! verifies receipts, inclusion proofs, checkpoints and certificate
//! bundles. This side then checks the entries are in the log, and that the
//! Rust library verifies the bundle the Java client verified, with the
//! same result: two implementations of schemas/FORMATS.md agreeing. The
//! scenario runs twice: on a blake3 log with Ed25519 keys, and on an sm3
//! log with SM2 keys (BouncyCastle's SM2/SM3 against the node's), each
//! with status proofs (present, absent, tampered) and bundle v2.
//!
//! Skipped (with a message) only when `javac` is missing, unless
//! REGLEDGER_REQUIRE_JAVA is set: .ci/run installs Java and sets it.

use std::path::{Path, PathBuf};
use std::process::Command;

use regledger::cert::bundle::{verify_bundle, CertificateBundle};
use regledger::cert::status::{verify_status, StatusProof};
use regledger::crypto::sm2::pem;
use regledger::crypto::SecretKey;
use regledger::descriptor::LogDescriptor;
use regledger::testkit::{Party, Testkit};
use regledger::tlog::note::{KeyType, Signer};
use regledger_e2e::*;
use serde_json::Value;

const ORIGIN: &str = "regledger.test/java";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn have_javac() -> bool {
    Command::new("javac")
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn write_key(dir: &Path, file: &str, p: &Party) {
    let t = match p.secret() {
        SecretKey::Sm2(_) => KeyType::Sm2,
        SecretKey::Ed25519(_) => KeyType::Ed25519,
    };
    let s = Signer::from_secret(&p.id, t, p.secret()).unwrap();
    std::fs::write(dir.join(file), s.to_skey()).unwrap();
}

/// junit_count reads a count from the JUnit console summary, e.g. `[        35 tests successful      ]`.
fn junit_count(report: &str, what: &str) -> Option<u64> {
    report
        .lines()
        .find(|l| l.contains(what))?
        .trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace())
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn java_libs() -> String {
    std::env::var("JAVA_LIBS").unwrap_or_else(|_| "/usr/share/java".into())
}

/// skip_without_java says whether to skip (javac missing and not required).
fn skip_without_java() -> bool {
    if have_javac() {
        return false;
    }
    assert!(
        std::env::var_os("REGLEDGER_REQUIRE_JAVA").is_none(),
        "REGLEDGER_REQUIRE_JAVA is set (as .ci/run sets it) but javac is not installed"
    );
    // Written to the process's stderr, past the test harness's capture, so the skip is seen.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED java_client: javac not found. Install openjdk-17-jdk-headless, libbcprov-java, \
         libgoogle-gson-java and junit5 (as .ci/run does) to run the Java client's tests."
    );
    true
}

/// build_java builds the jar and the test classes (the live scenario) and,
/// unless `skip_tests`, runs the Java unit and vector tests (build.sh fails
/// on any failure).
fn build_java(build: &Path, skip_tests: bool) {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("clients/java/build.sh"))
        .env("BUILD_DIR", build);
    if skip_tests {
        cmd.env("SKIP_TEST_RUN", "1");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "clients/java/build.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !skip_tests {
        let report = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(junit_count(&report, "tests failed"), Some(0), "{report}");
        assert!(
            junit_count(&report, "tests successful").is_some_and(|n| n > 0),
            "{report}"
        );
    }
}

/// java_classpath is the built jar, the test classes (the scenarios) and the dependencies.
fn java_classpath(build: &Path) -> String {
    let j = java_libs();
    [
        build.join("regledger-client-0.1.0.jar"),
        build.join("test-classes"),
        PathBuf::from(format!("{j}/bcprov.jar")),
        PathBuf::from(format!("{j}/gson.jar")),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect::<Vec<_>>()
    .join(":")
}

/// STATED_ID is the stated SM2 signer ID of the business entity's second key.
const STATED_ID: &str = "GX-NN-MOBILITY-JAVA";

/// register_stated_id_key adds to the kit's business entity an SM2 key
/// with signer ID [`STATED_ID`] (the authority's rotation), writes it to
/// `keys/stated.pem` (PKCS#8 carries no signer ID) and returns that path
/// and its key id.
fn register_stated_id_key(url: &str, kit: &Testkit, keys: &Path) -> (PathBuf, String) {
    let k = regledger::crypto::Sm2SecretKey::from_bytes(&[0x5a; 32], Some(STATED_ID)).unwrap();
    let pk = regledger::crypto::PublicKey::Sm2(k.public().clone());
    let kid = regledger::entry::envelope::participant_key_id(&kit.business.id, &pk);
    let rot = kit.authority.sign(
        regledger::registry::EntryKind::ParticipantKeyRotated,
        &serde_json::json!({"id": kit.business.id, "add_keys": [base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD, pk.material())]}),
    );
    let (code, body) = post(url, &rot);
    assert_eq!(code, 200, "{body}");
    let pem_file = keys.join("stated.pem");
    std::fs::write(&pem_file, pem::private_to_pem(&k)).unwrap();
    (pem_file, kid)
}

/// run_scenario registers the kit's participants on a live node of
/// `hash`, runs the Java live scenario against it, checks that every entry
/// Java reported is in the log, and that the Rust library verifies the
/// bundle and the status proofs Java verified with the same result.
fn run_scenario(dir: &Path, build: &Path, hash: &str, kit: &Testkit) -> Value {
    let data = dir.join("node");
    init_with_testkit(&data, ORIGIN, hash, kit);
    let node = Node::start(&data, &[]);
    for p in [&kit.agency, &kit.source, &kit.operator, &kit.business] {
        let (code, body) = post(&node.url, &kit.register(p));
        assert_eq!(code, 200, "register {}: {body}", p.id);
    }
    let keys = dir.join("keys");
    std::fs::create_dir(&keys).unwrap();
    // sm3: a second key of the business entity, registered with a stated
    // signer ID (the point, then the ID, D19); Java signs with it from PEM.
    let stated = match kit.business.secret() {
        SecretKey::Sm2(_) => Some(register_stated_id_key(&node.url, kit, &keys)),
        SecretKey::Ed25519(_) => None,
    };
    let size_before = tree_size(&node.url);
    write_key(&keys, "source.key", &kit.source);
    write_key(&keys, "agency.key", &kit.agency);
    write_key(&keys, "operator.key", &kit.operator);
    write_key(&keys, "business.key", &kit.business);
    if let SecretKey::Sm2(k) = kit.operator.secret() {
        // The operator's key also as PKCS#8 / SPKI PEM, as `keygen --pem` writes it.
        std::fs::write(keys.join("operator.pem"), pem::private_to_pem(&k)).unwrap();
        std::fs::write(
            keys.join("operator.pub.pem"),
            pem::public_to_pem(k.public()),
        )
        .unwrap();
    }
    // The descriptor the platform pins, from the node's data directory (not fetched from the node).
    let log_json = data.join("log.json");
    assert!(log_json.exists(), "init writes log.json beside the data");

    // The Java live scenario.
    let result = dir.join("result.json");
    let cp = java_classpath(build);
    let out = Command::new("java")
        .args([
            "-cp",
            &cp,
            "dev.regledger.client.LiveScenario",
            "--url",
            &node.url,
        ])
        .arg("--log")
        .arg(&log_json)
        .arg("--keys")
        .arg(&keys)
        .args(["--business-name", &kit.business.name])
        .arg("--out")
        .arg(&result)
        .args(stated.iter().flat_map(|(pem, _)| {
            [
                "--stated-id",
                STATED_ID,
                "--stated-pem",
                pem.to_str().unwrap(),
            ]
        }))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Java live scenario failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A v2 bundle: the status is proven current, and said so in Chinese first.
    assert!(stdout.contains("状态：暂停"), "{stdout}");
    assert!(stdout.contains("proven current"), "{stdout}");
    assert!(!stdout.contains("NOT proven current"), "{stdout}");
    let r: Value = serde_json::from_slice(&std::fs::read(&result).unwrap()).unwrap();
    assert_eq!(r["suite"], hash);

    // Every entry the Java client reported is in the log, as it said.
    let entries = r["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "resource-registered",
            "agreement-filed",
            "agreement-filed",
            "agreement-filed",
            "product-approved",
            "product-registered",
            "operation-event",
            "product-suspended"
        ]
    );
    for (n, e) in entries.iter().enumerate() {
        let i = e["index"].as_u64().unwrap();
        assert_eq!(i, size_before + n as u64, "entries are consecutive: {e}");
        let got = get_json(&format!("{}/v1/entries/{i}", node.url));
        assert_eq!(got["kind"], e["kind"], "entry {i}");
        assert_eq!(got["leaf_hash"], e["leaf_hash"], "entry {i}");
    }
    // The repeat of the operation event was the same entry, not a new one.
    assert_eq!(r["replayed_index"], entries[6]["index"]);
    // The batch (submitBatch) logged its two new events right after them,
    // and neither its repeat nor its refused envelope wrote anything.
    let batch = r["batch"].as_array().unwrap();
    assert_eq!(batch.len(), 2, "{r}");
    for (n, e) in batch.iter().enumerate() {
        let i = e["index"].as_u64().unwrap();
        assert_eq!(
            i,
            size_before + (entries.len() + n) as u64,
            "batch entries follow: {e}"
        );
        let got = get_json(&format!("{}/v1/entries/{i}", node.url));
        assert_eq!(got["kind"], "operation-event", "entry {i}");
        assert_eq!(got["leaf_hash"], e["leaf_hash"], "entry {i}");
    }
    // Under the stated signer ID: logged after the batch, with that key;
    // under the default ID with the same key id: refused, nothing written.
    let stated_n = match &stated {
        Some((_, kid)) => {
            let s = &r["stated_id"];
            assert_eq!(s["refused"], "bad-signature", "{r}");
            assert_eq!(s["key_id"], kid.as_str(), "{r}");
            let i = s["index"].as_u64().unwrap();
            assert_eq!(i, size_before + (entries.len() + batch.len()) as u64);
            let got = get_json(&format!("{}/v1/entries/{i}", node.url));
            assert_eq!(got["kind"], "operation-event", "entry {i}");
            assert!(
                got.to_string().contains(kid.as_str()),
                "entry {i} is signed with the stated-ID key: {got}"
            );
            1
        }
        None => {
            assert!(r.get("stated_id").is_none());
            0
        }
    };
    assert_eq!(
        tree_size(&node.url),
        size_before + (entries.len() + batch.len() + stated_n) as u64,
        "the refused and the repeated submissions wrote nothing"
    );

    // The bundle the Java client verified also verifies with the Rust library, with the same result.
    let b: CertificateBundle =
        serde_json::from_slice(&std::fs::read(r["bundle"].as_str().unwrap()).unwrap()).unwrap();
    let d = LogDescriptor::parse(&std::fs::read(&log_json).unwrap()).unwrap();
    let v = verify_bundle(&b, &d).unwrap();
    assert_eq!(v.blockchain_no, r["blockchain_no"].as_str().unwrap());
    assert_eq!(
        v.certificate.registration_no,
        r["registration_no"].as_str().unwrap()
    );
    assert_eq!(v.status, r["status"].as_str().unwrap());
    assert_eq!(v.status, "suspended");
    assert!(v.status_proven_current, "the node serves v2 bundles");
    assert_eq!(Some(v.status_index), r["status_set_by_index"].as_u64());
    assert_eq!(v.signer, r["signer"].as_str().unwrap());
    // Java calls the signer chain anchored exactly when the node's bundle starts at genesis.
    assert_eq!(
        r["signer_chain_anchored"].as_bool(),
        Some(b.signer_entries.first().map(|e| e.index) == Some(0))
    );

    // The status proofs Java verified verify with the Rust library, with the same state.
    let sp = &r["status_proofs"];
    for (what, status) in [
        ("product", "suspended"),
        ("absent", "absent"),
        ("participant", "active"),
    ] {
        let f = sp[what]["file"].as_str().unwrap();
        let p: StatusProof = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let v = verify_status(&p, &d).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(v.state.status, status, "{what}");
        assert_eq!(sp[what]["status"], status, "{what}: Java's state");
    }
    assert_eq!(sp["product"]["status_zh"], "暂停");
    assert_eq!(
        sp["product"]["status_index"].as_u64(),
        Some(v.status_index),
        "the 登记号's status was set by the suspension"
    );
    r
}

#[test]
fn java_client_writes_and_verifies_entries_on_a_live_node() {
    if skip_without_java() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let build = dir.path().join("java-build");
    // 1. Build the jar and run the Java unit and vector tests (build.sh fails on any failure).
    build_java(&build, false);
    // 2. A live blake3 node whose participants are registered by the root authority.
    let kit = Testkit::new(ORIGIN);
    let r = run_scenario(dir.path(), &build, "blake3", &kit);
    assert_eq!(r["suite"], "blake3");
}

/// The same scenario on an `sm3` log (D19): SM2 participant keys (the
/// operator's read from PEM), SM2 envelopes, SM3 tree, leaf v2, bundle v2
/// and status proofs, all produced by the Rust node and verified by
/// BouncyCastle's SM2 and SM3 in the Java client, then the same bytes by the
/// Rust verifier.
#[test]
fn java_client_on_an_sm3_node_with_sm2_keys() {
    if skip_without_java() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let build = dir.path().join("java-build");
    // The offline tests ran in the test above: this one only builds.
    build_java(&build, true);
    let kit = Testkit::new(ORIGIN).with_sm2();
    assert!(
        matches!(kit.operator.secret(), SecretKey::Sm2(_)),
        "an SM2 kit"
    );
    let r = run_scenario(dir.path(), &build, "sm3", &kit);
    let d =
        LogDescriptor::parse(&std::fs::read(dir.path().join("node/log.json")).unwrap()).unwrap();
    assert_eq!(d.suite, regledger::HashSuite::Sm3);
    // The bundle's registration is signed with SM2 (tag 2), as Java signed it.
    let b: CertificateBundle =
        serde_json::from_slice(&std::fs::read(r["bundle"].as_str().unwrap()).unwrap()).unwrap();
    let env = b.entry.envelope.as_ref().expect("a v2 leaf's envelope");
    let env = regledger::entry::envelope::Envelope::from_bytes(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, env).unwrap(),
    )
    .unwrap();
    assert!(env
        .signatures
        .iter()
        .all(|s| s.alg == regledger::crypto::SigAlg::Sm2));
}

/// The bundles of clients/java's RequireSm2Cases (D19, genesis
/// `require_sm2`: every participant key must be SM2), written by Java's
/// HostileBundles with Java's verdicts: the Rust verifier must reach the
/// same verdict on each, refusing the same part (the signer entry that
/// registers or adds an Ed25519 key, or genesis whose own authority key is
/// Ed25519) and verifying the controls (the same Ed25519 operator without
/// `require_sm2`, an SM2 operator with it).
#[test]
fn java_and_rust_refuse_the_same_require_sm2_bundles() {
    if skip_without_java() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let build = dir.path().join("java-build");
    build_java(&build, true);
    let cases = dir.path().join("cases");
    let out = Command::new("java")
        .args([
            "-cp",
            &java_classpath(&build),
            "dev.regledger.client.HostileBundles",
        ])
        .arg(&cases)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "HostileBundles failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(cases.join("verdicts.json")).unwrap()).unwrap();
    let mut refused = 0;
    for (name, java) in &verdicts {
        let b: CertificateBundle = serde_json::from_slice(
            &std::fs::read(cases.join(format!("{name}.bundle.json"))).unwrap(),
        )
        .unwrap();
        let d =
            LogDescriptor::parse(&std::fs::read(cases.join(format!("{name}.log.json"))).unwrap())
                .unwrap();
        let rust = verify_bundle(&b, &d).err();
        assert_eq!(
            rust.as_ref().map(|e| e.part.as_str()),
            java.as_str(),
            "{name}: Rust says {rust:?}, Java {java}"
        );
        if let Some(e) = rust {
            assert!(e.reason.contains("require_sm2"), "{name}: {e:?}");
            refused += 1;
        }
    }
    assert_eq!(
        (verdicts.len(), refused),
        (5, 3),
        "the cases are RequireSm2Cases' five, three refused: {verdicts:?}"
    );
}
