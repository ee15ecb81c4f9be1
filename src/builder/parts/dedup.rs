//! [`Dedup`]: how repeats of one alert are counted instead of sent.

use std::time::Duration;

use crate::pipeline::DedupConfig;

/// Deduplication: the first alert of a fingerprint (level, target,
/// callsite and the message with numbers, ids and quoted values
/// normalised, or an explicit `telegram.fingerprint` field) is sent; its
/// repeats within the window are counted, and the original alert is edited
/// to show the tally (at 10, 100, 1 000 … and when the window closes).
///
/// From the moment an alert's first record is queued, its repeats inside
/// the window are counted on the calling thread with one atomic operation
/// (about 0.1 µs) instead of being captured and queued (about 1 µs). The
/// worker settles those counts at least every 500 ms, so `Stats` and the
/// tallies may lag by that much (`flush` settles them at once).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Dedup(pub(in crate::builder) DedupConfig);

impl Dedup {
    /// The dedup window (env `ALERT_RATE_LIMIT_MINUTES`). Zero turns
    /// deduplication off: every record is an alert of its own. Default 10 min.
    pub fn window(mut self, window: Duration) -> Self {
        self.0.window = window;
        self
    }

    /// The most fingerprints held; when full, the oldest are evicted
    /// (counted in `Stats::dedup_evictions`). Default 10 000.
    pub fn capacity(mut self, fingerprints: usize) -> Self {
        self.0.capacity = fingerprints;
        self
    }

    /// How long a kind must be quiet, after its window closed, to be
    /// resolved: its alert is edited "✅ quiet since 14:12 · ×57 in
    /// 23 min" (env `ALERT_RESOLVE_AFTER_MINUTES`). Zero turns it off.
    /// Default: one [`window`](Self::window). In a fleet (with Redis) quiet
    /// means quiet in every process: the kind's last occurrence lives in
    /// Redis, and the process holding the alert resolves it once.
    pub fn resolve_after(mut self, quiet: Duration) -> Self {
        self.0.resolve_after = Some(quiet);
        self
    }

    /// Whether a tally shows what varies across repeats: for up to three
    /// fields whose values differ (`shard: 3 ×40 · 7 ×2 · others ×5`), the
    /// most frequent values with their counts (env
    /// `ALERT_FIELD_DISTRIBUTION`). Small values only: integers under
    /// 10 000, booleans and short texts; ids (`*_id`, long numbers, hashes)
    /// and floats are left out, values are sanitized. Counted at the
    /// repeat gate by combination (up to 16 per kind and window, the rest
    /// as "others"), fleet-wide with Redis. Default on.
    pub fn field_distribution(mut self, on: bool) -> Self {
        self.0.field_distribution = on;
        self
    }
}
