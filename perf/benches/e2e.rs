//! End to end (issue 23): time per request of the web service of
//! `tracing_telegram_perf::e2e` — axum + tower-http `TraceLayer`, one
//! `#[instrument]`ed function, `fmt` to a sink, 32 keep-alive connections,
//! 1 % failing — under each configuration. Compare the rows of one run (the
//! `e2e` program sandwiches the blocks and prints the ratios).
//!
//! `cargo bench -p tracing-telegram-perf --bench e2e` (an iteration is a
//! hundred requests).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tracing_telegram::testing::MockTelegram;
use tracing_telegram_perf::e2e::{block, Stack, Until};

fn per_request(c: &mut Criterion) {
    let mock = MockTelegram::start().expect("mock");
    let mut group = c.benchmark_group("e2e request");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(20));
    for (name, stack) in [
        ("fmt only", Stack::Fmt),
        ("fmt + layer (as build() returns it)", Stack::Layer),
        ("fmt + bare layer", Stack::Bare),
    ] {
        // One iteration is a hundred requests (a block of a few would be
        // all warm-up and set-up).
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let requests = iterations.max(1) * 100;
                block(stack, &mock, Until::Requests(requests)).elapsed
            })
        });
    }
    group.finish();
}

criterion_group!(benches, per_request);
criterion_main!(benches);
