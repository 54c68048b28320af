//! `regledger-verify status`: a status proof (`GET /v1/status/{kind}/{id}`)
//! checked offline against log.json: as of its checkpoint, the object's
//! state, or that no such object exists (schemas/FORMATS.md "Status
//! proof"). Exit 0 only for an object proven 有效 (active); the codes of
//! [`StatusCode`] for the other states; 1 for a proof that does not verify
//! or a checkpoint older than `--max-age`.

use std::path::PathBuf;

use regledger::cert::status::{verify_status, StatusProof, VerifiedStatus};
use regledger::descriptor::LogDescriptor;
use serde_json::json;

use crate::input::{self, InputError};
use crate::outcome::{Outcome, StatusCode};

/// Arguments of `status`.
#[derive(clap::Args)]
pub struct Args {
    /// The status proof JSON (GET /v1/status/{kind}/{id}).
    pub file: PathBuf,
    /// The log descriptor (log.json) the regulator trusts.
    #[arg(long)]
    pub log: PathBuf,
    /// Refuse a proof whose checkpoint is older than this (e.g. 90s, 10m,
    /// 24h, 7d; a bare number is seconds): its age is the time since the
    /// quorum-th newest witness cosignature, or since the last entry when
    /// log.json asks for no witness.
    #[arg(long, value_parser = parse_duration)]
    pub max_age: Option<u64>,
}

/// parse_duration reads `90s`, `10m`, `24h`, `7d` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], &s[i..]),
        _ => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 90s, 10m, 24h, 7d)"))?;
    let k = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit is s, m, h or d")),
    };
    n.checked_mul(k).ok_or_else(|| format!("{s:?} is too long"))
}

/// now_s is the current Unix time in seconds.
fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// stale says why a verified status is older than `max_age` seconds, if it is.
pub fn stale(v: &VerifiedStatus, quorum: usize, max_age: Option<u64>) -> Option<String> {
    let max = max_age?;
    let fresh = v.fresh_as_of(quorum);
    let age = now_s().saturating_sub(fresh);
    (age > max).then(|| {
        let what = if quorum > 0 {
            "its witness cosignatures"
        } else {
            "its last entry"
        };
        format!(
            "checkpoint: stale: the checkpoint of size {} is {age} s old by {what}, older than --max-age {max} s (a genuine proof, but not of the present)",
            v.checkpoint.size
        )
    })
}

/// state_lines says what the proof establishes, Chinese first.
pub fn state_lines(v: &VerifiedStatus) -> String {
    let s = &v.state;
    let mut t = format!(
        "状态 (Status): {} ({}) — {} {}，截至检查点 size {} (as of checkpoint size {})\n",
        s.status_zh,
        s.status,
        v.kind.name(),
        v.id,
        v.checkpoint.size,
        v.checkpoint.size
    );
    if let Some(i) = s.set_by {
        t.push_str(&format!("记录由条目 {i} 写入 (record set by entry {i})\n"));
    }
    if let Some(p) = &s.product_id {
        t.push_str(&format!("数据产品 (Product): {p}\n"));
    }
    if !v.witnesses.is_empty() {
        t.push_str(&format!("见证 (Witnesses): {}\n", v.witnesses.join(", ")));
    }
    t
}

/// run verifies the status proof.
pub fn run(a: &Args) -> Outcome {
    let prep = || -> Result<(StatusProof, LogDescriptor), InputError> {
        let d = LogDescriptor::parse(&input::read_file(&a.log)?)
            .map_err(|e| input::invalid(&a.log, e))?;
        let p = serde_json::from_slice(&input::read_file(&a.file)?)
            .map_err(|e| input::invalid(&a.file, format!("not a status proof: {e}")))?;
        Ok((p, d))
    };
    let (p, d) = match prep() {
        Ok(x) => x,
        Err(e) => return Outcome::input(e),
    };
    let v = match verify_status(&p, &d) {
        Ok(v) => v,
        Err(e) => return Outcome::fail(e.to_string()),
    };
    if let Some(why) = stale(&v, d.quorum, a.max_age) {
        return Outcome::fail(why);
    }
    let json = json!({"kind": v.kind.name(), "id": v.id, "state": v.state,
                      "checkpoint_size": v.checkpoint.size, "root": v.checkpoint.root.to_hex(),
                      "witnesses": v.witnesses, "fresh_as_of": v.fresh_as_of(d.quorum)});
    let body = state_lines(&v);
    match StatusCode::of(&v.state.status) {
        None => Outcome::Verified {
            text: format!("OK: {} 有效 (active) — status proof verified\n{body}", v.id),
            json,
        },
        Some(code) => Outcome::NotActive {
            code,
            text: format!(
                "NOT ACTIVE: {} {} ({}) — status proof verified\n{body}",
                v.id, v.state.status_zh, v.state.status
            ),
            json,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_parse_with_their_units_and_nothing_else() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        for bad in ["", "h", "1w", "-1s", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
