//! The field visitor: the one parser of an event's or span's fields and of
//! the `telegram.*` instructions among them.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt::{self, Write as _};
use std::time::Duration;

use tracing_core::field::{Field, Visit};
use tracing_core::Metadata;

use crate::alert::AlertLevel;
use crate::record::{
    means_skip, FieldValue, Fields, Instruction, LogOrigin, CONTROL_PREFIX, MAX_ERROR_SOURCES,
};
use crate::text::{ShortText, Text};

/// A positive number of milliseconds, given as an integer or as text.
fn positive_millis(value: &FieldValue) -> Option<Duration> {
    let millis = match value {
        FieldValue::U64(n) => Some(*n),
        FieldValue::I64(n) => u64::try_from(*n).ok(),
        other => other.as_text().and_then(|text| text.trim().parse().ok()),
    };
    millis.filter(|ms| *ms > 0).map(Duration::from_millis)
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
    /// `telegram.slow_threshold_ms = N`, N > 0.
    pub(crate) slow_threshold: Option<Duration>,
    /// The event is a `log` record bridged by `tracing-log`: its `log.*`
    /// fields say where it came from, and are not shown.
    from_log: bool,
    /// What those fields said.
    pub(crate) log: Option<Box<LogOrigin>>,
}

/// Whether an event is a `log` record bridged by `tracing-log` (whose
/// metadata is its own, shared by all such records of a level).
pub(crate) fn is_log_event(metadata: &Metadata<'_>) -> bool {
    metadata.target() == "log" && metadata.name() == "log event"
}

impl FieldCollector {
    /// A collector with room for `fields` fields (one allocation, no regrowth).
    pub(crate) fn with_capacity(fields: usize) -> Self {
        FieldCollector {
            fields: Vec::with_capacity(fields),
            ..FieldCollector::default()
        }
    }

    /// A collector that adds to `fields` (a reused buffer, see
    /// `field_pool`).
    pub(crate) fn filling(fields: Fields) -> Self {
        FieldCollector {
            fields,
            ..FieldCollector::default()
        }
    }

    /// A collector for an event (a bridged `log` record's `log.*` fields
    /// are read as its origin).
    pub(crate) fn for_event(metadata: &Metadata<'_>) -> Self {
        FieldCollector {
            from_log: is_log_event(metadata),
            ..FieldCollector::with_capacity(metadata.fields().len())
        }
    }

    fn push(&mut self, field: &Field, value: FieldValue) {
        let name = field.name();
        if self.from_log {
            if let Some(part) = name.strip_prefix("log.") {
                return self.apply_log(part, &value);
            }
        }
        if name == "message" {
            self.message = Some(Text::from(value.to_string()));
        } else if name.starts_with(CONTROL_PREFIX) {
            if let Some(instruction) = Instruction::of(name) {
                self.apply(instruction, &value);
            }
        } else {
            self.fields.push((Cow::Borrowed(name), value));
        }
    }

    fn apply(&mut self, instruction: Instruction, value: &FieldValue) {
        match (instruction, value) {
            (Instruction::Skip, FieldValue::Bool(skip)) => self.skip |= *skip,
            (Instruction::Skip, other) => self.skip |= means_skip(&other.to_string()),
            (Instruction::Level, level) => self.level = AlertLevel::parse(&level.to_string()),
            (Instruction::Title, title) => self.title = Some(title.to_string()),
            (Instruction::Fingerprint, key) => self.fingerprint = Some(key.to_string()),
            (Instruction::SlowThreshold, millis) => self.slow_threshold = positive_millis(millis),
        }
    }

    /// Reads one `log.*` field of a bridged `log` record.
    fn apply_log(&mut self, part: &str, value: &FieldValue) {
        let origin = self.log.get_or_insert_with(Box::default);
        let text = || value.as_text().map(str::to_owned);
        match part {
            "target" => origin.target = text().unwrap_or_default(),
            "module_path" => origin.module = text(),
            "file" => origin.file = text(),
            "line" => {
                origin.line = match value {
                    FieldValue::U64(line) => u32::try_from(*line).ok(),
                    FieldValue::I64(line) => u32::try_from(*line).ok(),
                    _ => None,
                }
            }
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
