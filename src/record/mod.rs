//! The [`Record`]: what the layer hands the worker, owned.
//!
//! In: what capture read from an event, a slow span, a panic or a manual
//! alert. Out: one owned value the pipeline's stages read and change
//! ([`fields`] holds its data types, [`http`] the keys of HTTP request
//! spans, [`slow`] what a slow span measured).
//!
//! A record is data, not a stage: it knows nothing of who made it or who
//! reads it, and depends on leaf types only, so that capture and the
//! pipeline share it without depending on each other.
//!
//! Capture happens on the application's thread, so a record keeps raw
//! values where it can (numbers, booleans, `&'static` names and metadata)
//! and formats only what borrows from the caller (`Debug` values, error
//! chains). Rendering, escaping and sanitizing all happen later, in the
//! worker.

pub(crate) mod fields;
pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod slow;

use std::sync::Arc;
use std::time::SystemTime;

use tracing_core::Metadata;

use crate::alert::{Alert, AlertLevel};
use crate::chat::Target;
use crate::text::Text;

pub(crate) use fields::{
    first_line, is_error_field, is_response_field, means_skip, FieldValue, Fields, Instruction,
    SpanList, SpanRecord, CONTROL_PREFIX, MAX_ERROR_SOURCES, SPAN_ID_FIELDS, TRACE_ID_FIELDS,
};
pub(crate) use http::{classify as http_field, Declares};
pub(crate) use slow::{keep_slowest, SlowChild, SlowSpan};

/// Where a record came from.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// A `tracing` event; its metadata gives target, module, file and line.
    Event(&'static Metadata<'static>),
    /// An alert sent through an `AlertHandle`.
    Manual,
}

/// What a record is, which decides where it goes: an alert, a digest row, a slow span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Occurrence {
    /// An event at or above `min_level`, or a manual alert: alerted.
    Alert,
    /// An event below `min_level` but at or above the digest level (WARN by
    /// default): counted in the next digest.
    DigestOnly,
    /// A span that took longer than its threshold.
    Slow(SlowSpan),
}

/// Everything the worker needs to turn one occurrence into a message.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) level: AlertLevel,
    pub(crate) occurrence: Occurrence,
    pub(crate) origin: Origin,
    /// A title set explicitly (manual alerts, `telegram.title`).
    pub(crate) title: Option<String>,
    /// The event's message (or the manual alert's text); inline when short.
    pub(crate) message: Text,
    pub(crate) fields: Fields,
    /// Enclosing spans, root first.
    pub(crate) spans: SpanList,
    pub(crate) timestamp: SystemTime,
    /// Captured unresolved on the application's thread, if asked for.
    pub(crate) backtrace: Option<Box<backtrace::Backtrace>>,
    /// The resolved, filtered backtrace (filled in by the worker).
    pub(crate) frames: Vec<String>,
    /// An explicit dedup key (`telegram.fingerprint = "..."`).
    pub(crate) fingerprint: Option<String>,
    /// The event's repeat-gate key, for the worker to open the gate with.
    pub(crate) gate_key: Option<GateKey>,
    /// The callsite's family, when the gate read one (see `gate::fold`).
    pub(crate) family: Option<Family>,
    /// Where a `log` record bridged by `tracing-log` came from.
    pub(crate) log: Option<Box<LogOrigin>>,
    /// The serial number of the request it happened in, whose status was
    /// not known yet: the worker waits a little for the request to end
    /// (see `channel::outcomes`).
    pub(crate) awaits_request: Option<u64>,
    /// Where a target or field route sends it (decided by the worker before
    /// anything changes its fields; `None`: its level decides).
    pub(crate) routed: Option<Box<Target>>,
}

impl Record {
    /// The one constructor: a record of `occurrence` at `level` with its message
    /// and what was captured around it, stamped now.
    #[inline]
    pub(crate) fn new(
        level: AlertLevel,
        occurrence: Occurrence,
        origin: Origin,
        message: Text,
        captured: Captured,
    ) -> Self {
        let Captured {
            title,
            fields,
            spans,
            backtrace,
            fingerprint,
            gate_key,
            family,
            log,
            awaits_request,
        } = captured;
        Record {
            level,
            occurrence,
            origin,
            title,
            message,
            fields,
            spans,
            timestamp: SystemTime::now(),
            backtrace,
            frames: Vec::new(),
            fingerprint,
            gate_key,
            family,
            log,
            awaits_request,
            routed: None,
        }
    }

    /// A record for a manual alert.
    pub(crate) fn from_alert(alert: Alert) -> Self {
        let message = alert.text.unwrap_or_default().into();
        let captured = Captured {
            title: Some(alert.title),
            fields: alert
                .details
                .into_iter()
                .map(|(key, value)| (key, FieldValue::Str(value)))
                .collect(),
            ..Captured::default()
        };
        Record::new(
            alert.level,
            Occurrence::Alert,
            Origin::Manual,
            message,
            captured,
        )
    }

    /// Where the record happened: a bridged `log` record's own target, file
    /// and line, or the event's; `None` for manual alerts.
    /// Whether the record or one of its enclosing spans has the field
    /// `name` with the value `value` (as the alert shows it).
    pub(crate) fn carries(&self, name: &str, value: &str) -> bool {
        let spans = self.spans.iter().filter_map(|span| span.fields.as_deref());
        std::iter::once(&self.fields).chain(spans).any(|fields| {
            fields.iter().any(|(field, shown)| {
                field == name
                    && match shown.as_text() {
                        Some(text) => text == value,
                        None => shown.to_string() == value,
                    }
            })
        })
    }

    pub(crate) fn location(&self) -> Option<Location<'_>> {
        if let Some(log) = &self.log {
            return Some(Location {
                target: &log.target,
                file: log.file.as_deref(),
                line: log.line,
            });
        }
        self.metadata().map(|metadata| Location {
            target: metadata.target(),
            file: metadata.file(),
            line: metadata.line(),
        })
    }

    /// For a record that reports an HTTP response (it has a status field):
    /// the key of the request it answered (`GET /orders/{id}`, from the
    /// innermost enclosing HTTP request span) and the status's text.
    pub(crate) fn http_response(&self) -> Option<(String, String)> {
        let status = self
            .fields
            .iter()
            .find(|(name, _)| is_response_field(name))
            .map(|(_, value)| value.to_string())?;
        let span = self.request_span()?;
        let key = http::span_key(span.target, span.name, span.fields.as_deref());
        Some((key, status))
    }

    /// For an event inside an HTTP request span that carries a server-error
    /// status already (tracing-actix-web records it before it logs the
    /// error): the request's key and the status's text.
    pub(crate) fn failing_request(&self) -> Option<(String, String)> {
        let span = self.request_span()?;
        let fields = span.fields.as_deref()?;
        let status = fields
            .iter()
            .find(|(name, _)| http::is_status_field(name))
            .map(|(_, value)| value.to_string())?;
        let server_error = status
            .trim_matches('"')
            .parse::<u16>()
            .is_ok_and(|code| code >= 500);
        server_error.then(|| (http::span_key(span.target, span.name, Some(fields)), status))
    }

    /// The request it happened in ended with these fields (its status
    /// recorded): they replace the ones captured with the record.
    pub(crate) fn request_ended(&mut self, fields: Arc<Fields>) {
        self.awaits_request = None;
        if let Some(span) = self
            .spans
            .iter_mut()
            .rev()
            .find(|span| http::http_request(span.fields.as_deref()).is_some())
        {
            span.fields = Some(fields);
        }
    }

    /// The innermost enclosing HTTP request span.
    pub(crate) fn request_span(&self) -> Option<&SpanRecord> {
        self.spans
            .iter()
            .rev()
            .find(|span| http::http_request(span.fields.as_deref()).is_some())
    }

    /// The event's metadata, if this record came from an event.
    pub(crate) fn metadata(&self) -> Option<&'static Metadata<'static>> {
        match self.origin {
            Origin::Event(metadata) => Some(metadata),
            Origin::Manual => None,
        }
    }
}

/// What was captured around a record's message. The layer fills in every
/// field (so that nothing is built only to be replaced on the hot path);
/// other callers take the rest from `Default`.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// A title set explicitly (manual alerts, `telegram.title`).
    pub(crate) title: Option<String>,
    pub(crate) fields: Fields,
    /// Enclosing spans, root first.
    pub(crate) spans: SpanList,
    /// Captured unresolved on the application's thread, if asked for.
    pub(crate) backtrace: Option<Box<backtrace::Backtrace>>,
    /// An explicit dedup key (`telegram.fingerprint = "..."`).
    pub(crate) fingerprint: Option<String>,
    /// The event's repeat-gate key.
    pub(crate) gate_key: Option<GateKey>,
    /// The callsite's family, when the gate read one.
    pub(crate) family: Option<Family>,
    /// Where a bridged `log` record came from.
    pub(crate) log: Option<Box<LogOrigin>>,
    /// See [`Record::awaits_request`].
    pub(crate) awaits_request: Option<u64>,
}

/// Where a `log` record bridged by `tracing-log` came from: its event's
/// own metadata only says `log`, the real target, module, file and line
/// travel as `log.*` fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LogOrigin {
    pub(crate) target: String,
    pub(crate) module: Option<String>,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
}

/// Where a record happened: target, file and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location<'a> {
    pub(crate) target: &'a str,
    pub(crate) file: Option<&'a str>,
    pub(crate) line: Option<u32>,
}

/// Identifies a kind of alert on the application's thread (see the repeat
/// gate, `gate`): the callsite, the effective level and the
/// normalised message, or the explicit fingerprint. A record carries the
/// key of its event so that the worker can open the gate for its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct GateKey(pub(crate) u64);

/// Identifies a callsite's family of variants on the application's thread
/// (see `gate::fold`): the callsite, the effective level and a bridged
/// `log` record's origin — a fingerprint without its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FamilyKey(pub(crate) u64);

impl FamilyKey {
    /// The key a folded family's occurrences are counted under at the
    /// repeat gate (one kind for all its variants).
    pub(crate) fn gate_key(self) -> GateKey {
        GateKey(self.0.rotate_left(17) ^ 0x5f0e_d0f0_1d00_0000)
    }
}

/// A record's place in its callsite's family (see [`FamilyKey`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Family {
    pub(crate) key: FamilyKey,
    /// The family is folded: the record stands for all its variants.
    pub(crate) folded: bool,
}

/// One event callsite for unit tests that need a record's metadata.
#[cfg(test)]
pub(crate) mod test_callsite {
    static CALLSITE: tracing_core::callsite::DefaultCallsite =
        tracing_core::callsite::DefaultCallsite::new(&META);
    /// An `ERROR` event of target `app`.
    pub(crate) static META: tracing_core::Metadata<'static> = tracing_core::metadata!(
        name: "event",
        target: "app",
        level: tracing_core::Level::ERROR,
        fields: &[],
        callsite: &CALLSITE,
        kind: tracing_core::metadata::Kind::EVENT,
    );
}
