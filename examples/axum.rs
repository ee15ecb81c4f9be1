//! An axum service with tower-http's `TraceLayer` and tracing-telegram:
//! 5xx responses and slow requests alert with no extra code.
//!
//! ```text
//! cargo run --example axum
//! ```
//!
//! It serves on 127.0.0.1 (a free port), calls its own routes a few times,
//! then shuts down and prints what the bot posted (see `examples/demo.rs`
//! for how a real chat is used instead).

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tower_http::trace::TraceLayer;

mod support;

/// Fails, as a handler with a bug would.
async fn checkout() -> (StatusCode, &'static str) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "payment backend unavailable",
    )
}

/// Takes longer than the slow threshold.
async fn report() -> &'static str {
    tokio::time::sleep(Duration::from_millis(300)).await;
    "report ready"
}

async fn health() -> &'static str {
    "ok"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (builder, target) = support::Target::builder("shop-api")?;
    let (layer, guard) = builder
        .slow_spans(|s| s.threshold(Duration::from_millis(200)))
        .build()?;
    support::install(layer);

    let app = Router::new()
        .route("/orders/{id}/checkout", get(checkout))
        .route("/reports/daily", get(report))
        .route("/health", get(health))
        .layer(TraceLayer::new_for_http());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    for path in [
        "/health",
        "/orders/77/checkout",
        "/orders/78/checkout",
        "/reports/daily",
    ] {
        let response = client.get(format!("http://{address}{path}")).send().await?;
        println!("GET {path} → {}", response.status());
    }
    server.abort();

    let stats = guard.shutdown(Duration::from_secs(5));
    target.print(&stats);
    Ok(())
}
