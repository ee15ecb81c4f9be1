//! Shared by the examples: post to a real chat when `TELEGRAM_BOT_TOKEN` is
//! set, otherwise to the built-in fake Bot API, and print what it received.

use tracing_subscriber::layer::Layered;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{filter::LevelFilter, fmt, Registry};
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{Builder, FilteredLayer, Stats};

/// The subscriber below the layer: the registry and a console logger.
type Console = Layered<
    tracing_subscriber::filter::Filtered<fmt::Layer<Registry>, LevelFilter, Registry>,
    Registry,
>;

/// Installs `layer` globally, next to a console logger at INFO.
pub fn install(layer: FilteredLayer<Console>) {
    tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_target(false)
                .with_filter(LevelFilter::INFO),
        )
        .with(layer)
        .init();
}

/// Where an example's alerts go.
pub struct Target {
    /// The fake Bot API, when no real token is configured.
    pub mock: Option<MockTelegram>,
}

impl Target {
    /// A builder for a real chat (from the environment) or for a fake one.
    #[allow(dead_code)] // the config_file example configures itself
    pub fn builder(service: &str) -> Result<(Builder, Target), Box<dyn std::error::Error>> {
        if std::env::var_os("TELEGRAM_BOT_TOKEN").is_some() {
            println!("Posting to the chat in TELEGRAM_CHAT_ID.");
            return Ok((Builder::from_env()?, Target { mock: None }));
        }
        let mock = MockTelegram::start()?;
        println!(
            "No TELEGRAM_BOT_TOKEN set: using the built-in fake Bot API at {}.\n",
            mock.url()
        );
        let builder = Builder::new()
            .bot_token(mock.token())
            .chat_id(-1001234567890_i64)
            .api_url(mock.url())
            .environment("demo")
            .service(service);
        Ok((builder, Target { mock: Some(mock) }))
    }

    /// Prints every message the fake Bot API received, as a reader would see it.
    pub fn print(&self, stats: &Stats) {
        if let Some(mock) = &self.mock {
            for message in mock.messages() {
                let silent = if message.disable_notification {
                    " (silent)"
                } else {
                    ""
                };
                println!(
                    "\n──────── message #{}{silent} ────────",
                    message.message_id
                );
                println!("{}", message.plain_text());
            }
        }
        println!(
            "\nsent {} of {} records ({} batched into digests, {} failed, {} dropped)",
            stats.sent, stats.accepted, stats.batched, stats.failed, stats.dropped
        );
    }
}
