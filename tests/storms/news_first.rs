//! The next problem is not held up by the last one's follow-ups: while the
//! chat's lane is busy, a new alert is sent ahead of tally edits queued
//! before it (default settings; the coalescing of edits of one message is
//! the outbox's unit test).

use std::time::Duration;

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

use crate::common;

#[test]
fn a_new_alert_goes_ahead_of_tally_edits_queued_before_it() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock)
        .build::<tracing_subscriber::Registry>()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let fail = |kind: u64, attempts: std::ops::Range<u64>| {
        tracing::dispatcher::with_default(&dispatch, || {
            for attempt in attempts {
                common::fail_kind(kind, attempt);
            }
        });
    };
    // Two problems, alerted and delivered.
    fail(0, 0..1);
    fail(1, 0..1);
    assert!(guard.flush(Duration::from_secs(5)));
    assert_eq!(mock.messages().len(), 2);

    // The Bot API stalls: the first tally edit hangs in flight, the second
    // waits in the outbox.
    mock.hang(true);
    fail(0, 1..10); // ×10: a tally edit of the first alert
    common::wait_until("the first tally edit in flight", || {
        let requests = mock.requests();
        requests
            .iter()
            .any(|r| r.method == "editMessageText")
            .then_some(())
    });
    fail(1, 1..10); // ×10: a tally edit of the second
    common::wait_until("the second kind's repeats settled", || {
        (guard.stats().deduplicated >= 18).then_some(())
    });
    // The edit is queued in the same step that counts the repeats.
    fail(2, 0..1); // a new problem, after the storm's follow-ups
    mock.hang(false);
    assert!(guard.flush(Duration::from_secs(10)));

    let answered: Vec<String> = mock
        .requests()
        .into_iter()
        .filter(|r| r.status == 200)
        .map(|r| r.method)
        .collect();
    // The hung edit is tried again once the API answers (when exactly is
    // the retry's business); what matters is the tail: the new problem,
    // then the second tally.
    assert_eq!(
        answered[answered.len() - 2..],
        ["sendMessage", "editMessageText"],
        "{answered:?}"
    );
    assert_eq!(
        answered.len(),
        5,
        "two alerts, two edits, one alert: {answered:?}"
    );
    let messages = mock.messages();
    assert!(messages[2].plain_text().contains(common::kind_message(2)));
    for tallied in &messages[..2] {
        assert!(
            tallied.plain_text().contains("×10"),
            "{}",
            tallied.plain_text()
        );
    }
    let stats = guard.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats);
    assert_eq!((stats.sent, stats.deduplicated), (3, 18), "{stats:?}");
}
