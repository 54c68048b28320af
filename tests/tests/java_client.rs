//! The Java client library (clients/java) against a live node: build it
//! with its own build.sh (which also runs its offline tests against
//! schemas/vectors and ledger/tests/vectors), then run its live scenario,
//! which signs entries with participant key files, submits them and
//! verifies receipts, inclusion proofs, checkpoints and certificate
//! bundles. This side then checks the entries are in the log, and that the
//! Rust library verifies the bundle the Java client verified, with the
//! same result: two implementations of schemas/FORMATS.md agreeing.
//!
//! Skipped (with a message) only when `javac` is missing, unless
//! REGLEDGER_REQUIRE_JAVA is set: .ci/run installs Java and sets it.

use std::path::{Path, PathBuf};
use std::process::Command;

use regledger::cert::bundle::{verify_bundle, CertificateBundle};
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
    let s = Signer::generate(&p.id, KeyType::Ed25519, p.key.to_bytes()).unwrap();
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

#[test]
fn java_client_writes_and_verifies_entries_on_a_live_node() {
    if !have_javac() {
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
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let build = dir.path().join("java-build");

    // 1. Build the jar and run the Java unit and vector tests (build.sh fails on any failure).
    let out = Command::new("bash")
        .arg(repo_root().join("clients/java/build.sh"))
        .env("BUILD_DIR", &build)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "clients/java/build.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(junit_count(&report, "tests failed"), Some(0), "{report}");
    assert!(
        junit_count(&report, "tests successful").is_some_and(|n| n > 0),
        "{report}"
    );

    // 2. A live node whose participants are registered by the root authority.
    let data = dir.path().join("node");
    let kit = Testkit::new(ORIGIN);
    init_with_testkit(&data, ORIGIN, "blake3", &kit);
    let node = Node::start(&data, &[]);
    for p in [&kit.agency, &kit.source, &kit.operator, &kit.business] {
        let (code, body) = post(&node.url, &kit.register(p));
        assert_eq!(code, 200, "register {}: {body}", p.id);
    }
    let size_before = tree_size(&node.url);
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    write_key(&keys, "source.key", &kit.source);
    write_key(&keys, "agency.key", &kit.agency);
    write_key(&keys, "operator.key", &kit.operator);
    write_key(&keys, "business.key", &kit.business);
    // The descriptor the platform pins, from the node's data directory (not fetched from the node).
    let log_json = data.join("log.json");
    assert!(log_json.exists(), "init writes log.json beside the data");

    // 3. The Java live scenario.
    let result = dir.path().join("result.json");
    let j = java_libs();
    let cp = [
        build.join("regledger-client-0.1.0.jar"),
        build.join("test-classes"),
        PathBuf::from(format!("{j}/bcprov.jar")),
        PathBuf::from(format!("{j}/gson.jar")),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect::<Vec<_>>()
    .join(":");
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
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Java live scenario failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("NOT proven current"), "{stdout}");
    let r: Value = serde_json::from_slice(&std::fs::read(&result).unwrap()).unwrap();

    // 4. Every entry the Java client reported is in the log, as it said.
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
    assert_eq!(
        tree_size(&node.url),
        size_before + (entries.len() + batch.len()) as u64,
        "the refused and the repeated submissions wrote nothing"
    );

    // 5. The bundle the Java client verified also verifies with the Rust library, with the same result.
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
    assert_eq!(Some(v.status_index), r["status_set_by_index"].as_u64());
    assert_eq!(v.signer, r["signer"].as_str().unwrap());
    // Java calls the signer chain anchored exactly when the node's bundle starts at genesis.
    assert_eq!(
        r["signer_chain_anchored"].as_bool(),
        Some(b.signer_entries.first().map(|e| e.index) == Some(0))
    );
}
