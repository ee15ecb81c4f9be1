//! Configuration from the application's own files: `Settings` deserialized
//! from TOML (and JSON) configures the layer as the environment would, with
//! the same names, defaults and errors.

use crate::common;

use std::time::Duration;

use tracing::error;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{Builder, Settings};

fn settings(mock: &MockTelegram, extra: &str) -> Settings {
    let text = format!(
        "telegram_bot_token = \"{}\"\ntelegram_chat_id = {}\ntelegram_api_url = \"{}\"\n{extra}",
        mock.token(),
        common::CHAT,
        mock.url()
    );
    toml::from_str(&text).unwrap()
}

#[test]
fn a_toml_file_configures_the_layer_like_the_environment() {
    let mock = MockTelegram::start().unwrap();
    let settings = settings(
        &mock,
        "monitoring_service = \"billing\"\nmonitoring_env = \"staging\"\nalert_rate_limit_minutes = 5\n",
    );
    let (layer, guard) = Builder::from_settings(&settings)
        .unwrap()
        .delivery(|d| d.pacing(tracing_telegram::Pacing::disabled()))
        .build()
        .unwrap();
    let stats = common::run_with(layer, guard, || {
        for attempt in 0..3 {
            error!(attempt, "invoice could not be rendered");
        }
    });
    assert_eq!(
        (stats.sent, stats.deduplicated),
        (1, 2),
        "dedup on: {stats:?}"
    );
    let text = mock.messages()[0].plain_text();
    assert!(text.contains("🔴 ERROR · billing · staging"), "{text}");
}

#[test]
fn bad_settings_are_errors_naming_them() {
    let mock = MockTelegram::start().unwrap();
    let error = Builder::from_settings(&settings(&mock, "alert_rate_limit_minutes = \"soon\"\n"))
        .unwrap_err();
    assert!(
        error.to_string().contains("ALERT_RATE_LIMIT_MINUTES"),
        "{error}"
    );
    let typo = toml::from_str::<Settings>("alert_rate_limit_minute = 5\n").unwrap_err();
    assert!(
        typo.to_string().contains("alert_rate_limit_minute"),
        "{typo}"
    );
    let missing = Builder::from_settings(&Settings::default()).unwrap_err();
    assert!(
        missing.to_string().contains("TELEGRAM_BOT_TOKEN"),
        "{missing}"
    );
}

#[test]
fn debug_output_never_shows_the_token() {
    let mock = MockTelegram::start().unwrap();
    let settings = settings(&mock, "");
    let shown = format!("{settings:?}");
    assert!(!shown.contains(mock.token()), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    // Disabled by the file: built, and does nothing.
    let off: Settings = toml::from_str("monitoring_enabled = false\n").unwrap();
    let (layer, guard) = Builder::from_settings(&off)
        .unwrap()
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    assert!(!layer.inner().is_enabled());
    let _ = guard.shutdown(Duration::from_secs(1));
}
