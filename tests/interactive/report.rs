//! The full report on demand: a 📄 press on an alert sends its whole
//! sanitized report as a file, in reply to it — every span-trace line, every
//! field in full — and nothing from
//! the secret corpus. After the dedup window the press is told the report
//! expired. Default settings with `interactive(true)`; in a fleet, the
//! process that answers the press need not be the one that sent the alert.

use crate::common;

use common::corpus::{corpus, leaks};

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, SentMessage, TestClock};

/// Twenty nested spans (the alert shows the innermost 15).
fn deep(depth: usize, body: &dyn Fn()) {
    if depth == 0 {
        return body();
    }
    let span = tracing::info_span!("step", depth, account = "acct-77");
    span.in_scope(|| deep(depth - 1, body));
}

fn interactive(mock: &MockTelegram, clock: &TestClock) -> tracing_telegram::Builder {
    common::default_builder(mock)
        .clock(clock.clone())
        .interactive(|i| i.enabled(true).poll_timeout(Duration::from_secs(1)))
}

fn document_replying_to(mock: &MockTelegram, message_id: i64) -> SentMessage {
    common::wait_until("the report", || {
        mock.messages()
            .into_iter()
            .find(|m| m.document.is_some() && m.reply_to_message_id == Some(message_id))
    })
}

#[test]
fn a_report_press_sends_the_whole_sanitized_report_as_a_file() {
    let mock = MockTelegram::start().unwrap();
    let clock = TestClock::new();
    let (layer, guard) = interactive(&mock, &clock).build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let secrets: Vec<String> = corpus()
        .into_iter()
        .filter(|case| !case.emails)
        .map(|case| case.text)
        .collect();
    let long_value = "x".repeat(700);
    tracing::dispatcher::with_default(&dispatch, || {
        deep(20, &|| {
            tracing::error!(
                shard = 3,
                request = %secrets.join(" | "),
                payload = %long_value,
                "settlement failed"
            );
        });
    });
    assert!(guard.flush(Duration::from_secs(10)));
    let alert = common::notifying(&mock.messages())[0].clone();
    assert_eq!(
        alert.buttons(),
        ["✅ Ack", "🔕 1 h", "🔕 24 h", "📄 Report"]
    );
    assert!(alert.plain_text().contains("outer span(s) omitted"));

    let toast = mock.press(alert.message_id, 42, "📄 Report");
    assert_eq!(toast.as_deref(), Some("📄 Sending the full report"));
    let sent = document_replying_to(&mock, alert.message_id);
    assert!(sent.disable_notification, "a file nobody needs to hear");
    let document = sent.document.unwrap();
    assert!(document.file_name.starts_with("report-") && document.file_name.ends_with(".txt"));
    let report = document.content;
    assert_eq!(
        report.matches("step{depth=").count(),
        20,
        "every span: {report}"
    );
    assert!(report.contains(&long_value), "fields in full");
    assert!(report.contains("shard = 3"), "{report}");
    for secret in corpus().iter().filter(|case| !case.emails) {
        assert_eq!(
            leaks(&secret.secret, &report),
            None,
            "{} leaked into the report",
            secret.kind
        );
    }
    let stats = guard.shutdown(Duration::from_secs(10));
    common::assert_accounted(&stats);
}

#[test]
fn a_report_press_after_its_window_is_told_it_expired() {
    let mock = MockTelegram::start().unwrap();
    let clock = TestClock::new();
    let (layer, guard) = interactive(&mock, &clock).build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || tracing::error!("cache warmup failed"));
    assert!(guard.flush(Duration::from_secs(10)));
    let alert = common::notifying(&mock.messages())[0].clone();
    clock.advance(Duration::from_secs(11 * 60)); // past the 10 min window
    assert!(guard.flush(Duration::from_secs(10)));
    let toast = mock.press(alert.message_id, 42, "📄 Report");
    assert_eq!(
        toast.as_deref(),
        Some("📄 This report has expired: reports are kept for the dedup window")
    );
    assert!(mock.messages().iter().all(|m| m.document.is_none()));
    common::assert_accounted(&guard.shutdown(Duration::from_secs(10)));
}

/// The process that sent the alert keeps its report in Redis: the leader
/// (another process) answers the press with it.
#[cfg(feature = "redis")]
#[test]
fn in_a_fleet_the_leader_sends_a_report_another_process_made() {
    let Some(url) = common::redis::shared_redis("report_in_a_fleet") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = common::redis::unique_prefix("report");
    let member = || fleet_member(&mock, &url, &prefix, Duration::from_millis(500));
    let (leader, leader_guard) = member();
    let mut redis = await_leader(&url, &prefix);
    let (sender, sender_guard) = member();
    tracing::dispatcher::with_default(&sender, || {
        tracing::error!(invoice = "inv-991", "invoice export failed")
    });
    assert!(sender_guard.flush(Duration::from_secs(10)));
    let alert = common::notifying(&mock.messages())[0].clone();
    let toast = mock.press(alert.message_id, 42, "📄 Report");
    assert_eq!(toast.as_deref(), Some("📄 Sending the full report"));
    let report = document_replying_to(&mock, alert.message_id)
        .document
        .unwrap();
    assert!(
        report.content.contains("invoice = inv-991"),
        "{}",
        report.content
    );
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}:report:*"))
        .query(&mut redis)
        .unwrap();
    assert_eq!(keys.len(), 1);
    let ttl: i64 = redis::cmd("PTTL").arg(&keys[0]).query(&mut redis).unwrap();
    assert!((1..=600_000).contains(&ttl), "kept the dedup window: {ttl}");
    drop((sender, leader));
    common::assert_accounted(&sender_guard.shutdown(Duration::from_secs(10)));
    common::assert_accounted(&leader_guard.shutdown(Duration::from_secs(10)));
}

/// The report lives with another process and Redis is away: the toast says
/// so, rather than calling the report expired.
#[cfg(feature = "redis")]
#[test]
fn a_report_press_while_redis_is_away_says_so() {
    let Some(redis) = common::redis::OwnRedis::start("report_without_redis", None) else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = common::redis::unique_prefix("report_without_redis");
    let url = redis.url();
    let member = || fleet_member(&mock, &url, &prefix, Duration::from_millis(300));
    let (leader, leader_guard) = member();
    let _connection = await_leader(&url, &prefix);
    let (sender, sender_guard) = member();
    tracing::dispatcher::with_default(&sender, || tracing::error!("invoice export failed"));
    assert!(sender_guard.flush(Duration::from_secs(10)));
    let alert = common::notifying(&mock.messages())[0].clone();
    redis.kill();
    let toast = mock.press(alert.message_id, 42, "📄 Report");
    assert_eq!(
        toast.as_deref(),
        Some("📄 The report could not be read: Redis did not answer")
    );
    drop((sender, leader));
    let _ = sender_guard.shutdown(Duration::from_secs(10));
    let _ = leader_guard.shutdown(Duration::from_secs(10));
}

/// A process of a fleet on `url` with interactive alerts, Redis calls
/// bounded by `timeout`.
#[cfg(feature = "redis")]
fn fleet_member(
    mock: &MockTelegram,
    url: &str,
    prefix: &str,
    timeout: Duration,
) -> (tracing::Dispatch, tracing_telegram::TelegramGuard) {
    let (layer, guard) = common::default_builder(mock)
        .fleet(|f| f.redis_url(url).key_prefix(prefix).timeout(timeout))
        .interactive(|i| i.enabled(true).poll_timeout(Duration::from_secs(1)))
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    (dispatch, guard)
}

/// Waits until a process holds the fleet's interactive leader lock; a
/// connection to that Redis.
#[cfg(feature = "redis")]
fn await_leader(url: &str, prefix: &str) -> redis::Connection {
    let mut connection = redis::Client::open(url).unwrap().get_connection().unwrap();
    let lead_key = format!("{{{prefix}}}:interactive:leader");
    common::wait_until("the first process to lead", || {
        let holder: Option<String> = redis::cmd("GET")
            .arg(&lead_key)
            .query(&mut connection)
            .unwrap();
        holder
    });
    connection
}
