//! `MockTelegram`: a fake Bot API server for tests (feature `testing`).
//!
//! It is a real HTTP server on `127.0.0.1` that speaks the subset of the Bot
//! API this crate uses (`getMe`, `sendMessage`, `editMessageText`), checks
//! requests the way Telegram does (token in the path, HTML tag whitelist and
//! nesting, escaping, the 4096-unit limit), records what it accepted, and can
//! be scripted to fail. Point a layer at it with
//! [`Builder::api_url`](crate::Builder::api_url):
//!
//! ```
//! use std::time::Duration;
//! use tracing_subscriber::prelude::*;
//! use tracing_telegram::{testing::MockTelegram, TelegramLayer};
//!
//! let mock = MockTelegram::start().expect("bind 127.0.0.1");
//! let (layer, guard) = TelegramLayer::builder()
//!     .bot_token(mock.token())
//!     .chat_id(-100123)
//!     .api_url(mock.url())
//!     .build()
//!     .expect("valid configuration");
//! let subscriber = tracing_subscriber::registry().with(layer);
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::error!(order_id = 7, "payment failed");
//! });
//! let stats = guard.shutdown(Duration::from_secs(5));
//! assert_eq!(stats.sent, 1);
//! let messages = mock.messages();
//! assert!(messages[0].plain_text().contains("payment failed"));
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};

pub use crate::clock::TestClock;
use crate::delivery::pacing::{Pacing, Window};

/// The token a [`MockTelegram::start`] server accepts.
pub const MOCK_TOKEN: &str = "123456789:AAMockTokenForTestsOnly_0123456789x";

/// Telegram's limit on a message's visible text, in UTF-16 code units.
pub const MAX_MESSAGE_UNITS: usize = 4096;

/// A scripted answer for the next request (see [`MockTelegram::script`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// 429 with `parameters.retry_after` set to this many seconds.
    TooManyRequests {
        /// Seconds to wait, as Telegram says in the JSON body.
        retry_after: u64,
    },
    /// A 5xx (or any) status with a generic description.
    ServerError(u16),
    /// 401 Unauthorized (a revoked token).
    Unauthorized,
    /// 403 with this description (e.g. "bot was kicked from the group chat").
    Forbidden(String),
    /// 400 "chat not found".
    ChatNotFound,
    /// 400 "group chat was upgraded to a supergroup chat" with this new id.
    MigrateTo(i64),
    /// 400 "can't parse entities".
    ParseError,
    /// 400 with this description (e.g. "message thread not found").
    BadRequest(String),
    /// Accept the connection and never answer (until the mock is dropped or
    /// [`MockTelegram::hang`] is turned off).
    Hang,
}

/// A message the mock accepted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The `chat_id` as sent (a number or an `@username` string).
    pub chat_id: Value,
    /// The text exactly as sent (HTML when `parse_mode` is `HTML`).
    pub text: String,
    /// `parse_mode`, if any.
    pub parse_mode: Option<String>,
    /// `message_thread_id`, if any.
    pub message_thread_id: Option<i64>,
    /// `disable_notification`.
    pub disable_notification: bool,
    /// `link_preview_options.is_disabled`.
    pub link_preview_disabled: bool,
    /// `protect_content`.
    pub protect_content: bool,
    /// The id the mock assigned.
    pub message_id: i64,
    /// When the mock received it.
    pub received_at: Instant,
}

impl SentMessage {
    /// The text as a Telegram user would see it: tags removed and entities
    /// decoded (for HTML messages).
    pub fn plain_text(&self) -> String {
        match self.parse_mode.as_deref() {
            Some("HTML") => parse_html(&self.text).unwrap_or_else(|_| self.text.clone()),
            _ => self.text.clone(),
        }
    }

    /// The visible length in UTF-16 code units, as Telegram counts it.
    pub fn visible_units(&self) -> usize {
        self.plain_text().encode_utf16().count()
    }
}

/// One request the mock received, successful or not.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestLog {
    /// The Bot API method (`sendMessage`, …).
    pub method: String,
    /// The HTTP status answered (0 for a request left hanging).
    pub status: u16,
    /// When it arrived.
    pub received_at: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    messages: Vec<SentMessage>,
    requests: Vec<RequestLog>,
    /// Scripted replies, each for one method or (`None`) any message method.
    script: VecDeque<(Option<String>, Reply)>,
    hang_all: bool,
    next_message_id: i64,
    clock: Option<TestClock>,
    limits: Option<Limits>,
}

impl Inner {
    fn now(&self) -> Instant {
        self.clock
            .as_ref()
            .map_or_else(Instant::now, TestClock::now)
    }
}

/// Telegram's rate limits as the mock enforces them.
#[derive(Debug)]
struct Limits {
    pacing: Pacing,
    chats: HashMap<String, Vec<Window>>,
    global: Option<Window>,
}

impl Limits {
    /// `None` if a message to `chat` may be accepted now (and records it),
    /// else how long the sender must wait.
    fn admit(&mut self, chat: &Value, now: Instant) -> Option<Duration> {
        let pacing = self.pacing;
        let is_group = match chat {
            Value::Number(n) => n.as_i64().is_some_and(|id| id < 0),
            _ => true,
        };
        let windows = self.chats.entry(chat.to_string()).or_insert_with(|| {
            let group = if is_group { pacing.per_group } else { None };
            pacing
                .per_chat
                .into_iter()
                .chain(group)
                .map(Window::exact)
                .collect()
        });
        let ready = windows
            .iter_mut()
            .chain(self.global.as_mut())
            .map(|w| w.next_allowed(now))
            .max()
            .unwrap_or(now);
        if ready > now {
            return Some(ready - now);
        }
        for window in windows.iter_mut().chain(self.global.as_mut()) {
            window.record(now);
        }
        None
    }
}

#[derive(Debug)]
struct Shared {
    token: String,
    inner: Mutex<Inner>,
    changed: Condvar,
    /// A generation counter, bumped to release hanging requests.
    release: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock should not hide the
        // mock's state from the others.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(&self, method: &str, status: u16) {
        let mut inner = self.lock();
        let received_at = inner.now();
        inner.requests.push(RequestLog {
            method: method.to_owned(),
            status,
            received_at,
        });
        drop(inner);
        self.changed.notify_all();
    }
}

/// A fake Bot API server on `127.0.0.1` (see the module docs).
pub struct MockTelegram {
    url: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for MockTelegram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockTelegram")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl MockTelegram {
    /// Starts a server that accepts [`MOCK_TOKEN`].
    pub fn start() -> std::io::Result<Self> {
        Self::with_token(MOCK_TOKEN)
    }

    /// Starts a server that accepts `token` (any other token gets 401).
    pub fn with_token(token: &str) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            inner: Mutex::new(Inner {
                next_message_id: 1,
                ..Inner::default()
            }),
            changed: Condvar::new(),
            release: watch::channel(0).0,
        });
        let app = Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mock-telegram".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
                // Hanging requests are dropped with the runtime.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(MockTelegram {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The base URL to pass to [`Builder::api_url`](crate::Builder::api_url).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The token this server accepts.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Every message accepted so far, in order.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.shared.lock().messages.clone()
    }

    /// Every request received so far, in order, including failed ones.
    pub fn requests(&self) -> Vec<RequestLog> {
        self.shared.lock().requests.clone()
    }

    /// Waits until at least `count` messages were accepted, at most
    /// `timeout`; returns the messages accepted by then.
    pub fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<SentMessage> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        while inner.messages.len() < count {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            inner = self
                .shared
                .changed
                .wait_timeout(inner, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
        inner.messages.clone()
    }

    /// Answers the next `sendMessage` or `editMessageText` request with
    /// `reply`; several calls queue several replies. (`getMe` answers by the
    /// token alone.)
    pub fn script(&self, reply: Reply) {
        self.shared.lock().script.push_back((None, reply));
    }

    /// Answers the next request of `method` (e.g. `editMessageText`) with
    /// `reply`, leaving other methods' requests alone.
    pub fn script_for(&self, method: &str, reply: Reply) {
        self.shared
            .lock()
            .script
            .push_back((Some(method.to_owned()), reply));
    }

    /// Stamps requests and enforces limits in `clock`'s virtual time (share
    /// it with [`Builder::clock`](crate::Builder::clock)).
    pub fn set_clock(&self, clock: TestClock) {
        self.shared.lock().clock = Some(clock);
    }

    /// Answers 429 (with `retry_after`) to any `sendMessage` beyond these
    /// limits, as Telegram does. Off by default.
    pub fn enforce_limits(&self, pacing: Pacing) {
        self.shared.lock().limits = Some(Limits {
            pacing,
            chats: HashMap::new(),
            global: pacing.global.map(Window::exact),
        });
    }

    /// The number of requests answered with `status`.
    pub fn count_status(&self, status: u16) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.status == status)
            .count()
    }

    /// While `true`, every request is accepted and left unanswered; turning
    /// it off releases the waiting ones (they then proceed normally).
    pub fn hang(&self, on: bool) {
        let mut inner = self.shared.lock();
        inner.hang_all = on;
        if !on {
            // Under the lock, so a request deciding to hang sees either the
            // old flag and the old generation, or neither.
            self.shared
                .release
                .send_modify(|generation| *generation += 1);
        }
    }
}

impl Drop for MockTelegram {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        shared.log(&method, 401);
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
                .position(|(only, _)| only.as_deref().is_none_or(|m| m == method));
            position
                .and_then(|i| inner.script.remove(i))
                .map(|(_, reply)| reply)
        };
        let generation = *shared.release.borrow();
        (scripted, shared.release.subscribe(), generation)
    };
    if let Some(reply) = scripted {
        if reply == Reply::Hang {
            shared.log(&method, 0);
            // Wait for `hang(false)`; when the mock is dropped this future is dropped too.
            let _ = release.wait_for(|current| *current != generation).await;
            return Box::pin(handle(State(shared), Path((bot, method)), body)).await;
        }
        let response = scripted_reply(&reply);
        shared.log(&method, response.status().as_u16());
        return response;
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => {
            shared.log(&method, 400);
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
        _ => api_error(StatusCode::NOT_FOUND, "Not Found", None),
    };
    shared.log(&method, response.status().as_u16());
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
    let mut inner = shared.lock();
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
    if message.text == text {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            None,
        );
    }
    message.text = text.clone();
    message.parse_mode = parse_mode;
    drop(inner);
    shared.changed.notify_all();
    ok(json!({"message_id": message_id, "date": 0, "text": text}))
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
        Reply::Hang => api_error(StatusCode::INTERNAL_SERVER_ERROR, "hang", None),
    }
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn api_error(status: StatusCode, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(parameters) = parameters {
        body["parameters"] = parameters;
    }
    (status, Json(body)).into_response()
}

/// Tags Telegram's HTML parse mode accepts.
const ALLOWED_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "tg-spoiler",
    "span",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

/// Parses `text` as Telegram would in `parse_mode=HTML` and returns the
/// visible text, or a description of the first error (the part Telegram puts
/// after "can't parse entities: ").
///
/// It enforces the tag whitelist and attributes, proper nesting and closing,
/// no entities inside `pre`/`code` (other than `<pre><code>`), no nested
/// blockquotes, and that every `<`, `>` and `&` outside a tag is escaped.
pub fn parse_html(text: &str) -> Result<String, String> {
    let mut visible = String::with_capacity(text.len());
    let mut open: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let offset = text.len() - rest.len();
        match c {
            '<' => {
                let end = rest
                    .find('>')
                    .ok_or_else(|| format!("Unclosed start tag at byte offset {offset}"))?;
                check_tag(&rest[1..end], &mut open, offset)?;
                rest = &rest[end + 1..];
            }
            '&' => {
                let (decoded, len) = decode_entity(rest).ok_or_else(|| {
                    format!("Can't find end of the entity starting at byte offset {offset}")
                })?;
                visible.push(decoded);
                rest = &rest[len..];
            }
            '>' => return Err(format!("Unescaped '>' at byte offset {offset}")),
            c => {
                visible.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    match open.last() {
        Some(tag) => Err(format!(
            "Can't find end tag corresponding to start tag \"{tag}\""
        )),
        None => Ok(visible),
    }
}

fn check_tag(tag: &str, open: &mut Vec<String>, offset: usize) -> Result<(), String> {
    if let Some(name) = tag.strip_prefix('/') {
        let name = name.trim();
        return match open.pop() {
            Some(top) if top == name => Ok(()),
            Some(top) => Err(format!(
                "Can't find end tag corresponding to start tag \"{top}\" (found \"/{name}\" at byte offset {offset})"
            )),
            None => Err(format!("Unexpected end tag \"{name}\" at byte offset {offset}")),
        };
    }
    let (name, attributes) = match tag.split_once(char::is_whitespace) {
        Some((name, attributes)) => (name, attributes.trim()),
        None => (tag, ""),
    };
    if !ALLOWED_TAGS.contains(&name) {
        return Err(format!(
            "Unsupported start tag \"{name}\" at byte offset {offset}"
        ));
    }
    let attributes_ok = match name {
        "a" => attributes.starts_with("href=\"") && attributes.ends_with('"'),
        "span" => attributes == "class=\"tg-spoiler\"",
        "code" => attributes.is_empty() || attributes.starts_with("class=\"language-"),
        "blockquote" => attributes.is_empty() || attributes == "expandable",
        "tg-emoji" => attributes.starts_with("emoji-id=\""),
        _ => attributes.is_empty(),
    };
    if !attributes_ok {
        return Err(format!(
            "Unsupported attributes {attributes:?} of tag \"{name}\" at byte offset {offset}"
        ));
    }
    let inside_pre_or_code = open.iter().any(|t| t == "pre" || t == "code");
    let code_in_pre = name == "code" && open.last().is_some_and(|t| t == "pre");
    if inside_pre_or_code && !code_in_pre {
        return Err(format!(
            "Entities inside pre or code at byte offset {offset}"
        ));
    }
    if name == "blockquote" && open.iter().any(|t| t == "blockquote") {
        return Err(format!("Nested blockquotes at byte offset {offset}"));
    }
    open.push(name.to_owned());
    Ok(())
}

/// Decodes the entity at the start of `text` (`&lt;`, `&#123;`, `&#x1F600;`):
/// the character and the entity's length in bytes.
fn decode_entity(text: &str) -> Option<(char, usize)> {
    let end = text.char_indices().take(12).find(|(_, c)| *c == ';')?.0;
    let name = &text[1..end];
    let decoded = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((decoded, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_rules_match_telegrams() {
        assert_eq!(
            parse_html("<b>a &amp; b</b> &lt;x&gt; &#128512;").unwrap(),
            "a & b <x> 😀"
        );
        assert_eq!(
            parse_html("<blockquote expandable>x</blockquote><pre><code class=\"language-rust\">y</code></pre>").unwrap(),
            "xy"
        );
        for bad in [
            "<script>x</script>",
            "<b>x",
            "<b><i>x</b></i>",
            "a & b",
            "a > b",
            "<code><b>x</b></code>",
            "<blockquote><blockquote>x</blockquote></blockquote>",
            "<b class=\"x\">y</b>",
            "&bogus;",
            "<b",
        ] {
            assert!(parse_html(bad).is_err(), "{bad} should be rejected");
        }
    }
}
