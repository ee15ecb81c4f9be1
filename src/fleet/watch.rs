//! The fleet watches itself (`fleet.watch_fleet`): each process keeps a
//! presence entry in Redis and refreshes it every interval; a process whose
//! entry lapses without a clean shutdown (killed, out of memory, aborted,
//! `std::process::exit` past the guard) is reported once per fleet by a
//! live process, whichever claims the lapse first.
//!
//! No false deaths: a watcher judges lapses only after its own refreshes
//! have reached Redis without a gap for a whole lapse (a Redis outage or a
//! failover seen here, or a pause of this process, restarts the count),
//! and Redis judges only while some process refreshed lately (a Redis back
//! from an old copy holds old entries of live processes). A refresh may be
//! late by up to one interval (the grace) before its process is judged.
//!
//! In: this process's [`Presence`] and the clock. Out: [`Vanished`]
//! processes to report, and the [`FleetCensus`] a digest shows. The Redis
//! side is `presence` (one script call per refresh).

use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::render::digest::FleetCensus;

use super::Fleet;

/// Default refresh interval: a process killed now is reported within three
/// of them (15 s), well inside the 30 s on-call people expect.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// How many lapsed refreshes make a process vanished: one interval late is
/// still alive (the grace); two is gone.
const LAPSE_INTERVALS: u32 = 2;

/// What a process says about itself in its presence entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Presence {
    pub(crate) service: String,
    pub(crate) environment: String,
    pub(crate) host: String,
    pub(crate) pid: u32,
    #[serde(default)]
    pub(crate) version: Option<String>,
    /// When it started (unix milliseconds).
    pub(crate) started_ms: u64,
    /// Its last alert's title (sanitized) and when it was sent.
    #[serde(default)]
    pub(crate) last_alert: Option<(u64, String)>,
}

/// A process whose presence lapsed, claimed by this one to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vanished {
    /// What it said about itself (`None`: its entry was gone).
    pub(crate) presence: Option<Presence>,
    /// Its last refresh (unix milliseconds, Redis's clock).
    pub(crate) last_seen_ms: u64,
}

/// What a refresh brought.
#[derive(Debug, Default)]
pub(crate) struct WatchNews {
    /// Processes this one claimed to report.
    pub(crate) vanished: Vec<Vanished>,
    /// This process had been reported vanished (its refreshes lapsed: a
    /// pause, a partition) and is back.
    pub(crate) back_after_lapse: bool,
}

/// What one refresh asks of Redis.
#[cfg_attr(not(feature = "redis"), allow(dead_code))] // read by the Redis store
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refresh {
    /// Unrefreshed this long, a process is vanished.
    pub(crate) lapse: Duration,
    /// Whether this process may judge lapses now.
    pub(crate) judge: bool,
    /// Its first refresh (its start is counted).
    pub(crate) first: bool,
}

/// The watch's state in this process.
#[derive(Debug)]
pub(crate) struct Watch {
    interval: Duration,
    presence: Presence,
    next: Instant,
    refreshed_once: bool,
    /// Since when every refresh reached Redis on time (`None`: the last
    /// one failed).
    unbroken_since: Option<Instant>,
    last_ok: Option<Instant>,
    /// Left the fleet (shutdown): no more refreshes.
    left: bool,
}

impl Watch {
    pub(crate) fn new(interval: Duration, presence: Presence, now: Instant) -> Self {
        Watch {
            interval,
            presence,
            next: now,
            refreshed_once: false,
            unbroken_since: None,
            last_ok: None,
            left: false,
        }
    }

    fn lapse(&self) -> Duration {
        self.interval * LAPSE_INTERVALS
    }

    /// Whether this process has had Redis, without a gap, for a whole lapse.
    fn may_judge(&self, now: Instant) -> bool {
        self.unbroken_since
            .is_some_and(|since| now.saturating_duration_since(since) >= self.lapse())
    }

    /// A refresh answered (`ok`) or not, at `now`.
    fn refreshed(&mut self, ok: bool, now: Instant) {
        let on_time = self
            .last_ok
            .is_some_and(|last| now.saturating_duration_since(last) <= self.interval * 2);
        self.unbroken_since = match (ok, on_time) {
            (false, _) => None,
            (true, true) => self.unbroken_since.or(Some(now)),
            // The first answer, or one after a pause of this process.
            (true, false) => Some(now),
        };
        if ok {
            self.last_ok = Some(now);
            self.refreshed_once = true;
        }
        self.next = now + self.interval;
    }
}

impl Fleet {
    /// Keeps this process's presence in the fleet, refreshed every
    /// `interval` (only with Redis).
    pub(crate) fn watch(&mut self, interval: Duration, presence: Presence) {
        if self.store.is_some() {
            self.watch = Some(Watch::new(interval, presence, Instant::now()));
        }
    }

    /// When the presence is next refreshed.
    pub(crate) fn next_refresh(&self) -> Option<Instant> {
        self.watch
            .as_ref()
            .filter(|watch| !watch.left)
            .map(|watch| watch.next)
    }

    /// Notes this process's last alert, told with its presence.
    pub(crate) fn note_alert(&mut self, title: &str, at: SystemTime) {
        if let Some(watch) = &mut self.watch {
            let title: String = title.chars().take(200).collect();
            watch.presence.last_alert = Some((unix_millis(at), title));
        }
    }

    /// Refreshes the presence, and claims the lapsed processes to report.
    pub(crate) async fn refresh_presence(&mut self) -> WatchNews {
        let (Some(store), Some(watch)) = (&mut self.store, &mut self.watch) else {
            return WatchNews::default();
        };
        if watch.left {
            return WatchNews::default();
        }
        let now = Instant::now();
        let refresh = Refresh {
            lapse: watch.lapse(),
            judge: watch.may_judge(now),
            first: !watch.refreshed_once,
        };
        let answer = store.refresh_presence(&watch.presence, refresh).await;
        watch.refreshed(answer.is_some(), now);
        answer.unwrap_or_default()
    }

    /// Leaves the fleet cleanly (shutdown): the presence goes, and no one
    /// reports this process.
    pub(crate) async fn leave(&mut self) {
        let (Some(store), Some(watch)) = (&mut self.store, &mut self.watch) else {
            return;
        };
        if !watch.left {
            watch.left = true;
            store.leave_fleet().await;
        }
    }

    /// The fleet in the digest window `[from, to)` (unix seconds), when
    /// the fleet is watched.
    pub(crate) async fn census(&mut self, from: u64, to: u64) -> Option<FleetCensus> {
        self.watch.as_ref()?;
        self.store
            .as_mut()?
            .census(from.saturating_mul(1000), to.saturating_mul(1000))
            .await
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> Watch {
        Watch::new(Duration::from_secs(5), Presence::default(), Instant::now())
    }

    #[test]
    fn a_watcher_judges_only_after_a_whole_lapse_of_unbroken_refreshes() {
        let mut watch = watch();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        watch.refreshed(true, at(0));
        assert!(!watch.may_judge(at(5)));
        watch.refreshed(true, at(5));
        assert!(watch.may_judge(at(10)), "two intervals without a gap");
        // Redis away once: the count starts again.
        watch.refreshed(false, at(10));
        watch.refreshed(true, at(15));
        assert!(!watch.may_judge(at(20)));
        watch.refreshed(true, at(20));
        assert!(watch.may_judge(at(25)));
        // This process paused for a minute: its view of the fleet is stale.
        watch.refreshed(true, at(85));
        assert!(!watch.may_judge(at(90)));
    }
}
