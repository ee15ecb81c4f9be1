//! An alert: header, summary, HTTP request, location, fields, span trace
//! and backtrace, each limited and escaped.

use std::fmt::Write as _;

use crate::alert::AlertLevel;
use crate::record::http::http_request;
use crate::record::{FieldValue, Record, SlowSpan, SpanRecord};

use super::html::HtmlWriter;
use super::time::format_duration;
use super::trace::TraceContext;
use super::RenderContext;

/// Longest title (explicit, or the message's first line) shown.
const MAX_TITLE: usize = 400;
/// Longest message body (the lines after the title) shown; a long body is
/// what continuation messages are for.
const MAX_BODY: usize = 12_000;
/// Longest span-trace line shown.
const MAX_SPAN_LINE: usize = 500;

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
    if let Some(past) = ctx.past {
        w.text_capped(past, MAX_TITLE);
        w.text("\n");
    }
    write_http_request(&mut w, record);
    write_trace(&mut w, record, ctx.trace_link);
    write_dropped_notice(&mut w, ctx.dropped_since_last);
    write_location(&mut w, record);
    write_fields(&mut w, record, ctx);
    write_span_trace(&mut w, &record.spans, ctx.max_traceback_lines);
    let frames = record.frames.len().min(ctx.max_traceback_lines);
    write_backtrace(&mut w, &record.frames[..frames]);
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
pub(crate) fn untitled(record: &Record) -> String {
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

/// `🧵 trace 4bf92f… · span 00f067…`, the trace id linked when a template
/// is configured.
fn write_trace(w: &mut HtmlWriter, record: &Record, template: Option<&str>) {
    let Some(trace) = TraceContext::of(record) else {
        return;
    };
    w.text("🧵 trace ");
    match template.and_then(|template| trace.link(template)) {
        Some(href) => w.link(&href, &trace.trace_id),
        None => w.tagged("code", &trace.trace_id, 64),
    }
    if let Some(span_id) = &trace.span_id {
        w.text(" · span ");
        w.tagged("code", span_id, 64);
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
    let Some(location) = record.location() else {
        return;
    };
    w.text("\n📍 ");
    w.tagged("code", location.target, 200);
    if let Some(file) = location.file {
        let file = short_path(file);
        let location = match location.line {
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
    // A failed request's alert carries its span's fields: the span trace
    // below shows them already.
    let innermost = record.spans.last().and_then(|span| span.fields.as_deref());
    if innermost == Some(&record.fields) {
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

/// `name{key=value, …} · target`, plain text (escaped by the writer).
pub(crate) fn span_line(span: &SpanRecord) -> String {
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

/// The title of an event that reports an HTTP response inside a request
/// span: `GET /orders/{id} → 500 Internal Server Error`.
pub(crate) fn response_title(request: &str, status: &str) -> String {
    if let Some(code) = crate::record::grpc::classified_code(status) {
        return format!("{request} → {}", crate::record::grpc::describe(code));
    }
    let status = status.trim().trim_start_matches("Status code: ");
    let status = match status.parse::<u16>() {
        Ok(code) => match reason_phrase(code) {
            Some(reason) => format!("{code} {reason}"),
            None => code.to_string(),
        },
        Err(_) => status.to_owned(),
    };
    format!("{request} → {status}")
}

/// The reason phrase of the statuses a failing service answers most.
fn reason_phrase(code: u16) -> Option<&'static str> {
    Some(match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

/// A slow span's title: `Slow: GET /orders/{id}`.
pub(crate) fn slow_title(key: &str) -> String {
    format!("Slow: {key}")
}

/// A slow span's message: how long it took against its threshold (and its
/// busy time, when that is what was judged), then the slowest judged spans
/// inside it.
pub(crate) fn slow_message(slow: &SlowSpan) -> String {
    let took = format_duration(slow.total);
    let threshold = format_duration(slow.threshold);
    let mut message = if slow.judged_busy {
        format!(
            "took {took} (threshold {threshold}; busy {})",
            format_duration(slow.busy)
        )
    } else {
        format!("took {took} (threshold {threshold})")
    };
    for (i, child) in slow.inside.iter().enumerate() {
        message.push_str(if i == 0 { "\nslowest inside: " } else { ", " });
        message.push_str(child.name);
        message.push(' ');
        message.push_str(&format_duration(child.took));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_paths_lose_the_cargo_home() {
        assert_eq!(
            short_path("/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tower-http-0.6.11/src/trace/on_failure.rs"),
            "tower-http-0.6.11/src/trace/on_failure.rs"
        );
        assert_eq!(short_path("src/main.rs"), "src/main.rs");
    }
}
