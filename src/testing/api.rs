//! The Bot API methods the mock answers, checked the way Telegram checks
//! them, or answered as scripted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::faults;
use super::html::parse_html;
use super::response::{api_error, ok};
use super::{Reply, SentMessage, Shared, MAX_MESSAGE_UNITS};

/// Answers one Bot API call.
pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let log = |status: u16| shared.log(&method, status, user_agent.clone());
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        log(401);
        return api_error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    // Decide under the lock, and subscribe to releases there too, so that a
    // `hang(false)` racing with this request cannot be missed.
    let (scripted, mut release, generation) = {
        let mut inner = shared.lock();
        let scripted = if inner.hang_all {
            Some(Reply::Hang)
        } else if method == "getMe" {
            None // getMe answers by the token alone
        } else {
            let position = inner
                .script
                .iter()
                .position(|(only, _)| match only.as_deref() {
                    Some(only) => only == method,
                    None => matches!(method.as_str(), "sendMessage" | "editMessageText"),
                });
            position
                .and_then(|i| inner.script.remove(i))
                .map(|(_, reply)| reply)
        };
        let generation = *shared.release.borrow();
        (scripted, shared.release.subscribe(), generation)
    };
    if let Some(reply) = scripted {
        if reply == Reply::Hang {
            log(0);
            // Wait for `hang(false)`; when the mock is dropped this future is dropped too.
            let _ = release.wait_for(|current| *current != generation).await;
            return Box::pin(handle(State(shared), Path((bot, method)), headers, body)).await;
        }
        let response = scripted_reply(&reply);
        log(response.status().as_u16());
        return response;
    }
    if method == "sendDocument" {
        let response = super::document::send_document(&shared, &headers, &body);
        log(response.status().as_u16());
        return response;
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => {
            log(400);
            return api_error(
                StatusCode::BAD_REQUEST,
                "Bad Request: expected a JSON object body",
                None,
            );
        }
    };
    let response = match method.as_str() {
        "getMe" => ok(
            json!({"id": 123456789, "is_bot": true, "first_name": "Mock", "username": "mock_bot"}),
        ),
        "sendMessage" => send_message(&shared, &request),
        "editMessageText" => edit_message_text(&shared, &request),
        "getUpdates" => super::updates::get_updates(&shared, &request).await,
        "answerCallbackQuery" => super::updates::answer_callback_query(&shared, &request),
        _ => api_error(StatusCode::NOT_FOUND, "Not Found", None),
    };
    log(response.status().as_u16());
    response
}

fn send_message(shared: &Shared, request: &Value) -> Response {
    let chat_id = match request.get("chat_id") {
        Some(id @ (Value::Number(_) | Value::String(_))) => id.clone(),
        _ => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "Bad Request: chat_id is empty",
                None,
            )
        }
    };
    let (text, parse_mode) = match checked_text(request) {
        Ok(checked) => checked,
        Err(description) => return api_error(StatusCode::BAD_REQUEST, &description, None),
    };
    let reply_markup = match checked_markup(request) {
        Ok(markup) => markup,
        Err(description) => return api_error(StatusCode::BAD_REQUEST, &description, None),
    };
    let reply_to = request
        .pointer("/reply_parameters/message_id")
        .and_then(Value::as_i64);
    let mut inner = shared.lock();
    if let Some(reply_to) = reply_to {
        let without_reply = request
            .pointer("/reply_parameters/allow_sending_without_reply")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let found = inner
            .messages
            .iter()
            .any(|m| m.message_id == reply_to && m.chat_id == chat_id);
        if !found && !without_reply {
            drop(inner);
            return api_error(
                StatusCode::BAD_REQUEST,
                "Bad Request: message to be replied not found",
                None,
            );
        }
    }
    let now = inner.now();
    if let Some(wait) = inner.limits.as_mut().and_then(|l| l.admit(&chat_id, now)) {
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return scripted_reply(&Reply::TooManyRequests { retry_after });
    }
    let message_id = inner.next_message_id;
    inner.next_message_id += 1;
    inner.messages.push(SentMessage {
        chat_id: chat_id.clone(),
        text: text.clone(),
        parse_mode,
        message_thread_id: request.get("message_thread_id").and_then(Value::as_i64),
        disable_notification: request
            .get("disable_notification")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        link_preview_disabled: request
            .pointer("/link_preview_options/is_disabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        protect_content: request
            .get("protect_content")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        message_id,
        reply_markup,
        reply_to_message_id: reply_to,
        document: None,
        earlier_texts: Vec::new(),
        received_at: now,
    });
    drop(inner);
    shared.changed.notify_all();
    ok(json!({"message_id": message_id, "date": 0, "chat": {"id": chat_id}, "text": text}))
}

fn edit_message_text(shared: &Shared, request: &Value) -> Response {
    let Some(message_id) = request.get("message_id").and_then(Value::as_i64) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Bad Request: message_id is empty",
            None,
        );
    };
    let (text, parse_mode) = match checked_text(request) {
        Ok(checked) => checked,
        Err(description) => return api_error(StatusCode::BAD_REQUEST, &description, None),
    };
    let reply_markup = match checked_markup(request) {
        Ok(markup) => markup,
        Err(description) => return api_error(StatusCode::BAD_REQUEST, &description, None),
    };
    let mut inner = shared.lock();
    let Some(message) = inner
        .messages
        .iter_mut()
        .find(|m| m.message_id == message_id)
    else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Bad Request: message to edit not found",
            None,
        );
    };
    if message.text == text && message.reply_markup == reply_markup {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            None,
        );
    }
    let before = std::mem::replace(&mut message.text, text.clone());
    message.earlier_texts.push(before);
    message.parse_mode = parse_mode;
    // An edit without a keyboard removes it, as on Telegram.
    message.reply_markup = reply_markup;
    drop(inner);
    shared.changed.notify_all();
    ok(json!({"message_id": message_id, "date": 0, "text": text}))
}

/// The request's inline keyboard if Telegram would accept it (each button
/// with a label and at most 64 bytes of `callback_data`), else the
/// description of its 400 answer.
fn checked_markup(request: &Value) -> Result<Option<Value>, String> {
    let Some(markup) = request.get("reply_markup") else {
        return Ok(None);
    };
    let rows = markup
        .get("inline_keyboard")
        .and_then(Value::as_array)
        .ok_or("Bad Request: can't parse reply keyboard markup JSON object")?;
    for button in rows
        .iter()
        .flat_map(|row| row.as_array().into_iter().flatten())
    {
        let label = button
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let data = button.get("callback_data").and_then(Value::as_str);
        if label.is_empty() {
            return Err(
                "Bad Request: text buttons are unallowed in the inline keyboard".to_owned(),
            );
        }
        if data.is_none_or(|data| data.is_empty() || data.len() > 64) {
            return Err("Bad Request: BUTTON_DATA_INVALID".to_owned());
        }
    }
    Ok(Some(markup.clone()))
}

/// The request's text and parse mode if Telegram would accept them, else the
/// description of its 400 answer.
fn checked_text(request: &Value) -> Result<(String, Option<String>), String> {
    let Some(text) = request.get("text").and_then(Value::as_str) else {
        return Err("Bad Request: message text is empty".to_owned());
    };
    let parse_mode = request
        .get("parse_mode")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let visible = match parse_mode.as_deref() {
        None | Some("") => text.to_owned(),
        Some("HTML") => {
            parse_html(text).map_err(|e| format!("Bad Request: can't parse entities: {e}"))?
        }
        Some(other) => {
            return Err(format!(
                "Bad Request: unsupported parse_mode {other:?} in this mock"
            ))
        }
    };
    if visible.trim().is_empty() {
        return Err("Bad Request: message text is empty".to_owned());
    }
    if visible.encode_utf16().count() > MAX_MESSAGE_UNITS {
        return Err("Bad Request: message is too long".to_owned());
    }
    Ok((text.to_owned(), parse_mode))
}

fn scripted_reply(reply: &Reply) -> Response {
    match reply {
        Reply::TooManyRequests { retry_after } => api_error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too Many Requests: retry after {retry_after}"),
            Some(json!({"retry_after": retry_after})),
        ),
        Reply::ServerError(code) => api_error(
            StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "Internal Server Error",
            None,
        ),
        Reply::Unauthorized => api_error(StatusCode::UNAUTHORIZED, "Unauthorized", None),
        Reply::Forbidden(description) => api_error(
            StatusCode::FORBIDDEN,
            &format!("Forbidden: {description}"),
            None,
        ),
        Reply::ChatNotFound => {
            api_error(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None)
        }
        Reply::MigrateTo(id) => api_error(
            StatusCode::BAD_REQUEST,
            "Bad Request: group chat was upgraded to a supergroup chat",
            Some(json!({"migrate_to_chat_id": id})),
        ),
        Reply::BadRequest(description) => api_error(
            StatusCode::BAD_REQUEST,
            &format!("Bad Request: {description}"),
            None,
        ),
        Reply::ParseError => api_error(
            StatusCode::BAD_REQUEST,
            "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0",
            None,
        ),
        Reply::Conflict(description) => api_error(
            StatusCode::CONFLICT,
            &format!("Conflict: {description}"),
            None,
        ),
        Reply::Hang => api_error(StatusCode::INTERNAL_SERVER_ERROR, "hang", None),
        Reply::HtmlPage => faults::html_page(),
        Reply::NotOk => faults::not_ok(),
        Reply::Huge(bytes) => faults::huge(*bytes),
        Reply::Truncated => faults::truncated(),
        Reply::Drip => faults::drip(),
    }
}
