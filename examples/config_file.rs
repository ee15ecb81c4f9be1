//! Configuration from the application's own TOML file: the settings table
//! of the README, with the variables' names in lower case.
//!
//! ```text
//! cargo run --example config_file [path/to/telegram.toml]
//! ```
//!
//! Without a path it reads the file below, pointed at the built-in fake
//! Bot API, and prints what the bot would have posted.

use std::time::Duration;

use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{Builder, Settings};

mod support;

/// What a service's `telegram.toml` might hold (`{api_url}` and `{token}`
/// are filled in with the fake Bot API's).
const EXAMPLE: &str = r#"
telegram_bot_token = "{token}"
telegram_chat_id = -1001234567890
telegram_api_url = "{api_url}"
monitoring_service = "billing"
monitoring_env = "staging"
monitoring_ignored_paths = ["/health", "/ready"]
alert_rate_limit_minutes = 5
slow_request_threshold_seconds = 1.5
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (text, mock) = match std::env::args().nth(1) {
        Some(path) => (std::fs::read_to_string(path)?, None),
        None => {
            let mock = MockTelegram::start()?;
            let text = EXAMPLE
                .replace("{token}", mock.token())
                .replace("{api_url}", mock.url());
            (text, Some(mock))
        }
    };
    let settings: Settings = toml::from_str(&text)?;
    println!("settings: {settings:?}\n");
    let (layer, guard) = Builder::from_settings(&settings)?.build()?;
    support::install(layer);

    tracing::error!(invoice = 1042, "invoice could not be rendered");

    let stats = guard.shutdown(Duration::from_secs(5));
    support::Target { mock }.print(&stats);
    Ok(())
}
