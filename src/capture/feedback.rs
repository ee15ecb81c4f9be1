//! The feedback-loop guard, by origin: an error of the HTTP or Redis stack
//! while the worker sends an alert must not become another alert. What
//! the worker's threads emit never reaches a subscriber at all (their
//! default dispatcher is a no-op, see `channel::mark_worker_thread`), so
//! the same stack used by the application — its own `reqwest` client, its
//! Redis cache — alerts like any code: the guard is about *where* an event
//! comes from, not its target. Only this crate's own target is refused
//! wherever it comes from.

/// The crate's own target: never an alert.
const OWN_TARGET: &str = "tracing_telegram";

/// Whether events of `target` come from this crate.
pub(crate) fn is_internal_target(target: &str) -> bool {
    // Every event at a captured level asks: most targets are rejected by
    // their first letter.
    if target.as_bytes().first() != Some(&b't') {
        return false;
    }
    target
        .strip_prefix(OWN_TARGET)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_crates_own_target_is_internal() {
        assert!(is_internal_target("tracing_telegram"));
        assert!(is_internal_target("tracing_telegram::worker"));
        assert!(!is_internal_target("tracing_telegram_extra"));
        // The application's own HTTP and Redis stack alerts like any code.
        for theirs in [
            "hyper::proto::h1",
            "hyper_util::client",
            "reqwest",
            "redis",
            "tokio",
        ] {
            assert!(!is_internal_target(theirs), "{theirs}");
        }
        assert!(!is_internal_target("tower_http::trace::on_failure"));
    }
}
