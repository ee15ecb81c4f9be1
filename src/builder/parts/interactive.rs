//! [`Interactive`]: buttons on alerts.

use std::time::Duration;

use crate::interact::InteractConfig;

/// Interactive alerts: alerts carry buttons — ✅ Ack, 🔕 1 h, 🔕 24 h —
/// that chat members press to acknowledge an alert or mute its kind (then
/// 🔔 Unmute). Off by default (env `TELEGRAM_INTERACTIVE`).
///
/// The worker long-polls the Bot API's `getUpdates` for presses (with a
/// fleet on Redis, only the process holding the leader lock does), so the
/// bot must have no webhook and no other program reading its updates: if
/// it has, Telegram answers 409 Conflict and interactivity turns itself off
/// (one stderr line, a [`Health`](crate::Health) reason); alerts keep
/// flowing. Needs deduplication (a dedup window above zero): buttons act on
/// an alert's kind. See the README's "Acting on alerts" and SECURITY.md for
/// who may press what.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Interactive(pub(in crate::builder) InteractConfig);

impl Interactive {
    /// Turns buttons on or off. Default `false`.
    pub fn enabled(mut self, on: bool) -> Self {
        self.0.enabled = on;
        self
    }

    /// The mute buttons' durations, in order (1 to 4 of them, whole
    /// minutes from 1 min to 7 days). Default 1 h and 24 h (env
    /// `TELEGRAM_MUTE_MINUTES`, e.g. `30,240`).
    pub fn mute_options(mut self, durations: impl IntoIterator<Item = Duration>) -> Self {
        self.0.mute_options = durations.into_iter().collect();
        self
    }

    /// Only these Telegram user ids may press an alert's buttons (others
    /// get a refusal); by default any member of an alert chat may (env
    /// `TELEGRAM_ALLOWED_USERS`, comma-separated).
    pub fn allowed_users(mut self, user_ids: impl IntoIterator<Item = i64>) -> Self {
        self.0.allowed_users = user_ids.into_iter().collect();
        self
    }

    /// How long one `getUpdates` long poll waits for a press (1 s to 50 s;
    /// default 10 s). The fleet's leader lock lives three times as long:
    /// when the leading process dies, another takes over within about four
    /// poll timeouts.
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.0.poll_timeout = timeout;
        self
    }
}
