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
pub(crate) mod settings;
mod validate;

pub use settings::{SettingValue, Settings};

use std::fmt;
use std::time::Duration;

use crate::alert::AlertLevel;
use crate::capture::{CaptureConfig, PanicConfig, TelegramLayer};
use crate::channel::DEFAULT_QUEUE_CAPACITY;
use crate::chat::{BotToken, ChatId, Destination};
use crate::clock::Clock;
use crate::delivery::DeliveryConfig;
use crate::error::Error;
use crate::guard::{TelegramGuard, DEFAULT_DROP_TIMEOUT};
use crate::interact::InteractConfig;
use crate::pipeline::PipelineConfig;
use crate::render::Identity;
use crate::worker::WorkerConfig;

/// Configures a [`TelegramLayer`] and its [`TelegramGuard`].
///
/// Obtain one from [`TelegramLayer::builder`] or [`Builder::from_env`].
/// Nothing is checked until [`build`](Builder::build).
///
/// It holds each part's own configuration, so that an option is written
/// where it is set (its setter) and where it is used (its part); what needs
/// checking or combining first (the chats, the token, the Redis URL) is
/// kept as given until `build`.
#[derive(Clone)]
#[must_use = "a Builder does nothing until `build()` is called"]
pub struct Builder {
    pub(crate) enabled: bool,
    // Checked, or combined, by `build`.
    pub(crate) token: Option<BotToken>,
    pub(crate) chat_id: Option<ChatId>,
    pub(crate) thread_id: Option<i64>,
    pub(crate) routes: Vec<(AlertLevel, Destination)>,
    pub(crate) digest_destination: Option<Destination>,
    pub(crate) fallback_chat: Option<ChatId>,
    pub(crate) redis_url: Option<String>,
    pub(crate) redis_key_prefix: String,
    pub(crate) redis_timeout: Duration,
    // Each part's configuration, as it will run.
    pub(crate) capture: CaptureConfig,
    pub(crate) panics: PanicConfig,
    pub(crate) pipeline: PipelineConfig,
    pub(crate) delivery: DeliveryConfig,
    pub(crate) worker: WorkerConfig,
    pub(crate) interactive: InteractConfig,
    pub(crate) queue_capacity: usize,
    pub(crate) drop_timeout: Duration,
    pub(crate) clock: Clock,
    /// What reading the configuration had to say (printed once the
    /// reporter exists).
    pub(crate) notes: Vec<String>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("enabled", &self.enabled)
            .field("bot_token", &self.token)
            .field("chat_id", &self.chat_id)
            .field("thread_id", &self.thread_id)
            .field("api_url", &self.delivery.api_url)
            .field("environment", &self.pipeline.identity.environment)
            .field("service", &self.pipeline.identity.service)
            .field("min_level", &self.capture.min_level)
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
            routes: Vec::new(),
            digest_destination: None,
            fallback_chat: None,
            redis_url: None,
            redis_key_prefix: "tracing-telegram".to_owned(),
            redis_timeout: Duration::from_millis(500),
            capture: CaptureConfig::default(),
            panics: PanicConfig::default(),
            pipeline: PipelineConfig {
                identity: Identity {
                    service: executable_name(),
                    ..Identity::default()
                },
                ..PipelineConfig::default()
            },
            delivery: DeliveryConfig::default(),
            worker: WorkerConfig::default(),
            interactive: InteractConfig::default(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            drop_timeout: DEFAULT_DROP_TIMEOUT,
            clock: Clock::System,
            notes: Vec::new(),
        }
    }
}

/// The executable's name, the default service name.
fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown-service".to_owned())
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

    /// A builder configured by [`Settings`] deserialized from the
    /// application's own configuration file: the same keys (in lower case),
    /// defaults and checks as [`from_env`](Builder::from_env); an error names
    /// the setting by its variable's name (`invalid ALERT_RATE_LIMIT_MINUTES`).
    /// Options set on the returned builder apply on top.
    pub fn from_settings(settings: &Settings) -> Result<Self, Error> {
        env::read(Builder::default(), &settings.lookup())
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
