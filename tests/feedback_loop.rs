//! With the layer installed globally at TRACE, nothing the worker's HTTP
//! stack or this crate emits becomes an alert. Its own test binary, because
//! it sets the global default subscriber.

mod common;

use std::time::Duration;

use tracing::{error, Level};
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

#[test]
fn the_worker_and_its_http_stack_never_produce_alerts() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::builder(&mock)
        .min_level(Level::TRACE)
        .build()
        .unwrap();
    tracing_subscriber::registry().with(layer).init();

    error!("the one real alert");
    error!(target: "hyper::proto::h1", "an error from the HTTP stack");
    error!(target: "reqwest::connect", "another one");
    error!(target: "tracing_telegram::worker", "and one from the crate itself");
    assert!(guard.flush(Duration::from_secs(5)));
    // Sending more while the worker is busy exercises its HTTP stack with the
    // global subscriber active on its thread.
    for i in 0..5 {
        error!("follow-up {i}");
    }
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!(
        stats.accepted, 6,
        "only the application's events: {stats:?}"
    );
    assert_eq!(stats.sent, 6);
    assert_eq!(mock.messages().len(), 6);
}
