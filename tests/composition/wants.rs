//! The layer declares what it wants: behind its own per-layer filter (the
//! layer `build()` returns; `inner()` is the layer without it) it sees events from the digest level up,
//! spans from `span_level` up, and HTTP request spans, spans with
//! `telegram.*` fields and spans of skipped targets at any level — while
//! every other layer sees exactly what it saw before. The default settings.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug_span, error, info_span, trace, trace_span, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

/// A layer with no filter that counts everything it is shown.
#[derive(Clone, Default)]
struct Counting {
    events: Arc<AtomicUsize>,
    spans: Arc<AtomicUsize>,
}

impl<S: Subscriber> Layer<S> for Counting {
    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        self.spans.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a service's hot path and a failing request look like.
fn work() {
    for i in 0..5 {
        trace!(i, "polling the socket");
        debug_span!("h2_stream", id = i).in_scope(|| trace!("frame"));
    }
    debug_span!("request", method = "GET", uri = "/orders/7").in_scope(|| {
        debug_span!("pool_checkout").in_scope(|| error!("order lookup failed"));
    });
    trace_span!("vault_read", telegram.skip = true).in_scope(|| error!("secret read failed"));
}

/// `fmt` to nowhere, behind its own per-layer `INFO` filter (as services
/// compose it beside the layer).
fn fmt_at_info<S>() -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_filter(LevelFilter::INFO)
}

fn run(filtered: bool) -> (Vec<String>, usize, usize) {
    let mock = MockTelegram::start().unwrap();
    let builder = common::default_builder(&mock);
    let counting = Counting::default();
    let fmt = fmt_at_info();
    let registry = tracing_subscriber::registry()
        .with(fmt)
        .with(counting.clone());
    let guard = if filtered {
        let (telegram, guard) = builder.build().unwrap();
        tracing::subscriber::with_default(registry.with(telegram), work);
        guard
    } else {
        let (telegram, guard) = builder.build::<tracing_subscriber::Registry>().unwrap();
        let unfiltered = telegram.inner().clone();
        tracing::subscriber::with_default(registry.with(unfiltered), work);
        guard
    };
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
    let texts = common::notifying(&mock.messages())
        .iter()
        .map(|m| m.plain_text())
        .collect();
    let events = counting.events.load(Ordering::Relaxed);
    let spans = counting.spans.load(Ordering::Relaxed);
    (texts, events, spans)
}

#[test]
fn the_layer_sees_what_it_wants_and_others_see_everything() {
    for filtered in [true, false] {
        let (texts, events, spans) = run(filtered);
        // The layer beside it still sees every TRACE event and DEBUG span.
        assert_eq!((events, spans), (12, 8), "filtered: {filtered}");
        // One alert: the request's, with the request span (DEBUG, HTTP)
        // and without the library's DEBUG span; the skipped span at TRACE
        // hides its error.
        assert_eq!(texts.len(), 1, "{texts:#?}");
        let text = &texts[0];
        assert!(text.contains("order lookup failed"), "{text}");
        assert!(
            text.contains("request{method=GET, uri=/orders/7}"),
            "{text}"
        );
        assert!(!text.contains("pool_checkout"), "{text}");
        assert!(!text.contains("secret read failed"), "{text}");
    }
}

/// The layer hears every span's enter, exit and close straight from the
/// registry (not through its filter): spans it did not want — created
/// because another layer wanted them, their ids reused by the registry —
/// must neither show in an alert nor disturb the spans it keeps.
#[test]
fn spans_the_layer_did_not_want_stay_out_of_its_alerts() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = common::default_builder_on_virtual_clock(&mock);
    let (telegram, guard) = builder.build().unwrap();
    let counting = Counting::default();
    let registry = tracing_subscriber::registry()
        .with(counting.clone())
        .with(telegram);
    tracing::subscriber::with_default(registry, || {
        // The registry reuses the ids of closed spans, wanted or not.
        for round in 0..200 {
            debug_span!("h2_stream", id = round).in_scope(|| trace!("frame"));
            info_span!("poll", round).in_scope(|| {});
        }
        let _job = info_span!("nightly_job", batch = 7).entered();
        let _checkout = debug_span!("pool_checkout", pool = "main").entered();
        info_span!(
            "export_invoices",
            rows = 1200,
            telegram.slow_threshold_ms = 50
        )
        .in_scope(|| {
            clock.advance(Duration::from_millis(120));
            error!(attempt = 3, "export failed");
        });
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
    assert_eq!(counting.spans.load(Ordering::Relaxed), 403);
    let texts: Vec<String> = common::notifying(&mock.messages())
        .iter()
        .map(|m| m.plain_text())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    let failed = texts.iter().find(|t| t.contains("export failed"));
    let slow = texts.iter().find(|t| t.contains("Slow: "));
    let (Some(failed), Some(slow)) = (failed, slow) else {
        panic!("one error and one slow span expected: {texts:#?}");
    };
    for text in [failed, slow] {
        assert!(text.contains("nightly_job{batch=7}"), "{text}");
        for unwanted in ["pool_checkout", "h2_stream", "poll{"] {
            assert!(!text.contains(unwanted), "{unwanted} in:\n{text}");
        }
    }
    assert!(failed.contains("export_invoices{rows=1200"), "{failed}");
    assert!(slow.contains("took 120 ms"), "{slow}");
}

/// The ways services wrap a layer: boxed in a `Vec` of layers (a layer per
/// configured sink), optional (`Option`, switched by configuration), and
/// reloadable (`reload::Layer`). Each still declares its per-layer filter
/// to the registry — other layers keep seeing every `TRACE` event and
/// `DEBUG` span — and still alerts with its span trace.
#[test]
fn the_layer_boxed_optional_or_reloadable_keeps_its_filter() {
    use tracing_subscriber::{reload, Registry};

    type Boxed = Box<dyn Layer<Registry> + Send + Sync>;
    for wrapping in ["vec of boxes", "option", "reload"] {
        let mock = MockTelegram::start().unwrap();
        let builder = common::default_builder(&mock);
        let counting = Counting::default();
        let fmt = fmt_at_info();
        let body = || {
            work();
            info_span!("nightly_job", batch = 7).in_scope(|| error!("export failed"));
        };
        let guard = match wrapping {
            "vec of boxes" => {
                let (telegram, guard) = builder.build::<Registry>().unwrap();
                let layers: Vec<Boxed> =
                    vec![fmt.boxed(), counting.clone().boxed(), telegram.boxed()];
                let registry = tracing_subscriber::registry().with(layers);
                tracing::subscriber::with_default(registry, body);
                guard
            }
            "option" => {
                let (telegram, guard) = builder.build().unwrap();
                let registry = tracing_subscriber::registry()
                    .with(fmt)
                    .with(counting.clone())
                    .with(Some(telegram));
                tracing::subscriber::with_default(registry, body);
                guard
            }
            _ => {
                let (telegram, guard) = builder.build().unwrap();
                let (telegram, _handle) = reload::Layer::new(telegram);
                let registry = tracing_subscriber::registry()
                    .with(fmt)
                    .with(counting.clone())
                    .with(telegram);
                tracing::subscriber::with_default(registry, body);
                guard
            }
        };
        let stats = guard.shutdown(Duration::from_secs(5));
        common::assert_accounted(&stats);
        let spans = counting.spans.load(Ordering::Relaxed);
        assert_eq!(spans, 9, "{wrapping}: the other layer sees every span");
        let texts: Vec<String> = common::notifying(&mock.messages())
            .iter()
            .map(|m| m.plain_text())
            .collect();
        assert_eq!(texts.len(), 2, "{wrapping}: {texts:#?}");
        assert!(
            texts
                .iter()
                .any(|t| t.contains("request{method=GET, uri=/orders/7}")),
            "{wrapping}: {texts:#?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.contains("export failed") && t.contains("nightly_job{batch=7}")),
            "{wrapping}: {texts:#?}"
        );
        assert!(
            texts.iter().all(|t| !t.contains("pool_checkout")),
            "{wrapping}: {texts:#?}"
        );
    }
}

/// What `build()` returns tells the registry it carries a per-layer filter:
/// a `trace!` no layer wants is then disabled at its callsite, once, and
/// no filter is asked about it again. (Were the layer taken for one
/// without a per-layer filter, every call would ask every filter.)
#[test]
fn a_callsite_no_layer_wants_is_asked_about_once() {
    let mock = MockTelegram::start().unwrap();
    let (telegram, guard) = common::default_builder(&mock).build().unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_filter(tracing_subscriber::filter::filter_fn(move |metadata| {
            if metadata.target() == "hot_loop" {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            *metadata.level() <= tracing::Level::INFO
        }));
    let registry = tracing_subscriber::registry().with(fmt).with(telegram);
    tracing::subscriber::with_default(registry, || {
        for i in 0..100 {
            trace!(target: "hot_loop", i, "polling");
        }
    });
    guard.shutdown(Duration::from_secs(5));
    assert_eq!(
        asked.load(Ordering::Relaxed),
        1,
        "asked once, at registration"
    );
}
