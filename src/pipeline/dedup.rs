//! Deduplication of repeated alerts, and the tallies that replace them.
//!
//! The first record of a fingerprint is alerted; repeats within the
//! `rate_limit` window (10 min by default) are only counted. When the count
//! reaches 10, 100, 1 000 or 10 000, and when the window closes (or the entry
//! is evicted, or the process shuts down), the original alert is edited in
//! place to show "🔁 ×N in the last M min, last seen at …"; if it cannot be
//! edited (too old, deleted, too long), a short follow-up is sent instead.
//!
//! The store is bounded: at most `capacity` fingerprints (10 000 by
//! default); when full, expired entries go first, then the oldest (counted
//! in `Stats::dedup_evictions`, with their pending tally sent).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use crate::alert::AlertLevel;
use crate::chat::Target;
use crate::clock::Clock;
use crate::delivery::Delivered;

use super::quieting::Quieting;
use super::tally::{crosses_threshold, Resolved, Tally};

/// The dedup stage's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DedupConfig {
    /// The dedup window; zero turns deduplication off.
    pub(crate) window: Duration,
    /// Most fingerprints held.
    pub(crate) capacity: usize,
    /// How long a kind must be quiet to be resolved (its alert edited
    /// "✅ quiet since …"): `None` for one window; zero turns it off.
    pub(crate) resolve_after: Option<Duration>,
    /// Whether a tally shows what varies across repeats (`shard: 3 ×40 ·
    /// 7 ×2`).
    pub(crate) field_distribution: bool,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            window: Duration::from_secs(10 * 60),
            capacity: 10_000,
            resolve_after: None,
            field_distribution: true,
        }
    }
}

impl DedupConfig {
    /// The quiet period that resolves a kind (`None`: off).
    pub(crate) fn quiet_period(&self) -> Option<Duration> {
        let period = self.resolve_after.unwrap_or(self.window);
        (!period.is_zero() && !self.window.is_zero()).then_some(period)
    }
}

/// What to do with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Send it as an alert of its own (and remember its fingerprint).
    Alert,
    /// A repeat within the window: count it; `tally_due` if a threshold was reached.
    Repeat { tally_due: bool },
}

#[derive(Debug)]
struct Entry {
    first_seen: Instant,
    /// The same moment on the wall clock (how long the kind lasted).
    first_seen_wall: SystemTime,
    /// When it last occurred, on the pipeline's clock (when it is quiet).
    last_seen_at: Instant,
    repeats: u64,
    /// Repeats already shown in a tally.
    reported: u64,
    last_seen: SystemTime,
    title: String,
    level: AlertLevel,
    target: Target,
    delivered: Option<Delivered>,
    /// The window is the fleet's (this process claimed it in Redis), not
    /// one decided in memory while Redis was away.
    claimed: bool,
}

/// The in-memory dedup store.
#[derive(Debug)]
pub(crate) struct Dedup {
    window: Duration,
    capacity: usize,
    /// With a fleet, repeats may have happened in other processes: every
    /// closing entry yields a tally, and the worker drops those the fleet
    /// total shows nothing new for.
    always_tally: bool,
    entries: HashMap<u64, Entry>,
    /// Fingerprints in order of first sighting (with that instant, to tell a
    /// stale queue slot from a re-created entry).
    order: VecDeque<(u64, Instant)>,
    evictions: u64,
    /// Kinds whose window closed, waiting to be quiet long enough.
    quieting: Quieting,
    /// The wall clock times are read from (when a kind was last seen).
    clock: Clock,
}

impl Dedup {
    /// A store for `window` (zero turns deduplication off) holding at most
    /// `capacity` fingerprints.
    pub(crate) fn new(window: Duration, capacity: usize) -> Self {
        Dedup {
            window,
            capacity: capacity.max(1),
            always_tally: false,
            entries: HashMap::new(),
            order: VecDeque::new(),
            evictions: 0,
            quieting: Quieting::new(capacity.max(1)),
            clock: Clock::System,
        }
    }

    /// Reads wall-clock times from `clock` (the pipeline's).
    pub(crate) fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// Kinds quiet for `period` after their window closed are resolved.
    pub(crate) fn resolve_after(&mut self, period: Option<Duration>) {
        self.quieting.set_period(period);
    }

    /// Whether `fingerprint` waits to be resolved (its window closed).
    #[cfg(test)]
    pub(crate) fn is_quieting(&self, fingerprint: u64) -> bool {
        self.quieting.is_waiting(fingerprint)
    }

    /// Tallies every closing entry (see `always_tally`).
    pub(crate) fn tally_every_entry(&mut self) {
        self.always_tally = true;
    }

    pub(crate) fn enabled(&self) -> bool {
        !self.window.is_zero()
    }

    /// Entries evicted for room so far.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    /// How many fingerprints are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Decides whether the record with `fingerprint` is new. A new one is
    /// remembered with its title, level and destination; the tallies of
    /// entries that had to make room are returned.
    pub(crate) fn admit(
        &mut self,
        fingerprint: u64,
        now: Instant,
        heading: (&str, AlertLevel, &Target),
        tallies: &mut Vec<Tally>,
    ) -> Verdict {
        let open = self
            .entries
            .get(&fingerprint)
            .map(|entry| now.saturating_duration_since(entry.first_seen) < self.window);
        if let Some(open) = open {
            if open {
                if let Some(total) = self.add_repeats(fingerprint, 1, now) {
                    return Verdict::Repeat {
                        tally_due: crosses_threshold(total, 1),
                    };
                }
            }
            // The window closed without the timer noticing yet.
            if let Some(tally) = self.remove(fingerprint) {
                tallies.push(tally);
            }
        }
        self.make_room(now, tallies);
        // Back before it was quiet long enough: it never stopped.
        self.quieting.cancel(fingerprint);
        let (title, level, target) = heading;
        let wall = self.clock.wall();
        self.entries.insert(
            fingerprint,
            Entry {
                first_seen: now,
                first_seen_wall: wall,
                last_seen_at: now,
                repeats: 0,
                reported: 0,
                last_seen: wall,
                title: title.to_owned(),
                level,
                target: target.clone(),
                delivered: None,
                claimed: false,
            },
        );
        self.order.push_back((fingerprint, now));
        Verdict::Alert
    }

    /// Remembers where the original alert went, so that tallies can edit it.
    pub(crate) fn delivered(&mut self, delivered: Delivered) {
        if let Some(entry) = self.entries.get_mut(&delivered.fingerprint) {
            entry.delivered = Some(delivered);
        }
    }

    /// The tally of `fingerprint` now (a threshold was reached), if its
    /// alert has been delivered and can be edited; otherwise the window's
    /// final tally will say it.
    pub(crate) fn tally(&mut self, fingerprint: u64) -> Option<Tally> {
        let window = self.window;
        let entry = self.entries.get_mut(&fingerprint)?;
        entry.delivered.as_ref()?;
        let tally = Tally {
            threshold: true,
            ..tally_of(fingerprint, entry, window)
        };
        entry.reported = entry.repeats;
        Some(tally)
    }

    /// Repeats of `fingerprint`'s entry (one record, a batch counted at the
    /// gate, or repeats the fleet saw while this process holds the original
    /// and so reports the final tally): the new total, or `None` if there is
    /// no entry.
    pub(crate) fn add_repeats(
        &mut self,
        fingerprint: u64,
        repeats: u64,
        now: Instant,
    ) -> Option<u64> {
        let wall = self.clock.wall();
        let entry = self.entries.get_mut(&fingerprint)?;
        entry.repeats += repeats;
        entry.last_seen = wall;
        entry.last_seen_at = now;
        Some(entry.repeats + 1)
    }

    /// The alert of `fingerprint` as it stands (for an edit a chat member's
    /// press asks for), if this process holds it.
    pub(crate) fn current(&self, fingerprint: u64) -> Option<Tally> {
        let entry = self.entries.get(&fingerprint)?;
        Some(tally_of(fingerprint, entry, self.window))
    }

    /// Records what chat members added to the alert of `fingerprint`.
    pub(crate) fn set_notes(
        &mut self,
        fingerprint: u64,
        notes: &crate::interact::actions::AlertNotes,
    ) {
        if let Some(delivered) = self
            .entries
            .get_mut(&fingerprint)
            .and_then(|entry| entry.delivered.as_mut())
        {
            delivered.notes = notes.clone();
        }
    }

    /// Ends the window of `fingerprint` without a tally (its kind was
    /// muted: the mute's count replaces it); the alert as it stood.
    pub(crate) fn forget(&mut self, fingerprint: u64) -> Option<Tally> {
        let entry = self.entries.remove(&fingerprint)?;
        Some(tally_of(fingerprint, &entry, self.window))
    }

    /// Marks the window of `fingerprint` as the fleet's (claimed in Redis).
    pub(crate) fn claimed(&mut self, fingerprint: u64) {
        if let Some(entry) = self.entries.get_mut(&fingerprint) {
            entry.claimed = true;
        }
    }

    /// Ends the window of `fingerprint` early if it was the fleet's and the
    /// fleet's ended (a chat member muted the kind, or the claim expired
    /// just before this process's window); its tally. A window decided in
    /// memory while Redis was away is kept: Redis never knew it.
    pub(crate) fn end_fleet_window(&mut self, fingerprint: u64) -> Option<Tally> {
        let claimed = self.entries.get(&fingerprint).is_some_and(|e| e.claimed);
        claimed.then(|| self.remove(fingerprint)).flatten()
    }

    /// Whether `fingerprint` has an entry.
    pub(crate) fn holds(&self, fingerprint: u64) -> bool {
        self.entries.contains_key(&fingerprint)
    }

    /// A threshold tally for a fleet repeat: `total` occurrences so far. The
    /// worker fills in where the original is (from Redis).
    pub(crate) fn fleet_tally(
        &mut self,
        fingerprint: u64,
        total: u64,
        heading: (&str, AlertLevel, &Target),
    ) -> Tally {
        let (title, level, target) = heading;
        if let Some(entry) = self.entries.get_mut(&fingerprint) {
            entry.reported = entry.reported.max(total.saturating_sub(1));
        }
        Tally {
            fingerprint,
            title: title.to_owned(),
            level,
            target: target.clone(),
            total,
            window: self.window,
            last_seen: self.clock.wall(),
            delivered: None,
            shown: 1,
            threshold: true,
            fleet_total_known: true,
            fleet_spread: None,
            resolved: None,
        }
    }

    /// When the oldest entry's window closes.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.order
            .iter()
            .find(|(fp, at)| self.entries.get(fp).is_some_and(|e| e.first_seen == *at))
            .map(|(_, at)| *at + self.window)
    }

    /// Removes the entries whose window has closed; their pending tallies.
    pub(crate) fn expire(&mut self, now: Instant, tallies: &mut Vec<Tally>) {
        while let Some(&(fingerprint, first_seen)) = self.order.front() {
            let live = self
                .entries
                .get(&fingerprint)
                .is_some_and(|e| e.first_seen == first_seen);
            if live && now.saturating_duration_since(first_seen) < self.window {
                break;
            }
            self.order.pop_front();
            if live {
                self.close_window(fingerprint, now, tallies);
            }
        }
    }

    /// A window closed: its tally, or (quiet long enough already) its
    /// resolution, one edit saying both; or the kind waits to be resolved.
    fn close_window(&mut self, fingerprint: u64, now: Instant, tallies: &mut Vec<Tally>) {
        let Some(entry) = self.entries.get(&fingerprint) else {
            return;
        };
        if !self.quieting.is_on() || entry.delivered.is_none() {
            tallies.extend(self.remove(fingerprint));
            return;
        }
        let mut tally = tally_of(fingerprint, entry, self.window);
        tally.resolved = Some(Resolved {
            quiet_since: entry.last_seen,
            lasted: entry
                .last_seen
                .duration_since(entry.first_seen_wall)
                .unwrap_or_default(),
        });
        let last_seen_at = entry.last_seen_at;
        if self.quieting.is_quiet(last_seen_at, now) {
            self.entries.remove(&fingerprint);
            tallies.push(tally);
            return;
        }
        tallies.extend(self.remove(fingerprint));
        self.quieting.start(tally, last_seen_at);
    }

    /// The kinds quiet long enough at `now`: their resolving tallies.
    pub(crate) fn resolve(&mut self, now: Instant, tallies: &mut Vec<Tally>) {
        self.quieting.resolve(now, tallies);
    }

    /// A resolving `tally` the fleet held back: the kind has been quiet
    /// `so_far` everywhere (`None`: unknown, asked again in a few seconds).
    pub(crate) fn postpone(&mut self, tally: Tally, so_far: Option<Duration>, now: Instant) {
        if self.entries.contains_key(&tally.fingerprint) {
            return; // a new window of its own: it never stopped
        }
        self.quieting
            .postpone(tally, so_far, (now, self.clock.wall()));
    }

    /// When the next kind will have been quiet long enough.
    pub(crate) fn next_resolution(&self) -> Option<Instant> {
        self.quieting.next_resolution()
    }

    /// Every pending tally (shutdown).
    pub(crate) fn drain(&mut self, tallies: &mut Vec<Tally>) {
        let fingerprints: Vec<u64> = self.entries.keys().copied().collect();
        for fingerprint in fingerprints {
            tallies.extend(self.remove(fingerprint));
        }
        self.order.clear();
    }

    /// Removes an entry; its tally if it has repeats not yet reported.
    fn remove(&mut self, fingerprint: u64) -> Option<Tally> {
        let entry = self.entries.remove(&fingerprint)?;
        let news = entry.repeats > entry.reported || self.always_tally;
        news.then(|| tally_of(fingerprint, &entry, self.window))
    }

    fn make_room(&mut self, now: Instant, tallies: &mut Vec<Tally>) {
        if self.entries.len() < self.capacity {
            return;
        }
        self.expire(now, tallies);
        while self.entries.len() >= self.capacity {
            let Some((fingerprint, first_seen)) = self.order.pop_front() else {
                break;
            };
            let live = self
                .entries
                .get(&fingerprint)
                .is_some_and(|e| e.first_seen == first_seen);
            if live {
                tallies.extend(self.remove(fingerprint));
                self.evictions += 1;
            }
        }
    }
}

fn tally_of(fingerprint: u64, entry: &Entry, window: Duration) -> Tally {
    Tally {
        fingerprint,
        title: entry.title.clone(),
        level: entry.level,
        target: entry.target.clone(),
        total: entry.repeats + 1,
        window,
        last_seen: entry.last_seen,
        delivered: entry.delivered.clone(),
        shown: entry.reported + 1,
        threshold: false,
        fleet_total_known: false,
        fleet_spread: None,
        resolved: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ChatId;

    fn target() -> Target {
        Target {
            chat_id: ChatId::Id(-1),
            thread_id: None,
        }
    }

    #[test]
    fn a_kind_quiet_a_window_after_its_last_repeat_is_resolved_once() {
        let window = Duration::from_secs(600);
        let mut dedup = Dedup::new(window, 10);
        dedup.resolve_after(Some(window));
        let start = Instant::now();
        let mut tallies = Vec::new();
        admit(&mut dedup, 7, start, &mut tallies);
        delivered(&mut dedup, 7, 1, "x");
        let last = start + Duration::from_secs(120);
        dedup.add_repeats(7, 1, last);
        dedup.expire(start + window, &mut tallies);
        assert!(dedup.is_quieting(7));
        assert_eq!(dedup.next_resolution(), Some(last + window));
        tallies.clear();
        dedup.resolve(last + window - Duration::from_secs(1), &mut tallies);
        assert!(tallies.is_empty(), "not quiet a window yet");
        dedup.resolve(last + window, &mut tallies);
        assert_eq!(tallies.len(), 1);
        assert!(tallies[0].resolved.is_some() && tallies[0].is_news());
        assert_eq!(tallies[0].total, 2);
        assert!(!dedup.is_quieting(7), "once");
        // A kind back before it was quiet a window is not resolved.
        admit(&mut dedup, 8, start, &mut tallies);
        delivered(&mut dedup, 8, 2, "y");
        dedup.add_repeats(8, 1, start + Duration::from_secs(300));
        dedup.expire(start + window, &mut tallies);
        assert!(dedup.is_quieting(8));
        admit(&mut dedup, 8, start + window, &mut tallies);
        assert!(!dedup.is_quieting(8), "back: it never stopped");
    }

    /// The alert of `fp` was delivered as message `id` with `html`.
    fn delivered(dedup: &mut Dedup, fp: u64, id: i64, html: &str) {
        dedup.delivered(Delivered {
            fingerprint: fp,
            chat_id: ChatId::Id(-1),
            message_id: id,
            html: html.into(),
            plain: false,
            notes: Default::default(),
        });
    }

    fn admit(dedup: &mut Dedup, fp: u64, now: Instant, tallies: &mut Vec<Tally>) -> Verdict {
        dedup.admit(fp, now, ("title", AlertLevel::Error, &target()), tallies)
    }

    #[test]
    fn repeats_are_counted_with_thresholds_and_a_final_tally() {
        let start = Instant::now();
        let mut dedup = Dedup::new(Duration::from_secs(600), 100);
        let mut tallies = Vec::new();
        assert_eq!(admit(&mut dedup, 7, start, &mut tallies), Verdict::Alert);
        let due: Vec<bool> = (0..99)
            .map(|_| match admit(&mut dedup, 7, start, &mut tallies) {
                Verdict::Repeat { tally_due } => tally_due,
                Verdict::Alert => panic!("a repeat"),
            })
            .collect();
        assert_eq!(due.iter().filter(|d| **d).count(), 2, "at 10 and 100");
        assert_eq!(dedup.tally(7), None, "not delivered yet: nothing to edit");
        delivered(&mut dedup, 7, 1, "x");
        assert_eq!(dedup.tally(7).map(|t| t.total), Some(100));
        admit(&mut dedup, 7, start, &mut tallies);
        assert_eq!(dedup.next_expiry(), Some(start + Duration::from_secs(600)));
        dedup.expire(start + Duration::from_secs(600), &mut tallies);
        assert_eq!(tallies.len(), 1);
        assert_eq!(tallies[0].total, 101);
        assert_eq!(
            admit(
                &mut dedup,
                7,
                start + Duration::from_secs(601),
                &mut tallies
            ),
            Verdict::Alert
        );
    }

    #[test]
    fn a_flood_of_unique_fingerprints_stays_under_the_cap() {
        let start = Instant::now();
        let mut dedup = Dedup::new(Duration::from_secs(600), 10_000);
        let mut tallies = Vec::new();
        for fp in 0..100_000u64 {
            admit(&mut dedup, fp, start, &mut tallies);
        }
        assert_eq!(dedup.len(), 10_000);
        assert!(dedup.order.len() <= 10_000);
        assert_eq!(dedup.evictions(), 90_000);
        assert!(tallies.is_empty(), "no repeats, nothing to tally");
    }

    #[test]
    fn evicting_an_entry_with_repeats_reports_its_tally() {
        let start = Instant::now();
        let mut dedup = Dedup::new(Duration::from_secs(600), 2);
        let mut tallies = Vec::new();
        admit(&mut dedup, 1, start, &mut tallies);
        admit(&mut dedup, 1, start, &mut tallies);
        admit(&mut dedup, 2, start, &mut tallies);
        admit(&mut dedup, 3, start, &mut tallies);
        assert_eq!(tallies.len(), 1);
        assert_eq!(tallies[0].total, 2);
        assert_eq!(dedup.evictions(), 1);
    }
}
