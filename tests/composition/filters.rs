//! How filters interact with the layer, in a real axum app with tower-http's
//! `TraceLayer` and the default settings. tower-http makes its request spans
//! at DEBUG: a global `EnvFilter("info")` removes them, so failures lose
//! their request (method and route) and slow requests go unseen. Keeping
//! them — `tower_http=debug` in the global filter, or the filter on the
//! `fmt` layer only — keeps both.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use tower_http::trace::TraceLayer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{fmt, EnvFilter, Layer, Registry};
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{Builder, TelegramGuard};

async fn order_fails() -> (StatusCode, &'static str) {
    (StatusCode::INTERNAL_SERVER_ERROR, "boom")
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(120)).await;
    "finally"
}

/// How the application composes its subscriber around the layer.
type Compose = fn(Builder) -> (tracing::Dispatch, TelegramGuard);

/// Serves a failing and a slow route under the subscriber `compose` builds
/// (installed on a current-thread runtime's thread, where every task runs),
/// and returns the texts of the alerts.
fn alerts_under(compose: Compose) -> Vec<String> {
    let mock = MockTelegram::start().unwrap();
    let (dispatch, guard) = compose(
        common::default_builder(&mock).slow_spans(|s| s.threshold(Duration::from_millis(50))),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let app = axum::Router::new()
            .route("/orders/{id}", get(order_fails))
            .route("/slow", get(slow))
            .layer(TraceLayer::new_for_http());
        let statuses = runtime.block_on(common::get_each(app, &["/orders/7", "/slow"]));
        assert_eq!(statuses, [500, 200]);
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
    common::notifying(&mock.messages())
        .iter()
        .map(|m| m.plain_text())
        .collect()
}

/// An application log that goes nowhere (the test is about the alerts).
fn quiet_fmt<S>(
) -> fmt::Layer<S, fmt::format::DefaultFields, fmt::format::Format, fn() -> std::io::Sink> {
    fmt::layer().with_writer(std::io::sink as fn() -> std::io::Sink)
}

#[test]
fn filters_decide_what_the_layer_sees() {
    // The pitfall: a global `info` filter removes tower-http's DEBUG spans.
    let global_info: Compose = |builder| {
        let (layer, guard) = builder.build().unwrap();
        let dispatch = Registry::default()
            .with(EnvFilter::new("info"))
            .with(quiet_fmt())
            .with(layer)
            .into();
        (dispatch, guard)
    };
    let texts = alerts_under(global_info);
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert!(
        !texts[0].contains("/orders"),
        "the request span was filtered out: {}",
        texts[0]
    );
    assert!(!texts.iter().any(|t| t.contains("Slow:")), "{texts:#?}");

    // The fixes: keep tower-http's spans globally, or filter `fmt` only.
    let keep_tower_http: Compose = |builder| {
        let (layer, guard) = builder.build().unwrap();
        let dispatch = Registry::default()
            .with(EnvFilter::new("info,tower_http=debug"))
            .with(quiet_fmt())
            .with(layer)
            .into();
        (dispatch, guard)
    };
    let per_layer: Compose = |builder| {
        let (layer, guard) = builder.build().unwrap();
        let dispatch = Registry::default()
            .with(quiet_fmt().with_filter(EnvFilter::new("info")))
            .with(layer)
            .into();
        (dispatch, guard)
    };
    for compose in [keep_tower_http, per_layer] {
        let texts = alerts_under(compose);
        assert_eq!(texts.len(), 2, "{texts:#?}");
        assert!(
            texts
                .iter()
                .any(|t| t.contains("GET /orders/{id} → 500 Internal Server Error")),
            "{texts:#?}"
        );
        assert!(
            texts.iter().any(|t| t.contains("Slow: GET /slow")),
            "{texts:#?}"
        );
    }
}
