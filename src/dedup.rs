//! Deduplication of repeated alerts.
//!
//! This is the pipeline stage that will fingerprint records and tally
//! repeats within the `rate_limit` window. It keeps no state yet: every
//! record is admitted as a new alert, and nothing is counted as deduplicated.

use crate::record::Record;

/// What to do with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Send it as an alert of its own.
    Alert,
}

/// The dedup stage. Stateless for now: see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Dedup;

impl Dedup {
    /// Decides whether `record` is a new alert.
    pub(crate) fn admit(&mut self, _record: &Record) -> Verdict {
        Verdict::Alert
    }
}
