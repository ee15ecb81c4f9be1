//! Interactive alerts: chat members acknowledge, mute and unmute alerts
//! from their buttons, through MockTelegram's `getUpdates` and
//! `answerCallbackQuery`, under the default settings (dedup on, default
//! thresholds) with `interactive(true)`.

use crate::common;

use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, Reply, SentMessage, TestClock};
use tracing_telegram::{Builder, Health, TelegramGuard};

#[derive(Debug)]
struct PaymentError(u64);

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "card issuer declined charge {}", self.0)
    }
}

impl std::error::Error for PaymentError {}

/// The way services fail: `#[instrument(err)]` on a fallible function.
#[tracing::instrument(err)]
fn charge(order: u64) -> Result<(), PaymentError> {
    Err(PaymentError(order))
}

fn interactive(mock: &MockTelegram) -> Builder {
    common::default_builder(mock)
        .interactive(|i| i.enabled(true))
        .interactive(|i| i.poll_timeout(Duration::from_secs(1)))
}

/// Runs `body` with `builder`'s layer installed on this thread.
fn with_layer(builder: Builder, body: impl FnOnce(&TelegramGuard)) -> tracing_telegram::Stats {
    let (layer, guard) = builder.build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || body(&guard));
    let stats = guard.shutdown(Duration::from_secs(10));
    common::assert_accounted(&stats);
    stats
}

fn fail(guard: &TelegramGuard, orders: std::ops::RangeInclusive<u64>) {
    for order in orders {
        let _ = charge(order);
    }
    assert!(guard.flush(Duration::from_secs(10)));
}

fn only_alert(mock: &MockTelegram) -> SentMessage {
    let alerts: Vec<SentMessage> = common::notifying(&mock.messages())
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    alerts[0].clone()
}

#[test]
fn ack_shows_who_and_when_and_the_tally_keeps_updating() {
    let mock = MockTelegram::start().unwrap();
    with_layer(interactive(&mock), |guard| {
        fail(guard, 1..=1);
        let alert = only_alert(&mock);
        assert_eq!(
            alert.buttons(),
            ["✅ Ack", "🔕 1 h", "🔕 24 h", "📄 Report"]
        );
        assert!(alert.plain_text().contains("card issuer declined charge"));

        let toast = mock.press(alert.message_id, 42, "✅ Ack");
        assert_eq!(toast.as_deref(), Some("✅ Acknowledged"));
        let acked = common::wait_for_message(&mock, alert.message_id, |m| {
            m.plain_text().contains("✅ Acknowledged by @user42 at ")
        });
        assert_eq!(
            acked.buttons(),
            ["🔕 1 h", "🔕 24 h", "📄 Report"],
            "acknowledged once"
        );
        assert!(
            acked.text.starts_with(&alert.text),
            "the alert itself is kept"
        );

        fail(guard, 2..=10);
        let tallied = common::wait_for_message(&mock, alert.message_id, |m| {
            m.plain_text().contains("🔁 ×10")
        });
        assert!(
            tallied.plain_text().contains("✅ Acknowledged by @user42"),
            "{}",
            tallied.plain_text()
        );
        assert_eq!(
            tallied.buttons(),
            ["🔕 1 h", "🔕 24 h", "📄 Report"],
            "edits keep the buttons"
        );
        assert_eq!(common::notifying(&mock.messages()).len(), 1, "no new alert");
    });
}

#[test]
fn a_mute_counts_repeats_for_the_digest_and_a_kind_failing_after_it_is_alerted_anew() {
    let mock = MockTelegram::start().unwrap();
    let clock = TestClock::new();
    let builder = interactive(&mock).clock(clock.clone());
    with_layer(builder, |guard| {
        fail(guard, 1..=1);
        let alert = only_alert(&mock);
        let toast = mock.press(alert.message_id, 42, "🔕 1 h");
        assert_eq!(toast.as_deref(), Some("🔕 Muted for 1 h"));
        let muted = common::wait_for_message(&mock, alert.message_id, |m| {
            m.buttons() == ["🔔 Unmute", "📄 Report"]
        });
        assert!(
            muted.plain_text().contains("🔕 muted by @user42 until "),
            "{}",
            muted.plain_text()
        );

        fail(guard, 2..=6);
        assert_eq!(
            mock.messages().len(),
            1,
            "no alert, no tally edit while muted"
        );
        let unchanged = common::wait_for_message(&mock, alert.message_id, |_| true);
        assert_eq!(unchanged.text, muted.text);

        clock.advance(Duration::from_secs(61 * 60));
        assert!(guard.flush(Duration::from_secs(10)));
        let digest = mock
            .wait_for_messages(2, Duration::from_secs(10))
            .into_iter()
            .find(|m| m.plain_text().contains("DIGEST"))
            .expect("a digest");
        let digest = digest.plain_text();
        assert!(digest.contains("🔕 Muted"), "{digest}");
        assert!(digest.contains("muted ×5"), "{digest}");
        assert!(
            digest.contains("charge failed: card issuer declined charge"),
            "titled like the alert: {digest}"
        );

        fail(guard, 7..=7);
        let alerts = common::notifying(&mock.messages()).len();
        assert_eq!(alerts, 2, "still failing when the mute ended: alerted anew");
    });
}

#[test]
fn unmute_restores_the_buttons_and_the_next_failure_alerts() {
    let mock = MockTelegram::start().unwrap();
    let stats = with_layer(interactive(&mock), |guard| {
        fail(guard, 1..=1);
        let alert = only_alert(&mock);
        assert!(mock.press(alert.message_id, 42, "🔕 24 h").is_some());
        common::wait_for_message(&mock, alert.message_id, |m| {
            m.buttons() == ["🔔 Unmute", "📄 Report"]
        });
        fail(guard, 2..=3);
        let toast = mock.press(alert.message_id, 42, "🔔 Unmute");
        assert_eq!(toast.as_deref(), Some("🔔 Unmuted"));
        let unmuted = common::wait_for_message(&mock, alert.message_id, |m| m.buttons().len() == 4);
        assert!(
            !unmuted.plain_text().contains("muted by"),
            "{}",
            unmuted.plain_text()
        );
        fail(guard, 4..=4);
        assert_eq!(
            common::notifying(&mock.messages()).len(),
            2,
            "unmuted: alerted again"
        );
    });
    // Two alerts sent; the two muted records counted for the digest.
    assert_eq!((stats.sent, stats.batched), (2, 2), "{stats:?}");
}

#[test]
fn forged_and_unknown_button_data_change_nothing() {
    let mock = MockTelegram::start().unwrap();
    with_layer(interactive(&mock), |guard| {
        fail(guard, 1..=1);
        let alert = only_alert(&mock);
        let real = alert.button_data("🔕 24 h").unwrap();
        // Another alert's kind, or a longer mute: the tag no longer matches.
        let (body, tag) = real.rsplit_once('.').unwrap();
        let forged = format!("{}.{tag}", body.replacen("m1440", "m10080", 1));
        let toast = mock.press_data(alert.message_id, 42, &forged).unwrap();
        assert!(toast.contains("could not be verified"), "{toast}");
        let toast = mock
            .press_data(alert.message_id, 42, "mute-everything")
            .unwrap();
        assert!(toast.contains("Unknown button"), "{toast}");
        let flipped = format!("{body}.{}", "0".repeat(tag.len()));
        let toast = mock.press_data(alert.message_id, 42, &flipped).unwrap();
        assert!(toast.contains("could not be verified"), "{toast}");

        fail(guard, 2..=2);
        let after = common::wait_for_message(&mock, alert.message_id, |_| true);
        assert_eq!(
            (after.text.as_str(), after.buttons()),
            (alert.text.as_str(), alert.buttons())
        );
        assert_eq!(
            common::notifying(&mock.messages()).len(),
            1,
            "not muted: still deduplicated"
        );
    });
}

#[test]
fn only_allowed_users_may_press() {
    let mock = MockTelegram::start().unwrap();
    with_layer(
        interactive(&mock).interactive(|i| i.allowed_users([42])),
        |guard| {
            fail(guard, 1..=1);
            let alert = only_alert(&mock);
            let toast = mock.press(alert.message_id, 7, "🔕 24 h").unwrap();
            assert!(toast.contains("not allowed"), "{toast}");
            fail(guard, 2..=2);
            assert_eq!(
                common::wait_for_message(&mock, alert.message_id, |_| true).text,
                alert.text,
                "not muted"
            );
            let toast = mock.press(alert.message_id, 42, "✅ Ack").unwrap();
            assert_eq!(toast, "✅ Acknowledged");
        },
    );
}

/// Runs in a child process (see below) so that its stderr can be read.
#[test]
#[ignore = "run by a_bot_whose_updates_another_program_takes_turns_buttons_off_and_keeps_alerting"]
fn child_meets_a_webhook() {
    let mock = MockTelegram::start().unwrap();
    mock.script_for(
        "getUpdates",
        Reply::Conflict("can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first".to_owned()),
    );
    with_layer(interactive(&mock), |guard| {
        common::wait_until("interactivity to turn off", || {
            (!guard.health().is_healthy()).then_some(())
        });
        let Health::Degraded { reason } = guard.health() else {
            panic!("{:?}", guard.health());
        };
        assert!(reason.contains("interactive alerts turned off"), "{reason}");
        assert!(reason.contains("409"), "{reason}");
        fail(guard, 1..=1);
        let alert = only_alert(&mock);
        assert!(alert.buttons().is_empty(), "no buttons nobody could press");
        let polls = mock
            .requests()
            .iter()
            .filter(|r| r.method == "getUpdates")
            .count();
        // An absence: nothing to wait on but time. Polls follow each other
        // within a second, so this window would see one.
        std::thread::sleep(Duration::from_millis(1500));
        let later = mock
            .requests()
            .iter()
            .filter(|r| r.method == "getUpdates")
            .count();
        assert_eq!((polls, later), (1, 1), "no polling after the conflict");
    });
}

#[test]
fn a_bot_whose_updates_another_program_takes_turns_buttons_off_and_keeps_alerting() {
    let output = common::child(module_path!(), "child_meets_a_webhook")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("tracing-telegram:"))
        .collect();
    assert_eq!(lines.len(), 1, "one clear line:\n{stderr}");
    assert!(
        lines[0].contains("interactive alerts turned off"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("webhook"), "says why: {}", lines[0]);
    assert!(
        !stderr.contains(tracing_telegram::testing::MOCK_TOKEN),
        "no token:\n{stderr}"
    );
}

#[test]
fn a_hanging_poll_delays_neither_alerts_nor_shutdown() {
    let mock = MockTelegram::start().unwrap();
    mock.script_for("getUpdates", Reply::Hang);
    let (layer, guard) = interactive(&mock).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || fail(&guard, 1..=1));
    assert_eq!(only_alert(&mock).buttons().len(), 4);
    let started = Instant::now();
    let stats = guard.shutdown(Duration::from_secs(5));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stats.sent, 1);
}

#[test]
fn a_burst_of_presses_is_answered_a_few_at_a_time_and_all_of_them() {
    let mock = std::sync::Arc::new(MockTelegram::start().unwrap());
    with_layer(interactive(&mock), |guard| {
        fail(guard, 1..=1);
        let id = only_alert(&mock).message_id;
        let presses: Vec<_> = (0..25)
            .map(|user| {
                let mock = std::sync::Arc::clone(&mock);
                std::thread::spawn(move || mock.press_data(id, user, "no-such-button"))
            })
            .collect();
        for press in presses {
            let toast = press.join().unwrap();
            assert!(toast.is_some_and(|t| t.contains("Unknown button")));
        }
        let polls = mock
            .requests()
            .iter()
            .filter(|r| r.method == "getUpdates")
            .count();
        assert!(polls >= 3, "at most 10 presses per poll: {polls} polls");
    });
}

/// With routes, the buttons of an alert routed to a team's own group work
/// there (its chat is one of the alert chats).
#[test]
fn a_press_in_a_routed_teams_chat_is_accepted() {
    const SEARCH_CHAT: i64 = -1_005_550_001_111;
    let mock = MockTelegram::start().unwrap();
    let builder = interactive(&mock)
        .routes(|r| r.target("search", tracing_telegram::Destination::chat(SEARCH_CHAT)));
    with_layer(builder, |guard| {
        tracing::error!(target: "search::index", "index shard unavailable");
        assert!(guard.flush(Duration::from_secs(10)));
        let alert = only_alert(&mock);
        assert_eq!(alert.chat_id, serde_json::json!(SEARCH_CHAT));
        let toast = mock.press(alert.message_id, 42, "✅ Ack");
        assert_eq!(toast.as_deref(), Some("✅ Acknowledged"));
        common::wait_for_message(&mock, alert.message_id, |m| {
            m.plain_text().contains("✅ Acknowledged by @user42")
        });
    });
}
