//! [`SlowSpans`]: which spans are judged, and against what threshold.

use std::time::Duration;

use crate::capture::SlowRules;
use crate::pipeline::DigestConfig;

/// Slow spans. Judged are HTTP request spans (a method field and a path or
/// route field, as tower-http's `TraceLayer` makes them), spans named with
/// [`threshold_for`](Self::threshold_for), spans carrying
/// `telegram.slow_threshold_ms = N` (their own threshold, in ms) and, with
/// [`judge_all`](Self::judge_all), every span. Other spans are not timed.
///
/// A judged span that takes at least its threshold (from creation to
/// close) is slow: the first of a key (method + route, or the span's name)
/// is alerted as a Warning, the rest go to the digest for
/// [`alert_once_per`](Self::alert_once_per), and all are counted in the
/// digest (count, p50, p95, max). Of the slow spans of one unit of work (a
/// request and the handler and query spans inside it) one is alerted, and
/// the alert lists the slowest of the others.
#[derive(Debug, Clone)]
#[must_use]
pub struct SlowSpans {
    pub(in crate::builder) rules: SlowRules,
    pub(in crate::builder) alert_once_per: Duration,
}

impl Default for SlowSpans {
    fn default() -> Self {
        SlowSpans {
            rules: SlowRules::default(),
            alert_once_per: DigestConfig::default().slow_batch,
        }
    }
}

impl SlowSpans {
    /// `false` turns span timing off entirely (no slow-span alerts).
    /// Default `true`.
    pub fn enabled(mut self, on: bool) -> Self {
        self.rules.on = on;
        self
    }

    /// The threshold of judged spans that name none (env
    /// `SLOW_REQUEST_THRESHOLD_SECONDS`). Default 3 s.
    pub fn threshold(mut self, threshold: Duration) -> Self {
        self.rules.threshold = threshold;
        self
    }

    /// Judges spans named `name` (the `#[instrument]`ed function's name, or
    /// the span macro's name) against `threshold`. A span's own
    /// `telegram.slow_threshold_ms` wins.
    pub fn threshold_for(mut self, name: impl Into<String>, threshold: Duration) -> Self {
        self.rules.by_name.insert(name.into(), Some(threshold));
        self
    }

    /// Never judges spans named `name` (long-polling loops, streaming
    /// responses, …), even with [`judge_all`](Self::judge_all).
    pub fn never(mut self, name: impl Into<String>) -> Self {
        self.rules.by_name.insert(name.into(), None);
        self
    }

    /// `true` judges every span (except those named with
    /// [`never`](Self::never)): long-lived spans (a server loop, a
    /// consumer, a connection) then alert when they close. Default `false`.
    pub fn judge_all(mut self, all: bool) -> Self {
        self.rules.judge_all = all;
        self
    }

    /// `true` judges the time spans spend entered (doing work) instead of
    /// the time from creation to close, for spans that mostly wait. Busy
    /// time is only measured (and shown) when this is on, since it costs two
    /// clock reads per enter/exit. Default `false`.
    pub fn busy_time(mut self, busy: bool) -> Self {
        self.rules.judge_busy = busy;
        self
    }

    /// After one immediate slow alert per key, further slow spans of that
    /// key only go to the digest for this long (env
    /// `SLOW_REQUESTS_BATCH_MINUTES`). Default 15 min.
    pub fn alert_once_per(mut self, window: Duration) -> Self {
        self.alert_once_per = window;
        self
    }
}
