//! A real axum app with tower-http's `TraceLayer` (default settings), served
//! on loopback: 5xx responses and slow requests alert with no extra code,
//! and a slow request whose handler and query are slow too is one alert.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use tower_http::trace::TraceLayer;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

async fn fail() -> (StatusCode, &'static str) {
    (StatusCode::INTERNAL_SERVER_ERROR, "boom")
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(120)).await;
    "finally"
}

async fn fast() -> &'static str {
    "ok"
}

#[tracing::instrument]
async fn report() -> &'static str {
    load_rows("orders").await;
    "report"
}

#[tracing::instrument]
async fn load_rows(table: &str) {
    tokio::time::sleep(Duration::from_millis(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_http_failures_and_slow_requests_alert() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::builder(&mock)
        .slow_spans(|s| s.threshold(Duration::from_millis(50)))
        .slow_spans(|s| s.threshold_for("report", Duration::from_millis(50)))
        .slow_spans(|s| s.threshold_for("load_rows", Duration::from_millis(50)))
        .build()
        .unwrap();
    // axum spawns a task per connection on any runtime thread: install the
    // layer globally, as a service would (this binary has only this test).
    tracing_subscriber::registry().with(layer).init();

    let app = axum::Router::new()
        .route("/orders/{id}/fail", get(fail))
        .route("/slow", get(slow))
        .route("/fast", get(fast))
        .route("/report", get(report))
        .layer(TraceLayer::new_for_http());
    let paths = ["/orders/77/fail", "/slow", "/fast", "/report"];
    let statuses = common::get_each(app, &paths).await;
    assert_eq!(statuses, [500, 200, 200, 200]);
    let stats = tokio::task::spawn_blocking(move || guard.shutdown(Duration::from_secs(5)))
        .await
        .unwrap();

    let texts: Vec<String> = mock
        .messages()
        .iter()
        .filter(|m| !m.disable_notification)
        .map(|m| m.plain_text())
        .collect();
    assert_eq!(texts.len(), 3, "{texts:#?} {stats:?}");
    let failure = texts
        .iter()
        .find(|t| t.contains("response failed"))
        .expect("5xx alert");
    for expected in [
        "🔴 ERROR",
        "🌐 GET /orders/77/fail",
        "classification: Status code: 500 Internal Server Error",
        "latency: ",
        "request{method=GET, uri=/orders/77/fail, version=HTTP/1.1}",
    ] {
        assert!(
            failure.contains(expected),
            "missing {expected:?} in:\n{failure}"
        );
    }
    let slow = texts
        .iter()
        .find(|t| t.contains("Slow: GET /slow"))
        .expect("slow alert");
    assert!(slow.contains("threshold 50 ms"), "{slow}");
    assert!(!texts.iter().any(|t| t.contains("/fast")), "{texts:#?}");
    // The request, its handler and its query were all slow: one alert,
    // listing the other two (which went to the digest).
    let report = texts
        .iter()
        .find(|t| t.contains("Slow: GET /report"))
        .expect("slow request alert");
    assert!(report.contains("slowest inside: report "), "{report}");
    assert!(report.contains(", load_rows "), "{report}");
    assert!(
        !texts.iter().any(|t| t.contains("Slow: http::")),
        "{texts:#?}"
    );
    assert_eq!(stats.batched, 2, "{stats:?}");
}
