//! Capture: everything that runs on the application's threads.
//!
//! In: `tracing` callbacks (spans created, recorded, entered, exited,
//! closed; events) and panics. Out: an owned [`Record`](crate::record::Record)
//! per captured event, slow span or panic, handed to the
//! [`Producer`](crate::channel::Producer) with `try_send` (never blocking);
//! or, for a repeat of an alert inside its dedup window, one count at the
//! repeat gate (`gate/`). Nothing here waits, allocates much, or
//! panics: a level comparison rejects ignored events before anything else.
//!
//! - [`layer`]: the `Layer` impl, [`TelegramLayer`]; [`filtered`]: the
//!   layer behind its per-layer filter, as `build()` returns it.
//! - [`span_state`]: what each span keeps (skipped, fields, timer);
//!   [`timing`]: the timer of a span judged slow.
//! - [`fields`]: the field visitor, the one parser of `telegram.*` fields;
//!   [`field_pool`]: span field buffers reused across spans.
//! - [`shape`]: what a span's callsite declares, read once per span.
//! - [`skip`], [`slow`], [`feedback`]: what is hidden, what is slow, and the
//!   guard against the crate alerting on its own HTTP and Redis stack.
//! - [`panic`], [`backtrace`]: the panic hook and stack capture.
//! - [`otel`]: the trace id `tracing-opentelemetry` gave the event's span.
//! - [`wants`]: what the layer wants to see, per callsite, and the
//!   per-layer filter that tells the registry ([`TelegramFilter`]).

pub(crate) mod backtrace;
pub(crate) mod event;
pub(crate) mod feedback;
pub(crate) mod field_pool;
pub(crate) mod fields;
pub(crate) mod filtered;
pub(crate) mod layer;
pub(crate) mod otel;
pub(crate) mod panic;
pub(crate) mod request;
pub(crate) mod shape;
pub(crate) mod skip;
pub(crate) mod slow;
pub(crate) mod span_state;
pub(crate) mod span_table;
pub(crate) mod timing;
pub(crate) mod wants;

use std::time::Duration;

use tracing_core::Level;

pub use filtered::FilteredLayer;
pub use layer::TelegramLayer;
pub(crate) use skip::SkipRules;
pub(crate) use slow::SlowRules;
pub use wants::TelegramFilter;

/// What the layer captures.
#[derive(Debug, Clone)]
pub(crate) struct CaptureConfig {
    /// Events at or above this level are alerted.
    pub(crate) min_level: Level,
    /// Events at or above this level (and below `min_level`) go to the digest.
    pub(crate) digest_level: Option<Level>,
    /// Spans at or above this level are captured (and HTTP request spans,
    /// spans with `telegram.*` fields and spans of skipped targets at any).
    pub(crate) span_level: Level,
    pub(crate) skip: SkipRules,
    pub(crate) slow: SlowRules,
    /// Capture a backtrace for every alerted event.
    pub(crate) capture_backtrace: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            min_level: Level::ERROR,
            digest_level: Some(Level::WARN),
            span_level: Level::INFO,
            skip: SkipRules::new(&["/health".to_owned(), "/metrics".to_owned()], Vec::new()),
            slow: SlowRules::default(),
            capture_backtrace: false,
        }
    }
}

/// How the panic hook reports a panic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PanicConfig {
    /// Report panics as Critical alerts (`capture_panics`). Off, the hook
    /// is still installed when the application has hooks of its own
    /// (`before_send`, …): it keeps their panics off stderr, where an
    /// always-panicking hook would print once per record.
    pub(crate) report: bool,
    /// How long the hook waits for the alert to be delivered.
    pub(crate) flush_timeout: Duration,
    /// Backtrace frames kept; 0 captures none.
    pub(crate) max_frames: usize,
}

impl Default for PanicConfig {
    fn default() -> Self {
        PanicConfig {
            report: true,
            flush_timeout: Duration::from_secs(2),
            max_frames: 15,
        }
    }
}

/// Metadata for unit tests of per-callsite decisions, from a callsite that
/// is never registered.
#[cfg(test)]
pub(crate) fn test_metadata(
    kind: tracing_core::Kind,
    level: Level,
    target: &'static str,
    name: &'static str,
    fields: &'static [&'static str],
) -> tracing_core::Metadata<'static> {
    use tracing_core::callsite::{Callsite, Identifier};
    use tracing_core::field::FieldSet;
    use tracing_core::{Interest, Metadata};

    struct Site;
    impl Callsite for Site {
        fn set_interest(&self, _: Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            unreachable!("never registered")
        }
    }
    static SITE: Site = Site;
    let fields = FieldSet::new(fields, Identifier(&SITE));
    Metadata::new(name, target, level, None, None, None, fields, kind)
}
