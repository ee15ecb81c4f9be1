//! `Builder`, `from_env`, and validation into a `Config`.
//!
//! Setters never fail: they only record what was asked for. [`Builder::build`]
//! validates everything at once and returns an [`Error`] that names the option
//! (or, for [`Builder::from_env`], the environment variable) at fault.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

use serde::Serialize;
use tracing_core::Level;

use crate::alert::{Alert, AlertLevel};
use crate::audit::{OnSent, SentAlert};
use crate::clock::Clock;
use crate::error::Error;
use crate::guard::TelegramGuard;
use crate::layer::TelegramLayer;
use crate::pacing::Pacing;
use crate::retry::RetryPolicy;
use crate::route::{Destination, Routes, Target};
use crate::sanitize::Sanitizer;
use crate::skip::SkipRules;
use crate::slow::SlowRules;

/// The `before_send` hook: may edit an alert; `false` drops it.
#[derive(Clone)]
pub(crate) struct BeforeSend(pub(crate) Arc<dyn Fn(&mut Alert) -> bool + Send + Sync>);

impl fmt::Debug for BeforeSend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BeforeSend(..)")
    }
}

/// The public Bot API endpoint.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// Default capacity of the queue between the layer and the worker.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// Default bound on how long dropping the guard waits for pending alerts.
pub const DEFAULT_DROP_TIMEOUT: Duration = Duration::from_secs(2);

/// A Telegram chat: a numeric id (groups and channels are negative, and can
/// exceed 32 bits) or a public channel's `@username`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ChatId {
    /// A numeric chat id, e.g. `-1001234567890`.
    Id(i64),
    /// A public channel's username, including the leading `@`.
    Username(String),
}

impl ChatId {
    /// Whether this chat is a group, supergroup or channel (negative id or a
    /// channel username), which Telegram limits to about 20 messages a minute.
    pub fn is_group(&self) -> bool {
        match self {
            ChatId::Id(id) => *id < 0,
            ChatId::Username(_) => true,
        }
    }

    fn validate(&self, option: &'static str) -> Result<(), Error> {
        const EXPECTED: &str = "an integer chat id or @channelname (5–32 of A-Z, a-z, 0-9, _)";
        match self {
            ChatId::Id(0) => Err(Error::invalid(option, "0", EXPECTED)),
            ChatId::Id(_) => Ok(()),
            ChatId::Username(name) => {
                let body = name.strip_prefix('@').unwrap_or("");
                let valid = (5..=32).contains(&body.len())
                    && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if valid {
                    Ok(())
                } else {
                    Err(Error::invalid(option, name, EXPECTED))
                }
            }
        }
    }
}

impl fmt::Debug for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatId::Id(id) => write!(f, "{id}"),
            ChatId::Username(name) => f.write_str(name),
        }
    }
}

impl From<i64> for ChatId {
    fn from(id: i64) -> Self {
        ChatId::Id(id)
    }
}

impl From<&str> for ChatId {
    /// A numeric string becomes [`ChatId::Id`]; anything else is kept as a
    /// username and checked by [`Builder::build`].
    fn from(text: &str) -> Self {
        let text = text.trim();
        match text.parse::<i64>() {
            Ok(id) => ChatId::Id(id),
            Err(_) => ChatId::Username(text.to_owned()),
        }
    }
}

impl From<String> for ChatId {
    fn from(text: String) -> Self {
        ChatId::from(text.as_str())
    }
}

/// The bot token. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct BotToken(String);

impl BotToken {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `<digits>:<secret>`, the shape every Bot API token has.
    fn is_well_formed(&self) -> bool {
        let Some((id, secret)) = self.0.split_once(':') else {
            return false;
        };
        (1..=20).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_digit())
            && (20..=128).contains(&secret.len())
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The validated configuration the worker runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) token: BotToken,
    pub(crate) routes: Routes,
    pub(crate) api_url: String,
    pub(crate) environment: String,
    pub(crate) service: String,
    pub(crate) min_level: Level,
    pub(crate) slow: SlowRules,
    pub(crate) slow_batch: Duration,
    pub(crate) digest_level: Option<Level>,
    pub(crate) digest_top: usize,
    pub(crate) digest_target: Target,
    pub(crate) rate_limit: Duration,
    pub(crate) dedup_capacity: usize,
    pub(crate) batch_window: Duration,
    pub(crate) skip: SkipRules,
    pub(crate) max_traceback_lines: usize,
    pub(crate) capture_backtrace: bool,
    pub(crate) capture_panics: bool,
    pub(crate) panic_flush_timeout: Duration,
    pub(crate) max_field_len: usize,
    pub(crate) max_fields: usize,
    pub(crate) sanitizer: Sanitizer,
    pub(crate) before_send: Option<BeforeSend>,
    pub(crate) on_sent: Option<OnSent>,
    pub(crate) startup_notice: bool,
    pub(crate) shutdown_notice: bool,
    pub(crate) service_version: Option<String>,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) redis_url: Option<String>,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) redis_key_prefix: String,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) redis_timeout: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) drop_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) pacing: Pacing,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_retry_after: Duration,
    pub(crate) protect_content: bool,
    pub(crate) max_continuation_messages: usize,
    pub(crate) clock: Clock,
}

/// Configures a [`TelegramLayer`] and its [`TelegramGuard`].
///
/// Obtain one from [`TelegramLayer::builder`] or [`Builder::from_env`].
/// Nothing is checked until [`build`](Builder::build).
#[derive(Clone)]
#[must_use = "a Builder does nothing until `build()` is called"]
pub struct Builder {
    pub(crate) enabled: bool,
    pub(crate) token: Option<BotToken>,
    pub(crate) chat_id: Option<ChatId>,
    pub(crate) thread_id: Option<i64>,
    pub(crate) api_url: String,
    pub(crate) environment: String,
    pub(crate) service: Option<String>,
    pub(crate) min_level: Level,
    pub(crate) slow_threshold: Duration,
    pub(crate) slow_thresholds: std::collections::HashMap<String, Option<Duration>>,
    pub(crate) slow_spans: bool,
    pub(crate) judge_busy: bool,
    pub(crate) slow_batch: Duration,
    pub(crate) digest_level: Option<Level>,
    pub(crate) digest_top: usize,
    pub(crate) digest_destination: Option<Destination>,
    pub(crate) rate_limit: Duration,
    pub(crate) dedup_capacity: usize,
    pub(crate) batch_window: Duration,
    pub(crate) ignored_paths: Vec<String>,
    pub(crate) skip_targets: Vec<String>,
    pub(crate) max_traceback_lines: usize,
    pub(crate) capture_backtrace: bool,
    pub(crate) capture_panics: bool,
    pub(crate) panic_flush_timeout: Duration,
    pub(crate) max_field_len: usize,
    pub(crate) max_fields: usize,
    pub(crate) sanitizer: Sanitizer,
    pub(crate) before_send: Option<BeforeSend>,
    pub(crate) on_sent: Option<OnSent>,
    pub(crate) startup_notice: bool,
    pub(crate) shutdown_notice: bool,
    pub(crate) service_version: Option<String>,
    pub(crate) redis_url: Option<String>,
    pub(crate) redis_key_prefix: String,
    pub(crate) redis_timeout: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) drop_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) pacing: Pacing,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_retry_after: Duration,
    pub(crate) protect_content: bool,
    pub(crate) routes: Vec<(AlertLevel, Destination)>,
    pub(crate) max_continuation_messages: usize,
    pub(crate) clock: Clock,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("enabled", &self.enabled)
            .field("bot_token", &self.token)
            .field("chat_id", &self.chat_id)
            .field("thread_id", &self.thread_id)
            .field("api_url", &self.api_url)
            .field("environment", &self.environment)
            .field("service", &self.service)
            .field("min_level", &self.min_level)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            enabled: true,
            token: None,
            chat_id: None,
            thread_id: None,
            api_url: DEFAULT_API_URL.to_owned(),
            environment: "development".to_owned(),
            service: None,
            min_level: Level::ERROR,
            slow_threshold: Duration::from_secs(3),
            slow_thresholds: std::collections::HashMap::new(),
            slow_spans: true,
            judge_busy: false,
            slow_batch: Duration::from_secs(15 * 60),
            digest_level: Some(Level::WARN),
            digest_top: 20,
            digest_destination: None,
            rate_limit: Duration::from_secs(10 * 60),
            dedup_capacity: 10_000,
            batch_window: Duration::from_secs(15 * 60),
            ignored_paths: vec!["/health".to_owned(), "/metrics".to_owned()],
            skip_targets: Vec::new(),
            max_traceback_lines: 15,
            capture_backtrace: false,
            capture_panics: true,
            panic_flush_timeout: Duration::from_secs(2),
            max_field_len: 500,
            max_fields: 30,
            sanitizer: Sanitizer::new(),
            before_send: None,
            on_sent: None,
            startup_notice: false,
            shutdown_notice: false,
            service_version: None,
            redis_url: None,
            redis_key_prefix: "tracing-telegram".to_owned(),
            redis_timeout: Duration::from_millis(500),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            drop_timeout: DEFAULT_DROP_TIMEOUT,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            pacing: Pacing::telegram(),
            retry: RetryPolicy::default(),
            max_retry_after: Duration::from_secs(5 * 60),
            protect_content: false,
            routes: Vec::new(),
            max_continuation_messages: 3,
            clock: Clock::System,
        }
    }
}

impl Builder {
    /// A builder with every default; `bot_token` and `chat_id` must be set.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Reads the configuration from the process environment (see the
    /// crate-level table). A malformed value is an error naming the variable.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Builder::from_env), reading variables through
    /// `lookup` instead of the process environment (useful in tests, or to
    /// read from a secret store).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        crate::env::read(Builder::default(), &lookup)
    }

    /// The bot token from @BotFather. Required when enabled.
    pub fn bot_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(BotToken(token.into().trim().to_owned()));
        self
    }

    /// The chat to post to: an `i64` id or `"@channelname"`. Required when enabled.
    pub fn chat_id(mut self, chat_id: impl Into<ChatId>) -> Self {
        self.chat_id = Some(chat_id.into());
        self
    }

    /// A forum topic (`message_thread_id`) to post into.
    pub fn thread_id(mut self, thread_id: i64) -> Self {
        self.thread_id = Some(thread_id);
        self
    }

    /// The Bot API base URL (a self-hosted Bot API server, or a
    /// [`MockTelegram`](crate) in tests). Default `https://api.telegram.org`.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// The environment tag shown in every alert. Default `development`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = environment.into();
        self
    }

    /// The service name shown in every alert. Default: the executable's name.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// The least severe event level that becomes an alert. Default `ERROR`.
    pub fn min_level(mut self, level: Level) -> Self {
        self.min_level = level;
        self
    }

    /// `false` builds a layer that does nothing and a guard that returns at
    /// once. Default `true`.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Spans that take at least this long (from creation to close) are
    /// slow: the first of a key in a `slow_batch_window` is alerted as a
    /// Warning, and all are counted in the digest. Default 3 s.
    pub fn slow_threshold(mut self, threshold: Duration) -> Self {
        self.slow_threshold = threshold;
        self
    }

    /// A threshold for spans named `name` (the `#[instrument]`ed function's
    /// name, or the span macro's name), overriding `slow_threshold`.
    pub fn slow_threshold_for(mut self, name: impl Into<String>, threshold: Duration) -> Self {
        self.slow_thresholds.insert(name.into(), Some(threshold));
        self
    }

    /// Never reports spans named `name` as slow (long-polling loops,
    /// connection tasks).
    pub fn never_slow(mut self, name: impl Into<String>) -> Self {
        self.slow_thresholds.insert(name.into(), None);
        self
    }

    /// Judges the time spans spend entered (doing work) instead of the time
    /// from creation to close; for spans that mostly wait. Busy time is only
    /// measured (and shown) when this is on, since it costs two clock reads
    /// per enter/exit. Default `false`.
    pub fn judge_busy_time(mut self, busy: bool) -> Self {
        self.judge_busy = busy;
        self
    }

    /// `false` turns span timing off entirely (no slow-span alerts). Default
    /// `true`.
    pub fn slow_spans(mut self, on: bool) -> Self {
        self.slow_spans = on;
        self
    }

    /// After one immediate slow alert per span key, further slow spans of
    /// that key only go to the digest for this long. Default 15 min.
    pub fn slow_batch_window(mut self, window: Duration) -> Self {
        self.slow_batch = window;
        self
    }

    /// Events at this level or above, but below `min_level`, are counted in
    /// the digest instead of alerted; `None` ignores them. Default `WARN`.
    pub fn digest_level(mut self, level: Option<Level>) -> Self {
        self.digest_level = level;
        self
    }

    /// How many slow-span keys and warning kinds a digest lists (the rest
    /// are counted). Default 20.
    pub fn digest_top(mut self, rows: usize) -> Self {
        self.digest_top = rows;
        self
    }

    /// Where digests go. Default: where `Info` alerts go.
    pub fn route_digests(mut self, destination: Destination) -> Self {
        self.digest_destination = Some(destination);
        self
    }

    /// The dedup window: the first alert of a fingerprint (level, target,
    /// callsite and the message with numbers, ids and quoted values
    /// normalised, or an explicit `telegram.fingerprint` field) is sent; its
    /// repeats within this window are counted, and the original alert is
    /// edited to show the tally (at 10, 100, 1 000 … and when the window
    /// closes). Zero turns deduplication off. Default 10 min.
    ///
    /// Once the worker has seen an alert, its repeats inside the window are
    /// counted on the calling thread with one atomic operation (about 0.1 µs)
    /// instead of being captured and queued (about 1 µs), so a flood of one
    /// failure neither costs the application much nor fills the queue. The
    /// worker settles those counts at least every 500 ms, so `Stats` and the
    /// tallies may lag by that much (`flush` settles them at once).
    pub fn rate_limit(mut self, window: Duration) -> Self {
        self.rate_limit = window;
        self
    }

    /// The most fingerprints the dedup store holds; when full, the oldest
    /// are evicted (counted in `Stats::dedup_evictions`). Default 10 000.
    pub fn dedup_capacity(mut self, capacity: usize) -> Self {
        self.dedup_capacity = capacity;
        self
    }

    /// The digest period: every window, one silent digest of slow spans,
    /// warnings and drops is sent if there is anything to say, and a final
    /// one at shutdown. Default 15 min.
    pub fn batch_window(mut self, window: Duration) -> Self {
        self.batch_window = window;
        self
    }

    /// Path prefixes whose HTTP spans are skipped with everything inside
    /// them. A span's path is read from the fields `uri`, `url`, `url.path`,
    /// `url.full`, `path`, `http.target`, `http.route` or `http.url` (a full
    /// URL is reduced to its path); a prefix matches whole segments, so
    /// `/health` skips `/health`, `/health/live` and `/health?x`, not
    /// `/healthcare`. Default `/health`, `/metrics`.
    pub fn ignored_paths<I, P>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.ignored_paths = prefixes.into_iter().map(Into::into).collect();
        self
    }

    /// Targets (module paths, matched by whole `::` segments) whose events
    /// and spans are never reported, with everything inside those spans.
    pub fn skip_targets<I, T>(mut self, targets: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.skip_targets = targets.into_iter().map(Into::into).collect();
        self
    }

    /// How many span-trace (and, later, backtrace) lines an alert keeps;
    /// 0 shows none. Default 15.
    pub fn max_traceback_lines(mut self, lines: usize) -> Self {
        self.max_traceback_lines = lines;
        self
    }

    /// Captures a backtrace for every event that will be alerted (not for
    /// digest-only events), resolved and filtered in the worker and limited
    /// by `max_traceback_lines`. Capturing walks the stack on the
    /// application's thread (microseconds), so it is off by default.
    pub fn capture_backtrace(mut self, on: bool) -> Self {
        self.capture_backtrace = on;
        self
    }

    /// Installs a panic hook that sends every panic as a Critical alert (with
    /// message, location, thread name and backtrace) and waits up to
    /// `panic_flush_timeout` for it to be delivered, so that a panic that
    /// aborts the process still gets its alert out. The previous hook still
    /// runs. Default `true`.
    pub fn capture_panics(mut self, on: bool) -> Self {
        self.capture_panics = on;
        self
    }

    /// Called in the worker for every message Telegram accepted (level,
    /// title, chat, message id) — an audit trail of what was posted. The
    /// worker's thread is ignored by the layer, so logging from the hook with
    /// `tracing` cannot loop; a panic in the hook is caught.
    pub fn on_sent<F>(mut self, hook: F) -> Self
    where
        F: Fn(&SentAlert) + Send + Sync + 'static,
    {
        self.on_sent = Some(OnSent(Arc::new(hook)));
        self
    }

    /// Sends a silent "service v1.2 started on host H (env)" notice when the
    /// layer starts. Default `false`.
    pub fn startup_notice(mut self, on: bool) -> Self {
        self.startup_notice = on;
        self
    }

    /// Sends a silent notice with the final counters at shutdown. Default `false`.
    pub fn shutdown_notice(mut self, on: bool) -> Self {
        self.shutdown_notice = on;
        self
    }

    /// The version shown in notices (e.g. `env!("CARGO_PKG_VERSION")`).
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// How long the panic hook waits for the alert to be delivered. Default 2 s.
    pub fn panic_flush_timeout(mut self, timeout: Duration) -> Self {
        self.panic_flush_timeout = timeout;
        self
    }

    /// The longest field value shown, in characters; longer values end with
    /// `…`. Default 500.
    pub fn max_field_len(mut self, chars: usize) -> Self {
        self.max_field_len = chars;
        self
    }

    /// The most fields shown per alert; the rest are counted. Default 30.
    pub fn max_fields(mut self, fields: usize) -> Self {
        self.max_fields = fields;
        self
    }

    /// Also redacts every match of `pattern` (replaced by `***`), in every
    /// text that is sent.
    pub fn redact(mut self, pattern: Regex) -> Self {
        self.sanitizer = self.sanitizer.redact(pattern);
        self
    }

    /// Also replaces every match of `pattern` with `replacement` (`$1` and
    /// `${name}` refer to capture groups).
    pub fn redact_with(mut self, pattern: Regex, replacement: impl Into<String>) -> Self {
        self.sanitizer = self.sanitizer.redact_with(pattern, replacement);
        self
    }

    /// Redacts e-mail addresses (`j***@example.com`). Off by default.
    pub fn redact_emails(mut self, on: bool) -> Self {
        self.sanitizer = self.sanitizer.redact_emails(on);
        self
    }

    /// More field names whose values are always redacted, in addition to the
    /// built-in list (`password`, `token`, `api_key`, `authorization`,
    /// `cookie`, `session`, `card_number`, `cvv`, …). Case, `_`, `-` and `.`
    /// are ignored, and a name ending with one of them counts too.
    pub fn sensitive_fields<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        for name in names {
            self.sanitizer = self.sanitizer.sensitive_field(name.as_ref());
        }
        self
    }

    /// A last look at every alert before it is rendered, in the worker: it
    /// may change the level, title, message and details, and returning
    /// `false` drops the alert (counted in `Stats::dropped` and
    /// `Stats::filtered`). Built-in and custom redaction run after it.
    ///
    /// The hook sees every record, repeats included, so setting one turns
    /// off the counting of repeats on the calling thread (see
    /// [`Builder::rate_limit`]): each repeat is then captured and queued.
    pub fn before_send<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut Alert) -> bool + Send + Sync + 'static,
    {
        self.before_send = Some(BeforeSend(Arc::new(hook)));
        self
    }

    /// A Redis URL (`redis://`, or `rediss://` for TLS) shared by a fleet
    /// (feature `redis`): the first process to see an alert sends it, the
    /// others count it, and the tally shows the fleet's total; the startup
    /// notice is sent once per deploy. If Redis is unreachable or slow, each
    /// decision falls back to this process's memory (counted in
    /// `Stats::redis_fallbacks`) until it answers again.
    ///
    /// Fleet digests: each process pushes its window's data when the
    /// (wall-clock aligned) window closes; 10 s later one process wins the
    /// window's leadership and sends the merged digest. At shutdown a process
    /// pushes its partial window and tries to lead at once, so when a whole
    /// fleet stops together, the last window's digest holds what the first
    /// process to stop could see.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// The prefix of every Redis key (so several services can share one
    /// Redis). Default `tracing-telegram`.
    pub fn redis_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis_key_prefix = prefix.into();
        self
    }

    /// The bound on each Redis call; past it the record is decided in
    /// memory. Default 500 ms.
    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.redis_timeout = timeout;
        self
    }

    /// Capacity of the queue between the application and the worker.
    /// When it is full, new records are dropped and counted. Default 1024.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// How long dropping the [`TelegramGuard`] (without calling
    /// [`shutdown`](TelegramGuard::shutdown)) waits for pending alerts.
    /// Default 2 s.
    pub fn drop_timeout(mut self, timeout: Duration) -> Self {
        self.drop_timeout = timeout;
        self
    }

    /// TCP connect timeout towards the Bot API. Default 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whole-request timeout towards the Bot API. Default 15 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How fast messages may be sent. Default: [`Pacing::telegram`] (per chat
    /// 1/s with a burst of 3, 20/min to a group, 30/s overall), under which
    /// Telegram should never answer 429.
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// How transient failures (network, timeouts, 5xx) are retried.
    /// Default: [`RetryPolicy::default`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The longest `retry_after` (from a 429) a message waits for; a message
    /// told to wait longer is counted as failed (its chat stays blocked for
    /// the time Telegram asked). Default 5 min.
    pub fn max_retry_after(mut self, limit: Duration) -> Self {
        self.max_retry_after = limit;
        self
    }

    /// Sets `protect_content` on every message (no forwarding or saving).
    /// Default `false`.
    pub fn protect_content(mut self, protect: bool) -> Self {
        self.protect_content = protect;
        self
    }

    /// Sends alerts of `level` to `destination` instead of the default chat
    /// and topic (e.g. criticals to an on-call topic).
    pub fn route(mut self, level: AlertLevel, destination: Destination) -> Self {
        self.routes.retain(|(existing, _)| *existing != level);
        self.routes.push((level, destination));
        self
    }

    /// How many extra messages an alert too long for one message may take
    /// (each within Telegram's 4096-unit limit); beyond that it is cut and
    /// marked as truncated. Default 3; 0 always cuts.
    pub fn max_continuation_messages(mut self, messages: usize) -> Self {
        self.max_continuation_messages = messages;
        self
    }

    /// Uses a virtual clock for pacing and retry waits (tests; feature
    /// `testing`). Share it with
    /// [`MockTelegram::set_clock`](crate::testing::MockTelegram::set_clock).
    #[cfg(feature = "testing")]
    pub fn clock(mut self, clock: crate::testing::TestClock) -> Self {
        self.clock = Clock::Test(clock);
        self
    }

    /// Validates the configuration, starts the worker thread, and returns the
    /// layer to register and the guard that drains it.
    pub fn build(self) -> Result<(TelegramLayer, TelegramGuard), Error> {
        if !self.enabled {
            return Ok((TelegramLayer::disabled(), TelegramGuard::disabled()));
        }
        let config = self.validate()?;
        crate::worker::start(config)
    }

    fn validate(self) -> Result<Config, Error> {
        let token = self.token.ok_or(Error::Missing {
            option: "bot_token",
        })?;
        if !token.is_well_formed() {
            return Err(Error::invalid_token("bot_token"));
        }
        let chat_id = self.chat_id.ok_or(Error::Missing { option: "chat_id" })?;
        let routes = Routes::new(
            Target {
                chat_id,
                thread_id: self.thread_id,
            },
            &self.routes,
        );
        for chat_id in routes.chats() {
            chat_id.validate("chat_id")?;
        }
        self.pacing.validate()?;
        self.retry.validate()?;
        let api_url = validate_api_url("api_url", &self.api_url)?;
        if let Some(url) = &self.redis_url {
            validate_redis_url("redis_url", url)?;
            if !cfg!(feature = "redis") {
                return Err(Error::invalid(
                    "redis_url",
                    "<set>",
                    "no redis_url: this build has the `redis` feature off",
                ));
            }
        }
        if self.redis_key_prefix.is_empty() || self.redis_key_prefix.contains(char::is_whitespace) {
            return Err(Error::invalid(
                "redis_key_prefix",
                &self.redis_key_prefix,
                "a non-empty prefix without spaces",
            ));
        }
        require_positive("redis_timeout", self.redis_timeout)?;
        require_positive("slow_threshold", self.slow_threshold)?;
        require_positive("slow_batch_window", self.slow_batch)?;
        require_positive("batch_window", self.batch_window)?;
        require_positive("connect_timeout", self.connect_timeout)?;
        require_positive("request_timeout", self.request_timeout)?;
        if self.queue_capacity == 0 {
            return Err(Error::invalid("queue_capacity", "0", "at least 1"));
        }
        let service = self.service.unwrap_or_else(executable_name);
        let sanitizer = self.sanitizer.with_token(token.expose());
        for (name, threshold) in &self.slow_thresholds {
            if *threshold == Some(Duration::ZERO) {
                return Err(Error::invalid(
                    "slow_threshold_for",
                    name,
                    "a duration greater than zero",
                ));
            }
        }
        let slow = SlowRules {
            default: self.slow_spans.then_some(self.slow_threshold),
            by_name: if self.slow_spans {
                self.slow_thresholds
            } else {
                Default::default()
            },
            judge_busy: self.judge_busy,
        };
        let digest_target = match &self.digest_destination {
            Some(destination) => routes.resolve(destination),
            None => routes.target(AlertLevel::Info),
        };
        digest_target.chat_id.validate("route_digests")?;
        Ok(Config {
            token,
            routes,
            api_url,
            environment: self.environment,
            service,
            min_level: self.min_level,
            slow,
            slow_batch: self.slow_batch,
            digest_level: self.digest_level,
            digest_top: self.digest_top.max(1),
            digest_target,
            rate_limit: self.rate_limit,
            dedup_capacity: self.dedup_capacity.max(1),
            batch_window: self.batch_window,
            skip: SkipRules::new(&self.ignored_paths, self.skip_targets),
            max_traceback_lines: self.max_traceback_lines,
            capture_backtrace: self.capture_backtrace,
            capture_panics: self.capture_panics,
            panic_flush_timeout: self.panic_flush_timeout,
            max_field_len: self.max_field_len.max(1),
            max_fields: self.max_fields,
            sanitizer,
            before_send: self.before_send,
            on_sent: self.on_sent,
            startup_notice: self.startup_notice,
            shutdown_notice: self.shutdown_notice,
            service_version: self.service_version,
            redis_url: self.redis_url,
            redis_key_prefix: self.redis_key_prefix,
            redis_timeout: self.redis_timeout,
            queue_capacity: self.queue_capacity,
            drop_timeout: self.drop_timeout,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            pacing: self.pacing,
            retry: self.retry,
            max_retry_after: self.max_retry_after,
            protect_content: self.protect_content,
            max_continuation_messages: self.max_continuation_messages.min(20),
            clock: self.clock,
        })
    }
}

/// Checks an `http(s)://host[:port][/path]` URL and strips a trailing `/`.
pub(crate) fn validate_api_url(option: &'static str, url: &str) -> Result<String, Error> {
    const EXPECTED: &str = "an http:// or https:// URL without query or fragment";
    let parsed =
        reqwest::Url::parse(url.trim()).map_err(|_| Error::invalid(option, url, EXPECTED))?;
    let usable = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some()
        && parsed.query().is_none()
        && parsed.fragment().is_none()
        && parsed.username().is_empty()
        && parsed.password().is_none();
    if !usable {
        return Err(Error::invalid(option, url, EXPECTED));
    }
    Ok(url.trim().trim_end_matches('/').to_owned())
}

/// Checks a `redis://` / `rediss://` URL without echoing its password.
pub(crate) fn validate_redis_url(option: &'static str, url: &str) -> Result<(), Error> {
    const EXPECTED: &str = "a redis://, rediss:// or redis+unix:// URL";
    let shown = match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Infallible for URLs with a host, which are the only ones
                // that can carry a password; ignore the result either way.
                let _ = parsed.set_password(Some("***"));
            }
            if matches!(parsed.scheme(), "redis" | "rediss" | "redis+unix" | "unix") {
                return Ok(());
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable URL>".to_owned(),
    };
    Err(Error::invalid(option, &shown, EXPECTED))
}

fn require_positive(option: &'static str, value: Duration) -> Result<(), Error> {
    if value.is_zero() {
        return Err(Error::invalid(option, "0s", "a duration greater than zero"));
    }
    Ok(())
}

fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown-service".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

    #[test]
    fn token_shape_is_checked_without_echoing_it() {
        let err = Builder::new()
            .bot_token("not-a-token-secret")
            .chat_id(1)
            .validate()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bot_token"), "{text}");
        assert!(!text.contains("not-a-token-secret"), "{text}");
    }

    #[test]
    fn debug_output_redacts_the_token() {
        let builder = Builder::new().bot_token(TOKEN).chat_id(-100);
        let config = builder.clone().validate().unwrap();
        for text in [format!("{builder:?}"), format!("{config:?}")] {
            assert!(!text.contains("AAHdqTcv"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }

    #[test]
    fn chat_ids_are_validated() {
        assert_eq!(ChatId::from("-1001234567890"), ChatId::Id(-1001234567890));
        assert!(ChatId::from("@my_channel").validate("chat_id").is_ok());
        let err = ChatId::from("my channel").validate("chat_id").unwrap_err();
        assert!(err.to_string().contains("chat_id"));
        assert!(ChatId::Id(0).validate("chat_id").is_err());
    }

    #[test]
    fn api_url_must_be_http() {
        assert_eq!(
            validate_api_url("api_url", "http://127.0.0.1:8081/").unwrap(),
            "http://127.0.0.1:8081"
        );
        for bad in ["ftp://x", "not a url", "http://u:p@host", "https://h/?q=1"] {
            assert!(validate_api_url("api_url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redis_url_errors_hide_the_password() {
        let err = validate_redis_url("REDIS_URL", "http://u:hunter2@host").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(validate_redis_url("REDIS_URL", "rediss://u:p@host:6380/0").is_ok());
    }
}
