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
//! - [`options`]: the everyday setters, and one per part.
//! - [`parts`]: the typed parts, with their defaults.
//! - [`env`]: the environment variables.
//! - [`validate`]: checks, and the per-part configs.
//! - [`build`]: the wiring.

mod build;
pub(crate) mod env;
mod options;
pub(crate) mod parts;
pub(crate) mod settings;
mod validate;
mod values;

pub use parts::{
    Capture, Dedup, Delivery, Digest, Fleet, Hooks, Interactive, Limits, Notices, Panics, Routing,
    SlowSpans, Storms,
};
pub use settings::{SettingValue, Settings};

use std::fmt;

use tracing_core::Level;

use crate::capture::{FilteredLayer, TelegramLayer};
use crate::chat::{BotToken, ChatId};
use crate::clock::Clock;
use crate::error::Error;
use crate::guard::TelegramGuard;
use crate::render::Identity;
use crate::sanitize::Sanitizer;

/// Configures a [`TelegramLayer`] and its [`TelegramGuard`].
///
/// Obtain one from [`TelegramLayer::builder`] or [`Builder::from_env`];
/// nothing is checked until [`build`](Builder::build). The everyday options
/// (the chat, the service's name, the alert level, routes) are methods of
/// their own; the rest come in typed parts ([`Dedup`], [`Digest`],
/// [`SlowSpans`], [`Capture`], [`Limits`], [`Fleet`], [`Interactive`],
/// [`Storms`], [`Delivery`], [`Panics`], [`Notices`], [`Hooks`], and the
/// [`Sanitizer`]), each edited through a closure that receives the part as
/// configured so far — so options set in code add to those read from the
/// environment rather than resetting their part:
///
/// ```
/// use std::time::Duration;
/// # fn main() -> Result<(), tracing_telegram::Error> {
/// let builder = tracing_telegram::TelegramLayer::builder()
///     .bot_token("123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
///     .chat_id(-1001234567890_i64)
///     .dedup(|d| d.window(Duration::from_secs(5 * 60)))
///     .slow_spans(|s| s.threshold(Duration::from_secs(1)).never("poll_queue"));
/// # drop(builder);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use = "a Builder does nothing until `build()` is called"]
pub struct Builder {
    pub(crate) enabled: bool,
    pub(crate) token: Option<BotToken>,
    pub(crate) chat_id: Option<ChatId>,
    pub(crate) thread_id: Option<i64>,
    pub(crate) api_url: String,
    pub(crate) identity: Identity,
    pub(crate) min_level: Level,
    pub(crate) routes: Routing,
    pub(crate) trace_link: Option<String>,
    pub(crate) capture: Capture,
    pub(crate) slow: SlowSpans,
    pub(crate) dedup: Dedup,
    pub(crate) storms: Storms,
    pub(crate) digest: Digest,
    pub(crate) sanitizer: Sanitizer,
    pub(crate) limits: Limits,
    pub(crate) fleet: Fleet,
    pub(crate) interactive: Interactive,
    pub(crate) delivery: Delivery,
    pub(crate) panics: Panics,
    pub(crate) notices: Notices,
    pub(crate) hooks: Hooks,
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
            .field("api_url", &self.api_url)
            .field("environment", &self.identity.environment)
            .field("service", &self.identity.service)
            .field("min_level", &self.min_level)
            .field("redis_url", &self.fleet.url.as_ref().map(|_| "<set>"))
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
            api_url: crate::delivery::DEFAULT_API_URL.to_owned(),
            identity: Identity {
                service: executable_name(),
                ..Identity::default()
            },
            min_level: Level::ERROR,
            routes: Routing::default(),
            trace_link: None,
            capture: Capture::default(),
            slow: SlowSpans::default(),
            dedup: Dedup::default(),
            storms: Storms::default(),
            digest: Digest::default(),
            sanitizer: Sanitizer::default(),
            limits: Limits::default(),
            fleet: Fleet::default(),
            interactive: Interactive::default(),
            delivery: Delivery::default(),
            panics: Panics::default(),
            notices: Notices::default(),
            hooks: Hooks::default(),
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
    /// layer to register (behind its own per-layer filter, see
    /// [`FilteredLayer`]) and the guard that drains it.
    pub fn build<S>(self) -> Result<(FilteredLayer<S>, TelegramGuard), Error>
    where
        S: tracing_core::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let (layer, guard) = self.build_unfiltered()?;
        Ok((FilteredLayer::of(layer), guard))
    }

    /// The layer, before it is put behind its filter.
    fn build_unfiltered(self) -> Result<(TelegramLayer, TelegramGuard), Error> {
        if !self.enabled {
            return Ok((TelegramLayer::disabled(), TelegramGuard::disabled()));
        }
        let validated = self.validate()?;
        build::start(validated)
    }
}

impl TelegramLayer {
    /// Starts configuring a layer.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Builds a layer from the environment variables listed in the crate
    /// documentation (`Builder::from_env()?.build()`).
    pub fn from_env<S>() -> Result<(FilteredLayer<S>, TelegramGuard), Error>
    where
        S: tracing_core::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        Builder::from_env()?.build()
    }
}
