//! Which spans are judged slow, against what threshold, and which of the
//! slow spans of one unit of work is alerted.
//!
//! A span is judged when it is created, from its callsite and fields: HTTP
//! request spans, spans named with `slow_threshold_for`, spans that carry
//! `telegram.slow_threshold_ms`, or every span with `judge_all_spans`.
//! `never_slow` exempts. Spans that are not judged are not timed at all:
//! an `#[instrument]`ed server loop, a consumer or a connection span lives
//! as long as the process and is not "slow".
//!
//! A unit of work (a request, and the handler and query spans inside it) is
//! alerted once: the first slow span to close whose judged ancestors are
//! not already over their threshold is the unit's alert; every other slow
//! span of the unit goes to the digest only, and the outermost one's alert
//! lists its slowest judged descendants.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tracing_core::Metadata;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::record::{SlowChild, SlowSpan};

use super::shape::SpanShape;
use super::span_table::SpanTable;
use super::timing::Timing;

/// The slow-span configuration, consulted when a span is created and when
/// it closes.
#[derive(Debug, Clone)]
pub(crate) struct SlowRules {
    /// `false` turns span timing off entirely.
    pub(crate) on: bool,
    /// The threshold of judged spans that name none.
    pub(crate) threshold: Duration,
    /// Thresholds by span name (`None`: never slow).
    pub(crate) by_name: HashMap<String, Option<Duration>>,
    /// Judge time spent entered rather than time from creation to close.
    pub(crate) judge_busy: bool,
    /// Judge every span, not only HTTP requests and the spans named.
    pub(crate) judge_all: bool,
}

impl Default for SlowRules {
    fn default() -> Self {
        SlowRules {
            on: true,
            threshold: Duration::from_secs(3),
            by_name: HashMap::new(),
            judge_busy: false,
            judge_all: false,
        }
    }
}

impl SlowRules {
    /// Rules that time nothing (a disabled layer).
    pub(crate) fn off() -> Self {
        SlowRules {
            on: false,
            ..SlowRules::default()
        }
    }

    /// The threshold a new span is judged against, or `None` if it is not
    /// judged (and so not timed). `declared` is the value of its
    /// `telegram.slow_threshold_ms` field, if it has one.
    pub(crate) fn threshold_of(
        &self,
        metadata: &Metadata<'_>,
        shape: SpanShape,
        declared: Option<Duration>,
    ) -> Option<Duration> {
        if !self.on {
            return None;
        }
        let by_name = if self.by_name.is_empty() {
            None
        } else {
            self.by_name.get(metadata.name()).copied()
        };
        match (by_name, declared) {
            (Some(None), _) => None, // never_slow
            (_, Some(declared)) => Some(declared),
            (Some(Some(named)), None) => Some(named),
            (None, None) => {
                let judged = self.judge_all || shape.http_request || shape.slow_threshold;
                judged.then_some(self.threshold)
            }
        }
    }

    /// The verdict on a judged span closing at `now`; `None` if it was fast
    /// enough.
    pub(crate) fn judge(&self, timing: &Timing, now: Instant) -> Option<SlowSpan> {
        let (total, busy) = timing.finish(now);
        let slow = SlowSpan {
            total,
            busy,
            threshold: timing.threshold(),
            judged_busy: self.judge_busy,
            nested: false,
            inside: Vec::new(),
        };
        (slow.measured() >= slow.threshold).then_some(slow)
    }

    /// Whether a judged span is already over its threshold at `now` (and so
    /// will be slow when it closes).
    pub(crate) fn already_slow(&self, timing: &Timing, now: Instant) -> bool {
        let (total, busy) = timing.finish(now);
        let measured = if self.judge_busy { busy } else { total };
        measured >= timing.threshold()
    }
}

/// Settles whether the slow span `span` is its unit of work's alert. It is
/// not (`slow.nested`: digest only) when a slow span inside it was alerted,
/// when a slow span around it was, or when a judged span around it is
/// already over its threshold (and so will be alerted when it closes, with
/// this one listed). Otherwise it is, and the judged spans around it will
/// go to the digest only.
pub(crate) fn settle_unit<'a, R>(
    table: &SpanTable,
    rules: &SlowRules,
    span: &SpanRef<'a, R>,
    slow: &mut SlowSpan,
    now: Instant,
) where
    R: LookupSpan<'a>,
{
    let Some(parent) = span.parent() else {
        return;
    };
    let mut judged_around = false;
    for ancestor in parent.scope() {
        let nested = table.with(&ancestor.id(), |state| {
            let timing = state.timing.as_ref()?;
            Some(timing.unit_alerted() || rules.already_slow(timing, now))
        });
        if let Some(Some(nested)) = nested {
            judged_around = true;
            if nested {
                slow.nested = true;
                break;
            }
        }
    }
    if !judged_around {
        return;
    }
    let this = SlowChild {
        name: span.name(),
        took: slow.measured(),
    };
    for ancestor in parent.scope() {
        table.with_mut(&ancestor.id(), |state| {
            let Some(timing) = state.timing.as_mut() else {
                return;
            };
            if slow.nested {
                timing.note_slow_inside([this]);
            } else {
                timing.mark_unit_alerted();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::shape::THRESHOLD_FIELD;
    use tracing_core::{Kind, Level};

    fn span(name: &'static str, fields: &'static [&'static str]) -> Metadata<'static> {
        crate::capture::test_metadata(Kind::SPAN, Level::INFO, "app", name, fields)
    }

    /// `rules`' threshold for a span named `name` with `fields`.
    fn threshold(
        rules: &SlowRules,
        name: &'static str,
        fields: &'static [&'static str],
        declared: Option<Duration>,
    ) -> Option<Duration> {
        let metadata = span(name, fields);
        rules.threshold_of(&metadata, SpanShape::of(metadata.fields()), declared)
    }

    #[test]
    fn which_spans_are_judged() {
        let rules = SlowRules {
            by_name: HashMap::from([
                ("export".to_owned(), Some(Duration::from_secs(10))),
                ("poll".to_owned(), None),
            ]),
            ..SlowRules::default()
        };
        let default = Some(Duration::from_secs(3));
        assert_eq!(threshold(&rules, "serve", &[], None), None);
        assert_eq!(
            threshold(&rules, "request", &["method", "uri"], None),
            default
        );
        assert_eq!(
            threshold(&rules, "export", &[], None),
            Some(Duration::from_secs(10))
        );
        let own = Some(Duration::from_millis(250));
        assert_eq!(threshold(&rules, "export", &[], own), own);
        assert_eq!(
            threshold(&rules, "serve", &[THRESHOLD_FIELD], None),
            default
        );
        assert_eq!(threshold(&rules, "poll", &["method", "uri"], own), None);
        let all = SlowRules {
            judge_all: true,
            ..rules
        };
        assert_eq!(threshold(&all, "serve", &[], None), default);
        assert_eq!(threshold(&all, "poll", &[], None), None);
        assert_eq!(
            threshold(&SlowRules::off(), "request", &["method", "uri"], own),
            None
        );
    }

    #[test]
    fn a_span_is_slow_at_its_own_threshold() {
        let rules = SlowRules::default();
        let start = Instant::now();
        let timing = Timing::start(start, Duration::from_millis(50));
        assert!(rules
            .judge(&timing, start + Duration::from_millis(10))
            .is_none());
        let slow = rules.judge(&timing, start + Duration::from_millis(120));
        assert_eq!(slow.map(|s| s.threshold), Some(Duration::from_millis(50)));
        let busy = SlowRules {
            judge_busy: true,
            ..rules
        };
        assert!(
            busy.judge(&timing, start + Duration::from_millis(120))
                .is_none(),
            "never entered"
        );
    }
}
