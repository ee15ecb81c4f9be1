//! The trace an alert belongs to: the trace id (and span id) carried by a
//! `trace_id` field of the event or of an enclosing span (innermost first),
//! shown under the title and, with a configured link template, linked to
//! the trace in the team's tracing UI. Fingerprints never read it.

use crate::record::{FieldValue, Fields, Record, SPAN_ID_FIELDS, TRACE_ID_FIELDS};

/// The longest id shown (W3C trace ids are 32 hex characters).
const MAX_ID_LEN: usize = 64;

/// The placeholder a link template must contain.
pub(crate) const TRACE_ID_PLACEHOLDER: &str = "{trace_id}";

/// A record's trace context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceContext {
    pub(crate) trace_id: String,
    pub(crate) span_id: Option<String>,
}

impl TraceContext {
    /// The trace context of `record`: the event's own fields first, then its
    /// spans from the innermost out.
    pub(crate) fn of(record: &Record) -> Option<TraceContext> {
        let scopes = std::iter::once(Some(&record.fields))
            .chain(record.spans.iter().rev().map(|span| span.fields.as_deref()));
        for fields in scopes.flatten() {
            if let Some(trace_id) = id_in(fields, TRACE_ID_FIELDS) {
                let span_id = id_in(fields, SPAN_ID_FIELDS);
                return Some(TraceContext { trace_id, span_id });
            }
        }
        None
    }

    /// The link to the trace, from a template holding `{trace_id}` (checked
    /// when the layer is built). Only ids made of letters, digits, `-` and
    /// `_` go into a URL; others are shown without a link.
    pub(crate) fn link(&self, template: &str) -> Option<String> {
        let url_safe = self
            .trace_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        url_safe.then(|| template.replace(TRACE_ID_PLACEHOLDER, &self.trace_id))
    }
}

/// The first of `names` with a usable id in `fields`.
fn id_in(fields: &Fields, names: &[&str]) -> Option<String> {
    fields.iter().find_map(|(name, value)| {
        if !names.contains(&name.as_ref()) {
            return None;
        }
        let id = match value {
            FieldValue::U64(n) => n.to_string(),
            FieldValue::I64(n) => n.to_string(),
            other => other.as_text()?.trim_matches('"').to_owned(),
        };
        (!id.is_empty() && id.len() <= MAX_ID_LEN && id != "0").then_some(id)
    })
}

/// Whether `template` can make trace links: an http(s) URL with the
/// placeholder, and nothing that would need escaping inside an attribute.
pub(crate) fn valid_link_template(template: &str) -> bool {
    (template.starts_with("https://") || template.starts_with("http://"))
        && template.contains(TRACE_ID_PLACEHOLDER)
        && !template
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::record::fields::text_fields as fields;

    #[test]
    fn ids_are_read_and_linked_only_when_url_safe() {
        let found = id_in(
            &fields(&[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")]),
            TRACE_ID_FIELDS,
        );
        let context = TraceContext {
            trace_id: found.expect("a trace id"),
            span_id: None,
        };
        assert_eq!(
            context
                .link("https://grafana.example/explore?trace={trace_id}")
                .as_deref(),
            Some("https://grafana.example/explore?trace=4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let odd = TraceContext {
            trace_id: "a b\"<".to_owned(),
            span_id: None,
        };
        assert_eq!(odd.link("https://x/{trace_id}"), None);
        assert_eq!(id_in(&fields(&[("trace_id", "0")]), TRACE_ID_FIELDS), None);
    }

    #[test]
    fn templates_are_checked() {
        assert!(valid_link_template(
            "https://jaeger.example/trace/{trace_id}"
        ));
        assert!(!valid_link_template("https://jaeger.example/trace/"));
        assert!(!valid_link_template("javascript:alert({trace_id})"));
        assert!(!valid_link_template("https://x/{trace_id}\" onclick=\"y"));
    }
}
