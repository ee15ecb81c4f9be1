//! What a fleet costs its Redis: 6 processes share one `redis-server` of
//! this program's own (on a free port, so that its statistics are only
//! theirs), each failing steadily in 10 kinds for 6 s with the default
//! settings. Redis' `INFO commandstats` counts every command, those run
//! inside scripts included; `MONITOR` (which marks those as `lua`) tells
//! the commands the processes sent — round trips — from the operations
//! their scripts ran, second by second. Prints both per process per
//! second, over the whole run (claims and shutdown included) and in the
//! steady state (the seconds after the first, before shutdown).
//!
//! Run: `cargo run -p tracing-telegram-perf --release --bin fleet_cost`
//! (needs `redis-server` on the PATH; `FLEET_PROCESSES`, `FLEET_SECONDS`
//! and `FLEET_KINDS` change the shape).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{Pacing, TelegramLayer};

/// What fails: words, not numbers (numbers fold into one kind).
const NAMES: [&str; 10] = [
    "billing",
    "ledger",
    "search",
    "mailer",
    "payments",
    "inventory",
    "auth",
    "pricing",
    "shipping",
    "reports",
];

/// What `MONITOR` saw: commands the processes sent and operations run
/// inside scripts, by whole second since it started.
#[derive(Default)]
struct Seen {
    sent: Vec<u64>,
    inside: Vec<u64>,
}

/// Reads `MONITOR` until the connection closes.
fn monitor(port: u16) -> std::thread::JoinHandle<Seen> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("redis answers");
    stream.write_all(b"MONITOR\r\n").expect("write");
    std::thread::spawn(move || {
        let mut seen = Seen::default();
        let mut start: Option<f64> = None;
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            // +1796019404.586686 [0 127.0.0.1:40424] "EVALSHA" ...
            let Some(at) = line.strip_prefix('+').and_then(|l| l.split(' ').next()) else {
                continue;
            };
            let Ok(at) = at.parse::<f64>() else { continue };
            let command = line.split('"').nth(1).unwrap_or("").to_ascii_lowercase();
            if matches!(command.as_str(), "config" | "info" | "monitor") {
                continue; // this program's own
            }
            let second = (at - *start.get_or_insert(at)) as usize;
            let counts = if line.contains(" lua] ") {
                &mut seen.inside
            } else {
                &mut seen.sent
            };
            if counts.len() <= second {
                counts.resize(second + 1, 0);
            }
            counts[second] += 1;
        }
        seen
    })
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One process of the fleet: fails in `kinds` kinds (at most 10), one
/// error of each every 10 ms, for `seconds`.
fn child(api_url: &str, token: &str, redis_url: &str) {
    let (kinds, seconds) = (setting("FLEET_KINDS", 10), setting("FLEET_SECONDS", 6));
    let (layer, guard) = TelegramLayer::builder()
        .bot_token(token)
        .chat_id(-100)
        .api_url(api_url)
        .fleet(|f| f.redis_url(redis_url))
        .delivery(|d| d.pacing(Pacing::disabled()))
        .build()
        .expect("valid configuration");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let end = Instant::now() + Duration::from_secs(seconds);
        let mut attempt = 0_u64;
        while Instant::now() < end {
            for name in NAMES.iter().cycle().take(kinds as usize) {
                tracing::error!(attempt, "dependency {name} failed");
            }
            attempt += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let stats = guard.shutdown(Duration::from_secs(10));
    assert_eq!(stats.redis_fallbacks, 0, "{stats:?}");
}

/// Sends one inline command and returns the bulk reply's text.
fn redis_command(port: u16, command: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("redis answers");
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .expect("write");
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    reader.read_line(&mut header).expect("reply");
    let Some(length) = header.trim().strip_prefix('$') else {
        return header;
    };
    let length: usize = length.parse().expect("bulk length");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("bulk body");
    String::from_utf8_lossy(&body).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_redis(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server on the PATH");
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        return child(&args[2], &args[3], &args[4]);
    }
    let processes = setting("FLEET_PROCESSES", 6);
    let seconds = setting("FLEET_SECONDS", 6);
    let kinds = setting("FLEET_KINDS", 10);
    let port = std::env::var("FLEET_REDIS_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(free_port);
    let mut redis = start_redis(port);
    let mock = MockTelegram::start().expect("mock");
    let redis_url = format!("redis://127.0.0.1:{port}/");
    redis_command(port, "CONFIG RESETSTAT");
    let watching = monitor(port);
    let exe = std::env::current_exe().expect("own path");
    let children: Vec<Child> = (0..processes)
        .map(|_| {
            Command::new(&exe)
                .args(["child", mock.url(), mock.token(), redis_url.as_str()])
                .spawn()
                .expect("child")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("child ran").success());
    }
    let stats = redis_command(port, "INFO commandstats");
    let _ = redis.kill();
    let _ = redis.wait();
    let seen = watching.join().expect("monitor");
    let mut all = 0_u64;
    println!("command            calls (INFO commandstats)");
    for line in stats.lines().filter_map(|l| l.strip_prefix("cmdstat_")) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let calls: u64 = rest
            .split(',')
            .find_map(|f| f.strip_prefix("calls="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if name.starts_with("config") || name == "info" {
            continue; // this program's own
        }
        println!("{name:<18} {calls:>6}");
        all += calls;
    }
    let per = |n: u64, secs: u64| n as f64 / processes as f64 / secs.max(1) as f64;
    let (sent, inside): (u64, u64) = (seen.sent.iter().sum(), seen.inside.iter().sum());
    // Steady: whole seconds after the first (claims) and before the last
    // one the processes failed in (shutdown follows).
    let steady = 1..(seconds as usize - 1).min(seen.sent.len());
    let steady_secs = steady.len() as u64;
    let steady_sent: u64 = seen.sent.get(steady.clone()).map_or(0, |s| s.iter().sum());
    let steady_inside: u64 = seen.inside.get(steady).map_or(0, |s| s.iter().sum());
    let notifying = mock
        .messages()
        .iter()
        .filter(|m| !m.disable_notification)
        .count();
    println!("by second, sent: {:?}", seen.sent);
    println!("by second, inside scripts: {:?}", seen.inside);
    println!(
        "{processes} processes × {kinds} kinds × {seconds} s, {notifying} alerts: {all} commands \
         in all ({:.2} per process per second); sent by the processes: {sent} ({:.2}), inside \
         scripts: {inside} ({:.2}); steady state ({steady_secs} s): sent {:.2}, inside scripts \
         {:.2} per process per second",
        per(all, seconds),
        per(sent, seconds),
        per(inside, seconds),
        per(steady_sent, steady_secs),
        per(steady_inside, steady_secs),
    );
}
