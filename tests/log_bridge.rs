//! Libraries that log through the `log` crate, bridged with
//! `tracing_log::LogTracer`: the alert names the log record's own target,
//! file and line (not "log"), its `log.*` fields are not listed, kinds from
//! different targets are told apart, `skip_targets` applies, and the
//! application's own HTTP client logging an error through `log` alerts
//! like any code (the crate's own stack is silent by origin: see
//! `feedback_loop`). Its own test binary: `LogTracer` is the process's one
//! `log` logger.

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::TelegramLayer;

#[test]
fn log_records_alert_with_their_own_origin_under_the_default_settings() {
    tracing_log::LogTracer::init().unwrap();
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(-100)
        .api_url(mock.url())
        .capture(|c| c.skip_targets(["noisy_dependency"]))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    let line = line!() + 3;
    tracing::subscriber::with_default(subscriber, || {
        for order in 0..3 {
            log::error!(target: "payments::gateway", "charge failed for order {order}");
        }
        log::error!(target: "ledger::post", "charge failed for order 9");
        log::error!(target: "noisy_dependency::pool", "connection reset");
        log::error!(target: "hyper::proto::h1", "connection error");
        log::warn!(target: "payments::gateway", "retrying the charge");
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    let messages = mock.messages();
    let alerts: Vec<String> = messages
        .iter()
        .filter(|m| !m.disable_notification)
        .map(|m| m.plain_text())
        .collect();
    // Three kinds by target within seconds: two alerts, then an incident
    // naming the third.
    assert_eq!(
        alerts.len(),
        3,
        "three kinds, by target: {alerts:#?} {stats:?}"
    );
    let payments = &alerts[0];
    assert!(
        payments.contains(&format!(
            "📍 payments::gateway at tests/log_bridge.rs:{line}"
        )),
        "{payments}"
    );
    assert!(!payments.contains("log.target"), "{payments}");
    assert!(!payments.contains("log.file"), "{payments}");
    assert!(
        payments.contains("🔁 ×3"),
        "the repeats are one kind: {payments}"
    );
    assert!(alerts[1].contains("📍 ledger::post"), "{}", alerts[1]);
    assert!(
        alerts.iter().all(|t| !t.contains("connection reset")),
        "skip_targets: {alerts:#?}"
    );
    assert!(
        alerts[2].contains("INCIDENT") && alerts[2].contains("connection error · ×1"),
        "the application's own hyper error: {}",
        alerts[2]
    );
    let digest = messages.last().unwrap().plain_text();
    assert!(
        digest.contains("payments::gateway: retrying the charge"),
        "the warning's own target in the digest: {digest}"
    );
}
