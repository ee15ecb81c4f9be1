//! The crate's own health on your `/metrics`: with the feature `metrics`,
//! `Stats` and `Health` go through the `metrics` facade to whatever
//! exporter the application installed — here Prometheus.
//!
//! ```text
//! cargo run --example metrics --features metrics
//! ```

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;

mod support;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application's exporter (with its HTTP listener in a service:
    // `PrometheusBuilder::new().with_http_listener(([0, 0, 0, 0], 9000)).install()`).
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let (builder, target) = support::Target::builder("billing")?;
    let (layer, guard) = builder.build()?;
    support::install(layer);

    tracing::error!(invoice = 1042, "invoice could not be rendered");

    let stats = guard.shutdown(Duration::from_secs(5));
    target.print(&stats);
    println!("\n──────── what /metrics would serve ────────");
    for line in prometheus.render().lines() {
        if line.starts_with("tracing_telegram_") {
            println!("{line}");
        }
    }
    Ok(())
}
