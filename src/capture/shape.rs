//! What a span's callsite declares, read in one pass over its field names
//! when the span is created: whether it is an HTTP request span (a method
//! field and a path or route field, as tower-http's `TraceLayer` makes
//! them), whether it has a path (for `ignore_paths`), and its `telegram.*`
//! fields. Read from the callsite, so a field recorded later (`Empty` at
//! creation) counts.

use tracing_core::field::FieldSet;

use crate::record::{http_field, Declares, CONTROL_PREFIX};

/// The field that gives a span its own slow threshold, in milliseconds.
pub(crate) const THRESHOLD_FIELD: &str = "telegram.slow_threshold_ms";

/// See the module documentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SpanShape {
    /// A method field and a path or route field.
    pub(crate) http_request: bool,
    /// A path, URL or route field.
    pub(crate) path: bool,
    /// Any `telegram.*` field.
    pub(crate) telegram: bool,
    /// `telegram.slow_threshold_ms`.
    pub(crate) slow_threshold: bool,
    /// A status field (`http.status_code`, `http.response.status_code`,
    /// `otel.status_code`, `rpc.grpc.status_code`): a request span that may
    /// close failing.
    pub(crate) status: bool,
    /// An `rpc.method` field: a gRPC (or other RPC) call's span.
    pub(crate) rpc: bool,
}

impl SpanShape {
    /// The shape of a span with these fields.
    pub(crate) fn of(fields: &FieldSet) -> Self {
        let mut shape = SpanShape::default();
        let mut method = false;
        for field in fields {
            let name = field.name();
            match http_field(name) {
                Some(Declares::Method) => method = true,
                Some(Declares::Target) => shape.path = true,
                None if name.starts_with(CONTROL_PREFIX) => {
                    shape.telegram = true;
                    shape.slow_threshold |= name == THRESHOLD_FIELD;
                }
                None => {
                    shape.status |= is_status_field(name);
                    shape.rpc |= name == "rpc.method";
                }
            }
        }
        shape.http_request = method && shape.path;
        shape
    }
}

/// Whether a field gives a request's outcome (first letters first: this
/// runs for every field of every span created).
pub(crate) fn is_status_field(name: &str) -> bool {
    match name.as_bytes().first() {
        Some(b'h') => crate::record::http::is_status_field(name),
        Some(b'o') => name == "otel.status_code",
        Some(b'r') => name == "rpc.grpc.status_code",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_core::{Kind, Level};

    fn shape(fields: &'static [&'static str]) -> SpanShape {
        let metadata = crate::capture::test_metadata(Kind::SPAN, Level::INFO, "app", "s", fields);
        SpanShape::of(metadata.fields())
    }

    #[test]
    fn one_pass_tells_what_a_span_declares() {
        assert_eq!(shape(&["customer_id"]), SpanShape::default());
        let tower_http = shape(&["method", "uri", "version"]);
        assert!(tower_http.http_request && tower_http.path && !tower_http.telegram);
        let otel = shape(&["http.request.method", "url.path"]);
        assert!(otel.http_request);
        let path_only = shape(&["path"]);
        assert!(path_only.path && !path_only.http_request);
        let judged = shape(&["telegram.slow_threshold_ms"]);
        assert!(judged.telegram && judged.slow_threshold);
        let skipped = shape(&["telegram.skip"]);
        assert!(skipped.telegram && !skipped.slow_threshold);
        let actix = shape(&[
            "http.method",
            "http.route",
            "http.status_code",
            "otel.status_code",
        ]);
        assert!(actix.http_request && actix.status);
        assert!(!tower_http.status);
        let grpc = shape(&[
            "rpc.system",
            "rpc.service",
            "rpc.method",
            "rpc.grpc.status_code",
        ]);
        assert!(grpc.rpc && grpc.status && !grpc.http_request);
    }
}
