//! End to end, as a user would see it: an axum service with tower-http's
//! `TraceLayer`, one `#[instrument]`ed inner function, `fmt` to a sink, 32
//! keep-alive connections on loopback, 1 % of requests failing with a 500
//! and an `error!`. One process; configurations switched between blocks,
//! each layer block compared with the fmt-only blocks on either side of it
//! (so that a machine's drift cancels out); the median of the rounds.
//!
//! `cargo run -p tracing-telegram-perf --release --bin e2e [rounds] [block_ms]`
//!
//! The server runs on one runtime thread and the client on another: on a
//! two-core machine they share it as a service and its load balancer would.

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

/// One block: the service under `stack` for `length`; requests per second
/// and the 99th percentile latency (µs).
fn block(stack: Stack, mock: &MockTelegram, length: Duration) -> (f64, f64) {
    let (dispatch, guard) = dispatch(stack, mock);
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(move || {
            // The service's threads see this block's subscriber, for good.
            std::mem::forget(tracing::dispatcher::set_default(&dispatch));
        })
        .build()
        .expect("server runtime");
    let listener = server
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = Router::new()
        .route("/orders/{id}", get(order))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    server.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let (count, mut latencies) = client.block_on(load(address, length));
    drop(client);
    server.shutdown_timeout(Duration::from_secs(1));
    if let Some(guard) = guard {
        let _ = guard.shutdown(Duration::from_secs(5));
    }
    latencies.sort_unstable();
    let p99 = latencies
        .get(latencies.len() * 99 / 100)
        .copied()
        .unwrap_or(0);
    (count as f64 / length.as_secs_f64(), p99 as f64)
}

/// 32 keep-alive connections for `length` after a short warm-up: requests
/// completed, and each one's latency in µs.
async fn load(address: std::net::SocketAddr, length: Duration) -> (u64, Vec<u64>) {
    let next_id = Arc::new(AtomicU64::new(1));
    let warm_until = Instant::now() + Duration::from_millis(200);
    let until = warm_until + length;
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
    (total, latencies)
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
    let mut ratios: Vec<(Stack, Vec<f64>, Vec<f64>)> = vec![
        (Stack::Layer, Vec::new(), Vec::new()),
        (Stack::Bare, Vec::new(), Vec::new()),
    ];
    let mut fmt_rps = Vec::new();
    for round in 0..rounds {
        for (stack, throughput, p99) in &mut ratios {
            let before = block(Stack::Fmt, &mock, length);
            let with = block(*stack, &mock, length);
            let after = block(Stack::Fmt, &mock, length);
            let base_rps = (before.0 + after.0) / 2.0;
            let base_p99 = (before.1 + after.1) / 2.0;
            throughput.push(with.0 / base_rps);
            p99.push(with.1 / base_p99);
            fmt_rps.push(base_rps);
            eprintln!(
                "round {round} {stack:?}: {:.0} req/s vs fmt {:.0} ({:.3}), p99 {:.0} µs vs {:.0} ({:.3})",
                with.0,
                base_rps,
                with.0 / base_rps,
                with.1,
                base_p99,
                with.1 / base_p99
            );
        }
    }
    println!(
        "fmt only: {:.0} req/s (median of blocks); {rounds} rounds of {block_ms} ms",
        median(fmt_rps)
    );
    println!("| configuration | throughput vs fmt only | p99 vs fmt only |");
    println!("|---|---|---|");
    for (stack, throughput, p99) in ratios {
        let name = match stack {
            Stack::Layer => "fmt + this layer (as `build()` returns it)",
            Stack::Bare => "fmt + the bare layer (`inner()`)",
            Stack::Fmt => "fmt only",
        };
        println!(
            "| {name} | {:.3} | {:.3} |",
            median(throughput),
            median(p99)
        );
    }
}
