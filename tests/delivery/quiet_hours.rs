//! Quiet hours under the default settings: during them an Error alert
//! arrives without a sound and a Critical one rings; outside them both
//! ring. The hours are set around the real time of the test (UTC).

use crate::common;

use tracing_telegram::testing::MockTelegram;

/// Sends an Error and a Critical alert under `hours`; whether each rang.
fn rings(hours: tracing_telegram::QuietHours) -> (bool, bool) {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock)
        .delivery(|d| d.quiet_hours(hours))
        .build()
        .unwrap();
    let stats = common::run_with(layer, guard, || {
        tracing::error!("nightly export failed");
        tracing::error!(telegram.level = "critical", "disk full on the primary");
    });
    common::assert_accounted(&stats);
    let messages = mock.messages();
    let rang = |text: &str| {
        let message = messages
            .iter()
            .find(|m| m.plain_text().contains(text))
            .unwrap_or_else(|| panic!("no message with {text:?}: {messages:?}"));
        !message.disable_notification
    };
    (rang("nightly export failed"), rang("disk full"))
}

#[test]
fn during_quiet_hours_only_critical_rings() {
    assert_eq!(
        rings(common::quiet_hours_around_now(-60, 60)),
        (false, true)
    );
    assert_eq!(
        rings(common::quiet_hours_around_now(120, 180)),
        (true, true)
    );
}

#[test]
fn quiet_hours_from_the_environment_are_checked() {
    let lookup = |name: &str| match name {
        "TELEGRAM_BOT_TOKEN" => Some("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw".to_owned()),
        "TELEGRAM_CHAT_ID" => Some("-100".to_owned()),
        "TELEGRAM_QUIET_HOURS" => Some("22:00-7:00 Mars/Base".to_owned()),
        _ => None,
    };
    let err = tracing_telegram::Builder::from_lookup(lookup)
        .unwrap_err()
        .to_string();
    assert!(err.contains("TELEGRAM_QUIET_HOURS"), "{err}");
}
