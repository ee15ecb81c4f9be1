//! The worker thread, its loop, and the flush/shutdown protocol.
//!
//! The split follows `tracing-appender`: the [`Producer`] is the cheap,
//! cloneable sending side used on application threads; the worker owns all
//! slow work on its own named OS thread with a current-thread tokio runtime
//! (so the layer works in programs without a runtime, and keeps working while
//! the application's runtime shuts down); the [`WorkerHandle`], owned by the
//! guard, asks it to flush or stop.
//!
//! Records arrive on a bounded data channel. Flush and shutdown requests
//! travel on a separate control channel, and the loop listens to it even
//! while a request to Telegram is in flight, so a full queue or a hung Bot
//! API never delays them past their deadline.

use std::future::Future;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::builder::Config;
use crate::check::{CheckProblem, CheckReport};
use crate::dedup::Claim;
use crate::delivery::{Courier, Request, Sent};
use crate::error::Error;
use crate::guard::TelegramGuard;
use crate::layer::{mark_worker_thread, LayerRules, TelegramLayer};
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::repeat_gate::{GateKey, OpenKind, OpenKinds, RepeatGate};
use crate::stats::Counters;
use crate::telegram::BotClient;

/// Room for concurrent flush requests; a request that finds it full fails
/// rather than blocking.
const CONTROL_CAPACITY: usize = 64;

/// How much longer than its deadline the guard waits for the worker's answer
/// (the worker answers *at* the deadline; this covers scheduling).
const ANSWER_SLACK: Duration = Duration::from_millis(250);

/// How long after a digest window closes its fleet leader is chosen, so that
/// every process has pushed its part.
#[cfg(feature = "redis")]
const FLEET_DIGEST_GRACE: Duration = Duration::from_secs(10);

/// How often batched fleet repeat counts are sent to Redis.
const FLEET_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// How often a busy worker picks up queued records.
const DRAIN_INTERVAL: Duration = Duration::from_millis(10);

/// How long the worker takes records from the channel in one go before it
/// looks at control requests and in-flight requests again.
const DRAIN_BUDGET: Duration = Duration::from_millis(5);

/// How often the worker settles the repeats the layer counted at the gate
/// (and so how late a threshold tally may come).
const GATE_INTERVAL: Duration = Duration::from_millis(500);

/// How long a stopped worker may take to close its runtime and exit.
const EXIT_GRACE: Duration = Duration::from_millis(200);

/// The sending side, shared by the layer and every `AlertHandle`.
#[derive(Debug)]
pub(crate) struct Producer {
    records: mpsc::Sender<Record>,
    counters: Arc<Counters>,
}

impl Producer {
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Queues a record without ever blocking; a full or closed queue drops
    /// it and counts the drop.
    pub(crate) fn submit(&self, record: Record) {
        if !self.counters.accept() {
            return;
        }
        if self.records.try_send(record).is_err() {
            self.counters.drop_one();
        }
    }
}

/// Requests from the guard.
#[derive(Debug)]
enum Control {
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

/// Starts the worker thread and returns the layer and its guard.
pub(crate) fn start(config: Config) -> Result<(TelegramLayer, TelegramGuard), Error> {
    let config = Arc::new(config);
    let counters = Arc::new(Counters::default());
    let client = BotClient::new(&config)?;
    let (record_tx, record_rx) = mpsc::channel(config.queue_capacity);
    let (control_tx, control_rx) = mpsc::channel(CONTROL_CAPACITY);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Worker)?;
    #[cfg(feature = "redis")]
    let fleet = match &config.redis_url {
        Some(url) => Some(
            crate::redis::FleetStore::new(
                url,
                &config.redis_key_prefix,
                config.redis_timeout,
                Arc::clone(&counters),
            )
            .map_err(|_| {
                Error::invalid("redis_url", "<redacted>", "a Redis URL the client accepts")
            })?,
        ),
        None => None,
    };
    // Only when repeats are deduplicated, and when no `before_send` hook
    // has to see every record.
    let gate = Arc::new(RepeatGate::default());
    let gate_enabled = !config.rate_limit.is_zero() && config.before_send.is_none();
    let worker = Worker {
        open_kinds: OpenKinds::new(Arc::clone(&gate)),
        #[cfg(feature = "redis")]
        fleet,
        #[cfg(feature = "redis")]
        collects: Vec::new(),
        config: Arc::clone(&config),
        pipeline: Pipeline::new(Arc::clone(&config), Arc::clone(&counters)),
        courier: Courier::new(&config, client, Arc::clone(&counters)),
        records: record_rx,
        control: control_rx,
        counters: Arc::clone(&counters),
        in_flight: None,
        flushes: Vec::new(),
        stopping: None,
        records_open: true,
        control_open: true,
        shutdown_notice_due: false,
        final_tallies_due: false,
    };
    let thread = std::thread::Builder::new()
        .name("tracing-telegram".to_owned())
        .spawn(move || {
            mark_worker_thread();
            runtime.block_on(worker.run());
            // Do not wait on a blocking DNS lookup that never returns.
            runtime.shutdown_timeout(EXIT_GRACE / 2);
        })
        .map_err(Error::Worker)?;
    let producer = Arc::new(Producer {
        records: record_tx,
        counters: Arc::clone(&counters),
    });
    let handle = WorkerHandle {
        control: control_tx,
        thread: Some(thread),
        counters,
    };
    let rules = LayerRules {
        skip: config.skip.clone(),
        slow: config.slow.clone(),
        clock: config.clock.clone(),
        capture_backtrace: config.capture_backtrace && config.max_traceback_lines > 0,
        gate: gate_enabled.then_some(gate),
        skipped_alive: Arc::default(),
    };
    let layer = TelegramLayer::new(
        Arc::clone(&producer),
        config.min_level,
        config.digest_level,
        rules,
    );
    // Installed last: a failure above leaves no hook behind.
    if config.capture_panics {
        crate::panic::install(
            Arc::clone(&producer),
            handle.flusher(),
            config.panic_flush_timeout,
            config.max_traceback_lines,
        );
    }
    let guard = TelegramGuard::new(handle, producer, config.drop_timeout);
    Ok((layer, guard))
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
        if crate::layer::on_worker_thread() {
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
}

impl WorkerHandle {
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

/// A request to Telegram in flight, with the number of records it settles.
type InFlight = (u64, Request);

struct PendingFlush {
    target: u64,
    deadline: Instant,
    done: SyncSender<bool>,
}

struct Stopping {
    deadline: Instant,
    done: SyncSender<()>,
}

/// The state of the worker loop.
struct Worker {
    config: Arc<Config>,
    pipeline: Pipeline,
    /// The fleet's shared store, when `redis_url` is set.
    #[cfg(feature = "redis")]
    fleet: Option<crate::redis::FleetStore>,
    /// Fleet digest windows pushed, and when to try to lead their digest.
    #[cfg(feature = "redis")]
    collects: Vec<(u64, Instant)>,
    courier: Courier,
    records: mpsc::Receiver<Record>,
    control: mpsc::Receiver<Control>,
    counters: Arc<Counters>,
    in_flight: Option<InFlight>,
    /// The kinds of alert whose repeats the layer counts at the gate.
    open_kinds: OpenKinds,
    flushes: Vec<PendingFlush>,
    stopping: Option<Stopping>,
    records_open: bool,
    control_open: bool,
    /// The shutdown notice is sent once everything else has been.
    shutdown_notice_due: bool,
    /// At shutdown, the pending tallies go out once the alerts they edit
    /// have been delivered.
    final_tallies_due: bool,
}

impl Worker {
    async fn run(mut self) {
        #[cfg(feature = "redis")]
        if let Some(fleet) = &mut self.fleet {
            fleet.connect().await;
        }
        if self.config.startup_notice && self.first_start_of_deploy().await {
            let text = startup_text(&self.config);
            for message in self.pipeline.notice("🟢", &text) {
                self.courier.enqueue(message);
            }
        }
        loop {
            self.drain_records().await;
            // Periodic work that is due runs before a flush is answered, so
            // that a flush after the clock passed a window's end sees it
            // closed (and the gate with it).
            if !self.flushes.is_empty() && self.courier.clock().now() >= self.next_wake() {
                self.tick().await;
            }
            self.take_gate_counts().await;
            self.answer_flushes();
            self.finish_when_idle().await;
            let next_send = self.dispatch();
            if self.should_stop(next_send) {
                self.stop();
                return;
            }
            let deadline = self.next_deadline();
            let clock = self.courier.clock().clone();
            let wake_at = self.next_wake();
            // Idle, the worker is woken by the first record. Busy, it picks
            // records up every DRAIN_INTERVAL instead: a producer then never
            // pays for waking it (a syscall) on every record.
            let idle = self.in_flight.is_none() && self.courier.is_empty();
            let listen = self.records_open && self.courier.has_room() && idle;
            let poll_later = self.records_open && !idle;
            #[cfg(feature = "redis")]
            let repeats_pending = self.fleet.as_ref().is_some_and(|f| f.has_pending_repeats());
            #[cfg(not(feature = "redis"))]
            let repeats_pending = false;
            tokio::select! {
                biased;
                command = self.control.recv(), if self.control_open => self.on_command(command).await,
                sent = in_flight_done(&mut self.in_flight), if self.in_flight.is_some() => {
                    self.in_flight = None;
                    self.courier.settle(sent);
                    self.remember_deliveries().await;
                }
                () = sleep_until(deadline), if deadline.is_some() => {}
                () = clock.sleep_until(next_send.unwrap_or_else(Instant::now)), if next_send.is_some() => {}
                () = clock.wait_until(wake_at) => self.tick().await,
                record = self.records.recv(), if listen => {
                    self.on_record(record).await;
                }
                () = tokio::time::sleep(DRAIN_INTERVAL), if poll_later => {}
                () = tokio::time::sleep(GATE_INTERVAL), if !self.open_kinds.is_empty() => {}
                () = tokio::time::sleep(FLEET_FLUSH_INTERVAL), if repeats_pending => {
                    self.flush_fleet_repeats().await;
                }
            }
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

    /// Whether a requested shutdown can finish now: nothing left to do, the
    /// deadline has passed, or what is left cannot be sent before it (a
    /// long `retry_after`, pacing).
    fn should_stop(&self, next_send: Option<Instant>) -> bool {
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

    fn records_drained(&self) -> bool {
        self.records.is_empty() || !self.records_open
    }

    async fn on_command(&mut self, command: Option<Control>) {
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
                self.counters.close();
                self.stopping = Some(Stopping { deadline, done });
                // Whatever is still queued in the channel belongs in the
                // final digest too.
                while let Ok(record) = self.records.try_recv() {
                    self.on_record(Some(record)).await;
                }
                // From here on the layer's repeats take the ordinary path
                // (and are refused there: the counters are closed).
                self.close_gate(true).await;
                // Tallies wait until the alerts they edit have been delivered.
                self.final_tallies_due = true;
                self.flush_fleet_repeats().await;
                self.send_digest();
                self.push_windows().await;
                #[cfg(feature = "redis")]
                self.collect_fleet_digests(true).await;
                self.shutdown_notice_due = self.config.shutdown_notice;
            }
            Some(Control::Check { done }) => {
                let greeting = check_greeting(&self.config);
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

    async fn on_record(&mut self, record: Option<Record>) {
        let Some(record) = record else {
            self.records_open = false;
            return;
        };
        let claim = self.claim(&record).await;
        for message in self.pipeline.prepare(record, claim) {
            self.courier.enqueue(message);
        }
        for kind in self.pipeline.take_openings() {
            self.open_kinds.open(kind);
        }
        self.send_tallies().await;
    }

    /// Settles the repeats the layer counted at the gate since the last
    /// call, and closes the kinds whose window this process no longer holds.
    async fn take_gate_counts(&mut self) {
        if self.open_kinds.is_empty() {
            return;
        }
        for (kind, repeats) in self.open_kinds.take_counts() {
            self.settle_gate_repeats(&kind, repeats).await;
        }
        for key in self.stale_kinds() {
            if let Some((kind, repeats)) = self.open_kinds.close(key) {
                self.settle_gate_repeats(&kind, repeats).await;
            }
        }
        self.send_tallies().await;
    }

    /// Open kinds whose dedup window is gone here: evicted for room, or
    /// (fleet) no longer known to be covered by another alert.
    fn stale_kinds(&self) -> Vec<GateKey> {
        self.open_kinds
            .kinds()
            .filter(|kind| {
                #[cfg(feature = "redis")]
                if kind.fleet {
                    return !self
                        .fleet
                        .as_ref()
                        .is_some_and(|fleet| fleet.knows_repeat(kind.fingerprint));
                }
                !self.pipeline.holds(kind.fingerprint)
            })
            .map(|kind| kind.key)
            .collect()
    }

    /// Closes every kind (each tick, so that no count outlives its window;
    /// with `shut`, for good), settling what was counted.
    async fn close_gate(&mut self, shut: bool) {
        for (kind, repeats) in self.open_kinds.close_all(shut) {
            self.settle_gate_repeats(&kind, repeats).await;
        }
    }

    async fn settle_gate_repeats(&mut self, kind: &OpenKind, repeats: u64) {
        if repeats == 0 {
            return;
        }
        #[cfg(feature = "redis")]
        let fleet_total = match &mut self.fleet {
            Some(fleet) if kind.fleet => {
                Some(fleet.add_repeats(kind.fingerprint, repeats, self.config.rate_limit))
            }
            _ => None,
        };
        #[cfg(not(feature = "redis"))]
        let fleet_total = None;
        self.pipeline.gate_repeats(kind, repeats, fleet_total);
    }

    /// Asks the fleet whether this record is the first of its kind.
    async fn claim(&mut self, record: &Record) -> Claim {
        #[cfg(feature = "redis")]
        if let (Some(fleet), Some(key)) = (&mut self.fleet, self.pipeline.dedup_key(record)) {
            return fleet.claim(key, self.config.rate_limit).await;
        }
        let _ = record;
        Claim::Local
    }

    /// Records where deduplicated alerts landed (in Redis too, for the fleet).
    async fn remember_deliveries(&mut self) {
        for delivered in self.courier.take_deliveries() {
            #[cfg(feature = "redis")]
            if let Some(fleet) = &mut self.fleet {
                fleet
                    .store_original(&delivered, self.config.rate_limit)
                    .await;
            }
            self.pipeline.delivered(delivered);
        }
    }

    /// Sends pending tallies, with the fleet's totals when there is a fleet.
    async fn send_tallies(&mut self) {
        let mut tallies = self.pipeline.take_tallies();
        if tallies.is_empty() {
            return;
        }
        #[cfg(feature = "redis")]
        if let Some(fleet) = &mut self.fleet {
            for tally in &mut tallies {
                if let Some(total) = fleet.total(tally.fingerprint).await {
                    tally.total = tally.total.max(total);
                }
                if tally.delivered.is_none() {
                    // Delivered by another process: edit its message.
                    tally.delivered = fleet.original(tally.fingerprint).await;
                }
            }
        }
        // Nothing new since the last tally (possible with a fleet), or a
        // threshold update for an original nobody can find yet.
        tallies.retain(|tally| {
            tally.total > tally.shown && !(tally.threshold && tally.delivered.is_none())
        });
        for message in self.pipeline.render_tallies(tallies) {
            self.courier.enqueue(message);
        }
    }

    /// Sends the repeat counts batched for the fleet.
    async fn flush_fleet_repeats(&mut self) {
        #[cfg(feature = "redis")]
        if let Some(fleet) = &mut self.fleet {
            fleet.flush_all_repeats().await;
        }
    }

    /// Whether this process should send the startup notice: with a fleet,
    /// only the first process of a deploy does.
    async fn first_start_of_deploy(&mut self) -> bool {
        #[cfg(feature = "redis")]
        if let Some(fleet) = &mut self.fleet {
            let version = self
                .config
                .service_version
                .as_deref()
                .unwrap_or("unversioned");
            return fleet
                .first_start(&self.config.service, version)
                .await
                .unwrap_or(true);
        }
        true
    }

    /// At shutdown, once everything else is delivered: the final tallies
    /// (they edit delivered alerts), then the notice with the final counters.
    async fn finish_when_idle(&mut self) {
        let idle = self.in_flight.is_none() && self.courier.is_empty() && self.records_drained();
        if !idle {
            return;
        }
        if self.final_tallies_due {
            self.final_tallies_due = false;
            let _ = self.pipeline.drain_tallies();
            self.send_tallies().await;
            if !self.courier.is_empty() {
                return; // the notice comes after the tallies
            }
        }
        if !self.shutdown_notice_due {
            return;
        }
        self.shutdown_notice_due = false;
        let stats = self.counters.snapshot();
        let text = format!(
            "stopping: {} records, {} sent, {} in digests, {} deduplicated, {} dropped, {} failed",
            stats.accepted,
            stats.sent,
            stats.batched,
            stats.deduplicated,
            stats.dropped,
            stats.failed
        );
        for message in self.pipeline.notice("⏹", &text) {
            self.courier.enqueue(message);
        }
    }

    /// Closes the digest window and queues the digest, if it has news.
    fn send_digest(&mut self) {
        for message in self.pipeline.take_digest() {
            self.courier.enqueue(message);
        }
    }

    /// Periodic work: tallies of closed dedup windows, the digest when due,
    /// and (with a fleet) the fleet digests this process may lead.
    async fn tick(&mut self) {
        // Windows may close now: their counts go in first, and the kinds
        // still open are opened again by their next ordinary record.
        self.close_gate(false).await;
        for message in self.pipeline.tick() {
            self.courier.enqueue(message);
        }
        self.send_tallies().await;
        self.push_windows().await;
        #[cfg(feature = "redis")]
        self.collect_fleet_digests(false).await;
    }

    /// When periodic work is next due, fleet digests included.
    fn next_wake(&self) -> Instant {
        let local = self.pipeline.next_wake();
        #[cfg(feature = "redis")]
        if let Some(collect) = self.collects.iter().map(|(_, at)| *at).min() {
            return local.min(collect);
        }
        local
    }

    /// Pushes closed digest windows to the fleet; a window Redis does not
    /// take is sent as this process's own digest.
    async fn push_windows(&mut self) {
        for (_window_id, data) in self.pipeline.take_windows() {
            #[cfg(feature = "redis")]
            if let Some(fleet) = &mut self.fleet {
                let ttl = self.config.batch_window * 3;
                if fleet.push_digest(_window_id, &data, ttl).await {
                    let collect_at = self.courier.clock().now() + FLEET_DIGEST_GRACE;
                    if !self.collects.iter().any(|(id, _)| *id == _window_id) {
                        self.collects.push((_window_id, collect_at));
                    }
                    continue;
                }
            }
            for message in self.pipeline.render_window(data) {
                self.courier.enqueue(message);
            }
        }
    }

    /// Tries to lead the fleet digests that are due (or all, at shutdown):
    /// the leader merges every process's window and sends one digest.
    #[cfg(feature = "redis")]
    async fn collect_fleet_digests(&mut self, all: bool) {
        let Some(fleet) = &mut self.fleet else {
            return;
        };
        let now = self.courier.clock().now();
        let (due, later): (Vec<_>, Vec<_>) = self
            .collects
            .drain(..)
            .partition(|(_, at)| all || *at <= now);
        self.collects = later;
        let ttl = self.config.batch_window * 3;
        for (window_id, _) in due {
            // Another process leads, or Redis is gone: nothing to send here.
            let Ok(Some(windows)) = fleet.collect_digest(window_id, ttl).await else {
                continue;
            };
            let merged = windows.into_iter().fold(
                crate::digest::DigestData::default(),
                |mut all, window| {
                    all.merge(window);
                    all
                },
            );
            for message in self.pipeline.render_window(merged) {
                self.courier.enqueue(message);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let flushes = self.flushes.iter().map(|f| f.deadline);
        let stop = self.stopping.as_ref().map(|s| s.deadline);
        flushes.chain(stop).min()
    }

    /// Answers every flush that is complete or out of time.
    fn answer_flushes(&mut self) {
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
    fn stop(&mut self) {
        const REASON: &str = "not delivered before the shutdown deadline";
        // Dropping the request cancels it; its records never settled.
        let mut unsent = self.in_flight.take().map_or(0, |(records, _)| records);
        self.records.close();
        while let Ok(record) = self.records.try_recv() {
            drop(record);
            unsent += 1;
        }
        self.courier.abandon(REASON);
        if unsent > 0 {
            self.courier.fail(unsent, REASON);
        }
        for flush in self.flushes.drain(..) {
            let _ = flush.done.try_send(self.counters.settled() >= flush.target);
        }
        if let Some(stopping) = self.stopping.take() {
            let _ = stopping.done.try_send(());
        }
    }
}

/// "orders-api v1.2 started on host web-3 (production)".
fn startup_text(config: &Config) -> String {
    let version = config
        .service_version
        .as_deref()
        .map(|v| format!(" v{}", v.trim_start_matches('v')))
        .unwrap_or_default();
    format!("started{version} on host {}", hostname())
}

/// The test message the configuration check posts.
fn check_greeting(config: &Config) -> String {
    format!(
        "✅ tracing-telegram check: {} ({}) can post here.",
        config.service, config.environment
    )
}

/// The machine's host name, without a dependency: the environment, then the
/// kernel's record of it.
fn hostname() -> String {
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
fn in_flight_done(slot: &mut Option<InFlight>) -> impl Future<Output = Sent> + '_ {
    std::future::poll_fn(move |cx| match slot {
        Some((_, request)) => request.as_mut().poll(cx),
        None => Poll::Pending,
    })
}

/// Sleeps until `at`; forever if `None` (the branch is disabled then anyway).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
