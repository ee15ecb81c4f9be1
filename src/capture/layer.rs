//! `TelegramLayer`: the `tracing_subscriber::Layer` that captures records.
//!
//! Everything here runs on the application's threads, so it does as little as
//! it can: a level comparison rejects ignored events before anything else,
//! captured events become an owned [`Record`] that is handed to the worker
//! with `try_send` (never blocking), and nothing here can panic.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Instant;

use tracing_core::span::{Attributes, Id, Record as SpanValues};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::alert::AlertLevel;
use crate::channel::{on_worker_thread, Producer};
use crate::clock::Clock;
use crate::gate::RepeatGate;
use crate::record::{Captured, Occurrence, Origin, Record, SpanList};
use crate::text::Text;

use super::field_pool::{self, PooledFields};
use super::fields::FieldCollector;
use super::otel::OtelSource;
use super::shape::SpanShape;
use super::skip::SkipRules;
use super::slow::{settle_unit, SlowRules};
use super::span_state::{RequestMark, RequestWatch, SpanState};
use super::span_table::span_records;
use super::span_table::SpanTable;
use super::timing::Timing;
use super::wants::{TelegramFilter, Wants};
use super::CaptureConfig;

/// A `tracing_subscriber` layer that sends error events to Telegram.
///
/// Build it with [`TelegramLayer::builder`] or [`TelegramLayer::from_env`],
/// register it with `tracing_subscriber::registry().with(layer)`, and keep the
/// returned [`TelegramGuard`](crate::TelegramGuard) alive for as long as alerts should flow.
///
/// A span with the field `telegram.skip = true` hides itself and everything
/// inside it. An event field `telegram.level = "critical"` raises the alert's
/// level; `telegram.title = "..."` sets its title.
#[derive(Debug)]
pub struct TelegramLayer {
    /// This layer value's span states (a clone starts a table of its own).
    pub(super) spans: SpanTable,
    pub(super) producer: Option<Arc<Producer>>,
    /// Events at or above this level are alerted.
    pub(super) min_level: Level,
    /// Events at or above this level (and below `min_level`) go to the digest.
    pub(super) capture_level: Level,
    pub(super) rules: Arc<LayerRules>,
    /// What it wants to see (shared with its [`TelegramFilter`]).
    pub(super) wants: Wants,
    /// Trace ids from `tracing-opentelemetry` (feature `opentelemetry`):
    /// this layer value's own, since a clone may sit in another subscriber.
    pub(super) otel: OtelSource,
}

impl Clone for TelegramLayer {
    /// A layer sending to the same worker, with its own span state: it may
    /// be registered beside the original (behind another filter).
    fn clone(&self) -> Self {
        TelegramLayer {
            spans: SpanTable::default(),
            producer: self.producer.clone(),
            min_level: self.min_level,
            capture_level: self.capture_level,
            rules: Arc::clone(&self.rules),
            wants: self.wants.clone(),
            otel: OtelSource::default(),
        }
    }
}

/// Everything the layer's callbacks consult.
#[derive(Debug, Default)]
pub(super) struct LayerRules {
    /// Shared with the layer's [`Wants`] (one copy of the rules).
    pub(super) skip: Arc<SkipRules>,
    pub(super) slow: SlowRules,
    pub(super) clock: Clock,
    pub(super) capture_backtrace: bool,
    /// Where repeats of alerts inside their dedup window are counted
    /// (`None` when nothing is deduplicated, or a `before_send` hook must
    /// see every record).
    pub(super) gate: Option<Arc<RepeatGate>>,
    /// Skipped spans alive now (see `SkipMark`).
    pub(super) skipped_alive: Arc<AtomicUsize>,
}

impl TelegramLayer {
    /// A layer that captures nothing (`MONITORING_ENABLED=false`).
    pub(crate) fn disabled() -> Self {
        TelegramLayer {
            spans: SpanTable::default(),
            producer: None,
            min_level: Level::ERROR,
            capture_level: Level::ERROR,
            rules: Arc::new(LayerRules {
                slow: SlowRules::off(),
                ..LayerRules::default()
            }),
            wants: Wants::nothing(),
            otel: OtelSource::default(),
        }
    }

    /// A layer that hands what it captures to `producer`, and counts
    /// repeats at `gate` (if any) once the worker opened it for their kind.
    pub(crate) fn new(
        producer: Arc<Producer>,
        config: CaptureConfig,
        clock: Clock,
        gate: Option<Arc<RepeatGate>>,
    ) -> Self {
        let CaptureConfig {
            min_level,
            digest_level,
            span_level,
            skip,
            slow,
            capture_backtrace,
        } = config;
        // The more verbose of the two levels is the capture threshold.
        let capture_level = digest_level.map_or(min_level, |digest| digest.max(min_level));
        let skip = Arc::new(skip);
        let wants = Wants {
            event_level: Some(capture_level),
            span_level,
            skip: Arc::clone(&skip),
        };
        TelegramLayer {
            spans: SpanTable::default(),
            producer: Some(producer),
            min_level,
            capture_level,
            rules: Arc::new(LayerRules {
                skip,
                slow,
                clock,
                capture_backtrace,
                gate,
                skipped_alive: Arc::default(),
            }),
            wants,
            otel: OtelSource::default(),
        }
    }

    /// The per-layer filter that lets this layer see only what it wants
    /// (see [`TelegramFilter`]); [`Builder::build`](crate::Builder::build)
    /// returns the layer behind it.
    pub fn filter(&self) -> TelegramFilter {
        TelegramFilter::new(self.wants.clone())
    }

    /// Whether this layer sends anything at all.
    pub fn is_enabled(&self) -> bool {
        self.producer.is_some()
    }

    pub(super) fn active(&self) -> Option<&Producer> {
        match &self.producer {
            Some(producer) if !on_worker_thread() => Some(producer),
            _ => None,
        }
    }

    /// The state of a new span: skipped, or its fields and a running timer.
    fn new_span_state(&self, attrs: &Attributes<'_>) -> SpanState {
        if self.rules.skip.skips_target(attrs.metadata().target()) {
            return SpanState::skipped(&self.rules.skipped_alive);
        }
        // The fields go into a reused buffer (see `field_pool`).
        let mut buffer = field_pool::take();
        let mut fields = Arc::get_mut(&mut buffer)
            .map(std::mem::take)
            .unwrap_or_default();
        fields.reserve(attrs.metadata().fields().len());
        let mut collector = FieldCollector::filling(fields);
        attrs.record(&mut collector);
        let shape = SpanShape::of_callsite(attrs.metadata());
        // Only a span with a path field can serve an ignored path.
        if collector.skip || (shape.path && self.rules.skip.skips_path(&collector.fields)) {
            return SpanState::skipped(&self.rules.skipped_alive);
        }
        let mut fields = collector.fields;
        if let Some(message) = collector.message {
            fields.push(("message".into(), message.into()));
        }
        match Arc::get_mut(&mut buffer) {
            Some(slot) => *slot = fields,
            // Not reached: the buffer came out of the pool unshared.
            None => buffer = Arc::new(fields),
        }
        // Only judged spans are timed: the clock is not read for others.
        let timing = self
            .rules
            .slow
            .threshold_of(attrs.metadata(), shape, collector.slow_threshold)
            .map(|threshold| Timing::start(self.rules.clock.now(), threshold));
        SpanState {
            skipped: None,
            fields: PooledFields::new(buffer),
            timing,
            // Only a request span that declares a status can close failing.
            request: ((shape.http_request || shape.rpc) && shape.status).then(RequestWatch::new),
            describes_request: (shape.http_request || shape.rpc).then(RequestMark::new),
        }
    }
}

impl<S> Layer<S> for TelegramLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &tracing_core::Dispatch) {
        self.otel.register(subscriber);
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if self.active().is_none() || !self.wants.span(attrs.metadata()) {
            return;
        }
        // A skipped ancestor is found when something inside it is reported
        // (events and slow spans walk their ancestors anyway), so creating a
        // span never looks up its parent.
        self.spans.insert(id, self.new_span_state(attrs));
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, _: Context<'_, S>) {
        if self.active().is_none() {
            return;
        }
        // The values are formatted before the span's state is locked: a
        // `Debug` impl may log (re-entering the layer, which reads them) or
        // panic (which must not poison the table's lock).
        let mut collector = FieldCollector::default();
        values.record(&mut collector);
        let skipped_alive = &self.rules.skipped_alive;
        self.spans
            .with_mut(id, |state| record_into(state, collector, skipped_alive));
    }

    #[inline]
    fn on_enter(&self, id: &Id, _: Context<'_, S>) {
        if self.times_busy() {
            self.with_timing(id, Timing::enter);
        }
    }

    #[inline]
    fn on_exit(&self, id: &Id, _: Context<'_, S>) {
        if self.times_busy() {
            self.with_timing(id, Timing::exit);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // The state goes first, whatever happens next: the table keeps no
        // closed span.
        let Some(state) = self.spans.remove(&id) else {
            return;
        };
        // A state exists only for a span created off the worker's thread
        // (`on_new_span` asks `active()`): no need to ask again.
        let Some(producer) = self.producer.as_deref() else {
            return;
        };
        // One look at the state for both questions; the registry is asked
        // for the span only when there is something to report.
        let (failed, slow) = self.close_verdicts(&state);
        if failed.is_none() && slow.is_none() {
            return;
        }
        let Some(span) = ctx.span(&id) else {
            return;
        };
        if let Some(record) = failed.and_then(|failed| self.failed_request(&span, &state, failed)) {
            producer.submit(record);
        }
        let Some((fields, mut slow, now)) = slow else {
            return;
        };
        // Spans that close once shutdown began are not judged: a loop or a
        // connection ends then because the service stops, not because it
        // was slow. (Asked only of a slow span: most closes never get here.)
        if producer.counters().is_closed() {
            return;
        }
        // `None` if an ancestor is skipped.
        let Some(parents) = span.parent().map_or(Some(SpanList::default()), |parent| {
            span_records(&self.spans, parent.scope())
        }) else {
            return;
        };
        settle_unit(&self.spans, &self.rules.slow, &span, &mut slow, now);
        let captured = Captured {
            title: None,
            fields: fields.map(|f| (*f).clone()).unwrap_or_default(),
            spans: parents,
            backtrace: None,
            fingerprint: None,
            gate_key: None,
            family: None,
            log: None,
            awaits_request: None,
        };
        let origin = Origin::Event(span.metadata());
        let occurrence = Occurrence::Slow(slow);
        let record = Record::new(
            AlertLevel::Warning,
            occurrence,
            origin,
            Text::default(),
            captured,
        );
        producer.submit(record);
    }

    #[inline]
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // The cheap test first, kept small enough to inline into the
        // dispatcher: most events are more verbose than we capture.
        if *event.metadata().level() > self.capture_level {
            return;
        }
        // `ctx` by value: two registers, so nothing is written to the
        // stack before the comparison above.
        self.capture_event(event, ctx);
    }
}

impl TelegramLayer {
    /// Whether enter and exit are timed. Busy time costs two clock reads
    /// and two locks per enter/exit: it is only tracked when it is what
    /// gets judged (asked inline, on every enter and exit of every span).
    #[inline]
    fn times_busy(&self) -> bool {
        self.producer.is_some() && self.rules.slow.judge_busy
    }

    /// Runs `update` on the span's timer, if it has one.
    #[cold]
    fn with_timing(&self, id: &Id, update: fn(&mut Timing, Instant)) {
        let clock = &self.rules.clock;
        self.spans.with_mut(id, |state| {
            if let Some(timing) = state.timing.as_mut() {
                update(timing, clock.now());
            }
        });
    }
}

/// Values recorded into a span (`Span::record`), formatted already: into
/// its state, unless it is skipped; `telegram.skip = true` skips it now.
fn record_into(state: &mut SpanState, collector: FieldCollector, skipped_alive: &Arc<AtomicUsize>) {
    if state.is_skipped() {
        return;
    }
    if collector.skip {
        *state = SpanState::skipped(skipped_alive);
        return;
    }
    if let Some(mark) = &mut state.describes_request {
        mark.forget();
    }
    if let (Some(timing), Some(threshold)) = (&mut state.timing, collector.slow_threshold) {
        timing.set_threshold(threshold);
    }
    match &mut state.fields {
        Some(fields) => collector.merge_into(fields.make_mut()),
        None if !collector.fields.is_empty() => {
            state.fields = PooledFields::new(Arc::new(collector.fields));
        }
        None => {}
    }
}

#[cfg(all(test, feature = "testing"))]
mod running_tests {
    use std::time::Duration;

    use tracing_subscriber::prelude::*;

    use crate::testing::MockTelegram;
    use crate::TelegramLayer;

    /// A layer sending to `mock`.
    fn layer_for<S>(mock: &MockTelegram) -> (crate::FilteredLayer<S>, crate::TelegramGuard)
    where
        S: tracing_core::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        TelegramLayer::builder()
            .bot_token(mock.token())
            .chat_id(-100)
            .api_url(mock.url())
            .build()
            .unwrap()
    }

    /// Counts what the layer accepts from a thread, marked as the worker's or not.
    fn accepted_from_thread(mark_as_worker: bool) -> u64 {
        let mock = MockTelegram::start().unwrap();
        let (layer, guard) = layer_for(&mock);
        let subscriber = tracing_subscriber::registry().with(layer);
        std::thread::spawn(move || {
            if mark_as_worker {
                crate::channel::mark_worker_thread();
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
    fn skipped_spans_are_counted_while_alive() {
        let mock = MockTelegram::start().unwrap();
        let (layer, guard) = layer_for(&mock);
        let alive = std::sync::Arc::clone(&layer.inner().rules.skipped_alive);
        let alive_now = || alive.load(std::sync::atomic::Ordering::Relaxed);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let skipped = tracing::info_span!("secret", telegram.skip = true);
            let later = tracing::info_span!("later", telegram.skip = tracing::field::Empty);
            let plain = tracing::info_span!("plain");
            assert_eq!(alive_now(), 1);
            later.record("telegram.skip", true);
            assert_eq!(alive_now(), 2);
            drop((skipped, later, plain));
            assert_eq!(alive_now(), 0);
        });
        guard.shutdown(Duration::from_secs(5));
    }

    #[test]
    fn nothing_on_the_worker_thread_is_captured() {
        assert_eq!(accepted_from_thread(false), 1);
        assert_eq!(accepted_from_thread(true), 0);
    }
}
