//! Several sources of one log, tried in turn (the mirror's `--upstream`
//! and `--fallback`), with a backoff for each that fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::source::{note_size, FetchError, TileSource};

/// MAX_SOURCE_BACKOFF caps the delay before a failing source is tried again.
pub const MAX_SOURCE_BACKOFF: Duration = Duration::from_secs(30);

/// Health is what a [`Fallback`] remembers of one source.
#[derive(Clone, Debug)]
pub struct Health {
    /// failures counts the failed attempts in a row.
    pub failures: u32,
    /// next_try is when the source is due again.
    pub next_try: Instant,
    /// max_seen is the largest checkpoint size it served since the start.
    pub max_seen: u64,
    /// failing: its last attempt failed.
    pub failing: bool,
}

/// Fallback is several sources of one log, tried in turn: the upstream,
/// then each `--fallback`. A source that is down, lacks an object, rolls
/// back or serves data that does not match what the log signed is a
/// failing source: it is backed off (the poll interval, doubling, capped
/// at [`MAX_SOURCE_BACKOFF`]) and the others are tried. One that is
/// merely behind the others is a lagging copy, not a failure. Nothing a
/// source does can stop the follower: only two statements signed by the
/// log key can (docs/decisions.md D10).
pub struct Fallback {
    sources: Vec<Arc<dyn TileSource>>,
    health: Vec<Health>,
    poll: Duration,
}

/// Candidate is a checkpoint note a source served, with the source's index.
pub type Candidate = (usize, Vec<u8>);

impl Fallback {
    /// new tries `sources` in order, each at most once per `poll`.
    pub fn new(sources: Vec<Arc<dyn TileSource>>, poll: Duration) -> Fallback {
        let now = Instant::now();
        let health = sources
            .iter()
            .map(|_| Health {
                failures: 0,
                next_try: now,
                max_seen: 0,
                failing: false,
            })
            .collect();
        Fallback {
            sources,
            health,
            poll,
        }
    }

    /// len returns the number of sources.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// is_empty reports whether there is no source.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// source returns source `i`.
    pub fn source(&self, i: usize) -> &dyn TileSource {
        self.sources[i].as_ref()
    }

    /// health returns what is remembered of source `i`.
    pub fn health(&self, i: usize) -> &Health {
        &self.health[i]
    }

    /// order returns every source index, `first` first.
    pub fn order(&self, first: usize) -> Vec<usize> {
        std::iter::once(first)
            .chain((0..self.len()).filter(|&i| i != first))
            .filter(|&i| i < self.len())
            .collect()
    }

    /// checkpoints reads the checkpoint of every source that is due and
    /// returns the notes served, newest (largest size) first, so that a
    /// fallback ahead of a lagging upstream is followed; and the sources
    /// that failed, with why (a missing checkpoint is a
    /// [`FetchError::NotServed`] of `checkpoint`). The caller reports each
    /// failure with [`Fallback::failed`].
    pub fn checkpoints(&self) -> (Vec<Candidate>, Vec<(usize, FetchError)>) {
        let now = Instant::now();
        let mut notes = Vec::new();
        let mut failed = Vec::new();
        for (i, s) in self.sources.iter().enumerate() {
            if self.health[i].next_try > now {
                continue;
            }
            match s.get("checkpoint") {
                Ok(Some(note)) => notes.push((i, note)),
                Ok(None) => failed.push((
                    i,
                    FetchError::NotServed(format!("{}/checkpoint", s.describe())),
                )),
                Err(e) => failed.push((i, e)),
            }
        }
        notes.sort_by_key(|(i, note)| (std::cmp::Reverse(note_size(note).unwrap_or(0)), *i));
        (notes, failed)
    }

    /// failed records a failed attempt of source `i` and returns how long
    /// it is backed off.
    pub fn failed(&mut self, i: usize) -> Duration {
        let h = &mut self.health[i];
        h.failures = h.failures.saturating_add(1);
        h.failing = true;
        let delay = self
            .poll
            .saturating_mul(1 << (h.failures - 1).min(6))
            .min(MAX_SOURCE_BACKOFF.max(self.poll));
        h.next_try = Instant::now() + delay;
        delay
    }

    /// served records that source `i` served a checkpoint of `size` that was followed.
    pub fn served(&mut self, i: usize, size: u64) {
        let h = &mut self.health[i];
        *h = Health {
            failures: 0,
            next_try: Instant::now(),
            max_seen: h.max_seen.max(size),
            failing: false,
        };
    }

    /// behind records that source `i` served an older checkpoint of `size`,
    /// consistent with the one followed. It returns true for a lagging
    /// copy (never smaller than what it served before), false for one
    /// that rolled back, which the caller reports with [`Fallback::failed`].
    pub fn behind(&mut self, i: usize, size: u64) -> bool {
        let h = &mut self.health[i];
        if size < h.max_seen {
            return false;
        }
        h.max_seen = size;
        h.failing = false;
        h.failures = 0;
        true
    }

    /// failing counts the sources whose last attempt failed.
    pub fn failing(&self) -> usize {
        self.health.iter().filter(|h| h.failing).count()
    }

    /// wait returns how long to wait before the next round: the poll
    /// interval, or longer if every source is backing off.
    pub fn wait(&self) -> Duration {
        let now = Instant::now();
        self.health
            .iter()
            .map(|h| h.next_try.saturating_duration_since(now))
            .min()
            .unwrap_or(self.poll)
            .max(self.poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Option<Vec<u8>>);
    impl TileSource for Fixed {
        fn get(&self, _: &str) -> Result<Option<Vec<u8>>, FetchError> {
            Ok(self.0.clone())
        }
        fn describe(&self) -> String {
            "fixed".into()
        }
    }

    #[test]
    fn a_fallback_backs_failing_sources_off_and_tells_lagging_from_rolled_back() {
        // Long enough that a backed-off source cannot come due during the test.
        let poll = Duration::from_secs(10);
        let mut f = Fallback::new(vec![Arc::new(Fixed(None)), Arc::new(Fixed(None))], poll);
        let (notes, failed) = f.checkpoints();
        assert!(notes.is_empty());
        assert_eq!(failed.len(), 2);
        assert_eq!(f.failed(0), poll);
        assert_eq!(f.failed(0), poll * 2);
        assert_eq!(f.failing(), 1);
        // Source 0 is backing off: only source 1 is asked.
        assert_eq!(f.checkpoints().1.len(), 1);
        f.served(1, 10);
        assert!(f.behind(1, 10), "the same size again is a lagging copy");
        assert!(!f.behind(1, 9), "less than it served before is a rollback");
        assert_eq!(f.order(1), vec![1, 0]);
    }
}
