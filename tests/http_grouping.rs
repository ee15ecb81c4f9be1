//! tower-http's `TraceLayer` in a real axum app, with the default settings
//! (dedup on): failures are grouped by the request they answered (method
//! and route, ids folded) and their status, and titled so. tower-http
//! reports every failure from one callsite: twelve failing routes are still
//! twelve problems, each named with its route and status (the first two as
//! alerts, the rest in one incident message), never folded into one "many
//! variants" alert.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use tower_http::trace::TraceLayer;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{Pacing, TelegramLayer};

async fn order_fails() -> (StatusCode, &'static str) {
    (StatusCode::INTERNAL_SERVER_ERROR, "boom")
}

async fn payment_fails() -> (StatusCode, &'static str) {
    (StatusCode::BAD_GATEWAY, "upstream down")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_told_apart_by_route_and_status() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(-100)
        .api_url(mock.url())
        .delivery(|d| d.pacing(Pacing::disabled()))
        .build()
        .unwrap();
    // axum spawns a task per connection on any runtime thread: the layer
    // is global, as in a service (this binary has only this test).
    tracing_subscriber::registry().with(layer).init();
    let mut app = axum::Router::new()
        .route("/orders/{id}", get(order_fails))
        .route("/carts/{id}", get(order_fails))
        .route("/payments/{id}", get(payment_fails));
    // Nine more failing routes: twelve kinds from tower-http's one callsite.
    let more: Vec<String> = (0..9).map(|n| format!("/service-{n}/items/7")).collect();
    for n in 0..9 {
        app = app.route(&format!("/service-{n}/items/{{id}}"), get(order_fails));
    }
    let app = app.layer(TraceLayer::new_for_http());
    let mut paths = vec![
        "/orders/1",
        "/orders/2",
        "/payments/9",
        "/carts/5",
        "/orders/3",
    ];
    paths.extend(more.iter().map(String::as_str));
    let statuses = common::get_each(app, &paths).await;
    assert_eq!(statuses[..5], [500, 500, 502, 500, 500]);
    assert!(statuses[5..].iter().all(|status| *status == 500));
    let stats = tokio::task::spawn_blocking(move || guard.shutdown(Duration::from_secs(5)))
        .await
        .unwrap();
    let texts: Vec<String> = mock
        .messages()
        .iter()
        .filter(|m| !m.disable_notification)
        .map(|m| m.plain_text())
        .collect();
    assert_eq!(
        texts.len(),
        3,
        "two alerts, then one incident for the other ten: {texts:#?} {stats:?}"
    );
    let incident = texts
        .iter()
        .find(|t| t.contains("INCIDENT"))
        .unwrap_or_else(|| panic!("{texts:#?}"));
    assert!(incident.contains("12 problems at once"), "{incident}");
    for n in 0..9 {
        let title = format!("GET /service-{n}/items/{{id}} → 500 Internal Server Error · ×1");
        assert!(incident.contains(&title), "{title}: {incident}");
    }
    assert!(
        !texts.iter().any(|t| t.contains("Many variants")),
        "routes are not variants to fold: {texts:#?}"
    );
    let orders = texts
        .iter()
        .find(|t| t.contains("GET /orders/{id} → 500 Internal Server Error"))
        .unwrap_or_else(|| panic!("{texts:#?}"));
    assert!(
        orders.contains("🔁 ×3"),
        "the same route and status repeat: {orders}"
    );
    for other in [
        "GET /carts/{id} → 500 Internal Server Error",
        "GET /payments/{id} → 502 Bad Gateway",
    ] {
        assert!(
            texts.iter().any(|t| t.contains(other)),
            "{other}: {texts:#?}"
        );
    }
}
