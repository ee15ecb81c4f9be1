//! A record's data: field values (kept raw where that costs nothing) and
//! the enclosing spans of the trace.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::text::{ShortText, Text};

/// How deep an error's `source()` chain is followed.
pub(crate) const MAX_ERROR_SOURCES: usize = 8;

/// Fields whose name starts with this are instructions to this crate
/// (`telegram.skip`, …), not data to show.
pub(crate) const CONTROL_PREFIX: &str = "telegram.";

/// The names a trace id is read under (the first is the one written when
/// capture adds a trace id of its own, see `capture::otel`).
pub(crate) const TRACE_ID_FIELDS: &[&str] = &["trace_id", "trace.id", "otel.trace_id"];
/// The names a span id is read under (the first, as above).
pub(crate) const SPAN_ID_FIELDS: &[&str] = &["span_id", "span.id", "otel.span_id"];

/// Text fields from `(name, value)` pairs, for tests.
#[cfg(test)]
pub(crate) fn text_fields(pairs: &[(&'static str, &str)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                std::borrow::Cow::Borrowed(*k),
                FieldValue::Text((*v).to_owned()),
            )
        })
        .collect()
}

/// Whether a field's value says *which* failure happened (`error`, an
/// HTTP `status`, tower-http's `classification`, …): its normalised value
/// takes part in the fingerprint, so distinct errors at one callsite are
/// distinct alerts while "row 0 not found" and "row 2 not found" stay one.
pub(crate) fn is_error_field(name: &str) -> bool {
    matches!(
        name,
        "error"
            | "err"
            | "exception"
            | "error.message"
            | "classification"
            | "status"
            | "http.response.status_code"
    )
}

/// Whether a field carries an HTTP response's status (tower-http's
/// `classification`, OpenTelemetry's `http.response.status_code`, a plain
/// `status`): the event reports a response, and which request it answered
/// (method and route) tells failures apart.
pub(crate) fn is_response_field(name: &str) -> bool {
    matches!(
        name,
        "classification" | "status" | "http.response.status_code" | "http.status_code"
    )
}

/// The first line of a text (an error's `Display` may go on for pages).
pub(crate) fn first_line(text: &str) -> &str {
    text.split('\n').next().unwrap_or("")
}

/// The name of a field: `&'static` for `tracing` fields, owned for manual
/// alert details.
pub(crate) type FieldName = Cow<'static, str>;

/// A field value, kept raw where that costs nothing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Str(String),
    /// A short string or `Debug`/`Display` text, kept inline (no allocation).
    Short(ShortText),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
    /// The `Debug` (or `Display`, for `%value`) text of a value.
    Text(String),
    /// A value recorded with `record_error`: its `Display` and the `Display`
    /// of each `source()`, outermost first.
    Error {
        message: String,
        sources: Vec<String>,
    },
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Str(s) | FieldValue::Text(s) => f.write_str(s),
            FieldValue::Short(s) => f.write_str(s.as_str()),
            FieldValue::I64(v) => write!(f, "{v}"),
            FieldValue::U64(v) => write!(f, "{v}"),
            FieldValue::I128(v) => write!(f, "{v}"),
            FieldValue::U128(v) => write!(f, "{v}"),
            FieldValue::F64(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => write!(f, "{v}"),
            FieldValue::Error { message, .. } => f.write_str(message),
        }
    }
}

impl From<Text> for FieldValue {
    fn from(text: Text) -> Self {
        match text {
            Text::Short(short) => FieldValue::Short(short),
            Text::Long(long) => FieldValue::Text(long),
        }
    }
}

impl FieldValue {
    /// [`FieldValue::as_text`] as bytes, without re-checking inline text
    /// for UTF-8 (for byte-wise matching on the application's thread).
    pub(crate) fn text_bytes(&self) -> Option<&[u8]> {
        match self {
            FieldValue::Str(text) | FieldValue::Text(text) => Some(text.as_bytes()),
            FieldValue::Short(short) => Some(short.as_bytes()),
            _ => None,
        }
    }

    /// The value's text, if it is a string or formatted text.
    pub(crate) fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Str(text) | FieldValue::Text(text) => Some(text),
            FieldValue::Short(short) => Some(short.as_str()),
            _ => None,
        }
    }
}

/// Ordered `name = value` pairs.
pub(crate) type Fields = Vec<(FieldName, FieldValue)>;

/// One enclosing span, as shown in an alert's span trace.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpanRecord {
    pub(crate) name: &'static str,
    pub(crate) target: &'static str,
    /// Shared with the span's extension: capturing an event clones a pointer,
    /// not the fields.
    pub(crate) fields: Option<Arc<Fields>>,
}

/// How many enclosing spans a record holds without allocating.
const INLINE_SPANS: usize = 4;

/// The enclosing spans of a record, root first. Up to four are kept inline,
/// so capturing an event inside a typical request allocates nothing for
/// them; it dereferences to a slice.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpanList {
    len: usize,
    inline: [SpanRecord; INLINE_SPANS],
    /// All of them, once there are more than fit inline.
    spilled: Vec<SpanRecord>,
}

impl SpanList {
    pub(crate) fn push(&mut self, span: SpanRecord) {
        if !self.spilled.is_empty() {
            self.spilled.push(span);
        } else if self.len < INLINE_SPANS {
            self.inline[self.len] = span;
            self.len += 1;
        } else {
            self.spilled.reserve(INLINE_SPANS * 2);
            self.spilled
                .extend(self.inline.iter_mut().map(std::mem::take));
            self.spilled.push(span);
            self.len = 0;
        }
    }
}

impl std::ops::Deref for SpanList {
    type Target = [SpanRecord];

    fn deref(&self) -> &[SpanRecord] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

impl std::ops::DerefMut for SpanList {
    fn deref_mut(&mut self) -> &mut [SpanRecord] {
        if self.spilled.is_empty() {
            &mut self.inline[..self.len]
        } else {
            &mut self.spilled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_lists_spill_beyond_the_inline_ones_in_order() {
        let mut spans = SpanList::default();
        let names = ["a", "b", "c", "d", "e", "f"];
        for (i, name) in names.iter().enumerate() {
            spans.push(SpanRecord {
                name,
                ..SpanRecord::default()
            });
            let seen: Vec<&str> = spans.iter().map(|s| s.name).collect();
            assert_eq!(seen, names[..=i]);
        }
    }
}

/// An instruction to this crate carried by a `telegram.*` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instruction {
    /// `telegram.skip = true`: hide this span (and everything inside it) or event.
    Skip,
    /// `telegram.level = "critical"`: the alert's level.
    Level,
    /// `telegram.title = "..."`: the alert's title.
    Title,
    /// `telegram.fingerprint = "..."`: the dedup key, instead of the computed one.
    Fingerprint,
    /// `telegram.slow_threshold_ms = 500` (on a span): judge it slow
    /// against this threshold.
    SlowThreshold,
}

impl Instruction {
    /// The instruction the field `name` carries, if it is one (an unknown
    /// `telegram.*` name is ignored, and not shown either).
    #[inline]
    pub(crate) fn of(name: &str) -> Option<Instruction> {
        match name.strip_prefix(CONTROL_PREFIX)? {
            "skip" => Some(Instruction::Skip),
            "level" => Some(Instruction::Level),
            "title" => Some(Instruction::Title),
            "fingerprint" => Some(Instruction::Fingerprint),
            "slow_threshold_ms" => Some(Instruction::SlowThreshold),
            _ => None,
        }
    }

    /// Whether an event's value of this instruction changes its dedup key.
    pub(crate) fn shapes_the_key(self) -> bool {
        matches!(
            self,
            Instruction::Skip | Instruction::Level | Instruction::Fingerprint
        )
    }
}

/// Whether a `telegram.skip` value recorded as text means "skip".
pub(crate) fn means_skip(text: &str) -> bool {
    text == "true"
}
