//! Nothing starves: a storm the gate cannot count (here: messages too long
//! to read on the application's thread) goes through the queue and fills
//! it, but the queue keeps a reserve for callsites that are not flooding,
//! so the first occurrence of an unrelated failure still finds room — and
//! what the storm lost is named by callsite in the digest.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

use crate::common;

/// A message longer than the gate reads (255 bytes): each one is captured
/// and queued.
fn long_failure(n: u64) {
    let detail = "x".repeat(300);
    tracing::error!(n, "bulk export failed: {detail}");
}

#[test]
fn a_storm_through_the_queue_leaves_room_for_the_next_problem() {
    let mock = MockTelegram::start().unwrap();
    // The worker is held inside the first record's hook until released: the
    // queue fills deterministically while it waits.
    let (held_tx, held_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let (layer, guard) = common::default_builder(&mock)
        .hooks(|h| {
            h.before_send(move |_| {
                let _ = held_tx.send(());
                let _ = release_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(10));
                true
            })
        })
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        long_failure(0);
        held_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // The storm, while the worker is held: 4 000 records of one callsite
        // for a queue of 1 024.
        for n in 1..4_000 {
            long_failure(n);
        }
        tracing::error!("ledger out of balance");
    });
    for _ in 0..4_000 {
        let _ = release_tx.send(());
    }
    let stats = guard.shutdown(Duration::from_secs(10));

    common::assert_accounted(&stats);
    assert_eq!(stats.accepted, 4_001, "{stats:?}");
    // The storm filled the queue's 1 024 places (the first record was in
    // the hook): the rest of it was dropped, the unrelated one was not.
    assert_eq!(stats.dropped, 4_000 - 1 - 1_024, "{stats:?}");
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    assert!(
        texts.iter().any(|t| t.contains("ledger out of balance")),
        "the next problem got through: {texts:#?}"
    );
    let digest = texts
        .iter()
        .find(|t| t.contains("DIGEST"))
        .unwrap_or_else(|| panic!("no digest: {texts:#?}"));
    assert!(
        digest.contains(&format!(
            "×{} storms::queue_reserve: bulk export failed",
            stats.dropped
        )),
        "the drops are named by callsite: {digest}"
    );
}
