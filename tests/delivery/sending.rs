//! Delivery that keeps Telegram's rules and survives its failures, against
//! MockTelegram. Pacing and retry waits run on a virtual `TestClock` shared
//! with the mock, so minutes of pacing take milliseconds.

use crate::common;

use std::time::{Duration, Instant};

use common::{assert_accounted, builder, run_with, CHAT};
use serde_json::json;
use tracing::{error, info};
use tracing_telegram::testing::{parse_html, MockTelegram, Reply, TestClock};
use tracing_telegram::{Alert, AlertLevel, Destination, Pacing, RetryPolicy};

/// A mock and a builder sharing a virtual clock.
fn virtual_time() -> (MockTelegram, TestClock) {
    let mock = MockTelegram::start().unwrap();
    let clock = TestClock::new();
    mock.set_clock(clock.clone());
    (mock, clock)
}

#[test]
fn sixty_alerts_to_a_group_are_paced_under_telegrams_limits() {
    let (mock, clock) = virtual_time();
    mock.enforce_limits(Pacing::telegram());
    let started = clock.now();
    let (layer, guard) = builder(&mock)
        .delivery(|d| d.pacing(Pacing::telegram()))
        .clock(clock.clone())
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || {
        for i in 0..60 {
            error!("distinct failure {i}");
        }
    });
    assert_eq!(
        mock.count_status(429),
        0,
        "the pacer must never provoke a 429"
    );
    let messages = mock.messages();
    assert_eq!(messages.len(), 60);
    assert_eq!((stats.sent, stats.rate_limited), (60, 0), "{stats:?}");
    // Never more than 20 in any minute, nor 3 in any 3 s.
    for (i, message) in messages.iter().enumerate() {
        let within = |span: Duration| {
            messages[i..]
                .iter()
                .take_while(|m| m.received_at - message.received_at < span)
                .count()
        };
        assert!(within(Duration::from_secs(60)) <= 20, "message {i}");
        assert!(within(Duration::from_secs(3)) <= 3, "message {i}");
    }
    let took = messages[59].received_at - started;
    assert!(
        took >= Duration::from_secs(120),
        "60 messages at 20/min: {took:?}"
    );
}

#[test]
fn a_mock_that_enforces_limits_rejects_an_unpaced_burst() {
    // The check above can fail: without pacing the same mock answers 429.
    let (mock, clock) = virtual_time();
    mock.enforce_limits(Pacing::telegram());
    let (layer, guard) = builder(&mock)
        .clock(clock)
        .delivery(|d| d.retry(RetryPolicy::none()))
        .delivery(|d| d.max_retry_after(Duration::ZERO))
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || {
        for i in 0..10 {
            error!("burst {i}");
        }
    });
    assert!(mock.count_status(429) > 0);
    assert!(stats.rate_limited > 0, "{stats:?}");
}

#[test]
fn retry_after_is_obeyed_for_that_chat_and_nothing_is_lost() {
    let (mock, clock) = virtual_time();
    mock.script(Reply::TooManyRequests { retry_after: 3 });
    let (layer, guard) = builder(&mock).clock(clock).build().unwrap();
    let stats = run_with(layer, guard, || {
        error!("first");
        error!("second");
    });
    let requests = mock.requests();
    assert_eq!(requests[0].status, 429);
    assert_eq!(requests[1].status, 200);
    let waited = requests[1].received_at - requests[0].received_at;
    assert!(waited >= Duration::from_secs(3), "resent after {waited:?}");
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    assert_eq!(texts.len(), 2);
    assert!(
        texts[0].contains("first") && texts[1].contains("second"),
        "order kept"
    );
    assert_eq!(
        (stats.sent, stats.rate_limited, stats.retried),
        (2, 1, 1),
        "{stats:?}"
    );
}

#[test]
fn a_retry_after_beyond_the_cap_does_not_hold_up_shutdown() {
    let mock = MockTelegram::start().unwrap();
    mock.script(Reply::TooManyRequests { retry_after: 3600 });
    let (layer, guard) = builder(&mock).build().unwrap();
    let subscriber = tracing_subscriber::registry();
    use tracing_subscriber::prelude::*;
    tracing::subscriber::with_default(subscriber.with(layer), || {
        error!("told to wait an hour");
        error!("queued behind it");
    });
    common::wait_until("the first request to be refused", || {
        (!mock.requests().is_empty()).then_some(())
    });
    let started = Instant::now();
    let stats = guard.shutdown(Duration::from_secs(10));
    // Well short of the 10 s deadline (with room for a loaded machine).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!((stats.failed, stats.sent), (2, 0), "{stats:?}");
    assert_eq!(
        mock.requests().len(),
        1,
        "no request while the chat is blocked"
    );
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let (mock, clock) = virtual_time();
    for _ in 0..3 {
        mock.script(Reply::ServerError(502));
    }
    let (layer, guard) = builder(&mock).clock(clock).build().unwrap();
    let stats = run_with(layer, guard, || error!("eventually delivered"));
    assert_eq!(
        (stats.sent, stats.retried, stats.failed),
        (1, 3, 0),
        "{stats:?}"
    );
    assert_eq!(mock.requests().len(), 4);
    assert_eq!(mock.messages().len(), 1);
}

#[test]
fn retries_are_bounded_by_attempts() {
    let (mock, clock) = virtual_time();
    for _ in 0..10 {
        mock.script(Reply::ServerError(500));
    }
    let (layer, guard) = builder(&mock)
        .clock(clock)
        .delivery(|d| d.retry(RetryPolicy::default().max_attempts(4)))
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || error!("never delivered"));
    assert_eq!((stats.failed, stats.retried), (1, 3), "{stats:?}");
    assert_eq!(mock.requests().len(), 4);
    assert!(stats
        .last_error
        .unwrap()
        .contains("gave up after 4 attempts"));
}

#[test]
fn retries_are_bounded_by_the_time_budget() {
    let (mock, clock) = virtual_time();
    // More failures than attempts: with full jitter, ten retries can fit in
    // the budget (rarely), and an eleventh would then succeed.
    for _ in 0..100 {
        mock.script(Reply::ServerError(503));
    }
    let policy = RetryPolicy::default()
        .max_attempts(100)
        .base_delay(Duration::from_secs(10))
        .max_delay(Duration::from_secs(10))
        .budget(Duration::from_secs(25));
    let (layer, guard) = builder(&mock)
        .clock(clock)
        .delivery(|d| d.retry(policy))
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || error!("never delivered"));
    assert_eq!(stats.failed, 1, "{stats:?}");
    let requests = mock.requests();
    let spread = requests.last().unwrap().received_at - requests[0].received_at;
    assert!(spread <= Duration::from_secs(25), "{spread:?}");
}

#[test]
fn an_invalid_token_stops_all_sending() {
    let mock = MockTelegram::start().unwrap();
    mock.hang(true);
    let (layer, guard) = tracing_telegram::TelegramLayer::builder()
        .bot_token("111111:AAwrongTokenForThisMock_0123456789ab")
        .chat_id(CHAT)
        .api_url(mock.url())
        .dedup(|d| d.window(Duration::ZERO))
        .build()
        .unwrap();
    use tracing_subscriber::prelude::*;
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..10 {
            error!("queued {i}");
        }
        mock.hang(false); // the first request now gets its 401
        assert!(guard.flush(Duration::from_secs(5)));
        for i in 0..5 {
            error!("after the 401 {i}");
        }
    });
    let stats = guard.shutdown(Duration::from_secs(5));
    assert!(mock.requests().len() <= 2, "{:?}", mock.requests());
    assert_eq!(
        (stats.failed, stats.sent, stats.retried),
        (15, 0, 0),
        "{stats:?}"
    );
    assert!(stats
        .last_error
        .unwrap()
        .contains("token is invalid or revoked"));
}

#[test]
fn a_chat_that_kicked_the_bot_is_given_up_but_others_still_work() {
    let mock = MockTelegram::start().unwrap();
    mock.script(Reply::Forbidden(
        "bot was kicked from the group chat".into(),
    ));
    let (layer, guard) = builder(&mock)
        .routes(|r| r.level(AlertLevel::Info, Destination::chat(-100777)))
        .min_level(tracing::Level::INFO)
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || {
        error!("to the kicked chat");
        error!("also to the kicked chat");
        info!("to the other chat");
    });
    assert_eq!(
        mock.requests().len(),
        2,
        "one 403, then only the other chat"
    );
    let messages = mock.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].chat_id, json!(-100777));
    assert_eq!((stats.failed, stats.sent), (2, 1), "{stats:?}");
}

#[test]
fn a_migrated_group_is_followed_to_its_new_id() {
    let mock = MockTelegram::start().unwrap();
    mock.script(Reply::MigrateTo(-1009999));
    let (layer, guard) = builder(&mock).build().unwrap();
    let stats = run_with(layer, guard, || {
        error!("one");
        error!("two");
    });
    let chats: Vec<_> = mock.messages().iter().map(|m| m.chat_id.clone()).collect();
    assert_eq!(chats, [json!(-1009999), json!(-1009999)]);
    assert_eq!((stats.sent, stats.chat_migrations), (2, 1), "{stats:?}");
}

#[test]
fn rejected_markup_is_resent_as_plain_text() {
    let mock = MockTelegram::start().unwrap();
    mock.script(Reply::ParseError);
    let (layer, guard) = builder(&mock).build().unwrap();
    let stats = run_with(layer, guard, || {
        error!(query = "a < b", "bad <markup> & more")
    });
    let message = &mock.messages()[0];
    assert_eq!(message.parse_mode, None);
    assert!(
        message.text.contains("bad <markup> & more"),
        "{}",
        message.text
    );
    assert!(message.text.contains("query: a < b"), "{}", message.text);
    assert!(!message.text.contains("<b>"), "{}", message.text);
    assert_eq!(
        (stats.sent, stats.plain_text_fallbacks),
        (1, 1),
        "{stats:?}"
    );
}

#[test]
fn a_long_traceback_continues_over_several_messages() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let traceback: String = (0..400)
        .map(|i| format!("  at frame_{i:03} (src/deep/module.rs:{i})\n"))
        .collect();
    assert!(traceback.len() > 15_000);
    let stats = run_with(layer, guard, || {
        error!("worker crashed\nTraceback:\n{traceback}");
    });
    let messages = mock.messages();
    assert_eq!(messages.len(), 4, "1 message + 3 continuations");
    for (i, message) in messages.iter().enumerate() {
        parse_html(&message.text).expect("every page is valid HTML");
        assert!(message.visible_units() <= 4096);
        assert_eq!(
            message.disable_notification,
            i > 0,
            "only the first page notifies"
        );
    }
    let all: String = messages.iter().map(|m| m.plain_text()).collect();
    assert!(
        all.contains("frame_000") && all.contains("frame_250"),
        "pages carry on"
    );
    assert!(messages[1]
        .plain_text()
        .starts_with("🔴 ERROR · orders-api · part 2"));
    assert!(
        messages[3].plain_text().contains("✂️ truncated"),
        "what does not fit is marked"
    );
    assert_eq!((stats.accepted, stats.sent), (1, 1), "{stats:?}");
}

#[test]
fn levels_are_routed_and_info_is_silent_and_content_protected() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .thread_id(3)
        .routes(|r| {
            r.level(AlertLevel::Critical, Destination::thread(7))
                .level(AlertLevel::Info, Destination::chat("@ops_digest"))
        })
        .delivery(|d| d.protect_content(true))
        .build()
        .unwrap();
    let handle = guard.handle();
    run_with(layer, guard, || {
        error!("an ordinary error");
        handle.send(Alert::new(AlertLevel::Critical, "database down"));
        handle.send(Alert::new(AlertLevel::Info, "deploy finished"));
    });
    let messages = mock.messages();
    let routes: Vec<_> = messages
        .iter()
        .map(|m| {
            (
                m.chat_id.clone(),
                m.message_thread_id,
                m.disable_notification,
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            (json!(CHAT), Some(3), false),
            (json!(CHAT), Some(7), false),
            (json!("@ops_digest"), None, true),
        ]
    );
    assert!(messages
        .iter()
        .all(|m| m.protect_content && m.link_preview_disabled));
}

#[test]
fn shutdown_counts_what_pacing_could_not_send_in_time() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .delivery(|d| d.pacing(Pacing::telegram())) // real time: 3 go at once, then 1/s
        .build()
        .unwrap();
    use tracing_subscriber::prelude::*;
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..10 {
            error!("paced {i}");
        }
    });
    let started = Instant::now();
    let stats = guard.shutdown(Duration::from_millis(1500));
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert!(stats.sent >= 3 && stats.sent < 10, "{stats:?}");
    assert_eq!(stats.failed, 10 - stats.sent, "{stats:?}");
    assert_accounted(&stats);
}

/// The application's own `reqwest::Client` carries the alerts (its user
/// agent reaches the Bot API), and the crate's request timeout still bounds
/// each request it sends.
#[test]
fn an_applications_own_http_client_is_used_and_still_bounded() {
    let mock = MockTelegram::start().unwrap();
    let client = reqwest::Client::builder()
        .user_agent("billing-service/2.4")
        .build()
        .unwrap();
    let (layer, guard) = common::default_builder(&mock)
        .delivery(|d| d.http_client(client.clone()))
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || error!("ledger unavailable"));
    assert_eq!(stats.sent, 1, "{stats:?}");
    let agents: Vec<_> = mock.requests().into_iter().map(|r| r.user_agent).collect();
    assert_eq!(agents, [Some("billing-service/2.4".to_owned())]);

    mock.hang(true);
    let (layer, guard) = common::default_builder(&mock)
        .delivery(|d| d.http_client(client))
        .delivery(|d| d.request_timeout(Duration::from_millis(300)))
        .delivery(|d| d.retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let started = Instant::now();
    let stats = run_with(layer, guard, || error!("still unavailable"));
    assert_eq!(stats.failed, 1, "{stats:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the request timeout"
    );
    mock.hang(false);
}

#[test]
fn the_built_in_client_names_the_crate() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    run_with(layer, guard, || error!("ledger unavailable"));
    let agent = mock.requests()[0].user_agent.clone().unwrap_or_default();
    assert!(agent.starts_with("tracing-telegram/"), "{agent}");
}
