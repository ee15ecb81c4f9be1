//! What varies across repeats, fleet-wide: two processes on a real Redis
//! fail on shards 3 and 7, and the one alert's tally shows both shards with
//! the fleet's counts (default settings).

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

use crate::common;
use crate::common::redis::{shared_redis, unique_prefix};

/// One process of the fleet (run by the test below, in a child process):
/// shard 3 fails 20 times, shard 7 once.
#[test]
#[ignore = "run by a_fleet_tally_shows_both_shards_with_the_fleets_counts in child processes"]
fn child_fails_on_two_shards() {
    let prefix = std::env::var("SPREAD_PREFIX").expect("SPREAD_PREFIX");
    let (layer, guard) = common::fleet_child_builder("SPREAD")
        .fleet(|f| f.key_prefix(prefix))
        .build()
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..21u64 {
            let shard = if i == 10 { 7 } else { 3 };
            tracing::error!(shard, order_id = 90_000 + i, "shard unavailable");
        }
    });
    // Both processes' counts reach Redis before either stops: the holder's
    // final tally reads the fleet's.
    assert!(guard.flush(Duration::from_secs(10)));
    common::emitted_then_wait_for_go();
    let stats = guard.shutdown(Duration::from_secs(10));
    common::assert_accounted(&stats);
    assert_eq!(stats.redis_fallbacks, 0, "{stats:?}");
}

#[test]
fn a_fleet_tally_shows_both_shards_with_the_fleets_counts() {
    let Some(url) = shared_redis("a_fleet_tally_shows_both_shards") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = unique_prefix("spread");
    let children: Vec<_> = (0..2)
        .map(|_| {
            let mut command = common::child(module_path!(), "child_fails_on_two_shards");
            common::point_child_at(&mut command, "SPREAD", &mock, &url);
            command.env("SPREAD_PREFIX", &prefix);
            common::spawn_piped(&mut command)
        })
        .collect();
    let mut children: Vec<_> = children.into_iter().map(common::await_emitted).collect();
    common::tell_to_go(&mut children);
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    }
    let alerts: Vec<String> = common::notifying(&mock.messages())
        .iter()
        .map(|m| m.plain_text())
        .collect();
    assert_eq!(alerts.len(), 1, "one alert for the fleet: {alerts:#?}");
    let text = &alerts[0];
    assert!(text.contains("🔁 ×42"), "the fleet's count: {text}");
    assert!(
        text.contains("\nshard: 3 ×40 · 7 ×2"),
        "the fleet's shards: {text}"
    );
    assert!(!text.contains("\norder_id:"), "an id: {text}");
}

#[test]
fn the_fleets_values_of_a_kind_are_bounded_in_redis() {
    let Some(url) = shared_redis("the_fleets_values_are_bounded") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = unique_prefix("spread-bound");
    // A hook sees every record: each repeat reaches the worker with its
    // value, and 400 different shards go to the fleet's store.
    let (layer, guard) = common::default_builder(&mock)
        .fleet(|f| f.redis_url(url.as_str()).key_prefix(prefix.as_str()))
        .hooks(|h| h.before_send(|_| true))
        .build()
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for shard in 0..400u64 {
            tracing::error!(shard, "shard unavailable");
        }
    });
    assert!(guard.flush(Duration::from_secs(10)));
    let stats = guard.shutdown(Duration::from_secs(10));
    assert_eq!(stats.redis_fallbacks, 0, "{stats:?}");
    let mut redis = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}:spread:*"))
        .query(&mut redis)
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let entries: Vec<(String, u64)> = redis::cmd("HGETALL")
        .arg(&keys[0])
        .query(&mut redis)
        .unwrap();
    assert!(entries.len() <= 257, "{} entries", entries.len());
    let total: u64 = entries.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 400, "every occurrence counted, the rest as others");
    assert!(
        entries.iter().any(|(entry, _)| entry == "shard\u{1f}\u{1}"),
        "the field's others"
    );
    let ttl: i64 = redis::cmd("PTTL").arg(&keys[0]).query(&mut redis).unwrap();
    assert!(ttl > 600_000 && ttl <= 1_200_000, "two windows: {ttl} ms");
}
