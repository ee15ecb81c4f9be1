//! Quiet hours in a fleet: two processes sharing a real Redis, default
//! settings plus the hours (around the test's own time, UTC). The one
//! alert the fleet sends for a failure both processes see arrives without a
//! sound, with the fleet's tally; a Critical alert still rings.
#![cfg(feature = "redis")]

use crate::common;

use common::redis::{shared_redis, unique_prefix};

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

#[test]
fn a_fleet_in_its_quiet_hours_sends_one_silent_alert_and_critical_rings() {
    let Some(url) = shared_redis("a_fleet_in_its_quiet_hours") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = unique_prefix("quiet");
    let member = || {
        common::default_builder(&mock)
            .fleet(|f| f.redis_url(url.as_str()).key_prefix(prefix.as_str()))
            .delivery(|d| d.quiet_hours(common::quiet_hours_around_now(-60, 60)))
            .build()
            .unwrap()
    };
    let (first, first_guard) = member();
    let (second, second_guard) = member();
    let first = tracing::Dispatch::new(tracing_subscriber::registry().with(first));
    let second = tracing::Dispatch::new(tracing_subscriber::registry().with(second));
    // One callsite failing in both processes.
    let ledger_down = || tracing::error!("ledger unavailable");
    tracing::dispatcher::with_default(&first, ledger_down);
    assert!(first_guard.flush(Duration::from_secs(10)));
    tracing::dispatcher::with_default(&second, || {
        ledger_down();
        tracing::error!(telegram.level = "critical", "ledger lost its data");
    });
    let stats = [
        second_guard.shutdown(Duration::from_secs(10)),
        first_guard.shutdown(Duration::from_secs(10)),
    ];
    for stats in &stats {
        common::assert_accounted(stats);
        assert_eq!(stats.redis_fallbacks, 0, "{stats:?}");
    }
    let messages = mock.messages();
    let find = |text: &str| {
        messages
            .iter()
            .filter(|m| m.plain_text().contains(text))
            .collect::<Vec<_>>()
    };
    let ledger = find("ledger unavailable");
    assert_eq!(ledger.len(), 1, "one alert for the fleet: {messages:?}");
    assert!(ledger[0].disable_notification, "sent without a sound");
    assert!(
        ledger[0].plain_text().contains("🔁 ×2"),
        "{}",
        ledger[0].plain_text()
    );
    let lost = find("ledger lost its data");
    assert_eq!(lost.len(), 1, "{messages:?}");
    assert!(!lost[0].disable_notification, "Critical rings");
}

/// Quiet here is not quiet everywhere: the process holding the alert does
/// not mark it resolved while another process still sees the failure, and
/// marks it once the whole fleet has been quiet a window. (Real time: the
/// fleet's last occurrence lives on Redis's clock. A 3 s window.)
#[test]
fn a_fleet_resolves_a_kind_once_it_is_quiet_everywhere() {
    let Some(url) = shared_redis("a_fleet_resolves_a_kind") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = unique_prefix("resolve");
    let window = Duration::from_secs(3);
    let member = || {
        common::default_builder(&mock)
            .dedup(|d| d.window(window))
            .fleet(|f| f.redis_url(url.as_str()).key_prefix(prefix.as_str()))
            .build()
            .unwrap()
    };
    let (holder, holder_guard) = member();
    let (other, other_guard) = member();
    let holder = tracing::Dispatch::new(tracing_subscriber::registry().with(holder));
    let other = tracing::Dispatch::new(tracing_subscriber::registry().with(other));
    let ledger_down = || tracing::error!("ledger unavailable");
    let start = std::time::Instant::now();
    tracing::dispatcher::with_default(&holder, ledger_down);
    assert!(holder_guard.flush(Duration::from_secs(10)));
    // The other process sees it for 2.5 s more, inside the holder's window.
    while start.elapsed() < Duration::from_millis(2500) {
        tracing::dispatcher::with_default(&other, ledger_down);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(other_guard.flush(Duration::from_secs(10)));
    // At 4.5 s the holder's window has closed and the holder has been quiet
    // longer than a window, but the fleet has not.
    std::thread::sleep(Duration::from_millis(4500).saturating_sub(start.elapsed()));
    let alert = |mock: &MockTelegram| {
        mock.messages()
            .into_iter()
            .find(|m| m.plain_text().contains("ledger unavailable"))
            .map(|m| m.plain_text())
            .unwrap_or_default()
    };
    let early = alert(&mock);
    assert!(
        !early.contains("✅"),
        "resolved while another process failed: {early}"
    );
    let resolved = common::wait_until("the fleet quiet a window", || {
        Some(alert(&mock)).filter(|text| text.contains("✅ quiet since"))
    });
    assert!(resolved.contains("🔁 ×"), "{resolved}");
    let stats = [
        other_guard.shutdown(Duration::from_secs(10)),
        holder_guard.shutdown(Duration::from_secs(10)),
    ];
    for stats in &stats {
        common::assert_accounted(stats);
        assert_eq!(stats.redis_fallbacks, 0, "{stats:?}");
    }
    let alerts: Vec<_> = common::notifying(&mock.messages())
        .into_iter()
        .map(|m| m.plain_text())
        .collect();
    assert_eq!(alerts.len(), 1, "one alert, resolved once: {alerts:?}");
    let alert = common::notifying(&mock.messages())[0].clone();
    assert_eq!(
        alert.times_marked("✅ quiet since"),
        1,
        "{:#?}",
        alert.earlier_texts
    );
}
