//! A request that failed without a word: an HTTP request span that closes
//! with a server error, and inside which no alert-level event was
//! captured, is itself the alert. (Here too: what a closing span has to
//! report, read under one lock with its slow verdict.)
//!
//! tower-http logs its failures (`on_failure`, an event inside the request
//! span); tracing-actix-web only logs when the handler returned an error
//! value, so a handler answering `HttpResponse::BadGateway()` leaves
//! nothing but the span's `http.status_code = 502` (and `otel.status_code =
//! "ERROR"`). The span's status fields are read when it closes; an alert
//! captured inside it (see [`RequestWatch`]) means the failure was reported
//! already, and is not reported twice. The record carries the span's
//! fields, so the pipeline titles and groups it like tower-http's failures
//! (`GET /carts/{id} → 502 Bad Gateway`, by method, route and status).

use std::sync::Arc;
use std::time::Instant;

use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::alert::AlertLevel;
use crate::record::http::{is_status_field, span_key};
use crate::record::{
    grpc, Captured, FieldValue, Fields, Occurrence, Origin, Record, SlowSpan, SpanList, SpanRecord,
};
use crate::text::Text;

use super::field_pool::PooledFields;
use super::layer::TelegramLayer;
use super::span_state::{RequestFacts, RequestMark, RequestWatch, SpanState};
use super::span_table::span_records;

impl TelegramLayer {
    /// The alert for a request span that closed with a server error
    /// nothing inside it reported (see [`failing`]): `span`, whose `state`
    /// was taken out of the table as it closed.
    pub(super) fn failed_request<R>(
        &self,
        span: &SpanRef<'_, R>,
        state: &SpanState,
        failed: Failed,
    ) -> Option<Record>
    where
        R: for<'a> LookupSpan<'a>,
    {
        let Failed { fields, verdict } = failed;
        let mut spans = match span.parent() {
            Some(parent) => span_records(&self.spans, parent.scope())?,
            None => SpanList::default(),
        };
        spans.push(SpanRecord {
            name: span.name(),
            target: span.metadata().target(),
            fields: state.fields.as_ref().map(PooledFields::shared),
        });
        let metadata = span.metadata();
        // Without an HTTP status the pipeline cannot name it: say it here,
        // as the message (which the fingerprint reads: one alert per call
        // and outcome).
        let key = || span_key(metadata.target(), metadata.name(), Some(&fields));
        let message = match verdict {
            Verdict::Status => Text::default(),
            Verdict::OtelError => format!("{} → failed (otel.status_code = ERROR)", key()).into(),
            Verdict::Grpc(code) => format!(
                "{} → {}",
                rpc_call(&fields).unwrap_or_else(key),
                grpc::describe(code)
            )
            .into(),
        };
        let captured = Captured {
            fields: (*fields).clone(),
            spans,
            ..Captured::default()
        };
        Some(Record::new(
            AlertLevel::Error,
            Occurrence::Alert,
            Origin::Event(metadata),
            message,
            captured,
        ))
    }

    /// What a closing span has to report: in `failed` a failing request's
    /// status, and a judged span's fields and verdict if it was slow (the
    /// clock is read only for a judged span). Nothing for a skipped span.
    #[allow(clippy::type_complexity)]
    pub(super) fn close_verdicts(
        &self,
        state: &SpanState,
    ) -> (
        Option<Failed>,
        Option<(Option<Arc<Fields>>, SlowSpan, Instant)>,
    ) {
        if state.is_skipped() {
            return (None, None);
        }
        let failed = state.request.as_ref().and_then(|watch| {
            self.post_outcome(watch, state);
            failing(state)
        });
        let slow = state.timing.as_ref().and_then(|timing| {
            let now = self.rules.clock.now();
            let mut slow = self.rules.slow.judge(timing, now)?;
            slow.nested = timing.unit_alerted();
            slow.inside = timing.slow_inside().to_vec();
            Some((state.fields.as_ref().map(PooledFields::shared), slow, now))
        });
        (failed, slow)
    }

    /// The spans around an alert-level event, once: every request span's
    /// watch is told an alert was captured inside it (its failing status is
    /// then not reported again), and `innermost` is given what each span
    /// that describes a request says of it ([`RequestFacts`], read from its
    /// fields once per span), innermost first, until it says they name the
    /// request the alert is grouped by. If that request will
    /// record its status but has not yet, the serial number a record waits
    /// for it under. One load, and no walk, while no request span is alive.
    pub(super) fn walk_requests<S>(
        &self,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        mut innermost: impl FnMut(&RequestFacts) -> bool,
    ) -> Option<u64>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if !RequestMark::any_alive() {
            return None;
        }
        let scope = ctx.event_scope(event)?;
        let (mut found, mut awaits) = (false, None);
        for span in scope {
            self.spans.with_mut(&span.id(), |state| {
                let SpanState {
                    fields,
                    request,
                    describes_request: Some(mark),
                    ..
                } = state
                else {
                    return;
                };
                if let Some(watch) = request {
                    watch.report();
                }
                if found {
                    return;
                }
                let Some(fields) = fields.as_ref().map(PooledFields::get) else {
                    return;
                };
                let facts = mark.facts(fields);
                found = innermost(&facts);
                if found && !facts.has_status {
                    awaits = request.as_ref().map(RequestWatch::await_status);
                }
            });
        }
        awaits
    }
}

impl TelegramLayer {
    /// A request span closes that a record waits for: how it ended, for
    /// the worker.
    fn post_outcome(&self, watch: &RequestWatch, state: &SpanState) {
        let (Some(serial), Some(fields)) = (watch.awaited(), &state.fields) else {
            return;
        };
        if let Some(producer) = &self.producer {
            producer.outcomes().post(serial, fields.shared());
        }
    }
}

/// A request span that closed with a server error nothing inside it
/// reported: its fields, and how it said it failed.
pub(super) struct Failed {
    fields: Arc<Fields>,
    verdict: Verdict,
}

/// Whether a closing span is a failed request to alert (read under its
/// state's lock, with the slow verdict).
pub(super) fn failing(state: &SpanState) -> Option<Failed> {
    let request: &RequestWatch = state.request.as_ref()?;
    if request.was_reported() {
        return None;
    }
    let fields = state.fields.as_ref()?;
    let verdict = server_error(fields.get())?;
    Some(Failed {
        fields: fields.shared(),
        verdict,
    })
}

/// How a request span says it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// A status of 500 or more.
    Status,
    /// A gRPC status that is the server's failure.
    Grpc(u64),
    /// Only `otel.status_code = "ERROR"`.
    OtelError,
}

/// Whether a request span's fields say it failed on the server's side.
/// (Asked of every request span that closes: names are told apart by
/// their first letter first.)
fn server_error(fields: &Fields) -> Option<Verdict> {
    let mut verdict = None;
    for (name, value) in fields {
        match name.as_bytes().first() {
            Some(b'h') if is_status_field(name) => {
                // A numeric status decides, whatever OpenTelemetry's says.
                return (status_of(value)? >= 500).then_some(Verdict::Status);
            }
            Some(b'r') if name == "rpc.grpc.status_code" => {
                let code = status_of(value)?;
                return grpc::is_server_error(code).then_some(Verdict::Grpc(code));
            }
            Some(b'o')
                if name == "otel.status_code"
                    && value
                        .as_text()
                        .is_some_and(|text| text.trim_matches('"') == "ERROR") =>
            {
                verdict = Some(Verdict::OtelError);
            }
            _ => {}
        }
    }
    verdict
}

/// `pkg.Service/Method` of an RPC span.
fn rpc_call(fields: &Fields) -> Option<String> {
    let text = |wanted: &str| {
        fields
            .iter()
            .find(|(name, _)| name == wanted)
            .and_then(|(_, value)| value.as_text())
            .map(|text| text.trim_matches('"').to_owned())
    };
    Some(format!("{}/{}", text("rpc.service")?, text("rpc.method")?))
}

fn status_of(value: &FieldValue) -> Option<u64> {
    match value {
        FieldValue::U64(code) => Some(*code),
        FieldValue::I64(code) => u64::try_from(*code).ok(),
        other => other.as_text()?.trim_matches('"').parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&'static str, FieldValue)]) -> Fields {
        pairs
            .iter()
            .map(|(name, value)| ((*name).into(), value.clone()))
            .collect()
    }

    #[test]
    fn a_server_error_status_or_otels_error_is_a_failure() {
        let text = |t: &str| FieldValue::Str(t.to_owned());
        let code = FieldValue::U64;
        assert_eq!(
            server_error(&fields(&[("http.status_code", code(502))])),
            Some(Verdict::Status)
        );
        assert_eq!(
            server_error(&fields(&[("http.response.status_code", text("503"))])),
            Some(Verdict::Status)
        );
        assert_eq!(
            server_error(&fields(&[("http.status_code", code(404))])),
            None
        );
        // The numeric status decides over OpenTelemetry's verdict.
        assert_eq!(
            server_error(&fields(&[
                ("otel.status_code", text("ERROR")),
                ("http.status_code", code(404))
            ])),
            None
        );
        assert_eq!(
            server_error(&fields(&[("otel.status_code", text("ERROR"))])),
            Some(Verdict::OtelError)
        );
        assert_eq!(
            server_error(&fields(&[("otel.status_code", text("OK"))])),
            None
        );
    }
}
