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

/// Shared by two routes: one callsite, logged inside each request.
fn look_up_inventory() -> Result<(), String> {
    tracing::error!("inventory lookup failed");
    Err("inventory lookup failed".into())
}

async fn stock() -> HttpResponse {
    match look_up_inventory() {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn basket() -> HttpResponse {
    match look_up_inventory() {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
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
    let gateway = texts
        .iter()
        .find(|t| t.contains("GET /gateway/{id} → 502 Bad Gateway"))
        .unwrap_or_else(|| panic!("{chat}"));
    assert!(gateway.contains("🔁 ×2"), "{gateway}");
    assert!(
        !gateway.contains("\nFields\n") && gateway.contains("http.status_code=502"),
        "the span's fields once, in the span trace: {gateway}"
    );
    // Two error values, two alerts: their quoted texts are not folded, and
    // each is headed by its request and status.
    assert!(
        chat.contains("GET /orders/{id} → 500 Internal Server Error · Error encountered while processing the incoming HTTP request: \"order store unavailable\""),
        "{chat}"
    );
    assert!(
        chat.contains("GET /payments/{id} → 502 Bad Gateway · Error encountered while processing the incoming HTTP request: \"payment upstream down\""),
        "{chat}"
    );
    // Nothing twice: the requests whose error was logged are not alerted
    // again for their status, and the healthy one not at all.
    assert_eq!(chat.matches("GET /orders/{id} → 500").count(), 1, "{chat}");
    assert_eq!(
        chat.matches("GET /payments/{id} → 502").count(),
        1,
        "{chat}"
    );
    assert!(!chat.contains("/health"), "{chat}");
    assert_eq!(stats.accepted, 6, "{stats:?}");
}

#[actix_web::test]
async fn one_failure_in_two_routes_is_two_alerts_each_titled_with_its_status() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock).build().unwrap();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let app = test::init_service(
        App::new()
            .wrap(TracingLogger::default())
            .route("/stock/{id}", web::get().to(stock))
            .route("/basket/{id}", web::get().to(basket)),
    )
    .await;
    let paths = ["/stock/1", "/basket/1", "/stock/2", "/stock/3", "/basket/2"];
    let mut statuses = Vec::new();
    for path in paths {
        let request = test::TestRequest::get().uri(path).to_request();
        statuses.push(test::call_service(&app, request).await.status().as_u16());
    }
    assert_eq!(statuses, [500, 503, 500, 500, 503]);
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    let chat = texts.join("\n----\n");
    // One alert per request, each headed by its route and the status the
    // span recorded when the handler returned (after the event).
    let alert = |route: &str| {
        texts
            .iter()
            .find(|t| t.contains(route) && t.contains("inventory lookup failed"))
            .unwrap_or_else(|| panic!("no alert for {route}: {chat}"))
    };
    let stock = alert("GET /stock/{id} → 500 Internal Server Error · inventory lookup failed");
    assert!(stock.contains("🔁 ×3"), "{stock}");
    let basket = alert("GET /basket/{id} → 503 Service Unavailable · inventory lookup failed");
    assert!(basket.contains("🔁 ×2"), "{basket}");
    assert_eq!(stats.sent + stats.deduplicated, 5, "{stats:?}");
    assert_eq!(stats.deduplicated, 3, "{stats:?}");
}

/// A gRPC call as tower-http's `TraceLayer::new_for_grpc()` classifies it
/// (`GrpcErrorsAsFailures`): the HTTP status is 200 whatever happened, the
/// outcome is the `grpc-status` header of a trailers-only answer.
async fn grpc_answer(code: &'static str) -> axum::response::Response {
    axum::response::Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .header("grpc-status", code)
        .body(axum::body::Body::empty())
        .unwrap()
}

#[tokio::test]
async fn grpc_server_failures_alert_and_client_errors_are_only_counted() {
    use axum::routing::get;
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock).build().unwrap();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let app = axum::Router::new()
        .route("/shop.Orders/Get", get(|| grpc_answer("5")))
        .route("/shop.Orders/Place", get(|| grpc_answer("14")))
        .route("/shop.Orders/List", get(|| grpc_answer("0")))
        .layer(tower_http::trace::TraceLayer::new_for_grpc());
    let paths = [
        "/shop.Orders/Get",
        "/shop.Orders/Place",
        "/shop.Orders/Place",
        "/shop.Orders/List",
    ];
    assert_eq!(common::get_each(app, &paths).await, [200, 200, 200, 200]);

    // An OpenTelemetry-named gRPC span, as instrumented clients and servers
    // record it: Unavailable alerts, NotFound does not.
    for code in [14_u64, 5] {
        let span = tracing::info_span!(
            "grpc call",
            rpc.system = "grpc",
            rpc.service = "shop.Inventory",
            rpc.method = "Reserve",
            rpc.grpc.status_code = tracing::field::Empty,
        );
        span.record("rpc.grpc.status_code", code);
        drop(span);
    }
    let stats = tokio::task::spawn_blocking(move || guard.shutdown(Duration::from_secs(5)))
        .await
        .unwrap();
    common::assert_accounted(&stats);
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    let chat = texts.join("\n----\n");
    assert!(
        chat.contains("GET /shop.Orders/Place → Unavailable (gRPC 14)"),
        "{chat}"
    );
    assert!(
        chat.contains("🔁 ×2"),
        "the two Unavailable calls are one alert: {chat}"
    );
    assert!(
        chat.contains("shop.Inventory/Reserve → Unavailable (gRPC 14)"),
        "{chat}"
    );
    assert!(
        !chat.contains("NotFound"),
        "client errors do not alert: {chat}"
    );
    assert!(!chat.contains("/shop.Orders/List"), "{chat}");
    // The NotFound call is counted in the digest, not lost.
    assert_eq!(stats.batched, 1, "{stats:?}");
}

/// A record waits for its request's status a short while, not for the
/// request's whole life: a request that never ends (a stream, a stuck
/// handler) still gets its alert, without a status, and without a flush.
#[core::prelude::v1::test]
fn an_alert_in_a_request_that_never_ends_is_not_held_back() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock).build().unwrap();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let stuck = tracing::info_span!(
        "HTTP request",
        http.request.method = "GET",
        http.route = "/v1/feed/{id}",
        url.path = "/v1/feed/9",
        http.response.status_code = tracing::field::Empty,
    );
    let entered = stuck.enter();
    tracing::error!("feed source went away");
    let arrived = mock.wait_for_messages(1, Duration::from_secs(20));
    let text = arrived.first().map(|m| m.plain_text()).unwrap_or_default();
    assert!(text.contains("feed source went away"), "{text}");
    assert!(!text.contains('→'), "no status was known: {text}");
    assert!(text.contains("GET /v1/feed/9"), "{text}");
    drop(entered);
    drop(stuck);
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
    assert_eq!(stats.sent, 1, "{stats:?}");
}

/// OpenTelemetry's names, the status recorded when the handler answers
/// (after the handler's own `error!`): the alert is titled with it.
#[core::prelude::v1::test]
fn an_alert_is_titled_with_the_status_its_request_ends_with() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock).build().unwrap();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    for (id, status) in [(1, 503_u64), (2, 503)] {
        let request = tracing::info_span!(
            "HTTP request",
            http.request.method = "GET",
            http.route = "/v1/items/{id}",
            url.path = format!("/v1/items/{id}"),
            http.response.status_code = tracing::field::Empty,
        );
        request.in_scope(|| tracing::error!(error = "timed out", "item store read failed"));
        request.record("http.response.status_code", status);
    }
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    let chat = texts.join("\n----\n");
    assert!(
        chat.contains("GET /v1/items/{id} → 503 Service Unavailable · item store read failed"),
        "{chat}"
    );
    assert!(chat.contains("🔁 ×2"), "{chat}");
    assert_eq!(stats.sent, 1, "{stats:?}");
}

/// tonic as its users serve it: a service behind tower-http's
/// `TraceLayer::new_for_grpc()` (`GrpcErrorsAsFailures`), called by tonic's
/// client over a real HTTP/2 connection. The handlers answer with a
/// `Status`, as generated services do; a raw-bytes codec stands in for
/// protobuf (the outcome on the wire is the same).
mod grpc {
    use std::convert::Infallible;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::{Buf, BufMut};
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
    use tonic::{Code, Status};

    /// Messages as raw bytes.
    #[derive(Clone, Copy, Default)]
    pub struct RawCodec;

    impl Codec for RawCodec {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = RawCodec;
        type Decoder = RawCodec;
        fn encoder(&mut self) -> RawCodec {
            RawCodec
        }
        fn decoder(&mut self) -> RawCodec {
            RawCodec
        }
    }

    impl Encoder for RawCodec {
        type Item = Vec<u8>;
        type Error = Status;
        fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl Decoder for RawCodec {
        type Item = Vec<u8>;
        type Error = Status;
        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
            let mut message = vec![0; src.remaining()];
            src.copy_to_slice(&mut message);
            Ok(Some(message))
        }
    }

    /// `shop.Orders`: `Place` is down (Unavailable), `Get` finds nothing
    /// (NotFound: the caller's problem), `List` works.
    #[derive(Clone, Copy)]
    pub struct Orders;

    impl tonic::server::NamedService for Orders {
        const NAME: &'static str = "shop.Orders";
    }

    type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

    impl tower::Service<axum::http::Request<tonic::body::Body>> for Orders {
        type Response = axum::http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = BoxFuture<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: axum::http::Request<tonic::body::Body>) -> Self::Future {
            let outcome = match request.uri().path() {
                "/shop.Orders/Place" => Some(Code::Unavailable),
                "/shop.Orders/Get" => Some(Code::NotFound),
                _ => None,
            };
            let handler = tower::service_fn(move |_: tonic::Request<Vec<u8>>| async move {
                match outcome {
                    Some(code) => Err(Status::new(code, "inventory service down")),
                    None => Ok(tonic::Response::new(b"[]".to_vec())),
                }
            });
            Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(RawCodec);
                Ok(grpc.unary(handler, request).await)
            })
        }
    }
}

#[tokio::test]
async fn tonic_server_errors_alert_by_method_and_code_and_client_errors_do_not() {
    use tonic::transport::server::TcpIncoming;
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock).build().unwrap();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .layer(tower_http::trace::TraceLayer::new_for_grpc())
        .add_service(grpc::Orders)
        .serve_with_incoming(TcpIncoming::from(listener));
    // The server runs on this task's thread (the subscriber is this
    // thread's default), the client beside it.
    let client = async move {
        let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = tonic::client::Grpc::new(channel);
        let mut codes = Vec::new();
        for method in ["Place", "Get", "Place", "List"] {
            client.ready().await.unwrap();
            let path = format!("/shop.Orders/{method}").parse().unwrap();
            let answer: Result<tonic::Response<Vec<u8>>, _> = client
                .unary(tonic::Request::new(Vec::new()), path, grpc::RawCodec)
                .await;
            codes.push(answer.err().map_or(tonic::Code::Ok, |status| status.code()));
        }
        codes
    };
    let codes = tokio::select! {
        codes = client => codes,
        served = server => panic!("the server stopped: {served:?}"),
    };
    use tonic::Code;
    assert_eq!(
        codes,
        [
            Code::Unavailable,
            Code::NotFound,
            Code::Unavailable,
            Code::Ok
        ]
    );
    let stats = tokio::task::spawn_blocking(move || guard.shutdown(Duration::from_secs(5)))
        .await
        .unwrap();
    common::assert_accounted(&stats);
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    let chat = texts.join("\n----\n");
    let place = texts
        .iter()
        .find(|t| t.contains("POST /shop.Orders/Place → Unavailable (gRPC 14)"))
        .unwrap_or_else(|| panic!("{chat}"));
    assert!(place.contains("🔁 ×2"), "{place}");
    assert!(
        !chat.contains("NotFound"),
        "a client error does not alert: {chat}"
    );
    assert!(!chat.contains("/shop.Orders/List"), "{chat}");
    // The NotFound call is counted for the digest, not lost.
    assert_eq!(stats.batched, 1, "{stats:?}");
}
