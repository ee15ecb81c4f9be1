//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod redis;

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, SentMessage};
use tracing_telegram::{Builder, Pacing, Stats, TelegramGuard, TelegramLayer};

/// The group chat every test posts to.
pub const CHAT: i64 = -1_001_234_567_890;

/// A builder pointed at `mock`, with recognisable service and environment.
/// Pacing is off: tests that are not about pacing should not wait for it
/// (the pacing tests set it, with a virtual clock). Deduplication is off, so
/// that "failure 1" and "failure 2" are two alerts (the dedup tests set it).
pub fn builder(mock: &MockTelegram) -> Builder {
    TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(CHAT)
        .api_url(mock.url())
        .service("orders-api")
        .environment("staging")
        .pacing(Pacing::disabled())
        .rate_limit(std::time::Duration::ZERO)
}

/// Runs `body` with only `layer` installed (thread-local, so tests do not
/// interfere), then shuts the guard down and returns its stats.
pub fn run_with(layer: TelegramLayer, guard: TelegramGuard, body: impl FnOnce()) -> Stats {
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, body);
    guard.shutdown(Duration::from_secs(10))
}

/// Asserts the accounting invariant of `Stats`.
pub fn assert_accounted(stats: &Stats) {
    assert_eq!(
        stats.accepted,
        stats.sent + stats.deduplicated + stats.batched + stats.dropped + stats.failed,
        "every accepted record must be accounted for: {stats:?}"
    );
}

/// The messages that notify (alerts), leaving out silent ones (digests,
/// tallies, Info).
pub fn notifying(messages: &[SentMessage]) -> Vec<&SentMessage> {
    messages
        .iter()
        .filter(|m| !m.disable_notification)
        .collect()
}
