//! The fleet watches itself: child processes on a real Redis, each with the
//! default settings plus `watch_fleet(true)`. A process killed with
//! SIGKILL, or ended by `std::process::exit` past its guard, is reported
//! once by another; a clean exit, a Redis restart and a watcher's own death
//! report no one falsely.
#![cfg(feature = "redis")]

use crate::common;

use common::redis::{shared_redis, unique_prefix, OwnRedis};

use std::io::{BufRead, Write};
use std::process::Child;
use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

/// The refresh interval of the tests that measure against it.
const INTERVAL: Duration = Duration::from_millis(1000);

/// A process of the watched fleet: default settings plus the watch, its
/// environment named so the chat shows which process sent a notice.
#[test]
#[ignore = "run by the fleet watch tests in child processes"]
fn child_watched_process() {
    let env = |name: &str| std::env::var(format!("WATCH_{name}")).unwrap_or_default();
    let mut builder = common::fleet_child_builder("WATCH")
        .service("billing")
        .service_version("1.4.2")
        .environment(env("NAME"))
        .fleet(|f| f.key_prefix(env("PREFIX")).watch_fleet(true));
    if let Ok(ms) = env("INTERVAL_MS").parse() {
        builder = builder.fleet(|f| f.watch_interval(Duration::from_millis(ms)));
    }
    let (layer, guard) = builder.build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!("payment failed for {}", env("NAME"));
    });
    assert!(guard.flush(Duration::from_secs(10)), "flushed");
    println!("CHILD-READY");
    let mut command = String::new();
    let _ = std::io::stdin().read_line(&mut command);
    if command.trim() == "exit" {
        // The mistake the guard's docs warn about: no shutdown, no drop.
        std::process::exit(0);
    }
    guard.shutdown(Duration::from_secs(10));
}

/// The watched children, the mock they post to and their Redis.
struct Fleet {
    mock: MockTelegram,
    url: String,
    prefix: String,
    children: Vec<(String, Child)>,
}

impl Fleet {
    fn new(mock: MockTelegram, url: String, test: &str) -> Self {
        Fleet {
            mock,
            url,
            prefix: unique_prefix(test),
            children: Vec::new(),
        }
    }

    /// Starts a child named `name` (`interval`: `None` for the default) and
    /// waits until it has alerted once.
    fn start(&mut self, name: &str, interval: Option<Duration>) -> u32 {
        let mut command = common::child(module_path!(), "child_watched_process");
        common::point_child_at(&mut command, "WATCH", &self.mock, &self.url);
        command
            .env("WATCH_NAME", name)
            .env("WATCH_PREFIX", &self.prefix);
        if let Some(interval) = interval {
            command.env("WATCH_INTERVAL_MS", interval.as_millis().to_string());
        }
        let mut child = common::spawn_piped(&mut command);
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader.read_line(&mut line).unwrap();
            assert!(read > 0, "child {name} ended before it was ready");
            if line.starts_with("CHILD-READY") {
                break;
            }
        }
        child.stdout = Some(reader.into_inner());
        let pid = child.id();
        self.children.push((name.to_owned(), child));
        pid
    }

    /// Waits until `n` processes are present in Redis, then long enough
    /// for every one to judge lapses (two intervals without a gap).
    fn settle(&self, n: usize, interval: Duration) {
        let mut conn = redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let key = format!("{{{}}}:fleet:refreshes", self.prefix);
        common::wait_until(&format!("{n} processes present"), || {
            let present: usize = redis::cmd("ZCARD").arg(&key).query(&mut conn).unwrap();
            (present == n).then_some(())
        });
        // Slept, not waited on: whether a child may judge yet is its own
        // state (two unbroken intervals), on the real clock of another
        // process, which no test clock reaches.
        std::thread::sleep(interval * 3);
    }

    fn take(&mut self, name: &str) -> Child {
        let at = self
            .children
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no child {name}"));
        self.children.remove(at).1
    }

    fn kill(&mut self, name: &str) -> Instant {
        let mut child = self.take(name);
        child.kill().unwrap(); // SIGKILL
        let killed = Instant::now();
        child.wait().unwrap();
        killed
    }

    /// Tells `name` to end: cleanly (`go`) or with `std::process::exit`.
    fn end(&mut self, name: &str, how: &str) {
        let mut child = self.take(name);
        let stdin = child.stdin.as_mut().unwrap();
        writeln!(stdin, "{how}").unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "child {name} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn end_all(&mut self) {
        let names: Vec<String> = self.children.iter().map(|(n, _)| n.clone()).collect();
        for name in names {
            self.end(&name, "go");
        }
    }

    /// The death notices so far.
    fn deaths(&self) -> Vec<String> {
        self.mock
            .messages()
            .iter()
            .map(|m| m.plain_text())
            .filter(|text| text.contains("💀"))
            .collect()
    }

    /// Waits (up to `limit`) for the `n`th death notice; it, and how long
    /// after `since` it came.
    fn await_death(&self, n: usize, since: Instant, limit: Duration) -> (String, Duration) {
        let deadline = since + limit;
        loop {
            if let Some(notice) = self.deaths().get(n - 1) {
                return (notice.clone(), since.elapsed());
            }
            assert!(
                Instant::now() < deadline,
                "no death notice {n} within {limit:?}; chat: {:?}",
                self.mock
                    .messages()
                    .iter()
                    .map(|m| m.plain_text())
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_killed_process_is_reported_once_and_a_clean_exit_never() {
    let Some(url) = shared_redis("a_killed_process_is_reported_once_and_a_clean_exit_never") else {
        return;
    };
    let mut fleet = Fleet::new(MockTelegram::start().unwrap(), url, "watch-kill");
    let doomed = fleet.start("a", Some(INTERVAL));
    fleet.start("b", Some(INTERVAL));
    fleet.start("c", Some(INTERVAL));
    fleet.settle(3, INTERVAL);
    let killed = fleet.kill("a");
    let (notice, after) = fleet.await_death(1, killed, INTERVAL * 10);
    println!("SIGKILL reported after {after:?} (interval {INTERVAL:?})");
    assert!(
        after <= INTERVAL * 3 + Duration::from_millis(500),
        "reported after {after:?}, more than three intervals"
    );
    assert!(notice.contains("billing@"), "{notice}");
    assert!(notice.contains(&format!("pid {doomed}")), "{notice}");
    assert!(notice.contains("v1.4.2"), "{notice}");
    assert!(notice.contains("vanished at"), "{notice}");
    assert!(notice.contains("without shutting down"), "{notice}");
    assert!(
        notice.contains("last alert: payment failed for a"),
        "{notice}"
    );
    // A clean exit, with a watcher alive to see it: nothing. (An absence:
    // only time shows it, longer than the three intervals a death takes.)
    fleet.end("b", "go");
    std::thread::sleep(INTERVAL * 4);
    let deaths = fleet.deaths();
    assert_eq!(deaths.len(), 1, "once per fleet, and not for b: {deaths:?}");
    fleet.end_all();
    // The last digest names the fleet's changes.
    let digest = fleet
        .mock
        .messages()
        .iter()
        .map(|m| m.plain_text())
        .find(|text| text.contains("🫀 Fleet"))
        .unwrap_or_else(|| panic!("no census in a digest: {:?}", fleet.mock.messages()));
    assert!(digest.contains("3 started"), "{digest}");
    assert!(
        digest.contains("1 vanished without shutting down"),
        "{digest}"
    );
}

#[test]
fn a_process_that_exits_past_its_guard_is_reported() {
    let Some(url) = shared_redis("a_process_that_exits_past_its_guard_is_reported") else {
        return;
    };
    let mut fleet = Fleet::new(MockTelegram::start().unwrap(), url, "watch-exit");
    let exiting = fleet.start("a", Some(INTERVAL));
    fleet.start("b", Some(INTERVAL));
    fleet.settle(2, INTERVAL);
    let ended = Instant::now();
    fleet.end("a", "exit");
    let (notice, after) = fleet.await_death(1, ended, INTERVAL * 10);
    println!("process::exit reported after {after:?}");
    assert!(notice.contains(&format!("pid {exiting}")), "{notice}");
    fleet.end_all();
    assert_eq!(fleet.deaths().len(), 1);
}

#[test]
fn a_killed_watcher_is_reported_by_another() {
    let Some(url) = shared_redis("a_killed_watcher_is_reported_by_another") else {
        return;
    };
    let mut fleet = Fleet::new(MockTelegram::start().unwrap(), url, "watch-watcher");
    for name in ["a", "b", "c"] {
        fleet.start(name, Some(INTERVAL));
    }
    fleet.settle(3, INTERVAL);
    let killed = fleet.kill("a");
    let (first, _) = fleet.await_death(1, killed, INTERVAL * 10);
    // The notice's heading names the process that sent it.
    let watcher = ["b", "c"]
        .into_iter()
        .find(|name| {
            first
                .lines()
                .next()
                .unwrap_or("")
                .contains(&format!("· {name}"))
        })
        .unwrap_or_else(|| panic!("sent by b or c: {first}"));
    let watcher_pid = fleet
        .children
        .iter()
        .find(|(n, _)| n == watcher)
        .unwrap()
        .1
        .id();
    let killed = fleet.kill(watcher);
    let (second, _) = fleet.await_death(2, killed, INTERVAL * 10);
    assert!(second.contains(&format!("pid {watcher_pid}")), "{second}");
    fleet.end_all();
    assert_eq!(fleet.deaths().len(), 2, "{:?}", fleet.deaths());
}

#[test]
fn redis_killed_and_restarted_reports_no_one() {
    let test = "redis_killed_and_restarted_reports_no_one";
    let Some(redis) = OwnRedis::start(test, None) else {
        return;
    };
    let url = redis.url();
    let mut fleet = Fleet::new(MockTelegram::start().unwrap(), url, "watch-restart");
    fleet.start("a", Some(INTERVAL));
    fleet.start("b", Some(INTERVAL));
    fleet.settle(2, INTERVAL);
    let port = redis.kill();
    // Redis away longer than a lapse: every presence would have lapsed.
    std::thread::sleep(INTERVAL * 4);
    let _redis = OwnRedis::start(test, Some(port)).expect("redis-server restarts");
    // Long enough for every process to be back and to judge again.
    std::thread::sleep(INTERVAL * 6);
    assert!(fleet.deaths().is_empty(), "{:?}", fleet.deaths());
    fleet.end_all();
    let chat: Vec<String> = fleet
        .mock
        .messages()
        .iter()
        .map(|m| m.plain_text())
        .collect();
    assert!(fleet.deaths().is_empty(), "{chat:?}");
    assert!(
        !chat.iter().any(|text| text.contains("🩹")),
        "nobody was reported, so nobody is back: {chat:?}"
    );
}

/// With the default interval (5 s), a killed process is reported within
/// 30 s.
#[test]
fn with_the_defaults_a_killed_process_is_reported_within_30_s() {
    let Some(url) = shared_redis("with_the_defaults_a_killed_process_is_reported_within_30_s")
    else {
        return;
    };
    let mut fleet = Fleet::new(MockTelegram::start().unwrap(), url, "watch-defaults");
    let doomed = fleet.start("a", None);
    fleet.start("b", None);
    fleet.settle(2, Duration::ZERO);
    let killed = fleet.kill("a");
    let (notice, after) = fleet.await_death(1, killed, Duration::from_secs(30));
    println!("with the defaults, reported after {after:?}");
    assert!(notice.contains(&format!("pid {doomed}")), "{notice}");
    fleet.end_all();
}

/// A process paused past the lapse (SIGSTOP) is reported like a dead one —
/// once; when it runs again it says it is still running, and it is not
/// reported a second time.
#[test]
fn a_paused_process_is_reported_once_and_says_it_is_back() {
    let Some(url) = shared_redis("a_paused_process_is_reported_once_and_says_it_is_back") else {
        return;
    };
    let signal = |signal: &str, pid: u32| {
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    };
    let mut fleet = Fleet::new(MockTelegram::start().unwrap(), url, "watch-pause");
    let paused = fleet.start("a", Some(INTERVAL));
    fleet.start("b", Some(INTERVAL));
    fleet.settle(2, INTERVAL);
    signal("-STOP", paused);
    let (notice, _) = fleet.await_death(1, Instant::now(), INTERVAL * 10);
    assert!(notice.contains(&format!("pid {paused}")), "{notice}");
    signal("-CONT", paused);
    let back = common::wait_until("the paused process says it is back", || {
        fleet
            .mock
            .messages()
            .iter()
            .map(|m| m.plain_text())
            .find(|text| text.contains("🩹"))
    });
    assert!(back.contains(&format!("pid {paused}")), "{back}");
    assert!(back.contains("still running"), "{back}");
    // An absence (no second report): only time shows it.
    std::thread::sleep(INTERVAL * 4);
    fleet.end_all();
    assert_eq!(fleet.deaths().len(), 1, "{:?}", fleet.deaths());
}

/// What the watch costs Redis: one call per process per interval, and at
/// most four keys under the prefix (each with a TTL), however many
/// processes.
#[test]
fn the_watch_costs_one_call_per_process_per_interval_and_four_keys() {
    let test = "the_watch_costs_one_call_per_process_per_interval_and_four_keys";
    let Some(redis) = OwnRedis::start(test, None) else {
        return;
    };
    let mut fleet = Fleet::new(MockTelegram::start().unwrap(), redis.url(), "watch-cost");
    for name in ["a", "b", "c"] {
        fleet.start(name, Some(INTERVAL));
    }
    fleet.settle(3, INTERVAL);
    let mut conn = redis::Client::open(redis.url().as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    // Calls the processes make (a script counts once; the commands it runs
    // inside are Redis's work, counted apart).
    let stats = |conn: &mut redis::Connection| -> (u64, u64) {
        let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
        let mut scripts = 0;
        let mut all = 0;
        for line in info.lines() {
            let Some((name, rest)) = line.split_once(':') else {
                continue;
            };
            let calls: u64 = rest
                .split(',')
                .find_map(|part| part.strip_prefix("calls="))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            all += calls;
            if matches!(name, "cmdstat_evalsha" | "cmdstat_eval") {
                scripts += calls;
            }
        }
        (scripts, all)
    };
    let span = INTERVAL * 10;
    let (scripts_before, all_before) = stats(&mut conn);
    std::thread::sleep(span);
    let (scripts_after, all_after) = stats(&mut conn);
    let scripts = scripts_after - scripts_before;
    // Minus this test's own INFO.
    let others = (all_after - all_before - 1).saturating_sub(scripts);
    println!(
        "3 processes, {span:?} at {INTERVAL:?}: {scripts} script calls (running {others} commands inside)"
    );
    assert!(scripts <= 3 * 11, "{scripts} calls in {span:?}");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{}}}:fleet:*", fleet.prefix))
        .query(&mut conn)
        .unwrap();
    // The deaths' set appears with the first death.
    assert_eq!(keys.len(), 3, "{keys:?}");
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut conn).unwrap();
        assert!(ttl > 0, "{key} has no TTL");
    }
    fleet.end_all();
    assert!(fleet.deaths().is_empty(), "{:?}", fleet.deaths());
}
