//! What varies across repeats: a tally says which values its repeats had
//! (`shard: 3 ×40 · 7 ×2`), under default settings, with the repeats
//! counted at the gate (not queued), ids left out and values sanitized.

use std::time::Duration;

use tracing::error;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, TestClock};
use tracing_telegram::{Builder, Stats};

use crate::common;

/// One callsite of a sharded store, as a service has it.
fn shard_unavailable(shard: u64, user_id: u64, password: &str) {
    error!(
        shard,
        region = "eu-west-1",
        user_id,
        password,
        "shard unavailable"
    );
}

/// Runs `body` under `builder`'s layer, flushing after the first event;
/// then closes the window on `clock`; the stats.
fn run(builder: Builder, clock: &TestClock, body: impl FnOnce()) -> Stats {
    let (layer, guard) = builder.build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        shard_unavailable(3, 48_213, "hunter2");
        assert!(guard.flush(Duration::from_secs(5)));
        body();
    });
    assert!(guard.flush(Duration::from_secs(5)));
    clock.advance(Duration::from_secs(601)); // the window closes
    assert!(guard.flush(Duration::from_secs(5)));
    guard.shutdown(Duration::from_secs(5))
}

fn alerts(mock: &MockTelegram) -> Vec<String> {
    common::notifying(&mock.messages())
        .iter()
        .map(|m| m.plain_text())
        .collect()
}

fn shards_3_and_7() {
    for i in 0..41u64 {
        let shard = if i % 20 == 7 { 7 } else { 3 };
        shard_unavailable(
            shard,
            50_000 + i,
            if i % 2 == 0 { "hunter2" } else { "swordfish" },
        );
    }
}

#[test]
fn a_tally_says_which_shards_fail_and_leaves_ids_and_secrets_out() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = common::default_builder_on_virtual_clock(&mock);
    let stats = run(builder, &clock, shards_3_and_7);
    let alerts = alerts(&mock);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let text = &alerts[0];
    assert!(text.contains("🔁 ×42 in the last 10 min"), "{text}");
    assert!(text.contains("\nshard: 3 ×40 · 7 ×2"), "{text}");
    assert!(
        !text.contains("\nregion:"),
        "a value that never varies: {text}"
    );
    assert!(!text.contains("\nuser_id:"), "an id: {text}");
    assert!(!text.contains("swordfish"), "a sensitive field: {text}");
    assert_eq!((stats.sent, stats.deduplicated), (1, 41), "{stats:?}");
    common::assert_accounted(&stats);
}

#[test]
fn a_flood_with_a_field_that_changes_every_time_still_skips_the_queue() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = common::default_builder_on_virtual_clock(&mock);
    // A queue of one: repeats that went through it would mostly be dropped.
    let builder = builder.limits(|l| l.queue_capacity(1));
    let stats = run(builder, &clock, || {
        for attempt in 1..5_000u64 {
            let shard = if attempt % 10 == 0 { 7 } else { 3 };
            error!(shard, attempt, "shard unavailable");
        }
    });
    assert_eq!(stats.dropped, 0, "{stats:?}");
    let alerts = alerts(&mock);
    assert_eq!(
        alerts.len(),
        2,
        "the first event had more fields: {alerts:#?}"
    );
    let text = &alerts[1];
    assert!(text.contains("×4999"), "{text}");
    // Every attempt differs: the combinations past the first 16 are
    // counted as others, and no field with thin values is shown.
    assert!(!text.contains("\nattempt:"), "{text}");
    common::assert_accounted(&stats);
}

#[test]
fn the_distribution_can_be_turned_off() {
    let mock = MockTelegram::start().unwrap();
    let (builder, clock) = common::default_builder_on_virtual_clock(&mock);
    let builder = builder.dedup(|d| d.field_distribution(false));
    let _ = run(builder, &clock, shards_3_and_7);
    let alerts = alerts(&mock);
    assert!(alerts[0].contains("🔁 ×42"), "{alerts:#?}");
    assert!(!alerts[0].contains("\nshard:"), "{alerts:#?}");
}
