//! Alerts carry the trace `tracing-opentelemetry` gave the failing span
//! (feature `opentelemetry`), linked with `trace_link`; the same failure in
//! two traces is still one alert.
#![cfg(feature = "opentelemetry")]

use crate::common;

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::error;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

#[test]
fn the_open_telemetry_trace_id_is_shown_and_linked() {
    let provider = SdkTracerProvider::builder().build();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let mock = MockTelegram::start().unwrap();
    let (telegram, guard) = common::default_builder(&mock)
        .trace_link("https://tempo.example/trace/{trace_id}")
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(otel).with(telegram);
    let mut trace_ids = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        for order in 0..2 {
            let span = tracing::info_span!("checkout", order);
            let _entered = span.enter();
            let context = span.context();
            trace_ids.push(context.span().span_context().trace_id().to_string());
            error!("payment refused");
        }
    });
    let stats = guard.shutdown(std::time::Duration::from_secs(5));
    common::assert_accounted(&stats);
    assert_ne!(trace_ids[0], trace_ids[1], "two traces");
    let messages = mock.messages();
    let alerts = common::notifying(&messages);
    assert_eq!(alerts.len(), 1, "one failure, two traces: {alerts:#?}");
    let alert = alerts[0];
    let link = format!(
        "<a href=\"https://tempo.example/trace/{0}\">{0}</a>",
        trace_ids[0]
    );
    assert!(alert.text.contains(&link), "{}", alert.text);
    assert!(
        alert.plain_text().contains("🔁 ×2"),
        "{}",
        alert.plain_text()
    );
}
