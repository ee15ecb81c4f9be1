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
use crate::digest::DigestReport;
use crate::record::{FieldValue, Record, SpanRecord};
use crate::span_key::http_request;
use std::time::Duration;

/// Telegram's limit on a message's visible text, in UTF-16 code units.
pub(crate) const MAX_MESSAGE_UNITS: usize = 4096;

/// Kept back for the footer (time and truncation marker) so that they always fit.
const FOOTER_RESERVE: usize = 64;
/// Longest title (explicit, or the message's first line) shown.
const MAX_TITLE: usize = 400;
/// Longest message body (the lines after the title) shown; a long body is
/// what continuation messages are for.
const MAX_BODY: usize = 12_000;
/// Longest span-trace line shown.
const MAX_SPAN_LINE: usize = 500;

/// What the renderer needs besides the record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RenderContext<'a> {
    pub(crate) service: &'a str,
    pub(crate) environment: &'a str,
    /// 0 hides the span trace.
    pub(crate) max_traceback_lines: usize,
    /// Longest field value shown.
    pub(crate) max_field_len: usize,
    /// Most fields shown.
    pub(crate) max_fields: usize,
    /// Records dropped at a full queue since the last message.
    pub(crate) dropped_since_last: u64,
    /// Messages an alert may take: 1 + continuation messages.
    pub(crate) max_messages: usize,
}

/// Renders one record as `parse_mode=HTML` messages: one, or up to
/// `ctx.max_messages` when its content does not fit in one (each page a
/// complete, balanced HTML document within the limit).
pub(crate) fn render_record(record: &Record, ctx: &RenderContext<'_>) -> Vec<String> {
    let continuation = format!(
        "{} {} · {}",
        record.level.emoji(),
        record.level.label(),
        ctx.service
    );
    let mut w = HtmlWriter::new(ctx.max_messages, continuation);
    write_header(&mut w, record.level, ctx);
    write_summary(&mut w, record);
    write_http_request(&mut w, record);
    write_dropped_notice(&mut w, ctx.dropped_since_last);
    write_location(&mut w, record);
    write_fields(&mut w, record, ctx);
    write_span_trace(&mut w, &record.spans, ctx.max_traceback_lines);
    write_backtrace(&mut w, &record.frames);
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
    let (title, body) = match &record.title {
        Some(title) => (title.trim(), message),
        None => match message.split_once('\n') {
            Some((first, rest)) => (first.trim(), rest.trim_matches('\n')),
            None => (message, ""),
        },
    };
    let fallback;
    let title = if title.is_empty() && body.is_empty() {
        fallback = untitled(record);
        fallback.as_str()
    } else {
        title
    };
    w.text("\n");
    w.tagged("b", title, MAX_TITLE);
    if body.contains('\n') {
        w.text("\n");
        w.tagged("pre", body, MAX_BODY);
    } else if !body.is_empty() {
        w.text("\n");
        w.text_capped(body, MAX_BODY);
    }
    w.text("\n");
}

/// A dependency's source path without the machine's cargo home
/// (`/root/.cargo/registry/src/index…/tower-http-0.6.11/src/x.rs` →
/// `tower-http-0.6.11/src/x.rs`); other paths as they are.
pub(crate) fn short_path(file: &str) -> &str {
    const REGISTRY: &str = "/registry/src/";
    const GIT: &str = "/git/checkouts/";
    if file.starts_with("/rustc/") {
        if let Some(start) = file.find("/library/") {
            return &file[start + 1..];
        }
    }
    for marker in [REGISTRY, GIT] {
        if let Some(start) = file.find(marker) {
            let rest = &file[start + marker.len()..];
            // Skip the index (or repository) directory.
            return rest.split_once('/').map_or(rest, |(_, path)| path);
        }
    }
    file
}

/// A title for an event without a message (`#[instrument(err)]` records
/// only an `error` field): the error, or where it happened.
fn untitled(record: &Record) -> String {
    let error = record
        .fields
        .iter()
        .find(|(name, _)| matches!(name.as_ref(), "error" | "err" | "exception"));
    match (error, record.spans.last()) {
        (Some((_, error)), Some(span)) => format!("{} failed: {error}", span.name),
        (Some((_, error)), None) => error.to_string(),
        (None, Some(span)) => format!("event in {}", span.name),
        (None, None) => "(event without a message)".to_owned(),
    }
}

/// `🌐 GET /orders/77` when the record happened inside an HTTP request span.
fn write_http_request(w: &mut HtmlWriter, record: &Record) {
    let request = record
        .spans
        .iter()
        .rev()
        .find_map(|span| http_request(span.fields.as_deref()));
    if let Some(request) = request {
        w.text("🌐 ");
        w.tagged("code", &request, 300);
        w.text("\n");
    }
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
        let file = short_path(file);
        let location = match metadata.line() {
            Some(line) => format!("{file}:{line}"),
            None => file.to_owned(),
        };
        w.text(" at ");
        w.tagged("code", &location, 300);
    }
    w.text("\n");
}

fn write_fields(w: &mut HtmlWriter, record: &Record, ctx: &RenderContext<'_>) {
    if record.fields.is_empty() || ctx.max_fields == 0 {
        return;
    }
    w.text("\n");
    w.tagged("b", "Fields", 16);
    for (name, value) in record.fields.iter().take(ctx.max_fields) {
        w.text("\n• ");
        w.tagged("b", name, 100);
        w.text(": ");
        write_value(w, value, ctx.max_field_len);
    }
    if record.fields.len() > ctx.max_fields {
        w.text(&format!(
            "\n… and {} more fields",
            record.fields.len() - ctx.max_fields
        ));
    }
    w.text("\n");
}

fn write_value(w: &mut HtmlWriter, value: &FieldValue, max_len: usize) {
    match value {
        FieldValue::Error { message, sources } => {
            w.tagged("code", message, max_len);
            for source in sources {
                w.text("\n   ↳ caused by: ");
                w.tagged("code", source, max_len);
            }
        }
        FieldValue::Str(text) | FieldValue::Text(text) => {
            w.tagged("code", text, max_len);
        }
        FieldValue::Short(short) => w.tagged("code", short.as_str(), max_len),
        raw => w.tagged("code", &raw.to_string(), max_len),
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
        w.text_capped(&span_line(span), MAX_SPAN_LINE);
    }
    w.close();
    w.text("\n");
}

fn write_backtrace(w: &mut HtmlWriter, frames: &[String]) {
    if frames.is_empty() {
        return;
    }
    w.text("\n");
    w.tagged("b", "Backtrace", 16);
    w.text("\n");
    w.open("blockquote expandable");
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            w.text("\n");
        }
        w.text_capped(frame, MAX_SPAN_LINE);
    }
    w.close();
    w.text("\n");
}

/// A tally: the edit of the original alert `(Some(message_id), html, None)`
/// when it can be edited, with a follow-up as fallback; else only the
/// follow-up `(None, html, None)`.
pub(crate) fn render_tally(
    tally: &crate::dedup::Tally,
    service: &str,
) -> (Option<i64>, String, Option<String>) {
    let line = format!(
        "🔁 ×{} in the last {}, last seen at {}",
        tally.total,
        format_duration(tally.window),
        format_utc(tally.last_seen)
    );
    let mut follow_up = HtmlWriter::new(1, String::new());
    follow_up.text(&format!("🔁 {} · ", service));
    follow_up.tagged("b", &format!("×{}", tally.total), 32);
    follow_up.text(" · ");
    follow_up.text_capped(&tally.title, 300);
    follow_up.text("\n");
    follow_up.text(&line);
    let follow_up = follow_up.into_html();
    let Some(delivered) = tally.delivered.as_ref().filter(|d| !d.plain) else {
        return (None, follow_up, None);
    };
    let mut edited = delivered.html.clone();
    edited.push_str("\n\n");
    let line_units = escape_into(&mut edited, &line);
    let original_units = html_to_plain(&delivered.html).encode_utf16().count();
    if original_units + 2 + line_units > MAX_MESSAGE_UNITS {
        return (None, follow_up, None);
    }
    (Some(delivered.message_id), edited, Some(follow_up))
}

/// A one-line notice: `🟢 service · env` and the text.
pub(crate) fn render_notice(emoji: &str, text: &str, ctx: &RenderContext<'_>) -> Vec<String> {
    let mut w = HtmlWriter::new(1, String::new());
    w.text(emoji);
    w.text(" ");
    w.tagged("b", ctx.service, 64);
    w.text(" · ");
    w.tagged("i", ctx.environment, 64);
    w.text("\n");
    w.text_capped(text, 1000);
    w.text("\n");
    w.finish(SystemTime::now())
}

/// Renders a digest as silent `parse_mode=HTML` messages.
pub(crate) fn render_digest(report: &DigestReport, ctx: &RenderContext<'_>) -> Vec<String> {
    let mut w = HtmlWriter::new(ctx.max_messages, format!("📊 DIGEST · {}", ctx.service));
    w.text("📊 ");
    w.tagged("b", "DIGEST", 16);
    w.text(" · ");
    w.tagged("b", ctx.service, 64);
    w.text(" · ");
    w.tagged("i", ctx.environment, 64);
    w.text("\n");
    w.tagged("i", &format!("last {}", format_duration(report.period)), 64);
    w.text("\n");
    write_slow_rows(&mut w, report);
    write_warning_rows(&mut w, report);
    let mut notices = Vec::new();
    if report.dropped > 0 {
        notices.push(format!("{} record(s) dropped (queue full)", report.dropped));
    }
    if report.deduplicated > 0 {
        notices.push(format!("{} repeat(s) suppressed", report.deduplicated));
    }
    if !notices.is_empty() {
        w.text(&format!(
            "\n⚠️ {} since the last digest\n",
            notices.join(", ")
        ));
    }
    w.finish(report.ended)
}

fn write_slow_rows(w: &mut HtmlWriter, report: &DigestReport) {
    if report.slow.is_empty() && report.slow_untracked == 0 {
        return;
    }
    w.text("\n");
    w.tagged("b", "🐢 Slow spans", 32);
    w.text("\n");
    for row in &report.slow {
        w.text("• ");
        w.tagged("code", &row.key, 200);
        w.text(&format!(
            " ×{} · p50 {} · p95 {} · max {} (threshold {})\n",
            row.count,
            format_duration(row.p50),
            format_duration(row.p95),
            format_duration(row.max),
            format_duration(row.threshold)
        ));
    }
    if report.slow_more_keys > 0 {
        w.text(&format!("…and {} more\n", report.slow_more_keys));
    }
    if report.slow_untracked > 0 {
        w.text(&format!(
            "…and {} occurrence(s) of other keys (too many to track)\n",
            report.slow_untracked
        ));
    }
}

fn write_warning_rows(w: &mut HtmlWriter, report: &DigestReport) {
    if report.warnings.is_empty() && report.warnings_untracked == 0 {
        return;
    }
    w.text("\n");
    w.tagged("b", "🟠 Warnings", 32);
    w.text("\n");
    for row in &report.warnings {
        w.text(&format!("• ×{} ", row.count));
        w.tagged("code", &row.target, 100);
        w.text(": ");
        w.text_capped(row.message.trim(), 200);
        w.text("\n");
    }
    if report.warnings_more_kinds > 0 {
        w.text(&format!("…and {} more kinds\n", report.warnings_more_kinds));
    }
    if report.warnings_untracked > 0 {
        w.text(&format!(
            "…and {} more warning(s) (too many kinds to track)\n",
            report.warnings_untracked
        ));
    }
}

/// `850 µs`, `12.5 ms`, `120 ms`, `1.25 s`, `2 min 5 s`.
pub(crate) fn format_duration(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 10_000 {
        format!("{:.1} ms", d.as_secs_f64() * 1_000.0)
    } else if micros < 1_000_000 {
        format!("{} ms", d.as_millis())
    } else if d.as_secs() < 60 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{} min {} s", d.as_secs() / 60, d.as_secs() % 60)
    }
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

/// Accumulates HTML pages while tracking each page's visible length
/// against Telegram's limit.
///
/// Text that does not fit on the current page continues on a new one (open
/// tags are closed at the break and reopened after it) until `max_pages` is
/// reached; then it is cut and marked as truncated.
#[derive(Debug)]
pub(crate) struct HtmlWriter {
    pages: Vec<String>,
    out: String,
    /// Visible UTF-16 units still available on the current page.
    remaining: usize,
    truncated: bool,
    /// Tags open on the current page (with their attributes).
    open_tags: Vec<&'static str>,
    max_pages: usize,
    /// Plain text that starts every continuation page.
    continuation: String,
}

impl HtmlWriter {
    pub(crate) fn new(max_pages: usize, continuation: String) -> Self {
        HtmlWriter {
            pages: Vec::new(),
            out: String::with_capacity(1024),
            remaining: PAGE_BUDGET,
            truncated: false,
            open_tags: Vec::new(),
            max_pages: max_pages.max(1),
            continuation,
        }
    }

    /// Writes as much of `text` as the budget allows, escaped.
    pub(crate) fn text(&mut self, text: &str) {
        self.text_capped(text, usize::MAX);
    }

    /// Writes at most `cap` visible units of `text`, continuing on new pages
    /// while there are pages left, and ending a cut text with `…`.
    pub(crate) fn text_capped(&mut self, text: &str, cap: usize) {
        let mut rest = text;
        let mut cap_left = cap;
        while self.remaining < cap_left && self.pages.len() + 1 < self.max_pages {
            let (kept, cut) = cut_exact(rest, self.remaining);
            let used = escape_into(&mut self.out, kept);
            self.remaining -= used.min(self.remaining);
            if !cut {
                return;
            }
            cap_left -= used;
            rest = &rest[kept.len()..];
            self.new_page();
        }
        let limit = cap_left.min(self.remaining);
        let (kept, cut) = cut_to_units(rest, limit);
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
        self.close();
    }

    /// An opening tag (`tag` may carry attributes); costs no visible units.
    pub(crate) fn open(&mut self, tag: &'static str) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self.open_tags.push(tag);
    }

    /// Closes the innermost open tag.
    pub(crate) fn close(&mut self) {
        if let Some(tag) = self.open_tags.pop() {
            push_end_tag(&mut self.out, tag);
        }
    }

    /// Ends the current page (closing its open tags) and starts the next one
    /// (reopening them).
    fn new_page(&mut self) {
        for tag in self.open_tags.iter().rev() {
            push_end_tag(&mut self.out, tag);
        }
        // Fits in the reserve that every page keeps back.
        self.out.push_str("\n⤵️ continued in the next message");
        self.pages.push(std::mem::take(&mut self.out));
        self.remaining = PAGE_BUDGET;
        let header = format!("{} · part {}\n\n", self.continuation, self.pages.len() + 1);
        let (header, _) = cut_to_units(&header, 200);
        self.remaining -= escape_into(&mut self.out, header);
        for tag in &self.open_tags {
            self.out.push('<');
            self.out.push_str(tag);
            self.out.push('>');
        }
    }

    /// The HTML written so far, without a footer (one short page).
    pub(crate) fn into_html(mut self) -> String {
        while !self.open_tags.is_empty() {
            self.close();
        }
        self.out
    }

    /// Writes the footer into the reserved budget and returns the pages.
    pub(crate) fn finish(mut self, timestamp: SystemTime) -> Vec<String> {
        while !self.open_tags.is_empty() {
            self.close();
        }
        self.remaining += FOOTER_RESERVE;
        self.max_pages = self.pages.len() + 1; // the footer never starts a page
        let truncated = self.truncated;
        self.text("\n🕒 ");
        self.text(&format_utc(timestamp));
        if truncated {
            self.text("\n");
            self.tagged("i", "✂️ truncated to fit Telegram's limit", 48);
        }
        self.pages.push(self.out);
        self.pages
    }
}

/// Visible units each page may fill before its footer.
const PAGE_BUDGET: usize = MAX_MESSAGE_UNITS - FOOTER_RESERVE;

fn push_end_tag(out: &mut String, tag: &str) {
    let name = tag.split(' ').next().unwrap_or(tag);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// The longest prefix of `text` whose escaped form fits in `limit` units
/// (no room kept for an ellipsis), and whether anything was left out.
fn cut_exact(text: &str, limit: usize) -> (&str, bool) {
    let mut units = 0;
    for (index, c) in text.char_indices() {
        units += visible_units(c);
        if units > limit {
            return (&text[..index], true);
        }
    }
    (text, false)
}

/// The visible text of HTML this module rendered: tags removed, entities
/// decoded. Used to resend a message as plain text when Telegram rejects its
/// markup.
pub(crate) fn html_to_plain(html: &str) -> String {
    let mut plain = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(['<', '&']) {
        plain.push_str(&rest[..start]);
        rest = &rest[start..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(end) => rest = &rest[end + 1..],
                None => break,
            }
            continue;
        }
        let decoded = [
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&amp;", '&'),
            ("&quot;", '"'),
        ]
        .into_iter()
        .find(|(entity, _)| rest.starts_with(entity));
        match decoded {
            Some((entity, c)) => {
                plain.push(c);
                rest = &rest[entity.len()..];
            }
            None => {
                plain.push('&');
                rest = &rest[1..];
            }
        }
    }
    plain.push_str(rest);
    plain
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
    fn dependency_paths_lose_the_cargo_home() {
        assert_eq!(
            short_path("/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tower-http-0.6.11/src/trace/on_failure.rs"),
            "tower-http-0.6.11/src/trace/on_failure.rs"
        );
        assert_eq!(short_path("src/main.rs"), "src/main.rs");
    }

    #[test]
    fn formats_durations() {
        assert_eq!(format_duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(format_duration(Duration::from_micros(2_500)), "2.5 ms");
        assert_eq!(format_duration(Duration::from_millis(120)), "120 ms");
        assert_eq!(format_duration(Duration::from_millis(1_250)), "1.25 s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2 min 5 s");
    }

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
        let mut w = HtmlWriter::new(1, String::new());
        w.remaining = 10;
        w.tagged("b", "0123456789abcdef", 100);
        w.text("more");
        assert_eq!(w.out, "<b>012345678…</b>");
        assert_eq!(w.remaining, 0);
        assert!(w.truncated);
    }

    #[test]
    fn long_text_continues_on_new_pages_with_balanced_tags() {
        let mut w = HtmlWriter::new(3, "🔴 ERROR · svc".into());
        w.tagged("pre", &"z".repeat(9000), usize::MAX);
        let pages = w.finish(UNIX_EPOCH);
        assert_eq!(pages.len(), 3);
        for page in &pages {
            assert_eq!(page.matches("<pre>").count(), 1, "{page}");
            assert_eq!(page.matches("</pre>").count(), 1, "{page}");
            assert!(html_to_plain(page).encode_utf16().count() <= MAX_MESSAGE_UNITS);
        }
        assert!(pages[1].starts_with("🔴 ERROR · svc · part 2\n\n<pre>"));
        let zs: usize = pages.iter().map(|p| p.matches('z').count()).sum();
        assert_eq!(zs, 9000, "nothing lost between pages");
        assert!(!pages[2].contains("truncated"));
    }

    #[test]
    fn html_to_plain_inverts_escaping() {
        let mut html = String::from("<b>");
        escape_into(&mut html, "a < b && c > \"d\"");
        html.push_str("</b>");
        assert_eq!(html_to_plain(&html), "a < b && c > \"d\"");
        assert_eq!(html_to_plain("AT&T <i>x"), "AT&T x");
    }
}
