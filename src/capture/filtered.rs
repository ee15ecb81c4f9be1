//! [`FilteredLayer`]: the layer behind its own per-layer filter, without
//! the filter's questions about every span.
//!
//! tracing-subscriber's `Filtered` takes part in the registry's per-layer
//! filtering: once per callsite it adds this layer's interest to the
//! registry's sum, and for each span created and each event it records
//! whether this layer wants it, so that a callsite no layer wants costs
//! nothing. That part only it can do, and this wrapper leaves it to it.
//!
//! But `Filtered` also asks the registry, on every enter, exit and close of
//! every span (this layer's or another's), whether its filter enabled that
//! span: a lookup in the registry's slab each time, about 150 instructions,
//! about 450 per span's life, because it cannot know that the layer it
//! wraps does not need the answer. This layer does not: it keeps a state
//! only for the spans it wanted when they were created (its own
//! [`SpanTable`](super::span_table::SpanTable)), does nothing on enter and
//! exit unless busy time is judged, and on close finds the span in its
//! table or returns. So enter, exit, close and follows-from go straight to
//! the layer; creation, records and events go through `Filtered`.

use std::any::TypeId;
use std::fmt;

use tracing_core::span::{Attributes, Id, Record as SpanValues};
use tracing_core::subscriber::Interest;
use tracing_core::{Dispatch, Event, LevelFilter, Metadata, Subscriber};
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::layer::TelegramLayer;
use super::wants::TelegramFilter;

/// The layer [`Builder::build`](crate::Builder::build) returns: a
/// [`TelegramLayer`] behind its own per-layer [`TelegramFilter`].
///
/// Add it with `.with(layer)`. Callsites it does not want (`trace!`,
/// `debug_span!` below its levels) then cost nothing when no other layer
/// wants them either, and other layers see exactly what they saw before.
/// Unlike `layer.inner().clone().with_filter(filter)`, it does not look every
/// span up in the registry again on enter, exit and close to ask whether its
/// filter enabled it: the layer keeps its own table of the spans it wanted,
/// and answers those calls from it (about 400 instructions less per span's
/// life). `S` is the subscriber it is added to, inferred by `.with(layer)`.
pub struct FilteredLayer<S> {
    filtered: Filtered<TelegramLayer, TelegramFilter, S>,
}

impl<S> FilteredLayer<S> {
    /// `layer` behind its own per-layer filter: callsites it does not want
    /// (events below the digest level; spans below
    /// [`span_level`](crate::Capture::span_level) that are not HTTP
    /// requests, carry no `telegram.*` field and are not of a skipped
    /// target) are disabled for it alone, once per callsite. With other
    /// layers behind per-layer filters too, `trace!` and `debug_span!`
    /// instrumentation none of them wants then costs nothing.
    pub(crate) fn of(layer: TelegramLayer) -> Self {
        let filter = layer.filter();
        FilteredLayer {
            filtered: Filtered::new(layer, filter),
        }
    }

    /// The layer without its filter (to put behind a filter of your own:
    /// `layer.inner().clone().with_filter(layer.filter().clone().and(yours))`).
    pub fn inner(&self) -> &TelegramLayer {
        self.filtered.inner()
    }

    /// The layer's filter (what it wants to see, decided per callsite).
    pub fn filter(&self) -> &TelegramFilter {
        self.filtered.filter()
    }
}

impl<S> Clone for FilteredLayer<S> {
    /// The layer and its filter, to be added to another subscriber: a span
    /// table of its own (as [`TelegramLayer::clone`]), sending to the same
    /// worker; the subscriber it is added to gives its filter an id.
    fn clone(&self) -> Self {
        FilteredLayer {
            filtered: Filtered::new(self.inner().clone(), self.filter().clone()),
        }
    }
}

impl<S> fmt::Debug for FilteredLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilteredLayer")
            .field("layer", self.filtered.inner())
            .field("filter", self.filtered.filter())
            .finish()
    }
}

impl<S> Layer<S> for FilteredLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
{
    // What `Filtered` does for the registry: learning its filter's id,
    // interest per callsite, the per-span and per-event verdicts.
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.filtered.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.filtered.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.filtered.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.filtered.enabled(metadata, ctx)
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.filtered.event_enabled(event, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Layer::<S>::max_level_hint(&self.filtered)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.filtered.on_new_span(attrs, id, ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.filtered.on_event(event, ctx);
    }

    // `on_record` formats the values before it looks at the span's state:
    // `Filtered` first asks whether the span is this layer's, so values of
    // spans it does not keep are never formatted (records are rare).
    fn on_record(&self, id: &Id, values: &SpanValues<'_>, ctx: Context<'_, S>) {
        self.filtered.on_record(id, values, ctx);
    }

    // Straight to the layer, which answers from its own table.
    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.filtered.inner().on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.filtered.inner().on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.filtered.inner().on_close(id, ctx);
    }

    // The layer does nothing with follows-from (`Filtered` would look both
    // spans up first) nor with id changes.
    fn on_follows_from(&self, _: &Id, _: &Id, _: Context<'_, S>) {}

    /// How tracing-subscriber tells that a layer has a per-layer filter
    /// (and finds a layer or filter by type): answered by the `Filtered`
    /// inside, whose answers point into `self`.
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(std::ptr::from_ref(self).cast());
        }
        // SAFETY: forwarded unchanged to `Filtered::downcast_raw`, which
        // returns a pointer to itself, its layer, its filter or its filter
        // id for those types' ids; all are fields of `self.filtered`, valid
        // for as long as `self` is borrowed, the contract of this method.
        unsafe { self.filtered.downcast_raw(id) }
    }
}
