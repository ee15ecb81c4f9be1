//! The builder: every option, read from code or the environment, validated
//! once, and wired into a running layer, worker and guard.
//!
//! In: options (setters never fail: they only record what was asked for).
//! Out: [`Builder::build`] validates everything at once, before any thread
//! or runtime starts, into one config per part (capture, pipeline,
//! delivery, fleet, worker), and wires the parts together. A bad option is
//! an [`Error`] that names it (or, for [`Builder::from_env`], the
//! environment variable). Nothing else in the crate imports this folder.
//!
//! - [`options`]: the setters, one per option.
//! - [`env`]: the environment variables.
//! - [`validate`]: checks, and the per-part configs.
//! - [`build`]: the wiring.

mod build;
pub(crate) mod env;
mod options;
mod validate;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use tracing_core::Level;

use crate::alert::AlertLevel;
use crate::capture::TelegramLayer;
use crate::chat::{BotToken, ChatId, Destination};
use crate::clock::Clock;
use crate::delivery::audit::OnSent;
use crate::delivery::pacing::Pacing;
use crate::delivery::retry::RetryPolicy;
use crate::error::Error;
use crate::guard::TelegramGuard;
use crate::pipeline::BeforeSend;
use crate::sanitize::Sanitizer;

/// The public Bot API endpoint.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// Default capacity of the queue between the layer and the worker.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// Default bound on how long dropping the guard waits for pending alerts.
pub const DEFAULT_DROP_TIMEOUT: Duration = Duration::from_secs(2);

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
    pub(crate) slow_thresholds: HashMap<String, Option<Duration>>,
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
            slow_thresholds: HashMap::new(),
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
        env::read(Builder::default(), &lookup)
    }

    /// Validates the configuration, starts the worker thread, and returns the
    /// layer to register and the guard that drains it.
    pub fn build(self) -> Result<(TelegramLayer, TelegramGuard), Error> {
        if !self.enabled {
            return Ok((TelegramLayer::disabled(), TelegramGuard::disabled()));
        }
        let parts = self.validate()?;
        build::start(parts)
    }
}

impl TelegramLayer {
    /// Starts configuring a layer.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Builds a layer from the environment variables listed in the crate
    /// documentation (`Builder::from_env()?.build()`).
    pub fn from_env() -> Result<(TelegramLayer, TelegramGuard), Error> {
        Builder::from_env()?.build()
    }
}
