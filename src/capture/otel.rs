//! The trace an event belongs to, as `tracing-opentelemetry` knows it
//! (feature `opentelemetry`; supported: tracing-opentelemetry 0.34 with
//! opentelemetry 0.33): the trace id and span id of the event's span, added
//! to a captured record as `trace_id` and `span_id` fields (which the alert
//! shows and links, and fingerprints ignore). Without the feature, or
//! without an OpenTelemetry layer in the subscriber, it finds nothing. This
//! file is the only code that knows the feature.

use tracing_core::span::Id;
use tracing_core::Dispatch;

/// Where trace ids come from: the subscriber the layer was registered in.
#[derive(Debug, Default)]
pub(crate) struct OtelSource {
    #[cfg(feature = "opentelemetry")]
    dispatch: std::sync::OnceLock<tracing_core::dispatcher::WeakDispatch>,
}

impl OtelSource {
    /// Whether this build reads trace ids (the feature).
    pub(crate) const ENABLED: bool = cfg!(feature = "opentelemetry");

    /// Remembers the subscriber (weakly: the layer lives inside it).
    #[cfg_attr(not(feature = "opentelemetry"), allow(unused_variables))]
    pub(crate) fn register(&self, dispatch: &Dispatch) {
        #[cfg(feature = "opentelemetry")]
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    /// The trace id and span id of span `id`, if an OpenTelemetry layer
    /// tracks it. Must be called with no span extensions held (the
    /// OpenTelemetry layer locks them).
    #[cfg_attr(not(feature = "opentelemetry"), allow(unused_variables))]
    pub(crate) fn ids(&self, id: &Id) -> Option<(String, String)> {
        #[cfg(feature = "opentelemetry")]
        {
            use opentelemetry::trace::TraceContextExt;
            let dispatch = self.dispatch.get()?.upgrade()?;
            let context = tracing_opentelemetry::get_otel_context(id, &dispatch)?;
            let span = context.span();
            let span_context = span.span_context();
            span_context.is_valid().then(|| {
                (
                    span_context.trace_id().to_string(),
                    span_context.span_id().to_string(),
                )
            })
        }
        #[cfg(not(feature = "opentelemetry"))]
        None
    }
}
