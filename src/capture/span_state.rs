//! What the layer keeps in each span's extensions: whether it is skipped,
//! its fields (shared with every record captured inside it), and its timer;
//! and the walks over a scope's states.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::channel::outcomes::RequestOutcomes;
use crate::record::{SpanList, SpanRecord};

use super::field_pool::PooledFields;
use super::timing::Timing;

/// Span extension: what the layer keeps for each span it sees.
#[derive(Debug)]
pub(crate) struct SpanState {
    /// This span (and so everything inside it) is not reported.
    pub(crate) skipped: Option<SkipMark>,
    /// The span's fields, shared with every record captured inside it.
    pub(crate) fields: Option<PooledFields>,
    /// Total and busy time, for spans judged slow (no others are timed).
    pub(crate) timing: Option<Timing>,
    /// For an HTTP request span: whether an alert was captured inside it
    /// (then its failing status is not alerted a second time).
    pub(crate) request: Option<RequestWatch>,
    /// Set on a span that describes a request (HTTP or RPC): what an alert
    /// inside it is grouped by.
    pub(crate) describes_request: Option<RequestMark>,
}

/// What the layer watches in an HTTP request span that declares a status:
/// whether an alert-level event was captured inside it (if none was and it
/// closes with a server error, its status is the alert: a handler that
/// returns a 502 without an error value logs nothing), and whether a record
/// waits for its status (see `channel::outcomes`).
#[derive(Debug)]
pub(crate) struct RequestWatch {
    reported: AtomicBool,
    /// The request's serial number once a record waits for it (0: none).
    awaited: AtomicU64,
}

impl RequestWatch {
    pub(crate) fn new() -> Self {
        RequestWatch {
            reported: AtomicBool::new(false),
            awaited: AtomicU64::new(0),
        }
    }

    /// An alert was captured inside the request.
    pub(crate) fn report(&self) {
        self.reported.store(true, Ordering::Relaxed);
    }

    pub(crate) fn was_reported(&self) -> bool {
        self.reported.load(Ordering::Relaxed)
    }

    /// A record waits for the request's status: its serial number (the
    /// same for every record inside it).
    pub(crate) fn await_status(&self) -> u64 {
        let fresh = RequestOutcomes::next_serial();
        match self
            .awaited
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(earlier) => earlier,
        }
    }

    /// The serial number records wait under, if any does.
    pub(crate) fn awaited(&self) -> Option<u64> {
        Some(self.awaited.load(Ordering::Relaxed)).filter(|&serial| serial != 0)
    }
}

/// Held by the state of a span that describes a request, and counted while
/// it lives: while no such span is alive (a service that is not a web
/// service), an alert does not look around it for the request it belongs
/// to. A process-wide hint, not an exact count per layer.
#[derive(Debug)]
pub(crate) struct RequestMark(());

static REQUESTS_ALIVE: AtomicUsize = AtomicUsize::new(0);

impl RequestMark {
    pub(crate) fn new() -> Self {
        REQUESTS_ALIVE.fetch_add(1, Ordering::Relaxed);
        RequestMark(())
    }

    /// Whether any request span is alive.
    pub(crate) fn any_alive() -> bool {
        REQUESTS_ALIVE.load(Ordering::Relaxed) > 0
    }
}

impl Drop for RequestMark {
    fn drop(&mut self) {
        // The registry drops a span's extensions when the span closes.
        REQUESTS_ALIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SpanState {
    pub(crate) fn skipped(alive: &Arc<AtomicUsize>) -> SpanState {
        SpanState {
            skipped: Some(SkipMark::new(alive)),
            fields: None,
            timing: None,
            request: None,
            describes_request: None,
        }
    }

    pub(crate) fn is_skipped(&self) -> bool {
        self.skipped.is_some()
    }
}

/// Held by the state of a skipped span: while any exists, events look for a
/// skipped span around them; while none does (the usual case), they need
/// not look up their spans at all.
#[derive(Debug)]
pub(crate) struct SkipMark(Arc<AtomicUsize>);

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

/// Which [`TelegramLayer`](super::TelegramLayer) a span state belongs to.
/// Every layer value has its own (a clone gets a new one), since each may
/// sit behind its own per-layer filter and see different spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayerId(u64);

impl LayerId {
    /// A new id, never handed out before in this process.
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        LayerId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// The span extension: the state of each layer that saw the span. The
/// registry keeps one value per type, so several layers (two bots for two
/// teams, a clone behind another filter) share this one; the usual single
/// layer finds its state first, without a search.
#[derive(Debug)]
pub(crate) struct SpanStates {
    first: (LayerId, SpanState),
    more: Vec<(LayerId, SpanState)>,
}

impl SpanStates {
    /// The states of a span one layer has seen.
    pub(crate) fn one(layer: LayerId, state: SpanState) -> Self {
        SpanStates {
            first: (layer, state),
            more: Vec::new(),
        }
    }

    /// `layer`'s state of this span. (The search beyond the first is out of
    /// line: span walks on the hot path stay small enough to inline the
    /// registry's iterator.)
    #[inline]
    pub(crate) fn get(&self, layer: LayerId) -> Option<&SpanState> {
        if self.first.0 == layer {
            return Some(&self.first.1);
        }
        self.find(layer)
    }

    /// `layer`'s state of this span, to change.
    #[inline]
    pub(crate) fn get_mut(&mut self, layer: LayerId) -> Option<&mut SpanState> {
        if self.first.0 == layer {
            return Some(&mut self.first.1);
        }
        self.find_mut(layer)
    }

    #[cold]
    #[inline(never)]
    fn find(&self, layer: LayerId) -> Option<&SpanState> {
        self.more
            .iter()
            .find(|(id, _)| *id == layer)
            .map(|(_, state)| state)
    }

    #[cold]
    #[inline(never)]
    fn find_mut(&mut self, layer: LayerId) -> Option<&mut SpanState> {
        self.more
            .iter_mut()
            .find(|(id, _)| *id == layer)
            .map(|(_, state)| state)
    }

    /// Adds the states of `other` (the span's extension as it was before
    /// this layer put its own in); a layer's own state wins.
    pub(crate) fn absorb(&mut self, other: SpanStates) {
        for (layer, state) in std::iter::once(other.first).chain(other.more) {
            if self.get(layer).is_none() {
                self.more.push((layer, state));
            }
        }
    }
}

/// Whether the event is inside a span `layer` skips.
pub(crate) fn inside_skipped_span<S>(
    layer: LayerId,
    event: &Event<'_>,
    ctx: &Context<'_, S>,
) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.event_scope(event).is_some_and(|mut scope| {
        scope.any(|span| {
            span.extensions()
                .get::<SpanStates>()
                .and_then(|states| states.get(layer))
                .is_some_and(SpanState::is_skipped)
        })
    })
}

/// Span records, root first, for the spans of a scope given leaf first (as
/// the registry walks them: `from_root` would collect them into a buffer to
/// turn them around); `None` if any span is skipped.
pub(crate) fn span_records<'a, R>(
    layer: LayerId,
    spans: impl Iterator<Item = SpanRef<'a, R>>,
) -> Option<SpanList>
where
    R: LookupSpan<'a> + 'a,
{
    let mut records = SpanList::default();
    for span in spans {
        let extensions = span.extensions();
        // A span without this layer's state is one it does not want (a
        // DEBUG span of a library): left out, as its filter would.
        let Some(state) = extensions
            .get::<SpanStates>()
            .and_then(|states| states.get(layer))
        else {
            continue;
        };
        if state.is_skipped() {
            return None;
        }
        records.push(SpanRecord {
            name: span.name(),
            target: span.metadata().target(),
            fields: state.fields.as_ref().map(PooledFields::shared),
        });
    }
    records.reverse();
    Some(records)
}
