//! `TelegramLayer`: the `tracing_subscriber::Layer` that captures records.
//!
//! Everything here runs on the application's threads, so it does as little as
//! it can: a level comparison rejects ignored events before anything else,
//! captured events become an owned [`Record`] that is handed to the worker
//! with `try_send` (never blocking), and nothing here can panic.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tracing_core::span::{Attributes, Id, Record as SpanValues};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::alert::AlertLevel;
use crate::builder::Builder;
use crate::clock::Clock;
use crate::error::Error;
use crate::guard::TelegramGuard;
use crate::record::{FieldCollector, Fields, Kind, Origin, Record, SpanList, SpanRecord};
use crate::repeat_gate::{GateKey, GateProbe, RepeatGate};
use crate::short_text::Text;
use crate::skip::SkipRules;
use crate::slow::SlowRules;
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

pub(crate) fn on_worker_thread() -> bool {
    ON_WORKER_THREAD.try_with(Cell::get).unwrap_or(false)
}

fn is_internal_target(target: &str) -> bool {
    // Every event at a captured level asks: most targets are rejected by
    // their first letter.
    if !matches!(
        target.as_bytes().first(),
        Some(b'h' | b'm' | b'r' | b't' | b'w')
    ) {
        return false;
    }
    INTERNAL_TARGETS.iter().any(|internal| {
        target
            .strip_prefix(internal)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Span extension: what the layer keeps for each span it sees.
#[derive(Debug)]
struct SpanState {
    /// This span (and so everything inside it) is not reported.
    skipped: Option<SkipMark>,
    /// The span's fields, shared with every record captured inside it.
    fields: Option<Arc<Fields>>,
    /// Total and busy time, for slow-span detection.
    timing: Option<Timing>,
}

impl SpanState {
    fn skipped(alive: &Arc<AtomicUsize>) -> SpanState {
        SpanState {
            skipped: Some(SkipMark::new(alive)),
            fields: None,
            timing: None,
        }
    }

    fn is_skipped(&self) -> bool {
        self.skipped.is_some()
    }
}

/// Held by the state of a skipped span: while any exists, events look for a
/// skipped span around them; while none does (the usual case), they need
/// not look up their spans at all.
#[derive(Debug)]
struct SkipMark(Arc<AtomicUsize>);

impl SkipMark {
    fn new(alive: &Arc<AtomicUsize>) -> Self {
        // Counted before the span can be entered or recorded into, so an
        // event inside it (which happens after) sees the count.
        alive.fetch_add(1, Ordering::Relaxed);
        SkipMark(Arc::clone(alive))
    }
}

impl Drop for SkipMark {
    fn drop(&mut self) {
        // The registry drops a span's extensions when the span closes.
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Span timing: kept in the span's extensions, never in thread-locals, since
/// a span may be entered on one thread and closed on another.
#[derive(Debug)]
struct Timing {
    created: Instant,
    busy: Duration,
    /// When the span was last entered while not already entered.
    entered_at: Option<Instant>,
    /// How many threads have it entered right now.
    entries: u32,
}

impl Timing {
    fn enter(&mut self, now: Instant) {
        if self.entries == 0 {
            self.entered_at = Some(now);
        }
        self.entries += 1;
    }

    fn exit(&mut self, now: Instant) {
        self.entries = self.entries.saturating_sub(1);
        if self.entries == 0 {
            if let Some(entered_at) = self.entered_at.take() {
                self.busy += now.saturating_duration_since(entered_at);
            }
        }
    }

    /// `(total, busy)` at `now`.
    fn finish(&self, now: Instant) -> (Duration, Duration) {
        let ongoing = self
            .entered_at
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        (
            now.saturating_duration_since(self.created),
            self.busy + ongoing,
        )
    }
}

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
    /// Events at or above this level are alerted.
    min_level: Level,
    /// Events at or above this level (and below `min_level`) go to the digest.
    capture_level: Level,
    rules: Arc<LayerRules>,
}

/// Everything the layer's callbacks consult.
#[derive(Debug, Default)]
pub(crate) struct LayerRules {
    pub(crate) skip: SkipRules,
    pub(crate) slow: SlowRules,
    pub(crate) clock: Clock,
    pub(crate) capture_backtrace: bool,
    /// Where repeats of alerts inside their dedup window are counted
    /// (`None` when nothing is deduplicated, or a `before_send` hook must
    /// see every record).
    pub(crate) gate: Option<Arc<RepeatGate>>,
    /// Skipped spans alive now (see `SkipMark`).
    pub(crate) skipped_alive: Arc<AtomicUsize>,
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
            capture_level: Level::ERROR,
            rules: Arc::default(),
        }
    }

    pub(crate) fn new(
        producer: Arc<Producer>,
        min_level: Level,
        digest_level: Option<Level>,
        rules: LayerRules,
    ) -> Self {
        // The more verbose of the two levels is the capture threshold.
        let capture_level = digest_level.map_or(min_level, |digest| digest.max(min_level));
        TelegramLayer {
            producer: Some(producer),
            min_level,
            capture_level,
            rules: Arc::new(rules),
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

    /// The state of a new span: skipped, or its fields and a running timer.
    fn new_span_state(&self, attrs: &Attributes<'_>) -> SpanState {
        if self.rules.skip.skips_target(attrs.metadata().target()) {
            return SpanState::skipped(&self.rules.skipped_alive);
        }
        let mut collector = FieldCollector::with_capacity(attrs.metadata().fields().len());
        attrs.record(&mut collector);
        if collector.skip || self.rules.skip.skips_path(&collector.fields) {
            return SpanState::skipped(&self.rules.skipped_alive);
        }
        let mut fields = collector.fields;
        if let Some(message) = collector.message {
            fields.push(("message".into(), message.into()));
        }
        SpanState {
            skipped: None,
            fields: (!fields.is_empty()).then(|| Arc::new(fields)),
            timing: self.rules.slow.enabled().then(|| Timing {
                created: self.rules.clock.now(),
                busy: Duration::ZERO,
                entered_at: None,
                entries: 0,
            }),
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
        // A skipped ancestor is found when something inside it is reported
        // (events and slow spans walk their ancestors anyway), so creating a
        // span never looks up its parent.
        let state = self.new_span_state(attrs);
        span.extensions_mut().insert(state);
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, ctx: Context<'_, S>) {
        if self.active().is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        let Some(state) = extensions.get_mut::<SpanState>() else {
            return;
        };
        if state.is_skipped() {
            return;
        }
        let mut collector = FieldCollector::default();
        values.record(&mut collector);
        if collector.skip {
            *state = SpanState::skipped(&self.rules.skipped_alive);
            return;
        }
        match &mut state.fields {
            Some(fields) => collector.merge_into(Arc::make_mut(fields)),
            None if !collector.fields.is_empty() => {
                state.fields = Some(Arc::new(collector.fields));
            }
            None => {}
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.with_timing(id, &ctx, Timing::enter);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.with_timing(id, &ctx, Timing::exit);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(producer) = self.active() else {
            return;
        };
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let (fields, slow) = {
            let extensions = span.extensions();
            let Some(SpanState {
                skipped: None,
                fields,
                timing: Some(timing),
            }) = extensions.get::<SpanState>()
            else {
                return;
            };
            let Some(slow) = self
                .rules
                .slow
                .judge(span.name(), timing.finish(self.rules.clock.now()))
            else {
                return;
            };
            (fields.clone(), slow)
        };
        // `None` if an ancestor is skipped.
        let Some(parents) = span.parent().map_or(Some(SpanList::default()), |parent| {
            span_records(parent.scope())
        }) else {
            return;
        };
        producer.submit(Record {
            level: AlertLevel::Warning,
            kind: Kind::Slow(slow),
            origin: Origin::Event(span.metadata()),
            title: None,
            message: Text::default(),
            fields: fields.map(|f| (*f).clone()).unwrap_or_default(),
            spans: parents,
            timestamp: SystemTime::now(),
            backtrace: None,
            frames: Vec::new(),
            fingerprint: None,
            gate_key: None,
        });
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

/// What the repeat gate made of an event.
enum Gate {
    /// Counted as a repeat of an alert inside its dedup window: done.
    Counted,
    /// Not reported at all (`telegram.skip = true` on the event).
    Hidden,
    /// Take the ordinary path (with the key, for the worker to open).
    Missed(Option<GateKey>),
}

impl TelegramLayer {
    /// Captures an event at a captured level: counted at the repeat gate,
    /// or made into a record for the worker.
    #[inline(never)]
    fn capture_event<S>(&self, event: &Event<'_>, ctx: Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let ctx = &ctx;
        let metadata = event.metadata();
        let Some(producer) = self.active() else {
            return;
        };
        let target = metadata.target();
        if is_internal_target(target) || self.rules.skip.skips_target(target) {
            return;
        }
        let gate_key = match self.try_gate(event, ctx) {
            Gate::Counted | Gate::Hidden => return,
            Gate::Missed(key) => key,
        };
        let spans = match ctx.event_scope(event) {
            Some(scope) => match span_records(scope) {
                Some(spans) => spans,
                None => return, // inside a skipped span
            },
            None => SpanList::default(),
        };
        let mut collector = FieldCollector::with_capacity(metadata.fields().len());
        event.record(&mut collector);
        if collector.skip {
            return;
        }
        let kind = if *metadata.level() > self.min_level && collector.level.is_none() {
            Kind::DigestOnly
        } else {
            Kind::Alert
        };
        let gate_key = gate_key.filter(|_| kind == Kind::Alert);
        // Only for records that will be alerted, and only when asked for:
        // capturing walks the stack.
        let backtrace = (self.rules.capture_backtrace && kind == Kind::Alert).then(|| {
            producer.counters().backtrace_captured();
            crate::frames::capture()
        });
        producer.submit(Record {
            level: collector
                .level
                .unwrap_or_else(|| AlertLevel::from_tracing(metadata.level())),
            kind,
            origin: Origin::Event(metadata),
            title: collector.title,
            message: collector.message.unwrap_or_default(),
            fields: collector.fields,
            spans,
            timestamp: SystemTime::now(),
            backtrace,
            frames: Vec::new(),
            fingerprint: collector.fingerprint,
            gate_key,
        });
    }

    /// Whether the event is inside a skipped span; without a lookup while
    /// no skipped span exists.
    fn inside_skipped_span<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        self.rules.skipped_alive.load(Ordering::Relaxed) > 0 && inside_skipped_span(event, ctx)
    }

    /// Counts the event at the repeat gate if the worker has opened it for
    /// this kind of alert (and nothing hides the event).
    fn try_gate<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> Gate
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Some(gate) = &self.rules.gate else {
            return Gate::Missed(None);
        };
        let metadata = event.metadata();
        // Below `min_level` only a `telegram.level` field can make an alert;
        // without one the event is for the digest, which the gate does not
        // count: no need to read its fields here.
        if *metadata.level() > self.min_level && metadata.fields().field("telegram.level").is_none()
        {
            return Gate::Missed(None);
        }
        let mut probe = GateProbe::default();
        event.record(&mut probe);
        if probe.skip {
            return Gate::Hidden;
        }
        let level = probe.level_override();
        if *metadata.level() > self.min_level && level.is_none() {
            return Gate::Missed(None); // digest-only: not deduplicated
        }
        let level = level.unwrap_or_else(|| AlertLevel::from_tracing(metadata.level()));
        let Some(key) = probe.key(metadata, level) else {
            return Gate::Missed(None);
        };
        // The skipped-span check first: it costs one load while no skipped
        // span is alive, and a repeat must not be counted inside one.
        if !self.inside_skipped_span(event, ctx) && gate.count(key) {
            return Gate::Counted;
        }
        Gate::Missed(Some(key))
    }

    /// Runs `update` on the span's timer, if it has one.
    fn with_timing<S>(&self, id: &Id, ctx: &Context<'_, S>, update: fn(&mut Timing, Instant))
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        // Busy time costs two clock reads and two locks per enter/exit: it
        // is only tracked when it is what gets judged.
        if self.producer.is_none() || !self.rules.slow.judge_busy {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(timing) = extensions
            .get_mut::<SpanState>()
            .and_then(|state| state.timing.as_mut())
        {
            update(timing, self.rules.clock.now());
        }
    }
}

/// Whether the event is inside a skipped span.
fn inside_skipped_span<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.event_scope(event).is_some_and(|mut scope| {
        scope.any(|span| {
            span.extensions()
                .get::<SpanState>()
                .is_some_and(SpanState::is_skipped)
        })
    })
}

/// Span records, root first, for the spans of a scope given leaf first (as
/// the registry walks them: `from_root` would collect them into a buffer to
/// turn them around); `None` if any span is skipped.
fn span_records<'a, R>(spans: impl Iterator<Item = SpanRef<'a, R>>) -> Option<SpanList>
where
    R: LookupSpan<'a> + 'a,
{
    let mut records = SpanList::default();
    for span in spans {
        let extensions = span.extensions();
        let state = extensions.get::<SpanState>();
        if state.is_some_and(SpanState::is_skipped) {
            return None;
        }
        records.push(SpanRecord {
            name: span.name(),
            target: span.metadata().target(),
            fields: state.and_then(|state| state.fields.clone()),
        });
    }
    records.reverse();
    Some(records)
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
        for internal in INTERNAL_TARGETS {
            assert!(is_internal_target(internal), "{internal}");
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod running_tests {
    use std::time::Duration;

    use tracing_subscriber::prelude::*;

    use crate::testing::MockTelegram;
    use crate::TelegramLayer;

    /// A layer sending to `mock`.
    fn layer_for(mock: &MockTelegram) -> (TelegramLayer, crate::TelegramGuard) {
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
    fn skipped_spans_are_counted_while_alive() {
        let mock = MockTelegram::start().unwrap();
        let (layer, guard) = layer_for(&mock);
        let alive = std::sync::Arc::clone(&layer.rules.skipped_alive);
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
