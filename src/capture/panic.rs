//! The panic hook: a panic becomes a Critical alert, delivered before the
//! process may abort.
//!
//! The hook chains to the previously installed one (so the default message
//! still prints), never panics itself (a panic inside a panic hook aborts the
//! process), never touches the `tracing` dispatcher or registry (the panic may
//! have happened while one of their locks was held), and waits for delivery
//! only for a short bound — once per burst of panics, and not at all on the
//! worker's own thread. It is installed once however many layers are built,
//! and the previous hook is put back when the last build's worker has
//! stopped (the worker runs the user's hooks, whose panics ours keeps quiet).

use std::cell::Cell;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, TryLockError};
use std::time::Instant;

use crate::alert::AlertLevel;
use crate::channel::{on_worker_thread, Flusher, Producer};
use crate::hooks::in_user_hook;
use crate::record::{Captured, FieldValue, Occurrence, Origin, Record};
use crate::text::panic_text;

use super::backtrace;
use super::PanicConfig;

thread_local! {
    /// Set while this thread runs our hook: a panic inside it is not reported again.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// A panic hook as std keeps it.
type Hook = dyn Fn(&PanicHookInfo<'_>) + Send + Sync + 'static;

/// Our hook, installed once for the process however many layers are built:
/// each build registers a [`Registration`], and the hook reports every panic
/// to each of them.
struct Installed {
    /// Which of our hooks is the live one: a hook of ours that another was
    /// installed over (and that may still run inside its chain) reports
    /// nothing once a newer one is installed.
    generation: u64,
    /// The hook that was installed before ours: ours calls it, and it is put
    /// back when the last registration goes.
    previous: Arc<Hook>,
    /// Where our hook lives, to tell whether it is still the installed one.
    ours: usize,
    registrations: Vec<Arc<Registration>>,
}

static INSTALLED: Mutex<Option<Installed>> = Mutex::new(None);

/// One build's interest in panics.
struct Registration {
    id: u64,
    producer: Arc<Producer>,
    flusher: Flusher,
    config: PanicConfig,
    /// Until when (nanoseconds on [`since_start`]) the current burst of
    /// panics runs: only its first panic waits for delivery.
    burst_until: AtomicU64,
}

/// Keeps a build's panics reported; dropping it (when the build's worker
/// thread exits, after its guard shut it down) removes
/// the registration, and the hook itself when it was the last one and no
/// other hook was installed after ours.
#[derive(Debug)]
pub(crate) struct PanicRegistration {
    id: u64,
}

/// Registers `producer` for panics, installing our hook in front of the
/// current one if it is not installed yet (never twice).
pub(crate) fn install(
    producer: Arc<Producer>,
    flusher: Flusher,
    config: PanicConfig,
) -> PanicRegistration {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let registration = Arc::new(Registration {
        id,
        producer,
        flusher,
        config,
        burst_until: AtomicU64::new(0),
    });
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    // std refuses to change hooks on a panicking thread (it would abort).
    if !std::thread::panicking() && !ours_is_installed(installed.as_ref()) {
        let registrations = installed
            .take()
            .map(|stale| stale.registrations)
            .unwrap_or_default();
        let generation = next_generation();
        let previous: Arc<Hook> = Arc::from(std::panic::take_hook());
        let chained = Arc::clone(&previous);
        let hook: Box<Hook> = Box::new(move |info| on_panic(info, generation, &*chained));
        let ours = address(&*hook);
        std::panic::set_hook(hook);
        *installed = Some(Installed {
            generation,
            previous,
            ours,
            registrations,
        });
    }
    if let Some(installed) = installed.as_mut() {
        installed.registrations.push(registration);
    }
    PanicRegistration { id }
}

impl Drop for PanicRegistration {
    fn drop(&mut self) {
        let mut guard = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(installed) = guard.as_mut() else {
            return;
        };
        installed.registrations.retain(|r| r.id != self.id);
        if !installed.registrations.is_empty() || std::thread::panicking() {
            return;
        }
        let current = std::panic::take_hook();
        if address(&*current) == installed.ours {
            // Ours is still the installed hook: put the previous one back.
            let previous = Arc::clone(&installed.previous);
            std::panic::set_hook(Box::new(move |info| previous(info)));
            *guard = None;
        } else {
            // Another hook was installed after ours and calls it: leave the
            // chain as it is (ours reports to nobody until a build registers).
            std::panic::set_hook(current);
        }
    }
}

/// Whether the installed hook is our live one. (std cannot show a hook
/// without taking it: it is put back at once.)
fn ours_is_installed(installed: Option<&Installed>) -> bool {
    let Some(installed) = installed else {
        return false;
    };
    let current = std::panic::take_hook();
    let ours = address(&*current) == installed.ours;
    std::panic::set_hook(current);
    ours
}

/// A generation number never used before.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The identity of a hook: the address of its closure.
fn address(hook: &Hook) -> usize {
    std::ptr::from_ref(hook).cast::<()>() as usize
}

/// Our hook: report the panic to every registration (not on the worker's
/// thread, whose panics are user hooks' and reported by the worker), wait a
/// bounded time for delivery, then run the previous hook.
fn on_panic(info: &PanicHookInfo<'_>, generation: u64, previous: &Hook) {
    let first_entry = IN_HOOK
        .try_with(|flag| !flag.replace(true))
        .unwrap_or(false);
    let reported = if first_entry && !on_worker_thread() {
        registrations(generation)
    } else {
        Vec::new()
    };
    for registration in &reported {
        registration.report(info);
    }
    if first_entry {
        let _ = IN_HOOK.try_with(|flag| flag.set(false));
    }
    // A user hook's panic is reported by the worker, once per window:
    // printed here, a hook that always panics would print every record.
    if !in_user_hook() {
        previous(info);
    }
    // The burst goes on from here: the previous hook's own time (printing
    // a backtrace can take long) is no gap between panics.
    for registration in &reported {
        registration.extend_burst();
    }
}

/// The registrations now. Never waits for the lock: a panic while it is
/// held (a build or a shutdown on another thread) is not reported rather
/// than risking a deadlock inside a panic hook.
fn registrations(generation: u64) -> Vec<Arc<Registration>> {
    let installed = match INSTALLED.try_lock() {
        Ok(installed) => installed,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return Vec::new(),
    };
    installed
        .as_ref()
        .filter(|installed| installed.generation == generation)
        .map(|installed| installed.registrations.clone())
        .unwrap_or_default()
}

impl Registration {
    /// Queues the panic's alert and, for the first panic of a burst, waits
    /// for its delivery (at most the configured bound for the whole burst).
    fn report(&self, info: &PanicHookInfo<'_>) {
        // A build shutting down (its worker may outlive the guard a little)
        // takes no more records, and must not make a panic wait.
        if !self.config.report || self.producer.counters().is_closed() {
            return;
        }
        report(&self.producer, info, self.config.max_frames);
        if self.starts_burst() {
            self.flusher.flush(self.config.flush_timeout);
        }
    }

    /// Whether this panic starts a burst (and so may wait): no panic came
    /// within `flush_timeout` of the last one.
    fn starts_burst(&self) -> bool {
        let now = since_start();
        let until = self.burst_until.load(Ordering::Relaxed);
        if now < until {
            return false;
        }
        // One of panics racing to start the burst wins; it alone waits.
        let end = now.saturating_add(self.timeout_nanos());
        self.burst_until
            .compare_exchange(until, end, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// A burst lasts while panics come within `flush_timeout` of the end of
    /// the last one's hook.
    fn extend_burst(&self) {
        let end = since_start().saturating_add(self.timeout_nanos());
        self.burst_until.fetch_max(end, Ordering::Relaxed);
    }

    fn timeout_nanos(&self) -> u64 {
        u64::try_from(self.config.flush_timeout.as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Nanoseconds since the first call: a monotonic clock that fits an atomic.
fn since_start() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Queues a Critical alert for this panic.
fn report(producer: &Producer, info: &PanicHookInfo<'_>, max_frames: usize) {
    let message = panic_text(info.payload());
    let thread = std::thread::current();
    let thread_name = thread.name().unwrap_or("<unnamed>").to_owned();
    let mut fields = vec![("thread".into(), FieldValue::Str(thread_name.clone()))];
    if let Some(location) = info.location() {
        fields.push((
            "location".into(),
            FieldValue::Str(format!(
                "{}:{}:{}",
                location.file(),
                location.line(),
                location.column()
            )),
        ));
    }
    let captured = Captured {
        title: Some(format!("Panic in thread '{thread_name}'")),
        fields,
        backtrace: (max_frames > 0).then(backtrace::capture),
        ..Captured::default()
    };
    let level = AlertLevel::Critical;
    producer.submit(Record::new(
        level,
        Occurrence::Alert,
        Origin::Manual,
        message.into(),
        captured,
    ));
}
