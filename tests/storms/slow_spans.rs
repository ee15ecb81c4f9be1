//! Slow spans and digests, for any service, HTTP-aware. Spans are timed on a
//! virtual `TestClock` (advanced inside the span), so nothing sleeps.

use crate::common;

use std::time::Duration;

use common::{assert_accounted, builder, run_with};
use tracing::{error, info_span, warn};
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{parse_html, MockTelegram, SentMessage, TestClock};

fn clocked(mock: &MockTelegram) -> (tracing_telegram::Builder, TestClock) {
    let clock = TestClock::new();
    mock.set_clock(clock.clone());
    let builder = builder(mock)
        .clock(clock.clone())
        .slow_spans(|s| s.threshold(Duration::from_millis(50)));
    (builder, clock)
}

fn alerts(messages: &[SentMessage]) -> Vec<String> {
    messages
        .iter()
        .map(SentMessage::plain_text)
        .filter(|t| !t.starts_with("📊 DIGEST"))
        .collect()
}

fn digests(messages: &[SentMessage]) -> Vec<String> {
    messages
        .iter()
        .map(SentMessage::plain_text)
        .filter(|t| t.starts_with("📊 DIGEST"))
        .collect()
}

#[test]
fn a_slow_span_is_alerted_and_a_fast_one_is_not() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = clocked(&mock);
    let (layer, guard) = builder
        .slow_spans(|s| s.threshold_for("nightly_job", Duration::from_secs(60)))
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || {
        let _job = info_span!("nightly_job", batch = 7).entered();
        info_span!(
            "export_invoices",
            rows = 1200,
            telegram.slow_threshold_ms = 50
        )
        .in_scope(|| clock.advance(Duration::from_millis(120)));
        info_span!("quick_check", telegram.slow_threshold_ms = 50)
            .in_scope(|| clock.advance(Duration::from_millis(1)));
    });
    let messages = mock.messages();
    let alerts = alerts(&messages);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let text = &alerts[0];
    for expected in [
        "🟠 WARNING",
        "Slow: storms::slow_spans::export_invoices",
        "took 120 ms (threshold 50 ms)",
        "rows: 1200",
        "nightly_job{batch=7}",
        "📍 storms::slow_spans at tests/storms/slow_spans.rs:",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("quick_check"));
    assert_accounted(&stats);
}

#[test]
fn a_hundred_slow_occurrences_make_one_alert_and_one_digest_row() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = clocked(&mock);
    let (layer, guard) = builder
        .digest(|d| d.interval(Duration::from_secs(15 * 60)))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..100u64 {
            let ms = 51 + i; // 51..=150 ms
            info_span!("request", method = "GET", uri = %format!("/orders/{i}"))
                .in_scope(|| clock.advance(Duration::from_millis(ms)));
        }
    });
    assert!(guard.flush(Duration::from_secs(5)));
    assert_eq!(
        digests(&mock.messages()).len(),
        0,
        "the window is still open"
    );
    clock.advance(Duration::from_secs(15 * 60));
    let messages = mock.wait_for_messages(2, Duration::from_secs(5));
    let stats = guard.shutdown(Duration::from_secs(5));

    let alerts = alerts(&messages);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0].contains("Slow: GET /orders/{id}"),
        "{}",
        alerts[0]
    );
    let digests = digests(&messages);
    assert_eq!(digests.len(), 1, "{digests:#?}");
    let digest = &digests[0];
    let row = digest
        .lines()
        .find(|l| l.contains("GET /orders/{id}"))
        .unwrap_or_else(|| panic!("{digest}"));
    assert!(row.contains("×100"), "{row}");
    let value = |label: &str| -> f64 {
        let after = row.split(label).nth(1).unwrap().trim_start();
        after.split(" ms").next().unwrap().parse().unwrap()
    };
    let within = |actual: f64, expected: f64| (actual - expected).abs() <= expected * 0.05;
    assert!(within(value("p50 "), 100.0), "{row}");
    assert!(within(value("p95 "), 145.0), "{row}");
    assert_eq!(value("max "), 150.0, "{row}");
    assert!(messages
        .iter()
        .all(|m| !m.plain_text().starts_with("📊") || m.disable_notification));
    assert_eq!((stats.sent, stats.batched), (1, 99), "{stats:?}");
    assert_accounted(&stats);
}

#[test]
fn paths_share_a_key_unless_a_route_template_is_given() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = clocked(&mock);
    let (layer, guard) = builder.build().unwrap();
    run_with(layer, guard, || {
        for path in ["/orders/77", "/orders/78"] {
            info_span!("request", method = "GET", uri = path)
                .in_scope(|| clock.advance(Duration::from_millis(60)));
        }
        for id in [5, 6] {
            info_span!("request", http.request.method = "PUT", http.route = "/users/:id", url.path = %format!("/users/{id}"))
                .in_scope(|| clock.advance(Duration::from_millis(60)));
        }
    });
    let messages = mock.messages();
    let alerts = alerts(&messages);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert!(
        alerts[0].contains("Slow: GET /orders/{id}"),
        "{}",
        alerts[0]
    );
    assert!(alerts[1].contains("Slow: PUT /users/:id"), "{}", alerts[1]);
    let digest = &digests(&messages)[0];
    assert!(digest.contains("GET /orders/{id} ×2"), "{digest}");
    assert!(digest.contains("PUT /users/:id ×2"), "{digest}");
}

#[test]
fn a_span_entered_on_one_thread_and_closed_on_another_is_timed() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = clocked(&mock);
    let (layer, guard) = builder
        .slow_spans(|s| s.threshold_for("handoff", Duration::from_millis(120)))
        .slow_spans(|s| s.busy_time(true))
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let span = tracing::dispatcher::with_default(&dispatch, || info_span!("handoff"));
    let (first, second) = (span.clone(), span);
    let clock_a = clock.clone();
    let dispatch_a = dispatch.clone();
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&dispatch_a, || {
            first.in_scope(|| clock_a.advance(Duration::from_millis(100)));
        })
    })
    .join()
    .unwrap();
    clock.advance(Duration::from_millis(30)); // waiting between threads
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            second.in_scope(|| clock.advance(Duration::from_millis(50)));
            drop(second);
        })
    })
    .join()
    .unwrap();
    let stats = guard.shutdown(Duration::from_secs(5));
    let alerts = alerts(&mock.messages());
    assert_eq!(alerts.len(), 1, "{stats:?}");
    assert!(
        alerts[0].contains("took 180 ms (threshold 120 ms; busy 150 ms)"),
        "{}",
        alerts[0]
    );
}

#[test]
fn busy_time_can_be_judged_for_spans_that_mostly_wait() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = clocked(&mock);
    let (layer, guard) = builder
        .slow_spans(|s| s.busy_time(true))
        .slow_spans(|s| s.judge_all(true))
        .build()
        .unwrap();
    run_with(layer, guard, || {
        let waiting = info_span!("long_poll");
        waiting.in_scope(|| clock.advance(Duration::from_millis(10)));
        clock.advance(Duration::from_secs(30)); // not entered: waiting
        drop(waiting);
        info_span!("crunch").in_scope(|| clock.advance(Duration::from_millis(80)));
    });
    let alerts = alerts(&mock.messages());
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(alerts[0].contains("crunch"), "{}", alerts[0]);
}

#[test]
fn per_name_thresholds_and_never_slow() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = clocked(&mock);
    let (layer, guard) = builder
        .slow_spans(|s| s.threshold_for("export", Duration::from_secs(10)))
        .slow_spans(|s| s.never("poll"))
        .build()
        .unwrap();
    run_with(layer, guard, || {
        info_span!("export").in_scope(|| clock.advance(Duration::from_secs(5)));
        info_span!("poll").in_scope(|| clock.advance(Duration::from_secs(60)));
        info_span!("export").in_scope(|| clock.advance(Duration::from_secs(11)));
    });
    let alerts = alerts(&mock.messages());
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0].contains("took 11.00 s (threshold 10.00 s"),
        "{}",
        alerts[0]
    );
}

#[test]
fn skipped_spans_are_not_timed_and_hide_their_errors() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = clocked(&mock);
    let (layer, guard) = builder.build().unwrap();
    let stats = run_with(layer, guard, || {
        info_span!("vault", telegram.skip = true, key_id = "k-1").in_scope(|| {
            error!("unseal failed");
            info_span!("decrypt").in_scope(|| clock.advance(Duration::from_secs(5)));
            clock.advance(Duration::from_secs(5));
        });
        info_span!("after").in_scope(|| error!("later failure"));
    });
    let messages = mock.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let text = messages[0].plain_text();
    assert!(
        text.contains("later failure") && !text.contains("vault") && !text.contains("k-1"),
        "{text}"
    );
    assert_eq!(stats.accepted, 1);
}

#[test]
fn a_digest_with_500_keys_keeps_within_the_limit() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = clocked(&mock);
    let (layer, guard) = builder.build().unwrap();
    let stats = run_with(layer, guard, || {
        for i in 0..500 {
            info_span!("request", method = "GET", http.route = %format!("/route/{i}/detail"))
                .in_scope(|| clock.advance(Duration::from_millis(60 + i % 7)));
            warn!("cache miss for tenant {i}");
        }
    });
    let messages = mock.messages();
    let digests: Vec<&SentMessage> = messages
        .iter()
        .filter(|m| m.plain_text().starts_with("📊 DIGEST"))
        .collect();
    assert_eq!(digests.len(), 1, "top 20 of each section fit one message");
    let digest = digests[0];
    parse_html(&digest.text).expect("valid HTML");
    assert!(digest.visible_units() <= 4096);
    let text = digest.plain_text();
    assert!(text.contains("…and 480 more\n"), "{text}");
    assert!(
        text.contains("• ×500 storms::slow_spans: cache miss for tenant 0"),
        "{text}"
    );
    assert!(digest.disable_notification);
    assert_eq!(
        stats.batched, 500,
        "the warnings; each slow key alerted once: {stats:?}"
    );
    assert_eq!(stats.sent, 500);
}

/// The default settings with a 300 ms threshold, on a virtual clock.
fn judged_at_300_ms(mock: &MockTelegram) -> (tracing_telegram::Builder, TestClock) {
    let clock = TestClock::new();
    mock.set_clock(clock.clone());
    let builder = common::default_builder(mock)
        .clock(clock.clone())
        .slow_spans(|s| s.threshold(Duration::from_millis(300)));
    (builder, clock)
}

#[tracing::instrument(skip(clock))]
fn serve_connections(clock: &TestClock, port: u16) {
    clock.advance(Duration::from_millis(600));
}

#[test]
fn long_lived_spans_are_not_judged_unless_asked() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = judged_at_300_ms(&mock);
    let (layer, guard) = builder.build().unwrap();
    let stats = run_with(layer, guard, || {
        // An `#[instrument]`ed loop and a plain span: neither is judged.
        serve_connections(&clock, 8080);
        info_span!("consume", queue = "orders").in_scope(|| clock.advance(Duration::from_secs(5)));
        // A span that asks to be judged, against its own threshold.
        info_span!("reindex", telegram.slow_threshold_ms = 400)
            .in_scope(|| clock.advance(Duration::from_millis(600)));
        // A threshold recorded once the span runs.
        let span = info_span!("import", telegram.slow_threshold_ms = tracing::field::Empty);
        span.record("telegram.slow_threshold_ms", 1_000);
        span.in_scope(|| clock.advance(Duration::from_millis(600)));
    });
    let alerts = alerts(&mock.messages());
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0].contains("Slow: storms::slow_spans::reindex"),
        "{}",
        alerts[0]
    );
    assert!(
        alerts[0].contains("took 600 ms (threshold 400 ms)"),
        "{}",
        alerts[0]
    );
    assert_eq!((stats.accepted, stats.batched), (1, 0), "{stats:?}");
}

#[test]
fn judge_all_spans_restores_judging_every_span_but_never_slow() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = judged_at_300_ms(&mock);
    let (layer, guard) = builder
        .slow_spans(|s| s.judge_all(true))
        .slow_spans(|s| s.never("consume"))
        .build()
        .unwrap();
    run_with(layer, guard, || {
        serve_connections(&clock, 8080);
        info_span!("consume").in_scope(|| clock.advance(Duration::from_secs(5)));
    });
    let alerts = alerts(&mock.messages());
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0].contains("Slow: storms::slow_spans::serve_connections"),
        "{}",
        alerts[0]
    );
}

#[tracing::instrument(skip(clock), fields(telegram.slow_threshold_ms = 300))]
fn run_query(clock: &TestClock, table: &str, ms: u64) {
    clock.advance(Duration::from_millis(ms));
}

#[tracing::instrument(skip(clock))]
fn handle_order(clock: &TestClock, query_ms: u64, rest_ms: u64) {
    run_query(clock, "orders", query_ms);
    run_query(clock, "items", query_ms / 2);
    clock.advance(Duration::from_millis(rest_ms));
}

#[test]
fn a_slow_request_is_one_alert_listing_its_slow_spans() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = judged_at_300_ms(&mock);
    let (layer, guard) = builder
        .slow_spans(|s| s.threshold_for("handle_order", Duration::from_millis(300)))
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || {
        // Request, handler and both queries slow: one unit of work.
        info_span!("request", method = "GET", uri = "/orders/7")
            .in_scope(|| handle_order(&clock, 800, 100));
    });
    let messages = mock.messages();
    let alerts = alerts(&messages);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    for expected in [
        "Slow: GET /orders/{id}",
        "took 1.30 s (threshold 300 ms)",
        "slowest inside: handle_order 1.30 s, run_query 800 ms, run_query 400 ms",
    ] {
        assert!(
            alert.contains(expected),
            "missing {expected:?} in:\n{alert}"
        );
    }
    // The rest of the unit is counted in the digest.
    assert_eq!((stats.sent, stats.batched), (1, 3), "{stats:?}");
    let digest = &digests(&messages)[0];
    assert!(
        digest.contains("storms::slow_spans::run_query ×2"),
        "{digest}"
    );
    assert!(
        digest.contains("storms::slow_spans::handle_order ×1"),
        "{digest}"
    );
    assert_accounted(&stats);
}

#[test]
fn a_slow_span_inside_a_request_not_yet_slow_is_the_units_alert() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = judged_at_300_ms(&mock);
    let (layer, guard) = builder
        .slow_spans(|s| s.threshold_for("request", Duration::from_secs(3)))
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || {
        // The query is slow at 500 ms, before its request is; the request
        // ends slow too, but the unit already has its alert.
        info_span!("request", method = "GET", uri = "/orders/7").in_scope(|| {
            run_query(&clock, "orders", 500);
            clock.advance(Duration::from_secs(4));
        });
        // A fast request with a slow query: the query is its unit's alert,
        // but its key was alerted in this slow batch window: counted.
        info_span!("request", method = "GET", uri = "/orders/8")
            .in_scope(|| run_query(&clock, "orders", 400));
    });
    let alerts = alerts(&mock.messages());
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0].contains("Slow: storms::slow_spans::run_query"),
        "{}",
        alerts[0]
    );
    assert!(
        alerts[0].contains("took 500 ms (threshold 300 ms)"),
        "{}",
        alerts[0]
    );
    assert_eq!((stats.sent, stats.batched), (1, 2), "{stats:?}");
}

#[test]
fn spans_closing_after_shutdown_began_are_not_judged() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = judged_at_300_ms(&mock);
    let (layer, guard) = builder.build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let request = tracing::dispatcher::with_default(&dispatch, || {
        info_span!("request", method = "GET", uri = "/stream")
    });
    clock.advance(Duration::from_secs(60));
    let stats = guard.shutdown(Duration::from_secs(5));
    drop(request);
    assert!(
        alerts(&mock.messages()).is_empty(),
        "{:#?}",
        mock.messages()
    );
    assert_eq!(stats.accepted, 0, "{stats:?}");
}
