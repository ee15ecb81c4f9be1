//! [`Capture`]: what the layer looks at besides events at alert level.

use tracing_core::Level;

use crate::capture::SkipRules;

/// What the layer captures: which spans explain alerts, which paths and
/// targets it never reports, and whether alerts carry a backtrace.
#[derive(Debug, Clone)]
#[must_use]
pub struct Capture {
    pub(in crate::builder) span_level: Level,
    pub(in crate::builder) skip: SkipRules,
    pub(in crate::builder) backtraces: bool,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            span_level: Level::INFO,
            skip: SkipRules::new(&["/health".to_owned(), "/metrics".to_owned()], Vec::new()),
            backtraces: false,
        }
    }
}

impl Capture {
    /// Spans at or above this level are captured: their fields explain the
    /// alerts raised inside them, and they may be judged slow. Below it, a
    /// span is captured only if it looks like an HTTP request (tower-http
    /// makes those at DEBUG), carries a `telegram.*` field, or is of a
    /// skipped target. The layer's own per-layer filter disables every
    /// other callsite for it alone. Default `INFO`.
    pub fn span_level(mut self, level: Level) -> Self {
        self.span_level = level;
        self
    }

    /// Path prefixes whose HTTP spans are skipped with everything inside
    /// them (env `MONITORING_IGNORED_PATHS`). A span's path is read from the
    /// fields `uri`, `url`, `url.path`, `url.full`, `path`, `http.target`,
    /// `http.route` or `http.url` (a full URL is reduced to its path); a
    /// prefix matches whole segments, so `/health` skips `/health`,
    /// `/health/live` and `/health?x`, not `/healthcare`. Default
    /// `/health`, `/metrics`.
    pub fn ignored_paths<I, P>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        let prefixes: Vec<String> = prefixes.into_iter().map(Into::into).collect();
        self.skip.set_ignored_paths(&prefixes);
        self
    }

    /// Targets (module paths, matched by whole `::` segments) whose events
    /// and spans are never reported, with everything inside those spans.
    pub fn skip_targets<I, T>(mut self, targets: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.skip.skip_targets = targets.into_iter().map(Into::into).collect();
        self
    }

    /// Captures a backtrace for every event that will be alerted (not for
    /// digest-only events), resolved and filtered in the worker and limited
    /// by [`Limits::traceback_lines`](super::Limits::traceback_lines) (env
    /// `ALERT_CAPTURE_BACKTRACE`). Capturing walks the stack on the
    /// application's thread (microseconds), so it is off by default.
    pub fn backtraces(mut self, on: bool) -> Self {
        self.backtraces = on;
        self
    }
}
