//! Queueing, flushing and shutting down, with and without a tokio runtime.

use crate::common;

use std::time::{Duration, Instant};

use common::{assert_accounted, builder, run_with};
use tracing::error;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::TelegramLayer;

#[test]
fn a_full_queue_drops_and_counts_without_blocking_the_caller() {
    let mock = MockTelegram::start().unwrap();
    mock.hang(true);
    let (layer, guard) = builder(&mock)
        .limits(|l| l.queue_capacity(4))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    let mut slowest = Duration::ZERO;
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..200 {
            let started = Instant::now();
            error!(i, "stalled API, call {i}");
            slowest = slowest.max(started.elapsed());
        }
    });
    // The calls never wait for the hung API: a blocked call would take the
    // 15 s request timeout. The bound is loose on purpose (debug build, CI).
    assert!(
        slowest < Duration::from_millis(100),
        "slowest call took {slowest:?}"
    );
    let started = Instant::now();
    let stats = guard.shutdown(Duration::from_secs(1));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1900), "shutdown took {took:?}");
    assert_eq!(stats.accepted, 200);
    // At most 4 in the channel, 4 in the worker's outbox and 1 in flight
    // got past the layer; the rest were dropped.
    assert!(stats.dropped >= 191, "{stats:?}");
    assert_eq!(stats.sent, 0);
    assert_eq!(stats.failed, 200 - stats.dropped, "{stats:?}");
    assert_accounted(&stats);
}

#[test]
fn shutdown_delivers_everything_pending() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let stats = run_with(layer, guard, || {
        for i in 0..50 {
            error!(i, "failure number {i}");
        }
    });
    assert_eq!(stats.sent, 50, "{stats:?}");
    assert_accounted(&stats);
    let messages = mock.messages();
    assert_eq!(messages.len(), 50);
    for (i, message) in messages.iter().enumerate() {
        assert!(
            message
                .plain_text()
                .contains(&format!("failure number {i}\n")),
            "order kept"
        );
    }
}

#[test]
fn shutdown_returns_by_its_deadline_when_the_api_hangs() {
    let mock = MockTelegram::start().unwrap();
    mock.hang(true);
    let (layer, guard) = builder(&mock).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..10 {
            error!("never answered {i}");
        }
    });
    let started = Instant::now();
    let stats = guard.shutdown(Duration::from_secs(1));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "returned early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(1900),
        "returned late: {took:?}"
    );
    assert_eq!(
        (stats.accepted, stats.failed, stats.sent),
        (10, 10, 0),
        "{stats:?}"
    );
    assert!(stats.last_error.unwrap().contains("shutdown deadline"));
}

#[test]
fn flush_waits_for_delivery_and_reports_a_timeout() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        error!("first");
        assert!(guard.flush(Duration::from_secs(5)));
        assert_eq!(mock.messages().len(), 1, "flush returned before delivery");

        mock.hang(true);
        error!("second");
        let started = Instant::now();
        assert!(!guard.flush(Duration::from_millis(300)));
        assert!(started.elapsed() < Duration::from_millis(1000));
        mock.hang(false);
        assert!(
            guard.flush(Duration::from_secs(5)),
            "the hung request completes once released"
        );
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!(stats.sent, 2, "{stats:?}");
    assert_eq!(mock.messages().len(), 2);
}

#[test]
fn dropping_the_guard_drains_within_its_bound() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..5 {
            error!("pending {i}");
        }
        drop(guard);
        error!("after the guard is gone");
    });
    assert_eq!(mock.messages().len(), 5);
}

#[test]
fn records_after_shutdown_are_counted_as_dropped() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let handle = guard.handle();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        error!("before");
        let stats = guard.shutdown(Duration::from_secs(5));
        assert_eq!(stats.sent, 1);
        error!("after");
        handle.send(tracing_telegram::Alert::new(
            tracing_telegram::AlertLevel::Error,
            "late",
        ));
    });
    assert_eq!(mock.messages().len(), 1);
}

#[test]
fn dropped_records_are_reported_in_the_next_message() {
    let mock = MockTelegram::start().unwrap();
    mock.hang(true);
    let (layer, guard) = builder(&mock)
        .limits(|l| l.queue_capacity(1))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..20 {
            error!("burst {i}");
        }
        mock.hang(false);
        assert!(guard.flush(Duration::from_secs(5)));
        error!("after the burst");
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    // Each message reports the drops since the previous one was rendered;
    // the message after the burst was rendered after the last drop.
    let messages = mock.messages();
    let (digests, alerts): (Vec<_>, Vec<_>) = messages
        .iter()
        .partition(|m| m.plain_text().starts_with("📊 DIGEST"));
    let reported: u64 = alerts
        .iter()
        .filter_map(|m| {
            let text = m.plain_text();
            let count = text
                .split("⚠️ ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()?;
            assert!(text.contains(" earlier alert(s) were dropped: the queue was full."));
            Some(count)
        })
        .sum();
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(reported, stats.dropped, "{stats:?}");
    // The final digest reports them too.
    let digest = digests[0].plain_text();
    assert!(
        digest.contains(&format!(
            "⚠️ {} record(s) dropped (queue full) since the last digest",
            stats.dropped
        )),
        "{digest}"
    );
    assert_accounted(&stats);
}

#[test]
fn works_in_a_program_without_a_tokio_runtime() {
    assert!(tokio::runtime::Handle::try_current().is_err());
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let stats = run_with(layer, guard, || error!("no runtime here"));
    assert_eq!(stats.sent, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn works_inside_a_current_thread_runtime() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    let _default = tracing::subscriber::set_default(subscriber);
    tokio::spawn(async { error!("from a task") }).await.unwrap();
    error!("from the test body");
    // The worker has its own thread: flushing from inside this runtime's only
    // thread cannot deadlock.
    assert!(guard.flush(Duration::from_secs(5)));
    assert_eq!(mock.messages().len(), 2);
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!(stats.sent, 2);
}

#[test]
fn keeps_working_after_the_application_runtime_is_gone() {
    let mock = MockTelegram::start().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (layer, guard) = runtime.block_on(async { builder(&mock).build().unwrap() });
    drop(runtime);
    let stats = run_with(layer, guard, || error!("runtime already shut down"));
    assert_eq!(stats.sent, 1);
}

#[test]
fn a_disabled_layer_does_nothing_and_its_guard_returns_at_once() {
    let (layer, guard) = TelegramLayer::builder().enabled(false).build().unwrap();
    assert!(!layer.inner().is_enabled());
    let started = Instant::now();
    let stats = run_with(layer, guard, || error!("ignored"));
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(stats, tracing_telegram::Stats::default());
}

#[test]
fn a_failing_api_counts_failures_with_a_reason() {
    let mock = MockTelegram::start().unwrap();
    mock.script(tracing_telegram::testing::Reply::BadRequest(
        "message thread not found".into(),
    ));
    let (layer, guard) = builder(&mock).build().unwrap();
    let stats = run_with(layer, guard, || {
        error!("lost");
        error!("delivered");
    });
    assert_eq!((stats.failed, stats.sent), (1, 1), "{stats:?}");
    assert!(
        stats
            .last_error
            .as_deref()
            .unwrap()
            .contains("message thread not found"),
        "{stats:?}"
    );
    assert_accounted(&stats);
}

/// A Redis URL the Redis client refuses is a configuration error from
/// `build()`, found before any thread or runtime starts: in plain `main`,
/// inside both kinds of tokio runtime and inside `spawn_blocking`, where a
/// runtime dropped in async code would panic.
#[test]
fn a_redis_url_the_client_refuses_is_an_error_in_every_context() {
    fn try_build() -> String {
        let mock = MockTelegram::start().unwrap();
        let result = builder(&mock)
            .fleet(|f| f.redis_url("redis://:hunter2@localhost/cache"))
            .build::<tracing_subscriber::Registry>();
        let error = result.expect_err("the Redis client refuses this URL");
        error.to_string()
    }
    let check = |text: String| {
        assert!(text.contains("redis_url"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    };
    check(try_build());
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    check(current.block_on(async { try_build() }));
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    check(multi.block_on(async { try_build() }));
    check(multi.block_on(async { tokio::task::spawn_blocking(try_build).await.unwrap() }));
}

/// Records a full queue drops are shown in the next digest by kind, not
/// only counted.
#[test]
fn the_digest_says_which_kinds_a_full_queue_dropped() {
    let mock = MockTelegram::start().unwrap();
    mock.hang(true);
    let (layer, guard) = builder(&mock)
        .limits(|l| l.queue_capacity(1))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..100 {
            error!(i, "card declined for password=hunter2");
            error!(target: "ledger", i, "ledger out of balance");
        }
    });
    mock.hang(false);
    let stats = guard.shutdown(Duration::from_secs(10));
    assert!(stats.dropped >= 190, "{stats:?}");
    let digest = mock
        .messages()
        .iter()
        .map(|m| m.plain_text())
        .find(|t| t.contains("DIGEST"))
        .expect("a digest at shutdown");
    assert!(digest.contains("🗑 Dropped (queue full)"), "{digest}");
    assert!(digest.contains("ledger: ledger out of balance"), "{digest}");
    assert!(
        digest.contains("card declined for password=***"),
        "sanitized: {digest}"
    );
    let per_kind: u64 = digest
        .lines()
        .skip_while(|line| !line.contains("Dropped (queue full)"))
        .filter_map(|line| line.strip_prefix("• ×"))
        .filter_map(|rest| rest.split(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(per_kind, stats.dropped, "{digest}");
}
