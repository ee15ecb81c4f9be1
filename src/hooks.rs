//! The user's hooks, and the one way the crate calls them.
//!
//! - `before_send` ([`BeforeSend`]): the user's last look at an alert, in
//!   the pipeline; it may edit or drop it.
//! - `on_sent` ([`OnSent`], told a [`SentAlert`]) and `on_delivery_failure`
//!   ([`OnFailure`], told a [`DeliveryFailure`]): the audit hooks, in
//!   delivery.
//!
//! Every hook runs on the worker thread through [`call_user_hook`], which
//! catches a panic (the worker must not die of the user's code) and marks
//! the thread meanwhile, so that the panic hook leaves such a panic to the
//! worker to report once. A leaf: it depends on leaf types only.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use crate::alert::{Alert, AlertLevel};
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

/// The `before_send` hook: may edit an alert; `false` drops it.
#[derive(Clone)]
pub(crate) struct BeforeSend(pub(crate) Arc<dyn Fn(&mut Alert) -> bool + Send + Sync>);

impl fmt::Debug for BeforeSend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BeforeSend(..)")
    }
}

thread_local! {
    /// Set while the worker runs a user hook.
    static IN_USER_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Runs a user hook, catching its panic: the payload of a panic, or what
/// the hook returned. While it runs, the panic hook leaves its panics to
/// the worker, which reports them once (not once per record on stderr).
pub(crate) fn call_user_hook<R>(
    hook: impl FnOnce() -> R,
) -> Result<R, Box<dyn std::any::Any + Send>> {
    let _ = IN_USER_HOOK.try_with(|flag| flag.set(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook));
    let _ = IN_USER_HOOK.try_with(|flag| flag.set(false));
    outcome
}

/// Whether the calling thread is running a user hook for the worker.
pub(crate) fn in_user_hook() -> bool {
    IN_USER_HOOK.try_with(Cell::get).unwrap_or(false)
}
