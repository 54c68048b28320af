//! regledger-verify: offline checks a regulator runs on regledger (and any
//! C2SP) logs. Exit codes: 0 verified, 1 verification failure (`FAIL:` on
//! stderr), 2 usage or input error (`error:` on stderr); `status` and
//! `cert` exit 0 only for an object proven 有效 (active), and 3 暂停
//! suspended, 4 已撤销 revoked, 5 已注销登记 deregistered, 6 不存在 absent,
//! 7 another inactive state, 8 (cert) status not provable by the bundle (v1).
#![forbid(unsafe_code)]

mod audit;
mod cmd_audit;
mod cmd_cert;
mod cmd_checkpoint;
mod cmd_consistency;
mod cmd_deadline;
mod cmd_digest;
mod cmd_proof;
mod cmd_status;
mod input;
mod outcome;
mod replay;
mod report;
mod seen;
mod signatures;

use clap::{Parser, Subcommand};

/// Offline verifier for regledger logs and any C2SP transparency log.
///
/// Exit status: 0 verified; 1 verification failed (reason on stderr after
/// "FAIL:"); 2 usage or input error ("error:" on stderr). `status` and
/// `cert`: 0 only when proven 有效 (active); 3 暂停 suspended, 4 已撤销
/// revoked, 5 已注销登记 deregistered, 6 不存在 absent, 7 other inactive,
/// 8 status not proven current (certificate bundle v1).
#[derive(Parser)]
#[command(name = "regledger-verify", version, about, long_about = None)]
struct Cli {
    /// Print a machine-readable JSON result on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Verify a C2SP tlog-proof file: checkpoint signature, witness quorum, inclusion of the leaf.
    Proof(cmd_proof::Args),
    /// Verify two signed checkpoints and the consistency proof between them.
    Consistency(cmd_consistency::Args),
    /// Verify a signed checkpoint note and print its origin, size and root.
    Checkpoint(cmd_checkpoint::Args),
    /// Verify a certificate bundle (数据产品登记证书) against log.json and print it.
    Cert(cmd_cert::Args),
    /// Verify a status proof (GET /v1/status/{kind}/{id}): the object's state, or its absence, as of a checkpoint.
    Status(cmd_status::Args),
    /// Audit a whole log from its tiles: every entry, signature, rule, deadline and the root.
    Audit(cmd_audit::Args),
    /// Print the date N working days after a date on the official holiday calendar.
    Deadline(cmd_deadline::Args),
    /// Print a document's digest in the log's hash suite (what document_blake3 holds).
    Digest(cmd_digest::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.cmd {
        Cmd::Proof(a) => cmd_proof::run(a),
        Cmd::Consistency(a) => cmd_consistency::run(a),
        Cmd::Checkpoint(a) => cmd_checkpoint::run(a),
        Cmd::Cert(a) => cmd_cert::run(a),
        Cmd::Status(a) => cmd_status::run(a),
        Cmd::Audit(a) => cmd_audit::run(a, cli.json),
        Cmd::Deadline(a) => cmd_deadline::run(a),
        Cmd::Digest(a) => cmd_digest::run(a),
    };
    outcome.report(cli.json)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
