//! [`Hooks`]: the application's own functions, called in the worker.

use std::sync::Arc;

use crate::alert::Alert;
use crate::hooks::{BeforeSend, DeliveryFailure, OnFailure, OnSent, SentAlert};

/// The application's functions, called in the worker thread. The layer
/// ignores that thread, so logging from them with `tracing` cannot loop; a
/// panic in one is caught and reported once per window.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Hooks {
    pub(in crate::builder) before_send: Option<BeforeSend>,
    pub(in crate::builder) on_sent: Option<OnSent>,
    pub(in crate::builder) on_failure: Option<OnFailure>,
}

impl Hooks {
    /// A last look at every alert before it is rendered: it may change the
    /// level, title, text and details, and returning `false` drops the
    /// alert (counted in `Stats::dropped` and `Stats::filtered`). Built-in
    /// and custom redaction run after it.
    ///
    /// The function sees every record, repeats included, so setting one
    /// turns off the counting of repeats on the calling thread (see
    /// [`Dedup`](super::Dedup)): each repeat is then captured and queued.
    pub fn before_send<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut Alert) -> bool + Send + Sync + 'static,
    {
        self.before_send = Some(BeforeSend(Arc::new(hook)));
        self
    }

    /// Called for every message Telegram accepted (level, title, chat,
    /// message id): an audit trail of what was posted.
    pub fn on_sent<F>(mut self, hook: F) -> Self
    where
        F: Fn(&SentAlert) + Send + Sync + 'static,
    {
        self.on_sent = Some(OnSent(Arc::new(hook)));
        self
    }

    /// Called for every message Telegram did not accept in the end (after
    /// retries), with the reason and delivery's [`Health`](crate::Health):
    /// for example to page through another channel when it turns
    /// [`Health::Dark`](crate::Health::Dark).
    pub fn on_delivery_failure<F>(mut self, hook: F) -> Self
    where
        F: Fn(&DeliveryFailure) + Send + Sync + 'static,
    {
        self.on_failure = Some(OnFailure(Arc::new(hook)));
        self
    }

    /// Whether any function is set.
    pub(in crate::builder) fn any(&self) -> bool {
        self.before_send.is_some() || self.on_sent.is_some() || self.on_failure.is_some()
    }
}
