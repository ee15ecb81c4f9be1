//! The flood: 2 threads × 250 000 errors of 10 kinds through tracing-telegram
//! with its default configuration (pacing, dedup), against a MockTelegram
//! that enforces Telegram's rate limits. Prints per-call latency
//! percentiles on the application's threads, peak RSS growth, what reached
//! the chat, and the first-alert latency on an idle system.
//!
//! Run: `cargo run -p tracing-telegram-perf --release --bin flood`
//! (`FLOOD_CALLS=…` per thread to change the size; `FLOOD_STORM=1` for the
//! storm of variants instead: one callsite, a new text each call).

use std::time::{Duration, Instant};

use tracing::error;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{Pacing, TelegramLayer};

const KINDS: [&str; 10] = [
    "db timeout",
    "cache unavailable",
    "payment refused",
    "queue full",
    "disk almost full",
    "tls handshake failed",
    "upstream 502",
    "lock contention",
    "schema mismatch",
    "quota exceeded",
];

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let calls_per_thread: u64 = std::env::var("FLOOD_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250_000);
    let storm = std::env::var_os("FLOOD_STORM").is_some();
    let mock = MockTelegram::start().expect("mock");
    mock.enforce_limits(Pacing::telegram());
    let (layer, guard) = TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(-1001234567890_i64)
        .api_url(mock.url())
        .service("flood")
        .panics(|p| p.report(false))
        .build()
        .expect("layer");
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));

    // First alert on an idle system: event → the mock has it.
    let started = Instant::now();
    tracing::dispatcher::with_default(&dispatch, || error!("first alert of the run"));
    mock.wait_for_messages(1, Duration::from_secs(5));
    let first_alert = started.elapsed();

    let rss_before = rss_kib("VmRSS:");
    let flood_started = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let dispatch = dispatch.clone();
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(calls_per_thread as usize);
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..calls_per_thread {
                        let kind = KINDS[(i % 10) as usize];
                        let began = Instant::now();
                        if storm {
                            tracing_telegram_perf::import_rejected(t * calls_per_thread + i);
                        } else {
                            error!(
                                thread = t,
                                attempt = i,
                                "{kind}: attempt {i} failed after {} ms",
                                i % 997
                            );
                        }
                        latencies.push(began.elapsed());
                    }
                });
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect();
    let flood_took = flood_started.elapsed();
    latencies.sort();
    let rss_peak = rss_kib("VmHWM:");

    let stats = guard.shutdown(Duration::from_secs(60));
    let messages = mock.messages();
    let alerts = messages.iter().filter(|m| !m.disable_notification).count();
    let edits = mock
        .requests()
        .iter()
        .filter(|r| r.method == "editMessageText" && r.status == 200)
        .count();

    println!(
        "calls: {} on 2 threads in {:?}",
        latencies.len(),
        flood_took
    );
    println!(
        "per call: p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        latencies.last().copied().unwrap_or_default()
    );
    println!(
        "peak RSS growth: {} KiB",
        rss_peak.saturating_sub(rss_before)
    );
    println!(
        "chat: {alerts} notifying messages (the first alert, then the flood's alerts or incident), {} silent messages (tallies that could not edit, digests), {edits} edits, {} × 429",
        messages.len() - alerts,
        mock.count_status(429)
    );
    println!("first alert latency (idle): {first_alert:?}");
    println!("{stats:#?}");
}
