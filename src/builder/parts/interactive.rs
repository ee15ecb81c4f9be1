//! [`Interactive`]: buttons on alerts.

use std::time::Duration;

use crate::alert::AlertLevel;
use crate::chat::Destination;
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

    /// Escalates an alert of `level` (Error or Critical; other levels are
    /// never escalated) that nobody acknowledged or muted within `after`
    /// (1 s to 7 days) and that did not resolve: once, with a notifying
    /// reply to the alert that mentions the [`on_call`](Self::on_call)
    /// people, and a message to [`escalate_to`](Self::escalate_to) if set.
    /// In a fleet, exactly one process escalates, and a press in any
    /// process cancels it. Off by default (env
    /// `TELEGRAM_ESCALATE_AFTER_MINUTES`: `15` for both levels, or
    /// `error=30,critical=5`). During [quiet hours](crate::QuietHours) an
    /// escalation below Critical is sent without a sound, like its alert.
    pub fn escalate_after(mut self, level: AlertLevel, after: Duration) -> Self {
        let escalation = &mut self.0.escalation;
        match level {
            AlertLevel::Error => escalation.error = Some(after),
            AlertLevel::Critical => escalation.critical = Some(after),
            _ => {}
        }
        self
    }

    /// Whom an escalation mentions: Telegram `@usernames` and/or numeric
    /// user ids (for people without a username), e.g. `["@alice_ops",
    /// "4242"]` (env `TELEGRAM_ON_CALL`, comma-separated). A malformed one
    /// is an [`Error`](crate::Error) naming `interactive.on_call`.
    pub fn on_call<S: Into<String>>(mut self, people: impl IntoIterator<Item = S>) -> Self {
        self.0.escalation.on_call = people.into_iter().map(Into::into).collect();
        self
    }

    /// Also sends each escalation to `destination` (an on-call group or
    /// topic), with the alert's title and a link to it (env
    /// `TELEGRAM_ESCALATION_CHAT_ID`).
    pub fn escalate_to(mut self, destination: Destination) -> Self {
        self.0.escalation.to = Some(destination);
        self
    }
}
