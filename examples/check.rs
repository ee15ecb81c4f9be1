//! Checks a deployment's configuration before it goes live: is the token
//! valid, and can the bot post to every configured chat and forum topic?
//!
//! ```text
//! TELEGRAM_BOT_TOKEN=… TELEGRAM_CHAT_ID=… cargo run --example check
//! ```
//!
//! It reads the same environment variables as `TelegramLayer::from_env`,
//! posts one silent test message per destination, prints what is wrong and
//! exits with status 1 if anything is. Without a token it checks against the
//! built-in fake Bot API, to show what the output looks like.

use std::process::ExitCode;
use std::time::Duration;

#[allow(dead_code)] // this example prints a report, not messages
mod support;

fn main() -> ExitCode {
    let built = support::Target::builder("config-check").and_then(|(builder, target)| {
        let (_layer, guard) = builder
            .panics(|p| p.report(false))
            .build::<tracing_subscriber::Registry>()?;
        Ok((guard, target))
    });
    let (guard, _target) = match built {
        Ok(built) => built,
        Err(error) => {
            eprintln!("❌ configuration error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let report = guard.check(Duration::from_secs(20));
    print!("{report}");
    let _ = guard.shutdown(Duration::from_secs(2));
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
