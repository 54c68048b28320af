//! docs/walkthrough.md, run verbatim: every ```sh block, in order, in one
//! `bash -euo pipefail`, in a temp dir, against a development node this
//! test starts (`serve` on an empty directory, as the page's reader does),
//! with the built binaries on PATH. A block after the marker
//! `<!-- walkthrough: not run by the test ... -->` is skipped (it builds the
//! binaries and starts the node); a block after
//! `<!-- walkthrough: this one fails, saying "TEXT" ... -->` must exit
//! non-zero (its last command's status) and print TEXT. The page also has
//! to submit every entry kind but genesis (which the node writes itself).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use regledger::registry::EntryKind;
use regledger_e2e::*;

/// Block is one ```sh block of the page.
struct Block {
    /// line is its first line in the file (1-based), for messages.
    line: usize,
    /// code is its text.
    code: String,
    /// marker is the `<!-- walkthrough: ... -->` right before it, if any.
    marker: Option<String>,
}

/// blocks returns the ```sh blocks of a Markdown page with the marker
/// comment on the nearest non-blank line before each.
fn blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() == "```sh" {
            let marker = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| l.trim().strip_prefix("<!-- walkthrough:"))
                .map(|m| m.trim_end_matches("-->").trim().to_string());
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && lines[end].trim_end() != "```" {
                end += 1;
            }
            assert!(end < lines.len(), "unclosed ```sh block at line {}", i + 1);
            out.push(Block {
                line: start + 1,
                code: lines[start..end].join("\n"),
                marker,
            });
            i = end;
        }
        i += 1;
    }
    out
}

/// expected_text returns the quoted TEXT of a `saying "TEXT"` marker.
fn expected_text(marker: &str) -> Option<&str> {
    let rest = &marker[marker.find("saying \"")? + 8..];
    Some(&rest[..rest.find('"')?])
}

/// script turns the blocks into one bash script, each block announced on
/// stderr with its line so a failure points at the page.
fn script(blocks: &[Block]) -> String {
    // Background jobs the page starts (the mirror) end with the script,
    // whether it finishes, fails or is stopped by the test's deadline.
    let mut s = String::from(
        "set -euo pipefail\ntrap 'jobs -p | xargs -r kill 2>/dev/null || true' EXIT\n",
    );
    for b in blocks {
        let marker = b.marker.as_deref().unwrap_or("");
        if marker.starts_with("not run by the test") {
            continue;
        }
        s.push_str(&format!(
            "echo '=== docs/walkthrough.md line {}' >&2\n",
            b.line
        ));
        if marker.starts_with("this one fails") {
            let text = expected_text(marker).unwrap_or_else(|| {
                panic!(
                    "line {}: a failing block's marker quotes what it says",
                    b.line
                )
            });
            assert!(!text.contains('\''), "line {}: quote without '", b.line);
            s.push_str(&format!(
                "if (\n{}\n) > .walkthrough-out 2>&1; then cat .walkthrough-out; echo 'docs/walkthrough.md line {line}: this block should have failed' >&2; exit 97; fi\n\
                 cat .walkthrough-out >&2\n\
                 grep -qF -- '{text}' .walkthrough-out || {{ echo 'docs/walkthrough.md line {line}: failed without saying {text}' >&2; exit 98; }}\n",
                b.code,
                line = b.line,
            ));
        } else {
            s.push_str(&b.code);
            s.push('\n');
        }
    }
    s
}

#[test]
fn the_walkthrough_runs_verbatim() {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/walkthrough.md");
    let md = std::fs::read_to_string(&page).unwrap();
    let blocks = blocks(&md);
    let run: String = blocks
        .iter()
        .filter(|b| {
            !b.marker
                .as_deref()
                .unwrap_or("")
                .starts_with("not run by the test")
        })
        .map(|b| b.code.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for k in EntryKind::ALL.iter().filter(|k| **k != EntryKind::Genesis) {
        assert!(
            run.contains(&format!("--kind {} ", k.name())),
            "docs/walkthrough.md never submits {}",
            k.name()
        );
    }
    for tool in ["bash", "curl", "jq", "date"] {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "the walkthrough needs {tool} on PATH: install it");
    }

    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let node = Node::start(&work.join("regledger-data"), &[]);
    let bin_dir = bin("regledger-node").parent().unwrap().to_path_buf();
    assert!(bin("regledger-verify").exists());
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out_file = work.join("walkthrough.out");
    let out_handle = std::fs::File::create(&out_file).unwrap();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script(&blocks))
        .current_dir(work)
        .env("PATH", path)
        .env("REGLEDGER_URL", &node.url)
        .env("MIRROR_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("REGLEDGER_LOG", "warn")
        .env_remove("REGLEDGER_DATA")
        .env_remove("REGLEDGER_LISTEN")
        .stdin(Stdio::null())
        .stdout(out_handle.try_clone().unwrap())
        .stderr(out_handle)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + patience();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    if status.is_none() {
        // SIGTERM, so its EXIT trap stops what it started in the background.
        let _ = Command::new("kill")
            .arg(child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let _ = child.wait();
    }
    let out = std::fs::read_to_string(&out_file).unwrap_or_default();
    let tail: Vec<&str> = out.lines().rev().take(60).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!(
            "the walkthrough failed ({s}); the last block announced is where:\n{}",
            tail.join("\n")
        ),
        None => panic!(
            "the walkthrough did not finish within {} s:\n{}",
            patience().as_secs(),
            tail.join("\n")
        ),
    }
    // The whole transcript, shown with `-- --nocapture`.
    println!("{out}");
    // The mirror saw the revocation (the page checks it too).
    assert!(out.contains("mirror: P-1 is revoked"), "{out}");
}

#[test]
fn markers_are_read_as_the_page_means() {
    let md = "a\n<!-- walkthrough: not run by the test -->\n```sh\nx\n```\n\n<!-- walkthrough: this one fails, saying \"boom\" (why) -->\n\n```sh\ny\nz\n```\n```json\n{}\n```\n```sh\nw\n```\n";
    let b = blocks(md);
    assert_eq!(b.len(), 3);
    assert_eq!((b[0].line, b[0].code.as_str()), (4, "x"));
    assert!(b[0].marker.as_deref().unwrap().starts_with("not run"));
    assert_eq!(expected_text(b[1].marker.as_deref().unwrap()), Some("boom"));
    assert_eq!(b[1].code, "y\nz");
    assert_eq!(b[2].marker, None);
    let s = script(&b);
    assert!(!s.contains("\nx\n") && s.contains("\nw\n") && s.contains("grep -qF -- 'boom'"));
}
