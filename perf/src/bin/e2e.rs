//! End to end, as a user would see it (see `tracing_telegram_perf::e2e`):
//! each layer block compared with the fmt-only blocks on either side of it
//! (so that a machine's drift cancels out); the median of the rounds.
//!
//! `cargo run -p tracing-telegram-perf --release --bin e2e [rounds] [block_ms] [info]`
//! (`info`: request spans at `INFO`, in `fmt`'s output too, instead of
//! tower-http's default `DEBUG`)

use std::time::Duration;

use tracing_telegram::testing::MockTelegram;
use tracing_telegram_perf::e2e::{block_with, Measured, Stack, Until};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let block_ms: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let length = Duration::from_millis(block_ms);
    let request_span = match args.next().as_deref() {
        Some("info") => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let block = |stack, mock: &MockTelegram, until| block_with(stack, mock, until, request_span);
    let mock = MockTelegram::start().expect("mock");
    // Warm-up (connections, allocator, the mock's first alert).
    block(Stack::Layer, &mock, Until::Elapsed(length / 2));
    let mut ratios: Vec<(Stack, [Vec<f64>; 3])> = vec![
        (Stack::Layer, Default::default()),
        (Stack::Bare, Default::default()),
        (Stack::Floor, Default::default()),
    ];
    let mut fmt_cost = Vec::new();
    for round in 0..rounds {
        for (stack, [throughput, p99, cpu]) in &mut ratios {
            let before = block(Stack::Fmt, &mock, Until::Elapsed(length));
            let with = block(*stack, &mock, Until::Elapsed(length));
            let after = block(Stack::Fmt, &mock, Until::Elapsed(length));
            let mean = |read: fn(&Measured) -> f64| (read(&before) + read(&after)) / 2.0;
            let base = [
                mean(|m| m.throughput),
                mean(|m| m.p99),
                mean(|m| m.cpu_per_request),
            ];
            throughput.push(with.throughput / base[0]);
            p99.push(with.p99 / base[1]);
            cpu.push(with.cpu_per_request / base[2]);
            fmt_cost.push(base[2]);
            eprintln!(
                "round {round} {stack:?}: throughput {:.3}, p99 {:.3}, CPU per request {:.0} ns vs {:.0} ({:.3})",
                with.throughput / base[0],
                with.p99 / base[1],
                with.cpu_per_request,
                base[2],
                with.cpu_per_request / base[2],
            );
        }
    }
    println!(
        "fmt only: {:.1} µs of CPU per request (median); {rounds} rounds of {block_ms} ms; request spans at {request_span}",
        median(fmt_cost) / 1000.0
    );
    println!("| configuration | throughput vs fmt only | p99 vs fmt only | CPU per request vs fmt only |");
    println!("|---|---|---|---|");
    for (stack, [throughput, p99, cpu]) in ratios {
        let name = match stack {
            Stack::Layer => "fmt + this layer (as `build()` returns it)",
            Stack::Bare => "fmt + the bare layer (`inner()`)",
            Stack::Floor => "fmt + a layer doing nothing behind the layer's filter (the floor)",
            Stack::Fmt => "fmt only",
        };
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} |",
            median(throughput),
            median(p99),
            median(cpu)
        );
    }
}
