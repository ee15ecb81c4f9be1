//! What the layer wants to see, decided once per callsite from its
//! metadata: events at or above the digest level, spans at or above
//! `span_level`, and — at any level — spans that look like HTTP requests
//! (tower-http makes them at DEBUG), spans that carry a `telegram.*` field
//! (so that `telegram.skip` works at any level) and spans of a skipped
//! target (which hide what happens inside them).
//!
//! The [`TelegramLayer`](super::TelegramLayer) consults it when a span is
//! created (a span it does not want gets no state); [`TelegramFilter`], a
//! per-layer filter, lets the registry skip those callsites for this layer
//! alone — other layers still see everything their own filters allow — so
//! that hot `trace!`/`debug_span!` instrumentation costs nothing when no
//! other layer wants it either.

use std::sync::Arc;

use tracing_core::{Interest, Level, Metadata};
use tracing_subscriber::layer::{Context, Filter};

use super::shape::SpanShape;
use super::skip::SkipRules;

/// The decision rules, shared by the layer and its filter.
#[derive(Debug, Clone)]
pub(crate) struct Wants {
    /// Events at or above this level are captured (`None`: none, a
    /// disabled layer).
    pub(crate) event_level: Option<Level>,
    /// Spans at or above this level are captured.
    pub(crate) span_level: Level,
    pub(crate) skip: Arc<SkipRules>,
}

impl Wants {
    /// Nothing at all (a disabled layer).
    pub(crate) fn nothing() -> Self {
        Wants {
            event_level: None,
            span_level: Level::ERROR,
            skip: Arc::new(SkipRules::new(&[], Vec::new())),
        }
    }

    /// Whether the layer wants to see this callsite.
    pub(crate) fn callsite(&self, metadata: &Metadata<'_>) -> bool {
        let Some(event_level) = self.event_level else {
            return false;
        };
        if metadata.is_span() {
            return self.span(metadata);
        }
        *metadata.level() <= event_level
    }

    /// Whether the layer wants a span of this callsite.
    #[inline]
    pub(crate) fn span(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.span_level || self.span_below_level(metadata)
    }

    /// A span below `span_level` that is wanted all the same.
    #[cold]
    fn span_below_level(&self, metadata: &Metadata<'_>) -> bool {
        let shape = SpanShape::of(metadata.fields());
        shape.http_request || shape.telegram || self.skip.skips_target(metadata.target())
    }
}

/// A per-layer filter that lets a [`TelegramLayer`](crate::TelegramLayer)
/// see only what it wants; made by [`TelegramLayer::filter`](crate::TelegramLayer::filter),
/// applied by [`Builder::build`](crate::Builder::build) to the layer it returns.
///
/// It decides once per callsite: events below the digest level (`WARN` by
/// default), and spans below [`span_level`](crate::Capture::span_level)
/// (`INFO`) unless they look like HTTP requests, carry a `telegram.*`
/// field or belong to a skipped target, are disabled — for this layer
/// only. It never disables a callsite for the rest of the registry.
/// Combine it with a filter of your own with
/// [`FilterExt::and`](tracing_subscriber::filter::FilterExt::and).
#[derive(Debug, Clone)]
pub struct TelegramFilter {
    wants: Wants,
}

impl TelegramFilter {
    pub(crate) fn new(wants: Wants) -> Self {
        TelegramFilter { wants }
    }
}

impl<S> Filter<S> for TelegramFilter {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        self.wants.callsite(metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.wants.callsite(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    // No `max_level_hint`: HTTP request spans and spans with `telegram.*`
    // fields are wanted at any level, so no level bounds what is wanted;
    // the per-callsite interest above does the work.
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_core::Kind;

    fn metadata(
        kind: Kind,
        level: Level,
        target: &'static str,
        fields: &'static [&'static str],
    ) -> Metadata<'static> {
        crate::capture::test_metadata(kind, level, target, "m", fields)
    }

    #[test]
    fn wants_what_it_can_report_and_what_explains_it() {
        let wants = Wants {
            event_level: Some(Level::WARN),
            span_level: Level::INFO,
            skip: Arc::new(SkipRules::new(&[], vec!["vault".to_owned()])),
        };
        let span =
            |level, target, fields| wants.callsite(&metadata(Kind::SPAN, level, target, fields));
        let event = |level| wants.callsite(&metadata(Kind::EVENT, level, "app", &[]));
        assert!(event(Level::ERROR) && event(Level::WARN));
        assert!(!event(Level::INFO) && !event(Level::TRACE));
        assert!(span(Level::INFO, "app", &[]));
        assert!(!span(Level::DEBUG, "h2::proto", &["stream_id"]));
        assert!(span(
            Level::DEBUG,
            "tower_http::trace",
            &["method", "uri", "version"]
        ));
        assert!(span(Level::TRACE, "app", &["telegram.skip"]));
        assert!(span(Level::DEBUG, "vault::unseal", &[]));
        assert!(!Wants::nothing().callsite(&metadata(Kind::EVENT, Level::ERROR, "app", &[])));
    }
}
