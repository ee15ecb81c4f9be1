//! Bad input is made safe, and nothing the application logs can break it:
//! arbitrary field values, huge and numerous fields, deep span nesting, a
//! `Debug` impl that logs (re-entering the layer) and one that panics.

use crate::common;

use std::fmt;
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use tracing::{error, info_span};
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, MAX_MESSAGE_UNITS};
use tracing_telegram::{Alert, AlertLevel, TelegramGuard, TelegramLayer};

/// A layer with the default settings (dedup on), sending to `mock`.
fn layer_for<S>(mock: &MockTelegram) -> (tracing_telegram::FilteredLayer<S>, TelegramGuard)
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(-100)
        .api_url(mock.url())
        .panics(|p| p.report(false))
        .build()
        .unwrap()
}

/// Runs `body` on its own thread; fails the test if it does not finish in
/// time (a deadlock) instead of hanging the suite.
fn within(limit: Duration, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    finished
        .recv_timeout(limit)
        .expect("finished in time (no deadlock)");
}

/// Formats itself by logging an error first, as some wrappers do. Each
/// place it is used in gets its own type, so its own callsite: tracing
/// drops an event logged while it is already dispatching one (span
/// creation, an event), and its callsite would then be the same for all.
macro_rules! logs_when_formatted {
    ($name:ident, $what:literal) => {
        struct $name;

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                error!(target: "app::inner", concat!("formatting ", $what, " failed"));
                f.write_str($what)
            }
        }
    };
}

logs_when_formatted!(SpanField, "span field");
logs_when_formatted!(RecordedValue, "recorded value");
logs_when_formatted!(EventField, "event field");

/// Panics when formatted.
struct PanicsWhenFormatted;

impl fmt::Debug for PanicsWhenFormatted {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug of PanicsWhenFormatted");
    }
}

/// A `Debug` impl that logs re-enters the layer when a value recorded into
/// a span is formatted (the span's extensions must not be locked then: the
/// inner event reads them). In a span's or an event's field, tracing itself
/// drops the inner event (it is already dispatching one); either way
/// nothing may hang or recurse.
#[test]
fn a_debug_impl_that_logs_neither_deadlocks_nor_recurses() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = layer_for(&mock);
    within(Duration::from_secs(20), move || {
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = info_span!("job", input = ?SpanField, late = tracing::field::Empty);
            span.in_scope(|| {
                span.record("late", tracing::field::debug(RecordedValue));
                error!(value = ?EventField, "outer failure");
            });
        });
        let stats = guard.shutdown(Duration::from_secs(10));
        common::assert_accounted(&stats);
    });
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    let outer = texts.iter().find(|t| t.contains("outer failure"));
    let outer = outer.unwrap_or_else(|| panic!("{texts:#?}"));
    assert!(outer.contains("late=recorded value"), "{outer}");
    assert!(outer.contains("value: event field"), "{outer}");
    let inner = texts
        .iter()
        .find(|t| t.contains("formatting recorded value failed"));
    let inner = inner.unwrap_or_else(|| panic!("re-entered: {texts:#?}"));
    assert!(inner.contains("job{input=span field}"), "{inner}");
}

#[test]
fn a_debug_impl_that_panics_leaves_no_poisoned_state() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = layer_for(&mock);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let span = info_span!("request", order_id = 7, extra = tracing::field::Empty);
        let _entered = span.enter();
        let in_event = std::panic::catch_unwind(|| {
            error!(value = ?PanicsWhenFormatted, "never formatted");
        });
        assert!(in_event.is_err(), "the panic is the application's");
        let in_record = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            span.record("extra", tracing::field::debug(PanicsWhenFormatted));
        }));
        assert!(in_record.is_err());
        // The span's state and the registry still work.
        error!("after the panics");
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert!(texts[0].contains("after the panics"), "{texts:#?}");
    assert!(texts[0].contains("order_id=7"), "{texts:#?}");
}

#[test]
fn a_thousand_fields_and_ten_thousand_nested_spans_fit_one_valid_message() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = layer_for(&mock);
    let handle = guard.handle();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let mut alert = Alert::new(AlertLevel::Error, "many details");
        for i in 0..1000 {
            alert = alert.detail(format!("key_{i}"), "<b>value</b> & more");
        }
        handle.send(alert);
        let mut spans: Vec<_> = (0..10_000)
            .map(|depth| info_span!("level", depth).entered())
            .collect();
        error!("deep inside");
        // Innermost first: closing the outermost first would make the
        // registry close the whole chain recursively when the innermost
        // goes (tracing-subscriber's own recursion, not this crate's).
        while let Some(span) = spans.pop() {
            drop(span);
        }
    });
    let stats = guard.shutdown(Duration::from_secs(10));
    assert_eq!(
        (stats.sent, stats.plain_text_fallbacks),
        (2, 0),
        "{stats:?}"
    );
    let messages = mock.messages();
    let details = messages[0].plain_text();
    assert!(
        details.contains("key_0: <b>value</b> & more"),
        "escaped, shown as text"
    );
    assert!(
        details.contains("and 970 more fields"),
        "the rest counted: {details}"
    );
    let deep = messages
        .iter()
        .find(|m| m.plain_text().contains("deep inside"))
        .unwrap();
    assert!(
        deep.plain_text().contains("depth=9999"),
        "the innermost spans are kept"
    );
    assert!(messages
        .iter()
        .all(|m| m.visible_units() <= MAX_MESSAGE_UNITS));
}

/// Field values with control characters, bidirectional overrides, broken
/// HTML and entities, and sizes up to 1 MB.
fn nasty() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<b>".to_owned()),
        Just("</i>".to_owned()),
        Just("<a href=\"x\">".to_owned()),
        Just("&amp".to_owned()),
        Just("&#x1F;".to_owned()),
        Just("\u{202E}".to_owned()),
        Just("\u{0}\u{7}\u{1b}[31m".to_owned()),
        Just("🔥".to_owned()),
        "\\PC{0,20}",
        any::<String>(),
    ];
    let text = prop::collection::vec(piece, 0..20).prop_map(|p| p.concat());
    prop_oneof![
        4 => text,
        1 => (1usize..1_000_000).prop_map(|n| "x<&>".repeat(n / 4)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_field_value_becomes_a_valid_message(value in nasty(), message in nasty()) {
        let mock = MockTelegram::start().unwrap();
        let (layer, guard) = layer_for(&mock);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            error!(value = %value, "{message}");
        });
        let stats = guard.shutdown(Duration::from_secs(10));
        // The mock refuses invalid HTML or an overlong text (the crate
        // would then resend it as plain text, counted here).
        prop_assert_eq!((stats.sent, stats.plain_text_fallbacks, stats.failed), (1, 0, 0));
        for sent in mock.messages() {
            prop_assert!(sent.visible_units() <= MAX_MESSAGE_UNITS);
        }
    }
}
