//! Deduplication and tallies in one process (the fleet tests are in
//! `fleet.rs`). Windows are closed by advancing a `TestClock`.

use crate::common;

use std::time::Duration;

use tracing::error;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, Reply, TestClock};
use tracing_telegram::TelegramLayer;

fn deduplicating(mock: &MockTelegram) -> (tracing_telegram::Builder, TestClock) {
    let clock = TestClock::new();
    mock.set_clock(clock.clone());
    let builder = common::builder(mock)
        .clock(clock.clone())
        .dedup(|d| d.window(Duration::from_secs(600)));
    (builder, clock)
}

#[test]
fn a_thousand_repeats_make_one_alert_edited_to_show_the_tally() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = deduplicating(&mock);
    let (layer, guard) = builder.build().unwrap();
    // One callsite, as in a service where the same line fails again and again.
    let timeout = |attempt: u64, ms: u64| error!(attempt, "db timeout after {ms} ms");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        timeout(0, 130);
        assert!(
            guard.flush(Duration::from_secs(5)),
            "the original is delivered first"
        );
        for i in 1..1000u64 {
            timeout(i, 100 + i * 7);
            if matches!(i + 1, 10 | 100) {
                // Let the worker see each threshold on its own (repeats
                // counted between two of its looks make one edit).
                assert!(guard.flush(Duration::from_secs(5)));
            }
        }
    });
    assert!(guard.flush(Duration::from_secs(5)));
    clock.advance(Duration::from_secs(601)); // the window closes
    assert!(guard.flush(Duration::from_secs(5)));
    let stats = guard.shutdown(Duration::from_secs(5));

    let messages = mock.messages();
    let alerts = common::notifying(&messages);
    assert_eq!(alerts.len(), 1, "{messages:#?}");
    let text = alerts[0].plain_text();
    assert!(text.contains("db timeout after 130 ms"), "{text}");
    assert!(
        text.contains("🔁 ×1000 in the last 10 min 0 s, last seen at "),
        "{text}"
    );
    let edits = mock
        .requests()
        .iter()
        .filter(|r| r.method == "editMessageText")
        .count();
    assert_eq!(
        edits, 4,
        "at 10, 100 and 1000; closing the window (quiet all along) resolved it"
    );
    assert!(text.contains("✅ quiet since "), "{text}");
    let digest = messages.last().unwrap().plain_text();
    assert!(digest.contains("999 repeat(s) suppressed"), "{digest}");
    assert_eq!((stats.sent, stats.deduplicated), (1, 999), "{stats:?}");
    common::assert_accounted(&stats);
}

#[test]
fn a_tally_that_cannot_edit_is_sent_as_a_follow_up() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = deduplicating(&mock);
    let (layer, guard) = builder.build().unwrap();
    let unavailable = || error!("cache unavailable");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        unavailable();
        assert!(guard.flush(Duration::from_secs(5)));
        unavailable();
        unavailable();
    });
    assert!(guard.flush(Duration::from_secs(5)));
    mock.script_for(
        "editMessageText",
        Reply::BadRequest("message to edit not found".into()),
    );
    clock.advance(Duration::from_secs(601));
    mock.wait_for_messages(2, Duration::from_secs(5));
    let stats = guard.shutdown(Duration::from_secs(5));
    let messages: Vec<_> = mock
        .messages()
        .into_iter()
        .filter(|m| !m.plain_text().starts_with("📊 DIGEST"))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:#?} {stats:?}");
    let follow_up = messages[1].plain_text();
    // The window closed quiet: the follow-up says it stopped.
    assert!(
        follow_up.starts_with("✅ orders-api · ×3 · cache unavailable\n🔁 ×3 in the last"),
        "{follow_up}"
    );
    assert!(follow_up.contains("✅ quiet since "), "{follow_up}");
    assert!(messages[1].disable_notification, "tallies are silent");
    assert!(
        !messages[0].plain_text().contains("🔁"),
        "the original was not edited"
    );
}

#[test]
fn an_explicit_fingerprint_groups_different_messages() {
    let mock = MockTelegram::start().unwrap();
    let (builder, _clock) = deduplicating(&mock);
    let (layer, guard) = builder.build().unwrap();
    let stats = common::run_with(layer, guard, || {
        // Different callsites and messages, one explicit fingerprint.
        error!(
            telegram.fingerprint = "payments-down",
            "stripe returned 503"
        );
        error!(
            telegram.fingerprint = "payments-down",
            "adyen refused the connection"
        );
        error!("a different problem");
    });
    assert_eq!((stats.sent, stats.deduplicated), (2, 1), "{stats:?}");
}

#[test]
fn the_store_is_bounded_and_evictions_are_counted() {
    let mock = MockTelegram::start().unwrap();
    let (builder, _clock) = deduplicating(&mock);
    // 200 texts from one callsite would fold into one alert, and 200 new
    // kinds would be one incident (the storm tests): this one is about the
    // store's bound, so both are off.
    let (layer, guard) = builder
        .dedup(|d| d.capacity(50))
        .storms(|s| s.fold_after(0).incident_after(0))
        .build()
        .unwrap();
    let stats = common::run_with(layer, guard, || {
        for i in 0..200 {
            // Distinct callsite-independent text: the letters differ.
            let name: String = (0..4)
                .map(|k| char::from(b'a' + ((i >> (k * 2)) & 3) as u8 + (k as u8) * 4))
                .collect();
            error!("unique failure {name}");
        }
    });
    assert_eq!(stats.sent, 200, "{stats:?}");
    assert_eq!(stats.dedup_evictions, 150, "{stats:?}");
}

#[test]
fn tally_follow_ups_are_sanitized_too() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = deduplicating(&mock);
    let (layer, guard) = builder.build().unwrap();
    let leak = || error!("login to postgres://app:s3cr3t-pw@db/prod failed");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        leak();
        assert!(guard.flush(Duration::from_secs(5)));
        leak();
    });
    assert!(guard.flush(Duration::from_secs(5)));
    mock.script_for(
        "editMessageText",
        Reply::BadRequest("message can't be edited".into()),
    );
    clock.advance(Duration::from_secs(601));
    mock.wait_for_messages(2, Duration::from_secs(5));
    guard.shutdown(Duration::from_secs(5));
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    assert!(texts.iter().any(|t| t.starts_with("✅")), "{texts:#?}");
    assert!(texts.iter().all(|t| !t.contains("s3cr3t-pw")), "{texts:#?}");
}

#[test]
fn repeats_inside_the_window_skip_the_queue() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = deduplicating(&mock);
    // A queue of one: repeats that went through it would mostly be dropped.
    let (layer, guard) = builder.limits(|l| l.queue_capacity(1)).build().unwrap();
    let failing = |user: u64| error!(user, "charge for user {user} failed");
    let other = || error!("a different failure");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        failing(1);
        assert!(guard.flush(Duration::from_secs(5)));
        // The worker has seen the kind: its repeats are counted where they
        // happen, whatever their fields and numbers.
        for user in 2..=5000 {
            failing(user);
        }
        other();
    });
    assert!(guard.flush(Duration::from_secs(5)));
    let stats = guard.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_eq!(stats.deduplicated, 4999, "{stats:?}");
    assert_eq!(stats.sent, 2, "the original and the other kind: {stats:?}");
    clock.advance(Duration::from_secs(601));
    let stats = guard.shutdown(Duration::from_secs(5));
    let messages = mock.messages();
    let alerts = common::notifying(&messages);
    assert_eq!(alerts.len(), 2, "{messages:#?}");
    assert!(
        alerts[0].plain_text().contains("×5000"),
        "{}",
        alerts[0].plain_text()
    );
    common::assert_accounted(&stats);
}

#[test]
fn repeats_inside_a_skipped_span_stay_hidden_while_the_gate_is_open() {
    let mock = MockTelegram::start().unwrap();
    let (builder, _clock) = deduplicating(&mock);
    let (layer, guard) = builder.build().unwrap();
    let failing = || error!("vault lookup failed");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        failing();
        assert!(guard.flush(Duration::from_secs(5)));
        failing(); // a repeat, counted at the gate
        tracing::info_span!("rotate_keys", telegram.skip = true).in_scope(|| {
            for _ in 0..10 {
                failing();
            }
        });
        failing();
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!(
        stats.accepted, 3,
        "the ten inside the skipped span are not seen: {stats:?}"
    );
    assert_eq!(stats.deduplicated, 2, "{stats:?}");
    let text = common::notifying(&mock.messages())[0].plain_text();
    assert!(text.contains("×3"), "{text}");
    common::assert_accounted(&stats);
}

#[test]
fn after_the_window_closes_the_next_occurrence_is_a_new_alert() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = deduplicating(&mock);
    let (layer, guard) = builder.build().unwrap();
    let failing = || error!("ledger unreachable");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        failing();
        assert!(guard.flush(Duration::from_secs(5)));
        for _ in 0..3 {
            failing(); // repeats, counted at the gate
        }
        assert!(guard.flush(Duration::from_secs(5)));
        clock.advance(Duration::from_secs(601));
        assert!(guard.flush(Duration::from_secs(5)));
        failing(); // a new window: alerted again, not counted
        assert!(guard.flush(Duration::from_secs(5)));
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    let messages = mock.messages();
    let alerts = common::notifying(&messages);
    assert_eq!(alerts.len(), 2, "{messages:#?}");
    assert!(
        alerts[0].plain_text().contains("×4"),
        "{}",
        alerts[0].plain_text()
    );
    let second = alerts[1].plain_text();
    assert!(!second.contains("🔁 ×"), "no tally of its own: {second}");
    // Quiet a window when the first window closed: resolved, so this one
    // is back again (a reply to it).
    assert!(second.contains("🔁 back after 10 min"), "{second}");
    assert_eq!(alerts[1].reply_to_message_id, Some(alerts[0].message_id));
    assert_eq!((stats.sent, stats.deduplicated), (2, 3), "{stats:?}");
    common::assert_accounted(&stats);
}

#[test]
fn warnings_raised_to_alerts_are_gated_and_plain_warnings_go_to_the_digest() {
    let mock = MockTelegram::start().unwrap();
    let (builder, _clock) = deduplicating(&mock);
    // A queue of one: repeats that went through it would mostly be dropped.
    let (layer, guard) = builder.limits(|l| l.queue_capacity(1)).build().unwrap();
    let raised = || tracing::warn!(telegram.level = "critical", "replica lag over 60 s");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        raised();
        assert!(guard.flush(Duration::from_secs(5)));
        for _ in 0..500 {
            raised();
        }
        assert!(guard.flush(Duration::from_secs(5)));
        tracing::warn!("cache warming slowly");
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_eq!(
        (stats.sent, stats.deduplicated, stats.batched),
        (1, 500, 1),
        "{stats:?}"
    );
    let messages = mock.messages();
    let alerts = common::notifying(&messages);
    assert_eq!(alerts.len(), 1, "{messages:#?}");
    assert!(
        alerts[0].plain_text().starts_with("🚨 CRITICAL"),
        "{}",
        alerts[0].plain_text()
    );
    common::assert_accounted(&stats);
}

/// A flood of ten known failures from two threads with the default queue
/// and dedup window: a kind's repeats are counted at the gate from the
/// moment its first record is queued (not only once the worker has seen
/// it), so nothing is dropped, and the tallies add up to the flood.
#[test]
fn a_flood_of_ten_kinds_from_two_threads_drops_nothing_and_is_tallied_whole() {
    const PER_THREAD: u64 = 250_000;
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(common::CHAT)
        .api_url(mock.url())
        .delivery(|d| d.pacing(tracing_telegram::Pacing::disabled()))
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    common::flood_ten_kinds(&dispatch, PER_THREAD);
    let stats = guard.shutdown(Duration::from_secs(30));
    common::assert_flood_tallied(&stats, &mock, 2 * PER_THREAD);
}

/// Repeats inside a request are grouped by its method and route, which
/// the layer reads from the request span once, not on every repeat — until
/// a value recorded into the span (a router naming the route after it
/// matched) changes them. The default settings.
#[test]
fn repeats_inside_a_request_follow_a_route_recorded_later() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = common::default_builder_on_virtual_clock(&mock);
    let (layer, guard) = builder.build().unwrap();
    let failing = || error!("order lookup failed");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let request = tracing::info_span!(
            "request",
            method = "GET",
            uri = "/orders/7",
            http.route = tracing::field::Empty
        );
        request.in_scope(|| {
            failing();
            assert!(guard.flush(Duration::from_secs(5)));
            (0..9).for_each(|_| failing()); // counted at the gate
        });
        request.record("http.route", "/v2/orders/{order}");
        request.in_scope(|| {
            failing(); // a new request key: a new alert
            assert!(guard.flush(Duration::from_secs(5)));
            (0..4).for_each(|_| failing());
        });
    });
    assert!(guard.flush(Duration::from_secs(5)));
    let stats = guard.stats();
    assert_eq!((stats.sent, stats.deduplicated), (2, 13), "{stats:?}");
    clock.advance(Duration::from_secs(601));
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
    let messages = mock.messages();
    let texts: Vec<String> = common::notifying(&messages)
        .iter()
        .map(|m| m.plain_text())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(texts[0].contains("×10"), "{}", texts[0]);
    assert!(!texts[0].contains("http.route"), "{}", texts[0]);
    assert!(
        texts[1].contains("http.route=/v2/orders/{order}"),
        "{}",
        texts[1]
    );
    assert!(texts[1].contains("×5"), "{}", texts[1]);
}
