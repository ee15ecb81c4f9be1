//! Frameworks as users run them, under the default settings: actix-web
//! with tracing-actix-web's `TracingLogger`. Its request span carries
//! `http.status_code` and `otel.status_code`; it logs an error event only
//! when a handler returned an error value. Its own test binary (actix's
//! runtime).

mod common;

use std::time::Duration;

use actix_web::{error, test, web, App, HttpResponse};
use tracing_actix_web::TracingLogger;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

/// A handler that answers 502 without an error value: nothing is logged.
async fn gateway_down() -> HttpResponse {
    HttpResponse::BadGateway().finish()
}

async fn order_store_down() -> Result<HttpResponse, actix_web::Error> {
    Err(error::ErrorInternalServerError("order store unavailable"))
}

async fn payment_upstream_down() -> Result<HttpResponse, actix_web::Error> {
    Err(error::ErrorBadGateway("payment upstream down"))
}

async fn fine() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

#[actix_web::test]
async fn actix_failures_are_alerted_once_each_by_route_and_error() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock).build().unwrap();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let app = test::init_service(
        App::new()
            .wrap(TracingLogger::default())
            .route("/gateway/{id}", web::get().to(gateway_down))
            .route("/orders/{id}", web::get().to(order_store_down))
            .route("/payments/{id}", web::get().to(payment_upstream_down))
            .route("/health/{id}", web::get().to(fine)),
    )
    .await;
    let paths = [
        "/gateway/1",
        "/gateway/2",
        "/health/1",
        "/orders/1",
        "/orders/2",
        "/orders/3",
        "/payments/9",
    ];
    let mut statuses = Vec::new();
    for path in paths {
        let request = test::TestRequest::get().uri(path).to_request();
        statuses.push(test::call_service(&app, request).await.status().as_u16());
    }
    assert_eq!(statuses, [502, 502, 200, 500, 500, 500, 502]);
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);

    let messages = mock.messages();
    let texts: Vec<String> = messages.iter().map(|m| m.plain_text()).collect();
    let chat = texts.join("\n----\n");
    // The 502 without an error value: its request span is the alert, named
    // by route and status, twice.
    assert!(
        chat.contains("GET /gateway/{id} → 502 Bad Gateway"),
        "{chat}"
    );
    // Two error values, two alerts: their quoted texts are not folded.
    assert!(chat.contains("order store unavailable"), "{chat}");
    assert!(chat.contains("payment upstream down"), "{chat}");
    // Nothing twice: the requests whose error was logged are not alerted
    // again for their status, and the healthy one not at all.
    assert!(!chat.contains("GET /orders/{id} → 500"), "{chat}");
    assert!(!chat.contains("GET /payments/{id} → 502"), "{chat}");
    assert!(!chat.contains("/health"), "{chat}");
    assert_eq!(stats.accepted, 6, "{stats:?}");
}
