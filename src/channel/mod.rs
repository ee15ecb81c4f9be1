//! The channel between the application and the worker.
//!
//! In: records from the layer, the panic hook and every `AlertHandle`
//! (through the [`Producer`], which never blocks) and requests from the
//! guard ([`control`]); repeats are counted beside it, at the gate
//! (`crate::gate`). Out, on the worker thread: an [`Inbox`] of records and requests. The split is
//! `tracing-appender`'s (a cheap, cloneable producer on application threads,
//! one worker that owns all slow work, a handle the guard uses to flush or
//! stop it); the wiring is not: neither end starts the other, the builder
//! opens the channel and hands each end to its owner.

pub(crate) mod control;
pub(crate) mod drops;
pub(crate) mod outcomes;
pub(crate) mod reserve;

use std::cell::Cell;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::record::Record;
use crate::stats::Counters;

use drops::DropTally;
use outcomes::RequestOutcomes;
use reserve::QueueReserve;

pub(crate) use control::{Control, Flusher, KeptAlive, WorkerHandle};

/// Default capacity of the queue between the layer and the worker.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// Room for concurrent flush requests; a request that finds it full fails
/// rather than blocking.
const CONTROL_CAPACITY: usize = 64;

thread_local! {
    /// Set on the worker thread: nothing that happens there is captured,
    /// whatever its target, and it never waits for itself.
    static ON_WORKER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as the worker's (its own, and the threads of
/// its runtime): nothing that happens there is captured, and nothing it
/// emits reaches the application's subscriber — its default dispatcher is
/// a no-op for good. The HTTP and Redis stack the worker talks through logs
/// at TRACE and DEBUG on every request: those lines are not the
/// application's, and an error among them while sending an alert must not
/// become another alert. (What the crate has to say goes through its
/// reporter, on stderr.)
pub(crate) fn mark_worker_thread() {
    // During thread teardown the slot may be gone; nothing to mark then.
    let _ = ON_WORKER_THREAD.try_with(|flag| flag.set(true));
    silence_this_thread();
}

/// Makes a no-op dispatcher the calling thread's default for good: what
/// the crate's own threads (the worker's, the mock's) emit reaches no
/// subscriber of the application.
pub(crate) fn silence_this_thread() {
    let silence = tracing_core::dispatcher::set_default(&tracing_core::Dispatch::none());
    // Kept for the thread's life: dropping the guard would restore the
    // application's dispatcher.
    std::mem::forget(silence);
}

/// Whether the calling thread is the worker's.
pub(crate) fn on_worker_thread() -> bool {
    ON_WORKER_THREAD.try_with(Cell::get).unwrap_or(false)
}

/// The worker's end of the channel.
#[derive(Debug)]
pub(crate) struct Inbox {
    pub(crate) records: mpsc::Receiver<Record>,
    pub(crate) control: mpsc::Receiver<Control>,
    /// The queue's reserve: the worker gives a record's place back when it
    /// takes the record.
    pub(crate) reserve: Arc<QueueReserve>,
    /// How the requests records wait for ended.
    pub(crate) outcomes: Arc<RequestOutcomes>,
}

/// Opens the channel: the producer, the sender of control requests (for
/// the worker handle) and the worker's inbox.
pub(crate) fn open(
    queue_capacity: usize,
    counters: &Arc<Counters>,
    drops: &Arc<DropTally>,
) -> (Producer, mpsc::Sender<Control>, Inbox) {
    let reserve = Arc::new(QueueReserve::new(queue_capacity));
    let outcomes = Arc::new(RequestOutcomes::default());
    let (record_tx, records) = mpsc::channel(reserve.channel_capacity(queue_capacity));
    let (control_tx, control) = mpsc::channel(CONTROL_CAPACITY);
    let producer = Producer {
        records: record_tx,
        counters: Arc::clone(counters),
        drops: Arc::clone(drops),
        reserve: Arc::clone(&reserve),
        outcomes: Arc::clone(&outcomes),
    };
    let inbox = Inbox {
        records,
        control,
        reserve,
        outcomes,
    };
    (producer, control_tx, inbox)
}

/// The sending side, shared by the layer and every `AlertHandle`.
#[derive(Debug)]
pub(crate) struct Producer {
    records: mpsc::Sender<Record>,
    counters: Arc<Counters>,
    /// Which kinds a full queue dropped, for the digest.
    drops: Arc<DropTally>,
    reserve: Arc<QueueReserve>,
    outcomes: Arc<RequestOutcomes>,
}

impl Producer {
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Where the layer posts how a request a record waits for ended.
    pub(crate) fn outcomes(&self) -> &RequestOutcomes {
        &self.outcomes
    }

    /// Queues a record without ever blocking; a full or closed queue (the
    /// reserve is only for callsites that are not flooding) drops it and
    /// counts the drop. `true` if it was queued.
    #[inline]
    pub(crate) fn submit(&self, record: Record) -> bool {
        if !self.counters.accept() {
            return false;
        }
        if !self.reserve.take(&record, self.records.capacity()) {
            self.counters.drop_one();
            self.drops.note(&record);
            return false;
        }
        match self.records.try_send(record) {
            Ok(()) => true,
            Err(error) => {
                self.counters.drop_one();
                let full = matches!(error, mpsc::error::TrySendError::Full(_));
                let record = error.into_inner();
                self.reserve.give_back(&record);
                if full {
                    self.drops.note(&record);
                }
                false
            }
        }
    }
}
