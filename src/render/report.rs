//! An alert's full report, sent as a text file when a chat member asks for
//! it (📄): what the alert itself cuts to fit a message — every span-trace
//! line, every backtrace frame, every field in full — as plain text. Made
//! from the record after the sanitizer ran; what the configuration hides
//! (`max_traceback_lines = 0`: no span trace, no backtrace) stays hidden.

use std::fmt::Write as _;

use crate::record::{FieldValue, Record};

use super::alert::{short_path, span_line};
use super::time::format_utc;
use super::RenderContext;

/// The largest report kept (a report is cut at a character boundary, and
/// says so).
pub(crate) const MAX_REPORT_BYTES: usize = 256 * 1024;

/// The full report of `record`, titled `title`.
pub(crate) fn full_report(record: &Record, title: &str, ctx: &RenderContext<'_>) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail: the results are ignored.
    let _ = writeln!(
        out,
        "{} {} · {} · {}",
        record.level.emoji(),
        record.level.label(),
        ctx.service,
        ctx.environment
    );
    let _ = writeln!(out, "{title}");
    let message = record.message.trim();
    if !message.is_empty() && message != title {
        let _ = writeln!(out, "\n{message}");
    }
    out.push('\n');
    if let Some(location) = record.location() {
        let file = location.file.map(short_path).unwrap_or("?");
        let line = location.line.map_or(String::new(), |l| format!(":{l}"));
        let _ = writeln!(out, "At:   {} ({file}{line})", location.target);
    }
    let _ = writeln!(out, "Time: {}", format_utc(record.timestamp));
    write_fields(&mut out, record);
    if ctx.max_traceback_lines > 0 {
        write_section(
            &mut out,
            "Span trace (root first)",
            record.spans.iter().map(span_line),
        );
        write_section(&mut out, "Backtrace", record.frames.iter().cloned());
    }
    cut(&mut out, MAX_REPORT_BYTES);
    out
}

/// `name = value` for each field, in full; an error with its causes.
pub(crate) fn fields_line(record: &Record) -> String {
    let mut line = String::new();
    for (i, (name, value)) in record.fields.iter().enumerate() {
        if i > 0 {
            line.push_str(", ");
        }
        let _ = write!(line, "{name}={value}");
    }
    line
}

fn write_fields(out: &mut String, record: &Record) {
    if record.fields.is_empty() {
        return;
    }
    out.push_str("\nFields\n");
    for (name, value) in &record.fields {
        let _ = writeln!(out, "  {name} = {value}");
        if let FieldValue::Error { sources, .. } = value {
            for source in sources {
                let _ = writeln!(out, "    caused by: {source}");
            }
        }
    }
}

fn write_section(out: &mut String, heading: &str, lines: impl Iterator<Item = String>) {
    let mut lines = lines.peekable();
    if lines.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "\n{heading}");
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary, saying so.
pub(crate) fn cut(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    const NOTE: &str = "\n… (cut: the report is longer than 256 KiB)\n";
    let mut at = max.saturating_sub(NOTE.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    text.push_str(NOTE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_report_ends_at_a_character_boundary_and_says_so() {
        let mut text = "é".repeat(200_000);
        cut(&mut text, MAX_REPORT_BYTES);
        assert!(text.len() <= MAX_REPORT_BYTES);
        assert!(text.ends_with("longer than 256 KiB)\n"));
    }
}
