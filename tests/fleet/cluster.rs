//! A fleet on Redis as teams run it for availability: a real Redis Cluster
//! (3 masters, 3 replicas) and a real Sentinel set (a master, a replica,
//! three sentinels), on free ports. The master that holds the fleet's keys
//! is killed mid-run; its replica takes over, and the fleet still sends
//! exactly one alert per kind.
#![cfg(feature = "redis")]

use crate::common;

use std::time::Duration;

use common::redis::{OwnCluster, OwnSentinels};
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::TelegramGuard;

fn member(mock: &MockTelegram, url: &str, prefix: &str) -> (tracing::Dispatch, TelegramGuard) {
    let (layer, guard) = common::default_builder(mock)
        .fleet(|f| f.redis_url(url))
        .fleet(|f| f.key_prefix(prefix))
        .fleet(|f| f.timeout(Duration::from_millis(500)))
        // One message per kind is the subject: no incident grouping them.
        .storms(|s| s.incident_after(0))
        .build()
        .unwrap();
    (
        tracing::Dispatch::new(tracing_subscriber::registry().with(layer)),
        guard,
    )
}

fn fail(dispatch: &tracing::Dispatch, kind: u64, attempt: u64) {
    tracing::dispatcher::with_default(dispatch, || common::fail_kind(kind, attempt));
}

/// Three processes fail in 3 kinds each: exactly one alert per kind. Then
/// `fail_over` runs and they fail again, while the new master takes over:
/// still exactly one alert per kind, and every occurrence is accounted for.
/// A process that knows the fleet alerted a kind keeps it a repeat while
/// Redis does not answer (its counts wait), and puts back a claim the new
/// master lost (replication is asynchronous).
fn one_alert_per_kind_through(url: &str, prefix: &str, fail_over: impl FnOnce()) {
    let mock = MockTelegram::start().unwrap();
    let members: Vec<_> = (0..3).map(|_| member(&mock, url, prefix)).collect();
    for (i, (dispatch, guard)) in members.iter().enumerate() {
        for kind in 0..3 {
            fail(dispatch, kind, i as u64);
        }
        assert!(guard.flush(Duration::from_secs(10)));
    }
    let before = common::notifying(&mock.messages()).len();
    assert_eq!(before, 3, "one alert per kind before the failover");
    let fallbacks_before: u64 = members.iter().map(|(_, g)| g.stats().redis_fallbacks).sum();
    assert_eq!(fallbacks_before, 0, "the cluster answered every call");
    fail_over();
    for (i, (dispatch, guard)) in members.iter().enumerate() {
        for kind in 0..3 {
            fail(dispatch, kind, 10 + i as u64);
        }
        assert!(guard.flush(Duration::from_secs(10)));
    }
    let stats: Vec<_> = members
        .into_iter()
        .map(|(dispatch, guard)| {
            drop(dispatch);
            guard.shutdown(Duration::from_secs(10))
        })
        .collect();
    let texts: Vec<String> = common::notifying(&mock.messages())
        .iter()
        .map(|m| m.plain_text())
        .collect();
    let fallbacks: u64 = stats.iter().map(|s| s.redis_fallbacks).sum();
    let sent: u64 = stats.iter().map(|s| s.sent).sum();
    let deduplicated: u64 = stats.iter().map(|s| s.deduplicated).sum();
    assert_eq!(
        sent + deduplicated,
        18,
        "every occurrence accounted: {stats:?}"
    );
    assert_eq!(sent as usize, texts.len(), "{texts:#?}");
    assert_eq!(
        texts.len(),
        3,
        "one alert per kind through the failover ({fallbacks} calls failed): {texts:#?}"
    );
    for kind in 0..3 {
        let alerts = texts
            .iter()
            .filter(|text| text.contains(common::kind_message(kind)))
            .count();
        assert_eq!(alerts, 1, "kind {kind}: {texts:#?}");
    }
    eprintln!("failover: {fallbacks} Redis calls failed, every kind alerted once");
}

#[test]
fn a_fleet_on_a_cluster_alerts_once_per_kind_through_a_failover() {
    let Some(mut cluster) = OwnCluster::start("cluster_fleet", 3) else {
        return;
    };
    let prefix = format!("tt-cluster-{}", std::process::id());
    // The master holding every fleet key (one hash tag) dies; its replica
    // is promoted.
    one_alert_per_kind_through(&cluster.url(), &prefix, || {
        cluster.kill_master_of(&format!("{{{prefix}}}"));
        cluster.wait_until_ok("cluster_fleet");
    });
}

#[test]
fn a_fleet_behind_sentinels_alerts_once_per_kind_through_a_failover() {
    let Some(mut sentinels) = OwnSentinels::start("sentinel_fleet") else {
        return;
    };
    let prefix = format!("tt-sentinel-{}", std::process::id());
    let url = sentinels.url();
    one_alert_per_kind_through(&url, &prefix, || sentinels.fail_over("sentinel_fleet"));
}
