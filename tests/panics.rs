//! Panics become Critical alerts. Its own test binary, because the panic hook
//! is process-wide; the tests take a lock so that one test's panic is not
//! seen by another's layer.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_panic_in_a_named_thread_is_a_critical_alert_and_the_previous_hook_runs() {
    let _serial = serial();
    let previous_ran = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&previous_ran);
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));

    let mock = MockTelegram::start().unwrap();
    let (_layer, guard) = common::builder(&mock)
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let result = std::thread::Builder::new()
        .name("ledger-worker".into())
        .spawn(|| {
            let entries: Vec<u64> = Vec::new();
            let index = entries.len() + 3;
            entries[index] // index out of bounds
        })
        .unwrap()
        .join();
    assert!(result.is_err());
    let stats = guard.shutdown(Duration::from_secs(5));

    assert_eq!(
        previous_ran.load(Ordering::SeqCst),
        1,
        "the previous hook still runs"
    );
    let messages = mock.messages();
    assert_eq!(messages.len(), 1, "{stats:?}");
    let text = messages[0].plain_text();
    for expected in [
        "🚨 CRITICAL",
        "Panic in thread 'ledger-worker'",
        "index out of bounds: the len is 0 but the index is 3",
        "thread: ledger-worker",
        "location: tests/panics.rs:",
        "Backtrace\npanics::a_panic_in_a_named_thread", // std's frames filtered out
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!messages[0].disable_notification);
}

#[test]
fn a_panic_inside_a_tokio_task_is_alerted() {
    let _serial = serial();
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::builder(&mock).build().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let outcome = runtime.block_on(async {
        tokio::spawn(async { panic!("PAYMENT_GATEWAY_URL must be set") }).await
    });
    assert!(outcome.unwrap_err().is_panic(), "tokio caught it");
    let stats = guard.shutdown(Duration::from_secs(5));
    let messages = mock.messages();
    assert_eq!(messages.len(), 1, "{stats:?}");
    assert!(messages[0]
        .plain_text()
        .contains("PAYMENT_GATEWAY_URL must be set"));
}

#[test]
fn the_hook_returns_within_its_bound_when_delivery_is_stalled() {
    let _serial = serial();
    let mock = MockTelegram::start().unwrap();
    mock.hang(true);
    let (_layer, guard) = common::builder(&mock)
        .panics(|p| p.flush_timeout(Duration::from_millis(300)))
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let started = Instant::now();
    let result = std::thread::spawn(|| panic!("while the API hangs")).join();
    let took = started.elapsed();
    assert!(result.is_err());
    assert!(
        took >= Duration::from_millis(250),
        "it waited for delivery: {took:?}"
    );
    assert!(
        took < Duration::from_millis(1500),
        "but only within its bound: {took:?}"
    );
    let stats = guard.shutdown(Duration::from_millis(500));
    assert_eq!((stats.accepted, stats.failed), (1, 1), "{stats:?}");
}

#[test]
fn panics_are_not_captured_when_turned_off() {
    let _serial = serial();
    let mock = MockTelegram::start().unwrap();
    let (_layer, guard) = common::builder(&mock)
        .panics(|p| p.report(false))
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let _ = std::thread::spawn(|| panic!("not for the chat")).join();
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!(stats.accepted, 0);
    assert!(mock.messages().is_empty());
}

#[test]
fn a_panic_on_the_worker_thread_is_reported_without_deadlock() {
    let _serial = serial();
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::builder(&mock)
        .hooks(|h| {
            h.on_sent(|sent| {
                if sent.title == "trigger" {
                    panic!("audit sink exploded");
                }
            })
        })
        .build()
        .unwrap();
    let started = Instant::now();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || tracing::error!("trigger"));
    // The hook panics on the worker: the panic hook must not wait for the
    // worker (itself), and the worker must survive to send the panic alert.
    mock.wait_for_messages(2, Duration::from_secs(5));
    let stats = guard.shutdown(Duration::from_secs(5));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    assert_eq!(texts.len(), 2, "{texts:#?} {stats:?}");
    // Reported by the worker, not captured as a record of its own (which
    // would pass through the hooks again).
    assert!(
        texts[1].contains("the on_sent hook panicked: audit sink exploded"),
        "{}",
        texts[1]
    );
    assert_eq!(stats.accepted, 1, "{stats:?}");
}

/// Panics from several threads at once while the Bot API hangs: only the
/// first waits for delivery, so the burst costs one `panic_flush_timeout`,
/// not one per panic; every panic is still reported.
#[test]
fn a_burst_of_panics_waits_once() {
    let _serial = serial();
    // Quiet for the handlers (printing five backtraces on a loaded machine
    // is not the point), not for this test's own assertions.
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name().is_some() {
            default(info);
        }
    }));
    let mock = MockTelegram::start().unwrap();
    mock.hang(true);
    let (_layer, guard) = common::builder(&mock)
        .panics(|p| p.flush_timeout(Duration::from_secs(1)))
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let started = Instant::now();
    for handler in 0..5 {
        let result = std::thread::spawn(move || panic!("handler {handler} crashed")).join();
        assert!(result.is_err());
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "the first waited: {took:?}"
    );
    // Waiting for each would take five seconds; the bound leaves room for a
    // loaded machine (thread start-up, the answer's slack).
    assert!(
        took < Duration::from_secs(3),
        "five panics, one wait (not 5 × 1 s): {took:?}"
    );
    let stats = guard.shutdown(Duration::from_millis(300));
    assert_eq!(stats.accepted, 5, "{stats:?}");
    let _ = std::panic::take_hook();
}

/// Building several layers installs one hook, which reports each panic to
/// each; when the last guard shuts down the previous hook is back; and a
/// hook the application installs over ours (replacing it) does not stop a
/// later build, or the builds still alive, from being told.
#[test]
fn one_hook_for_many_builds_and_the_previous_one_is_put_back() {
    let _serial = serial();
    let first_hook = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&first_hook);
    let default: Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync> =
        Arc::from(std::panic::take_hook());
    let prints = Arc::clone(&default);
    std::panic::set_hook(Box::new(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        prints(info);
    }));
    let (mock_a, mock_b) = (
        MockTelegram::start().unwrap(),
        MockTelegram::start().unwrap(),
    );
    let (_a, guard_a) = common::builder(&mock_a)
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let (_b, guard_b) = common::builder(&mock_b)
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let _ = std::thread::spawn(|| panic!("seen by both")).join();
    assert_eq!(
        first_hook.load(Ordering::SeqCst),
        1,
        "the previous hook ran once"
    );
    let (stats_a, stats_b) = (
        guard_a.shutdown(Duration::from_secs(5)),
        guard_b.shutdown(Duration::from_secs(5)),
    );
    assert_eq!(
        (stats_a.sent, stats_b.sent),
        (1, 1),
        "{stats_a:?} {stats_b:?}"
    );

    // Both guards are gone: the previous hook alone runs.
    let _ = std::thread::spawn(|| panic!("after shutdown")).join();
    assert_eq!(first_hook.load(Ordering::SeqCst), 2);

    // A build whose hook the application then replaces; a later build is
    // still told about panics.
    let mock_c = MockTelegram::start().unwrap();
    let (_c, guard_c) = common::builder(&mock_c)
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let prints = Arc::clone(&default);
    std::panic::set_hook(Box::new(move |info| prints(info)));
    let mock_d = MockTelegram::start().unwrap();
    let (_d, guard_d) = common::builder(&mock_d)
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let _ = std::thread::spawn(|| panic!("after the application's hook")).join();
    let stats_d = guard_d.shutdown(Duration::from_secs(5));
    let stats_c = guard_c.shutdown(Duration::from_secs(5));
    assert_eq!(stats_d.sent, 1, "{stats_d:?}");
    // The later build put our hook back in front: the earlier one is told too.
    assert_eq!(stats_c.sent, 1, "{stats_c:?}");
    let _ = std::panic::take_hook();
}
