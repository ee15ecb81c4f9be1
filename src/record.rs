//! What the layer hands the worker: an owned [`Record`], and the field
//! visitor that captures it.
//!
//! Capture happens on the application's thread, so it keeps raw values where
//! it can (numbers, booleans, `&'static` names and metadata) and formats only
//! what borrows from the caller (`Debug` values, error chains). Rendering,
//! escaping and sanitizing all happen later, in the worker.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::SystemTime;

use tracing_core::field::{Field, Visit};
use tracing_core::Metadata;

use crate::alert::{Alert, AlertLevel};
use crate::short_text::{ShortText, Text};

/// How deep an error's `source()` chain is followed.
pub(crate) const MAX_ERROR_SOURCES: usize = 8;

/// Fields whose name starts with this are instructions to this crate
/// (`telegram.skip`, …), not data to show.
pub(crate) const CONTROL_PREFIX: &str = "telegram.";

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

/// Where a record came from.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// A `tracing` event; its metadata gives target, module, file and line.
    Event(&'static Metadata<'static>),
    /// An alert sent through an `AlertHandle`.
    Manual,
}

/// What kind of occurrence a record is, which decides its route.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// An event at or above `min_level`, or a manual alert: alerted.
    Alert,
    /// An event below `min_level` but at or above the digest level (WARN by
    /// default): counted in the next digest.
    DigestOnly,
    /// A span that took longer than its threshold.
    Slow(SlowSpan),
}

/// How long a slow span took, and against what threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlowSpan {
    /// From creation to close.
    pub(crate) total: std::time::Duration,
    /// Time spent entered (doing work rather than waiting).
    pub(crate) busy: std::time::Duration,
    /// The threshold it exceeded.
    pub(crate) threshold: std::time::Duration,
    /// Whether `busy` (rather than `total`) was judged.
    pub(crate) judged_busy: bool,
}

impl SlowSpan {
    /// The duration that was judged.
    pub(crate) fn measured(&self) -> std::time::Duration {
        if self.judged_busy {
            self.busy
        } else {
            self.total
        }
    }
}

/// Everything the worker needs to turn one occurrence into a message.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) level: AlertLevel,
    pub(crate) kind: Kind,
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
    pub(crate) gate_key: Option<crate::repeat_gate::GateKey>,
}

impl Record {
    /// A record for a manual alert.
    pub(crate) fn from_alert(alert: Alert) -> Self {
        Record {
            level: alert.level,
            kind: Kind::Alert,
            origin: Origin::Manual,
            title: Some(alert.title),
            message: alert.message.unwrap_or_default().into(),
            fields: alert
                .details
                .into_iter()
                .map(|(key, value)| (key, FieldValue::Str(value)))
                .collect(),
            spans: SpanList::default(),
            timestamp: SystemTime::now(),
            backtrace: None,
            frames: Vec::new(),
            fingerprint: None,
            gate_key: None,
        }
    }

    /// The event's metadata, if this record came from an event.
    pub(crate) fn metadata(&self) -> Option<&'static Metadata<'static>> {
        match self.origin {
            Origin::Event(metadata) => Some(metadata),
            Origin::Manual => None,
        }
    }
}

/// Collects an event's or span's fields, and the `telegram.*` instructions
/// among them.
#[derive(Debug, Default)]
pub(crate) struct FieldCollector {
    pub(crate) message: Option<Text>,
    pub(crate) fields: Fields,
    /// `telegram.skip = true` was seen.
    pub(crate) skip: bool,
    /// `telegram.level = "critical"` and the like.
    pub(crate) level: Option<AlertLevel>,
    /// `telegram.title = "..."`.
    pub(crate) title: Option<String>,
    /// `telegram.fingerprint = "..."`.
    pub(crate) fingerprint: Option<String>,
}

impl FieldCollector {
    /// A collector with room for `fields` fields (one allocation, no regrowth).
    pub(crate) fn with_capacity(fields: usize) -> Self {
        FieldCollector {
            fields: Vec::with_capacity(fields),
            ..FieldCollector::default()
        }
    }

    fn push(&mut self, field: &Field, value: FieldValue) {
        let name = field.name();
        if name == "message" {
            self.message = Some(Text::from(value.to_string()));
        } else if let Some(instruction) = name.strip_prefix(CONTROL_PREFIX) {
            self.apply_instruction(instruction, &value);
        } else {
            self.fields.push((Cow::Borrowed(name), value));
        }
    }

    fn apply_instruction(&mut self, instruction: &str, value: &FieldValue) {
        match (instruction, value) {
            ("skip", FieldValue::Bool(skip)) => self.skip |= *skip,
            ("skip", other) => self.skip |= other.to_string() == "true",
            ("level", level) => self.level = AlertLevel::parse(&level.to_string()),
            ("title", title) => self.title = Some(title.to_string()),
            ("fingerprint", key) => self.fingerprint = Some(key.to_string()),
            _ => {}
        }
    }

    /// Merges later-recorded span values (`Span::record`) into existing
    /// fields, replacing a value recorded under the same name.
    pub(crate) fn merge_into(self, fields: &mut Fields) {
        for (name, value) in self.fields {
            match fields.iter_mut().find(|(existing, _)| *existing == name) {
                Some(slot) => slot.1 = value,
                None => fields.push((name, value)),
            }
        }
    }
}

impl Visit for FieldCollector {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, FieldValue::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, FieldValue::U128(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(Text::new(value));
            return;
        }
        let value = ShortText::new(value)
            .map_or_else(|| FieldValue::Str(value.to_owned()), FieldValue::Short);
        self.push(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn StdError + 'static)) {
        let message = value.to_string();
        let mut sources = Vec::new();
        let mut source = value.source();
        while let Some(cause) = source {
            if sources.len() == MAX_ERROR_SOURCES {
                break;
            }
            sources.push(cause.to_string());
            source = cause.source();
        }
        self.push(field, FieldValue::Error { message, sources });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Short text stays inline. Writing only fails if the value's Debug
        // impl itself returns an error; keep whatever it wrote.
        let mut text = Text::default();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
            return;
        }
        self.push(field, FieldValue::from(text));
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

    #[test]
    fn later_values_replace_earlier_ones() {
        let mut fields: Fields = vec![(Cow::Borrowed("a"), FieldValue::I64(1))];
        let update = FieldCollector {
            fields: vec![
                (Cow::Borrowed("a"), FieldValue::I64(2)),
                (Cow::Borrowed("b"), FieldValue::Bool(true)),
            ],
            ..FieldCollector::default()
        };
        update.merge_into(&mut fields);
        assert_eq!(
            fields,
            vec![
                (Cow::Borrowed("a"), FieldValue::I64(2)),
                (Cow::Borrowed("b"), FieldValue::Bool(true)),
            ]
        );
    }
}
