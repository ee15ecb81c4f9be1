//! The storm of variants from two processes on one real Redis: the fleet
//! folds it into one alert, and Redis work follows the news (a few claims
//! and batched counts), not the input (one command per variant).
#![cfg(feature = "redis")]

use std::process::Child;
use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

use crate::common;
use crate::variants::import_rejected;

/// Variants each process emits.
const PER_PROCESS: u64 = 50_000;

/// One process of the fleet (run by the test below, in a child process):
/// default settings, Redis, pacing off (the subject is Redis, not pacing).
#[test]
#[ignore = "run by a_fleet_storm_costs_redis_a_few_commands in child processes"]
fn child_storms() {
    let offset: u64 = std::env::var("STORM_OFFSET").unwrap().parse().unwrap();
    let (layer, guard) = common::fleet_child_builder("STORM").build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for n in 0..PER_PROCESS {
            import_rejected(offset + n);
        }
    });
    assert!(guard.flush(Duration::from_secs(10)));
    common::emitted_then_wait_for_go();
    let stats = guard.shutdown(Duration::from_secs(10));
    common::assert_accounted(&stats);
    assert_eq!(stats.redis_fallbacks, 0, "{stats:?}");
    assert_eq!((stats.dropped, stats.failed), (0, 0), "{stats:?}");
    println!("CHILD-STATS {}", stats.accepted);
}

fn redis_info(conn: &mut redis::Connection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(conn).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

#[test]
fn a_fleet_storm_costs_redis_a_few_commands_and_makes_one_alert() {
    // A server of its own: its command count and keys are this test's.
    let Some(redis) = common::redis::OwnRedis::start("a_fleet_storm", None) else {
        return;
    };
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let before = redis_info(&mut conn, "total_commands_processed");
    let mock = MockTelegram::start().unwrap();
    let children: Vec<Child> = (0..2)
        .map(|process| {
            let mut command = common::child(module_path!(), "child_storms");
            common::point_child_at(&mut command, "STORM", &mock, &redis.url());
            command.env("STORM_OFFSET", (process * PER_PROCESS).to_string());
            common::spawn_piped(&mut command)
        })
        .collect();
    let mut children: Vec<Child> = children.into_iter().map(common::await_emitted).collect();
    let keys: u64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
    common::tell_to_go(&mut children);
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
        assert!(
            stdout.contains(&format!("CHILD-STATS {PER_PROCESS}")),
            "{stdout}"
        );
    }
    // The INFO calls of this test are three of them.
    let commands = redis_info(&mut conn, "total_commands_processed") - before - 2;
    let keys_after: u64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
    eprintln!("fleet storm: {commands} Redis commands for two processes, {keys} keys ({keys_after} after)");
    assert!(
        commands <= 2 * 300,
        "{commands} Redis commands for two processes"
    );
    assert!(
        keys.max(keys_after) <= 100,
        "{keys} keys, {keys_after} after"
    );

    let messages = mock.messages();
    let texts: Vec<String> = messages.iter().map(|m| m.plain_text()).collect();
    let folds = texts.iter().filter(|t| t.contains("Many variants")).count();
    assert_eq!(folds, 1, "one folded alert for the fleet: {texts:#?}");
    common::assert_storm_size_told(&messages, 2 * PER_PROCESS);
}
