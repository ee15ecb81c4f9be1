#![allow(missing_docs)] // criterion_group! generates undocumented items
//! tracing-telegram's cost on the application's thread, side by side with
//! sentry-tracing (discarding transport) and fmt JSON through
//! tracing-appender's `non_blocking`, each as a ratio against
//! `registry()` + a no-op layer measured in the same run. See BENCHMARKS.md.
//!
//! Run: `cargo bench -p tracing-telegram-perf --bench peers`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use tracing::{error, info, info_span};
use tracing_telegram::testing::MockTelegram;
use tracing_telegram_perf as perf;

/// Records emitted between two (unmeasured) flushes, below the queue's size.
const BATCH: u64 = 2_000;

fn ignored_info() {
    info!(order_id = 77, "order received");
}

fn span_lifecycle() {
    let span = info_span!("request", method = "GET", path = "/orders/77");
    let entered = span.enter();
    black_box(&entered);
    drop(entered);
    drop(span);
}

/// A span that is not judged slow (no HTTP fields, no threshold).
fn plain_span_lifecycle() {
    let span = info_span!("load_customer", customer_id = 77_u64);
    let entered = span.enter();
    black_box(&entered);
    drop(entered);
    drop(span);
}

/// Hot instrumentation nobody here wants: a `trace!` and a `debug_span!`.
fn unwanted_debug() {
    tracing::trace!(bytes = 512_u64, "read from the socket");
    let span = tracing::debug_span!("h2_stream", id = 7_u64);
    let entered = span.enter();
    black_box(&entered);
    drop(entered);
    drop(span);
}

/// Measured inside two entered spans (see `in_two_spans`); the spans' own
/// cost is the span lifecycle row.
fn captured_error() {
    error!(
        attempt = 3_u64,
        provider = "acme",
        amount_cents = 1250_u64,
        "payment failed"
    );
}

/// Runs `measure` inside two entered spans with fields, as a request
/// handler's error would be. (Around the other rows too: they are the same
/// calls inside a request.)
fn in_two_spans(measure: impl FnOnce()) {
    let outer = info_span!("http_request", method = "POST");
    let _outer = outer.enter();
    let inner = info_span!("charge", order_id = 77_u64);
    let _inner = inner.enter();
    measure();
}

fn on(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    dispatch: &tracing::Dispatch,
    body: fn(),
) {
    tracing::dispatcher::with_default(dispatch, || {
        in_two_spans(|| {
            group.bench_function(name, |b| b.iter(body));
        });
    });
}

/// tracing-telegram, in batches the queue can hold, flushed between batches
/// (the flush is not measured): the calling thread's cost without drops.
fn on_telegram(group: &mut BenchmarkGroup<'_, WallTime>, mock: &MockTelegram, body: fn()) {
    on_telegram_with(
        group,
        mock,
        body,
        "tracing-telegram",
        Duration::from_secs(600),
    );
}

fn on_telegram_with(
    group: &mut BenchmarkGroup<'_, WallTime>,
    mock: &MockTelegram,
    body: fn(),
    name: &str,
    rate_limit: Duration,
) {
    let (dispatch, guard) = perf::telegram_with(mock, BATCH as usize * 2, rate_limit);
    tracing::dispatcher::with_default(&dispatch, || {
        in_two_spans(|| {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut measured = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(BATCH);
                        let started = Instant::now();
                        for _ in 0..n {
                            body();
                        }
                        measured += started.elapsed();
                        guard.flush(perf::CATCH_UP);
                        left -= n;
                    }
                    measured
                })
            });
        })
    });
    let stats = guard.shutdown(Duration::from_secs(10));
    assert_eq!(stats.dropped, 0, "{stats:?}");
}

fn peers(c: &mut Criterion) {
    let mock = MockTelegram::start().expect("mock");
    // First, while no other subscriber exists: tracing combines the
    // interest of every live dispatcher in a callsite, so another one that
    // wants everything (the no-op baseline) would make every callsite ask.
    let mut group =
        c.benchmark_group("trace! + debug_span! beside fmt behind a per-layer INFO filter");
    group.measurement_time(Duration::from_secs(3));
    for (name, beside) in [
        ("fmt alone", perf::Beside::None),
        ("fmt + tracing-telegram (README)", perf::Beside::Telegram),
        (
            "fmt + tracing-telegram, unfiltered",
            perf::Beside::Unfiltered,
        ),
    ] {
        let (dispatch, guard) = perf::fmt_info(&mock, BATCH as usize * 2, beside);
        on(&mut group, name, &dispatch, unwanted_debug);
        drop(dispatch);
        drop(guard);
    }
    group.finish();

    let baseline = perf::baseline();
    let (sentry, _sentry_guard) = perf::sentry();
    let (json, _json_guard) = perf::non_blocking_json();

    let mut group = c.benchmark_group("info! the layer ignores");
    group.measurement_time(Duration::from_secs(3));
    on(
        &mut group,
        "baseline: registry + no-op",
        &baseline,
        ignored_info,
    );
    on_telegram(&mut group, &mock, ignored_info);
    on(&mut group, "fmt json + non_blocking", &json, ignored_info);
    group.finish();

    let mut group = c.benchmark_group("span new/enter/exit/close, not judged");
    group.measurement_time(Duration::from_secs(3));
    on(
        &mut group,
        "baseline: registry + no-op",
        &baseline,
        plain_span_lifecycle,
    );
    on_telegram(&mut group, &mock, plain_span_lifecycle);
    on(&mut group, "sentry-tracing", &sentry, plain_span_lifecycle);
    on(
        &mut group,
        "fmt json + non_blocking",
        &json,
        plain_span_lifecycle,
    );
    group.finish();

    let mut group = c.benchmark_group("span new/enter/exit/close");
    group.measurement_time(Duration::from_secs(3));
    on(
        &mut group,
        "baseline: registry + no-op",
        &baseline,
        span_lifecycle,
    );
    on_telegram(&mut group, &mock, span_lifecycle);
    on(&mut group, "sentry-tracing", &sentry, span_lifecycle);
    on(&mut group, "fmt json + non_blocking", &json, span_lifecycle);
    group.finish();

    let mut group = c.benchmark_group("error! with 3 fields inside 2 entered spans");
    group.measurement_time(Duration::from_secs(3));
    on(
        &mut group,
        "baseline: registry + no-op",
        &baseline,
        captured_error,
    );
    // Repeats inside the dedup window (a flood) are counted at the gate...
    on_telegram(&mut group, &mock, captured_error);
    // ...every other event (a first occurrence) is captured into a record.
    on_telegram_with(
        &mut group,
        &mock,
        captured_error,
        "tracing-telegram, captured (dedup off)",
        Duration::ZERO,
    );
    on(&mut group, "sentry-tracing", &sentry, captured_error);
    on(&mut group, "fmt json + non_blocking", &json, captured_error);
    group.finish();
}

criterion_group!(benches, peers);
criterion_main!(benches);
