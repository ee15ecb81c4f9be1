//! The crate's own health in the application's metrics: with the feature
//! `metrics`, the worker publishes the [`Stats`](crate::Stats) counters and
//! the [`Health`](crate::Health) through the `metrics` facade — at most once
//! a second while it works, and when it stops — so that whatever exporter
//! the application installed (Prometheus, StatsD, OpenTelemetry) serves
//! them. Without the feature this is a no-op. This file is the only code
//! that knows the feature.
//!
//! Counters (label `service`): `tracing_telegram_records_accepted_total`,
//! `…_alerts_sent_total`, `…_alerts_deduplicated_total`,
//! `…_alerts_batched_total`, `…_records_dropped_total`,
//! `…_records_filtered_total`, `…_alerts_failed_total`,
//! `…_delivery_retries_total`, `…_rate_limited_total`,
//! `…_unreadable_answers_total`,
//! `…_plain_text_fallbacks_total`, `…_chat_migrations_total`,
//! `…_dedup_evictions_total`, `…_redis_fallbacks_total`,
//! `…_backtraces_captured_total`; gauge `tracing_telegram_health` (0
//! healthy, 1 degraded, 2 dark).

use std::time::{Duration, Instant};

use crate::health::Health;
use crate::stats::Stats;

/// How often the counters are published while the worker is busy.
const EVERY: Duration = Duration::from_secs(1);

/// Publishes the worker's figures.
#[derive(Debug)]
pub(crate) struct MetricsExport {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    service: String,
    last: Option<Instant>,
}

impl MetricsExport {
    /// An exporter labelling every figure with `service`.
    pub(crate) fn new(service: &str) -> Self {
        MetricsExport {
            service: service.to_owned(),
            last: None,
        }
    }

    /// Whether publishing does anything in this build.
    pub(crate) const ENABLED: bool = cfg!(feature = "metrics");

    /// When the figures are next due to be published (`None`: never, the
    /// `metrics` feature is off).
    pub(crate) fn next_publish(&self, now: Instant) -> Option<Instant> {
        Self::ENABLED.then(|| self.last.map_or(now, |last| last + EVERY))
    }

    /// Publishes if the last time was over a second ago.
    pub(crate) fn publish_if_due(
        &mut self,
        now: Instant,
        figures: impl FnOnce() -> (Stats, Health),
    ) {
        if !Self::ENABLED || self.last.is_some_and(|last| now < last + EVERY) {
            return;
        }
        self.last = Some(now);
        let (stats, health) = figures();
        self.publish(&stats, &health);
    }

    /// Publishes now.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn publish(&self, stats: &Stats, health: &Health) {
        #[cfg(feature = "metrics")]
        {
            let service = self.service.clone();
            for (name, value) in counters(stats) {
                metrics::counter!(name, "service" => service.clone()).absolute(value);
            }
            let level = match health {
                Health::Healthy => 0.0,
                Health::Degraded { .. } => 1.0,
                Health::Dark { .. } => 2.0,
            };
            metrics::gauge!("tracing_telegram_health", "service" => service).set(level);
        }
    }
}

/// Each counter's name and value.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn counters(stats: &Stats) -> [(&'static str, u64); 15] {
    [
        ("tracing_telegram_records_accepted_total", stats.accepted),
        ("tracing_telegram_alerts_sent_total", stats.sent),
        (
            "tracing_telegram_alerts_deduplicated_total",
            stats.deduplicated,
        ),
        ("tracing_telegram_alerts_batched_total", stats.batched),
        ("tracing_telegram_records_dropped_total", stats.dropped),
        ("tracing_telegram_records_filtered_total", stats.filtered),
        ("tracing_telegram_alerts_failed_total", stats.failed),
        ("tracing_telegram_delivery_retries_total", stats.retried),
        ("tracing_telegram_rate_limited_total", stats.rate_limited),
        (
            "tracing_telegram_unreadable_answers_total",
            stats.unreadable_answers,
        ),
        (
            "tracing_telegram_plain_text_fallbacks_total",
            stats.plain_text_fallbacks,
        ),
        (
            "tracing_telegram_chat_migrations_total",
            stats.chat_migrations,
        ),
        (
            "tracing_telegram_dedup_evictions_total",
            stats.dedup_evictions,
        ),
        (
            "tracing_telegram_redis_fallbacks_total",
            stats.redis_fallbacks,
        ),
        (
            "tracing_telegram_backtraces_captured_total",
            stats.backtraces_captured,
        ),
    ]
}
