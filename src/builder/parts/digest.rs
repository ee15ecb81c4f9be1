//! [`Digest`]: the periodic, silent summary.

use std::time::Duration;

use tracing_core::Level;

use crate::chat::Destination;
use crate::pipeline::DigestConfig;

/// The digest: every interval, one silent message of slow spans, warnings
/// and drops is sent if there is anything to say, and a final one at
/// shutdown.
#[derive(Debug, Clone)]
#[must_use]
pub struct Digest {
    pub(in crate::builder) config: DigestConfig,
    pub(in crate::builder) level: Option<Level>,
    pub(in crate::builder) destination: Option<Destination>,
}

impl Default for Digest {
    fn default() -> Self {
        Digest {
            config: DigestConfig::default(),
            level: Some(Level::WARN),
            destination: None,
        }
    }
}

impl Digest {
    /// The digest period (env `BATCH_WINDOW_MINUTES`); windows are aligned
    /// to the wall clock. Default 15 min.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.config.window = interval;
        self
    }

    /// Events at this level or above, but below the builder's `min_level`,
    /// are counted in the digest instead of alerted; `None` ignores them.
    /// Default `WARN`.
    pub fn level(mut self, level: Option<Level>) -> Self {
        self.level = level;
        self
    }

    /// How many slow-span keys and warning kinds a digest lists (the rest
    /// are counted). Default 20.
    pub fn top(mut self, rows: usize) -> Self {
        self.config.top = rows;
        self
    }

    /// Where digests go. Default: where `Info` alerts go.
    pub fn destination(mut self, destination: Destination) -> Self {
        self.destination = Some(destination);
        self
    }
}
