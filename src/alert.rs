//! Alert levels and manual alerts.

use std::borrow::Cow;
use std::fmt;

use tracing_core::Level;

/// How loud an alert is.
///
/// `Critical`, `Error` and `Warning` notify the chat; `Info` (and digests)
/// are delivered silently (`disable_notification`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertLevel {
    /// Something is down or a panic happened.
    Critical,
    /// An operation failed.
    Error,
    /// Something is degraded or slow.
    Warning,
    /// For information; sent silently.
    Info,
}

impl AlertLevel {
    /// The level a `tracing` event maps to: ERROR → `Error`, WARN → `Warning`,
    /// everything more verbose → `Info`.
    pub fn from_tracing(level: &Level) -> Self {
        match *level {
            Level::ERROR => AlertLevel::Error,
            Level::WARN => AlertLevel::Warning,
            _ => AlertLevel::Info,
        }
    }

    /// Parses `critical`, `error`, `warning`/`warn` or `info` (any case), as
    /// used by the `telegram.level` field convention.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "critical" | "crit" | "fatal" => Some(AlertLevel::Critical),
            "error" => Some(AlertLevel::Error),
            "warning" | "warn" => Some(AlertLevel::Warning),
            "info" => Some(AlertLevel::Info),
            _ => None,
        }
    }

    /// Whether messages of this level are sent without a notification sound.
    pub fn is_silent(self) -> bool {
        self == AlertLevel::Info
    }

    /// The emoji that leads a message of this level.
    pub(crate) fn emoji(self) -> &'static str {
        match self {
            AlertLevel::Critical => "🚨",
            AlertLevel::Error => "🔴",
            AlertLevel::Warning => "🟠",
            AlertLevel::Info => "🔵",
        }
    }

    /// The upper-case label shown in messages.
    pub fn label(self) -> &'static str {
        match self {
            AlertLevel::Critical => "CRITICAL",
            AlertLevel::Error => "ERROR",
            AlertLevel::Warning => "WARNING",
            AlertLevel::Info => "INFO",
        }
    }
}

impl fmt::Display for AlertLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A manual alert, sent through an [`AlertHandle`](crate::AlertHandle).
///
/// It takes the same path as alerts from `tracing` events: sanitizing,
/// rendering (every part escaped and length-limited) and delivery.
///
/// ```
/// use tracing_telegram::{Alert, AlertLevel};
///
/// let alert = Alert::new(AlertLevel::Critical, "Payment system error")
///     .with_text("A payment processing error occurred")
///     .detail("type", "payment")
///     .detail("status", "failed");
/// assert_eq!(alert.details().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub(crate) level: AlertLevel,
    pub(crate) title: String,
    pub(crate) text: Option<String>,
    pub(crate) details: Vec<(Cow<'static, str>, String)>,
}

impl Alert {
    /// An alert with a level and a one-line title.
    pub fn new(level: AlertLevel, title: impl Into<String>) -> Self {
        Alert {
            level,
            title: title.into(),
            text: None,
            details: Vec::new(),
        }
    }

    /// Adds a longer explanation under the title.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Adds a key/value detail; details are shown in the order they were added.
    pub fn detail(mut self, key: impl Into<Cow<'static, str>>, value: impl fmt::Display) -> Self {
        self.details.push((key.into(), value.to_string()));
        self
    }

    /// The alert's level.
    pub fn level(&self) -> AlertLevel {
        self.level
    }

    /// The alert's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The longer explanation under the title, if any.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The details, in the order they were added.
    pub fn details(&self) -> &[(Cow<'static, str>, String)] {
        &self.details
    }

    /// Changes the level (e.g. in a `before_send` hook).
    pub fn set_level(&mut self, level: AlertLevel) {
        self.level = level;
    }

    /// Changes the title.
    pub fn set_title(&mut self, title: impl Into<String>) {
        self.title = title.into();
    }

    /// Changes or removes the longer explanation.
    pub fn set_text(&mut self, text: Option<String>) {
        self.text = text;
    }

    /// The details, to edit, reorder or remove.
    pub fn details_mut(&mut self) -> &mut Vec<(Cow<'static, str>, String)> {
        &mut self.details
    }
}
