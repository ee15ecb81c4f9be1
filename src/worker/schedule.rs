//! When the worker wakes, and the periodic work it then does.
//!
//! Every timed thing the worker knows is one row of [`TASKS`]: when it is
//! next due, and what runs then (nothing, for rows that only wake the loop
//! so its turn can see the change). [`Worker::run_due`] runs the rows that
//! are due; [`Worker::next_wakeup`] is the earliest of them, which the loop
//! waits for beside its events (a control request, a record, a request or
//! a poll completing). A new periodic task is one row.
//!
//! Instants live in one of three time bases, because a test clock
//! ([`crate::testing::TestClock`]) stands in for some of them: windows wait
//! for the clock to be advanced; pacing waits advance it; everything else
//! is the wall of the machine.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::clock::Clock;

use super::Worker;

/// How often a busy worker picks up queued records.
const DRAIN_INTERVAL: Duration = Duration::from_millis(10);

/// How often the worker settles the repeats the layer counted at the gate
/// (and so how late a threshold tally may come).
const GATE_INTERVAL: Duration = Duration::from_millis(500);

/// A moment something is due, in the time base it is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// The machine's time.
    Real(Instant),
    /// The layer's clock, waited for (a test clock: until the test moves it).
    Clock(Instant),
    /// The layer's clock, slept on (a test clock jumps there: pacing).
    Paced(Instant),
}

/// The work a task does when due, borrowing the worker while it runs.
type Run = for<'a> fn(&'a mut Worker) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// One timed thing the worker knows.
struct Task {
    /// When it is next due (`None`: not scheduled now).
    due: fn(&Worker, Instant) -> Option<Due>,
    /// What runs when it is due (`None`: it only wakes the loop).
    run: Option<Run>,
}

impl Task {
    const fn runs(due: fn(&Worker, Instant) -> Option<Due>, run: Run) -> Self {
        Task {
            due,
            run: Some(run),
        }
    }

    const fn wakes(due: fn(&Worker, Instant) -> Option<Due>) -> Self {
        Task { due, run: None }
    }
}

/// Every timed thing, in the order the due ones run.
const TASKS: &[Task] = &[
    // Dedup windows closing (tallies), digest windows, fleet digests to lead.
    Task::runs(Worker::window_due, |w| Box::pin(w.tick())),
    // Repeats counted for other processes' alerts, batched for Redis.
    Task::runs(Worker::fleet_sync_due, |w| Box::pin(w.sync_fleet())),
    // What other processes added to the fleet incidents this one holds.
    Task::runs(Worker::incidents_due, |w| Box::pin(w.refresh_incidents())),
    // This process's presence in the fleet, and the processes that vanished.
    Task::runs(Worker::presence_due, |w| Box::pin(w.refresh_presence())),
    // `Stats` and `Health` in the application's metrics (feature `metrics`).
    Task::runs(Worker::metrics_due, |w| Box::pin(w.publish_metrics())),
    // A reminder on stderr while the main chat is dark.
    Task::runs(Worker::reminder_due, |w| Box::pin(w.remind_if_dark())),
    // Records let go once their request ended (or their wait is over).
    Task::runs(Worker::awaiting_due, |w| Box::pin(w.release_awaiting())),
    // Unacknowledged alerts escalated (interactive alerts).
    Task::runs(Worker::escalation_due, |w| Box::pin(w.escalate())),
    // Long polling for button presses (interactive alerts).
    Task::runs(Worker::poll_due, |w| Box::pin(w.poll_if_due())),
    // The next message pacing lets go.
    Task::wakes(|w, _| w.next_send.map(Due::Paced)),
    // A flush or the shutdown running out of time.
    Task::wakes(|w, _| w.next_deadline().map(Due::Real)),
    // Records picked up in batches while busy (the producer never pays a wake-up).
    Task::wakes(Worker::drain_due),
    // Repeats counted at the gate, settled while kinds are open.
    Task::wakes(Worker::gate_due),
];

impl Worker {
    /// Runs every task that is due now, in the order of [`TASKS`].
    pub(super) async fn run_due(&mut self) {
        for task in TASKS {
            let Some(run) = task.run else { continue };
            let now = Instant::now();
            if (task.due)(self, now).is_some_and(|due| self.is_past(due, now)) {
                run(self).await;
            }
        }
    }

    /// The earliest moment a task is due, in each time base.
    pub(super) fn next_wakeup(&self) -> Wakeup {
        let now = Instant::now();
        let mut wakeup = Wakeup::default();
        for due in TASKS.iter().filter_map(|task| (task.due)(self, now)) {
            wakeup.include(due);
        }
        wakeup
    }

    fn is_past(&self, due: Due, now: Instant) -> bool {
        match due {
            Due::Real(at) => now >= at,
            Due::Clock(at) | Due::Paced(at) => self.courier.clock().now() >= at,
        }
    }

    fn window_due(&self, _: Instant) -> Option<Due> {
        Some(Due::Clock(self.next_window()))
    }

    fn presence_due(&self, _: Instant) -> Option<Due> {
        self.fleet.next_refresh().map(Due::Real)
    }

    fn metrics_due(&self, now: Instant) -> Option<Due> {
        self.metrics.next_publish(now).map(Due::Real)
    }

    fn reminder_due(&self, now: Instant) -> Option<Due> {
        self.courier.next_reminder(now).map(Due::Real)
    }

    fn poll_due(&self, _: Instant) -> Option<Due> {
        self.interaction.as_ref()?.wake_at().map(Due::Real)
    }

    /// While records wait for their requests, and at once while a flush
    /// or the shutdown waits for them.
    fn awaiting_due(&self, now: Instant) -> Option<Due> {
        if self.awaiting.is_empty() {
            return None;
        }
        if self.stopping.is_some() || !self.flushes.is_empty() {
            return Some(Due::Real(now));
        }
        self.awaiting.next_look(now).map(Due::Real)
    }

    fn gate_due(&self, now: Instant) -> Option<Due> {
        let open = self.pipeline.has_open_kinds();
        open.then_some(Due::Real(now + GATE_INTERVAL))
    }

    /// Batched fleet repeats go every second (and on each turn while a
    /// flush waits: see `Worker::sync_fleet_for_flush`).
    fn fleet_sync_due(&self, _: Instant) -> Option<Due> {
        self.fleet.next_sync().map(Due::Real)
    }

    fn incidents_due(&self, _: Instant) -> Option<Due> {
        let held = self.pipeline.holds_incidents();
        self.fleet.next_incident_read(held).map(Due::Real)
    }

    /// Busy (a request in flight or messages queued), the loop does not
    /// listen for each record; it picks them up every [`DRAIN_INTERVAL`].
    fn drain_due(&self, now: Instant) -> Option<Due> {
        let busy = self.in_flight.is_some() || !self.courier.is_empty();
        (self.records_open && busy).then_some(Due::Real(now + DRAIN_INTERVAL))
    }

    async fn sync_fleet(&mut self) {
        self.fleet.flush_repeats().await;
    }

    async fn publish_metrics(&mut self) {
        let counters = &self.counters;
        self.metrics.publish_if_due(Instant::now(), || {
            (counters.snapshot(), counters.health.get())
        });
    }

    async fn remind_if_dark(&mut self) {
        self.courier.remind_if_dark(Instant::now());
    }
}

/// The earliest due moment in each time base (see [`Due`]).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Wakeup {
    real: Option<Instant>,
    clock: Option<Instant>,
    paced: Option<Instant>,
}

impl Wakeup {
    fn include(&mut self, due: Due) {
        let (slot, at) = match due {
            Due::Real(at) => (&mut self.real, at),
            Due::Clock(at) => (&mut self.clock, at),
            Due::Paced(at) => (&mut self.paced, at),
        };
        *slot = Some(slot.map_or(at, |earlier| earlier.min(at)));
    }

    /// Resolves at the earliest of the moments; never, if there are none.
    pub(super) async fn wait(self, clock: &Clock) {
        tokio::select! {
            () = sleep_until(self.real), if self.real.is_some() => {}
            () = clock.wait_until(self.clock.unwrap_or_else(Instant::now)), if self.clock.is_some() => {}
            () = clock.sleep_until(self.paced.unwrap_or_else(Instant::now)), if self.paced.is_some() => {}
            else => std::future::pending().await,
        }
    }
}

/// Sleeps until `at`; forever if `None` (the branch is disabled then anyway).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
