//! [`Delivery`]: how messages reach the Bot API.

use std::time::Duration;

use crate::chat::ChatId;
use crate::delivery::pacing::Pacing;
use crate::delivery::retry::RetryPolicy;
use crate::delivery::DeliveryConfig;
use crate::quiet::QuietHours;

/// How messages reach the Bot API: the HTTP client and its timeouts, the
/// pace, the retries, and the chat told when the main one is lost.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Delivery {
    pub(in crate::builder) config: DeliveryConfig,
    pub(in crate::builder) fallback_chat: Option<ChatId>,
    pub(in crate::builder) quiet_hours: Option<QuietHours>,
}

impl Delivery {
    /// Sends through the application's own `reqwest::Client` (a proxy, a
    /// company CA or the system's roots, a local address). The crate still
    /// bounds every request with [`request_timeout`](Self::request_timeout);
    /// the client's own connect timeout applies. Without it, the client
    /// built here uses rustls with the webpki roots (the system's with the
    /// `native-roots` feature) and the proxies of
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.config.http_client = Some(client);
        self
    }

    /// TCP connect timeout of the client built here. Default 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Whole-request timeout towards the Bot API. Default 15 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// How fast messages may be sent. Default: [`Pacing::telegram`] (per
    /// chat 1/s with a burst of 3, 20/min to a group, 30/s overall), under
    /// which Telegram should never answer 429.
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.config.pacing = pacing;
        self
    }

    /// How transient failures (network, timeouts, 5xx) are retried.
    /// Default: [`RetryPolicy::default`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// The longest `retry_after` (from a 429) a message waits for; a
    /// message told to wait longer is counted as failed (its chat stays
    /// blocked for the time Telegram asked). Default 5 min.
    pub fn max_retry_after(mut self, limit: Duration) -> Self {
        self.config.max_retry_after = limit;
        self
    }

    /// Sets `protect_content` on every message (no forwarding or saving).
    /// Default `false`.
    pub fn protect_content(mut self, protect: bool) -> Self {
        self.config.protect_content = protect;
        self
    }

    /// A chat told (with a notifying message) when alerts stop reaching
    /// the main chat: the bot was removed from it, or it was deleted. (A
    /// revoked token reaches no chat: then only stderr, `health()` and the
    /// [`Hooks::on_delivery_failure`](super::Hooks::on_delivery_failure)
    /// function say it.)
    pub fn fallback_chat(mut self, chat_id: impl Into<ChatId>) -> Self {
        self.fallback_chat = Some(chat_id.into());
        self
    }

    /// Quiet hours (env `TELEGRAM_QUIET_HOURS`, such as `22:00-07:00
    /// Europe/Berlin`): alerts below Critical are sent without a sound
    /// during them; Critical still rings, and digests are always silent.
    /// Default: none.
    pub fn quiet_hours(mut self, hours: QuietHours) -> Self {
        self.quiet_hours = Some(hours);
        self
    }
}
