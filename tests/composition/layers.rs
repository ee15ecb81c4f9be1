//! Several `TelegramLayer`s in one registry: two bots for two teams split by
//! target, and a clone behind a filter of its own. Each keeps its own span
//! state (the registry holds one extension per type), so they neither panic
//! nor see each other's skipped spans, and each delivers its own alerts.

use std::time::Duration;

use tracing::{error, info_span};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{TelegramGuard, TelegramLayer};

/// A layer with the default settings, sending to `mock`.
fn layer_for<S>(mock: &MockTelegram) -> (tracing_telegram::FilteredLayer<S>, TelegramGuard)
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(-100)
        .api_url(mock.url())
        .build()
        .unwrap()
}

fn texts(mock: &MockTelegram) -> Vec<String> {
    mock.messages().iter().map(|m| m.plain_text()).collect()
}

#[test]
fn two_layers_with_their_own_filters_and_a_clone_each_deliver_their_own_alerts() {
    let billing_bot = MockTelegram::start().unwrap();
    let search_bot = MockTelegram::start().unwrap();
    let (billing, billing_guard) = layer_for(&billing_bot);
    let (search, search_guard) = layer_for(&search_bot);
    let ledger = billing.inner().clone();
    let subscriber = tracing_subscriber::registry()
        .with(billing.with_filter(filter_fn(|meta| meta.target().starts_with("billing"))))
        .with(ledger.with_filter(filter_fn(|meta| meta.target().starts_with("ledger"))))
        .with(search.with_filter(filter_fn(|meta| !meta.target().starts_with("ledger"))));
    tracing::subscriber::with_default(subscriber, || {
        let request = info_span!(target: "billing", "checkout", order_id = 7);
        let _entered = request.enter();
        error!(target: "billing", "card declined");
        error!(target: "search", "index offline");
        info_span!(target: "ledger", "post_entry", account = 3)
            .in_scope(|| error!(target: "ledger", "account frozen"));
        // Skipped for the search layer only (its state of the span).
        info_span!(target: "search", "login", telegram.skip = true)
            .in_scope(|| error!(target: "search", "bad password"));
    });
    let billing_stats = billing_guard.shutdown(Duration::from_secs(5));
    let search_stats = search_guard.shutdown(Duration::from_secs(5));

    let billing_texts = texts(&billing_bot);
    assert_eq!(
        billing_texts.len(),
        2,
        "{billing_texts:#?} {billing_stats:?}"
    );
    assert!(
        billing_texts[0].contains("card declined"),
        "{billing_texts:#?}"
    );
    assert!(
        billing_texts[0].contains("order_id=7"),
        "its own span state"
    );
    assert!(
        billing_texts[1].contains("account frozen"),
        "{billing_texts:#?}"
    );
    assert!(
        billing_texts[1].contains("account=3"),
        "the clone's span state"
    );

    let search_texts = texts(&search_bot);
    assert_eq!(search_texts.len(), 2, "{search_texts:#?} {search_stats:?}");
    assert!(
        search_texts[0].contains("card declined"),
        "{search_texts:#?}"
    );
    assert!(search_texts[0].contains("order_id=7"), "{search_texts:#?}");
    assert!(
        search_texts[1].contains("index offline"),
        "{search_texts:#?}"
    );
    assert!(search_texts.iter().all(|t| !t.contains("bad password")));
}

/// A clone of the layer `build()` returns goes into a second subscriber
/// (a job runner's own dispatch, say): both send to the one worker, each
/// with its own filter and span state, and an alert from either carries its
/// own span trace. The default settings.
#[test]
fn a_clone_of_the_built_layer_serves_a_second_subscriber() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = layer_for::<tracing_subscriber::Registry>(&mock);
    let second = layer.clone();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        info_span!("api_request", route = "/orders").in_scope(|| error!("order store down"));
    });
    tracing::subscriber::with_default(tracing_subscriber::registry().with(second), || {
        info_span!("nightly_job", batch = 7).in_scope(|| error!("export failed"));
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!((stats.accepted, stats.sent), (2, 2), "{stats:?}");
    let texts = texts(&mock);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("order store down") && t.contains("api_request{route=/orders}")),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("export failed") && t.contains("nightly_job{batch=7}")),
        "{texts:#?}"
    );
}
