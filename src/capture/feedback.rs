//! The feedback-loop guard: the worker's own HTTP and Redis stack (and this
//! crate) never produce alerts, or an error while sending an alert would
//! produce another alert. The worker's thread is ignored as a whole too
//! (see `channel::on_worker_thread`).

/// Targets whose events never become alerts: this crate and the stack its
/// worker talks through. Their events would otherwise feed back into the
/// layer (an HTTP error while sending an alert producing another alert).
const INTERNAL_TARGETS: &[&str] = &[
    "tracing_telegram",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tokio",
    "mio",
    "want",
    "redis",
];

/// Whether events of `target` come from this crate or the stack its worker
/// talks through.
pub(crate) fn is_internal_target(target: &str) -> bool {
    // Every event at a captured level asks: most targets are rejected by
    // their first letter.
    if !matches!(
        target.as_bytes().first(),
        Some(b'h' | b'm' | b'r' | b't' | b'w')
    ) {
        return false;
    }
    INTERNAL_TARGETS.iter().any(|internal| {
        target
            .strip_prefix(internal)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_targets_match_whole_path_segments() {
        assert!(is_internal_target("hyper"));
        assert!(is_internal_target("hyper::proto::h1"));
        assert!(is_internal_target("tracing_telegram::worker"));
        assert!(!is_internal_target("hyperion"));
        assert!(!is_internal_target("tower_http::trace::on_failure"));
        assert!(!is_internal_target("my_app::redis_cache"));
        for internal in INTERNAL_TARGETS {
            assert!(is_internal_target(internal), "{internal}");
        }
    }
}
