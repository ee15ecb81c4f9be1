//! Shared set-ups for the benchmarks and the flood program: the subscriber
//! stacks being compared, each behind the same `tracing` calls; and the
//! end-to-end web service ([`e2e`]).

pub mod e2e;

use std::sync::Arc;
use std::time::Duration;

use tracing::Subscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::Layer;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{FilteredLayer, Pacing, TelegramGuard, TelegramLayer};

/// The baseline: a layer that accepts everything and does nothing.
pub struct Noop;

impl<S: Subscriber> Layer<S> for Noop {}

/// `registry()` with the no-op layer.
pub fn baseline() -> tracing::Dispatch {
    tracing::Dispatch::new(tracing_subscriber::registry().with(Noop))
}

/// `registry()` with tracing-telegram pointed at `mock`, pacing off, a
/// queue of `capacity`, default deduplication.
pub fn telegram(mock: &MockTelegram, capacity: usize) -> (tracing::Dispatch, TelegramGuard) {
    telegram_with(mock, capacity, Duration::from_secs(600))
}

/// As [`telegram`], deduplicating over `rate_limit` (zero: every event is
/// captured and queued, as a first occurrence is).
pub fn telegram_with(
    mock: &MockTelegram,
    capacity: usize,
    rate_limit: Duration,
) -> (tracing::Dispatch, TelegramGuard) {
    let (layer, guard) = telegram_layer(mock, capacity, rate_limit);
    (
        tracing::Dispatch::new(tracing_subscriber::registry().with(layer)),
        guard,
    )
}

/// As [`telegram`], but the bare layer without the per-layer filter
/// `build()` puts around it: what every span operation costs the layer
/// itself, without the registry lookups a per-layer filter makes.
pub fn telegram_unfiltered(
    mock: &MockTelegram,
    capacity: usize,
) -> (tracing::Dispatch, TelegramGuard) {
    let (layer, guard) =
        telegram_layer::<tracing_subscriber::Registry>(mock, capacity, Duration::from_secs(600));
    let bare: TelegramLayer = layer.inner().clone();
    (
        tracing::Dispatch::new(tracing_subscriber::registry().with(bare)),
        guard,
    )
}

/// An application's usual set-up: `fmt` behind a per-layer `INFO` filter
/// (writing nowhere), and beside it tracing-telegram as `build()` returns it
/// (`Telegram`: the README's composition), the bare layer without its
/// per-layer filter (`Unfiltered`), or nothing (`None`).
pub fn fmt_info(
    mock: &MockTelegram,
    capacity: usize,
    telegram: Beside,
) -> (tracing::Dispatch, Option<TelegramGuard>) {
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_filter(LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(fmt);
    match telegram {
        Beside::None => (tracing::Dispatch::new(registry), None),
        Beside::Telegram => {
            let (layer, guard) = telegram_layer(mock, capacity, Duration::from_secs(600));
            (tracing::Dispatch::new(registry.with(layer)), Some(guard))
        }
        Beside::Unfiltered => {
            let (layer, guard) = telegram_layer::<tracing_subscriber::Registry>(
                mock,
                capacity,
                Duration::from_secs(600),
            );
            let bare: TelegramLayer = layer.inner().clone();
            (tracing::Dispatch::new(registry.with(bare)), Some(guard))
        }
    }
}

/// How tracing-telegram sits beside `fmt` in [`fmt_info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beside {
    None,
    Telegram,
    Unfiltered,
}

fn telegram_layer<S>(
    mock: &MockTelegram,
    capacity: usize,
    rate_limit: Duration,
) -> (FilteredLayer<S>, TelegramGuard)
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    TelegramLayer::builder()
        .dedup(|d| d.window(rate_limit))
        .bot_token(mock.token())
        .chat_id(-1001234567890_i64)
        .api_url(mock.url())
        .delivery(|d| d.pacing(Pacing::disabled()))
        .limits(|l| l.queue_capacity(capacity))
        .panics(|p| p.report(false))
        .build()
        .expect("valid configuration")
}

/// A Sentry transport that discards every envelope.
struct Discard;

impl sentry::Transport for Discard {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        std::hint::black_box(envelope);
    }
}

/// `registry()` with sentry-tracing, its client sending to a transport that
/// discards (the work on the calling thread is what is measured).
pub fn sentry() -> (tracing::Dispatch, sentry::ClientInitGuard) {
    let mut options = sentry::ClientOptions::default();
    options.dsn = "https://public@sentry.invalid/1".parse().ok();
    options.transport = Some(Arc::new(|_: &sentry::ClientOptions| {
        Arc::new(Discard) as Arc<dyn sentry::Transport>
    }));
    let guard = sentry::init(options);
    // The layers its documentation recommends for spans and error events.
    let subscriber = tracing_subscriber::registry()
        .with(sentry_tracing::SpanLayer::new().with_filter(LevelFilter::INFO))
        .with(sentry_tracing::ErrorLayer::new().with_filter(LevelFilter::ERROR));
    (tracing::Dispatch::new(subscriber), guard)
}

/// `registry()` with fmt's JSON layer writing through tracing-appender's
/// `non_blocking` to a sink: "just log it".
pub fn non_blocking_json() -> (
    tracing::Dispatch,
    tracing_appender::non_blocking::WorkerGuard,
) {
    let (writer, guard) = tracing_appender::non_blocking(std::io::sink());
    let layer = tracing_subscriber::fmt::layer().json().with_writer(writer);
    (
        tracing::Dispatch::new(tracing_subscriber::registry().with(layer)),
        guard,
    )
}

/// How long to let a worker catch up between measured batches.
pub const CATCH_UP: Duration = Duration::from_secs(30);

/// A number written as letters (`user-` + base 26), for texts that differ
/// the way user input does: no digit for the normaliser to fold, no
/// allocation to format.
#[derive(Debug, Clone, Copy)]
pub struct Letters(pub u64);

impl std::fmt::Display for Letters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut n = self.0;
        loop {
            // `n % 26` is below 26: the cast cannot truncate.
            let letter = char::from(b'a' + (n % 26) as u8);
            std::fmt::Write::write_char(f, letter)?;
            n /= 26;
            if n == 0 {
                return Ok(());
            }
        }
    }
}

/// One occurrence of the storm: one callsite, a new text each time
/// (`n` picks the user and the column).
#[inline(never)]
pub fn import_rejected(n: u64) {
    const COLUMNS: [&str; 7] = ["ssn", "dob", "email", "iban", "phone", "zip", "city"];
    let column = COLUMNS[(n % 7) as usize];
    tracing::error!(
        "import rejected for user user-{}: column {column} is not writable",
        Letters(n)
    );
}
