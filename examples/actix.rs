//! An actix-web service with tracing-actix-web's `TracingLogger` and
//! tracing-telegram: handlers that return an error value alert with its
//! text, and a handler that answers a 5xx without one (nothing is logged)
//! alerts through its request span's status.
//!
//! ```text
//! cargo run --example actix
//! ```
//!
//! It serves on 127.0.0.1 (a free port), calls its own routes a few times,
//! then stops and prints what the bot posted (see `examples/demo.rs` for
//! how a real chat is used instead).

use std::time::Duration;

use actix_web::{error, web, App, HttpResponse, HttpServer};
use tracing_actix_web::TracingLogger;

mod support;

/// Returns an error value: tracing-actix-web logs it.
async fn checkout() -> Result<HttpResponse, actix_web::Error> {
    Err(error::ErrorInternalServerError(
        "payment backend unavailable",
    ))
}

/// Answers 502 without an error value: only the request span knows.
async fn inventory() -> HttpResponse {
    HttpResponse::BadGateway().body("upstream down")
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (builder, target) = support::Target::builder("shop-api")?;
    let (layer, guard) = builder.build()?;
    support::install(layer);

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let server = HttpServer::new(|| {
        App::new()
            .wrap(TracingLogger::default())
            .route("/orders/{id}/checkout", web::get().to(checkout))
            .route("/inventory/{sku}", web::get().to(inventory))
            .route("/health", web::get().to(health))
    })
    .workers(1)
    .listen(listener)?
    .run();
    let handle = server.handle();
    let server = tokio::spawn(server);

    let client = reqwest::Client::new();
    for path in [
        "/health",
        "/orders/77/checkout",
        "/orders/78/checkout",
        "/inventory/sku-1",
        "/inventory/sku-2",
    ] {
        let response = client.get(format!("http://{address}{path}")).send().await?;
        println!("GET {path} → {}", response.status());
    }
    handle.stop(true).await;
    let _ = server.await;

    let stats = guard.shutdown(Duration::from_secs(5));
    target.print(&stats);
    Ok(())
}
