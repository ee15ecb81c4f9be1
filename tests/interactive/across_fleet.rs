//! Interactive alerts in a fleet: two real processes share one Redis.
//! Exactly one polls Telegram (the leader lock); a mute pressed through the
//! leader is honoured by the other process at once; when the leader is
//! killed (SIGKILL, no goodbye), the other takes the lock over and answers
//! the next press, showing what the dead leader recorded (the ack). Default
//! settings (dedup on) with `interactive(true)`.
#![cfg(feature = "redis")]

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::TelegramLayer;

#[derive(Debug)]
struct PaymentError;

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card issuer unreachable")
    }
}

impl std::error::Error for PaymentError {}

#[tracing::instrument(err)]
fn charge(order: u64) -> Result<(), PaymentError> {
    Err(PaymentError)
}

/// One process of the fleet (run by the tests here and in `lifecycle`, in
/// child processes): fails once per `fail` line (`#[instrument(err)]`),
/// logs "ledger unavailable" once per `ledger` line, stops at `exit`.
/// logs a Critical "ledger lost its data" per `critical` line. Optional
/// settings: `FLEET_VERSION`, `FLEET_WINDOW_MS` (the dedup window),
/// `FLEET_ESCALATE_MS` (Error alerts, mentioning `@alice_ops`),
/// `FLEET_QUIET_HOURS` (any value: quiet hours around the current time).
#[test]
#[ignore = "run by the fleet tests of interactive alerts in child processes"]
fn child_member() {
    let env = |name: &str| std::env::var(name).expect(name);
    let millis = |name: &str| {
        let value = std::env::var(name).ok()?;
        Some(Duration::from_millis(value.parse().unwrap()))
    };
    let mut builder = TelegramLayer::builder();
    if let Ok(version) = std::env::var("FLEET_VERSION") {
        builder = builder.service_version(version);
    }
    if std::env::var("FLEET_QUIET_HOURS").is_ok() {
        let hours = common::quiet_hours_around_now(-60, 60);
        builder = builder.delivery(|d| d.quiet_hours(hours));
    }
    if let Some(window) = millis("FLEET_WINDOW_MS") {
        builder = builder.dedup(|d| d.window(window));
    }
    if let Some(after) = millis("FLEET_ESCALATE_MS") {
        builder = builder.interactive(|i| {
            i.escalate_after(tracing_telegram::AlertLevel::Error, after)
                .on_call(["@alice_ops"])
        });
    }
    let (layer, guard) = builder
        .bot_token(env("FLEET_TOKEN"))
        .chat_id(common::CHAT)
        .api_url(env("FLEET_API_URL"))
        .fleet(|f| f.redis_url(env("FLEET_REDIS_URL")))
        .fleet(|f| f.key_prefix(env("FLEET_PREFIX")))
        .fleet(|f| f.timeout(Duration::from_secs(2)))
        .delivery(|d| d.pacing(tracing_telegram::Pacing::disabled()))
        .interactive(|i| i.enabled(true))
        .interactive(|i| i.poll_timeout(Duration::from_secs(1)))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    let _default = tracing::subscriber::set_default(subscriber);
    println!("READY {}", std::process::id());
    let mut order = 0;
    for line in std::io::stdin().lines() {
        match line.unwrap().as_str() {
            "fail" => {
                order += 1;
                let _ = charge(order);
                assert!(guard.flush(Duration::from_secs(10)));
                println!("DONE");
            }
            "ledger" => {
                tracing::error!("ledger unavailable");
                assert!(guard.flush(Duration::from_secs(10)));
                println!("DONE");
            }
            "critical" => {
                tracing::error!(telegram.level = "critical", "ledger lost its data");
                assert!(guard.flush(Duration::from_secs(10)));
                println!("DONE");
            }
            _ => break,
        }
    }
    let stats = guard.shutdown(Duration::from_secs(10));
    common::assert_accounted(&stats);
    println!("STATS {} {}", stats.sent, stats.batched);
}

/// A child process running [`child_member`].
pub(crate) struct Member {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pid: u32,
}

impl Member {
    fn start(mock: &MockTelegram, url: &str, prefix: &str) -> Member {
        Member::start_with(mock, url, prefix, &[])
    }

    /// A member with the optional settings `settings` (see [`child_member`]).
    pub(crate) fn start_with(
        mock: &MockTelegram,
        url: &str,
        prefix: &str,
        settings: &[(&str, &str)],
    ) -> Member {
        let mut child = common::child(module_path!(), "child_member")
            .envs(settings.iter().copied())
            .env("FLEET_TOKEN", mock.token())
            .env("FLEET_API_URL", mock.url())
            .env("FLEET_REDIS_URL", url)
            .env("FLEET_PREFIX", prefix)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let ready = read_until(&mut stdout, "READY ");
        let pid = ready.trim().parse().unwrap();
        Member {
            child,
            stdin,
            stdout,
            pid,
        }
    }

    pub(crate) fn fail(&mut self) {
        self.run("fail");
    }

    /// Runs one command of [`child_member`] and waits until it is done.
    pub(crate) fn run(&mut self, command: &str) {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .unwrap();
        read_until(&mut self.stdout, "DONE");
    }

    /// Stops it and returns (sent, batched).
    pub(crate) fn exit(mut self) -> (u64, u64) {
        self.stdin.write_all(b"exit\n").unwrap();
        let line = read_until(&mut self.stdout, "STATS ");
        assert!(self.child.wait().unwrap().success());
        let counts: Vec<u64> = line
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        (counts[0], counts[1])
    }
}

/// Reads lines until one starts with `prefix`; the rest of it.
fn read_until(stdout: &mut BufReader<ChildStdout>, prefix: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let read = stdout.read_line(&mut line).unwrap();
        assert!(read > 0, "the child ended before printing {prefix:?}");
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
}

/// The pid of the process holding the leader lock (waits up to 10 s).
fn leader_pid(redis: &mut redis::Connection, prefix: &str) -> u32 {
    common::wait_until("a process to take the lead", || {
        let holder: Option<String> = redis::cmd("GET")
            .arg(format!("{{{prefix}}}:interactive:leader"))
            .query(redis)
            .unwrap();
        holder.and_then(|h| h.split('-').next()?.parse().ok())
    })
}

#[test]
fn a_fleet_polls_once_and_a_new_leader_takes_over() {
    let Some(url) = common::redis::shared_redis("a_fleet_polls_once") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = common::redis::unique_prefix("interactive");
    let mut redis = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let members = [
        Member::start(&mock, &url, &prefix),
        Member::start(&mock, &url, &prefix),
    ];
    let leader = leader_pid(&mut redis, &prefix);
    let [first, second] = members;
    let (leading, mut other) = if first.pid == leader {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(leading.pid, leader);

    other.fail();
    let alerts = common::notifying(&mock.messages()).len();
    assert_eq!(alerts, 1);
    let alert = mock.messages().remove(0);
    assert_eq!(
        mock.press(alert.message_id, 42, "✅ Ack").as_deref(),
        Some("✅ Acknowledged")
    );
    let toast = mock.press(alert.message_id, 42, "🔕 1 h");
    assert_eq!(toast.as_deref(), Some("🔕 Muted for 1 h"));
    common::wait_for_message(&mock, alert.message_id, |m| {
        m.buttons() == ["🔔 Unmute", "📄 Report"]
    });
    let mutes: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}:mute:*"))
        .query(&mut redis)
        .unwrap();
    assert_eq!(mutes.len(), 1, "the mute lives in Redis");
    let ttl: i64 = redis::cmd("PTTL").arg(&mutes[0]).query(&mut redis).unwrap();
    assert!((3_500_000..=3_600_000).contains(&ttl), "for an hour: {ttl}");

    // The process that did not handle the press honours the mute at once:
    // no new alert, no tally edit.
    let muted = common::wait_for_message(&mock, alert.message_id, |_| true);
    for _ in 0..10 {
        other.fail();
    }
    assert_eq!(
        common::notifying(&mock.messages()).len(),
        1,
        "muted fleet-wide"
    );
    assert_eq!(
        common::wait_for_message(&mock, alert.message_id, |_| true).text,
        muted.text,
        "no tally edit at ×10"
    );
    let conflicts = mock.count_status(409);
    assert_eq!(conflicts, 0, "one poller at a time");

    // The leader dies without a word; the other takes the lock over.
    let mut dead = leading.child;
    dead.kill().unwrap();
    dead.wait().unwrap();
    drop(leading.stdin);
    assert_eq!(leader_pid_after(&mut redis, &prefix, leader), other.pid);
    let toast = mock.press(alert.message_id, 42, "🔔 Unmute");
    assert_eq!(
        toast.as_deref(),
        Some("🔔 Unmuted"),
        "answered by the new leader"
    );
    let unmuted = common::wait_for_message(&mock, alert.message_id, |m| m.buttons().len() == 3);
    assert!(
        unmuted.plain_text().contains("✅ Acknowledged by @user42"),
        "what the dead leader recorded is kept: {}",
        unmuted.plain_text()
    );
    assert_eq!(unmuted.buttons(), ["🔕 1 h", "🔕 24 h", "📄 Report"]);

    other.fail();
    assert_eq!(
        common::notifying(&mock.messages()).len(),
        2,
        "unmuted: alerted anew"
    );
    let (sent, _batched) = other.exit();
    assert_eq!(sent, 2, "its two alerts");
}

/// The pid of the leader once it is no longer `old` (waits up to 15 s).
fn leader_pid_after(redis: &mut redis::Connection, prefix: &str, old: u32) -> u32 {
    common::wait_until("a process to take the lead over", || {
        let pid = leader_pid(redis, prefix);
        (pid != old).then_some(pid)
    })
}

/// The process holding an alert's window did not handle the mute (another
/// leads): when its window ends, its final tally does not edit the muted
/// alert.
#[test]
fn a_muted_alert_gets_no_tally_from_the_process_that_holds_it() {
    let Some(url) = common::redis::shared_redis("muted_holder") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = common::redis::unique_prefix("muted_holder");
    let member = |clock: Option<tracing_telegram::testing::TestClock>| {
        let mut builder = common::default_builder(&mock)
            .fleet(|f| f.redis_url(&url))
            .fleet(|f| f.key_prefix(&prefix))
            .interactive(|i| i.enabled(true))
            .interactive(|i| i.poll_timeout(Duration::from_secs(1)));
        if let Some(clock) = clock {
            builder = builder.clock(clock);
        }
        let (layer, guard) = builder.build().unwrap();
        (
            tracing::Dispatch::new(tracing_subscriber::registry().with(layer)),
            guard,
        )
    };
    let (leader, leader_guard) = member(None);
    let mut redis = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    assert_eq!(leader_pid(&mut redis, &prefix), std::process::id());
    let clock = tracing_telegram::testing::TestClock::new();
    let (holder, holder_guard) = member(Some(clock.clone()));
    tracing::dispatcher::with_default(&holder, || {
        for order in 0..3 {
            let _ = charge(order);
        }
    });
    assert!(holder_guard.flush(Duration::from_secs(10)));
    let alert = mock.messages().remove(0);
    assert_eq!(
        mock.press(alert.message_id, 42, "🔕 1 h").as_deref(),
        Some("🔕 Muted for 1 h")
    );
    let muted = common::wait_for_message(&mock, alert.message_id, |m| {
        m.buttons() == ["🔔 Unmute", "📄 Report"]
    });

    clock.advance(Duration::from_secs(11 * 60)); // the holder's window ends
                                                 // The flush is answered once the window's end has been handled (and
                                                 // any edit it made delivered).
    assert!(holder_guard.flush(Duration::from_secs(10)));
    let after = common::wait_for_message(&mock, alert.message_id, |_| true);
    assert_eq!(after.text, muted.text, "no tally edit while muted");
    drop((holder, leader));
    let _ = holder_guard.shutdown(Duration::from_secs(10));
    let _ = leader_guard.shutdown(Duration::from_secs(10));
    let last = common::wait_for_message(&mock, alert.message_id, |_| true);
    assert!(
        !last.plain_text().contains("🔁"),
        "not at shutdown either: {}",
        last.plain_text()
    );
}

/// A mute pressed while Redis is away holds in the process that took it,
/// and its toast says the rest of the fleet was not told.
#[test]
fn a_mute_without_redis_says_it_holds_here_only() {
    let Some(redis) = common::redis::OwnRedis::start("mute_without_redis", None) else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock)
        .fleet(|f| f.redis_url(redis.url()))
        .fleet(|f| f.key_prefix(common::redis::unique_prefix("mute_without_redis")))
        .fleet(|f| f.timeout(Duration::from_millis(300)))
        .interactive(|i| i.enabled(true))
        .interactive(|i| i.poll_timeout(Duration::from_secs(1)))
        .build()
        .unwrap();
    let process = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&process, || {
        let _ = charge(1);
    });
    assert!(guard.flush(Duration::from_secs(10)));
    let alert = mock.messages().remove(0);
    assert_eq!(alert.buttons().len(), 4);
    redis.kill();
    let toast = mock.press(alert.message_id, 42, "🔕 1 h").unwrap();
    assert_eq!(toast, "🔕 Muted for 1 h (here only: Redis did not answer)");
    tracing::dispatcher::with_default(&process, || {
        let _ = charge(2);
    });
    drop(process);
    let stats = guard.shutdown(Duration::from_secs(10));
    assert_eq!((stats.sent, stats.batched), (1, 1), "muted here: {stats:?}");
}
