//! `TelegramGuard` (drains and stops the worker) and `AlertHandle` (manual
//! alerts).

use std::sync::Arc;
use std::time::Duration;

use crate::alert::Alert;
use crate::channel::{Producer, WorkerHandle};
use crate::health::Health;
use crate::record::Record;
use crate::stats::{Counters, Stats};

/// Default bound on how long dropping the guard waits for pending alerts.
pub const DEFAULT_DROP_TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps the worker alive; flushes and stops it.
///
/// Hold it for the life of the program (typically in `main`). Call
/// [`shutdown`](TelegramGuard::shutdown) before exiting to deliver what is
/// still queued within a bound you choose. If the guard is dropped instead,
/// its `Drop` does the same with the builder's `drop_timeout` (2 s by
/// default), so an exiting program waits at most that long for Telegram.
///
/// After shutdown, the layer stays installed but drops (and counts) whatever
/// it captures.
///
/// `std::process::exit` runs no destructors: the guard is not dropped, and
/// what was logged just before is lost with the process. Shut down first:
///
/// ```no_run
/// # use std::time::Duration;
/// # fn main() -> Result<(), tracing_telegram::Error> {
/// # let (_layer, guard) = tracing_telegram::TelegramLayer::builder()
/// #     .bot_token("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
/// #     .chat_id(-100)
/// #     .build::<tracing_subscriber::Registry>()?;
/// tracing::error!("config invalid: cannot start");
/// guard.shutdown(Duration::from_secs(5)); // delivered, or counted as failed
/// std::process::exit(1);
/// # }
/// ```
#[must_use = "dropping the guard shuts down the worker: keep it alive for as long as alerts should be sent"]
#[derive(Debug)]
pub struct TelegramGuard {
    worker: Option<WorkerHandle>,
    producer: Option<Arc<Producer>>,
    drop_timeout: Duration,
}

impl TelegramGuard {
    pub(crate) fn new(
        worker: WorkerHandle,
        producer: Arc<Producer>,
        drop_timeout: Duration,
    ) -> Self {
        TelegramGuard {
            worker: Some(worker),
            producer: Some(producer),
            drop_timeout,
        }
    }

    /// The guard of a disabled layer: every call returns at once.
    pub(crate) fn disabled() -> Self {
        TelegramGuard {
            worker: None,
            producer: None,
            drop_timeout: Duration::ZERO,
        }
    }

    /// Waits until every record accepted before this call has been sent (or
    /// has failed, been deduplicated or batched) and nothing else (tallies,
    /// digests) is waiting to be sent, at most `timeout`. Returns `true` if
    /// that happened in time.
    ///
    /// Repeats counted on the calling threads are settled first, and so is
    /// periodic work that is due: a dedup window or digest window the clock
    /// has passed is closed before the flush is answered.
    pub fn flush(&self, timeout: Duration) -> bool {
        match &self.worker {
            Some(worker) => worker.flush(timeout),
            None => true,
        }
    }

    /// Delivers what is queued, stops the worker and returns the final
    /// counters. Returns within `timeout` (plus a few hundred milliseconds
    /// of slack) even if the Bot API never answers; what could not be sent
    /// by then is counted as failed.
    pub fn shutdown(mut self, timeout: Duration) -> Stats {
        self.stop(timeout);
        self.stats()
    }

    /// Checks the configuration against the Bot API: the token (`getMe`),
    /// and a silent test message to every configured chat and topic. Run it
    /// before deploying; [`CheckReport`](crate::CheckReport) says what to fix.
    /// Waits at most `timeout`.
    pub fn check(&self, timeout: Duration) -> crate::CheckReport {
        match &self.worker {
            Some(worker) => worker.check(timeout),
            None => crate::CheckReport::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.counters().map(|c| c.snapshot()).unwrap_or_default()
    }

    /// Whether alerts still reach the chat: [`Health::Dark`] once a revoked
    /// token or a bot removed from the main chat stopped delivery for good.
    /// A disabled layer is always healthy.
    pub fn health(&self) -> Health {
        self.counters()
            .map(|counters| counters.health.get())
            .unwrap_or_default()
    }

    /// A handle for sending manual alerts from anywhere in the program.
    pub fn handle(&self) -> AlertHandle {
        AlertHandle {
            producer: self.producer.clone(),
        }
    }

    fn counters(&self) -> Option<&Arc<Counters>> {
        self.worker.as_ref().map(WorkerHandle::counters)
    }

    fn stop(&mut self, timeout: Duration) {
        if let Some(worker) = &mut self.worker {
            worker.shutdown(timeout);
        }
        // Keep `worker` for its counters; `shutdown` is idempotent in effect
        // (a second request finds the channel closed and abandons nothing
        // that is not already settled).
        self.producer = None;
    }
}

impl Drop for TelegramGuard {
    fn drop(&mut self) {
        if self.producer.is_some() {
            self.stop(self.drop_timeout);
        }
    }
}

/// Sends manual alerts through the same pipeline as `tracing` events
/// (sanitizing, rendering, delivery).
///
/// Cheap to clone, `Send + Sync`; [`send`](AlertHandle::send) never blocks.
/// Alerts sent after the guard has shut down are counted as dropped.
#[derive(Debug, Clone)]
pub struct AlertHandle {
    producer: Option<Arc<Producer>>,
}

impl AlertHandle {
    /// Queues an alert. Never blocks; if the queue is full the alert is
    /// dropped and counted in [`Stats::dropped`].
    pub fn send(&self, alert: Alert) {
        if let Some(producer) = &self.producer {
            producer.submit(Record::from_alert(alert));
        }
    }

    /// The statistics so far (see [`TelegramGuard::stats`]); after shutdown,
    /// alerts sent through the handle are still counted (as dropped).
    pub fn stats(&self) -> Stats {
        self.producer
            .as_ref()
            .map(|producer| producer.counters().snapshot())
            .unwrap_or_default()
    }

    /// Whether alerts still reach the chat (see [`TelegramGuard::health`]).
    pub fn health(&self) -> Health {
        self.producer
            .as_ref()
            .map(|producer| producer.counters().health.get())
            .unwrap_or_default()
    }
}
