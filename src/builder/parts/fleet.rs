//! [`Fleet`]: state shared by every process of a service, through Redis.

use std::time::Duration;

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
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet {
            url: None,
            key_prefix: "tracing-telegram".to_owned(),
            timeout: Duration::from_millis(500),
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
}
