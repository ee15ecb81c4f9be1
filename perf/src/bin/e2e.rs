//! End to end, as a user would see it: an axum service with tower-http's
//! `TraceLayer`, one `#[instrument]`ed inner function, `fmt` to a sink, 32
//! keep-alive connections on loopback, 1 % of requests failing with a 500
//! and an `error!`. One process; configurations switched between blocks,
//! each layer block compared with the fmt-only blocks on either side of it
//! (so that a machine's drift cancels out); the median of the rounds.
//!
//! `cargo run -p tracing-telegram-perf --release --bin e2e [rounds] [block_ms]`
//!
//! Service and load share one runtime thread: the ratio is one core's work
//! (on a two-core machine two threads' scheduling moved single rounds by
//! ±20 %); the worker of the layer runs on its own thread, as always.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{TelegramGuard, TelegramLayer};

const CONNECTIONS: usize = 32;

#[tracing::instrument]
async fn load_order(id: u64) -> Result<u64, &'static str> {
    if id.is_multiple_of(100) {
        Err("order store unavailable")
    } else {
        Ok(id * 2)
    }
}

async fn order(Path(id): Path<u64>) -> Result<String, StatusCode> {
    match load_order(id).await {
        Ok(total) => Ok(format!("order {id}: {total}")),
        Err(error) => {
            tracing::error!(error, "loading the order failed");
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// A configuration of the service's subscriber.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stack {
    /// `fmt` to a sink behind an `INFO` filter: the baseline.
    Fmt,
    /// The README's composition: `fmt` and the layer as `build()` returns it.
    Layer,
    /// `fmt` and the bare layer (`inner()`), without its per-layer filter.
    Bare,
}

fn dispatch(stack: Stack, mock: &MockTelegram) -> (tracing::Dispatch, Option<TelegramGuard>) {
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_filter(LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(fmt);
    let builder = || {
        TelegramLayer::builder()
            .bot_token(mock.token())
            .chat_id(-100)
            .api_url(mock.url())
    };
    match stack {
        Stack::Fmt => (tracing::Dispatch::new(registry), None),
        Stack::Layer => {
            let (layer, guard) = builder().build().expect("layer");
            (tracing::Dispatch::new(registry.with(layer)), Some(guard))
        }
        Stack::Bare => {
            let (layer, guard) = builder()
                .build::<tracing_subscriber::Registry>()
                .expect("layer");
            let bare = layer.inner().clone();
            (tracing::Dispatch::new(registry.with(bare)), Some(guard))
        }
    }
}

/// What one block measured.
#[derive(Debug, Clone, Copy)]
struct Measured {
    /// Requests per second of wall-clock time.
    throughput: f64,
    /// 99th percentile latency, µs.
    p99: f64,
    /// CPU time per request, ns (every thread of the process).
    cpu_per_request: f64,
}

/// One block: the service under `stack` for `length`.
fn block(stack: Stack, mock: &MockTelegram, length: Duration) -> Measured {
    let (dispatch, guard) = dispatch(stack, mock);
    // Service and load on one thread: the ratio is then one core's work,
    // not two threads' scheduling (which moved single rounds by ±20 %).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (count, mut latencies, cpu) = tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let address = listener.local_addr().expect("address");
            let app = Router::new()
                .route("/orders/{id}", get(order))
                .layer(tower_http::trace::TraceLayer::new_for_http());
            let server = tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            let measured = load(address, length).await;
            server.abort();
            measured
        })
    });
    drop(runtime);
    if let Some(guard) = guard {
        let _ = guard.shutdown(Duration::from_secs(5));
    }
    latencies.sort_unstable();
    let p99 = latencies
        .get(latencies.len() * 99 / 100)
        .copied()
        .unwrap_or(0);
    Measured {
        throughput: count as f64 / length.as_secs_f64(),
        p99: p99 as f64,
        cpu_per_request: cpu as f64 / count.max(1) as f64,
    }
}

/// 32 keep-alive connections for `length` after a short warm-up: requests
/// completed, and each one's latency in µs.
async fn load(address: std::net::SocketAddr, length: Duration) -> (u64, Vec<u64>, u64) {
    let next_id = Arc::new(AtomicU64::new(1));
    let warm_until = Instant::now() + Duration::from_millis(200);
    let until = warm_until + length;
    let cpu_at_start = tokio::spawn(async move {
        tokio::time::sleep_until(warm_until.into()).await;
        cpu_ns()
    });
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let next_id = Arc::clone(&next_id);
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(address).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut stream = BufReader::new(stream);
            let (mut count, mut latencies) = (0, Vec::new());
            loop {
                let now = Instant::now();
                if now >= until {
                    return (count, latencies);
                }
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let request = format!("GET /orders/{id} HTTP/1.1\r\nHost: bench\r\n\r\n");
                stream
                    .get_mut()
                    .write_all(request.as_bytes())
                    .await
                    .expect("write");
                read_response(&mut stream).await;
                if now >= warm_until {
                    count += 1;
                    latencies.push(now.elapsed().as_micros() as u64);
                }
            }
        }));
    }
    let mut total = 0;
    let mut latencies = Vec::new();
    for task in tasks {
        let (count, mut more) = task.await.expect("connection task");
        total += count;
        latencies.append(&mut more);
    }
    let cpu = cpu_ns().saturating_sub(cpu_at_start.await.expect("cpu reading"));
    (total, latencies, cpu)
}

/// CPU time this process's threads have run, in ns (`schedstat`, Linux):
/// the service, the load and the layer's worker together. Steadier than
/// wall-clock throughput on a shared machine.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Reads one HTTP/1.1 response with a `content-length`.
async fn read_response(stream: &mut BufReader<TcpStream>) {
    let mut length = 0;
    let mut line = String::new();
    loop {
        line.clear();
        stream.read_line(&mut line).await.expect("read");
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.expect("body");
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let block_ms: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let length = Duration::from_millis(block_ms);
    let mock = MockTelegram::start().expect("mock");
    // Warm-up (connections, allocator, the mock's first alert).
    block(Stack::Layer, &mock, length / 2);
    let mut ratios: Vec<(Stack, [Vec<f64>; 3])> = vec![
        (Stack::Layer, Default::default()),
        (Stack::Bare, Default::default()),
    ];
    let mut fmt_cost = Vec::new();
    for round in 0..rounds {
        for (stack, [throughput, p99, cpu]) in &mut ratios {
            let before = block(Stack::Fmt, &mock, length);
            let with = block(*stack, &mock, length);
            let after = block(Stack::Fmt, &mock, length);
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
        "fmt only: {:.1} µs of CPU per request (median); {rounds} rounds of {block_ms} ms",
        median(fmt_cost) / 1000.0
    );
    println!("| configuration | throughput vs fmt only | p99 vs fmt only | CPU per request vs fmt only |");
    println!("|---|---|---|---|");
    for (stack, [throughput, p99, cpu]) in ratios {
        let name = match stack {
            Stack::Layer => "fmt + this layer (as `build()` returns it)",
            Stack::Bare => "fmt + the bare layer (`inner()`)",
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
