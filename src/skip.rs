//! What the layer skips on the application's thread: spans of ignored HTTP
//! paths and of skipped targets, with everything inside them.

use crate::record::Fields;

/// Span fields that may hold a request's path or URL.
const PATH_FIELDS: &[&str] = &[
    "uri",
    "url",
    "url.path",
    "url.full",
    "path",
    "http.target",
    "http.route",
    "http.url",
];

/// The skip configuration, checked in layer callbacks.
#[derive(Debug, Clone, Default)]
pub(crate) struct SkipRules {
    /// Path prefixes whose HTTP spans are skipped with their contents.
    pub(crate) ignored_paths: Vec<String>,
    /// Target prefixes whose events and spans are skipped.
    pub(crate) skip_targets: Vec<String>,
}

impl SkipRules {
    /// Whether `target` is, or is inside, a skipped target.
    pub(crate) fn skips_target(&self, target: &str) -> bool {
        self.skip_targets.iter().any(|skipped| {
            target
                .strip_prefix(skipped.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    }

    /// Whether a span with these fields serves an ignored path.
    pub(crate) fn skips_path(&self, fields: &Fields) -> bool {
        if self.ignored_paths.is_empty() {
            return false;
        }
        fields.iter().any(|(name, value)| {
            if !PATH_FIELDS.contains(&name.as_ref()) {
                return false;
            }
            let Some(text) = value.as_text() else {
                return false;
            };
            let path = path_of(text);
            self.ignored_paths
                .iter()
                .any(|prefix| matches_segments(path, prefix))
        })
    }
}

/// The path of a URL (`https://host/a/b?c` → `/a/b?c`), or the text itself.
fn path_of(text: &str) -> &str {
    let text = text.trim_matches('"');
    if text.starts_with('/') {
        return text; // already a path: the common case, checked for every span
    }
    match text.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => text,
    }
}

/// `/health` matches `/health`, `/health/x`, `/health?x`, not `/healthcare`.
fn matches_segments(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return true; // "/" ignores everything
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::FieldValue;
    use std::borrow::Cow;

    fn rules() -> SkipRules {
        SkipRules {
            ignored_paths: vec!["/health".into(), "/api/keys/".into()],
            skip_targets: vec!["my_app::auth".into()],
        }
    }

    fn span(name: &'static str, value: &str) -> Fields {
        vec![(Cow::Borrowed(name), FieldValue::Text(value.into()))]
    }

    #[test]
    fn paths_match_whole_segments() {
        let rules = rules();
        for skipped in [
            "/health",
            "/health/live",
            "/health?full=1",
            "https://svc:8080/health",
            "/api/keys/7",
        ] {
            assert!(rules.skips_path(&span("uri", skipped)), "{skipped}");
        }
        for kept in ["/healthcare", "/", "/orders/health", "/api/keyset"] {
            assert!(!rules.skips_path(&span("uri", kept)), "{kept}");
        }
        assert!(
            !rules.skips_path(&span("note", "/health")),
            "only path fields count"
        );
    }

    #[test]
    fn targets_match_whole_segments() {
        let rules = rules();
        assert!(rules.skips_target("my_app::auth"));
        assert!(rules.skips_target("my_app::auth::login"));
        assert!(!rules.skips_target("my_app::authz"));
        assert!(!SkipRules::default().skips_target("anything"));
    }
}
