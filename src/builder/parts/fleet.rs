//! [`Fleet`]: state shared by every process of a service, through Redis.

use std::time::Duration;

use crate::fleet::watch::DEFAULT_WATCH_INTERVAL;

/// A fleet's shared state in Redis (feature `redis`): the first process to
/// see an alert sends it, the others count it, and the tally shows the
/// fleet's total; the startup notice is sent once per deploy. If Redis is
/// unreachable or slow, each decision falls back to this process's memory
/// (counted in `Stats::redis_fallbacks`) until it answers again.
///
/// Fleet digests: each process pushes its window's data when the
/// (wall-clock aligned) window closes; 10 s later one process wins the
/// window's leadership and sends the merged digest. At shutdown a process
/// pushes its partial window and tries to lead at once, so when a whole
/// fleet stops together, the last window's digest holds what the first
/// process to stop could see.
#[derive(Debug, Clone)]
#[must_use]
pub struct Fleet {
    pub(in crate::builder) url: Option<String>,
    pub(in crate::builder) key_prefix: String,
    pub(in crate::builder) timeout: Duration,
    pub(in crate::builder) watch: bool,
    pub(in crate::builder) watch_interval: Duration,
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet {
            url: None,
            key_prefix: "tracing-telegram".to_owned(),
            timeout: Duration::from_millis(500),
            watch: false,
            watch_interval: DEFAULT_WATCH_INTERVAL,
        }
    }
}

impl Fleet {
    /// The Redis URL (`redis://`, or `rediss://` for TLS; env
    /// `TELEGRAM_REDIS_URL`, else `REDIS_URL`). Without one, the process
    /// keeps its state in memory.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The prefix of every Redis key, so several services can share one
    /// Redis (env `REDIS_KEY_PREFIX`). Default `tracing-telegram`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The bound on each Redis call; past it the record is decided in
    /// memory. Default 500 ms.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The fleet watches itself (env `TELEGRAM_WATCH_FLEET`; needs
    /// [`redis_url`](Self::redis_url)). Default off.
    ///
    /// Each process keeps a presence entry in Redis (service, environment,
    /// host, pid, version, start, last alert), refreshed every
    /// [`watch_interval`](Self::watch_interval); a clean shutdown removes
    /// it. A process whose entry lapses for two intervals without a clean
    /// shutdown — killed, out of memory, aborted, `std::process::exit`
    /// past the guard — is reported once per fleet by whichever live
    /// process claims it first: "💀 billing@host-3 · pid 4411 · v1.4.2
    /// vanished at … without shutting down (up 3 h 12 min; last alert: …)".
    /// A process judges lapses only after its own refreshes have reached
    /// Redis without a gap for two intervals, so a Redis outage, a
    /// failover or a paused watcher reports no one. The digest counts the
    /// fleet's live processes, and those that started and vanished.
    pub fn watch_fleet(mut self, on: bool) -> Self {
        self.watch = on;
        self
    }

    /// How often each process refreshes its presence (env
    /// `TELEGRAM_WATCH_INTERVAL_SECONDS`): a process that vanishes is
    /// reported within three intervals. Default 5 s (so within 15 s);
    /// at least 100 ms.
    pub fn watch_interval(mut self, interval: Duration) -> Self {
        self.watch_interval = interval;
        self
    }
}
