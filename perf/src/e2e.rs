//! End to end, as a user would see it: an axum service with tower-http's
//! `TraceLayer`, one `#[instrument]`ed inner function, `fmt` to a sink, 32
//! keep-alive connections on loopback, 1 % of requests failing with a 500
//! and an `error!`. One process; configurations switched between blocks,
//! each layer block compared with the fmt-only blocks on either side of it
//! (so that a machine's drift cancels out); the median of the rounds.
//!
//! Used by the `e2e` program (sandwiched blocks, ratios) and the `e2e`
//! criterion bench (time per request of each configuration).
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

/// Keep-alive connections of the load.
pub const CONNECTIONS: usize = 32;

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
pub enum Stack {
    /// `fmt` to a sink behind an `INFO` filter: the baseline.
    Fmt,
    /// The README's composition: `fmt` and the layer as `build()` returns it.
    Layer,
    /// `fmt` and the bare layer (`inner()`), without its per-layer filter.
    Bare,
    /// `fmt` and a layer that does nothing, behind the layer's own filter:
    /// what the spans the layer wants cost the registry by being there
    /// (tower-http makes its request span at `DEBUG`, which `fmt` at `INFO`
    /// does not create) before the layer does any work of its own.
    Floor,
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
        Stack::Floor => {
            let (layer, guard) = builder()
                .build::<tracing_subscriber::Registry>()
                .expect("layer");
            let nothing =
                tracing_subscriber::layer::Identity::new().with_filter(layer.filter().clone());
            (tracing::Dispatch::new(registry.with(nothing)), Some(guard))
        }
    }
}

/// What one block measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Requests per second of wall-clock time.
    pub throughput: f64,
    /// 99th percentile latency, µs.
    pub p99: f64,
    /// CPU time per request, ns (every thread of the process).
    pub cpu_per_request: f64,
    /// Wall-clock time of the measured part.
    pub elapsed: Duration,
}

/// How long a block's load runs after its warm-up.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// For this long.
    Elapsed(Duration),
    /// Until this many requests were answered.
    Requests(u64),
}

/// One block: the service under `stack`, loaded `until` (after a warm-up),
/// with tower-http's default request span (`DEBUG`).
pub fn block(stack: Stack, mock: &MockTelegram, until: Until) -> Measured {
    block_with(stack, mock, until, tracing::Level::DEBUG)
}

/// One block whose request spans are made at `request_span` (`INFO`, as
/// many services configure `make_span_with`, puts them in `fmt`'s output
/// too: the registry then makes them with or without the layer).
pub fn block_with(
    stack: Stack,
    mock: &MockTelegram,
    until: Until,
    request_span: tracing::Level,
) -> Measured {
    let (dispatch, guard) = dispatch(stack, mock);
    // Service and load on one thread: the ratio is then one core's work,
    // not two threads' scheduling (which moved single rounds by ±20 %).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (count, mut latencies, cpu, elapsed) = tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let address = listener.local_addr().expect("address");
            let app = Router::new().route("/orders/{id}", get(order)).layer(
                tower_http::trace::TraceLayer::new_for_http()
                    .make_span_with(tower_http::trace::DefaultMakeSpan::new().level(request_span)),
            );
            let server = tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            let measured = load(address, until).await;
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
        throughput: count as f64 / elapsed.as_secs_f64().max(1e-9),
        p99: p99 as f64,
        cpu_per_request: cpu as f64 / count.max(1) as f64,
        elapsed,
    }
}

/// 32 keep-alive connections after a short warm-up, `until` enough: the
/// requests answered, each one's latency in µs, the CPU time and the
/// wall-clock time they took.
async fn load(address: std::net::SocketAddr, until: Until) -> (u64, Vec<u64>, u64, Duration) {
    let next_id = Arc::new(AtomicU64::new(1));
    let warm_until = Instant::now() + Duration::from_millis(200);
    // Requests answered after the warm-up (the count-based stop).
    let answered = Arc::new(AtomicU64::new(0));
    let (deadline, wanted) = match until {
        Until::Elapsed(length) => (Some(warm_until + length), u64::MAX),
        Until::Requests(n) => (None, n),
    };
    let cpu_at_start = tokio::spawn(async move {
        tokio::time::sleep_until(warm_until.into()).await;
        (cpu_ns(), Instant::now())
    });
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let next_id = Arc::clone(&next_id);
        let answered = Arc::clone(&answered);
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(address).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut stream = BufReader::new(stream);
            let (mut count, mut latencies) = (0, Vec::new());
            loop {
                let now = Instant::now();
                let over = deadline.is_some_and(|at| now >= at)
                    || answered.load(Ordering::Relaxed) >= wanted;
                if over {
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
                    answered.fetch_add(1, Ordering::Relaxed);
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
    let (cpu_start, started) = cpu_at_start.await.expect("cpu reading");
    let cpu = cpu_ns().saturating_sub(cpu_start);
    (total, latencies, cpu, started.elapsed())
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
