//! What the layer skips on the application's thread: spans of ignored HTTP
//! paths and of skipped targets, with everything inside them.

use crate::record::Fields;

/// Whether a span field of this name may hold a request's path or URL.
/// (Checked for every field of every span: a `match` compiles to a length
/// switch.)
fn is_path_field(name: &str) -> bool {
    matches!(
        name,
        "uri"
            | "url"
            | "url.path"
            | "url.full"
            | "path"
            | "http.target"
            | "http.route"
            | "http.url"
    )
}

/// The skip configuration, checked in layer callbacks.
#[derive(Debug, Clone, Default)]
pub(crate) struct SkipRules {
    /// Path prefixes whose HTTP spans are skipped with their contents,
    /// without a trailing `/` (see [`SkipRules::new`]).
    ignored_paths: Vec<String>,
    /// Target prefixes whose events and spans are skipped.
    pub(crate) skip_targets: Vec<String>,
}

impl SkipRules {
    /// Rules for these path prefixes (`/health` also covers `/health/x`,
    /// not `/healthcare`) and target prefixes.
    pub(crate) fn new(ignored_paths: &[String], skip_targets: Vec<String>) -> Self {
        let mut rules = SkipRules {
            ignored_paths: Vec::new(),
            skip_targets,
        };
        rules.set_ignored_paths(ignored_paths);
        rules
    }

    /// The ignored path prefixes, as matched.
    #[cfg(test)]
    pub(crate) fn ignored_paths(&self) -> &[String] {
        &self.ignored_paths
    }

    /// Replaces the ignored path prefixes.
    pub(crate) fn set_ignored_paths(&mut self, prefixes: &[String]) {
        self.ignored_paths = prefixes
            .iter()
            .map(|prefix| prefix.trim_end_matches('/').to_owned())
            .collect();
    }

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
            if !is_path_field(name) {
                return false;
            }
            let Some(text) = value.text_bytes() else {
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
/// On bytes: this runs for every span with a path field, and the text need
/// not be checked for UTF-8 again (everything looked for is ASCII).
fn path_of(text: &[u8]) -> &[u8] {
    let text = trim_quotes(text);
    if text.first() == Some(&b'/') {
        return text; // already a path: the common case
    }
    match text.windows(3).position(|w| w == b"://") {
        Some(at) => {
            let rest = &text[at + 3..];
            rest.iter()
                .position(|b| *b == b'/')
                .map_or(b"/".as_slice(), |i| &rest[i..])
        }
        None => text,
    }
}

/// `text` without the `"` around it (a `Debug`-formatted string).
fn trim_quotes(mut text: &[u8]) -> &[u8] {
    while let [b'"', rest @ ..] = text {
        text = rest;
    }
    while let [rest @ .., b'"'] = text {
        text = rest;
    }
    text
}

/// `/health` matches `/health`, `/health/x`, `/health?x`, not `/healthcare`
/// (`prefix` comes without its trailing `/`).
fn matches_segments(path: &[u8], prefix: &str) -> bool {
    let Some(&last) = prefix.as_bytes().last() else {
        return true; // "/" ignores everything
    };
    // The prefix's last byte first: most paths differ there, and the
    // whole comparison (a `memcmp` call) is skipped for every span of a
    // route that is not ignored.
    if path.get(prefix.len() - 1) != Some(&last) {
        return false;
    }
    path.strip_prefix(prefix.as_bytes())
        .is_some_and(|rest| matches!(rest.first(), None | Some(b'/' | b'?' | b'#')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::FieldValue;
    use std::borrow::Cow;

    fn rules() -> SkipRules {
        SkipRules::new(
            &["/health".into(), "/api/keys/".into()],
            vec!["my_app::auth".into()],
        )
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
            "\"/health\"",
            "/api/keys/7",
        ] {
            assert!(rules.skips_path(&span("uri", skipped)), "{skipped}");
            let short = FieldValue::Short(crate::text::ShortText::new(skipped).unwrap());
            assert!(
                rules.skips_path(&vec![(Cow::Borrowed("path"), short)]),
                "{skipped}"
            );
        }
        for kept in [
            "/healthcare",
            "/",
            "/orders/health",
            "/api/keyset",
            "https://svc",
            "health",
        ] {
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
