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

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::text::normalize::normalize;

use super::histogram::Histogram;
use crate::record::{Occurrence, Record, SlowSpan};
use crate::render::digest::{DigestReport, FleetCensus, SlowRow, WarningRow};

/// Most slow-span keys, and most warning kinds, tracked per window.
pub(crate) const MAX_KEYS: usize = 1000;
/// Most keys remembered as "already alerted in this slow window".
const MAX_ALERTED: usize = 10_000;

/// The digest stage's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DigestConfig {
    /// The digest period (windows aligned to the wall clock).
    pub(crate) window: Duration,
    /// After one immediate slow alert per key, the rest of that key only go
    /// to the digest for this long.
    pub(crate) slow_batch: Duration,
    /// Rows per section.
    pub(crate) top: usize,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            window: Duration::from_secs(15 * 60),
            slow_batch: Duration::from_secs(15 * 60),
            top: 20,
        }
    }
}

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SlowEntry {
    histogram: Histogram,
    threshold: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WarningEntry {
    count: u64,
    target: String,
    /// The first message of this kind.
    message: String,
}

/// One destination's part of a window (see `routed_digests`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RoutedData {
    pub(super) chat_id: crate::chat::ChatId,
    pub(super) thread_id: Option<i64>,
    pub(super) data: DigestData,
}

/// A digest window that closed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClosedWindow {
    /// Its wall-clock number (`unix time / window`), the same in every process.
    pub(crate) id: u64,
    /// How long it lasted.
    pub(crate) period: Duration,
    pub(crate) data: DigestData,
}

impl ClosedWindow {
    /// The report: the top `top` rows of each section; `None` if the window
    /// has nothing to say.
    pub(crate) fn into_report(self, top: usize) -> Option<DigestReport> {
        self.data.into_report(top, self.period)
    }
}

/// One window's raw, mergeable contents: what a process of a fleet pushes
/// to Redis, and what the fleet's leader merges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DigestData {
    slow: HashMap<String, SlowEntry>,
    slow_untracked: u64,
    warnings: HashMap<String, WarningEntry>,
    warnings_untracked: u64,
    dropped: u64,
    deduplicated: u64,
    /// Records a full queue dropped, by kind (`target\0message`).
    #[serde(default)]
    dropped_kinds: HashMap<String, WarningEntry>,
    /// Records of kinds a chat member muted, by fingerprint (hex).
    #[serde(default)]
    muted_kinds: HashMap<String, WarningEntry>,
    /// The fleet's processes (set by the process that sends the digest,
    /// when the fleet watches itself).
    #[serde(default)]
    fleet: Option<FleetCensus>,
    /// What target and field routes sent elsewhere, by destination (see
    /// `routed_digests`).
    #[serde(default)]
    pub(super) routed: BTreeMap<String, RoutedData>,
}

impl DigestData {
    fn is_quiet(&self) -> bool {
        self.slow.is_empty()
            && self.warnings.is_empty()
            && self.dropped_kinds.is_empty()
            && self.muted_kinds.is_empty()
            && !self.fleet.is_some_and(|census| census.changed())
            && self.slow_untracked + self.warnings_untracked + self.dropped + self.deduplicated == 0
    }

    /// The fleet's census, shown with the window.
    pub(crate) fn set_census(&mut self, census: FleetCensus) {
        self.fleet = Some(census);
    }

    /// Adds another process's window (bounded like one process's).
    pub(crate) fn merge(&mut self, other: DigestData) {
        for (key, entry) in other.slow {
            let room = self.slow.len() < MAX_KEYS;
            match self.slow.get_mut(&key) {
                Some(mine) => mine.histogram.merge(&entry.histogram),
                None if room => {
                    self.slow.insert(key, entry);
                }
                None => self.slow_untracked += entry.histogram.count(),
            }
        }
        for (kind, entry) in other.warnings {
            let room = self.warnings.len() < MAX_KEYS;
            match self.warnings.get_mut(&kind) {
                Some(mine) => mine.count += entry.count,
                None if room => {
                    self.warnings.insert(kind, entry);
                }
                None => self.warnings_untracked += entry.count,
            }
        }
        merge_kinds(&mut self.dropped_kinds, other.dropped_kinds);
        merge_kinds(&mut self.muted_kinds, other.muted_kinds);
        self.merge_routed(other.routed);
        self.slow_untracked += other.slow_untracked;
        self.warnings_untracked += other.warnings_untracked;
        self.dropped += other.dropped;
        self.deduplicated += other.deduplicated;
    }

    /// The report: top `top` rows of each section.
    pub(crate) fn into_report(self, top: usize, period: Duration) -> Option<DigestReport> {
        if self.is_quiet() {
            return None;
        }
        let (slow, slow_more_keys) = top_slow(self.slow, top);
        let (warnings, warnings_more_kinds) = top_warnings(self.warnings, top);
        let (dropped_kinds, dropped_more_kinds) = top_warnings(self.dropped_kinds, top);
        let (muted_kinds, muted_more_kinds) = top_warnings(self.muted_kinds, top);
        Some(DigestReport {
            period,
            ended: SystemTime::now(),
            slow,
            slow_more_keys,
            slow_untracked: self.slow_untracked,
            warnings,
            warnings_more_kinds,
            warnings_untracked: self.warnings_untracked,
            dropped: self.dropped,
            dropped_kinds,
            dropped_more_kinds,
            muted_kinds,
            muted_more_kinds,
            deduplicated: self.deduplicated,
            fleet: self.fleet,
        })
    }
}

/// The digest stage's state for the current window.
///
/// Windows are aligned to the wall clock (a 15 min window closes at :00,
/// :15, :30 and :45), so that the processes of a fleet close the same
/// window at the same time and can merge it.
#[derive(Debug)]
pub(crate) struct Digest {
    window: Duration,
    slow_batch: Duration,
    window_start: Instant,
    due_at: Instant,
    /// Wall-clock number of the current window (`unix time / window`).
    window_id: u64,
    data: DigestData,
    /// When each key was last alerted immediately.
    alerted_at: HashMap<String, Instant>,
    reported: Totals,
}

impl Digest {
    pub(crate) fn new(
        window: Duration,
        slow_batch: Duration,
        now: Instant,
        wall: SystemTime,
    ) -> Self {
        let window = window.max(Duration::from_secs(1));
        let since_epoch = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        let window_nanos = window.as_nanos().max(1);
        let into_window = since_epoch.as_nanos() % window_nanos;
        let to_boundary =
            Duration::from_nanos(u64::try_from(window_nanos - into_window).unwrap_or(u64::MAX));
        Digest {
            window,
            slow_batch,
            window_start: now,
            due_at: now + to_boundary,
            window_id: u64::try_from(since_epoch.as_nanos() / window_nanos).unwrap_or(u64::MAX),
            data: DigestData::default(),
            alerted_at: HashMap::new(),
            reported: Totals::default(),
        }
    }

    /// The wall-clock number of the window that is open.
    #[cfg(test)]
    pub(crate) fn window_id(&self) -> u64 {
        self.window_id
    }

    /// Decides whether `record` is alerted now or only counted here. `key`
    /// is the slow-span key of a slow record.
    pub(crate) fn route(&mut self, record: &Record, key: Option<&str>, now: Instant) -> Route {
        match (&record.occurrence, key) {
            (Occurrence::DigestOnly, _) => {
                add_warning(self.data.for_target(record.routed.as_deref()), record);
                Route::Batched
            }
            (Occurrence::Slow(slow), Some(key)) => {
                add_slow(self.data.for_target(record.routed.as_deref()), key, slow);
                // Part of a unit of work alerted by another of its spans.
                if slow.nested {
                    return Route::Batched;
                }
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
        self.due_at
    }

    /// Closes the window: which one it was, how long it lasted, and its raw
    /// contents (for this process's digest, or the fleet's).
    pub(crate) fn close(&mut self, now: Instant, totals: Totals) -> ClosedWindow {
        let id = self.window_id;
        let (period, data) = self.take_data(now, totals);
        ClosedWindow { id, period, data }
    }

    /// Counts records a full queue dropped, by kind (sanitized message).
    pub(crate) fn add_dropped(&mut self, target: &str, message: &str, count: u64) {
        let kind = format!("{target}\u{0}{}", normalize(message));
        add_kind(&mut self.data.dropped_kinds, kind, target, message, count);
    }

    /// Counts records of a muted kind (`fingerprint`; its sanitized title).
    pub(crate) fn add_muted(&mut self, fingerprint: u64, target: &str, title: &str, count: u64) {
        add_kind(
            &mut self.data.muted_kinds,
            format!("{fingerprint:016x}"),
            target,
            title,
            count,
        );
    }

    /// Closes the window: how long it lasted, and its raw contents.
    fn take_data(&mut self, now: Instant, totals: Totals) -> (Duration, DigestData) {
        let period = now.saturating_duration_since(self.window_start);
        self.window_start = now;
        while self.due_at <= now {
            self.due_at += self.window;
            self.window_id += 1;
        }
        let mut data = std::mem::take(&mut self.data);
        data.dropped = totals.dropped.saturating_sub(self.reported.dropped);
        data.deduplicated = totals
            .deduplicated
            .saturating_sub(self.reported.deduplicated);
        self.reported = totals;
        (period, data)
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
}

/// Counts a slow span under `key` (bounded: past [`MAX_KEYS`] keys, only
/// counted).
fn add_slow(data: &mut DigestData, key: &str, slow: &SlowSpan) {
    let tracked = data.slow.len() < MAX_KEYS || data.slow.contains_key(key);
    if !tracked {
        data.slow_untracked += 1;
        return;
    }
    let entry = data
        .slow
        .entry(key.to_owned())
        .or_insert_with(|| SlowEntry {
            histogram: Histogram::default(),
            threshold: slow.threshold,
        });
    entry.histogram.record(slow.measured());
}

/// Counts a record for the digest by its kind (target and normalised
/// message; bounded like the slow keys).
fn add_warning(data: &mut DigestData, record: &Record) {
    let target = record.location().map_or("", |l| l.target);
    let kind = format!("{target}\u{0}{}", normalize(&record.message));
    if let Some(entry) = data.warnings.get_mut(&kind) {
        entry.count += 1;
    } else if data.warnings.len() < MAX_KEYS {
        data.warnings.insert(
            kind,
            WarningEntry {
                count: 1,
                target: target.to_owned(),
                message: record.message.to_string(),
            },
        );
    } else {
        data.warnings_untracked += 1;
    }
}

/// Counts `count` records of `kind` (bounded: past [`MAX_KEYS`] kinds, new
/// ones are not named).
fn add_kind(
    kinds: &mut HashMap<String, WarningEntry>,
    kind: String,
    target: &str,
    message: &str,
    count: u64,
) {
    if let Some(entry) = kinds.get_mut(&kind) {
        entry.count += count;
    } else if kinds.len() < MAX_KEYS {
        let entry = WarningEntry {
            count,
            target: target.to_owned(),
            message: message.to_owned(),
        };
        kinds.insert(kind, entry);
    }
}

/// Adds another process's kinds to `mine` (bounded like one process's).
fn merge_kinds(mine: &mut HashMap<String, WarningEntry>, other: HashMap<String, WarningEntry>) {
    for (kind, entry) in other {
        let room = mine.len() < MAX_KEYS;
        match mine.get_mut(&kind) {
            Some(kept) => kept.count += entry.count,
            None if room => {
                mine.insert(kind, entry);
            }
            None => {}
        }
    }
}

fn top_slow(slow: HashMap<String, SlowEntry>, top: usize) -> (Vec<SlowRow>, usize) {
    {
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
        let more = rows.len().saturating_sub(top);
        rows.truncate(top);
        (rows, more)
    }
}

fn top_warnings(warnings: HashMap<String, WarningEntry>, top: usize) -> (Vec<WarningRow>, usize) {
    {
        let mut rows: Vec<WarningRow> = warnings
            .into_values()
            .map(|entry| WarningRow {
                count: entry.count,
                target: entry.target,
                message: entry.message,
            })
            .collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.message.cmp(&b.message)));
        let more = rows.len().saturating_sub(top);
        rows.truncate(top);
        (rows, more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertLevel;
    use crate::record::{Captured, Origin};
    use crate::text::Text;

    /// A digest of 15 min windows and a 15 min slow batch, opened at `start`.
    fn fifteen_minute_digest(start: Instant) -> Digest {
        let window = Duration::from_secs(900);
        Digest::new(window, window, start, SystemTime::now())
    }

    fn slow_record(ms: u64) -> Record {
        let slow = SlowSpan {
            total: Duration::from_millis(ms),
            busy: Duration::ZERO,
            threshold: Duration::from_millis(50),
            judged_busy: false,
            nested: false,
            inside: Vec::new(),
        };
        let kind = Occurrence::Slow(slow);
        let (level, origin) = (AlertLevel::Warning, Origin::Manual);
        Record::new(level, kind, origin, Text::default(), Captured::default())
    }

    #[test]
    fn one_alert_per_key_per_slow_window_and_everything_counted() {
        let start = Instant::now();
        let mut digest = fifteen_minute_digest(start);
        let routes: Vec<Route> = (1..=100)
            .map(|ms| digest.route(&slow_record(ms), Some("GET /x"), start))
            .collect();
        assert_eq!(routes.iter().filter(|r| **r == Route::Alert).count(), 1);
        let later = start + Duration::from_secs(901);
        assert_eq!(
            digest.route(&slow_record(5), Some("GET /x"), later),
            Route::Alert
        );
        let report = digest
            .close(later, Totals::default())
            .into_report(20)
            .unwrap();
        assert_eq!(report.slow[0].count, 101);
        assert!(
            digest
                .close(later, Totals::default())
                .into_report(20)
                .is_none(),
            "nothing new to say"
        );
    }

    #[test]
    fn keys_are_capped() {
        let start = Instant::now();
        let mut digest = fifteen_minute_digest(start);
        for i in 0..(MAX_KEYS + 10) {
            digest.route(&slow_record(60), Some(&format!("key {i}")), start);
        }
        let report = digest
            .close(start, Totals::default())
            .into_report(5)
            .unwrap();
        assert_eq!(report.slow.len(), 5);
        assert_eq!(report.slow_more_keys, MAX_KEYS - 5);
        assert_eq!(report.slow_untracked, 10);
    }

    #[test]
    fn windows_are_aligned_to_the_wall_clock() {
        let start = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(900 * 1000 + 600); // 10 min into a window
        let mut digest = Digest::new(
            Duration::from_secs(900),
            Duration::from_secs(900),
            start,
            wall,
        );
        assert_eq!(digest.due_at(), start + Duration::from_secs(300));
        assert_eq!(digest.window_id(), 1000);
        digest.take_data(start + Duration::from_secs(300), Totals::default());
        assert_eq!(digest.due_at(), start + Duration::from_secs(1200));
        assert_eq!(digest.window_id(), 1001);
    }

    #[test]
    fn merged_data_adds_up() {
        let start = Instant::now();
        let mut a = fifteen_minute_digest(start);
        let mut b = fifteen_minute_digest(start);
        for ms in [60, 70] {
            a.route(&slow_record(ms), Some("GET /x"), start);
        }
        b.route(&slow_record(300), Some("GET /x"), start);
        let (_, mut merged) = a.take_data(
            start,
            Totals {
                dropped: 2,
                deduplicated: 0,
            },
        );
        merged.merge(b.take_data(start, Totals::default()).1);
        let report = merged.into_report(5, Duration::from_secs(900)).unwrap();
        assert_eq!(
            (report.slow[0].count, report.slow[0].max),
            (3, Duration::from_millis(300))
        );
        assert_eq!(report.dropped, 2);
    }

    #[test]
    fn numbers_do_not_split_warning_kinds() {
        assert_eq!(
            normalize("retry 3 of 5 after 120ms"),
            "retry # of # after #ms"
        );
    }
}
