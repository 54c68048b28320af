//! The checkpoint's state line (schemas/FORMATS.md "Checkpoint state line",
//! D26): a C2SP checkpoint extension line by which the log signs, beside
//! the tree, what its last leaf commits to:
//!
//! ```text
//! regledger-state <integrated time ms of leaf N−1> <base64 state root of leaf N−1>
//! ```
//!
//! It repeats what leaf N−1 says (a v2 leaf carries the state root after
//! it, D15), so that a status proof can name the state root by the signed
//! checkpoint alone instead of carrying that leaf and its inclusion proof
//! (about 560 bytes at 10 M entries). The leaf stays the commitment: every
//! reader that holds leaf N−1 (the audit, the mirror) compares the line
//! with it, and a line that disagrees is a signed, attributable lie of the
//! log key (`checkpoint-state`). Witnesses cosign the line (tlog-cosignature
//! includes extension lines in the signed message) but vouch only for the
//! tree: no witness can check it without the leaves.
//!
//! Strict: at most one such line; the time in decimal without leading
//! zeros; the root 32 bytes of standard base64. Other extension lines are
//! not this module's and are left alone.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::entry::leaf::Leaf;
use crate::tlog::checkpoint::{parse_size, Checkpoint};
use crate::tlog::hash::Hash;

/// STATE_LINE_PREFIX starts the state line (with its one space).
pub const STATE_LINE_PREFIX: &str = "regledger-state ";

/// StateLine is what the state line says of leaf N−1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateLine {
    /// time_ms is leaf N−1's integrated time (Unix ms).
    pub time_ms: u64,
    /// root is leaf N−1's state root: the registry state after N entries.
    pub root: Hash,
}

/// StateLineError is a checkpoint whose state line is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("checkpoint state line: {0}")]
pub struct StateLineError(pub &'static str);

impl StateLine {
    /// of_leaf is the line a checkpoint whose last leaf is `leaf` carries
    /// (None for a v1 leaf, which commits to no state).
    pub fn of_leaf(leaf: &Leaf) -> Option<StateLine> {
        leaf.state_root().map(|root| StateLine {
            time_ms: leaf.integrated_time_ms,
            root,
        })
    }

    /// to_line returns the extension line, without its newline.
    pub fn to_line(&self) -> String {
        format!(
            "{STATE_LINE_PREFIX}{} {}",
            self.time_ms,
            B64.encode(self.root.0)
        )
    }

    /// parse reads one extension line that starts with [`STATE_LINE_PREFIX`].
    ///
    /// # Errors
    ///
    /// A [`StateLineError`] naming the part that is malformed.
    pub fn parse(line: &str) -> Result<StateLine, StateLineError> {
        let rest = line
            .strip_prefix(STATE_LINE_PREFIX)
            .ok_or(StateLineError("not a state line"))?;
        let (time, root) = rest.split_once(' ').ok_or(StateLineError(
            "want `regledger-state <time ms> <base64 root>`",
        ))?;
        let time_ms = parse_size(time).ok_or(StateLineError(
            "the time is not a decimal without leading zeros",
        ))?;
        let root = B64
            .decode(root)
            .ok()
            .and_then(|b| Hash::from_slice(&b))
            .ok_or(StateLineError("the root is not 32 bytes of base64"))?;
        let line_back = StateLine { time_ms, root };
        if line_back.to_line() != line {
            // Non-canonical base64 (padding bits set) would let two lines
            // say the same thing: only the one encoding is accepted.
            return Err(StateLineError("the root is not canonical base64"));
        }
        Ok(line_back)
    }

    /// of_checkpoint returns the state line of `cp` (None: it has none).
    ///
    /// # Errors
    ///
    /// A malformed state line, or more than one.
    pub fn of_checkpoint(cp: &Checkpoint) -> Result<Option<StateLine>, StateLineError> {
        let mut found = None;
        for e in cp
            .extensions
            .iter()
            .filter(|e| e.starts_with("regledger-state"))
        {
            if found.is_some() {
                return Err(StateLineError("more than one state line"));
            }
            found = Some(StateLine::parse(e)?);
        }
        Ok(found)
    }

    /// check_leaf compares the line with leaf N−1 (what every reader that
    /// holds it does).
    ///
    /// # Errors
    ///
    /// What differs, as text for a failure's detail.
    pub fn check_leaf(&self, leaf: &Leaf) -> Result<(), String> {
        self.check(leaf.index, StateLine::of_leaf(leaf))
    }

    /// check compares the line with what leaf `index` (N−1) commits to,
    /// `of_leaf` ([`StateLine::of_leaf`]: None for a v1 leaf).
    ///
    /// # Errors
    ///
    /// What differs, as text for a failure's detail.
    pub fn check(&self, index: u64, of_leaf: Option<StateLine>) -> Result<(), String> {
        match of_leaf {
            None => Err(format!(
                "the checkpoint signs a state root, but its last leaf ({index}) is a v1 leaf, which commits to none"
            )),
            Some(l) if l != *self => Err(format!(
                "the checkpoint signs state root {} at time {} ms, but its last leaf ({index}) commits to {} at {} ms",
                self.root.to_hex(),
                self.time_ms,
                l.root.to_hex(),
                l.time_ms
            )),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> StateLine {
        StateLine {
            time_ms: 1_764_547_200_000,
            root: Hash([7; 32]),
        }
    }

    fn cp(ext: &[&str]) -> Checkpoint {
        Checkpoint {
            origin: "example.org/log".into(),
            size: 3,
            root: Hash([1; 32]),
            extensions: ext.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn round_trip() {
        let l = line();
        assert_eq!(
            l.to_line(),
            "regledger-state 1764547200000 BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="
        );
        assert_eq!(StateLine::parse(&l.to_line()), Ok(l));
        assert_eq!(StateLine::of_checkpoint(&cp(&[&l.to_line()])), Ok(Some(l)));
        assert_eq!(StateLine::of_checkpoint(&cp(&[])), Ok(None));
        assert_eq!(StateLine::of_checkpoint(&cp(&["other ext"])), Ok(None));
        // It survives the checkpoint's own text round trip.
        let c = cp(&["other ext", &l.to_line()]);
        let back = Checkpoint::parse(&c.to_text()).unwrap();
        assert_eq!(StateLine::of_checkpoint(&back), Ok(Some(l)));
    }

    #[test]
    fn malformed_lines_are_refused() {
        let root = B64.encode([7u8; 32]);
        for bad in [
            "regledger-state".to_string(),
            "regledger-state ".to_string(),
            "regledger-state 12".to_string(),
            format!("regledger-state 012 {root}"),
            format!("regledger-state -1 {root}"),
            format!("regledger-state 1.5 {root}"),
            format!("regledger-state 18446744073709551616 {root}"),
            format!("regledger-state  12 {root}"),
            format!("regledger-state 12 {root} "),
            format!("regledger-state 12 {root} extra"),
            format!("regledger-state 12 {}", B64.encode([7u8; 31])),
            format!("regledger-state 12 {}", B64.encode([7u8; 33])),
            "regledger-state 12 BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwd=".into(),
            "regledger-state 12 not*base64".into(),
            format!("regledger-statex 12 {root}"),
        ] {
            assert!(
                StateLine::of_checkpoint(&cp(&[&bad])).is_err(),
                "accepted {bad:?}"
            );
        }
        let l = line().to_line();
        assert_eq!(
            StateLine::of_checkpoint(&cp(&[&l, &l])),
            Err(StateLineError("more than one state line"))
        );
    }
}
