//! Telegram HTML: escaping, layout, and the 4096 UTF-16 unit limit.
//!
//! Every piece of dynamic text goes through [`HtmlWriter::text`], which
//! escapes it and charges its visible length (in UTF-16 units, as Telegram
//! counts) against a budget. Text is cut *before* it is escaped, at a `char`
//! boundary, so a cut can never split a tag, an entity or a surrogate pair;
//! tags cost nothing visible and are always closed by the code that opened
//! them.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::alert::AlertLevel;
use crate::record::{FieldValue, Record, SpanRecord};

/// Telegram's limit on a message's visible text, in UTF-16 code units.
pub(crate) const MAX_MESSAGE_UNITS: usize = 4096;

/// Kept back for the footer (time and truncation marker) so that they always fit.
const FOOTER_RESERVE: usize = 64;
/// Longest message (or title) shown.
const MAX_MESSAGE_TEXT: usize = 1500;
/// Longest single field value shown.
const MAX_FIELD_VALUE: usize = 500;
/// Most fields shown per alert.
const MAX_FIELDS: usize = 30;

/// What the renderer needs besides the record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RenderContext<'a> {
    pub(crate) service: &'a str,
    pub(crate) environment: &'a str,
    /// 0 hides the span trace.
    pub(crate) max_traceback_lines: usize,
    /// Records dropped at a full queue since the last message.
    pub(crate) dropped_since_last: u64,
}

/// Renders one record as a complete `parse_mode=HTML` message.
pub(crate) fn render_record(record: &Record, ctx: &RenderContext<'_>) -> String {
    let mut w = HtmlWriter::new(MAX_MESSAGE_UNITS - FOOTER_RESERVE);
    write_header(&mut w, record.level, ctx);
    write_summary(&mut w, record);
    write_dropped_notice(&mut w, ctx.dropped_since_last);
    write_location(&mut w, record);
    write_fields(&mut w, record);
    write_span_trace(&mut w, &record.spans, ctx.max_traceback_lines);
    w.finish(record.timestamp)
}

fn write_header(w: &mut HtmlWriter, level: AlertLevel, ctx: &RenderContext<'_>) {
    w.text(level.emoji());
    w.text(" ");
    w.tagged("b", level.label(), 32);
    w.text(" · ");
    w.tagged("b", ctx.service, 64);
    w.text(" · ");
    w.tagged("i", ctx.environment, 64);
    w.text("\n");
}

fn write_summary(w: &mut HtmlWriter, record: &Record) {
    let message = record.message.trim();
    match &record.title {
        Some(title) => {
            w.text("\n");
            w.tagged("b", title.trim(), MAX_MESSAGE_TEXT / 4);
            if !message.is_empty() {
                w.text("\n");
                w.text_capped(message, MAX_MESSAGE_TEXT);
            }
        }
        None if message.is_empty() => {
            w.text("\n");
            w.tagged("b", "(event without a message)", 64);
        }
        None => {
            w.text("\n");
            w.tagged("b", message, MAX_MESSAGE_TEXT);
        }
    }
    w.text("\n");
}

fn write_dropped_notice(w: &mut HtmlWriter, dropped: u64) {
    if dropped == 0 {
        return;
    }
    w.text(&format!(
        "\n⚠️ {dropped} earlier alert(s) were dropped: the queue was full.\n"
    ));
}

fn write_location(w: &mut HtmlWriter, record: &Record) {
    let Some(metadata) = record.metadata() else {
        return;
    };
    w.text("\n📍 ");
    w.tagged("code", metadata.target(), 200);
    if let Some(file) = metadata.file() {
        let location = match metadata.line() {
            Some(line) => format!("{file}:{line}"),
            None => file.to_owned(),
        };
        w.text(" at ");
        w.tagged("code", &location, 300);
    }
    w.text("\n");
}

fn write_fields(w: &mut HtmlWriter, record: &Record) {
    if record.fields.is_empty() {
        return;
    }
    w.text("\n");
    w.tagged("b", "Fields", 16);
    for (name, value) in record.fields.iter().take(MAX_FIELDS) {
        w.text("\n• ");
        w.tagged("b", name, 100);
        w.text(": ");
        write_value(w, value);
    }
    if record.fields.len() > MAX_FIELDS {
        w.text(&format!(
            "\n… and {} more fields",
            record.fields.len() - MAX_FIELDS
        ));
    }
    w.text("\n");
}

fn write_value(w: &mut HtmlWriter, value: &FieldValue) {
    match value {
        FieldValue::Error { message, sources } => {
            w.tagged("code", message, MAX_FIELD_VALUE);
            for source in sources {
                w.text("\n   ↳ caused by: ");
                w.tagged("code", source, MAX_FIELD_VALUE);
            }
        }
        FieldValue::Str(text) | FieldValue::Text(text) => {
            w.tagged("code", text, MAX_FIELD_VALUE);
        }
        raw => w.tagged("code", &raw.to_string(), MAX_FIELD_VALUE),
    }
}

fn write_span_trace(w: &mut HtmlWriter, spans: &[SpanRecord], max_lines: usize) {
    if spans.is_empty() || max_lines == 0 {
        return;
    }
    // Keep the innermost spans: they are closest to what failed.
    let omitted = spans.len().saturating_sub(max_lines);
    w.text("\n");
    w.tagged("b", "Span trace", 16);
    w.text("\n");
    w.open("blockquote expandable");
    if omitted > 0 {
        w.text(&format!("… {omitted} outer span(s) omitted\n"));
    }
    for (depth, span) in spans.iter().skip(omitted).enumerate() {
        if depth > 0 {
            w.text("\n");
        }
        w.text_capped(&span_line(span), MAX_FIELD_VALUE);
    }
    w.close("blockquote");
    w.text("\n");
}

/// `name{key=value, …} · target`, plain text (escaped by the writer).
fn span_line(span: &SpanRecord) -> String {
    let mut line = String::from(span.name);
    if let Some(fields) = &span.fields {
        line.push('{');
        for (i, (name, value)) in fields.iter().enumerate() {
            if i > 0 {
                line.push_str(", ");
            }
            let _ = write!(line, "{name}={value}"); // writing to a String cannot fail
        }
        line.push('}');
    }
    line.push_str(" · ");
    line.push_str(span.target);
    line
}

/// Accumulates HTML while tracking the visible length against a budget.
#[derive(Debug)]
pub(crate) struct HtmlWriter {
    out: String,
    /// Visible UTF-16 units still available.
    remaining: usize,
    truncated: bool,
}

impl HtmlWriter {
    pub(crate) fn new(budget: usize) -> Self {
        HtmlWriter {
            out: String::with_capacity(1024),
            remaining: budget,
            truncated: false,
        }
    }

    /// Writes as much of `text` as the budget allows, escaped.
    pub(crate) fn text(&mut self, text: &str) {
        self.text_capped(text, usize::MAX);
    }

    /// Writes at most `cap` visible units of `text`, ending a cut text with `…`.
    pub(crate) fn text_capped(&mut self, text: &str, cap: usize) {
        let limit = cap.min(self.remaining);
        let (kept, cut) = cut_to_units(text, limit);
        let mut used = escape_into(&mut self.out, kept);
        if cut {
            self.truncated = true;
            if used < limit {
                self.out.push('…');
                used += 1;
            }
        }
        self.remaining -= used.min(self.remaining);
    }

    /// `<tag>text</tag>`, with the text capped at `cap` units.
    pub(crate) fn tagged(&mut self, tag: &'static str, text: &str, cap: usize) {
        self.open(tag);
        self.text_capped(text, cap);
        self.close(tag);
    }

    /// An opening tag (`tag` may carry attributes); costs no visible units.
    pub(crate) fn open(&mut self, tag: &'static str) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
    }

    /// A closing tag.
    pub(crate) fn close(&mut self, name: &'static str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Writes the footer into the reserved budget and returns the message.
    pub(crate) fn finish(mut self, timestamp: SystemTime) -> String {
        self.remaining += FOOTER_RESERVE;
        let truncated = self.truncated;
        self.text("\n🕒 ");
        self.text(&format_utc(timestamp));
        if truncated {
            self.text("\n");
            self.tagged("i", "✂️ truncated to fit Telegram's limit", 48);
        }
        self.out
    }
}

/// The longest prefix of `text` that fits in `limit` UTF-16 units once
/// escaped, leaving room for a `…` if it has to be cut. Cuts only at `char`
/// boundaries, so a surrogate pair is never split.
fn cut_to_units(text: &str, limit: usize) -> (&str, bool) {
    let mut units = 0;
    let mut fits_whole = true;
    let mut cut_at_with_ellipsis = 0;
    for (index, c) in text.char_indices() {
        let width = visible_units(c);
        if units + width > limit {
            fits_whole = false;
            break;
        }
        units += width;
        if units < limit {
            cut_at_with_ellipsis = index + c.len_utf8();
        }
    }
    if fits_whole {
        (text, false)
    } else {
        (&text[..cut_at_with_ellipsis], true)
    }
}

/// How many UTF-16 units a char shows as after [`escape_into`].
fn visible_units(c: char) -> usize {
    match c {
        '\r' => 0,
        c if is_unsafe_char(c) => 1, // replaced by U+FFFD
        c => c.len_utf16(),
    }
}

/// Control and bidirectional-override characters: they would garble or
/// disguise the text, so they are shown as U+FFFD.
fn is_unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Appends `text` escaped for Telegram HTML; returns its visible units.
fn escape_into(out: &mut String, text: &str) -> usize {
    let mut units = 0;
    for c in text.chars() {
        units += visible_units(c);
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => {}
            c if is_unsafe_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    units
}

/// `2026-11-28 09:01:02 UTC`.
pub(crate) fn format_utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_856_462);
        assert_eq!(format_utc(t), "2026-11-28 09:01:02 UTC");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(format_utc(leap), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn escapes_and_replaces_unsafe_chars() {
        let mut out = String::new();
        let units = escape_into(&mut out, "<a href=\"x\">&\u{7}\u{202E}\r\n");
        assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;&amp;\u{FFFD}\u{FFFD}\n");
        assert_eq!(units, 16); // 17 chars, and the dropped \r costs nothing
    }

    #[test]
    fn cuts_never_split_surrogate_pairs() {
        let text = "ab😀cd";
        // 😀 is two UTF-16 units: with a limit of 4 the ellipsis needs one.
        assert_eq!(cut_to_units(text, 4), ("ab", true));
        assert_eq!(cut_to_units(text, 5), ("ab😀", true));
        assert_eq!(cut_to_units(text, 6), (text, false));
        assert_eq!(cut_to_units("", 0), ("", false));
        assert_eq!(cut_to_units("x", 0), ("", true));
    }

    #[test]
    fn writer_never_exceeds_its_budget() {
        let mut w = HtmlWriter::new(10);
        w.tagged("b", "0123456789abcdef", 100);
        w.text("more");
        assert_eq!(w.out, "<b>012345678…</b>");
        assert_eq!(w.remaining, 0);
        assert!(w.truncated);
    }
}
