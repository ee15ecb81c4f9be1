//! `sendDocument` as the mock answers it: a `multipart/form-data` request
//! with a `chat_id`, optional `message_thread_id`, `reply_parameters` (JSON)
//! and `caption`, and the file in `document` — recorded like a message,
//! with the file kept for the test to read.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::response::{api_error, ok};
use super::{SentDocument, SentMessage, Shared};

/// Telegram's limit for a file a bot uploads.
const MAX_DOCUMENT_BYTES: usize = 50 * 1024 * 1024;

/// One part of a multipart body: its name, file name and content.
struct Part<'a> {
    name: &'a str,
    file_name: Option<&'a str>,
    content: &'a [u8],
}

pub(super) fn send_document(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let bad = |description: &str| api_error(StatusCode::BAD_REQUEST, description, None);
    let Some(boundary) = boundary(headers) else {
        return bad("Bad Request: expected a multipart/form-data body");
    };
    let Some(parts) = parts(body, &boundary) else {
        return bad("Bad Request: malformed multipart body");
    };
    let text = |name: &str| {
        parts
            .iter()
            .find(|part| part.name == name)
            .and_then(|part| std::str::from_utf8(part.content).ok())
    };
    let chat_id = match text("chat_id").map(str::trim) {
        Some(id) => id.parse::<i64>().map_or_else(|_| json!(id), |id| json!(id)),
        None => return bad("Bad Request: chat_id is empty"),
    };
    let Some(file) = parts.iter().find(|part| part.name == "document") else {
        return bad("Bad Request: there is no document in the request");
    };
    if file.content.is_empty() {
        return bad("Bad Request: file must be non-empty");
    }
    if file.content.len() > MAX_DOCUMENT_BYTES {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
            None,
        );
    }
    let reply: Option<Value> = text("reply_parameters").and_then(|r| serde_json::from_str(r).ok());
    let reply_to = reply
        .as_ref()
        .and_then(|r| r.get("message_id"))
        .and_then(Value::as_i64);
    let caption = text("caption").unwrap_or_default().to_owned();
    let mut inner = shared.lock();
    let now = inner.now();
    let message_id = inner.next_message_id;
    inner.next_message_id += 1;
    inner.messages.push(SentMessage {
        chat_id: chat_id.clone(),
        text: caption,
        parse_mode: None,
        message_thread_id: text("message_thread_id").and_then(|t| t.trim().parse().ok()),
        disable_notification: text("disable_notification") == Some("true"),
        link_preview_disabled: true,
        protect_content: false,
        message_id,
        reply_markup: None,
        reply_to_message_id: reply_to,
        document: Some(SentDocument {
            file_name: file.file_name.unwrap_or_default().to_owned(),
            content: String::from_utf8_lossy(file.content).into_owned(),
        }),
        earlier_texts: Vec::new(),
        received_at: now,
    });
    drop(inner);
    shared.changed.notify_all();
    ok(json!({"message_id": message_id, "date": 0, "chat": {"id": chat_id}}))
}

fn boundary(headers: &HeaderMap) -> Option<String> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    let rest = content_type.strip_prefix("multipart/form-data")?;
    let boundary = rest
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?;
    Some(boundary.trim_matches('"').to_owned())
}

/// The parts of `body`, or `None` if it is not well formed.
fn parts<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body.strip_prefix(delimiter.as_bytes())?;
    loop {
        if rest.starts_with(b"--") {
            return Some(parts); // the closing delimiter
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..header_end]).ok()?;
        let after_headers = &rest[header_end + 4..];
        let end = find(after_headers, format!("\r\n{delimiter}").as_bytes())?;
        let disposition = headers
            .lines()
            .find(|line| line.to_ascii_lowercase().starts_with("content-disposition"))?;
        parts.push(Part {
            name: quoted(disposition, "name=")?,
            file_name: quoted(disposition, "filename="),
            content: &after_headers[..end],
        });
        rest = &after_headers[end + 2 + delimiter.len()..];
    }
}

/// The quoted value after `key` (`name="document"`).
fn quoted<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .match_indices(key)
        .find(|(at, _)| *at == 0 || matches!(header.as_bytes()[at - 1], b' ' | b';'))?
        .0;
    let value = header[at + key.len()..].strip_prefix('"')?;
    Some(&value[..value.find('"')?])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
