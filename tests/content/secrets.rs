//! The bot token never appears in Debug output, errors, stats or anything
//! the crate prints.

use crate::common;

use common::{builder, run_with};
use tracing::error;
use tracing_telegram::testing::{MockTelegram, Reply};
use tracing_telegram::{RetryPolicy, TelegramLayer};

/// The secret half of the tokens used below.
const SECRET: &str = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const TOKEN: &str = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

/// A layer with the secret token whose Bot API cannot be reached (nothing
/// listens on the port once the probe listener is dropped), without retries.
fn unreachable_api() -> (
    tracing_telegram::FilteredLayer<tracing_subscriber::Registry>,
    tracing_telegram::TelegramGuard,
) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    TelegramLayer::builder()
        .bot_token(TOKEN)
        .chat_id(-100)
        .api_url(format!("http://127.0.0.1:{port}"))
        .delivery(|d| d.retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

#[test]
fn debug_output_never_shows_the_token() {
    let mock = MockTelegram::with_token(TOKEN).unwrap();
    let builder = builder(&mock);
    let (layer, guard) = builder
        .clone()
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let handle = guard.handle();
    for text in [
        format!("{builder:?}"),
        format!("{layer:?}"),
        format!("{guard:?}"),
        format!("{handle:?}"),
        format!("{mock:?}"),
        format!("{:?}", guard.stats()),
    ] {
        assert!(!text.contains(SECRET), "token in {text}");
    }
    assert!(format!("{builder:?}").contains("<redacted>"));
}

#[test]
fn delivery_errors_never_show_the_token() {
    let (layer, guard) = unreachable_api();
    let stats = run_with(layer, guard, || error!("unreachable API"));
    assert_eq!(stats.failed, 1);
    let reason = stats.last_error.unwrap();
    assert!(reason.contains("could not connect"), "{reason}");
    assert!(!reason.contains(SECRET), "{reason}");

    let mock = MockTelegram::start().unwrap();
    mock.script(Reply::Unauthorized);
    let (layer, guard) = TelegramLayer::builder()
        .bot_token(TOKEN) // not the mock's: every request is a 401
        .chat_id(-100)
        .api_url(mock.url())
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || error!("wrong token"));
    let reason = stats.last_error.unwrap();
    assert!(reason.contains("401"), "{reason}");
    assert!(!reason.contains(SECRET), "{reason}");
}

#[test]
fn the_token_inside_an_event_is_redacted_before_sending() {
    let mock = MockTelegram::with_token(TOKEN).unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    run_with(layer, guard, || {
        let url = format!("https://api.telegram.org/bot{TOKEN}/sendMessage");
        let _span = tracing::info_span!("client", note = SECRET).entered();
        error!(url = %url, "request to {url} failed");
    });
    let message = &mock.messages()[0];
    assert!(!message.text.contains(SECRET), "{}", message.text);
    assert_eq!(
        message.plain_text().matches("[redacted bot token]").count(),
        3
    );
}

/// Runs in a child process (see below) so that its stderr can be read.
#[test]
#[ignore = "run by printed_output_never_shows_the_token in a child process"]
fn child_prints_delivery_failures() {
    let (layer, guard) = unreachable_api();
    let stats = run_with(layer, guard, || error!("token {TOKEN} in the message"));
    println!("stats: {stats:?}");
    eprintln!("stats: {stats:?}");
    assert_eq!(stats.failed, 1);
}

#[test]
fn printed_output_never_shows_the_token() {
    let output = common::child(module_path!(), "child_prints_delivery_failures")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("tracing-telegram: could not deliver an alert"),
        "the failure is reported on stderr:\n{stderr}"
    );
    assert!(stdout.contains("stats: Stats"), "{stdout}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stdout}\n{stderr}"
    );
}
