//! An alert's life under the default settings (10 min dedup window, quiet
//! period of one window), on a virtual clock: a kind that stops is marked
//! resolved once it has been quiet a window, and a kind that comes back
//! before that is not; one that comes back after it is a reply to its
//! resolved alert, and with a service version an alert says when its kind
//! is new.

use crate::common;

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, SentMessage};

fn fail(kind: &str) {
    tracing::error!(kind, "{kind} unavailable");
}

fn text_of(mock: &MockTelegram, needle: &str) -> String {
    let messages: Vec<SentMessage> = mock.messages();
    messages
        .iter()
        .map(SentMessage::plain_text)
        .find(|text| text.contains(needle))
        .unwrap_or_else(|| panic!("no message with {needle:?}: {messages:?}"))
}

#[test]
fn a_kind_quiet_for_a_window_is_resolved() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = common::default_builder_on_virtual_clock(&mock);
    let (layer, guard) = builder.build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let minute = Duration::from_secs(60);
    tracing::dispatcher::with_default(&dispatch, || {
        // The ledger fails three times over two minutes, then stops.
        for _ in 0..3 {
            fail("ledger");
            assert!(guard.flush(Duration::from_secs(10)));
            clock.advance(minute);
        }
    });
    // Minute 3 → 10.5: its window closed; quiet for 8.5 min only.
    clock.advance(minute * 15 / 2);
    assert!(guard.flush(Duration::from_secs(10)));
    let window_closed = text_of(&mock, "ledger unavailable");
    assert!(window_closed.contains("🔁 ×3"), "{window_closed}");
    assert!(
        !window_closed.contains("✅"),
        "not quiet long enough yet: {window_closed}"
    );
    // Minute 12.5: quiet for 10.5 min, a window.
    clock.advance(minute * 2);
    assert!(guard.flush(Duration::from_secs(10)));
    let resolved = text_of(&mock, "ledger unavailable");
    assert!(resolved.contains("✅ quiet since "), "{resolved}");
    assert!(resolved.contains("· ×3 in "), "{resolved}");
    let stats = guard.shutdown(Duration::from_secs(5));
    let alert = common::notifying(&mock.messages())[0].clone();
    assert_eq!(alert.times_marked("✅ quiet since"), 1, "resolved once");
    common::assert_accounted(&stats);
    assert_eq!(
        common::notifying(&mock.messages()).len(),
        1,
        "edits ring no one"
    );
}

#[test]
fn a_kind_back_before_it_was_quiet_a_window_is_not_resolved() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = common::default_builder_on_virtual_clock(&mock);
    let (layer, guard) = builder.build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let minute = Duration::from_secs(60);
    let fail_now = || {
        tracing::dispatcher::with_default(&dispatch, || fail("queue"));
        assert!(guard.flush(Duration::from_secs(10)));
    };
    fail_now();
    clock.advance(minute * 5);
    fail_now(); // a repeat at minute 5: quiet only from then
    clock.advance(minute * 6);
    assert!(guard.flush(Duration::from_secs(10)));
    // Minute 11: window closed, quiet 6 min; back at minute 12.
    clock.advance(minute);
    fail_now();
    clock.advance(minute * 4);
    assert!(guard.flush(Duration::from_secs(10)));
    let texts: Vec<String> = mock
        .messages()
        .iter()
        .map(SentMessage::plain_text)
        .collect();
    assert!(
        texts.iter().all(|t| !t.contains("✅")),
        "never quiet a window: {texts:?}"
    );
    assert_eq!(
        common::notifying(&mock.messages()).len(),
        2,
        "alerted anew: {texts:?}"
    );
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
}

#[test]
fn a_resolved_kind_back_again_answers_its_resolved_alert() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = common::default_builder_on_virtual_clock(&mock);
    let (layer, guard) = builder.service_version("1.4.3").build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let fail_now = |kind: &str| {
        tracing::dispatcher::with_default(&dispatch, || fail(kind));
        assert!(guard.flush(Duration::from_secs(10)));
    };
    fail_now("ledger");
    let first = mock.messages().remove(0);
    assert!(
        first.plain_text().contains("🆕 first seen in 1.4.3"),
        "{}",
        first.plain_text()
    );
    // Quiet a window: resolved when its window closes (minute 10).
    clock.advance(Duration::from_secs(11 * 60));
    assert!(guard.flush(Duration::from_secs(10)));
    assert!(text_of(&mock, "ledger unavailable").contains("✅ quiet since"));
    // Back 2 h 10 min after it was last seen (the half minute is the
    // real time the test itself takes, at most).
    clock.advance(Duration::from_secs(119 * 60 + 30));
    fail_now("ledger");
    fail_now("ledger"); // a repeat: counted, not alerted
    let alerts: Vec<SentMessage> = common::notifying(&mock.messages())
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let back = &alerts[1];
    assert_eq!(back.reply_to_message_id, Some(first.message_id));
    let text = back.plain_text();
    assert!(
        text.contains("🔁 back after 2 h 10 min (quiet since "),
        "{text}"
    );
    assert!(!text.contains("regression"), "the same version: {text}");
    assert!(!text.contains("🆕"), "seen before: {text}");
    // Another kind is new; a kind never resolved is not "back".
    fail_now("inventory");
    let inventory = text_of(&mock, "inventory unavailable");
    assert!(inventory.contains("🆕 first seen in 1.4.3"), "{inventory}");
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
    assert_eq!(stats.sent, 3, "{stats:?}");
}
