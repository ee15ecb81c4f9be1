//! The worker: one named OS thread with its own current-thread tokio
//! runtime, which owns all slow work (so the layer works in programs
//! without a runtime, and keeps working while the application's runtime
//! shuts down).
//!
//! In: the [`Inbox`] (records and control requests) and the repeat gate's
//! counts. It runs each record through the [`Pipeline`], asks the [`Fleet`]
//! what it shares, and hands messages to the [`Courier`]. Out: Bot API
//! requests, answers to the guard, and `Stats`.
//!
//! - this file: the state and the loop, which listens to control requests
//!   even while a request to Telegram is in flight, so a full queue or a
//!   hung Bot API never delays a flush or a shutdown past its deadline;
//! - [`records`]: one record, and the repeats counted at the gate;
//! - [`awaiting`]: records that wait for their request's status;
//! - [`fleet_watch`]: the fleet watching itself (presence, vanished processes);
//! - [`schedule`]: when the loop wakes, and the periodic work due then;
//! - [`periodic`]: ticks, tallies and digest windows;
//! - [`protocol`]: flush, shutdown and check requests;
//! - [`interact`]: button presses on interactive alerts (long polling).
//!
//! The builder wires it: it starts the thread with [`spawn`].

mod awaiting;
mod escalate;
mod fleet_watch;
mod interact;
mod periodic;
mod protocol;
mod records;
mod schedule;

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::channel::control::EXIT_GRACE;
use crate::channel::outcomes::RequestOutcomes;
use crate::channel::reserve::QueueReserve;
use crate::channel::{mark_worker_thread, Control, Inbox, KeptAlive};
use crate::delivery::client::ApiError;
use crate::delivery::{Courier, Message};
use crate::error::Error;
use crate::export::MetricsExport;
use crate::fleet::Fleet;
use crate::interact::press::PressJudge;
use crate::interact::InteractConfig;
use crate::pipeline::incident::Incidents;
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::report::Reporter;
use crate::stats::Counters;

use protocol::{PendingFlush, Stopping};

/// How long the worker takes records from the channel in one go before it
/// looks at control requests and in-flight requests again.
const DRAIN_BUDGET: Duration = Duration::from_millis(5);

/// What the worker does besides running the stages.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WorkerConfig {
    /// Send a notice when starting (once per deploy, with a fleet).
    pub(crate) startup_notice: bool,
    /// Send a notice with the final counters when stopping.
    pub(crate) shutdown_notice: bool,
}

/// The parts the worker runs, as the builder made them.
#[derive(Debug)]
pub(crate) struct WorkerSetup {
    pub(crate) config: WorkerConfig,
    pub(crate) pipeline: Pipeline,
    pub(crate) fleet: Fleet,
    pub(crate) courier: Courier,
    pub(crate) counters: Arc<Counters>,
    pub(crate) reporter: Arc<Reporter>,
    /// Interactive alerts: how, and who may press (`None`: off).
    pub(crate) interactive: Option<(InteractConfig, PressJudge)>,
}

/// Starts the worker thread (its runtime is built first, so a failure
/// leaves nothing running). What `kept` holds is dropped when it exits.
pub(crate) fn spawn(
    setup: WorkerSetup,
    inbox: Inbox,
    kept: KeptAlive,
) -> Result<JoinHandle<()>, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // The runtime's blocking threads (DNS lookups) are the worker's too.
        .on_thread_start(mark_worker_thread)
        .build()
        .map_err(Error::Worker)?;
    let worker = Worker::new(setup, inbox);
    std::thread::Builder::new()
        .name("tracing-telegram".to_owned())
        .spawn(move || {
            mark_worker_thread();
            runtime.block_on(worker.run());
            // Do not wait on a blocking DNS lookup that never returns.
            runtime.shutdown_timeout(EXIT_GRACE / 2);
            kept.release();
        })
        .map_err(Error::Worker)
}

/// A request to Telegram in flight, with the number of records it settles.
type InFlight = (u64, crate::delivery::Request);

/// The state of the worker loop.
struct Worker {
    config: WorkerConfig,
    pipeline: Pipeline,
    fleet: Fleet,
    courier: Courier,
    records: mpsc::Receiver<Record>,
    control: mpsc::Receiver<Control>,
    /// The queue's reserve (a record's place is given back when it is
    /// taken).
    reserve: Arc<QueueReserve>,
    /// How the requests that held records wait for ended.
    outcomes: Arc<RequestOutcomes>,
    /// Records waiting for their request's status.
    awaiting: awaiting::Awaiting,
    counters: Arc<Counters>,
    in_flight: Option<InFlight>,
    /// When pacing lets the next message go, if one waits for it.
    next_send: Option<Instant>,
    flushes: Vec<PendingFlush>,
    stopping: Option<Stopping>,
    records_open: bool,
    control_open: bool,
    /// The shutdown notice is sent once everything else has been.
    shutdown_notice_due: bool,
    /// At shutdown, the pending tallies go out once the alerts they edit
    /// have been delivered.
    final_tallies_due: bool,
    /// The gate's last tallies, held until then.
    held_tallies: Vec<crate::pipeline::Tally>,
    /// `Stats` and `Health` in the application's metrics (feature `metrics`).
    metrics: MetricsExport,
    reporter: Arc<Reporter>,
    /// Button presses (interactive alerts), while on.
    interaction: Option<crate::interact::poller::Interaction>,
}

impl Worker {
    fn new(setup: WorkerSetup, inbox: Inbox) -> Self {
        let metrics = MetricsExport::new(setup.pipeline.deploy().0);
        let client = setup.courier.client();
        let fleet = setup.fleet.is_shared();
        let interaction = setup.interactive.map(|(config, judge)| {
            crate::interact::poller::Interaction::new(config, judge, client, fleet)
        });
        Worker {
            config: setup.config,
            pipeline: setup.pipeline,
            fleet: setup.fleet,
            courier: setup.courier,
            records: inbox.records,
            control: inbox.control,
            reserve: inbox.reserve,
            outcomes: inbox.outcomes,
            awaiting: awaiting::Awaiting::default(),
            counters: setup.counters,
            in_flight: None,
            next_send: None,
            flushes: Vec::new(),
            stopping: None,
            records_open: true,
            control_open: true,
            shutdown_notice_due: false,
            final_tallies_due: false,
            held_tallies: Vec::new(),
            metrics,
            reporter: setup.reporter,
            interaction,
        }
    }

    async fn run(mut self) {
        self.fleet.connect().await;
        if self.config.startup_notice {
            let (service, version) = self.pipeline.deploy();
            if self.fleet.first_start(service, version).await {
                let notice = self.pipeline.startup_notice(&hostname());
                self.enqueue(notice);
            }
        }
        loop {
            self.take_turn().await;
            if self.should_stop(self.next_send) {
                self.stop();
                return;
            }
            let wakeup = self.next_wakeup();
            let clock = self.courier.clock().clone();
            // Idle, the worker is woken by the first record. Busy, it picks
            // records up every so often instead (see `schedule`): a producer
            // then never pays for waking it (a syscall) on every record.
            let idle = self.in_flight.is_none() && self.courier.is_empty();
            let listen = self.records_open && self.courier.has_room() && idle;
            tokio::select! {
                biased;
                command = self.control.recv(), if self.control_open => self.on_command(command).await,
                sent = in_flight_done(&mut self.in_flight), if self.in_flight.is_some() => {
                    self.in_flight = None;
                    self.courier.settle(sent);
                    self.remember_deliveries().await;
                    self.report_delivery_events();
                }
                record = self.records.recv(), if listen => self.on_record(record).await,
                updates = crate::interact::poller::poll_done(&mut self.interaction) => self.on_updates(updates).await,
                () = wakeup.wait(&clock) => {}
            }
        }
    }

    /// One turn of the loop: the records waiting, the repeats counted at
    /// the gate, the periodic work that is due (before a flush is answered,
    /// so that a flush after the clock passed a window's end sees it closed,
    /// and the gate with it; after the gate's counts, so that the fleet's
    /// share of them goes out before a flush is answered), answers to
    /// flushes, the final messages of a shutdown, and the next request.
    async fn take_turn(&mut self) {
        self.drain_records().await;
        self.take_gate_counts().await;
        self.run_due().await;
        self.sync_fleet_for_flush().await;
        self.send_crossed_tallies().await;
        self.answer_flushes();
        self.finish_when_idle().await;
        self.next_send = self.dispatch();
    }

    /// Hands messages to the courier.
    fn enqueue(&mut self, messages: Vec<Message>) {
        for message in messages {
            self.courier.enqueue(message);
        }
    }

    /// Takes the records waiting in the channel (a bounded number, so that
    /// control requests are never starved), without registering for a wake-up.
    async fn drain_records(&mut self) {
        let started = Instant::now();
        while started.elapsed() < DRAIN_BUDGET {
            if !self.records_open || !self.courier.has_room() {
                return;
            }
            match self.records.try_recv() {
                Ok(record) => self.on_record(Some(record)).await,
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => self.records_open = false,
            }
        }
    }

    /// Starts the next request if none is in flight and a message may go;
    /// returns when the next one will be ready if it has to wait.
    fn dispatch(&mut self) -> Option<Instant> {
        if self.in_flight.is_some() {
            return None;
        }
        match self.courier.next_request() {
            Ok((records, request)) => {
                self.in_flight = Some((records, request));
                None
            }
            Err(ready_at) => ready_at,
        }
    }

    /// Records where deduplicated alerts landed (in the fleet too).
    async fn remember_deliveries(&mut self) {
        for delivered in self.courier.take_deliveries() {
            if !Incidents::is_incident(delivered.fingerprint) {
                self.fleet.remember(&delivered).await;
            }
            let edits = self.pipeline.delivered(delivered);
            self.enqueue(edits);
        }
    }

    /// Reports what delivery had to say about itself: a panic of the
    /// `on_sent` or `on_delivery_failure` hook (never re-entering the
    /// pipeline as a record of its own), and the main chat going dark (the
    /// fallback chat is told).
    fn report_delivery_events(&mut self) {
        if let Some((hook, payload)) = self.courier.take_hook_panic() {
            let messages = self.pipeline.hook_panicked(hook, &payload);
            self.enqueue(messages);
        }
        if let Some(reason) = self.courier.take_went_dark() {
            let messages = self.pipeline.dark_notice(&reason);
            self.enqueue(messages);
        }
    }

    fn records_drained(&self) -> bool {
        self.records.is_empty() || !self.records_open
    }
}

/// The machine's host name, without a dependency: the environment, then the
/// kernel's record of it.
pub(crate) fn hostname() -> String {
    let from_env = ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok());
    from_env
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Resolves when the in-flight request does; pending if there is none.
fn in_flight_done(
    slot: &mut Option<InFlight>,
) -> impl Future<Output = (Message, Result<i64, ApiError>)> + '_ {
    std::future::poll_fn(move |cx| match slot {
        Some((_, request)) => request.as_mut().poll(cx),
        None => Poll::Pending,
    })
}
