//! The audit hooks: `on_sent`, told about every message Telegram accepted,
//! and `on_delivery_failure`, told about every one it did not.

use std::fmt;
use std::sync::Arc;

use crate::alert::AlertLevel;
use crate::chat::ChatId;
use crate::health::Health;

/// A message Telegram accepted, as told to the `on_sent` hook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentAlert {
    /// The alert's level (`Info` for digests and notices).
    pub level: AlertLevel,
    /// A short title: the alert's title or first line, `Digest`, or the notice.
    pub title: String,
    /// The chat it went to (after any migration).
    pub chat_id: ChatId,
    /// The forum topic, if any.
    pub thread_id: Option<i64>,
    /// The `message_id` Telegram assigned.
    pub message_id: i64,
}

/// The hook, called in the worker thread.
#[derive(Clone)]
pub(crate) struct OnSent(pub(crate) Arc<dyn Fn(&SentAlert) + Send + Sync>);

impl fmt::Debug for OnSent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnSent(..)")
    }
}

/// Messages that could not be delivered, as told to the
/// `on_delivery_failure` hook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryFailure {
    /// Why, without the token.
    pub reason: String,
    /// How many alerts (records) were lost with them (0 for tallies,
    /// digests and notices).
    pub records: u64,
    /// Delivery's health after the failure: [`Health::Dark`] when nothing
    /// reaches the main chat any more.
    pub health: Health,
}

/// The `on_delivery_failure` hook, called in the worker thread.
#[derive(Clone)]
pub(crate) struct OnFailure(pub(crate) Arc<dyn Fn(&DeliveryFailure) + Send + Sync>);

impl fmt::Debug for OnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnFailure(..)")
    }
}
