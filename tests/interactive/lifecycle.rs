//! An alert's life beyond its message: escalated when nobody acknowledges
//! it, and back again (a reply to its resolved alert, a regression in a
//! newer version) — in one process on a virtual clock, and in a fleet of
//! child processes on a real Redis. Default settings plus the option each
//! needs.

use crate::common;

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, SentMessage, TestClock};
use tracing_telegram::{AlertLevel, Destination};

/// The escalation chat (an on-call group).
const ON_CALL_CHAT: i64 = -1_009_876_543_210;

fn escalations(mock: &MockTelegram) -> Vec<SentMessage> {
    mock.messages()
        .into_iter()
        .filter(|m| m.plain_text().to_lowercase().contains("not acknowledged"))
        .collect()
}

fn alert_with(mock: &MockTelegram, text: &str) -> SentMessage {
    common::notifying(&mock.messages())
        .into_iter()
        .find(|m| m.plain_text().contains(text))
        .cloned()
        .unwrap_or_else(|| panic!("no alert with {text:?}: {:?}", mock.messages()))
}

#[test]
fn an_alert_nobody_acknowledged_is_escalated_once_and_an_acknowledged_one_never() {
    let mock = MockTelegram::start().unwrap();
    let clock = TestClock::new();
    let builder = common::default_builder(&mock)
        .clock(clock.clone())
        .interactive(|i| i.enabled(true).poll_timeout(Duration::from_secs(1)))
        .interactive(|i| {
            i.escalate_after(AlertLevel::Error, Duration::from_secs(15 * 60))
                .on_call(["@alice_ops", "4242"])
                .escalate_to(Destination::chat(ON_CALL_CHAT))
        });
    let (layer, guard) = builder.build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let minute = Duration::from_secs(60);
    let fail = |message: &'static str| {
        tracing::dispatcher::with_default(&dispatch, || tracing::error!("{message}"));
        assert!(guard.flush(Duration::from_secs(10)));
    };
    fail("ledger unavailable");
    fail("inventory unavailable");
    let ledger = alert_with(&mock, "ledger unavailable");
    let inventory = alert_with(&mock, "inventory unavailable");
    assert_eq!(
        mock.press(inventory.message_id, 42, "✅ Ack").as_deref(),
        Some("✅ Acknowledged")
    );
    // Both keep failing (never quiet long enough to resolve): the ledger's
    // second window alerts anew at minute 12, and keeps the first deadline.
    for _ in 0..4 {
        clock.advance(minute * 3);
        assert!(guard.flush(Duration::from_secs(10))); // windows closing
        fail("ledger unavailable");
        fail("inventory unavailable");
    }
    assert!(escalations(&mock).is_empty(), "minute 12: not yet");
    clock.advance(minute * 4); // minute 16
    assert!(guard.flush(Duration::from_secs(10)));
    let sent = common::wait_until("the escalation", || {
        let sent = escalations(&mock);
        (sent.len() == 2).then_some(sent)
    });
    let in_chat = |chat: i64| {
        let chat = serde_json::json!(chat);
        sent.iter().find(move |m| m.chat_id == chat).unwrap()
    };
    let reply = in_chat(common::CHAT);
    let latest_ledger = common::notifying(&mock.messages())
        .into_iter()
        .filter(|m| m.plain_text().contains("ledger unavailable"))
        .rfind(|m| m.chat_id == serde_json::json!(common::CHAT))
        .cloned()
        .unwrap();
    assert_ne!(latest_ledger.message_id, ledger.message_id, "alerted anew");
    assert_eq!(reply.reply_to_message_id, Some(latest_ledger.message_id));
    assert!(!reply.disable_notification, "it rings");
    assert!(
        reply
            .plain_text()
            .starts_with("⏰ Not acknowledged for 15 min"),
        "{}",
        reply.plain_text()
    );
    assert_eq!(reply.mentions(), ["@alice_ops", "tg://user?id=4242"]);
    let forwarded = in_chat(ON_CALL_CHAT);
    assert!(
        forwarded.plain_text().contains("ledger unavailable"),
        "{}",
        forwarded.plain_text()
    );
    assert!(forwarded.text.contains("https://t.me/c/1234567890/"));
    assert_eq!(forwarded.mentions().len(), 2);

    // Once: later deadlines pass without another; the acknowledged kind
    // was never escalated.
    for _ in 0..6 {
        clock.advance(minute * 5);
        assert!(guard.flush(Duration::from_secs(10)));
        fail("ledger unavailable");
        fail("inventory unavailable");
    }
    assert_eq!(escalations(&mock).len(), 2, "{:?}", escalations(&mock));
    let stats = guard.shutdown(Duration::from_secs(10));
    common::assert_accounted(&stats);
}

#[test]
fn a_kind_that_resolves_before_its_deadline_is_not_escalated() {
    let mock = MockTelegram::start().unwrap();
    let clock = TestClock::new();
    let builder = common::default_builder(&mock)
        .clock(clock.clone())
        .interactive(|i| i.enabled(true).poll_timeout(Duration::from_secs(1)))
        .interactive(|i| i.escalate_after(AlertLevel::Error, Duration::from_secs(15 * 60)));
    let (layer, guard) = builder.build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || tracing::error!("cache warmup failed"));
    assert!(guard.flush(Duration::from_secs(10)));
    // One window (10 min) quiet: resolved at minute 10, before minute 15.
    clock.advance(Duration::from_secs(11 * 60));
    assert!(guard.flush(Duration::from_secs(10)));
    let alert = alert_with(&mock, "cache warmup failed");
    common::wait_for_message(&mock, alert.message_id, |m| {
        m.plain_text().contains("✅ quiet since")
    });
    clock.advance(Duration::from_secs(10 * 60));
    assert!(guard.flush(Duration::from_secs(10)));
    assert!(escalations(&mock).is_empty());
    common::assert_accounted(&guard.shutdown(Duration::from_secs(10)));
}

#[cfg(feature = "redis")]
mod fleet {
    use super::*;
    use crate::across_fleet::Member;

    /// A kind two processes of version 1.4.2 see is resolved once they are
    /// both quiet; it comes back in two processes of version 1.4.3: one
    /// alert for the fleet, a reply to the resolved one, marked a
    /// regression. (Real time: a 3 s window.)
    #[test]
    fn a_kind_back_in_a_newer_version_replies_once_marked_a_regression() {
        let Some(url) = common::redis::shared_redis("back_in_a_newer_version") else {
            return;
        };
        let mock = MockTelegram::start().unwrap();
        let prefix = common::redis::unique_prefix("back_again");
        let window = [("FLEET_WINDOW_MS", "3000")];
        let with_version = |version: &'static str| {
            let mut settings = window.to_vec();
            settings.push(("FLEET_VERSION", version));
            settings
        };
        let mut old = [
            Member::start_with(&mock, &url, &prefix, &with_version("1.4.2")),
            Member::start_with(&mock, &url, &prefix, &with_version("1.4.2")),
        ];
        for member in &mut old {
            member.run("ledger");
        }
        let first = alert_with(&mock, "ledger unavailable");
        assert!(
            first.plain_text().contains("🆕 first seen in 1.4.2"),
            "{}",
            first.plain_text()
        );
        let resolved = common::wait_for_message(&mock, first.message_id, |m| {
            m.plain_text().contains("✅ quiet since")
        });
        assert!(
            resolved.plain_text().contains("· ×2 in "),
            "the fleet's count: {}",
            resolved.plain_text()
        );
        for member in old {
            member.exit();
        }
        let resolved = common::wait_for_message(&mock, first.message_id, |_| true);
        assert_eq!(
            resolved.times_marked("✅ quiet since"),
            1,
            "resolved once by the fleet: {:#?}",
            resolved.earlier_texts
        );

        let mut new = [
            Member::start_with(&mock, &url, &prefix, &with_version("1.4.3")),
            Member::start_with(&mock, &url, &prefix, &with_version("1.4.3")),
        ];
        for member in &mut new {
            member.run("ledger");
        }
        let alerts: Vec<SentMessage> = common::notifying(&mock.messages())
            .into_iter()
            .filter(|m| m.plain_text().contains("ledger unavailable"))
            .cloned()
            .collect();
        assert_eq!(alerts.len(), 2, "back once for the fleet: {alerts:#?}");
        let back = &alerts[1];
        assert_eq!(back.reply_to_message_id, Some(first.message_id));
        let text = back.plain_text();
        assert!(text.contains("🔁 back after "), "{text}");
        assert!(text.contains("· regression in 1.4.3"), "{text}");
        assert!(!text.contains("🆕"), "seen before: {text}");
        for member in new {
            member.exit();
        }
    }

    /// Two processes in their quiet hours: the failure both see is one
    /// alert without a sound; a Critical one rings.
    #[test]
    fn a_fleet_in_its_quiet_hours_alerts_silently_and_critical_rings() {
        let Some(url) = common::redis::shared_redis("fleet_quiet_hours") else {
            return;
        };
        let mock = MockTelegram::start().unwrap();
        let prefix = common::redis::unique_prefix("quiet_children");
        let settings = [("FLEET_QUIET_HOURS", "1")];
        let mut members = [
            Member::start_with(&mock, &url, &prefix, &settings),
            Member::start_with(&mock, &url, &prefix, &settings),
        ];
        for member in &mut members {
            member.run("ledger");
        }
        members[1].run("critical");
        for member in members {
            member.exit();
        }
        let messages = mock.messages();
        let ledger: Vec<&SentMessage> = messages
            .iter()
            .filter(|m| m.plain_text().contains("ledger unavailable"))
            .collect();
        assert_eq!(ledger.len(), 1, "one alert for the fleet: {messages:#?}");
        assert!(ledger[0].disable_notification, "without a sound");
        assert!(ledger[0].plain_text().contains("🔁 ×2"));
        let lost = alert_with(&mock, "ledger lost its data");
        assert!(!lost.disable_notification, "Critical rings");
    }

    /// Two processes see the same failure; the one holding the alert
    /// escalates it once. A second kind acknowledged through whichever
    /// process leads is escalated by no one. (Real time: a 4 s deadline.)
    #[test]
    fn a_fleet_escalates_once_and_an_ack_in_any_process_cancels() {
        let Some(url) = common::redis::shared_redis("fleet_escalates_once") else {
            return;
        };
        let mock = MockTelegram::start().unwrap();
        let prefix = common::redis::unique_prefix("escalation");
        let settings = [("FLEET_ESCALATE_MS", "4000")];
        let mut members = [
            Member::start_with(&mock, &url, &prefix, &settings),
            Member::start_with(&mock, &url, &prefix, &settings),
        ];
        // The ledger first, acknowledged at once (through whichever process
        // leads); then the charge, which both processes see.
        members[0].run("ledger");
        let ledger = alert_with(&mock, "ledger unavailable");
        assert_eq!(
            mock.press(ledger.message_id, 42, "✅ Ack").as_deref(),
            Some("✅ Acknowledged")
        );
        for member in &mut members {
            member.run("fail");
        }
        let charge = alert_with(&mock, "card issuer unreachable");
        // The charge's deadline comes after the ledger's, in the same
        // process: once the charge is escalated, the ledger's has passed.
        let sent = common::wait_until("the escalation", || {
            let sent = escalations(&mock);
            (!sent.is_empty()).then_some(sent)
        });
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].reply_to_message_id, Some(charge.message_id));
        assert_eq!(sent[0].mentions(), ["@alice_ops"]);
        for member in members {
            member.exit();
        }
    }
}
