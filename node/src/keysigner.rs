//! The log key and the witness key, in the process or behind the external
//! signer interface (docs/operator.md, "Keys in a signing device"), so that
//! a certified device (密码机 / 签名服务器, GM/T 0018 SDF) can hold them.
//!
//! The interface: `--log-signer cmd:<program> [args…]` (and
//! `--witness-signer` on a mirror) runs the program once per signature with
//! the message on standard input and the environment variables
//! `REGLEDGER_SIGNER_VKEY` (the verifier key it must sign for) and
//! `REGLEDGER_SIGNER_PURPOSE` (`checkpoint` or `cosignature`). It must print
//! the 64-byte raw signature (SM2 `r ‖ s` big-endian, or Ed25519) in base64
//! on one line and exit 0, within 10 seconds (`--signer-timeout-ms` on
//! `serve` and `mirror`, env `REGLEDGER_SIGNER_TIMEOUT_MS`, changes that).
//! Anything else (a non-zero exit, a timeout, after which the program is
//! killed, no or malformed output) is a failure, and a signature
//! that does not verify under the verifier key is refused: nothing is
//! published with it. The node keeps only the verifier key (log.json).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use regledger::tlog::checkpoint::{sign_checkpoint, Checkpoint};
use regledger::tlog::cosignature::{cosign, cosignature_message};
use regledger::tlog::note::{check_text, NoteError, NoteSignature, Signer, VerifierKey};

/// SIGNER_TIMEOUT bounds one external signature by default (D19).
pub const SIGNER_TIMEOUT: Duration = Duration::from_secs(10);

/// MAX_SIGNER_TIMEOUT is the longest `--signer-timeout-ms` allowed: the
/// publisher waits for the signer, so a longer wait only delays the report.
pub const MAX_SIGNER_TIMEOUT: Duration = Duration::from_secs(300);

/// signer_timeout reads `--signer-timeout-ms`.
///
/// # Errors
///
/// 0, or more than [`MAX_SIGNER_TIMEOUT`].
pub fn signer_timeout(ms: u64) -> Result<Duration, String> {
    let t = Duration::from_millis(ms);
    if ms == 0 || t > MAX_SIGNER_TIMEOUT {
        return Err(format!(
            "--signer-timeout-ms {ms}: want 1..={} milliseconds",
            MAX_SIGNER_TIMEOUT.as_millis()
        ));
    }
    Ok(t)
}

/// SignerError says why no signature was made.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// Note: the text or the key type does not allow the signature.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// Unavailable: the external signer could not be run, failed or timed out.
    #[error("external signer {program} failed: {reason}")]
    Unavailable {
        /// program is the signer program.
        program: String,
        /// reason says what happened.
        reason: String,
    },
    /// WrongSignature: the external signer answered with a signature that
    /// does not verify under the verifier key: refused, nothing published.
    #[error(
        "external signer {program} returned a signature that does not verify under {vkey}: refused"
    )]
    WrongSignature {
        /// program is the signer program.
        program: String,
        /// vkey is the key it should have signed with.
        vkey: String,
    },
}

/// External is a key held outside the process.
#[derive(Clone, Debug)]
pub struct External {
    vkey: VerifierKey,
    program: PathBuf,
    args: Vec<String>,
    timeout: Duration,
}

/// KeySigner is a log or witness key: in the process, or external.
#[derive(Clone, Debug)]
pub enum KeySigner {
    /// Local is a key file read into the process.
    Local(Signer),
    /// External is a key behind the signer interface.
    External(External),
}

impl KeySigner {
    /// external parses `cmd:<program> [args…]` for the key `vkey`.
    ///
    /// # Errors
    ///
    /// A spec that is not `cmd:` and a program.
    pub fn external(spec: &str, vkey: VerifierKey) -> Result<KeySigner, String> {
        let rest = spec.strip_prefix("cmd:").ok_or_else(|| {
            format!("signer {spec:?}: want cmd:<program> [args] (docs/operator.md)")
        })?;
        let mut words = rest.split_whitespace();
        let program = words
            .next()
            .ok_or_else(|| format!("signer {spec:?}: no program"))?;
        Ok(KeySigner::External(External {
            vkey,
            program: PathBuf::from(program),
            args: words.map(str::to_string).collect(),
            timeout: SIGNER_TIMEOUT,
        }))
    }

    /// with_timeout sets how long an external signer may take to answer
    /// (a local key is not affected).
    pub fn with_timeout(self, timeout: Duration) -> KeySigner {
        match self {
            KeySigner::External(e) => KeySigner::External(External { timeout, ..e }),
            local => local,
        }
    }

    /// sign_checkpoint returns the signed checkpoint note.
    ///
    /// # Errors
    ///
    /// [`SignerError`]; no note is made.
    pub fn sign_checkpoint(&self, cp: &Checkpoint) -> Result<String, SignerError> {
        match self {
            KeySigner::Local(s) => Ok(sign_checkpoint(cp, s)?),
            KeySigner::External(e) => {
                if e.vkey.key_type().is_cosignature() {
                    return Err(NoteError::InvalidSigner.into());
                }
                let text = cp.to_text();
                check_text(&text)?;
                let sig = e.sign(text.as_bytes(), "checkpoint")?;
                let line = NoteSignature {
                    name: e.vkey.name().to_string(),
                    key_id: e.vkey.key_id(),
                    sig,
                }
                .to_line();
                Ok(format!("{text}\n{line}"))
            }
        }
    }

    /// cosign returns a witness cosignature line for a checkpoint text.
    ///
    /// # Errors
    ///
    /// [`SignerError`].
    pub fn cosign(&self, text: &str, ts: u64) -> Result<NoteSignature, SignerError> {
        match self {
            KeySigner::Local(s) => Ok(cosign(s, text, ts)?),
            KeySigner::External(e) => {
                if !e.vkey.key_type().is_cosignature() {
                    return Err(NoteError::InvalidSigner.into());
                }
                check_text(text)?;
                let mut sig = ts.to_be_bytes().to_vec();
                sig.extend(e.sign(&cosignature_message(text, ts), "cosignature")?);
                Ok(NoteSignature {
                    name: e.vkey.name().to_string(),
                    key_id: e.vkey.key_id(),
                    sig,
                })
            }
        }
    }
}

impl External {
    /// sign runs the signer program on `msg` and checks its answer.
    fn sign(&self, msg: &[u8], purpose: &str) -> Result<Vec<u8>, SignerError> {
        let program = self.program.display().to_string();
        let fail = |reason: String| SignerError::Unavailable {
            program: program.clone(),
            reason,
        };
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .env("REGLEDGER_SIGNER_VKEY", self.vkey.to_vkey())
            .env("REGLEDGER_SIGNER_PURPOSE", purpose)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run it: {e}")))?;
        // The message is small (a checkpoint text): written in full before reading.
        let written = child
            .stdin
            .take()
            .expect("piped")
            .write_all(msg)
            .map_err(|e| fail(format!("writing the message: {e}")));
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if start.elapsed() > self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!(
                        "no answer within {:?} (killed; --signer-timeout-ms)",
                        self.timeout
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(fail(e.to_string())),
            }
        };
        let mut out = String::new();
        let mut err = String::new();
        let _ = child.stdout.take().expect("piped").read_to_string(&mut out);
        let _ = child.stderr.take().expect("piped").read_to_string(&mut err);
        if !status.success() {
            return Err(fail(format!("{status}: {}", err.trim())));
        }
        written?;
        let sig = B64
            .decode(out.trim())
            .ok()
            .filter(|s| s.len() == 64)
            .ok_or_else(|| {
                fail("its answer is not one base64 line of a 64-byte signature".into())
            })?;
        if !self.vkey.verify_sig(msg, &sig) {
            return Err(SignerError::WrongSignature {
                program,
                vkey: self.vkey.to_vkey(),
            });
        }
        Ok(sig)
    }
}

/// SignArgs are `regledger-node sign`'s: the reference software signer.
#[derive(clap::Args)]
pub struct SignArgs {
    /// The regledger key file to sign with.
    #[arg(long)]
    pub key: PathBuf,
}

/// sign runs `regledger-node sign`: the software signer behind the same
/// interface a device's adapter implements (reads the message on stdin,
/// prints the base64 signature). It refuses to sign for another key than
/// REGLEDGER_SIGNER_VKEY when that is set.
///
/// # Errors
///
/// The key file does not parse, or is not the key asked for.
pub fn sign(a: SignArgs) -> Result<(), crate::Failure> {
    let s = crate::logdir::read_signer(&a.key).map_err(crate::Failure::Usage)?;
    if let Ok(want) = std::env::var("REGLEDGER_SIGNER_VKEY") {
        if want != s.verifier().to_vkey() {
            return Err(crate::Failure::Fail(format!(
                "{} holds {}, not the key asked for ({want})",
                a.key.display(),
                s.verifier().to_vkey()
            )));
        }
    }
    let mut msg = Vec::new();
    std::io::stdin()
        .read_to_end(&mut msg)
        .map_err(|e| crate::Failure::Usage(e.to_string()))?;
    println!("{}", B64.encode(s.sign(&msg)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use regledger::tlog::note::KeyType;
    use regledger::HashSuite;

    fn script(dir: &std::path::Path, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("signer.sh");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!("cmd:{}", p.display())
    }

    fn cp() -> Checkpoint {
        Checkpoint {
            origin: "example.org/log".into(),
            size: 3,
            root: HashSuite::Sm3.empty_root(),
            extensions: vec![],
        }
    }

    #[test]
    fn failing_and_lying_signers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = Signer::generate("example.org/log", KeyType::Sm2, [5; 32]).unwrap();
        let v = log.verifier();
        // A well-formed answer that is not the key's signature.
        let zeros = B64.encode([1u8; 64]);
        let s = KeySigner::external(
            &script(dir.path(), &format!("cat >/dev/null; echo {zeros}")),
            v.clone(),
        )
        .unwrap();
        assert!(matches!(
            s.sign_checkpoint(&cp()),
            Err(SignerError::WrongSignature { .. })
        ));
        // Another key's valid signature of the same text.
        let other = Signer::generate("example.org/log", KeyType::Sm2, [6; 32]).unwrap();
        let theirs = B64.encode(other.sign(cp().to_text().as_bytes()));
        let s = KeySigner::external(
            &script(dir.path(), &format!("cat >/dev/null; echo {theirs}")),
            v.clone(),
        )
        .unwrap();
        let e = s.sign_checkpoint(&cp()).unwrap_err();
        assert!(e.to_string().contains("does not verify"), "{e}");
        // Down: exit 1 with a message; garbage; nothing to run.
        let s = KeySigner::external(
            &script(dir.path(), "echo 'device offline' >&2; exit 1"),
            v.clone(),
        )
        .unwrap();
        let e = s.sign_checkpoint(&cp()).unwrap_err();
        assert!(e.to_string().contains("device offline"), "{e}");
        let s = KeySigner::external(&script(dir.path(), "echo not-base64"), v.clone()).unwrap();
        assert!(matches!(
            s.sign_checkpoint(&cp()),
            Err(SignerError::Unavailable { .. })
        ));
        let s = KeySigner::external("cmd:/nonexistent/signer", v.clone()).unwrap();
        assert!(s
            .sign_checkpoint(&cp())
            .unwrap_err()
            .to_string()
            .contains("cannot run it"));
        assert!(KeySigner::external("/bin/true", v.clone()).is_err());
        assert!(KeySigner::external("cmd:", v.clone()).is_err());
        // A right answer: the program gets the text and the vkey.
        let sig = B64.encode(log.sign(cp().to_text().as_bytes()));
        let body = format!("[ \"$REGLEDGER_SIGNER_VKEY\" = '{}' ] || exit 3; [ \"$REGLEDGER_SIGNER_PURPOSE\" = checkpoint ] || exit 4; cat >/dev/null; echo {sig}", v.to_vkey());
        let s = KeySigner::external(&script(dir.path(), &body), v.clone()).unwrap();
        let note = s.sign_checkpoint(&cp()).unwrap();
        assert_eq!(note, sign_checkpoint(&cp(), &log).unwrap());
        // A note key cannot cosign, even externally.
        assert!(s.cosign(&cp().to_text(), 1).is_err());
    }
}
