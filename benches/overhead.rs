#![allow(missing_docs)] // criterion_group! generates undocumented items
//! What the layer costs the application's threads, as ratios against a
//! baseline measured in the same run: `tracing_subscriber::registry()` with a
//! no-op layer (accepts everything, does nothing).
//!
//! Run: `cargo bench --bench overhead`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tracing::{info, info_span, Subscriber};
use tracing_subscriber::layer::Layer;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{Pacing, TelegramGuard, TelegramLayer};

/// The baseline: a layer that does nothing.
struct Noop;

impl<S: Subscriber> Layer<S> for Noop {}

fn telegram(mock: &MockTelegram) -> (TelegramLayer, TelegramGuard) {
    TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(-100)
        .api_url(mock.url())
        .pacing(Pacing::disabled())
        .build()
        .expect("layer")
}

fn span_lifecycle() {
    let span = info_span!("request", method = "GET", path = "/orders/77");
    let entered = span.enter();
    black_box(&entered);
    drop(entered);
    drop(span);
}

fn bare_span_lifecycle() {
    let span = info_span!("tick");
    let entered = span.enter();
    black_box(&entered);
    drop(entered);
    drop(span);
}

fn ignored_event() {
    info!(order_id = 77, "order received");
}

fn bench(c: &mut Criterion, name: &str, body: fn()) {
    let mock = MockTelegram::start().expect("mock");
    let mut group = c.benchmark_group(name);
    group.measurement_time(Duration::from_secs(4));
    let baseline = tracing_subscriber::registry().with(Noop);
    tracing::subscriber::with_default(baseline, || {
        group.bench_function("baseline: registry + no-op layer", |b| b.iter(body));
    });
    let (layer, guard) = telegram(&mock);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        group.bench_function("registry + TelegramLayer", |b| b.iter(body));
    });
    group.finish();
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!(
        stats.accepted, 0,
        "nothing here is slow or an error: {stats:?}"
    );
}

fn overhead(c: &mut Criterion) {
    bench(
        c,
        "span with 2 fields new/enter/exit/close (slow-span timing on)",
        span_lifecycle,
    );
    bench(
        c,
        "span without fields new/enter/exit/close (slow-span timing on)",
        bare_span_lifecycle,
    );
    bench(c, "info! event the layer ignores", ignored_event);
}

criterion_group!(benches, overhead);
criterion_main!(benches);
