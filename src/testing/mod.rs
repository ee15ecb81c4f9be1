//! `MockTelegram`: a fake Bot API server for tests (feature `testing`).
//!
//! It is a real HTTP server on `127.0.0.1` that speaks the subset of the Bot
//! API this crate uses (`getMe`, `sendMessage`, `editMessageText`, and for
//! interactive alerts `getUpdates` and `answerCallbackQuery`, with inline
//! keyboards: [`SentMessage::buttons`], [`MockTelegram::press`]), checks
//! requests the way Telegram does (token in the path, HTML tag whitelist and
//! nesting, escaping, the 4096-unit limit), records what it accepted, and can
//! be scripted to fail. In: Bot API requests (from this crate, or anything
//! else speaking the Bot API). Out: what it accepted ([`MockTelegram::messages`])
//! and every request's status ([`MockTelegram::requests`]). Point a layer at
//! it with [`Builder::api_url`](crate::Builder::api_url):
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

use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::sync::{oneshot, watch};

pub use crate::clock::TestClock;
use crate::delivery::pacing::{Pacing, Window};

mod api;
mod document;
mod faults;
mod html;
mod response;
mod updates;

use api::handle;
pub use html::parse_html;

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
    /// 409 Conflict with this description, as `getUpdates` answers while
    /// the bot has a webhook (e.g. "can't use getUpdates method while
    /// webhook is active") or another program polls it.
    Conflict(String),
    /// Accept the connection and never answer (until the mock is dropped or
    /// [`MockTelegram::hang`] is turned off).
    Hang,
    /// 200 with an HTML page, as a proxy in front of the Bot API answers
    /// when it cannot reach it ("502 Bad Gateway", nginx).
    HtmlPage,
    /// 200 with `{"ok": false}`: no error code, no description.
    NotOk,
    /// 200 with a body of this many bytes (streamed, not JSON).
    Huge(usize),
    /// 200 with the start of an answer, then the connection broken.
    Truncated,
    /// 200 with a body that comes one byte a second and never ends.
    Drip,
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
    /// `reply_markup` as sent (or as the last edit set it): an inline
    /// keyboard, if any.
    pub reply_markup: Option<Value>,
    /// `reply_parameters.message_id`: the message it answers, if any.
    pub reply_to_message_id: Option<i64>,
    /// The file of a `sendDocument` (then `text` is its caption).
    pub document: Option<SentDocument>,
    /// The texts it had before each edit, oldest first (`text` is the
    /// latest): how often, and how, it was edited.
    pub earlier_texts: Vec<String>,
    /// When the mock received it.
    pub received_at: Instant,
}

/// A file sent with `sendDocument`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentDocument {
    /// The file's name as sent.
    pub file_name: String,
    /// Its content (a report is UTF-8 text).
    pub content: String,
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

    /// The largest count it shows (`×N`: a tally, an incident's line), if
    /// any: in a storm, how big the chat says it was.
    pub fn largest_count(&self) -> Option<u64> {
        self.plain_text()
            .split('×')
            .skip(1)
            .filter_map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .max()
    }

    /// How many of its edits (counting the text it has now) first made
    /// its visible text contain `needle`: `1` for a mark added once and
    /// kept, `2` for one added twice.
    pub fn times_marked(&self, needle: &str) -> usize {
        let visible = |text: &str| match self.parse_mode.as_deref() {
            Some("HTML") => parse_html(text).unwrap_or_else(|_| text.to_owned()),
            _ => text.to_owned(),
        };
        let mut had = false;
        let mut times = 0;
        for text in self.earlier_texts.iter().chain(std::iter::once(&self.text)) {
            let has = visible(text).contains(needle);
            if has && !had {
                times += 1;
            }
            had = has;
        }
        times
    }

    /// Whom it mentions, as Telegram would notify them: every `@username`
    /// in its visible text, and `tg://user?id=N` for each user linked by id
    /// (HTML `<a href="tg://user?id=N">`).
    pub fn mentions(&self) -> Vec<String> {
        let plain = self.plain_text();
        let usernames = plain.split('@').skip(1).filter_map(|rest| {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (name.len() >= 5).then(|| format!("@{name}"))
        });
        let linked = self
            .text
            .split("href=\"tg://user?id=")
            .skip(1)
            .filter_map(|rest| {
                let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
                (!id.is_empty()).then(|| format!("tg://user?id={id}"))
            });
        usernames.chain(linked).collect()
    }

    /// The visible length in UTF-16 code units, as Telegram counts it.
    pub fn visible_units(&self) -> usize {
        self.plain_text().encode_utf16().count()
    }

    /// The labels of its inline keyboard's buttons, row by row.
    pub fn buttons(&self) -> Vec<String> {
        self.button_pairs()
            .into_iter()
            .map(|(label, _)| label)
            .collect()
    }

    /// The `callback_data` of the button labelled `label`.
    pub fn button_data(&self, label: &str) -> Option<String> {
        self.button_pairs()
            .into_iter()
            .find(|(text, _)| text == label)
            .map(|(_, data)| data)
    }

    fn button_pairs(&self) -> Vec<(String, String)> {
        let rows = self
            .reply_markup
            .as_ref()
            .and_then(|markup| markup.get("inline_keyboard"))
            .and_then(Value::as_array);
        rows.into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .map(|button| {
                let field = |name| {
                    button
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                (field("text"), field("callback_data"))
            })
            .collect()
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
    /// Its `User-Agent` header (which HTTP client sent it).
    pub user_agent: Option<String>,
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
    /// Button presses not yet confirmed by a `getUpdates` offset.
    updates: Vec<Value>,
    next_update_id: i64,
    /// Each `getUpdates` call's number: a newer call ends an older one
    /// with 409, as Telegram does.
    polls: u64,
    /// `answerCallbackQuery` texts, by query id.
    answers: HashMap<String, String>,
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

    fn log(&self, method: &str, status: u16, user_agent: Option<String>) {
        let mut inner = self.lock();
        let received_at = inner.now();
        inner.requests.push(RequestLog {
            method: method.to_owned(),
            status,
            received_at,
            user_agent,
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
        // The mock's own HTTP stack logs nothing into the test's subscriber.
        let silence = crate::channel::silence_this_thread;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_start(silence)
            .build()?;
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            inner: Mutex::new(Inner {
                next_message_id: 1,
                next_update_id: 1,
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
                silence();
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

    /// How many times the chat notified (messages sent without
    /// `disable_notification`): in a storm, how often the phone rang.
    pub fn notifications(&self) -> usize {
        self.shared
            .lock()
            .messages
            .iter()
            .filter(|message| !message.disable_notification)
            .count()
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
