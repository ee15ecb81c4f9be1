//! The key slow spans are grouped by: method + route for HTTP spans,
//! `target::name` for everything else.

use crate::record::Fields;

const ROUTE_FIELDS: &[&str] = &["http.route", "route"];
const PATH_FIELDS: &[&str] = &[
    "url.path",
    "uri",
    "path",
    "http.target",
    "url",
    "http.url",
    "url.full",
];
const METHOD_FIELDS: &[&str] = &["http.request.method", "http.method", "method"];

/// Whether `name` is a field an HTTP request span gives its status in
/// (OpenTelemetry's names, old and new).
pub(crate) fn is_status_field(name: &str) -> bool {
    matches!(name, "http.status_code" | "http.response.status_code")
}

/// What an HTTP request span's field name declares (a span that declares
/// both is an HTTP request span: `capture::shape`).
#[derive(Debug, PartialEq)]
pub(crate) enum Declares {
    /// The request's method.
    Method,
    /// Its path, URL or route.
    Target,
}

/// The names of [`METHOD_FIELDS`], [`PATH_FIELDS`] and [`ROUTE_FIELDS`],
/// as one `match` (a length test, then one comparison: cheaper than
/// searching the lists, for every span created).
pub(crate) fn classify(name: &str) -> Option<Declares> {
    match name {
        "http.request.method" | "http.method" | "method" => Some(Declares::Method),
        "url.path" | "uri" | "path" | "http.target" | "url" | "http.url" | "url.full"
        | "http.route" | "route" => Some(Declares::Target),
        _ => None,
    }
}

/// The first of `names` that `fields` has a text value for.
fn field<'a>(fields: Option<&'a Fields>, names: &[&str]) -> Option<&'a str> {
    let fields = fields?;
    names.iter().find_map(|wanted| {
        fields
            .iter()
            .find(|(name, _)| name == wanted)
            .and_then(|(_, value)| value.as_text())
            .map(|text| text.trim_matches('"'))
    })
}

/// `GET /orders/77` for a span that describes an HTTP request.
pub(crate) fn http_request(fields: Option<&Fields>) -> Option<String> {
    let method = field(fields, METHOD_FIELDS)?;
    let target = field(fields, PATH_FIELDS).or_else(|| field(fields, ROUTE_FIELDS))?;
    Some(format!("{method} {target}"))
}

/// Writes the key of the request these fields describe, in pieces, and
/// says whether they describe one: `GET /orders/{id}` (the route template,
/// or the path with its ids folded). What an alert inside a request is
/// grouped by: the layer hashes these pieces for the repeat gate, the
/// pipeline for the fingerprint and the title, without building a string.
pub(crate) fn write_request_key(fields: &Fields, write: &mut impl FnMut(&[u8])) -> bool {
    let names = RequestNames::of(fields);
    let Some(method) = names.method.text else {
        return false;
    };
    if let Some(route) = names.route.text {
        write(method.as_bytes());
        write(b" ");
        write(route.as_bytes());
        return true;
    }
    let Some(path) = names.path.text else {
        return false;
    };
    write(method.as_bytes());
    write(b" ");
    write_normalized_path(path, write);
    true
}

/// The method, route and path of a request span's fields, each the first
/// of its list ([`METHOD_FIELDS`], [`ROUTE_FIELDS`], [`PATH_FIELDS`]) with
/// a text value: read in one pass (an alert inside a request reads them on
/// the application's thread, at the repeat gate).
#[derive(Default)]
struct RequestNames<'a> {
    method: Ranked<'a>,
    route: Ranked<'a>,
    path: Ranked<'a>,
}

/// A value and the place of its field's name in its list (lower wins).
#[derive(Default)]
struct Ranked<'a> {
    rank: usize,
    text: Option<&'a str>,
}

impl<'a> Ranked<'a> {
    fn offer(&mut self, rank: usize, text: &'a str) {
        if self.text.is_none() || rank < self.rank {
            *self = Ranked {
                rank,
                text: Some(text.trim_matches('"')),
            };
        }
    }
}

impl<'a> RequestNames<'a> {
    fn of(fields: &'a Fields) -> Self {
        let mut names = RequestNames::default();
        for (name, value) in fields {
            let Some((slot, rank)) = names.slot(name) else {
                continue;
            };
            if let Some(text) = value.as_text() {
                slot.offer(rank, text);
            }
        }
        names
    }

    /// Where a field of this name goes, and its rank (its place in its
    /// list: the unit test keeps the two in step).
    fn slot(&mut self, name: &str) -> Option<(&mut Ranked<'a>, usize)> {
        Some(match name {
            "http.request.method" => (&mut self.method, 0),
            "http.method" => (&mut self.method, 1),
            "method" => (&mut self.method, 2),
            "http.route" => (&mut self.route, 0),
            "route" => (&mut self.route, 1),
            "url.path" => (&mut self.path, 0),
            "uri" => (&mut self.path, 1),
            "path" => (&mut self.path, 2),
            "http.target" => (&mut self.path, 3),
            "url" => (&mut self.path, 4),
            "http.url" => (&mut self.path, 5),
            "url.full" => (&mut self.path, 6),
            _ => return None,
        })
    }
}

/// The grouping key of a span with these fields.
pub(crate) fn span_key(target: &str, name: &str, fields: Option<&Fields>) -> String {
    let mut key = Vec::new();
    if let Some(fields) = fields {
        if write_request_key(fields, &mut |piece| key.extend_from_slice(piece)) {
            // Pieces of `str`s cut at ASCII bytes: valid UTF-8 again.
            return String::from_utf8_lossy(&key).into_owned();
        }
    }
    let get = |names: &[&str]| field(fields, names);
    // A method without a path: not a request to name.
    if get(METHOD_FIELDS).is_some() {
        return format!("{target}::{name}");
    }
    if let Some(route) = get(ROUTE_FIELDS).or_else(|| get(&["otel.name"])) {
        return route.to_owned();
    }
    match get(PATH_FIELDS) {
        Some(path) => normalize_path(path),
        None => format!("{target}::{name}"),
    }
}

/// `/orders/77?x=1` → `/orders/{id}`: the query is dropped, and segments
/// that are numbers, UUIDs or long hex ids become `{id}`.
pub(crate) fn normalize_path(path: &str) -> String {
    let mut normalized = Vec::with_capacity(path.len());
    write_normalized_path(path, &mut |piece| normalized.extend_from_slice(piece));
    // Pieces of a `str` cut at ASCII bytes: valid UTF-8 again.
    String::from_utf8_lossy(&normalized).into_owned()
}

/// [`normalize_path`], in pieces.
fn write_normalized_path(path: &str, write: &mut impl FnMut(&[u8])) {
    // A path (the usual case) has no scheme and host to drop.
    let path = if path.starts_with('/') {
        path
    } else {
        match path.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => path,
        }
    };
    let end = path
        .bytes()
        .position(|b| b == b'?' || b == b'#')
        .unwrap_or(path.len());
    // Cut at an ASCII byte: a char boundary.
    let path = path.get(..end).unwrap_or(path);
    for (i, segment) in path.as_bytes().split(|&b| b == b'/').enumerate() {
        if i > 0 {
            write(b"/");
        }
        if is_id(segment) {
            write(b"{id}");
        } else {
            write(segment);
        }
    }
}

fn is_id(segment: &[u8]) -> bool {
    if segment.is_empty() {
        return false;
    }
    let digits = segment.iter().all(u8::is_ascii_digit);
    let hex = segment.len() >= 8
        && segment.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-')
        && segment.iter().any(u8::is_ascii_digit);
    digits || hex
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::record::fields::text_fields as fields;

    #[test]
    fn the_match_knows_every_listed_name() {
        for name in METHOD_FIELDS {
            assert_eq!(classify(name), Some(Declares::Method), "{name}");
        }
        for name in PATH_FIELDS.iter().chain(ROUTE_FIELDS) {
            assert_eq!(classify(name), Some(Declares::Target), "{name}");
        }
        assert_eq!(classify("version"), None);
    }

    #[test]
    fn the_ranks_follow_the_lists() {
        let mut names = RequestNames::default();
        for list in [METHOD_FIELDS, ROUTE_FIELDS, PATH_FIELDS] {
            for (place, name) in list.iter().enumerate() {
                assert_eq!(
                    names.slot(name).map(|(_, rank)| rank),
                    Some(place),
                    "{name}"
                );
            }
        }
        // The first of the list wins, whatever the order of the fields.
        let f = fields(&[
            ("method", "GET"),
            ("uri", "/a/1"),
            ("http.method", "PUT"),
            ("url.path", "/b/2"),
        ]);
        let mut key = Vec::new();
        assert!(write_request_key(&f, &mut |piece| key.extend_from_slice(piece)));
        assert_eq!(key, b"PUT /b/{id}");
    }

    #[test]
    fn paths_without_a_route_share_a_key() {
        let a = fields(&[("method", "GET"), ("uri", "/orders/77")]);
        let b = fields(&[("method", "GET"), ("uri", "/orders/78?expand=1")]);
        assert_eq!(span_key("t", "request", Some(&a)), "GET /orders/{id}");
        assert_eq!(
            span_key("t", "request", Some(&a)),
            span_key("t", "request", Some(&b))
        );
    }

    #[test]
    fn a_route_template_wins() {
        let f = fields(&[
            ("http.request.method", "POST"),
            ("http.route", "/users/:id"),
            ("url.path", "/users/5"),
        ]);
        assert_eq!(span_key("t", "request", Some(&f)), "POST /users/:id");
    }

    #[test]
    fn ids_are_recognised() {
        assert_eq!(
            normalize_path(
                "https://api/x/550e8400-e29b-41d4-a716-446655440000/deadbeef12/v2/items"
            ),
            "/x/{id}/{id}/v2/items"
        );
        assert_eq!(normalize_path("/health"), "/health");
    }

    #[test]
    fn other_spans_use_target_and_name() {
        assert_eq!(
            span_key("jobs::worker", "process_job", None),
            "jobs::worker::process_job"
        );
        let f = fields(&[("otel.name", "charge card")]);
        assert_eq!(span_key("t", "x", Some(&f)), "charge card");
    }
}
