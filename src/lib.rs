//! A [`tracing-subscriber`](tracing_subscriber) layer that sends a service's
//! errors and slow spans to a Telegram chat as clean, well-formed alerts and
//! periodic digests.
//!
//! Register [`TelegramLayer`] in `tracing_subscriber::registry()` and keep the
//! returned [`TelegramGuard`] alive. ERROR events (or any level from
//! [`Builder::min_level`]) become alerts with the message, the location, the
//! event's fields and the span trace, rendered as Telegram HTML with every
//! piece of dynamic text escaped and the message kept within Telegram's 4096
//! UTF-16 unit limit.
//!
//! The application never waits on Telegram: the layer captures an owned
//! record and hands it to a bounded queue with `try_send`; a dedicated worker
//! thread (with its own current-thread tokio runtime) renders and delivers
//! it. A full queue drops the record and counts it; nothing in the layer
//! blocks or panics. The crate's own HTTP stack never produces alerts. Once
//! a failure's first record is queued, its repeats inside the dedup window
//! are not even captured: the layer counts each with one atomic operation
//! and the worker adds the counts to the alert's tally (see
//! [`Dedup::window`]).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tracing_subscriber::prelude::*;
//! use tracing_telegram::{Alert, AlertLevel, TelegramLayer};
//! # use tracing_telegram::testing::MockTelegram;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mock = MockTelegram::start()?;
//! # let (token, api_url) = (mock.token().to_owned(), mock.url().to_owned());
//! // In production the token comes from a secret store or the environment
//! // (see `TelegramLayer::from_env`).
//! let (layer, guard) = TelegramLayer::builder()
//!     .bot_token(token)
//!     .chat_id(-1001234567890_i64)
//!     .api_url(api_url) // omit to use https://api.telegram.org
//!     .environment("production")
//!     .service("checkout")
//!     .build()?;
//!
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer())
//!     .with(layer);
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("charge", order_id = 77);
//!     let _entered = span.enter();
//!     tracing::error!(amount_cents = 1250, "payment provider refused the charge");
//! });
//!
//! // Manual alerts take the same path.
//! guard.handle().send(Alert::new(AlertLevel::Warning, "disk 91% full").detail("host", "db-1"));
//!
//! // Before exiting: deliver what is queued, within a bound.
//! let stats = guard.shutdown(Duration::from_secs(5));
//! assert_eq!(stats.sent, 2);
//! assert_eq!(
//!     stats.accepted,
//!     stats.sent + stats.deduplicated + stats.batched + stats.dropped + stats.failed
//! );
//! # assert!(mock.messages()[0].plain_text().contains("order_id=77"));
//! # Ok(())
//! # }
//! ```
//!
//! # Configuration from the environment
//!
//! [`TelegramLayer::from_env`] reads these variables; a malformed value is an
//! [`Error`] naming the variable.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TELEGRAM_BOT_TOKEN` | bot token | required |
//! | `TELEGRAM_CHAT_ID` | chat id or `@channel` | required |
//! | `TELEGRAM_THREAD_ID` | forum topic id | none |
//! | `TELEGRAM_API_URL` | Bot API base URL | `https://api.telegram.org` |
//! | `MONITORING_ENABLED` | `false` builds a layer that does nothing | `true` |
//! | `MONITORING_ENV` | environment tag shown in every alert | `development` |
//! | `MONITORING_SERVICE` | service name shown in every alert | executable name |
//! | `MONITORING_IGNORED_PATHS` | comma-separated path prefixes whose HTTP spans are skipped | `/health,/metrics` |
//! | `ALERT_MAX_TRACEBACK_LINES` | span-trace lines and backtrace frames kept; 0 = none | `15` |
//! | `ALERT_CAPTURE_BACKTRACE` | capture a backtrace for every alerted event | `false` |
//! | `ALERT_RATE_LIMIT_MINUTES` | dedup window for identical alerts; 0 = off | `10` |
//! | `ALERT_FIELD_DISTRIBUTION` | a tally shows what varies across the repeats (`shard: 3 ×40 · 7 ×2`) | `true` |
//! | `ALERT_FOLD_AFTER_VARIANTS` | different messages one callsite alerts on its own per fold window before the rest fold into one alert; 0 = off | `3` |
//! | `ALERT_FOLD_WINDOW_SECONDS` | the fold window | `60` |
//! | `ALERT_INCIDENT_AFTER_KINDS` | new problems that alert on their own per incident window before the next opens one incident message; 0 = off | `2` |
//! | `ALERT_INCIDENT_WINDOW_SECONDS` | the incident window | `30` |
//! | `BATCH_WINDOW_MINUTES` | digest period | `15` |
//! | `SLOW_REQUEST_THRESHOLD_SECONDS` | slow-span threshold | `3` |
//! | `SLOW_REQUESTS_BATCH_MINUTES` | after one slow alert per key, the rest go to the digest for this long | `15` |
//! | `TELEGRAM_REDIS_URL`, else `REDIS_URL` | shared dedup, tallies and digests for a fleet (`redis://`, `rediss://`); without the `redis` feature, `REDIS_URL` is ignored with a note | none: in memory |
//! | `REDIS_KEY_PREFIX` | prefix of every Redis key | `tracing-telegram` |
//!
//! # Skipping sensitive code
//!
//! A span with the field `telegram.skip = true` hides itself and everything
//! inside it: no event inside it is reported.
//!
//! ```
//! tracing::info_span!("login", telegram.skip = true).in_scope(|| {
//!     tracing::error!("this error is not sent to Telegram");
//! });
//! ```
//!
//! # What reaches the chat
//!
//! - ERROR events (or any level from [`Builder::min_level`]) become alerts;
//!   repeats within [`Dedup::window`] are counted, and the original
//!   alert is edited to show the tally.
//! - Judged spans slower than [`SlowSpans::threshold`] alert once per key
//!   and window, one alert per unit of work; every slow span and every WARN
//!   event is counted in a silent digest each [`Digest::interval`].
//!   Judged are HTTP request spans, spans named with
//!   [`SlowSpans::threshold_for`], and spans carrying
//!   `telegram.slow_threshold_ms = N`; [`SlowSpans::judge_all`] judges
//!   every span.
//! - Panics become Critical alerts ([`Panics::report`]).
//! - Everything is sanitized first ([`Sanitizer`]), paced under Telegram's
//!   limits ([`Pacing`]), retried on transient failures ([`RetryPolicy`]),
//!   and accounted for in [`Stats`].
//!
//! # Filters
//!
//! The layer sees what the subscriber's filters let through. A global
//! `EnvFilter::new("info")` removes tower-http's DEBUG request spans: 5xx
//! alerts lose their method and route and slow requests go unseen. Filter
//! the log output only, or keep `tower_http=debug`:
//!
//! ```
//! use tracing_subscriber::{fmt, prelude::*, EnvFilter};
//! # let (telegram, _guard) = tracing_telegram::TelegramLayer::builder().enabled(false).build().unwrap();
//! let subscriber = tracing_subscriber::registry()
//!     // The log output at INFO; the Telegram layer comes with its own
//!     // per-layer filter and sees what it wants (`trace!`/`debug_span!`
//!     // nobody wants then costs nothing).
//!     .with(fmt::layer().with_filter(EnvFilter::new("info")))
//!     .with(telegram);
//! # drop(subscriber);
//! // Or, with one global filter:
//! // .with(EnvFilter::new("info,tower_http=debug"))
//! ```
//!
//! # When alerts cannot be delivered
//!
//! Failures are counted in [`Stats`] and said on stderr (sanitized, the
//! same line at most once a minute). A revoked token or a bot removed from
//! the main chat stops delivery for good: [`TelegramGuard::health`] then
//! returns [`Health::Dark`], stderr says so every 5 minutes,
//! [`Hooks::on_delivery_failure`] is told, [`Delivery::fallback_chat`] gets
//! a notifying message, and [`TelegramGuard::check`] reports it. A user hook
//! (`before_send`, `on_sent`, `on_delivery_failure`) that panics is reported
//! once per digest window; a `before_send` that panics drops the record it
//! was given rather than sending what it was meant to clean.
//!
//! # Fleets
//!
//! With [`Fleet::redis_url`] (feature `redis`), the processes of a service
//! share dedup, tallies and digests through Redis: one alert per problem for
//! the whole fleet, a tally of the fleet's total, one digest per window.
//! Redis trouble never stops alerts: each decision then falls back to the
//! process's memory.
//!
//! # Testing your setup
//!
//! [`testing::MockTelegram`] (feature `testing`) is a real local Bot API
//! server: point [`Builder::api_url`] at it and assert on
//! [`MockTelegram::messages`](testing::MockTelegram::messages) — for
//! example that no secret of yours reaches the chat. [`TelegramGuard::check`]
//! verifies a real deployment's token, chats and topics.
//!
//! # Architecture
//!
//! Data flows one way, and each folder of `src/` is one stage of it:
//!
//! ```text
//! app threads: capture/ ──Record──► channel/ ──► worker/ thread ──► pipeline/ ──► render/
//!                └─ repeats: one count at the gate (gate/)      ─┘     │            │
//!                                                     fleet/ (Redis) ◄───┘   delivery/ ──► Bot API
//! ```
//!
//! - `capture/`: the [`TelegramLayer`] and the panic hook, on the
//!   application's threads: filter cheaply, capture an owned record, hand it
//!   over with `try_send`, or count a repeat with one atomic operation.
//! - `channel/`: the bounded queue (with a reserve for callsites that are
//!   not flooding) and the control requests (flush, shutdown, check)
//!   between the application and the worker.
//! - `gate/`: the repeat gate beside it: the probe that reads an event's
//!   kind, the table of slots both sides share, the settling of the
//!   counts on the worker, and the fold of a callsite's many variants into
//!   one kind (a storm of user-input messages never reaches the queue).
//! - `worker/`: one thread with its own runtime (silent towards the
//!   application's subscriber): the loop (its events, and a table of timed
//!   tasks in `schedule`), ticks, and the flush and shutdown protocol.
//! - `pipeline/`: one function per stage: fingerprint, `before_send`, dedup,
//!   enrich, sanitize, digest, and the incident stage (many new problems at
//!   once named in one message); each returns what it produced.
//! - `render/`: every text the chat sees, as valid HTML within Telegram's limits.
//! - `delivery/`: the outbox, pacing, retries, routes and the Bot API client.
//! - `fleet/`: what a fleet shares through Redis (the only code that knows
//!   the `redis` feature).
//! - `interact/`: interactive alerts coming back from the chat (button
//!   presses: their signed data, who may press, the updates they arrive
//!   in); the worker polls for them and the pipeline honours the mutes.
//! - `builder/`: options, environment, validation (once, before any thread
//!   starts) and the wiring; nothing imports it.
//! - Leaf types (`error`, `alert`, `stats`, `health`, `clock`, `chat`, `check`,
//!   `text`, `record`, `hooks`) depend on nothing above them; `hooks` holds
//!   the user's hooks and the one panic-safe way they are called; `report` is the one voice on
//!   stderr, sanitized and rate-limited.
//!
//! # Cargo features
//!
//! - `redis` (default): the shared store for fleets ([`Fleet::redis_url`]).
//! - `interactive` (default): buttons under alerts ([`Interactive`]) and
//!   `ring` to sign their data; without it, asking for buttons is an
//!   [`Error`] naming the feature.
//! - `testing`: [`testing::MockTelegram`], a fake Bot API server for tests.
//! - `metrics`: [`Stats`] and [`Health`] published through the `metrics`
//!   facade (`tracing_telegram_alerts_sent_total`, `tracing_telegram_health`, …).
//! - `native-roots`: the system's root certificates for TLS as well.
//! - `opentelemetry`: alerts carry the trace id `tracing-opentelemetry` 0.34
//!   gave the failing span (linked with [`Builder::trace_link`]).

#![cfg_attr(docsrs, feature(doc_cfg))]

// Leaf types: they depend on nothing above them.
mod alert;
mod chat;
mod check;
mod clock;
mod error;
mod health;
mod hooks;
mod quiet;
mod stats;
mod text;

// The data and its plumbing.
mod channel;
mod export;
mod gate;
mod record;
mod report;
mod sanitize;

// The stages, in the order data flows through them.
mod capture;
mod delivery;
mod fleet;
mod interact;
mod pipeline;
mod render;
mod worker;

// The handles the application keeps, and the wiring on top.
mod builder;
mod guard;

#[cfg(feature = "testing")]
pub mod testing;

pub use alert::{Alert, AlertLevel};
pub use builder::{
    Builder, Capture, Dedup, Delivery, Digest, Fleet, Hooks, Interactive, Limits, Notices, Panics,
    Routing, SettingValue, Settings, SlowSpans, Storms,
};
pub use capture::{FilteredLayer, TelegramFilter, TelegramLayer};
pub use channel::DEFAULT_QUEUE_CAPACITY;
pub use chat::{ChatId, Destination};
pub use check::{CheckProblem, CheckReport};
pub use delivery::pacing::{Limit, Pacing};
pub use delivery::retry::RetryPolicy;
pub use delivery::DEFAULT_API_URL;
pub use error::Error;
pub use guard::{AlertHandle, TelegramGuard, DEFAULT_DROP_TIMEOUT};
pub use health::Health;
pub use hooks::{DeliveryFailure, SentAlert};
pub use quiet::QuietHours;
pub use sanitize::{Sanitizer, REDACTED};
pub use stats::Stats;
