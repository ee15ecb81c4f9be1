//! The setters: the everyday options one by one, the rest one part each.
//! They only record what was asked for; [`Builder::build`] checks it.

use tracing_core::Level;

use crate::chat::{BotToken, ChatId};
use crate::sanitize::Sanitizer;

use super::parts::{
    Capture, Dedup, Delivery, Digest, Fleet, Hooks, Interactive, Limits, Notices, Panics, Routing,
    SlowSpans, Storms,
};
use super::Builder;

impl Builder {
    /// The bot token from @BotFather (env `TELEGRAM_BOT_TOKEN`). Required
    /// when enabled.
    pub fn bot_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(BotToken::new(&token.into()));
        self
    }

    /// The chat to post to: an `i64` id or `"@channelname"` (env
    /// `TELEGRAM_CHAT_ID`). Required when enabled.
    pub fn chat_id(mut self, chat_id: impl Into<ChatId>) -> Self {
        self.chat_id = Some(chat_id.into());
        self
    }

    /// A forum topic (`message_thread_id`) to post into (env
    /// `TELEGRAM_THREAD_ID`).
    pub fn thread_id(mut self, thread_id: i64) -> Self {
        self.thread_id = Some(thread_id);
        self
    }

    /// The Bot API base URL: a self-hosted Bot API server, or a
    /// `MockTelegram` in tests (env `TELEGRAM_API_URL`). Default
    /// `https://api.telegram.org`.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// `false` builds a layer that does nothing and a guard that returns at
    /// once (env `MONITORING_ENABLED`). Default `true`.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// The environment tag shown in every alert (env `MONITORING_ENV`).
    /// Default `development`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.identity.environment = environment.into();
        self
    }

    /// The service name shown in every alert (env `MONITORING_SERVICE`).
    /// Default: the executable's name.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.identity.service = service.into();
        self
    }

    /// The version shown in notices (e.g. `env!("CARGO_PKG_VERSION")`).
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.identity.version = Some(version.into());
        self
    }

    /// The least severe event level that becomes an alert. Default `ERROR`.
    /// (Less severe events may still be counted in the digest: see
    /// [`Digest::level`].)
    pub fn min_level(mut self, level: Level) -> Self {
        self.min_level = level;
        self
    }

    /// Where alerts go besides the default chat: by level, by target, by
    /// field. See [`Routing`].
    pub fn routes(mut self, edit: impl FnOnce(Routing) -> Routing) -> Self {
        self.routes = edit(self.routes);
        self
    }

    /// Links each alert's trace: `template` is a URL of the team's tracing
    /// UI with `{trace_id}` in it (`https://grafana.example/explore?trace={trace_id}`,
    /// `https://jaeger.example/trace/{trace_id}`). The trace id (and span id)
    /// come from a `trace_id` (`span_id`) field of the event or of an
    /// enclosing span, innermost first; without a template they are shown
    /// unlinked. Fingerprints ignore them. A template that is not an
    /// http(s) URL with the placeholder is an `Error` at `build`.
    pub fn trace_link(mut self, template: impl Into<String>) -> Self {
        self.trace_link = Some(template.into());
        self
    }

    /// What the layer captures besides events: span levels, ignored paths,
    /// skipped targets, backtraces. See [`Capture`].
    pub fn capture(mut self, edit: impl FnOnce(Capture) -> Capture) -> Self {
        self.capture = edit(self.capture);
        self
    }

    /// Which spans are judged slow, and against what. See [`SlowSpans`].
    pub fn slow_spans(mut self, edit: impl FnOnce(SlowSpans) -> SlowSpans) -> Self {
        self.slow = edit(self.slow);
        self
    }

    /// How repeats of an alert are counted instead of sent. See [`Dedup`].
    pub fn dedup(mut self, edit: impl FnOnce(Dedup) -> Dedup) -> Self {
        self.dedup = edit(self.dedup);
        self
    }

    /// The periodic silent summary. See [`Digest`].
    pub fn digest(mut self, edit: impl FnOnce(Digest) -> Digest) -> Self {
        self.digest = edit(self.digest);
        self
    }

    /// Redaction beyond the built-in rules (which always run, the bot token
    /// included): patterns, e-mail addresses, sensitive field names. See
    /// [`Sanitizer`].
    pub fn sanitizer(mut self, edit: impl FnOnce(Sanitizer) -> Sanitizer) -> Self {
        self.sanitizer = edit(self.sanitizer);
        self
    }

    /// How much an alert shows and how much the layer holds. See [`Limits`].
    pub fn limits(mut self, edit: impl FnOnce(Limits) -> Limits) -> Self {
        self.limits = edit(self.limits);
        self
    }

    /// State shared by a fleet of processes through Redis. See [`Fleet`].
    pub fn fleet(mut self, edit: impl FnOnce(Fleet) -> Fleet) -> Self {
        self.fleet = edit(self.fleet);
        self
    }

    /// Buttons on alerts (acknowledge, mute). See [`Interactive`].
    pub fn interactive(mut self, edit: impl FnOnce(Interactive) -> Interactive) -> Self {
        self.interactive = edit(self.interactive);
        self
    }

    /// The HTTP client, pacing, retries and fallback chat. See [`Delivery`].
    pub fn delivery(mut self, edit: impl FnOnce(Delivery) -> Delivery) -> Self {
        self.delivery = edit(self.delivery);
        self
    }

    /// Panics as Critical alerts. See [`Panics`].
    pub fn panics(mut self, edit: impl FnOnce(Panics) -> Panics) -> Self {
        self.panics = edit(self.panics);
        self
    }

    /// What happens in a storm: a callsite with many different messages
    /// folded into one alert. See [`Storms`].
    pub fn storms(mut self, edit: impl FnOnce(Storms) -> Storms) -> Self {
        self.storms = edit(self.storms);
        self
    }

    /// Startup and shutdown notices. See [`Notices`].
    pub fn notices(mut self, edit: impl FnOnce(Notices) -> Notices) -> Self {
        self.notices = edit(self.notices);
        self
    }

    /// The application's own functions: `before_send`, `on_sent`,
    /// `on_delivery_failure`. See [`Hooks`].
    pub fn hooks(mut self, edit: impl FnOnce(Hooks) -> Hooks) -> Self {
        self.hooks = edit(self.hooks);
        self
    }

    /// Uses a virtual clock for pacing and retry waits (tests; feature
    /// `testing`). Share it with
    /// [`MockTelegram::set_clock`](crate::testing::MockTelegram::set_clock).
    #[cfg(feature = "testing")]
    pub fn clock(mut self, clock: crate::testing::TestClock) -> Self {
        self.clock = crate::clock::Clock::Test(clock);
        self
    }
}
