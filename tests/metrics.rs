//! The crate's own figures in the application's metrics (feature
//! `metrics`), read back through a Prometheus exporter as a scrape would.
//! Its own test binary: the `metrics` recorder is global.
#![cfg(feature = "metrics")]

mod common;

use metrics_exporter_prometheus::PrometheusBuilder;
use tracing::error;
use tracing_telegram::testing::{MockTelegram, Reply};

#[test]
fn stats_and_health_reach_the_exporter() {
    let prometheus = PrometheusBuilder::new().install_recorder().unwrap();
    let mock = MockTelegram::start().unwrap();
    mock.script(Reply::Unauthorized);
    let (layer, guard) = common::default_builder(&mock)
        .service("billing")
        .build()
        .unwrap();
    let stats = common::run_with(layer, guard, || {
        error!("ledger unavailable"); // 401: the chat goes dark
        error!("ledger still unavailable");
    });
    assert_eq!(stats.failed, 2, "{stats:?}");
    let scrape = prometheus.render();
    for line in [
        "tracing_telegram_records_accepted_total{service=\"billing\"} 2",
        "tracing_telegram_alerts_failed_total{service=\"billing\"} 2",
        "tracing_telegram_alerts_sent_total{service=\"billing\"} 0",
        "tracing_telegram_health{service=\"billing\"} 2",
    ] {
        assert!(scrape.contains(line), "missing {line:?} in:\n{scrape}");
    }
}
