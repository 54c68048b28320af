//! Prometheus text metrics, kept as plain atomics (no global registry).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Metrics are the node's counters and gauges.
#[derive(Default)]
pub struct Metrics {
    /// submissions counts POSTs that reached the sequencer queue.
    pub submissions: AtomicU64,
    /// accepted counts entries made durable.
    pub accepted: AtomicU64,
    /// rejected counts rejections by problem type.
    pub rejected: Mutex<BTreeMap<String, u64>>,
    /// batches counts committed batches.
    pub batches: AtomicU64,
    /// commit_us_sum and commit_count give the mean batch commit latency.
    pub commit_us_sum: AtomicU64,
    /// commit_count counts batch commits (committed or not).
    pub commit_count: AtomicU64,
    /// tree_size is the committed size.
    pub tree_size: AtomicU64,
    /// checkpoint_size is the latest published checkpoint's size.
    pub checkpoint_size: AtomicU64,
    /// leader is 1 while this node may sequence and publish (always, but
    /// for a standby of a log shared in PostgreSQL, D20).
    pub leader: AtomicU64,
    /// storage_errors counts batches that could not be made durable.
    pub storage_errors: AtomicU64,
    /// unwitnessed counts checkpoints signed without the witness quorum.
    pub unwitnessed: AtomicU64,
    /// sign_failures counts checkpoints the log key could not sign (an
    /// external signer down or answering a wrong signature).
    pub sign_failures: AtomicU64,
    /// overloaded counts 503 answers for a full queue.
    pub overloaded: AtomicU64,
    /// flags counts deadline findings recorded.
    pub flags: AtomicU64,
    /// mirror_split_view is 1 once a mirror saw its upstream contradict an accepted checkpoint.
    pub mirror_split_view: AtomicU64,
    /// mirror_syncs counts checkpoints a mirror verified and committed.
    pub mirror_syncs: AtomicU64,
    /// mirror_source_errors counts failed attempts of a mirror to read a source (upstream or fallback).
    pub mirror_source_errors: AtomicU64,
    /// mirror_bad_data counts the failed attempts where a source served data that does not match what the log signed.
    pub mirror_bad_data: AtomicU64,
    /// mirror_sources_failing is how many of a mirror's sources failed their latest attempt.
    pub mirror_sources_failing: AtomicU64,
}

impl Metrics {
    /// reject counts one rejection of `code`.
    pub fn reject(&self, code: &str) {
        *self
            .rejected
            .lock()
            .expect("metrics lock")
            .entry(code.to_string())
            .or_default() += 1;
    }

    /// observe_commit records one batch commit's latency.
    pub fn observe_commit(&self, d: Duration) {
        self.commit_us_sum
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.commit_count.fetch_add(1, Ordering::Relaxed);
    }

    /// render returns the Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let g = |s: &mut String, name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        g(
            &mut s,
            "regledger_mirror_split_view",
            "1 if this mirror saw its upstream contradict an accepted checkpoint (it stopped advancing).",
            "gauge",
            self.mirror_split_view.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_mirror_syncs_total",
            "Upstream checkpoints this mirror verified and committed.",
            "counter",
            self.mirror_syncs.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_mirror_source_errors_total",
            "Failed attempts of this mirror to read a source (unreachable, missing tiles, stale, or bad data).",
            "counter",
            self.mirror_source_errors.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_mirror_bad_data_total",
            "Failed attempts where a source served tiles or a checkpoint that do not match what the log signed (corruption or tampering; not a split view).",
            "counter",
            self.mirror_bad_data.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_mirror_sources_failing",
            "Sources (upstream and fallbacks) whose latest attempt failed.",
            "gauge",
            self.mirror_sources_failing.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_submissions_total",
            "Submissions queued for sequencing.",
            "counter",
            self.submissions.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_entries_accepted_total",
            "Entries made durable.",
            "counter",
            self.accepted.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_batches_total",
            "Batches committed (one fsync each).",
            "counter",
            self.batches.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_commit_seconds_sum",
            "Total batch commit time.",
            "counter",
            0,
        );
        s = s.replace(
            "regledger_commit_seconds_sum 0",
            &format!(
                "regledger_commit_seconds_sum {:.6}",
                self.commit_us_sum.load(Ordering::Relaxed) as f64 / 1e6
            ),
        );
        g(
            &mut s,
            "regledger_commit_seconds_count",
            "Batch commits.",
            "counter",
            self.commit_count.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_tree_size",
            "Committed tree size.",
            "gauge",
            self.tree_size.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_checkpoint_unwitnessed_total",
            "Checkpoint signing attempts that did not reach the witness quorum (under --witness-policy wait: not published, retried every interval, each retry counted).",
            "counter",
            self.unwitnessed.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_leader",
            "1 while this node sequences and publishes; 0 for a standby (--ha-lease-ms).",
            "gauge",
            self.leader.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_checkpoint_sign_failures_total",
            "Checkpoints not published because the log key could not sign (an external signer down, timed out, or answering a signature that does not verify); retried every interval.",
            "counter",
            self.sign_failures.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_checkpoint_size",
            "Size of the latest published checkpoint.",
            "gauge",
            self.checkpoint_size.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_storage_errors_total",
            "Batches that could not be made durable (nothing written).",
            "counter",
            self.storage_errors.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_overloaded_total",
            "Submissions refused with 503 because the queue was full.",
            "counter",
            self.overloaded.load(Ordering::Relaxed),
        );
        g(
            &mut s,
            "regledger_deadline_flags_total",
            "Deadline findings recorded.",
            "counter",
            self.flags.load(Ordering::Relaxed),
        );
        let _ = writeln!(s, "# HELP regledger_rejections_total Rejected submissions by problem type.\n# TYPE regledger_rejections_total counter");
        for (k, v) in self.rejected.lock().expect("metrics lock").iter() {
            let _ = writeln!(s, "regledger_rejections_total{{type=\"{k}\"}} {v}");
        }
        // The standard process metrics (Prometheus naming), for capacity
        // planning and for the load generator's CPU-per-entry figure.
        if let Some(cpu) = process_cpu_seconds() {
            let _ = writeln!(s, "# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu:.2}");
        }
        if let Some(rss) = process_status_kib("VmRSS:") {
            g(
                &mut s,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                "gauge",
                rss * 1024,
            );
        }
        s
    }
}

/// process_cpu_seconds returns this process's user + system CPU time (Linux `/proc`; `None` elsewhere).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name (which may hold spaces):
    // state is field 3, utime 14 and stime 15, in USER_HZ ticks (100 per
    // second, fixed by the kernel's userspace ABI).
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// process_status_kib reads a kB field such as `VmRSS:` of `/proc/self/status`.
fn process_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{process_cpu_seconds, Metrics};

    #[test]
    fn process_metrics_are_exported_and_cpu_time_moves() {
        let before = process_cpu_seconds().expect("/proc/self/stat");
        // Spin until the kernel has charged at least two ticks to us.
        let mut x = 0u64;
        while process_cpu_seconds().unwrap() < before + 0.02 {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
            }
        }
        assert_ne!(x, 1);
        let text = Metrics::default().render();
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert!(value("process_cpu_seconds_total") >= before + 0.02);
        assert!(value("process_resident_memory_bytes") > 1e6);
    }
}
