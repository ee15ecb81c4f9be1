//! A fleet sharing a real Redis Cluster (3 masters, 3 replicas, on free
//! ports): one alert per kind, tallied fleet-wide; and when the master that
//! holds the fleet's keys is killed mid-run, its replica takes over and the
//! fleet still sends exactly one alert per kind.
#![cfg(feature = "redis")]

mod common;

use std::time::Duration;

use common::redis::OwnCluster;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::TelegramGuard;

fn member(mock: &MockTelegram, url: &str, prefix: &str) -> (tracing::Dispatch, TelegramGuard) {
    let (layer, guard) = common::default_builder(mock)
        .redis_url(url)
        .redis_key_prefix(prefix)
        .redis_timeout(Duration::from_millis(500))
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

#[test]
fn a_fleet_on_a_cluster_alerts_once_per_kind_through_a_failover() {
    let Some(mut cluster) = OwnCluster::start("cluster_fleet", 3) else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = format!("tt-cluster-{}", std::process::id());
    let members: Vec<_> = (0..3)
        .map(|_| member(&mock, &cluster.url(), &prefix))
        .collect();
    // Every member fails in 3 kinds; the claims go through the cluster.
    for (i, (dispatch, guard)) in members.iter().enumerate() {
        for kind in 0..3 {
            fail(dispatch, kind, i as u64);
        }
        assert!(guard.flush(Duration::from_secs(10)));
    }
    // The master holding every fleet key (one hash tag) dies; its replica
    // is promoted.
    cluster.kill_master_of(&format!("{{{prefix}}}"));
    cluster.wait_until_ok("cluster_fleet");
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
    assert_eq!(texts.len(), 3, "one alert per kind: {texts:#?} {stats:?}");
    let sent: u64 = stats.iter().map(|s| s.sent).sum();
    let deduplicated: u64 = stats.iter().map(|s| s.deduplicated).sum();
    assert_eq!((sent, deduplicated), (3, 15), "{stats:?}");
}
