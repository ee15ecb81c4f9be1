//! What a span's callsite declares, read in one pass over its field names
//! when the span is created: whether it is an HTTP request span (a method
//! field and a path or route field, as tower-http's `TraceLayer` makes
//! them), whether it has a path (for `ignore_paths`), and its `telegram.*`
//! fields. Read from the callsite, so a field recorded later (`Empty` at
//! creation) counts.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing_core::field::FieldSet;
use tracing_core::Metadata;

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

/// Shapes already read, by callsite: a direct-mapped table of words, each
/// the metadata's address shifted up by [`SHAPE_BITS`] with the shape in the
/// low bits (0: empty). Reading a span's shape was a pass over its field
/// names with string comparisons (about 100 instructions per span created);
/// a callsite's metadata is `'static` and its field names never change.
static SHAPES: [AtomicU64; CACHED_SHAPES] = [const { AtomicU64::new(0) }; CACHED_SHAPES];

/// Entries of [`SHAPES`]: callsites whose spans a service creates all the
/// time are few.
const CACHED_SHAPES: usize = 256;

/// The shape's bits, below the address. No bit marks an entry as filled:
/// an address is never 0, so an entry whose upper bits match one is.
const SHAPE_BITS: u32 = 6;

impl SpanShape {
    /// The shape of a callsite's spans, read once per callsite (see
    /// [`SHAPES`]; a callsite whose entry another one holds is read again).
    #[inline]
    pub(crate) fn of_callsite(metadata: &'static Metadata<'static>) -> Self {
        let address = std::ptr::from_ref(metadata) as usize as u64;
        // An address that would not survive the shift is never cached (not
        // seen on 64-bit systems, where user addresses are under 2^57).
        if address >> (64 - SHAPE_BITS) != 0 {
            return SpanShape::of(metadata.fields());
        }
        let index = (address >> 4) as usize & (CACHED_SHAPES - 1);
        let Some(entry) = SHAPES.get(index) else {
            return SpanShape::of(metadata.fields());
        };
        let word = entry.load(Ordering::Relaxed);
        if word >> SHAPE_BITS == address {
            return SpanShape::from_bits(word);
        }
        Self::read_and_keep(metadata, entry, address)
    }

    /// A callsite not in [`SHAPES`] yet (or whose entry another took).
    #[cold]
    #[inline(never)]
    fn read_and_keep(metadata: &Metadata<'_>, entry: &AtomicU64, address: u64) -> Self {
        let shape = SpanShape::of(metadata.fields());
        entry.store((address << SHAPE_BITS) | shape.bits(), Ordering::Relaxed);
        shape
    }

    fn bits(self) -> u64 {
        [
            self.http_request,
            self.path,
            self.telegram,
            self.slow_threshold,
            self.status,
            self.rpc,
        ]
        .iter()
        .enumerate()
        .fold(0, |bits, (i, on)| bits | (u64::from(*on) << i))
    }

    fn from_bits(bits: u64) -> Self {
        let on = |i: u32| bits & (1 << i) != 0;
        SpanShape {
            http_request: on(0),
            path: on(1),
            telegram: on(2),
            slow_threshold: on(3),
            status: on(4),
            rpc: on(5),
        }
    }

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
    fn a_callsite_s_shape_is_read_once_and_kept_whole() {
        static FIELDS: &[&str] = &["http.method", "http.route", "http.status_code"];
        let metadata: &'static Metadata<'static> = Box::leak(Box::new(
            crate::capture::test_metadata(Kind::SPAN, Level::INFO, "app", "s", FIELDS),
        ));
        let read = SpanShape::of(metadata.fields());
        assert!(read.http_request && read.path && read.status);
        assert_eq!(SpanShape::of_callsite(metadata), read, "first: read");
        assert_eq!(SpanShape::of_callsite(metadata), read, "then: kept");
        for shape in [
            read,
            SpanShape::default(),
            shape(&["telegram.slow_threshold_ms"]),
        ] {
            assert_eq!(SpanShape::from_bits(shape.bits()), shape);
        }
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
