#![allow(missing_docs)] // criterion_group! generates undocumented items
//! How many alerts per second the worker sustains end to end (capture →
//! sanitize → render → HTTP to MockTelegram on loopback), with pacing off,
//! against a baseline in the same run: the same number of bare `sendMessage`
//! POSTs of an equivalent body with a plain reqwest client.
//!
//! Run: `cargo bench --bench delivery`. Per-message time is in criterion's
//! output; messages/s = 1 / time.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tracing::{error, info_span};
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{Pacing, TelegramLayer};

/// Alerts emitted between two flushes.
const BATCH: u64 = 500;

fn worker_throughput(c: &mut Criterion) {
    let mock = MockTelegram::start().expect("mock");
    let mut group = c.benchmark_group("delivery");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(8));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let url = format!("{}/bot{}/sendMessage", mock.url(), mock.token());
    let body = serde_json::json!({
        "chat_id": -1001234567890_i64,
        "text": "🔴 <b>ERROR</b> · <b>bench</b> · <i>bench</i>\n\n<b>payment failed for order 77</b>\n\n📍 <code>bench</code> at <code>benches/delivery.rs:60</code>\n\n<b>Fields</b>\n• <b>order_id</b>: <code>77</code>\n• <b>attempt</b>: <code>3</code>\n\n🕒 2026-11-28 09:00:00 UTC",
        "parse_mode": "HTML",
        "disable_notification": false,
        "link_preview_options": {"is_disabled": true},
    });
    group.bench_function("baseline: bare reqwest sendMessage", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = client.post(&url).json(&body).send().await.expect("send");
                assert!(response.status().is_success());
                response.bytes().await.expect("body")
            })
        })
    });

    let (layer, guard) = TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(-1001234567890_i64)
        .api_url(mock.url())
        .service("bench")
        .environment("bench")
        .delivery(|d| d.pacing(Pacing::disabled()))
        // Every error is its own alert: rendered, sanitized and sent (with
        // deduplication on, repeats would be counted and never sent).
        .dedup(|d| d.window(Duration::ZERO))
        .limits(|l| l.queue_capacity(BATCH as usize * 2))
        .build()
        .expect("layer");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("tracing-telegram: error! → mock receives", |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    let _span = info_span!("checkout", order_id = 77).entered();
                    for attempt in 0..n {
                        error!(attempt, provider = "acme", "payment failed for order 77");
                    }
                    assert!(guard.flush(Duration::from_secs(60)), "flush");
                    left -= n;
                }
                started.elapsed()
            })
        });
    });
    group.finish();
    let stats = guard.shutdown(Duration::from_secs(10));
    assert_eq!(stats.dropped + stats.failed, 0, "{stats:?}");
    assert_eq!(stats.deduplicated, 0, "every alert is sent: {stats:?}");
}

criterion_group!(benches, worker_throughput);
criterion_main!(benches);
