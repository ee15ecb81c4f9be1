//! [`Limits`]: how much an alert shows, and how much the layer holds.

use std::time::Duration;

use crate::channel::DEFAULT_QUEUE_CAPACITY;
use crate::guard::DEFAULT_DROP_TIMEOUT;
use crate::render;

/// The bounds: how much of a record an alert shows, how many records wait
/// for the worker, and how long dropping the guard waits.
#[derive(Debug, Clone)]
#[must_use]
pub struct Limits {
    pub(in crate::builder) render: render::Limits,
    pub(in crate::builder) queue_capacity: usize,
    pub(in crate::builder) drop_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            render: render::Limits::default(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            drop_timeout: DEFAULT_DROP_TIMEOUT,
        }
    }
}

impl Limits {
    /// How many span-trace lines and backtrace frames an alert keeps; 0
    /// shows none (env `ALERT_MAX_TRACEBACK_LINES`). Default 15.
    pub fn traceback_lines(mut self, lines: usize) -> Self {
        self.render.max_traceback_lines = lines;
        self
    }

    /// The longest field value shown, in characters; longer values end
    /// with `…`. Default 500.
    pub fn field_len(mut self, chars: usize) -> Self {
        self.render.max_field_len = chars;
        self
    }

    /// The most fields shown per alert; the rest are counted. Default 30.
    pub fn fields(mut self, fields: usize) -> Self {
        self.render.max_fields = fields;
        self
    }

    /// How many extra messages an alert too long for one message may take
    /// (each within Telegram's 4096-unit limit); beyond that it is cut and
    /// marked as truncated. Default 3; 0 always cuts; at most 20.
    pub fn continuation_messages(mut self, messages: usize) -> Self {
        self.render.max_continuation_messages = messages;
        self
    }

    /// Capacity of the queue between the application and the worker. When
    /// it is full, new records are dropped and counted (the digest names
    /// them by callsite). An eighth more is kept in reserve for callsites
    /// that are not flooding, so that a storm from one callsite cannot
    /// starve the first occurrence of another. Default 1024.
    pub fn queue_capacity(mut self, records: usize) -> Self {
        self.queue_capacity = records;
        self
    }

    /// How long dropping the [`TelegramGuard`](crate::TelegramGuard)
    /// (without calling [`shutdown`](crate::TelegramGuard::shutdown)) waits
    /// for pending alerts. Default 2 s.
    pub fn drop_timeout(mut self, timeout: Duration) -> Self {
        self.drop_timeout = timeout;
        self
    }
}
