//! Context that explains a failure: `#[instrument(err)]`, backtraces,
//! manual alerts, notices, the audit hook and the configuration check.

use crate::common;

use common::failures::{lookup, LoadError, SyncError};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{builder, run_with};
use tracing::{error, instrument};
use tracing_telegram::testing::{MockTelegram, Reply};
use tracing_telegram::{Alert, AlertLevel, CheckProblem, Destination, SentAlert, TelegramLayer};

#[derive(Debug)]
struct LedgerError(u64);

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {} is frozen", self.0)
    }
}

impl std::error::Error for LedgerError {}

#[instrument(err)]
fn post_entry(account: u64, cents: i64) -> Result<(), LedgerError> {
    Err(LedgerError(account))
}

#[test]
fn instrument_err_alerts_with_the_function_span_and_error() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    run_with(layer, guard, || {
        let _ = post_entry(42, -1250);
    });
    let text = mock.messages()[0].plain_text();
    for expected in [
        "post_entry failed: account 42 is frozen",
        "error: account 42 is frozen",
        "post_entry{account=42, cents=-1250} · content::context",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn backtraces_are_captured_only_when_asked_and_are_limited() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .capture(|c| c.backtraces(true))
        .limits(|l| l.traceback_lines(2))
        .build()
        .unwrap();
    let on = run_with(layer, guard, || {
        error!("with a backtrace");
        tracing::warn!("digest-only: no backtrace");
    });
    let (layer, guard) = builder(&mock).build().unwrap();
    let off = run_with(layer, guard, || error!("without a backtrace"));

    assert_eq!(
        on.backtraces_captured, 1,
        "only for records that will be alerted"
    );
    assert_eq!(
        off.backtraces_captured, 0,
        "the capture path never runs when off"
    );
    let messages = mock.messages();
    let with = messages[0].plain_text();
    let frames: Vec<&str> = with
        .split("Backtrace\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{with}"))
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(!frames.is_empty() && frames.len() <= 2, "{frames:#?}");
    assert!(
        frames
            .iter()
            .all(|f| !f.starts_with("tracing") && !f.starts_with("std::")),
        "{frames:#?}"
    );
    assert!(
        frames[0].contains("context::"),
        "the test's own frame comes first: {frames:#?}"
    );
    let without = messages.last().unwrap().plain_text();
    assert!(
        without.contains("without a backtrace") && !without.contains("Backtrace"),
        "{without}"
    );
}

#[test]
fn manual_alert_details_are_sanitized() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let handle = guard.handle();
    run_with(layer, guard, || {
        handle.send(
            Alert::new(AlertLevel::Error, "Nightly export failed")
                .with_text("upload to s3 with AKIAIOSFODNN7EXAMPLE was denied")
                .detail("bucket", "exports")
                .detail("dsn", "postgres://etl:s3cr3t@db:5432/warehouse")
                .detail("api_token", "tok_live_123"),
        );
    });
    let text = mock.messages()[0].plain_text();
    assert!(
        text.contains(
            "• bucket: exports\n• dsn: postgres://etl:***@db:5432/warehouse\n• api_token: ***"
        ),
        "{text}"
    );
    assert!(text.contains("AKIA*** was denied"), "{text}");
}

#[test]
fn startup_and_shutdown_notices_are_silent_and_opt_in() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .notices(|n| n.startup(true))
        .notices(|n| n.shutdown(true))
        .service_version("1.2.0")
        .build()
        .unwrap();
    run_with(layer, guard, || error!("one failure"));
    let messages = mock.messages();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    let first = messages[0].plain_text();
    assert!(
        first.starts_with("🟢 orders-api · staging\nstarted v1.2.0 on host "),
        "{first}"
    );
    let last = messages[2].plain_text();
    assert!(
        last.starts_with("⏹ orders-api · staging\nstopping: 1 records, 1 sent"),
        "{last}"
    );
    assert!(messages[0].disable_notification && messages[2].disable_notification);

    let (layer, guard) = builder(&mock).build().unwrap();
    run_with(layer, guard, || error!("no notices by default"));
    assert_eq!(mock.messages().len(), 4);
}

#[test]
fn on_sent_is_told_about_every_delivered_message() {
    let mock = MockTelegram::start().unwrap();
    let seen: Arc<Mutex<Vec<SentAlert>>> = Arc::default();
    let log = Arc::clone(&seen);
    let (layer, guard) = builder(&mock)
        .routes(|r| r.level(AlertLevel::Critical, Destination::thread(9)))
        .hooks(|h| {
            h.on_sent(move |sent| {
                // Logging from the hook cannot loop back into the layer.
                tracing::error!(message_id = sent.message_id, "audit: alert sent");
                log.lock().unwrap().push(sent.clone());
            })
        })
        .build()
        .unwrap();
    let handle = guard.handle();
    let stats = run_with(layer, guard, || {
        error!("payment failed");
        handle.send(Alert::new(AlertLevel::Critical, "ledger down"));
    });
    let seen = seen.lock().unwrap();
    let summary: Vec<_> = seen
        .iter()
        .map(|s| (s.level, s.title.as_str(), s.thread_id, s.message_id))
        .collect();
    assert_eq!(
        summary,
        [
            (AlertLevel::Error, "payment failed", None, 1),
            (AlertLevel::Critical, "ledger down", Some(9), 2),
        ]
    );
    assert_eq!(stats.accepted, 2, "the hook's own event was not captured");
}

#[test]
fn a_panicking_hook_drops_its_record_and_says_so_once() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .panics(|p| p.report(false))
        .hooks(|h| {
            h.before_send(|alert| {
                if alert.text() == Some("explode password=hunter2") {
                    panic!("hook bug near password=hunter2");
                }
                true
            })
        })
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || {
        error!("explode password=hunter2");
        error!("still delivered");
    });
    // Fail closed: what the hook was meant to clean is not sent.
    assert_eq!((stats.sent, stats.filtered), (1, 1), "{stats:?}");
    common::assert_accounted(&stats);
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    assert!(
        texts[0].contains("The before_send hook panicked"),
        "{texts:#?}"
    );
    assert!(
        texts[0].contains("hook bug near password=***"),
        "{texts:#?}"
    );
    assert!(texts.iter().all(|t| !t.contains("hunter2")), "{texts:#?}");
    assert!(texts[1].contains("still delivered"), "{texts:#?}");
}

/// A `before_send` that always panics, with the default settings (dedup on,
/// panic hook on): each record goes through the hook once, the panic is
/// alerted once (through no hook), and nothing loops.
#[test]
fn a_hook_that_always_panics_runs_once_per_record_and_alerts_once() {
    let mock = MockTelegram::start().unwrap();
    let calls = Arc::new(Mutex::new(0_u32));
    let counted = Arc::clone(&calls);
    let (layer, guard) = TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(-100)
        .api_url(mock.url())
        .hooks(|h| {
            h.before_send(move |_| {
                *counted.lock().unwrap() += 1;
                panic!("redaction service unavailable");
            })
        })
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || {
        for order in 0..3 {
            error!(order, "charge failed");
        }
    });
    assert_eq!(*calls.lock().unwrap(), 3, "once per record, no loop");
    assert_eq!(
        (stats.accepted, stats.filtered, stats.sent),
        (3, 3, 0),
        "{stats:?}"
    );
    common::assert_accounted(&stats);
    let messages = mock.messages();
    let alerts = common::notifying(&messages);
    assert_eq!(alerts.len(), 1, "one self-alert: {messages:#?}");
    let alert = alerts[0].plain_text();
    assert!(alert.contains("CRITICAL"), "{alert}");
    assert!(
        alert.contains("the before_send hook panicked: redaction service unavailable"),
        "{alert}"
    );
    // The other two panics are counted in the digest sent at shutdown.
    let digest = messages.last().unwrap().plain_text();
    assert!(digest.contains("DIGEST"), "{digest}");
    assert!(
        digest.contains("×2 : the before_send hook panicked"),
        "{digest}"
    );
}

#[test]
fn the_check_reports_a_working_setup() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .routes(|r| r.level(AlertLevel::Critical, Destination::thread(7)))
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    drop(layer);
    let report = guard.check(Duration::from_secs(5));
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.bot_username.as_deref(), Some("mock_bot"));
    assert_eq!(
        report.reachable,
        ["chat -1001234567890 topic 7", "chat -1001234567890"]
    );
    assert_eq!(mock.messages().len(), 2);
    assert!(mock.messages().iter().all(|m| m.disable_notification));
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!(stats.accepted, 0, "check messages are not records");
}

#[test]
fn the_check_says_what_is_wrong() {
    // A revoked token.
    let mock = MockTelegram::start().unwrap();
    let (_layer, guard) = TelegramLayer::builder()
        .bot_token("111111:AAwrongTokenForThisMock_0123456789ab")
        .chat_id(-100)
        .api_url(mock.url())
        .panics(|p| p.report(false))
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let report = guard.check(Duration::from_secs(5));
    assert_eq!(report.problems, [CheckProblem::InvalidToken]);
    assert!(
        report.to_string().contains("TELEGRAM_BOT_TOKEN"),
        "{report}"
    );

    // A bot that is not in the chat, and a missing topic.
    let mock = MockTelegram::start().unwrap();
    mock.script(Reply::BadRequest("message thread not found".into()));
    mock.script(Reply::Forbidden(
        "bot is not a member of the supergroup chat".into(),
    ));
    let (_layer, guard) = builder(&mock)
        .routes(|r| r.level(AlertLevel::Critical, Destination::thread(77)))
        .panics(|p| p.report(false))
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    // The check posts to topic 77 (criticals) first, then the default chat.
    let report = guard.check(Duration::from_secs(5));
    assert!(!report.is_ok());
    assert_eq!(report.bot_username.as_deref(), Some("mock_bot"));
    assert!(
        matches!(&report.problems[..], [
            CheckProblem::TopicMissing { thread_id: 77, .. },
            CheckProblem::ChatUnreachable { chat, .. }
        ] if chat == "-1001234567890"),
        "{report:?}"
    );
    let text = report.to_string();
    assert!(text.contains("add the bot to the chat"), "{text}");
    assert!(text.contains("no forum topic 77"), "{text}");
}

#[instrument(err)]
fn load(id: u64) -> Result<(), LoadError> {
    lookup(id)
}

#[instrument(err(Debug))]
fn load_debug(id: u64) -> Result<(), LoadError> {
    lookup(id)
}

/// The alerts (notifying messages) that `body` raises under the default
/// settings (dedup on), as text.
fn default_alerts(body: impl FnOnce()) -> Vec<String> {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock).build().unwrap();
    let stats = run_with(layer, guard, body);
    common::assert_accounted(&stats);
    common::notifying(&mock.messages())
        .iter()
        .map(|m| m.plain_text())
        .collect()
}

/// Two alerts, the first containing `first`, the second `second`, each
/// tallied ×3.
fn assert_two_kinds_of_three(texts: &[String], first: &str, second: &str) {
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(texts[0].contains(first), "{texts:#?}");
    assert!(texts[1].contains(second), "{texts:#?}");
    assert!(texts.iter().all(|t| t.contains("🔁 ×3")), "{texts:#?}");
}

/// `#[instrument(err)]` with the default settings: one callsite failing in
/// two ways makes two alerts (the error's value is part of the
/// fingerprint), while ids and numbers inside an error still fold.
#[test]
fn one_callsite_failing_in_two_ways_makes_two_alerts() {
    let texts = default_alerts(|| {
        for id in 0..6 {
            let _ = load(id);
        }
    });
    assert_two_kinds_of_three(&texts, "row 0 not found", "connection refused by shard 1");
}

/// The same with `err(Debug)`: the error's `Debug` text is the value.
#[test]
fn err_debug_failing_in_two_ways_makes_two_alerts() {
    let texts = default_alerts(|| {
        for id in 0..6 {
            let _ = load_debug(id);
        }
    });
    assert_two_kinds_of_three(&texts, "NotFound(0)", "Refused(1)");
}

fn report_sync_failure(error: &SyncError) {
    tracing::error!(error = error as &dyn std::error::Error, "sync failed");
}

/// `error = &e as &dyn Error` from one callsite: the source chain tells the
/// two root causes apart.
#[test]
fn one_error_type_with_two_root_causes_makes_two_alerts() {
    use std::io::{Error, ErrorKind};
    let texts = default_alerts(|| {
        for attempt in 0..6 {
            let cause = if attempt % 2 == 0 {
                Error::new(
                    ErrorKind::ConnectionRefused,
                    "connection refused (os error 111)",
                )
            } else {
                Error::new(ErrorKind::TimedOut, format!("timed out after {attempt} s"))
            };
            report_sync_failure(&SyncError(cause));
        }
    });
    assert_two_kinds_of_three(&texts, "connection refused", "timed out after 1 s");
}

fn charge(trace_id: &str) {
    let _span = tracing::info_span!("request", trace_id, span_id = "00f067aa0ba902b7").entered();
    error!("charge declined");
}

/// The trace id of an enclosing span is shown and linked; fingerprints
/// ignore it: the same failure in two traces is one alert, ×2.
#[test]
fn alerts_link_their_trace_and_group_across_traces() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock)
        .trace_link("https://grafana.example/explore?left=tempo&trace={trace_id}")
        .build()
        .unwrap();
    run_with(layer, guard, || {
        charge("4bf92f3577b34da6a3ce929d0e0e4736");
        charge("5c0a3b2e1d9f4e6a8b7c6d5e4f3a2b1c");
    });
    let messages = mock.messages();
    let alerts = common::notifying(&messages);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = alerts[0];
    assert!(
        alert.text.contains(
            "<a href=\"https://grafana.example/explore?left=tempo&amp;trace=4bf92f3577b34da6a3ce929d0e0e4736\">4bf92f3577b34da6a3ce929d0e0e4736</a>"
        ),
        "{}",
        alert.text
    );
    let text = alert.plain_text();
    assert!(
        text.contains("🧵 trace 4bf92f3577b34da6a3ce929d0e0e4736 · span 00f067aa0ba902b7"),
        "{text}"
    );
    assert!(text.contains("🔁 ×2"), "{text}");
}

#[test]
fn a_trace_link_without_the_placeholder_is_an_error() {
    for template in ["https://tempo.example/trace/", "javascript:x({trace_id})"] {
        let error = TelegramLayer::builder()
            .bot_token("123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
            .chat_id(-100)
            .trace_link(template)
            .build::<tracing_subscriber::Registry>()
            .unwrap_err();
        assert!(error.to_string().contains("trace_link"), "{error}");
    }
}
