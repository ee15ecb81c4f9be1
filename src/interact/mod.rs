//! Interactive alerts: chat members act on an alert where it arrives —
//! acknowledge it, mute its kind for a while, unmute it.
//!
//! In: the Bot API's updates (button presses, `callback_query`), long-polled
//! by the worker while this process leads (alone, or holding the fleet's
//! leader lock in Redis). Out: a [`Press`] the worker carries out (notes on
//! the alert, a mute the pipeline honours, shared through the fleet), or a
//! refusal, and for each press the toast its presser sees.
//!
//! - [`callback`]: the signed data each button carries;
//! - [`actions`]: the buttons an alert offers, and what members did to it
//!   (acknowledged, muted) as the alert shows it;
//! - [`updates`]: the Bot API's update objects, as far as a press needs;
//! - [`press`]: who may press, and what a press asks for;
//! - [`poller`]: the long polls for presses, and the answers owed;
//! - [`mutes`]: the kinds chat members muted, as a process knows them;
//! - [`escalation`]: alerts nobody acknowledged in time, escalated once.
//!
//! What the other stages do for it stays with them, each a thin part: the
//! worker drives the poller and carries presses out (`worker/interact.rs`),
//! the pipeline keeps muted kinds out of the chat (`pipeline/mutes.rs`),
//! and the fleet shares the leader lock and mutes through Redis
//! (`fleet/interactive.rs`: the fleet folder is the only code that knows
//! Redis).
//!
//! Off by default: a bot whose updates another program consumes (a
//! webhook, a second poller) answers `getUpdates` with 409 Conflict, and
//! then this turns itself off (alerts keep flowing, without buttons).

pub(crate) mod actions;
pub(crate) mod callback;
pub(crate) mod escalation;
pub(crate) mod mutes;
pub(crate) mod poller;
pub(crate) mod press;
pub(crate) mod updates;

use std::time::Duration;

/// How interactive alerts are configured (`interactive`, `mute_options`,
/// `allowed_users`, `interactive_poll_timeout`).
#[derive(Debug, Clone)]
pub(crate) struct InteractConfig {
    pub(crate) enabled: bool,
    /// The mute buttons' durations, in order.
    pub(crate) mute_options: Vec<Duration>,
    /// Telegram user ids who may press; empty: any member of an alert chat.
    pub(crate) allowed_users: Vec<i64>,
    /// How long one `getUpdates` call waits for a press (the fleet's leader
    /// lock lives three times as long).
    pub(crate) poll_timeout: Duration,
    /// Unacknowledged alerts escalated (off by default).
    pub(crate) escalation: escalation::EscalationConfig,
}

impl Default for InteractConfig {
    fn default() -> Self {
        InteractConfig {
            enabled: false,
            mute_options: vec![Duration::from_secs(3600), Duration::from_secs(24 * 3600)],
            allowed_users: Vec::new(),
            poll_timeout: Duration::from_secs(10),
            escalation: escalation::EscalationConfig::default(),
        }
    }
}

impl InteractConfig {
    /// How long the fleet's leader lock lives without renewal: a leader
    /// renews it before every poll, so three polls' worth.
    pub(crate) fn leader_ttl(&self) -> Duration {
        self.poll_timeout * 3
    }
}

/// Most mute buttons (one row of an inline keyboard, with ✅ Ack).
pub(crate) const MAX_MUTE_OPTIONS: usize = 4;

/// The longest mute a button may offer.
pub(crate) const MAX_MUTE: Duration = Duration::from_secs(7 * 24 * 3600);
