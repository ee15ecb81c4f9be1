//! Requests from the guard: flush (answered once everything accepted before
//! it is settled, or at its deadline), shutdown (deliver what is queued
//! until the deadline, count the rest as failed, answer, exit) and check.

use std::sync::mpsc::SyncSender;
use std::time::Instant;

use crate::channel::Control;

use super::Worker;

/// A flush waiting for its answer.
pub(super) struct PendingFlush {
    target: u64,
    deadline: Instant,
    done: SyncSender<bool>,
}

/// A shutdown under way.
pub(super) struct Stopping {
    deadline: Instant,
    done: SyncSender<()>,
}

impl Worker {
    pub(super) async fn on_command(&mut self, command: Option<Control>) {
        match command {
            Some(Control::Flush {
                target,
                deadline,
                done,
            }) => self.flushes.push(PendingFlush {
                target,
                deadline,
                done,
            }),
            Some(Control::Shutdown { deadline, done }) => {
                self.begin_shutdown(Stopping { deadline, done }).await;
            }
            Some(Control::Check { done }) => {
                let greeting = self.pipeline.check_greeting();
                let report = self
                    .courier
                    .check(&self.pipeline.targets(), &greeting)
                    .await;
                let _ = done.try_send(report);
            }
            // The guard was forgotten without a shutdown: keep serving the layer.
            None => self.control_open = false,
        }
    }

    /// Closes everything that is open and queues the final digests; the
    /// loop then delivers until it is done or the deadline passes.
    async fn begin_shutdown(&mut self, stopping: Stopping) {
        self.counters.close();
        // Leaving the fleet first: nothing after this may make another
        // process report this one as vanished.
        self.fleet.leave().await;
        self.stop_interacting(stopping.deadline).await;
        self.stopping = Some(stopping);
        // Whatever is still queued in the channel belongs in the final
        // digest too.
        while let Ok(record) = self.records.try_recv() {
            self.on_record(Some(record)).await;
        }
        // Records waiting for their request's status go now, as they are.
        self.release_awaiting().await;
        // From here on the layer's repeats take the ordinary path (and are
        // refused there: the counters are closed). Tallies wait until the
        // alerts they edit have been delivered.
        let tallies = self.close_gate(true);
        self.held_tallies.extend(tallies);
        self.final_tallies_due = true;
        self.fleet.flush_repeats().await;
        let crossed = self.pipeline.crossed_tallies(&mut self.fleet);
        self.held_tallies.extend(crossed);
        let window = self.pipeline.close_window();
        self.share_window(window).await;
        self.send_fleet_digests(true).await;
        // What other processes added to the incidents this one holds since
        // the last read: its last edits.
        self.refresh_incidents().await;
        self.shutdown_notice_due = self.config.shutdown_notice;
    }

    /// At shutdown, once everything else is delivered: the final tallies
    /// (they edit delivered alerts), then the notice with the final counters.
    pub(super) async fn finish_when_idle(&mut self) {
        let idle = self.in_flight.is_none() && self.courier.is_empty() && self.records_drained();
        if !idle {
            return;
        }
        if self.final_tallies_due {
            self.final_tallies_due = false;
            let mut tallies = std::mem::take(&mut self.held_tallies);
            tallies.extend(self.pipeline.drain_tallies());
            self.send_tallies(tallies).await;
            if !self.courier.is_empty() {
                return; // the notice comes after the tallies
            }
        }
        if !self.shutdown_notice_due {
            return;
        }
        self.shutdown_notice_due = false;
        let notice = self.pipeline.stop_notice(&self.counters.snapshot());
        self.enqueue(notice);
    }

    /// Whether a requested shutdown can finish now: nothing left to do, the
    /// deadline has passed, or what is left cannot be sent before it (a
    /// long `retry_after`, pacing).
    pub(super) fn should_stop(&self, next_send: Option<Instant>) -> bool {
        let Some(stopping) = &self.stopping else {
            return false;
        };
        let now = Instant::now();
        if now >= stopping.deadline {
            return true;
        }
        if self.in_flight.is_some() || !self.records_drained() {
            return false;
        }
        match next_send {
            // Idle: done, unless finish_when_idle still has something to queue.
            None => self.courier.is_empty() && !self.final_tallies_due && !self.shutdown_notice_due,
            Some(ready_at) => {
                let clock = self.courier.clock();
                let wait = clock.real_time(ready_at.saturating_duration_since(clock.now()));
                wait > stopping.deadline - now
            }
        }
    }

    /// The earliest deadline of a flush or the shutdown.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let flushes = self.flushes.iter().map(|f| f.deadline);
        let stop = self.stopping.as_ref().map(|s| s.deadline);
        flushes.chain(stop).min()
    }

    /// Answers every flush that is complete or out of time.
    pub(super) fn answer_flushes(&mut self) {
        if self.flushes.is_empty() {
            return;
        }
        let settled = self.counters.settled();
        // Tallies, digests and notices settle no record: wait for them too.
        let idle = self.in_flight.is_none() && self.courier.is_empty();
        let now = Instant::now();
        self.flushes.retain(|flush| {
            let complete = settled >= flush.target && idle;
            if complete || now >= flush.deadline {
                // The guard may have given up waiting; that is fine.
                let _ = flush.done.try_send(complete);
                return false;
            }
            true
        });
    }

    /// Ends the worker: whatever is still in flight or queued is counted as
    /// failed, then the guard is told.
    pub(super) fn stop(&mut self) {
        const REASON: &str = "not delivered before the shutdown deadline";
        // Dropping the request cancels it; its records never settled.
        let mut unsent = self.in_flight.take().map_or(0, |(records, _)| records);
        self.records.close();
        while let Ok(record) = self.records.try_recv() {
            drop(record);
            unsent += 1;
        }
        // Repeats the layer counted for records that were never processed.
        let stranded = self.pipeline.sweep_gate();
        if stranded > 0 {
            self.counters.accept_repeats(stranded);
            unsent += stranded;
        }
        self.courier.abandon(REASON);
        if unsent > 0 {
            self.courier.fail(unsent, REASON);
        }
        for flush in self.flushes.drain(..) {
            let _ = flush.done.try_send(self.counters.settled() >= flush.target);
        }
        // The final figures, before the guard is told.
        self.metrics
            .publish(&self.counters.snapshot(), &self.counters.health.get());
        if let Some(stopping) = self.stopping.take() {
            let _ = stopping.done.try_send(());
        }
    }
}
