//! The feedback guard is about where an event comes from: with the layer
//! and a `fmt` layer installed globally at TRACE, the worker's threads (and
//! the mock's) emit nothing into the application's subscriber — not the
//! dozen TRACE/DEBUG lines its HTTP stack writes per request, not an error
//! while sending an alert — while the application's own `hyper` and
//! `reqwest` errors alert like any code. Only the crate's own target never
//! alerts. Its own test binary, because it sets the global default
//! subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{error, Level};
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;

/// What the application's `fmt` layer wrote.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<u8>>>);

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_worker_is_silent_and_the_applications_own_http_errors_alert() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::builder(&mock)
        .min_level(Level::TRACE)
        .build()
        .unwrap();
    let output = Output::default();
    let writer = output.clone();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_thread_names(true)
                .with_writer(move || writer.clone()),
        )
        .with(layer)
        .init();

    error!("the one real alert");
    // The application's own HTTP client failing: its errors are alerts.
    error!(target: "hyper::proto::h1", "an error from the application's HTTP client");
    error!(target: "reqwest::connect", "another one");
    error!(target: "tracing_telegram::worker", "but never one of the crate's own");
    assert!(guard.flush(Duration::from_secs(5)));
    // More while the worker is busy: its HTTP stack runs under the global
    // subscriber's nose.
    for i in 0..5 {
        error!("follow-up {i}");
    }
    let stats = guard.shutdown(Duration::from_secs(5));
    assert_eq!(stats.accepted, 8, "the application's events: {stats:?}");
    assert_eq!(stats.sent, 8, "{stats:?}");
    let texts: Vec<String> = mock.messages().iter().map(|m| m.plain_text()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("an error from the application's HTTP client")),
        "{texts:#?}"
    );

    let written = String::from_utf8(output.0.lock().unwrap().clone()).unwrap();
    let from_crate_threads: Vec<&str> = written
        .lines()
        .filter(|line| {
            ["tracing-telegram", "mock-telegram", "tokio-runtime-worker"]
                .iter()
                .any(|thread| line.contains(thread))
        })
        .collect();
    assert!(
        from_crate_threads.is_empty(),
        "{} lines from the crate's threads in the application's output:\n{}",
        from_crate_threads.len(),
        from_crate_threads.join("\n")
    );
    assert!(written.contains("the one real alert"), "{written}");
}
