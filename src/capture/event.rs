//! The layer's event path: an event at a captured level is counted at the
//! repeat gate (a repeat of an alert inside its dedup window) or made into
//! a [`Record`] for the worker, with the spans around it.

use std::sync::atomic::Ordering;

use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::alert::AlertLevel;
use crate::channel::Producer;
use crate::gate::{Counted, FoldVerdict, GateKey, GateProbe, RepeatGate, Reservation};
use crate::record::{
    Captured, Family, FamilyKey, FieldValue, Fields, Occurrence, Origin, Record, SpanList,
    SPAN_ID_FIELDS, TRACE_ID_FIELDS,
};

use super::backtrace;
use super::feedback::is_internal_target;
use super::fields::FieldCollector;
use super::layer::TelegramLayer;
use super::otel::OtelSource;
use super::span_table::{inside_skipped_span, span_records};

/// What the repeat gate made of an event.
enum Gate {
    /// Counted as a repeat of an alert inside its dedup window: done.
    Counted,
    /// Not reported at all (`telegram.skip = true` on the event).
    Hidden,
    /// Take the ordinary path (with the key, for the worker to open).
    Missed(Keys),
}

/// What the gate read of an event that takes the ordinary path.
#[derive(Default)]
struct Keys {
    /// The key its repeats are counted under (the family's, when folded).
    gate: Option<GateKey>,
    family: Option<Family>,
    /// The request spans around it were told an alert was captured.
    requests_marked: bool,
    /// The request whose status it waits for (see `channel::outcomes`).
    awaits_request: Option<u64>,
}

impl TelegramLayer {
    /// Captures an event at a captured level: counted at the repeat gate,
    /// or made into a record for the worker.
    #[inline(never)]
    pub(super) fn capture_event<S>(&self, event: &Event<'_>, ctx: Context<'_, S>)
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
        // Once the pipeline is closed (shut down, or abandoned at its
        // deadline) a repeat is not counted at the gate, where nobody may
        // settle it: it is refused and counted as dropped like the rest.
        if producer.counters().is_closed() {
            let _refused = producer.counters().accept();
            return;
        }
        let keys = match self.try_gate(event, ctx) {
            Gate::Counted => return,
            Gate::Hidden => return,
            Gate::Missed(keys) => keys,
        };
        let spans = match ctx.event_scope(event) {
            Some(scope) => match span_records(&self.spans, scope) {
                Some(spans) => spans,
                None => return, // inside a skipped span
            },
            None => SpanList::default(),
        };
        let mut collector = FieldCollector::for_event(metadata);
        event.record(&mut collector);
        if collector.skip {
            return;
        }
        // A bridged `log` record says its own target only in its fields:
        // the same guards apply to it (reqwest, hyper and redis log there).
        if let Some(log) = &collector.log {
            if is_internal_target(&log.target) || self.rules.skip.skips_target(&log.target) {
                return;
            }
        }
        let occurrence = if *metadata.level() > self.min_level && collector.level.is_none() {
            Occurrence::DigestOnly
        } else {
            Occurrence::Alert
        };
        let gate_key = keys.gate.filter(|_| occurrence == Occurrence::Alert);
        // Only for records that will be alerted, and only when asked for:
        // capturing walks the stack.
        let backtrace =
            (self.rules.capture_backtrace && occurrence == Occurrence::Alert).then(|| {
                producer.counters().backtrace_captured();
                backtrace::capture()
            });
        let level = collector
            .level
            .unwrap_or_else(|| AlertLevel::from_tracing(metadata.level()));
        let message = collector.message.unwrap_or_default();
        let mut fields = collector.fields;
        self.add_otel_ids(event, ctx, &mut fields);
        let awaits_request = if occurrence != Occurrence::Alert {
            None
        } else if keys.requests_marked {
            keys.awaits_request
        } else {
            self.walk_requests(event, ctx, |_| true)
        };
        let captured = Captured {
            title: collector.title,
            fields,
            spans,
            backtrace,
            fingerprint: collector.fingerprint,
            gate_key,
            family: keys.family,
            log: collector.log,
            awaits_request,
        };
        // Reserved before it is queued: from now on the kind's repeats are
        // counted at the gate, even before the worker gets to this record,
        // so a flood of one failure never fills the queue.
        let reserved = self.reserve_gate(gate_key);
        let record = Record::new(
            level,
            occurrence,
            Origin::Event(metadata),
            message,
            captured,
        );
        if !producer.submit(record) {
            self.unreserve_gate(reserved, producer);
        }
    }

    /// Reserves the gate for the kind of a record about to be queued; the
    /// key, if this call reserved it.
    #[inline]
    fn reserve_gate(&self, key: Option<GateKey>) -> Option<GateKey> {
        let (gate, key) = (self.rules.gate.as_ref()?, key?);
        (gate.reserve(key) == Reservation::Reserved).then_some(key)
    }

    /// The record was dropped (full queue): the reservation goes, and the
    /// repeats counted in it meanwhile are dropped with it (and counted).
    /// The event's trace and span ids from `tracing-opentelemetry`, unless
    /// its fields name a trace already.
    fn add_otel_ids<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>, fields: &mut Fields)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if !OtelSource::ENABLED
            || fields
                .iter()
                .any(|(name, _)| TRACE_ID_FIELDS.contains(&name.as_ref()))
        {
            return;
        }
        // The span is looked up, and its extensions released, before the
        // OpenTelemetry layer locks them.
        let Some(id) = ctx.event_span(event).map(|span| span.id()) else {
            return;
        };
        if let Some((trace_id, span_id)) = self.otel.ids(&id) {
            fields.push((TRACE_ID_FIELDS[0].into(), FieldValue::Text(trace_id)));
            fields.push((SPAN_ID_FIELDS[0].into(), FieldValue::Text(span_id)));
        }
    }

    #[cold]
    fn unreserve_gate(&self, reserved: Option<GateKey>, producer: &Producer) {
        if let (Some(gate), Some(key)) = (&self.rules.gate, reserved) {
            producer.counters().drop_repeats(gate.close(key));
        }
    }

    /// Whether the event is inside a skipped span; without a lookup while
    /// no skipped span exists.
    fn inside_skipped_span<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        self.rules.skipped_alive.load(Ordering::Relaxed) > 0
            && inside_skipped_span(&self.spans, event, ctx)
    }

    /// Counts the event at the repeat gate if the worker has opened it for
    /// this kind of alert, or for its callsite's folded family (and nothing
    /// hides the event).
    fn try_gate<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> Gate
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Some(gate) = &self.rules.gate else {
            return Gate::Missed(Keys::default());
        };
        let metadata = event.metadata();
        // Below `min_level` only a `telegram.level` field can make an alert;
        // without one the event is for the digest, which the gate does not
        // count: no need to read its fields here.
        if *metadata.level() > self.min_level && metadata.fields().field("telegram.level").is_none()
        {
            return Gate::Missed(Keys::default());
        }
        let mut probe = GateProbe::default();
        probe.count_values(gate.spreads());
        event.record(&mut probe);
        if probe.skip {
            return Gate::Hidden;
        }
        let level = probe.level_override();
        if *metadata.level() > self.min_level && level.is_none() {
            return Gate::Missed(Keys::default()); // digest-only: not deduplicated
        }
        let level = level.unwrap_or_else(|| AlertLevel::from_tracing(metadata.level()));
        // The skipped-span check first: it costs one load while no skipped
        // span is alive, and nothing inside one is counted or reported.
        if self.inside_skipped_span(event, ctx) {
            return Gate::Hidden;
        }
        // An alert is grouped by the request it happened in.
        let awaits_request = self.walk_requests(event, ctx, |facts| probe.note_request(facts.key));
        let Some(key) = probe.key(metadata, level) else {
            return Gate::Missed(Keys {
                requests_marked: true,
                awaits_request,
                ..Keys::default()
            });
        };
        let combination = probe.combination();
        if counted(gate, key, combination, event) {
            return Gate::Counted;
        }
        let family = probe.family(metadata, level);
        let mut gate = self.try_fold(gate, family, key, (combination, event));
        if let Gate::Missed(keys) = &mut gate {
            keys.awaits_request = awaits_request;
        }
        gate
    }

    /// A variant that missed the gate: an alert of its own, the one that
    /// folds its callsite, or counted under its folded family.
    #[cold]
    fn try_fold(
        &self,
        gate: &RepeatGate,
        family: FamilyKey,
        key: GateKey,
        (combination, event): (Option<u64>, &Event<'_>),
    ) -> Gate {
        let folded = Family {
            key: family,
            folded: true,
        };
        match gate.folds.admit(family, key, || self.rules.clock.now()) {
            FoldVerdict::Variant => Gate::Missed(Keys {
                gate: Some(key),
                family: Some(Family {
                    folded: false,
                    ..folded
                }),
                requests_marked: true,
                awaits_request: None,
            }),
            FoldVerdict::Folded if counted(gate, family.gate_key(), combination, event) => {
                Gate::Counted
            }
            FoldVerdict::Trip | FoldVerdict::Folded => Gate::Missed(Keys {
                gate: Some(family.gate_key()),
                family: Some(folded),
                requests_marked: true,
                awaits_request: None,
            }),
        }
    }
}

/// Counts a repeat of `key` at the gate, with the combination of its
/// values; a combination new to its kind leaves a sample of them for the
/// worker. `false`: not counted (the ordinary path).
#[inline]
fn counted(gate: &RepeatGate, key: GateKey, combination: Option<u64>, event: &Event<'_>) -> bool {
    match gate.count(key, combination) {
        Counted::No => false,
        Counted::Yes => true,
        Counted::NewCombination(tag) => {
            gate.sample(key, tag, event);
            true
        }
    }
}
