//! Kinds whose dedup window closed, until they have been quiet long enough
//! to be resolved (their alert edited "✅ quiet since …"). Bounded like the
//! dedup store: at most its capacity wait; a kind that finds no room is
//! simply never resolved.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use super::tally::Tally;

/// How soon a fleet that could not tell whether a kind is quiet is asked again.
const ASK_AGAIN: Duration = Duration::from_secs(5);

/// The kinds waiting to be resolved.
#[derive(Debug)]
pub(super) struct Quieting {
    /// How long a kind must be quiet to be resolved (`None`: never).
    period: Option<Duration>,
    capacity: usize,
    waiting: HashMap<u64, Waiting>,
}

/// A kind whose window closed, until it has been quiet long enough.
#[derive(Debug)]
struct Waiting {
    /// Its alert as the window left it (with what "resolved" will say).
    tally: Tally,
    last_seen_at: Instant,
}

impl Quieting {
    pub(super) fn new(capacity: usize) -> Self {
        Quieting {
            period: None,
            capacity,
            waiting: HashMap::new(),
        }
    }

    pub(super) fn set_period(&mut self, period: Option<Duration>) {
        self.period = period;
    }

    /// Whether kinds are resolved at all.
    pub(super) fn is_on(&self) -> bool {
        self.period.is_some()
    }

    /// Whether `fingerprint` waits to be resolved.
    #[cfg(test)]
    pub(super) fn is_waiting(&self, fingerprint: u64) -> bool {
        self.waiting.contains_key(&fingerprint)
    }

    /// The kind is back before it was quiet long enough: it never stopped.
    pub(super) fn cancel(&mut self, fingerprint: u64) {
        self.waiting.remove(&fingerprint);
    }

    /// `tally`'s kind (last seen `last_seen_at`) waits to be resolved, if
    /// there is room.
    pub(super) fn start(&mut self, tally: Tally, last_seen_at: Instant) {
        if self.period.is_none() || self.waiting.len() >= self.capacity {
            return;
        }
        self.waiting.insert(
            tally.fingerprint,
            Waiting {
                tally,
                last_seen_at,
            },
        );
    }

    /// Whether a kind last seen at `last_seen_at` is quiet long enough at `now`.
    pub(super) fn is_quiet(&self, last_seen_at: Instant, now: Instant) -> bool {
        self.period
            .is_some_and(|period| now.saturating_duration_since(last_seen_at) >= period)
    }

    /// The kinds quiet long enough at `now`: their resolving tallies.
    pub(super) fn resolve(&mut self, now: Instant, tallies: &mut Vec<Tally>) {
        let due: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, waiting)| self.is_quiet(waiting.last_seen_at, now))
            .map(|(fp, _)| *fp)
            .collect();
        for fingerprint in due {
            tallies.extend(self.waiting.remove(&fingerprint).map(|w| w.tally));
        }
    }

    /// A resolving `tally` the fleet held back: the kind has been quiet
    /// `so_far` everywhere (`None`: unknown, asked again in a few seconds),
    /// at `now` (and that moment on the wall clock).
    pub(super) fn postpone(
        &mut self,
        mut tally: Tally,
        so_far: Option<Duration>,
        (now, wall): (Instant, SystemTime),
    ) {
        let Some(period) = self.period else {
            return;
        };
        let so_far = so_far.unwrap_or(period.saturating_sub(ASK_AGAIN));
        if let (Some(resolved), Some(since)) = (tally.resolved.as_mut(), wall.checked_sub(so_far)) {
            // The fleet's last occurrence: what "quiet since" will say.
            resolved.quiet_since = resolved.quiet_since.max(since);
        }
        let last_seen_at = now.checked_sub(so_far).unwrap_or(now);
        self.waiting.insert(
            tally.fingerprint,
            Waiting {
                tally,
                last_seen_at,
            },
        );
    }

    /// When the next kind will have been quiet long enough.
    pub(super) fn next_resolution(&self) -> Option<Instant> {
        let period = self.period?;
        self.waiting.values().map(|w| w.last_seen_at + period).min()
    }
}
