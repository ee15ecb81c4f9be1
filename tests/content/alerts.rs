//! From a `tracing` event to the message MockTelegram received.

use crate::common;

use std::time::Duration;

use common::{assert_accounted, builder, run_with, CHAT};
use tracing::{error, info, info_span, warn, Level};
use tracing_telegram::testing::{parse_html, MockTelegram};
use tracing_telegram::{Alert, AlertLevel};

#[test]
fn an_error_inside_two_spans_becomes_one_complete_message() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let stats = run_with(layer, guard, || {
        let request = info_span!("http_request", method = "POST", path = "/orders");
        let _request = request.enter();
        let charge = info_span!("charge", order_id = 77_u64, provider = "acme");
        let _charge = charge.enter();
        error!(
            attempt = 3,
            retryable = false,
            "payment provider refused the charge"
        );
    });

    let messages = mock.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let message = &messages[0];
    assert_eq!(message.chat_id, serde_json::json!(CHAT));
    assert_eq!(message.parse_mode.as_deref(), Some("HTML"));
    assert!(message.link_preview_disabled);
    assert!(!message.disable_notification, "errors notify");
    let text = message.plain_text();
    for expected in [
        "🔴 ERROR · orders-api · staging",
        "payment provider refused the charge",
        "📍 content::alerts at tests/content/alerts.rs:",
        "attempt: 3",
        "retryable: false",
        "http_request{method=POST, path=/orders} · content::alerts",
        "charge{order_id=77, provider=acme} · content::alerts",
        " UTC",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Root span first.
    assert!(text.find("http_request").unwrap() < text.find("charge{").unwrap());
    assert!(
        message.text.contains("<blockquote expandable>"),
        "{}",
        message.text
    );
    assert_eq!(
        (stats.accepted, stats.sent, stats.failed, stats.dropped),
        (1, 1, 0, 0),
        "{stats:?}"
    );
    assert_accounted(&stats);
}

#[test]
fn an_explicit_parent_is_used_instead_of_the_current_span() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    run_with(layer, guard, || {
        let job = info_span!("job", job_id = 9);
        let _unrelated = info_span!("unrelated").entered();
        error!(parent: &job, "job failed");
    });
    let text = mock.messages()[0].plain_text();
    assert!(text.contains("job{job_id=9}"), "{text}");
    assert!(!text.contains("unrelated"), "{text}");
}

#[test]
fn info_and_warn_do_not_alert_by_default() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let stats = run_with(layer, guard, || {
        info!("started");
        warn!("disk 80% full");
        error!("disk full");
    });
    let messages = mock.messages();
    let alerts = common::notifying(&messages);
    assert_eq!(alerts.len(), 1, "{messages:#?}");
    assert!(alerts[0].plain_text().contains("disk full"));
    // The warning is counted in the (silent) final digest instead.
    assert_eq!(messages.len(), 2);
    let digest = messages[1].plain_text();
    assert!(digest.starts_with("📊 DIGEST"), "{digest}");
    assert!(
        digest.contains("• ×1 content::alerts: disk 80% full"),
        "{digest}"
    );
    assert_eq!(
        (stats.accepted, stats.sent, stats.batched),
        (2, 1, 1),
        "{stats:?}"
    );
}

#[test]
fn min_level_warn_makes_warnings_alert() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).min_level(Level::WARN).build().unwrap();
    let stats = run_with(layer, guard, || {
        info!("started");
        warn!("disk 80% full");
    });
    let messages = mock.messages();
    assert_eq!(messages.len(), 1);
    let text = messages[0].plain_text();
    assert!(text.starts_with("🟠 WARNING"), "{text}");
    assert!(text.contains("disk 80% full"), "{text}");
    assert_eq!(stats.sent, 1);
}

#[test]
fn telegram_fields_set_level_and_title_and_are_not_shown() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    run_with(layer, guard, || {
        error!(
            telegram.level = "critical",
            telegram.title = "Ledger out of balance",
            delta = 12,
            "reconciliation failed"
        );
    });
    let text = mock.messages()[0].plain_text();
    assert!(text.starts_with("🚨 CRITICAL"), "{text}");
    assert!(
        text.contains("Ledger out of balance\nreconciliation failed"),
        "{text}"
    );
    assert!(text.contains("delta: 12"), "{text}");
    assert!(!text.contains("telegram."), "{text}");
}

#[test]
fn a_skipped_span_hides_everything_inside_it() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let stats = run_with(layer, guard, || {
        info_span!("login", telegram.skip = true, user = "alice").in_scope(|| {
            error!("bad password for alice");
            info_span!("inner").in_scope(|| error!("inner failure"));
        });
        let later = info_span!("reset", telegram.skip = tracing::field::Empty);
        later.record("telegram.skip", true);
        later.in_scope(|| error!("hidden too"));
        error!("visible");
    });
    let messages = mock.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(messages[0].plain_text().contains("visible"));
    assert!(!messages[0].plain_text().contains("alice"));
    assert_eq!(stats.accepted, 1);
}

#[test]
fn span_values_recorded_later_appear_in_the_trace() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    run_with(layer, guard, || {
        let span = info_span!("request", status = tracing::field::Empty, user = "anon");
        span.record("status", 503);
        span.record("user", "bob");
        span.in_scope(|| error!("upstream failed"));
    });
    let text = mock.messages()[0].plain_text();
    assert!(text.contains("request{user=bob, status=503}"), "{text}");
}

#[test]
fn max_traceback_lines_limits_and_disables_the_span_trace() {
    let mock = MockTelegram::start().unwrap();
    let nested = || {
        let _a = info_span!("level_a").entered();
        let _b = info_span!("level_b").entered();
        let _c = info_span!("level_c").entered();
        error!("deep failure");
    };
    let (layer, guard) = builder(&mock)
        .limits(|l| l.traceback_lines(2))
        .build()
        .unwrap();
    run_with(layer, guard, nested);
    let (layer, guard) = builder(&mock)
        .limits(|l| l.traceback_lines(0))
        .build()
        .unwrap();
    run_with(layer, guard, nested);

    let messages = mock.messages();
    let limited = messages[0].plain_text();
    assert!(limited.contains("… 1 outer span(s) omitted"), "{limited}");
    assert!(
        limited.contains("level_b") && limited.contains("level_c"),
        "{limited}"
    );
    assert!(!limited.contains("level_a"), "{limited}");
    let none = messages[1].plain_text();
    assert!(
        !none.contains("Span trace") && !none.contains("level_"),
        "{none}"
    );
}

#[test]
fn the_span_trace_runs_from_the_root_down_however_deep() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    run_with(layer, guard, || {
        let names = ["span_1", "span_2", "span_3", "span_4", "span_5", "span_6"];
        let spans: Vec<_> = names
            .iter()
            .map(|name| tracing::info_span!("nested", depth = *name).entered())
            .collect();
        error!("six spans deep");
        drop(spans);
    });
    let text = mock.messages()[0].plain_text();
    let positions: Vec<usize> = (1..=6)
        .map(|i| {
            text.find(&format!("depth=span_{i}"))
                .unwrap_or_else(|| panic!("span_{i} missing:\n{text}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn error_values_show_their_source_chain() {
    #[derive(Debug)]
    struct Inner;
    impl std::fmt::Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connection reset by peer")
        }
    }
    impl std::error::Error for Inner {}
    #[derive(Debug)]
    struct Outer(Inner);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("could not load order 77")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    run_with(layer, guard, || {
        let err = Outer(Inner);
        error!(error = &err as &dyn std::error::Error, "request failed");
    });
    let text = mock.messages()[0].plain_text();
    assert!(
        text.contains("error: could not load order 77\n   ↳ caused by: connection reset by peer"),
        "{text}"
    );
}

#[test]
fn manual_alerts_keep_their_details_in_order_and_info_is_silent() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let handle = guard.handle();
    let stats = run_with(layer, guard, || {
        handle.send(
            Alert::new(AlertLevel::Critical, "Payment system error")
                .with_text("A payment processing error occurred")
                .detail("type", "payment")
                .detail("status", "failed"),
        );
        handle.send(Alert::new(AlertLevel::Info, "deploy finished"));
    });
    let messages = mock.wait_for_messages(2, Duration::from_secs(5));
    let critical = messages[0].plain_text();
    assert!(critical.starts_with("🚨 CRITICAL"), "{critical}");
    assert!(
        critical.contains("Payment system error\nA payment processing error occurred"),
        "{critical}"
    );
    assert!(
        critical.contains("• type: payment\n• status: failed"),
        "{critical}"
    );
    assert!(
        !critical.contains("📍"),
        "manual alerts have no source location"
    );
    assert!(!messages[0].disable_notification);
    assert!(messages[1].disable_notification, "Info is sent silently");
    assert_eq!(stats.sent, 2);
    assert_accounted(&stats);
}

#[test]
fn hostile_content_is_escaped_and_kept_within_the_limit() {
    let mock = MockTelegram::start().unwrap();
    // One message per alert, so that every cut is a truncation.
    let (layer, guard) = builder(&mock)
        .limits(|l| l.continuation_messages(0))
        .build()
        .unwrap();
    let huge = "x".repeat(1 << 20);
    let emoji = "😀".repeat(3000);
    let cjk = "漢字".repeat(3000);
    let stats = run_with(layer, guard, || {
        error!(
            payload = "<b>not bold</b> & </code>",
            "<script>alert('x')</script> &amp; \"quoted\" \u{0}\u{7}\u{1b}[31m\r\n"
        );
        error!(body = %huge, "huge field");
        error!("{huge}");
        error!(emoji = %emoji, "{emoji}");
        error!(cjk = %cjk, "{cjk}");
        for n in 1495..1505 {
            // Push a surrogate pair across every cut position of the message.
            let text = format!("{}{}", "a".repeat(n), "😀".repeat(10));
            error!("{text}");
        }
        let deep = (0..40).fold(Vec::new(), |mut spans, i| {
            spans.push(info_span!("level", depth = i, data = %"&<>".repeat(200)).entered());
            spans
        });
        error!(a = %"é".repeat(600), b = %"😀".repeat(600), "many long fields");
        drop(deep);
    });

    let messages = mock.messages();
    assert_eq!(
        messages.len(),
        16,
        "every hostile message was accepted by the mock"
    );
    for message in &messages {
        parse_html(&message.text).expect("valid Telegram HTML");
        assert!(
            message.visible_units() <= 4096,
            "{} units",
            message.visible_units()
        );
    }
    let first = messages[0].plain_text();
    assert!(
        first.contains("<script>alert('x')</script> &amp; \"quoted\""),
        "{first}"
    );
    assert!(
        first.contains("payload: <b>not bold</b> & </code>"),
        "{first}"
    );
    assert!(
        !first.contains('\u{0}') && !first.contains('\u{1b}'),
        "{first:?}"
    );
    assert!(
        first.contains("\u{FFFD}"),
        "control characters are shown as U+FFFD"
    );
    for long in &messages[1..5] {
        let text = long.plain_text();
        assert!(
            text.contains("✂️ truncated to fit Telegram's limit"),
            "{text}"
        );
        assert!(text.contains(" UTC"), "the footer survives truncation");
    }
    assert_eq!(stats.sent, 16);
    assert_accounted(&stats);
}
