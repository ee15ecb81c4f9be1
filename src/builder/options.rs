//! The setters: one per option. They only record what was asked for;
//! [`Builder::build`] checks it.

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use tracing_core::Level;

use crate::alert::{Alert, AlertLevel};
use crate::chat::{BotToken, ChatId, Destination};
use crate::delivery::audit::{DeliveryFailure, OnFailure, OnSent, SentAlert};
use crate::delivery::pacing::Pacing;
use crate::delivery::retry::RetryPolicy;
use crate::pipeline::BeforeSend;

use super::Builder;

impl Builder {
    /// The bot token from @BotFather. Required when enabled.
    pub fn bot_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(BotToken::new(&token.into()));
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

    /// Alerts carry buttons — ✅ Ack, 🔕 1 h, 🔕 24 h — that chat members
    /// press to acknowledge an alert or mute its kind (then 🔔 Unmute).
    /// Default off (env `TELEGRAM_INTERACTIVE`).
    ///
    /// The worker long-polls the Bot API's `getUpdates` for presses (with a
    /// fleet on Redis, only the process holding the leader lock does), so
    /// the bot must have no webhook and no other program reading its
    /// updates: if it has, Telegram answers 409 Conflict and interactivity
    /// turns itself off (one stderr line, a [`Health`](crate::Health)
    /// reason); alerts keep flowing. Needs deduplication (`rate_limit` >
    /// 0): buttons act on an alert's kind. See the README's "Acting on
    /// alerts" and SECURITY.md for who may press what.
    pub fn interactive(mut self, on: bool) -> Self {
        self.interactive.enabled = on;
        self
    }

    /// The mute buttons' durations, in order (1 to 4 of them, whole
    /// minutes from 1 min to 7 days). Default 1 h and 24 h (env
    /// `TELEGRAM_MUTE_MINUTES`, e.g. `30,240`).
    pub fn mute_options(mut self, durations: impl IntoIterator<Item = Duration>) -> Self {
        self.interactive.mute_options = durations.into_iter().collect();
        self
    }

    /// Only these Telegram user ids may press an alert's buttons (others
    /// get a refusal); by default any member of an alert chat may (env
    /// `TELEGRAM_ALLOWED_USERS`, comma-separated).
    pub fn allowed_users(mut self, user_ids: impl IntoIterator<Item = i64>) -> Self {
        self.interactive.allowed_users = user_ids.into_iter().collect();
        self
    }

    /// How long one `getUpdates` long poll waits for a press (1 s to 50 s;
    /// default 10 s). The fleet's leader lock lives three times as long:
    /// when the leading process dies, another takes over within about four
    /// poll timeouts.
    pub fn interactive_poll_timeout(mut self, timeout: Duration) -> Self {
        self.interactive.poll_timeout = timeout;
        self
    }

    /// The Bot API base URL (a self-hosted Bot API server, or a
    /// [`MockTelegram`](crate) in tests). Default `https://api.telegram.org`.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.delivery.api_url = url.into();
        self
    }

    /// The environment tag shown in every alert. Default `development`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.pipeline.identity.environment = environment.into();
        self
    }

    /// The service name shown in every alert. Default: the executable's name.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.pipeline.identity.service = service.into();
        self
    }

    /// The least severe event level that becomes an alert. Default `ERROR`.
    pub fn min_level(mut self, level: Level) -> Self {
        self.capture.min_level = level;
        self
    }

    /// Sends through the application's own `reqwest::Client` (a proxy, a
    /// company CA or the system's roots, a local address). The crate still
    /// bounds every request with [`request_timeout`](Self::request_timeout);
    /// the client's own connect timeout applies (`connect_timeout` is for the
    /// client built here). Without it, the client built here uses rustls
    /// with the webpki roots (the system's with the `native-roots` feature)
    /// and the proxies of `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.delivery.http_client = Some(client);
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
        self.pipeline.trace_link = Some(template.into());
        self
    }

    /// `false` builds a layer that does nothing and a guard that returns at
    /// once. Default `true`.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Judged spans that take at least this long (from creation to close)
    /// are slow: the first of a key in a `slow_batch_window` is alerted as a
    /// Warning, and all are counted in the digest. Default 3 s.
    ///
    /// Judged are HTTP request spans (a method field and a path or route
    /// field, as tower-http's `TraceLayer` makes them), spans named with
    /// [`slow_threshold_for`](Self::slow_threshold_for), and spans carrying
    /// `telegram.slow_threshold_ms = N` (their own threshold, in ms); with
    /// [`judge_all_spans`](Self::judge_all_spans), every span. Other spans
    /// are not timed. Of the slow spans of one unit of work (a request and
    /// the handler and query spans inside it) one is alerted; the others
    /// go to the digest, and the alert lists the slowest of them.
    pub fn slow_threshold(mut self, threshold: Duration) -> Self {
        self.capture.slow.threshold = threshold;
        self
    }

    /// Judges spans named `name` (the `#[instrument]`ed function's name, or
    /// the span macro's name) against `threshold`, overriding
    /// `slow_threshold`. A span's own `telegram.slow_threshold_ms` wins.
    pub fn slow_threshold_for(mut self, name: impl Into<String>, threshold: Duration) -> Self {
        self.capture
            .slow
            .by_name
            .insert(name.into(), Some(threshold));
        self
    }

    /// Spans at or above this level are captured: their fields explain the
    /// alerts raised inside them, and they may be judged slow. Below it, a
    /// span is captured only if it looks like an HTTP request (tower-http
    /// makes those at DEBUG), carries a `telegram.*` field, or is of a
    /// skipped target. Default `INFO`. See [`TelegramLayer::filtered`](crate::TelegramLayer::filtered)
    /// for skipping the rest at the callsite.
    pub fn span_level(mut self, level: Level) -> Self {
        self.capture.span_level = level;
        self
    }

    /// `true` judges every span (except those named with
    /// [`never_slow`](Self::never_slow)), not only HTTP requests and the
    /// spans given a threshold: long-lived spans (a server loop, a consumer,
    /// a connection) then alert when they close. Default `false`.
    pub fn judge_all_spans(mut self, all: bool) -> Self {
        self.capture.slow.judge_all = all;
        self
    }

    /// Never reports spans named `name` as slow (long-polling loops,
    /// connection tasks).
    pub fn never_slow(mut self, name: impl Into<String>) -> Self {
        self.capture.slow.by_name.insert(name.into(), None);
        self
    }

    /// Judges the time spans spend entered (doing work) instead of the time
    /// from creation to close; for spans that mostly wait. Busy time is only
    /// measured (and shown) when this is on, since it costs two clock reads
    /// per enter/exit. Default `false`.
    pub fn judge_busy_time(mut self, busy: bool) -> Self {
        self.capture.slow.judge_busy = busy;
        self
    }

    /// `false` turns span timing off entirely (no slow-span alerts). Default
    /// `true`.
    pub fn slow_spans(mut self, on: bool) -> Self {
        self.capture.slow.on = on;
        self
    }

    /// After one immediate slow alert per span key, further slow spans of
    /// that key only go to the digest for this long. Default 15 min.
    pub fn slow_batch_window(mut self, window: Duration) -> Self {
        self.pipeline.digest.slow_batch = window;
        self
    }

    /// Events at this level or above, but below `min_level`, are counted in
    /// the digest instead of alerted; `None` ignores them. Default `WARN`.
    pub fn digest_level(mut self, level: Option<Level>) -> Self {
        self.capture.digest_level = level;
        self
    }

    /// How many slow-span keys and warning kinds a digest lists (the rest
    /// are counted). Default 20.
    pub fn digest_top(mut self, rows: usize) -> Self {
        self.pipeline.digest.top = rows;
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
    /// From the moment an alert's first record is queued, its repeats inside
    /// the window are counted on the calling thread with one atomic
    /// operation (about 0.1 µs)
    /// instead of being captured and queued (about 1 µs), so a flood of one
    /// failure neither costs the application much nor fills the queue. The
    /// worker settles those counts at least every 500 ms, so `Stats` and the
    /// tallies may lag by that much (`flush` settles them at once).
    pub fn rate_limit(mut self, window: Duration) -> Self {
        self.pipeline.dedup.window = window;
        self
    }

    /// The most fingerprints the dedup store holds; when full, the oldest
    /// are evicted (counted in `Stats::dedup_evictions`). Default 10 000.
    pub fn dedup_capacity(mut self, capacity: usize) -> Self {
        self.pipeline.dedup.capacity = capacity;
        self
    }

    /// The digest period: every window, one silent digest of slow spans,
    /// warnings and drops is sent if there is anything to say, and a final
    /// one at shutdown. Default 15 min.
    pub fn batch_window(mut self, window: Duration) -> Self {
        self.pipeline.digest.window = window;
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
        let prefixes: Vec<String> = prefixes.into_iter().map(Into::into).collect();
        self.capture.skip.set_ignored_paths(&prefixes);
        self
    }

    /// Targets (module paths, matched by whole `::` segments) whose events
    /// and spans are never reported, with everything inside those spans.
    pub fn skip_targets<I, T>(mut self, targets: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.capture.skip.skip_targets = targets.into_iter().map(Into::into).collect();
        self
    }

    /// How many span-trace (and, later, backtrace) lines an alert keeps;
    /// 0 shows none. Default 15.
    pub fn max_traceback_lines(mut self, lines: usize) -> Self {
        self.pipeline.limits.max_traceback_lines = lines;
        self
    }

    /// Captures a backtrace for every event that will be alerted (not for
    /// digest-only events), resolved and filtered in the worker and limited
    /// by `max_traceback_lines`. Capturing walks the stack on the
    /// application's thread (microseconds), so it is off by default.
    pub fn capture_backtrace(mut self, on: bool) -> Self {
        self.capture.capture_backtrace = on;
        self
    }

    /// Installs a panic hook that sends every panic as a Critical alert (with
    /// message, location, thread name and backtrace) and waits up to
    /// `panic_flush_timeout` for it to be delivered, so that a panic that
    /// aborts the process still gets its alert out. The previous hook still
    /// runs. Default `true`.
    ///
    /// Off, the hook is still installed if a `before_send`, `on_sent` or
    /// `on_delivery_failure` hook is set, only to keep those hooks' panics
    /// (reported once per window by the crate) from being printed once per
    /// record; every other panic goes to the previous hook untouched.
    pub fn capture_panics(mut self, on: bool) -> Self {
        self.panics.report = on;
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
        self.delivery.on_sent = Some(OnSent(Arc::new(hook)));
        self
    }

    /// Called in the worker for every message Telegram did not accept in the
    /// end (after retries), with the reason and delivery's [`Health`] — for
    /// example to page through another channel when it turns
    /// [`Health::Dark`]. A panic in the hook is caught and reported once.
    ///
    /// [`Health`]: crate::Health
    /// [`Health::Dark`]: crate::Health::Dark
    pub fn on_delivery_failure<F>(mut self, hook: F) -> Self
    where
        F: Fn(&DeliveryFailure) + Send + Sync + 'static,
    {
        self.delivery.on_failure = Some(OnFailure(Arc::new(hook)));
        self
    }

    /// A chat told (with a notifying message) when alerts stop reaching
    /// the main chat: the bot was removed from it, or it was deleted. (A
    /// revoked token reaches no chat: then only stderr, `health()` and
    /// `on_delivery_failure` say it.)
    pub fn fallback_chat(mut self, chat_id: impl Into<ChatId>) -> Self {
        self.fallback_chat = Some(chat_id.into());
        self
    }

    /// Sends a silent "service v1.2 started on host H (env)" notice when the
    /// layer starts. Default `false`.
    pub fn startup_notice(mut self, on: bool) -> Self {
        self.worker.startup_notice = on;
        self
    }

    /// Sends a silent notice with the final counters at shutdown. Default `false`.
    pub fn shutdown_notice(mut self, on: bool) -> Self {
        self.worker.shutdown_notice = on;
        self
    }

    /// The version shown in notices (e.g. `env!("CARGO_PKG_VERSION")`).
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.pipeline.identity.version = Some(version.into());
        self
    }

    /// How long the panic hook waits for the alert to be delivered. Default 2 s.
    pub fn panic_flush_timeout(mut self, timeout: Duration) -> Self {
        self.panics.flush_timeout = timeout;
        self
    }

    /// The longest field value shown, in characters; longer values end with
    /// `…`. Default 500.
    pub fn max_field_len(mut self, chars: usize) -> Self {
        self.pipeline.limits.max_field_len = chars;
        self
    }

    /// The most fields shown per alert; the rest are counted. Default 30.
    pub fn max_fields(mut self, fields: usize) -> Self {
        self.pipeline.limits.max_fields = fields;
        self
    }

    /// Also redacts every match of `pattern` (replaced by `***`), in every
    /// text that is sent.
    pub fn redact(mut self, pattern: Regex) -> Self {
        self.pipeline.sanitizer = self.pipeline.sanitizer.redact(pattern);
        self
    }

    /// Also replaces every match of `pattern` with `replacement` (`$1` and
    /// `${name}` refer to capture groups).
    pub fn redact_with(mut self, pattern: Regex, replacement: impl Into<String>) -> Self {
        self.pipeline.sanitizer = self.pipeline.sanitizer.redact_with(pattern, replacement);
        self
    }

    /// Redacts e-mail addresses (`j***@example.com`). Off by default.
    pub fn redact_emails(mut self, on: bool) -> Self {
        self.pipeline.sanitizer = self.pipeline.sanitizer.redact_emails(on);
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
            self.pipeline.sanitizer = self.pipeline.sanitizer.sensitive_field(name.as_ref());
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
        self.pipeline.before_send = Some(BeforeSend(Arc::new(hook)));
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

    /// How long dropping the [`TelegramGuard`](crate::TelegramGuard) (without calling
    /// [`shutdown`](crate::TelegramGuard::shutdown)) waits for pending alerts.
    /// Default 2 s.
    pub fn drop_timeout(mut self, timeout: Duration) -> Self {
        self.drop_timeout = timeout;
        self
    }

    /// TCP connect timeout towards the Bot API. Default 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.delivery.connect_timeout = timeout;
        self
    }

    /// Whole-request timeout towards the Bot API. Default 15 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.delivery.request_timeout = timeout;
        self
    }

    /// How fast messages may be sent. Default: [`Pacing::telegram`] (per chat
    /// 1/s with a burst of 3, 20/min to a group, 30/s overall), under which
    /// Telegram should never answer 429.
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.delivery.pacing = pacing;
        self
    }

    /// How transient failures (network, timeouts, 5xx) are retried.
    /// Default: [`RetryPolicy::default`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.delivery.retry = policy;
        self
    }

    /// The longest `retry_after` (from a 429) a message waits for; a message
    /// told to wait longer is counted as failed (its chat stays blocked for
    /// the time Telegram asked). Default 5 min.
    pub fn max_retry_after(mut self, limit: Duration) -> Self {
        self.delivery.max_retry_after = limit;
        self
    }

    /// Sets `protect_content` on every message (no forwarding or saving).
    /// Default `false`.
    pub fn protect_content(mut self, protect: bool) -> Self {
        self.delivery.protect_content = protect;
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
        self.pipeline.limits.max_continuation_messages = messages;
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
