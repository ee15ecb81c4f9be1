//! The timer of a span judged slow, and what its unit of work has seen of
//! slow spans inside it.

use std::time::{Duration, Instant};

use crate::record::{keep_slowest, SlowChild};

/// Span timing: kept in the span's extensions, never in thread-locals, since
/// a span may be entered on one thread and closed on another. Only spans
/// that are judged have one.
#[derive(Debug)]
pub(crate) struct Timing {
    created: Instant,
    busy: Duration,
    /// When the span was last entered while not already entered.
    entered_at: Option<Instant>,
    /// How many threads have it entered right now.
    entries: u32,
    /// What the span is judged against.
    threshold: Duration,
    /// A slow span inside this one was already alerted: this span's unit of
    /// work has its alert, so this span goes to the digest only.
    unit_alerted: bool,
    /// The slowest judged spans inside this one that went to the digest,
    /// slowest first (listed in this span's alert); boxed, since few spans
    /// have any and every judged span carries the field.
    slow_inside: Option<Box<SlowInside>>,
}

impl Timing {
    /// A timer started at `now`, judged against `threshold`.
    pub(crate) fn start(now: Instant, threshold: Duration) -> Self {
        Timing {
            created: now,
            busy: Duration::ZERO,
            entered_at: None,
            entries: 0,
            threshold,
            unit_alerted: false,
            slow_inside: None,
        }
    }

    pub(crate) fn enter(&mut self, now: Instant) {
        if self.entries == 0 {
            self.entered_at = Some(now);
        }
        self.entries += 1;
    }

    pub(crate) fn exit(&mut self, now: Instant) {
        self.entries = self.entries.saturating_sub(1);
        if self.entries == 0 {
            if let Some(entered_at) = self.entered_at.take() {
                self.busy += now.saturating_duration_since(entered_at);
            }
        }
    }

    /// `(total, busy)` at `now`.
    pub(crate) fn finish(&self, now: Instant) -> (Duration, Duration) {
        let ongoing = self
            .entered_at
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        (
            now.saturating_duration_since(self.created),
            self.busy + ongoing,
        )
    }

    pub(crate) fn threshold(&self) -> Duration {
        self.threshold
    }

    /// A `telegram.slow_threshold_ms` recorded after the span was created.
    pub(crate) fn set_threshold(&mut self, threshold: Duration) {
        self.threshold = threshold;
    }

    pub(crate) fn unit_alerted(&self) -> bool {
        self.unit_alerted
    }

    /// A slow span inside this one was alerted for the unit of work.
    pub(crate) fn mark_unit_alerted(&mut self) {
        self.unit_alerted = true;
    }

    /// Notes slow spans inside this one that went to the digest.
    pub(crate) fn note_slow_inside(&mut self, children: impl IntoIterator<Item = SlowChild>) {
        let inside = self.slow_inside.get_or_insert_with(Box::default);
        for child in children {
            keep_slowest(&mut inside.slowest, child);
        }
    }

    /// The slowest spans noted inside this one.
    pub(crate) fn slow_inside(&self) -> &[SlowChild] {
        self.slow_inside
            .as_deref()
            .map_or(&[], |inside| inside.slowest.as_slice())
    }
}

/// The slowest spans noted inside a span (kept behind one pointer in its
/// timer: few spans have any, and every judged span carries the field).
#[derive(Debug, Default)]
struct SlowInside {
    slowest: Vec<SlowChild>,
}
