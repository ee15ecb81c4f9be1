//! Per-team routing from one layer (one worker, one dedup store), under the
//! default settings plus the routes: three teams' code to three topics, a
//! field route beating a target route, dedup and tallies per destination,
//! and buttons pressed in a routed topic's chat.

use crate::common;

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, SentMessage};
use tracing_telegram::{AlertLevel, Destination};

/// The search team's own group.
const SEARCH_CHAT: i64 = -1_005_550_001_111;

fn routed(mock: &MockTelegram) -> tracing_telegram::Builder {
    common::default_builder(mock).routes(|r| {
        r.target("billing", Destination::thread(11))
            .target("billing::refunds", Destination::thread(12))
            .target("search", Destination::chat(SEARCH_CHAT))
            .field("team", "payments", Destination::thread(13))
            .level(AlertLevel::Critical, Destination::thread(7))
    })
}

fn place(message: &SentMessage) -> (serde_json::Value, Option<i64>) {
    (message.chat_id.clone(), message.message_thread_id)
}

fn alert_with<'a>(messages: &'a [SentMessage], text: &str) -> &'a SentMessage {
    messages
        .iter()
        .find(|m| m.plain_text().contains(text))
        .unwrap_or_else(|| panic!("no message with {text:?}: {messages:#?}"))
}

#[tracing::instrument(target = "billing::invoices", err)]
fn invoice(id: u64) -> Result<(), std::io::Error> {
    Err(std::io::Error::other("invoice store unavailable"))
}

#[test]
fn three_teams_code_goes_to_three_topics_and_a_field_route_beats_a_target_route() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = routed(&mock).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for id in 0..3 {
            let _ = invoice(id); // billing::invoices, three times
        }
        tracing::error!(target: "billing::refunds::card", "refund gateway timed out");
        tracing::error!(target: "search::index", "index shard 3 unavailable");
        tracing::error!(target: "billing_ext", "not billing's");
        // A field of an enclosing span routes it, whatever its target.
        let span = tracing::info_span!(target: "billing::ledger", "settle", team = "payments");
        span.in_scope(|| tracing::error!(target: "billing::ledger", "ledger locked"));
        tracing::error!(telegram.level = "critical", "database down");
    });
    let stats = guard.shutdown(Duration::from_secs(10));
    common::assert_accounted(&stats);
    let messages = mock.messages();
    let default_chat = serde_json::json!(common::CHAT);
    let invoices = alert_with(&messages, "invoice store unavailable");
    assert_eq!(place(invoices), (default_chat.clone(), Some(11)));
    assert!(
        invoices.plain_text().contains("🔁 ×3"),
        "deduplicated in its topic: {}",
        invoices.plain_text()
    );
    let refunds = alert_with(&messages, "refund gateway timed out");
    assert_eq!(
        place(refunds),
        (default_chat.clone(), Some(12)),
        "longest prefix"
    );
    let search = alert_with(&messages, "index shard 3 unavailable");
    assert_eq!(place(search), (serde_json::json!(SEARCH_CHAT), None));
    let other = alert_with(&messages, "not billing's");
    assert_eq!(place(other), (default_chat.clone(), None), "whole segments");
    let ledger = alert_with(&messages, "ledger locked");
    assert_eq!(
        place(ledger),
        (default_chat.clone(), Some(13)),
        "the field wins"
    );
    let down = alert_with(&messages, "database down");
    assert_eq!(place(down), (default_chat, Some(7)), "the level route");
    assert_eq!(stats.sent, 6, "{stats:?}");
}

#[test]
fn one_failure_routed_to_two_teams_is_two_alerts_each_with_its_tally() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock)
        .routes(|r| {
            r.field("team", "payments", Destination::thread(13)).field(
                "team",
                "search",
                Destination::thread(14),
            )
        })
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for team in ["payments", "search", "payments", "search", "payments"] {
            tracing::error!(team, "cache cluster unreachable");
        }
    });
    let stats = guard.shutdown(Duration::from_secs(10));
    common::assert_accounted(&stats);
    let messages = mock.messages();
    let alerts: Vec<&SentMessage> = common::notifying(&messages);
    assert_eq!(alerts.len(), 2, "{messages:#?}");
    let in_topic = |topic: i64| {
        let alert = alerts
            .iter()
            .find(|m| m.message_thread_id == Some(topic))
            .unwrap();
        alert.plain_text()
    };
    assert!(in_topic(13).contains("🔁 ×3"), "{}", in_topic(13));
    assert!(in_topic(14).contains("🔁 ×2"), "{}", in_topic(14));
    assert_eq!((stats.sent, stats.deduplicated), (2, 3), "{stats:?}");
}

#[test]
fn target_routes_keep_repeats_counted_at_the_gate_per_topic() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock)
        .routes(|r| r.target("billing", Destination::thread(11)))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for id in 0..12 {
            let _ = invoice(id);
        }
    });
    let stats = guard.shutdown(Duration::from_secs(10));
    common::assert_accounted(&stats);
    let messages = mock.messages();
    let alerts = common::notifying(&messages);
    assert_eq!(alerts.len(), 1, "{messages:#?}");
    assert_eq!(alerts[0].message_thread_id, Some(11));
    assert!(alerts[0].plain_text().contains("🔁 ×12"));
    assert_eq!((stats.sent, stats.deduplicated), (1, 11), "{stats:?}");
}

#[test]
fn a_routed_teams_warnings_go_to_its_own_digest() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = routed(&mock).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for attempt in 0..3 {
            tracing::warn!(target: "billing::invoices", attempt, "invoice export retried");
        }
        tracing::warn!(target: "search::index", "index rebuild slow");
        tracing::warn!(target: "inventory", "stock feed late");
    });
    let stats = guard.shutdown(Duration::from_secs(10));
    common::assert_accounted(&stats);
    let messages = mock.messages();
    let digest_in = |topic: Option<i64>, chat: i64| {
        messages
            .iter()
            .find(|m| {
                m.plain_text().starts_with("📊")
                    && m.message_thread_id == topic
                    && m.chat_id == serde_json::json!(chat)
            })
            .map(SentMessage::plain_text)
            .unwrap_or_else(|| panic!("no digest in {chat}/{topic:?}: {messages:#?}"))
    };
    let billing = digest_in(Some(11), common::CHAT);
    assert!(billing.contains("invoice export retried"), "{billing}");
    assert!(billing.contains("×3"), "{billing}");
    assert!(!billing.contains("stock feed late"), "{billing}");
    let search = digest_in(None, SEARCH_CHAT);
    assert!(search.contains("index rebuild slow"), "{search}");
    let main = digest_in(None, common::CHAT);
    assert!(main.contains("stock feed late"), "{main}");
    assert!(!main.contains("invoice export retried"), "{main}");
    assert_eq!(stats.batched, 5, "{stats:?}");
}
