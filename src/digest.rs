//! Batching into periodic digests.
//!
//! Every `batch_window` (15 min by default) the worker sends one silent
//! digest, if there is something to say: per slow-span key the count, p50,
//! p95 and max (from a [`Histogram`]), the top keys and how many more there
//! were; the WARN-level events it collected, grouped; and how many records
//! were dropped or suppressed as repeats since the last digest.
//!
//! Slow spans: the first occurrence of a key in a `slow_batch` window
//! (`SLOW_REQUESTS_BATCH_MINUTES`) is alerted at once; the rest of that
//! window is only counted here. Every occurrence, alerted or not, is in the
//! digest's statistics. Everything here is bounded: at most [`MAX_KEYS`]
//! slow keys and warning kinds per window (the rest are counted as "other").

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use crate::histogram::Histogram;
use crate::record::{Kind, Record, SlowSpan};

/// Most slow-span keys, and most warning kinds, tracked per window.
pub(crate) const MAX_KEYS: usize = 1000;
/// Most keys remembered as "already alerted in this slow window".
const MAX_ALERTED: usize = 10_000;

/// Where a record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Render and send it now.
    Alert,
    /// Counted in the next digest only.
    Batched,
}

/// Totals that the digest reports as differences since the last one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) dropped: u64,
    pub(crate) deduplicated: u64,
}

#[derive(Debug)]
struct SlowEntry {
    histogram: Histogram,
    threshold: Duration,
}

#[derive(Debug)]
struct WarningEntry {
    count: u64,
    target: String,
    /// The first message of this kind.
    message: String,
}

/// One row of slow-span statistics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SlowRow {
    pub(crate) key: String,
    pub(crate) count: u64,
    pub(crate) p50: Duration,
    pub(crate) p95: Duration,
    pub(crate) max: Duration,
    pub(crate) threshold: Duration,
}

/// One row of grouped warnings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WarningRow {
    pub(crate) count: u64,
    pub(crate) target: String,
    pub(crate) message: String,
}

/// What one digest says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DigestReport {
    /// How long the window lasted.
    pub(crate) period: Duration,
    pub(crate) ended: SystemTime,
    /// The top slow keys, most frequent first.
    pub(crate) slow: Vec<SlowRow>,
    /// Slow keys not shown (beyond the top N), and occurrences of keys over
    /// the tracking cap.
    pub(crate) slow_more_keys: usize,
    pub(crate) slow_untracked: u64,
    pub(crate) warnings: Vec<WarningRow>,
    pub(crate) warnings_more_kinds: usize,
    pub(crate) warnings_untracked: u64,
    pub(crate) dropped: u64,
    pub(crate) deduplicated: u64,
}

/// The digest stage's state for the current window.
#[derive(Debug)]
pub(crate) struct Digest {
    window: Duration,
    slow_batch: Duration,
    top: usize,
    window_start: Instant,
    slow: HashMap<String, SlowEntry>,
    slow_untracked: u64,
    warnings: HashMap<String, WarningEntry>,
    warnings_untracked: u64,
    /// When each key was last alerted immediately.
    alerted_at: HashMap<String, Instant>,
    reported: Totals,
}

impl Digest {
    pub(crate) fn new(window: Duration, slow_batch: Duration, top: usize, now: Instant) -> Self {
        Digest {
            window,
            slow_batch,
            top,
            window_start: now,
            slow: HashMap::new(),
            slow_untracked: 0,
            warnings: HashMap::new(),
            warnings_untracked: 0,
            alerted_at: HashMap::new(),
            reported: Totals::default(),
        }
    }

    /// Decides whether `record` is alerted now or only counted here. `key`
    /// is the slow-span key of a slow record.
    pub(crate) fn route(&mut self, record: &Record, key: Option<&str>, now: Instant) -> Route {
        match (&record.kind, key) {
            (Kind::DigestOnly, _) => {
                self.add_warning(record);
                Route::Batched
            }
            (Kind::Slow(slow), Some(key)) => {
                self.add_slow(key, slow);
                if self.first_in_slow_window(key, now) {
                    Route::Alert
                } else {
                    Route::Batched
                }
            }
            _ => Route::Alert,
        }
    }

    /// When the current window closes.
    pub(crate) fn due_at(&self) -> Instant {
        self.window_start + self.window
    }

    /// Closes the window: the report, if there is anything to say.
    pub(crate) fn take(&mut self, now: Instant, totals: Totals) -> Option<DigestReport> {
        let period = now.saturating_duration_since(self.window_start);
        self.window_start = now;
        let dropped = totals.dropped.saturating_sub(self.reported.dropped);
        let deduplicated = totals
            .deduplicated
            .saturating_sub(self.reported.deduplicated);
        self.reported = totals;
        let slow = std::mem::take(&mut self.slow);
        let warnings = std::mem::take(&mut self.warnings);
        let slow_untracked = std::mem::take(&mut self.slow_untracked);
        let warnings_untracked = std::mem::take(&mut self.warnings_untracked);
        let quiet = slow.is_empty()
            && warnings.is_empty()
            && slow_untracked + warnings_untracked + dropped + deduplicated == 0;
        if quiet {
            return None;
        }
        let (slow, slow_more_keys) = self.top_slow(slow);
        let (warnings, warnings_more_kinds) = self.top_warnings(warnings);
        Some(DigestReport {
            period,
            ended: SystemTime::now(),
            slow,
            slow_more_keys,
            slow_untracked,
            warnings,
            warnings_more_kinds,
            warnings_untracked,
            dropped,
            deduplicated,
        })
    }

    fn add_slow(&mut self, key: &str, slow: &SlowSpan) {
        let tracked = self.slow.len() < MAX_KEYS || self.slow.contains_key(key);
        if !tracked {
            self.slow_untracked += 1;
            return;
        }
        let entry = self
            .slow
            .entry(key.to_owned())
            .or_insert_with(|| SlowEntry {
                histogram: Histogram::default(),
                threshold: slow.threshold,
            });
        entry.histogram.record(slow.measured());
    }

    fn add_warning(&mut self, record: &Record) {
        let target = record.metadata().map_or("", |m| m.target());
        let kind = format!("{target}\u{0}{}", normalize_message(&record.message));
        if let Some(entry) = self.warnings.get_mut(&kind) {
            entry.count += 1;
        } else if self.warnings.len() < MAX_KEYS {
            self.warnings.insert(
                kind,
                WarningEntry {
                    count: 1,
                    target: target.to_owned(),
                    message: record.message.clone(),
                },
            );
        } else {
            self.warnings_untracked += 1;
        }
    }

    /// Whether `key` has not been alerted in the last `slow_batch`; if so,
    /// it counts as alerted now.
    fn first_in_slow_window(&mut self, key: &str, now: Instant) -> bool {
        if let Some(at) = self.alerted_at.get(key) {
            if now.saturating_duration_since(*at) < self.slow_batch {
                return false;
            }
        }
        if self.alerted_at.len() >= MAX_ALERTED {
            let slow_batch = self.slow_batch;
            self.alerted_at
                .retain(|_, at| now.saturating_duration_since(*at) < slow_batch);
            if self.alerted_at.len() >= MAX_ALERTED {
                // Still full of live keys: alert, but do not remember it.
                return true;
            }
        }
        self.alerted_at.insert(key.to_owned(), now);
        true
    }

    fn top_slow(&self, slow: HashMap<String, SlowEntry>) -> (Vec<SlowRow>, usize) {
        let mut rows: Vec<SlowRow> = slow
            .into_iter()
            .map(|(key, entry)| SlowRow {
                key,
                count: entry.histogram.count(),
                p50: entry.histogram.quantile(0.50),
                p95: entry.histogram.quantile(0.95),
                max: entry.histogram.max(),
                threshold: entry.threshold,
            })
            .collect();
        rows.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(b.max.cmp(&a.max))
                .then(a.key.cmp(&b.key))
        });
        let more = rows.len().saturating_sub(self.top);
        rows.truncate(self.top);
        (rows, more)
    }

    fn top_warnings(&self, warnings: HashMap<String, WarningEntry>) -> (Vec<WarningRow>, usize) {
        let mut rows: Vec<WarningRow> = warnings
            .into_values()
            .map(|entry| WarningRow {
                count: entry.count,
                target: entry.target,
                message: entry.message,
            })
            .collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.message.cmp(&b.message)));
        let more = rows.len().saturating_sub(self.top);
        rows.truncate(self.top);
        (rows, more)
    }
}

/// Messages that differ only in numbers are one kind of warning.
fn normalize_message(message: &str) -> String {
    let mut normalized = String::with_capacity(message.len().min(256));
    let mut in_number = false;
    for c in message.chars().take(256) {
        if c.is_ascii_digit() {
            if !in_number {
                normalized.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            normalized.push(c);
        }
    }
    normalized
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertLevel;
    use crate::record::Origin;

    fn slow_record(ms: u64) -> Record {
        Record {
            level: AlertLevel::Warning,
            kind: Kind::Slow(SlowSpan {
                total: Duration::from_millis(ms),
                busy: Duration::ZERO,
                threshold: Duration::from_millis(50),
                judged_busy: false,
            }),
            origin: Origin::Manual,
            title: None,
            message: String::new(),
            fields: Vec::new(),
            spans: Vec::new(),
            timestamp: SystemTime::now(),
            backtrace: None,
            frames: Vec::new(),
            fingerprint: None,
        }
    }

    #[test]
    fn one_alert_per_key_per_slow_window_and_everything_counted() {
        let start = Instant::now();
        let mut digest = Digest::new(
            Duration::from_secs(900),
            Duration::from_secs(900),
            20,
            start,
        );
        let routes: Vec<Route> = (1..=100)
            .map(|ms| digest.route(&slow_record(ms), Some("GET /x"), start))
            .collect();
        assert_eq!(routes.iter().filter(|r| **r == Route::Alert).count(), 1);
        let later = start + Duration::from_secs(901);
        assert_eq!(
            digest.route(&slow_record(5), Some("GET /x"), later),
            Route::Alert
        );
        let report = digest.take(later, Totals::default()).unwrap();
        assert_eq!(report.slow[0].count, 101);
        assert!(
            digest.take(later, Totals::default()).is_none(),
            "nothing new to say"
        );
    }

    #[test]
    fn keys_are_capped() {
        let start = Instant::now();
        let mut digest = Digest::new(Duration::from_secs(900), Duration::from_secs(900), 5, start);
        for i in 0..(MAX_KEYS + 10) {
            digest.route(&slow_record(60), Some(&format!("key {i}")), start);
        }
        let report = digest.take(start, Totals::default()).unwrap();
        assert_eq!(report.slow.len(), 5);
        assert_eq!(report.slow_more_keys, MAX_KEYS - 5);
        assert_eq!(report.slow_untracked, 10);
    }

    #[test]
    fn numbers_do_not_split_warning_kinds() {
        assert_eq!(
            normalize_message("retry 3 of 5 after 120ms"),
            "retry # of # after #ms"
        );
    }
}
