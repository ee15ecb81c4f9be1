//! Requests from the guard and the panic hook to the worker (flush, stop,
//! check), and the handle that sends them. They travel apart from records,
//! so a full queue never delays them.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::check::{CheckProblem, CheckReport};
use crate::gate::RepeatGate;
use crate::stats::Counters;

use super::on_worker_thread;

/// How much longer than its deadline the guard waits for the worker's answer
/// (the worker answers *at* the deadline; this covers scheduling).
const ANSWER_SLACK: Duration = Duration::from_millis(250);

/// How long a stopped worker may take to close its runtime and exit.
pub(crate) const EXIT_GRACE: Duration = Duration::from_millis(200);

/// Requests from the guard.
#[derive(Debug)]
pub(crate) enum Control {
    /// Answer `true` once every record accepted before the request (`target`
    /// of them) is settled and nothing is waiting to be sent, `false` at the
    /// deadline.
    Flush {
        target: u64,
        deadline: Instant,
        done: SyncSender<bool>,
    },
    /// Deliver what is queued until the deadline, count the rest as failed,
    /// answer, and exit.
    Shutdown {
        deadline: Instant,
        done: SyncSender<()>,
    },
    /// Check the token and every destination.
    Check { done: SyncSender<CheckReport> },
}

/// Asks the worker to flush; cheap to clone (the guard and the panic hook
/// each hold one).
#[derive(Debug, Clone)]
pub(crate) struct Flusher {
    control: mpsc::Sender<Control>,
    counters: Arc<Counters>,
}

impl Flusher {
    /// Waits until everything accepted so far is settled, at most `timeout`.
    /// Returns `false` at once on the worker's own thread (it cannot wait
    /// for itself).
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        if on_worker_thread() {
            return false;
        }
        let target = self.counters.accepted();
        let (done, answer) = sync_channel(1);
        let request = Control::Flush {
            target,
            deadline: Instant::now() + timeout,
            done,
        };
        if self.control.try_send(request).is_err() {
            return false;
        }
        answer.recv_timeout(timeout + ANSWER_SLACK).unwrap_or(false)
    }
}

/// The guard's end of the control channel.
#[derive(Debug)]
pub(crate) struct WorkerHandle {
    control: mpsc::Sender<Control>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    /// The repeat gate, swept if the worker misses its shutdown deadline.
    gate: Arc<RepeatGate>,
}

impl WorkerHandle {
    /// The handle of the worker running on `thread`, reached through `control`.
    pub(crate) fn new(
        control: mpsc::Sender<Control>,
        thread: JoinHandle<()>,
        counters: Arc<Counters>,
        gate: Arc<RepeatGate>,
    ) -> Self {
        WorkerHandle {
            control,
            thread: Some(thread),
            counters,
            gate,
        }
    }

    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// A flush handle for this worker.
    pub(crate) fn flusher(&self) -> Flusher {
        Flusher {
            control: self.control.clone(),
            counters: Arc::clone(&self.counters),
        }
    }

    /// Waits until everything accepted so far is settled, at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        self.flusher().flush(timeout)
    }

    /// Runs the configuration check in the worker, waiting at most `timeout`.
    pub(crate) fn check(&self, timeout: Duration) -> CheckReport {
        let timed_out = || CheckReport {
            problems: vec![CheckProblem::Timeout],
            ..CheckReport::default()
        };
        let (done, answer) = sync_channel(1);
        if self.control.try_send(Control::Check { done }).is_err() {
            return timed_out();
        }
        answer.recv_timeout(timeout).unwrap_or_else(|_| timed_out())
    }

    /// Stops the worker within `timeout` (plus a small slack). If it does not
    /// answer in time, everything unsettled is counted as failed and the
    /// thread is left to finish on its own.
    pub(crate) fn shutdown(&mut self, timeout: Duration) {
        self.counters.close();
        let (done, answer) = sync_channel(1);
        let request = Control::Shutdown {
            deadline: Instant::now() + timeout,
            done,
        };
        let answered = self.control.try_send(request).is_ok()
            && answer.recv_timeout(timeout + ANSWER_SLACK).is_ok();
        if !answered {
            self.counters.abandon();
            // Repeats counted at the gate that the worker has not settled:
            // accepted now, and failed with the rest.
            self.counters.accept_repeats(self.gate.close_every_slot());
            return;
        }
        if let Some(thread) = self.thread.take() {
            join_briefly(thread);
        }
    }
}

/// Joins a thread that is about to exit, but never waits longer than
/// [`EXIT_GRACE`] for it.
fn join_briefly(thread: JoinHandle<()>) {
    let until = Instant::now() + EXIT_GRACE;
    while !thread.is_finished() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
    }
    if thread.is_finished() {
        // The worker never panics by design; if it did, the panic was
        // already reported by the panic hook and there is nothing to add.
        let _ = thread.join();
    }
}

/// What must live exactly as long as the worker thread, dropped when it
/// exits — the panic hook's registration: the worker runs the user's hooks,
/// whose panics the hook keeps off stderr, possibly past the guard's
/// shutdown deadline.
#[derive(Clone, Default)]
pub(crate) struct KeptAlive(Arc<std::sync::Mutex<Vec<Box<dyn Send>>>>);

impl std::fmt::Debug for KeptAlive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeptAlive(..)")
    }
}

impl KeptAlive {
    /// Keeps `thing` until [`release`](KeptAlive::release).
    pub(crate) fn keep(&self, thing: impl Send + 'static) {
        self.lock().push(Box::new(thing));
    }

    /// Drops everything kept (the worker thread is exiting).
    pub(crate) fn release(&self) {
        let kept = std::mem::take(&mut *self.lock());
        drop(kept);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Box<dyn Send>>> {
        // A panic while holding it leaves a usable list.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
