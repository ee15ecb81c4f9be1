//! Delivery counters, shared by the layer, the worker and the guard.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::health::HealthCell;

/// A snapshot of what happened to every record the layer captured.
///
/// Once the guard has shut down (and the application has stopped logging),
/// every accepted record is accounted for exactly once:
///
/// `accepted == sent + deduplicated + batched + dropped + failed`
///
/// `retried` counts extra delivery attempts and is not part of that sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Records captured by the layer or sent through an [`AlertHandle`](crate::AlertHandle),
    /// including those then dropped at a full queue, and repeats counted on
    /// the calling thread (added when the worker settles them: at least
    /// every 500 ms, and at every flush).
    pub accepted: u64,
    /// Records delivered to Telegram as (part of) a message.
    pub sent: u64,
    /// Records suppressed as repeats of an alert already sent (and tallied).
    pub deduplicated: u64,
    /// Records folded into a digest message instead of being alerted alone.
    pub batched: u64,
    /// Records dropped before they could be sent: the queue was full, the
    /// guard had already shut down, or a `before_send` hook refused them.
    pub dropped: u64,
    /// Of `dropped`, the records a `before_send` hook refused.
    pub filtered: u64,
    /// Records the worker could not deliver (Bot API error, network failure,
    /// or still pending when the shutdown deadline passed).
    pub failed: u64,
    /// Extra delivery attempts after a transient failure or a 429.
    pub retried: u64,
    /// 429 "Too Many Requests" answers received (zero in normal operation:
    /// the worker paces itself under Telegram's limits).
    pub rate_limited: u64,
    /// Answers that were not Bot API answers — not JSON (a proxy's error
    /// page), `ok: false` without an error code, a body over the 1 MiB cap
    /// (cut off unread) — each treated as a transient failure and retried.
    pub unreadable_answers: u64,
    /// Messages Telegram refused as invalid HTML and that were resent as
    /// plain text. Non-zero means a rendering bug: please report it.
    pub plain_text_fallbacks: u64,
    /// Times a group's upgrade to a supergroup moved sending to a new chat id.
    pub chat_migrations: u64,
    /// Fingerprints evicted from the full dedup store to make room.
    pub dedup_evictions: u64,
    /// Redis calls that failed or timed out, each answered from memory
    /// instead (fail open).
    pub redis_fallbacks: u64,
    /// Backtraces captured on the application's threads (only with
    /// `capture_backtrace`, and only for records that will be alerted).
    pub backtraces_captured: u64,
    /// The last delivery failure, with the token removed; `None` if none yet.
    pub last_error: Option<String>,
}

/// The live counters behind [`Stats`].
///
/// The layer touches only `accepted` and `dropped` (two relaxed atomic adds on
/// the capture path). The worker settles records through [`Counters::settle`],
/// which the guard can close with [`Counters::abandon`] when the worker misses
/// its shutdown deadline, so that no record is counted twice.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    accepted: AtomicU64,
    sent: AtomicU64,
    deduplicated: AtomicU64,
    batched: AtomicU64,
    dropped: AtomicU64,
    filtered: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    rate_limited: AtomicU64,
    unreadable_answers: AtomicU64,
    plain_text_fallbacks: AtomicU64,
    chat_migrations: AtomicU64,
    backtraces_captured: AtomicU64,
    dedup_evictions: AtomicU64,
    redis_fallbacks: AtomicU64,
    /// Whether alerts still reach the chat (written by delivery).
    pub(crate) health: HealthCell,
    /// Set once no record may enter the queue any more (shutdown or abandon).
    closed: AtomicBool,
    /// `true` once the guard has counted all unsettled records as failed; the
    /// worker's later outcomes are then ignored. Also guards `last_error`.
    settled_by_guard: Mutex<SettleState>,
}

#[derive(Debug, Default)]
struct SettleState {
    abandoned: bool,
    last_error: Option<String>,
}

/// How the worker finished with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Sent,
    Deduplicated,
    Batched,
    Failed,
}

impl Counters {
    /// Counts a record captured by the layer; `false` if the pipeline is
    /// closed, in which case it has been counted as dropped already.
    pub(crate) fn accept(&self) -> bool {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        if self.closed.load(Ordering::Relaxed) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Counts repeats the layer counted at the repeat gate instead of
    /// submitting them (the worker settles them at once).
    pub(crate) fn accept_repeats(&self, n: u64) {
        // Under the settle lock: once the guard has abandoned the worker,
        // what it accepts late is failed at once, as the rest was.
        let state = self.lock();
        self.accepted.fetch_add(n, Ordering::Relaxed);
        if state.abandoned {
            self.failed.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Counts a record that could not be queued.
    /// Counts `n` repeats counted at the gate whose record was dropped at a
    /// full queue: accepted, and dropped with it.
    pub(crate) fn drop_repeats(&self, n: u64) {
        self.accepted.fetch_add(n, Ordering::Relaxed);
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Records accepted so far.
    pub(crate) fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Records with a final outcome so far (dropped ones included).
    pub(crate) fn settled(&self) -> u64 {
        let s = self.load();
        s.sent + s.deduplicated + s.batched + s.dropped + s.failed
    }

    /// Records dropped for want of room so far, for the "N alerts were
    /// dropped" notice (records refused by `before_send` are not news).
    pub(crate) fn dropped_for_room(&self) -> u64 {
        let dropped = self.dropped.load(Ordering::Relaxed);
        dropped.saturating_sub(self.filtered.load(Ordering::Relaxed))
    }

    /// Records suppressed as repeats so far.
    pub(crate) fn deduplicated(&self) -> u64 {
        self.deduplicated.load(Ordering::Relaxed)
    }

    /// Counts a record a `before_send` hook refused.
    pub(crate) fn filter(&self) {
        if self.lock().abandoned {
            return;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        self.filtered.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the final outcome of `n` records.
    pub(crate) fn settle(&self, outcome: Outcome, n: u64) {
        let state = self.lock();
        if state.abandoned {
            return;
        }
        let counter = match outcome {
            Outcome::Sent => &self.sent,
            Outcome::Deduplicated => &self.deduplicated,
            Outcome::Batched => &self.batched,
            Outcome::Failed => &self.failed,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records `n` records as failed, remembering why.
    pub(crate) fn fail(&self, n: u64, reason: String) {
        self.settle(Outcome::Failed, n);
        self.lock().last_error = Some(reason);
    }

    /// Counts one retry of a delivery.
    pub(crate) fn retry(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a 429 answer.
    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an answer that was not a Bot API answer, remembering why
    /// (it is retried, so it is not a failure yet).
    pub(crate) fn unreadable_answer(&self, reason: String) {
        self.unreadable_answers.fetch_add(1, Ordering::Relaxed);
        self.lock().last_error = Some(reason);
    }

    /// Counts a resend as plain text.
    pub(crate) fn plain_text_fallback(&self) {
        self.plain_text_fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// The dedup store's eviction count.
    pub(crate) fn set_dedup_evictions(&self, evictions: u64) {
        self.dedup_evictions.store(evictions, Ordering::Relaxed);
    }

    /// Counts a Redis call answered from memory (only the Redis store calls
    /// it: a build without one never does, hence the `allow`).
    #[allow(dead_code)]
    pub(crate) fn redis_fallback(&self) {
        self.redis_fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a backtrace capture.
    pub(crate) fn backtrace_captured(&self) {
        self.backtraces_captured.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a chat migration.
    pub(crate) fn chat_migration(&self) {
        self.chat_migrations.fetch_add(1, Ordering::Relaxed);
    }

    /// Stops the layer from queueing more records.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Whether the pipeline is closed (shutting down or shut down).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Called by the guard when the worker did not answer by its deadline:
    /// everything not yet settled is counted as failed, and whatever the
    /// worker reports later is ignored.
    pub(crate) fn abandon(&self) {
        self.close();
        let mut state = self.lock();
        if state.abandoned {
            return;
        }
        state.abandoned = true;
        let unsettled = self.accepted().saturating_sub(self.settled());
        self.failed.fetch_add(unsettled, Ordering::Relaxed);
        state.last_error = Some(format!(
            "worker did not finish by the shutdown deadline; {unsettled} record(s) counted as failed"
        ));
    }

    /// A consistent-enough snapshot for reporting.
    pub(crate) fn snapshot(&self) -> Stats {
        let last_error = self.lock().last_error.clone();
        Stats {
            last_error,
            ..self.load()
        }
    }

    fn load(&self) -> Stats {
        Stats {
            accepted: self.accepted.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            deduplicated: self.deduplicated.load(Ordering::Relaxed),
            batched: self.batched.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            unreadable_answers: self.unreadable_answers.load(Ordering::Relaxed),
            plain_text_fallbacks: self.plain_text_fallbacks.load(Ordering::Relaxed),
            chat_migrations: self.chat_migrations.load(Ordering::Relaxed),
            backtraces_captured: self.backtraces_captured.load(Ordering::Relaxed),
            dedup_evictions: self.dedup_evictions.load(Ordering::Relaxed),
            redis_fallbacks: self.redis_fallbacks.load(Ordering::Relaxed),
            last_error: None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SettleState> {
        // A panic while holding this lock cannot leave the counters in a
        // state worse than "one outcome missing"; keep counting.
        self.settled_by_guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandon_counts_unsettled_records_as_failed_once() {
        let counters = Counters::default();
        for _ in 0..5 {
            assert!(counters.accept());
        }
        counters.settle(Outcome::Sent, 2);
        counters.abandon();
        counters.settle(Outcome::Sent, 1); // too late: ignored
        counters.abandon(); // idempotent
        let stats = counters.snapshot();
        assert_eq!((stats.sent, stats.failed), (2, 3));
        assert!(!counters.accept(), "closed after abandon");
        let stats = counters.snapshot();
        assert_eq!(stats.accepted, 6);
        assert_eq!(stats.dropped, 1);
    }
}
