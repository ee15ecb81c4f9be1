//! `TelegramLayer`: the `tracing_subscriber::Layer` that captures records.
//!
//! Everything here runs on the application's threads, so it does as little as
//! it can: a level comparison rejects ignored events before anything else,
//! captured events become an owned [`Record`] that is handed to the worker
//! with `try_send` (never blocking), and nothing here can panic.

use std::cell::Cell;
use std::sync::Arc;
use std::time::SystemTime;

use tracing_core::span::{Attributes, Id, Record as SpanValues};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::alert::AlertLevel;
use crate::builder::Builder;
use crate::error::Error;
use crate::guard::TelegramGuard;
use crate::record::{FieldCollector, Fields, Origin, Record, SpanRecord};
use crate::skip::SkipRules;
use crate::worker::Producer;

/// Targets whose events never become alerts: this crate and the stack its
/// worker talks through. Their events would otherwise feed back into the
/// layer (an HTTP error while sending an alert producing another alert).
const INTERNAL_TARGETS: &[&str] = &[
    "tracing_telegram",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tokio",
    "mio",
    "want",
    "redis",
];

thread_local! {
    /// Set on the worker thread: nothing that happens there is captured,
    /// whatever its target.
    static ON_WORKER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as the worker's.
pub(crate) fn mark_worker_thread() {
    // During thread teardown the slot may be gone; nothing to mark then.
    let _ = ON_WORKER_THREAD.try_with(|flag| flag.set(true));
}

fn on_worker_thread() -> bool {
    ON_WORKER_THREAD.try_with(Cell::get).unwrap_or(false)
}

fn is_internal_target(target: &str) -> bool {
    INTERNAL_TARGETS.iter().any(|internal| {
        target
            .strip_prefix(internal)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Span extension: this span (and so everything inside it) is not reported.
#[derive(Debug)]
struct Skipped;

/// Span extension: the span's fields, shared with every record captured
/// inside it.
#[derive(Debug)]
struct SpanFields(Arc<Fields>);

/// A `tracing_subscriber` layer that sends error events to Telegram.
///
/// Build it with [`TelegramLayer::builder`] or [`TelegramLayer::from_env`],
/// register it with `tracing_subscriber::registry().with(layer)`, and keep the
/// returned [`TelegramGuard`] alive for as long as alerts should flow.
///
/// A span with the field `telegram.skip = true` hides itself and everything
/// inside it. An event field `telegram.level = "critical"` raises the alert's
/// level; `telegram.title = "..."` sets its title.
#[derive(Debug, Clone)]
pub struct TelegramLayer {
    producer: Option<Arc<Producer>>,
    min_level: Level,
    skip: Arc<SkipRules>,
}

impl TelegramLayer {
    /// Starts configuring a layer.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Builds a layer from the environment variables listed in the crate
    /// documentation (`Builder::from_env()?.build()`).
    pub fn from_env() -> Result<(TelegramLayer, TelegramGuard), Error> {
        Builder::from_env()?.build()
    }

    /// A layer that captures nothing (`MONITORING_ENABLED=false`).
    pub(crate) fn disabled() -> Self {
        TelegramLayer {
            producer: None,
            min_level: Level::ERROR,
            skip: Arc::default(),
        }
    }

    pub(crate) fn new(producer: Arc<Producer>, min_level: Level, skip: SkipRules) -> Self {
        TelegramLayer {
            producer: Some(producer),
            min_level,
            skip: Arc::new(skip),
        }
    }

    /// Whether this layer sends anything at all.
    pub fn is_enabled(&self) -> bool {
        self.producer.is_some()
    }

    fn active(&self) -> Option<&Producer> {
        match &self.producer {
            Some(producer) if !on_worker_thread() => Some(producer),
            _ => None,
        }
    }
}

impl<S> Layer<S> for TelegramLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if self.active().is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let parent_skipped = span
            .parent()
            .is_some_and(|parent| parent.extensions().get::<Skipped>().is_some());
        if parent_skipped || self.skip.skips_target(attrs.metadata().target()) {
            span.extensions_mut().insert(Skipped);
            return;
        }
        let mut collector = FieldCollector::default();
        attrs.record(&mut collector);
        if collector.skip || self.skip.skips_path(&collector.fields) {
            span.extensions_mut().insert(Skipped);
            return;
        }
        let mut fields = collector.fields;
        if let Some(message) = collector.message {
            fields.push(("message".into(), crate::record::FieldValue::Str(message)));
        }
        if !fields.is_empty() {
            span.extensions_mut().insert(SpanFields(Arc::new(fields)));
        }
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, ctx: Context<'_, S>) {
        if self.active().is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if extensions.get_mut::<Skipped>().is_some() {
            return;
        }
        let mut collector = FieldCollector::default();
        values.record(&mut collector);
        if collector.skip {
            extensions.remove::<SpanFields>();
            extensions.insert(Skipped);
            return;
        }
        match extensions.get_mut::<SpanFields>() {
            Some(SpanFields(fields)) => collector.merge_into(Arc::make_mut(fields)),
            None if !collector.fields.is_empty() => {
                extensions.insert(SpanFields(Arc::new(collector.fields)));
            }
            None => {}
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        // The cheap test first: most events are more verbose than min_level.
        if *metadata.level() > self.min_level {
            return;
        }
        let Some(producer) = self.active() else {
            return;
        };
        if is_internal_target(metadata.target()) || self.skip.skips_target(metadata.target()) {
            return;
        }
        let Some(spans) = enclosing_spans(event, &ctx) else {
            return; // inside a skipped span
        };
        let mut collector = FieldCollector::default();
        event.record(&mut collector);
        if collector.skip {
            return;
        }
        producer.submit(Record {
            level: collector
                .level
                .unwrap_or_else(|| AlertLevel::from_tracing(metadata.level())),
            origin: Origin::Event(metadata),
            title: collector.title,
            message: collector.message.unwrap_or_default(),
            fields: collector.fields,
            spans,
            timestamp: SystemTime::now(),
        });
    }
}

/// The event's enclosing spans, root first; `None` if any of them is skipped.
fn enclosing_spans<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> Option<Vec<SpanRecord>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(scope) = ctx.event_scope(event) else {
        return Some(Vec::new());
    };
    let mut spans = Vec::new();
    for span in scope.from_root() {
        let extensions = span.extensions();
        if extensions.get::<Skipped>().is_some() {
            return None;
        }
        spans.push(SpanRecord {
            name: span.name(),
            target: span.metadata().target(),
            fields: extensions.get::<SpanFields>().map(|f| Arc::clone(&f.0)),
        });
    }
    Some(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_targets_match_whole_path_segments() {
        assert!(is_internal_target("hyper"));
        assert!(is_internal_target("hyper::proto::h1"));
        assert!(is_internal_target("tracing_telegram::worker"));
        assert!(!is_internal_target("hyperion"));
        assert!(!is_internal_target("tower_http::trace::on_failure"));
        assert!(!is_internal_target("my_app::redis_cache"));
    }
}

#[cfg(all(test, feature = "testing"))]
mod worker_thread_tests {
    use std::time::Duration;

    use tracing_subscriber::prelude::*;

    use crate::testing::MockTelegram;
    use crate::TelegramLayer;

    /// Counts what the layer accepts from a thread, marked as the worker's or not.
    fn accepted_from_thread(mark_as_worker: bool) -> u64 {
        let mock = MockTelegram::start().unwrap();
        let (layer, guard) = TelegramLayer::builder()
            .bot_token(mock.token())
            .chat_id(-100)
            .api_url(mock.url())
            .build()
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        std::thread::spawn(move || {
            if mark_as_worker {
                super::mark_worker_thread();
            }
            tracing::subscriber::with_default(subscriber, || {
                tracing::error!(target: "my_app", "an ordinary application error");
            });
        })
        .join()
        .unwrap();
        guard.shutdown(Duration::from_secs(5)).accepted
    }

    #[test]
    fn nothing_on_the_worker_thread_is_captured() {
        assert_eq!(accepted_from_thread(false), 1);
        assert_eq!(accepted_from_thread(true), 0);
    }
}
