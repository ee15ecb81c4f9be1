//! The built-in HTTP client goes through the proxy the usual environment
//! variables name. The child process (where the variable is set before
//! anything reads it) posts to an API host that does not exist; the only
//! way its alert can arrive is through the proxy, which is MockTelegram
//! (a forward proxy for plain HTTP receives the request with its full URL
//! and routes it by path).

use crate::common;

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::TelegramLayer;

#[test]
#[ignore = "run by alerts_go_through_the_proxy_of_http_proxy in a child process"]
fn child_behind_a_proxy() {
    let (layer, guard) = TelegramLayer::builder()
        .bot_token(tracing_telegram::testing::MOCK_TOKEN)
        .chat_id(common::CHAT)
        .api_url("http://api.telegram.invalid")
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!("payment provider refused the charge");
    });
    let stats = guard.shutdown(Duration::from_secs(10));
    assert_eq!(stats.sent, 1, "{stats:?}");
}

#[test]
fn alerts_go_through_the_proxy_of_http_proxy() {
    let mock = MockTelegram::start().unwrap();
    let output = common::child(module_path!(), "child_behind_a_proxy")
        .env("HTTP_PROXY", mock.url())
        .env("http_proxy", mock.url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stderr}");
    let messages = mock.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(messages[0]
        .plain_text()
        .contains("payment provider refused the charge"));
}
