//! Never dark in silence: when alerts stop reaching the main chat, the
//! application can see it (`health()`), be told (`on_delivery_failure`), the
//! fallback chat is told, and `check()` reports it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::error;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, Reply};
use tracing_telegram::{CheckProblem, DeliveryFailure, Health, TelegramLayer};

const MAIN: i64 = -100_111;
const FALLBACK: i64 = -100_222;

#[test]
fn a_bot_removed_from_the_main_chat_goes_dark_and_says_so_everywhere() {
    let mock = MockTelegram::start().unwrap();
    let failures: Arc<Mutex<Vec<DeliveryFailure>>> = Arc::default();
    let told = Arc::clone(&failures);
    let (layer, guard) = TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(MAIN)
        .api_url(mock.url())
        .delivery(|d| d.fallback_chat(FALLBACK))
        .hooks(|h| h.on_delivery_failure(move |failure| told.lock().unwrap().push(failure.clone())))
        .build()
        .unwrap();
    let handle = guard.handle();
    assert!(guard.health().is_healthy());
    mock.script(Reply::Forbidden(
        "Forbidden: bot was kicked from the group chat".into(),
    ));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        error!("payment provider down");
        guard.flush(Duration::from_secs(5));
        error!("ledger out of balance");
        guard.flush(Duration::from_secs(5));
    });

    let health = guard.health();
    assert!(health.is_dark(), "{health:?}");
    assert_eq!(handle.health(), health);
    let Health::Dark { reason, .. } = &health else {
        unreachable!()
    };
    assert!(reason.contains("bot was kicked"), "{reason}");

    // The fallback chat was told, with a notifying message.
    let messages = mock.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0].chat_id, serde_json::json!(FALLBACK));
    assert!(!messages[0].disable_notification);
    let notice = messages[0].plain_text();
    assert!(
        notice.contains("alerts no longer reach the main chat"),
        "{notice}"
    );
    assert!(notice.contains("bot was kicked"), "{notice}");

    let failures = failures.lock().unwrap().clone();
    assert_eq!(failures.len(), 2, "{failures:#?}");
    assert!(failures
        .iter()
        .all(|f| f.health.is_dark() && f.records == 1));

    let report = guard.check(Duration::from_secs(5));
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, CheckProblem::DeliveryStopped { .. })),
        "{report}"
    );
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!((stats.accepted, stats.failed), (2, 2), "{stats:?}");
}

#[test]
fn a_revoked_token_is_dark_and_transient_trouble_only_degraded() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(MAIN)
        .api_url(mock.url())
        .delivery(|d| d.retry(tracing_telegram::RetryPolicy::default().max_attempts(1)))
        .build()
        .unwrap();
    mock.script(Reply::ServerError(502));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        error!("first");
        guard.flush(Duration::from_secs(5));
        assert!(
            matches!(guard.health(), Health::Degraded { .. }),
            "{:?}",
            guard.health()
        );
        error!("second");
        guard.flush(Duration::from_secs(5));
        assert!(guard.health().is_healthy(), "a delivery clears it");
        mock.script(Reply::Unauthorized);
        error!("third");
        guard.flush(Duration::from_secs(5));
    });
    let health = guard.health();
    assert!(health.is_dark(), "{health:?}");
    assert!(!health.to_string().contains(mock.token()), "{health}");
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!((stats.sent, stats.failed), (1, 2), "{stats:?}");
}
