//! One operation, repeated, on one subscriber stack: for counting the
//! instructions it costs with callgrind, which (unlike the wall clock on a
//! shared machine) gives the same figure run after run. `instructions.sh`
//! runs every pair and prints the table in BENCHMARKS.md.
//!
//! Run: `ops <stack> <operation> [calls]` with stack one of `baseline`,
//! `telegram` (default configuration: repeats counted at the gate),
//! `telegram-unfiltered` (the bare layer, without the per-layer filter
//! `build()` puts around it), `telegram-captured` (deduplication off: every event captured and queued),
//! `sentry`, `json`, `fmt-info` (fmt behind a per-layer INFO filter) and
//! `fmt-info-telegram` / `fmt-info-telegram-unfiltered` (the layer beside
//! it as `build()` returns it, or without its per-layer filter); operation one of `info`, `span` (an HTTP request span,
//! judged slow), `plain-span` (a span not judged), `debug` (a `trace!`
//! and a `debug_span!`), `error` (the same error, a repeat), `storm` (one
//! callsite, a new text each call: user input in the message),
//! `storm-repeat` (the storm's message, the same text each call). Each call runs
//! in `op_<operation>`, the function callgrind is told to count
//! (`--toggle-collect='ops::op_*'`), inside two entered spans with fields.

use std::time::Duration;

use tracing::{error, info, info_span};
use tracing_telegram::testing::MockTelegram;
use tracing_telegram_perf as perf;

#[inline(never)]
fn op_info() {
    info!(order_id = 77, "order received");
}

#[inline(never)]
fn op_span() {
    let span = info_span!("request", method = "GET", path = "/orders/77");
    let entered = span.enter();
    std::hint::black_box(&entered);
    drop(entered);
    drop(span);
}

/// A span that is not judged slow (no HTTP fields, no threshold).
#[inline(never)]
fn op_plain_span() {
    let span = info_span!("load_customer", customer_id = 77_u64);
    let entered = span.enter();
    std::hint::black_box(&entered);
    drop(entered);
    drop(span);
}

/// Hot instrumentation no layer here wants: a `trace!` and a `debug_span!`.
#[inline(never)]
fn op_debug() {
    tracing::trace!(bytes = 512_u64, "read from the socket");
    let span = tracing::debug_span!("h2_stream", id = 7_u64);
    let entered = span.enter();
    std::hint::black_box(&entered);
    drop(entered);
    drop(span);
}

#[inline(never)]
fn op_error() {
    error!(
        attempt = 3_u64,
        provider = "acme",
        amount_cents = 1250_u64,
        "payment failed"
    );
}

/// The storm's message as a repeat: the same formatting, the same text
/// each call (what the storm is compared with).
#[inline(never)]
fn op_storm_repeat() {
    // A user name as long as most of the storm's (four letters).
    perf::import_rejected(18_000);
}

/// The storm: the same callsite with a different text each call.
#[inline(never)]
fn op_storm() {
    thread_local! {
        static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let n = NEXT.with(|next| {
        let n = next.get();
        next.set(n + 1);
        n
    });
    perf::import_rejected(n);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(stack), Some(operation)) = (args.next(), args.next()) else {
        eprintln!("usage: ops <baseline|telegram|telegram-unfiltered|telegram-captured|sentry|json|fmt-info|fmt-info-telegram|fmt-info-telegram-unfiltered> <info|span|plain-span|debug|error|request-error|storm|storm-repeat> [calls]");
        std::process::exit(2);
    };
    let calls: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let op: fn() = match operation.as_str() {
        "info" => op_info,
        "span" => op_span,
        "plain-span" => op_plain_span,
        "debug" => op_debug,
        // The same `error!`, inside an HTTP request span (grouped by it).
        "error" | "request-error" => op_error,
        "storm" => op_storm,
        "storm-repeat" => op_storm_repeat,
        other => {
            eprintln!("unknown operation {other}");
            std::process::exit(2);
        }
    };
    let mock = MockTelegram::start().expect("mock");
    let mut keep_alive: Vec<Box<dyn std::any::Any>> = Vec::new();
    let mut telegram_guard = None;
    let dispatch = match stack.as_str() {
        "baseline" => perf::baseline(),
        "sentry" => {
            let (dispatch, guard) = perf::sentry();
            keep_alive.push(Box::new(guard));
            dispatch
        }
        "json" => {
            let (dispatch, guard) = perf::non_blocking_json();
            keep_alive.push(Box::new(guard));
            dispatch
        }
        "fmt-info" | "fmt-info-telegram" | "fmt-info-telegram-unfiltered" => {
            let beside = match stack.as_str() {
                "fmt-info" => perf::Beside::None,
                "fmt-info-telegram" => perf::Beside::Telegram,
                _ => perf::Beside::Unfiltered,
            };
            let (dispatch, guard) = perf::fmt_info(&mock, calls as usize + 16, beside);
            telegram_guard = guard;
            dispatch
        }
        "telegram" | "telegram-captured" => {
            let rate_limit = if stack == "telegram" {
                Duration::from_secs(600)
            } else {
                Duration::ZERO
            };
            let (dispatch, guard) = perf::telegram_with(&mock, calls as usize + 16, rate_limit);
            telegram_guard = Some(guard);
            dispatch
        }
        "telegram-unfiltered" => {
            let (dispatch, guard) = perf::telegram_unfiltered(&mock, calls as usize + 16);
            telegram_guard = Some(guard);
            dispatch
        }
        other => {
            eprintln!("unknown stack {other}");
            std::process::exit(2);
        }
    };
    tracing::dispatcher::with_default(&dispatch, || {
        let outer = if operation == "request-error" {
            info_span!("http_request", method = "POST", path = "/payments/77")
        } else {
            info_span!("http_request", method = "POST")
        };
        let _outer = outer.enter();
        let inner = info_span!("charge", order_id = 77_u64);
        let _inner = inner.enter();
        // Not counted: the first call (the worker then knows the alert, as
        // in a running service), and the flush after it.
        std::hint::black_box(op)();
        if let Some(guard) = &telegram_guard {
            guard.flush(perf::CATCH_UP);
        }
        for _ in 0..calls {
            op();
        }
    });
    if let Some(guard) = telegram_guard {
        let stats = guard.shutdown(Duration::from_secs(10));
        assert_eq!(stats.dropped, 0, "{stats:?}");
    }
    drop(keep_alive);
}
