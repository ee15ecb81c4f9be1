//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod corpus;
pub mod failures;
pub mod redis;

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_subscriber::Registry;
use tracing_telegram::testing::{MockTelegram, SentMessage};
use tracing_telegram::{Builder, FilteredLayer, Pacing, Stats, TelegramGuard, TelegramLayer};

/// The group chat every test posts to.
pub const CHAT: i64 = -1_001_234_567_890;

/// A builder pointed at `mock`, with recognisable service and environment.
/// Pacing is off: tests that are not about pacing should not wait for it
/// (the pacing tests set it, with a virtual clock). Deduplication is off, so
/// that "failure 1" and "failure 2" are two alerts (the dedup tests set it).
pub fn builder(mock: &MockTelegram) -> Builder {
    TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(CHAT)
        .api_url(mock.url())
        .service("orders-api")
        .environment("staging")
        .delivery(|d| d.pacing(Pacing::disabled()))
        .dedup(|d| d.window(std::time::Duration::ZERO))
}

/// A builder pointed at `mock` with the default settings (dedup on,
/// default thresholds); only pacing is off, since the tests are not about it.
pub fn default_builder(mock: &MockTelegram) -> Builder {
    TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(CHAT)
        .api_url(mock.url())
        .delivery(|d| d.pacing(Pacing::disabled()))
}

/// A builder pointed at `mock` with every default (pacing included),
/// pacing and retry waits on a virtual clock shared with the mock (so that
/// Telegram's limits cost no real time); the clock, to move windows on.
pub fn default_builder_on_virtual_clock(
    mock: &MockTelegram,
) -> (Builder, tracing_telegram::testing::TestClock) {
    let clock = tracing_telegram::testing::TestClock::new();
    mock.set_clock(clock.clone());
    let builder = TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(CHAT)
        .api_url(mock.url())
        .clock(clock.clone());
    (builder, clock)
}

/// Runs `body` with only `layer` installed (thread-local, so tests do not
/// interfere), then shuts the guard down and returns its stats.
pub fn run_with(
    layer: FilteredLayer<Registry>,
    guard: TelegramGuard,
    body: impl FnOnce(),
) -> Stats {
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, body);
    guard.shutdown(Duration::from_secs(10))
}

/// Asserts the accounting invariant of `Stats`.
pub fn assert_accounted(stats: &Stats) {
    assert_eq!(
        stats.accepted,
        stats.sent + stats.deduplicated + stats.batched + stats.dropped + stats.failed,
        "every accepted record must be accounted for: {stats:?}"
    );
}

/// The messages that notify (alerts), leaving out silent ones (digests,
/// tallies, Info).
pub fn notifying(messages: &[SentMessage]) -> Vec<&SentMessage> {
    messages
        .iter()
        .filter(|m| !m.disable_notification)
        .collect()
}

/// The message [`fail_kind`] logs for `kind`.
#[allow(dead_code)] // not every test binary uses it
pub fn kind_message(kind: u64) -> &'static str {
    KIND_MESSAGES[usize::try_from(kind)
        .unwrap_or(usize::MAX)
        .min(KIND_MESSAGES.len() - 1)]
}

const KIND_MESSAGES: [&str; 10] = [
    "payment provider refused the charge",
    "ledger out of balance",
    "inventory sync failed",
    "cache stampede",
    "mail relay rejected the message",
    "search index offline",
    "refund window expired",
    "tax service timed out",
    "fraud check unavailable",
    "shipping quote failed",
];

/// The ten failures of the flood tests, each with its own callsite.
pub fn fail_kind(kind: u64, attempt: u64) {
    match kind {
        0 => tracing::error!(attempt, "payment provider refused the charge"),
        1 => tracing::error!(attempt, "ledger out of balance"),
        2 => tracing::error!(attempt, "inventory sync failed"),
        3 => tracing::error!(attempt, "cache stampede"),
        4 => tracing::error!(attempt, "mail relay rejected the message"),
        5 => tracing::error!(attempt, "search index offline"),
        6 => tracing::error!(attempt, "refund window expired"),
        7 => tracing::error!(attempt, "tax service timed out"),
        8 => tracing::error!(attempt, "fraud check unavailable"),
        _ => tracing::error!(attempt, "shipping quote failed"),
    }
}

/// The occurrences the chat's tallies show, summed over the alerts (an
/// alert without a tally happened once).
pub fn tallied(texts: &[String]) -> u64 {
    texts
        .iter()
        .map(|text| {
            text.split("🔁 ×")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(1)
        })
        .sum()
}

/// Two threads each emit `per_thread` errors of the ten flood kinds
/// through `dispatch`; returns when both are done.
pub fn flood_ten_kinds(dispatch: &tracing::Dispatch, per_thread: u64) {
    let threads: Vec<_> = (0..2)
        .map(|thread| {
            let dispatch = dispatch.clone();
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for attempt in 0..per_thread {
                        fail_kind((attempt + thread * 5) % 10, attempt);
                    }
                });
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// A flood of `total` errors of the ten kinds was accepted whole, nothing
/// dropped, each kind named in the chat (an alert of its own, or a line of
/// an incident), and the counts shown add up to it.
pub fn assert_flood_tallied(stats: &Stats, mock: &MockTelegram, total: u64) {
    assert_eq!(stats.accepted, total, "{stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_accounted(stats);
    let texts: Vec<String> = notifying(&mock.messages())
        .iter()
        .map(|m| m.plain_text())
        .collect();
    for kind in 0..10 {
        let message = kind_message(kind);
        assert!(
            texts.iter().any(|text| text.contains(message)),
            "{message} is not named: {texts:#?}"
        );
    }
    assert_eq!(counts_shown(&texts), total, "{texts:#?}");
}

/// The chat tells a storm's size: the largest count a message shows is at
/// least 99 % of the `emitted` occurrences.
pub fn assert_storm_size_told(messages: &[SentMessage], emitted: u64) {
    let largest = messages
        .iter()
        .filter_map(SentMessage::largest_count)
        .max()
        .unwrap_or(0);
    let texts: Vec<String> = messages.iter().map(SentMessage::plain_text).collect();
    assert!(
        largest * 100 >= 99 * emitted,
        "the chat shows at most ×{largest} of {emitted}: {texts:#?}"
    );
}

/// The occurrences the chat shows, summed: each alert's tally (or 1), and
/// each line of an incident for a kind without an alert of its own
/// (`title · ×N`; a line marked `↑` is counted by its own alert).
pub fn counts_shown(texts: &[String]) -> u64 {
    let (incidents, alerts): (Vec<String>, Vec<String>) = texts
        .iter()
        .cloned()
        .partition(|text| text.contains("INCIDENT"));
    let in_incidents: u64 = incidents
        .iter()
        .flat_map(|text| text.lines().skip(4))
        .filter(|line| !line.ends_with('↑'))
        .filter_map(|line| line.rsplit_once(" · ×"))
        .filter_map(|(_, count)| count.trim().parse::<u64>().ok())
        .sum();
    tallied(&alerts) + in_incidents
}

/// Serves `app` on loopback, sends a GET for each path in turn, stops the
/// server, and returns the statuses.
pub async fn get_each(app: axum::Router, paths: &[&str]) -> Vec<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for path in paths {
        let response = client
            .get(format!("http://{address}{path}"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    server.abort();
    statuses
}

/// Waits (up to 10 s) until `condition` gives a value, looking every 20 ms;
/// panics naming `what` if it never does. For what no flush can wait on:
/// another process, Redis, the chat.
pub fn wait_until<T>(what: &str, mut condition: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (up to 10 s) until message `id` satisfies `done` (an edit may
/// still be on its way); the message.
pub fn wait_for_message(
    mock: &MockTelegram,
    id: i64,
    done: impl Fn(&SentMessage) -> bool,
) -> SentMessage {
    wait_until(&format!("message {id} to change"), || {
        let message = mock
            .messages()
            .into_iter()
            .find(|m| m.message_id == id)
            .expect("the message exists");
        done(&message).then_some(message)
    })
}

/// This test binary run again for one `#[ignore]`d test, `test` of the
/// caller's `module_path!()`: a child process whose environment and stderr
/// the parent controls.
pub fn child(module: &str, test: &str) -> std::process::Command {
    // The module path starts with the binary's name, which test names omit.
    let name = match module.split_once("::") {
        Some((_, path)) => format!("{path}::{test}"),
        None => test.to_owned(),
    };
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", &name, "--ignored", "--nocapture"]);
    command
}

/// In a child process of a fleet test: a builder with the default
/// settings, pointed at the mock and the Redis its parent named in
/// `{var}_TOKEN`, `{var}_API_URL` and `{var}_REDIS_URL`; Redis calls bounded
/// generously (the machine may be loaded), pacing off (the subject is the
/// fleet, not Telegram's limits).
pub fn fleet_child_builder(var: &str) -> Builder {
    let env = |name: &str| {
        let name = format!("{var}_{name}");
        std::env::var(&name).unwrap_or_else(|_| panic!("{name} is not set"))
    };
    TelegramLayer::builder()
        .bot_token(env("TOKEN"))
        .chat_id(CHAT)
        .api_url(env("API_URL"))
        .fleet(|f| f.redis_url(env("REDIS_URL")))
        .fleet(|f| f.timeout(Duration::from_secs(2)))
        .delivery(|d| d.pacing(Pacing::disabled()))
}

/// The environment [`fleet_child_builder`] reads, for the child `command`.
pub fn point_child_at(
    command: &mut std::process::Command,
    var: &str,
    mock: &MockTelegram,
    redis_url: &str,
) {
    command
        .env(format!("{var}_TOKEN"), mock.token())
        .env(format!("{var}_API_URL"), mock.url())
        .env(format!("{var}_REDIS_URL"), redis_url);
}

/// In a child process of a fleet test: says everything was emitted, then
/// waits until the parent says go (so that no process stops before every
/// one has emitted).
pub fn emitted_then_wait_for_go() {
    println!("CHILD-EMITTED");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
}

/// Starts a child with its input and output piped.
pub fn spawn_piped(command: &mut std::process::Command) -> std::process::Child {
    use std::process::Stdio;
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the child says it has emitted everything. (It prints
/// nothing more until told to go on, so no buffered output is lost.)
pub fn await_emitted(mut child: std::process::Child) -> std::process::Child {
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    let mut reader = std::io::BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader.read_line(&mut line).unwrap();
        assert!(read > 0, "the child ended before emitting: {child:?}");
        if line.starts_with("CHILD-EMITTED") {
            break;
        }
    }
    child.stdout = Some(reader.into_inner());
    child
}

/// Tells each child that waited in [`emitted_then_wait_for_go`] to go on.
pub fn tell_to_go(children: &mut [std::process::Child]) {
    use std::io::Write;
    for child in children {
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    }
}

/// Quiet hours in UTC from `start` to `end` minutes after the current UTC
/// minute (set around the test's own time).
pub fn quiet_hours_around_now(start: i64, end: i64) -> tracing_telegram::QuietHours {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let minute = |offset: i64| {
        let m = (now / 60 + offset).rem_euclid(24 * 60);
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    tracing_telegram::QuietHours::parse(&format!("{}-{} UTC", minute(start), minute(end))).unwrap()
}
