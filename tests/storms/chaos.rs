//! Chaos: a seeded, randomized run that mixes Bot API faults (429, 5xx,
//! hangs and slow answers, rejected HTML, a bot removed from the chat, and
//! answers that are not Bot API answers: a proxy's page, `ok: false`, a
//! body cut short or huge),
//! Redis killed and restarted under a fleet, floods from several threads,
//! a `before_send` hook that panics on some records, storms of variants
//! (one callsite, a new text each time: user input in the message) on some
//! seeds, and a shutdown at a random moment, possibly while threads are
//! still emitting.
//!
//! Each seed asserts: no panic escapes into the application's threads;
//! every emitted error is accounted for (`accepted` equals what was
//! emitted, and `accepted == sent + deduplicated + batched + dropped +
//! failed`); shutdown returns within its deadline (plus the worker's small
//! exit slack).
//!
//! A short seed set (1–4, and 52, which once found a bug) runs with the
//! test suite; a long one on demand:
//! `CHAOS_SEEDS=200 cargo test --all-features --test chaos -- --nocapture`.
#![cfg(feature = "redis")]

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::OwnRedis;
use tracing::error;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::{MockTelegram, Reply};
use tracing_telegram::{Pacing, RetryPolicy, Stats, TelegramLayer};

/// xorshift64*: small, seedable, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What one seed did and saw.
#[derive(Debug)]
struct Outcome {
    emitted: u64,
    /// As `shutdown` returned them.
    stats: Stats,
    /// Once every thread is done (what they emitted after shutdown is
    /// refused and counted as dropped).
    after: Stats,
    shutdown_took: Duration,
    deadline: Duration,
}

const KINDS: [&str; 10] = [
    "payment provider refused the charge",
    "ledger out of balance",
    "inventory sync failed",
    "hook-bomb: the redaction hook panics on this one",
    "cache stampede",
    "mail relay rejected the message",
    "search index offline",
    "refund window expired",
    "tax service timed out",
    "fraud check unavailable",
];

fn run_seed(seed: u64, redis: &mut Option<OwnRedis>, port: u16) -> Outcome {
    let mut rng = Rng::new(seed);
    let mock = MockTelegram::start().unwrap();
    let url = format!("redis://127.0.0.1:{port}/");
    let mut builder = TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(-100)
        .api_url(mock.url())
        .panics(|p| p.report(false))
        .delivery(|d| d.pacing(Pacing::disabled()))
        .delivery(|d| {
            d.retry(
                RetryPolicy::default()
                    .base_delay(Duration::from_millis(5))
                    .max_delay(Duration::from_millis(20))
                    .budget(Duration::from_millis(300)),
            )
        })
        .delivery(|d| d.request_timeout(Duration::from_millis(500)))
        .delivery(|d| d.max_retry_after(Duration::from_secs(2)))
        .limits(|l| l.queue_capacity(16 << rng.below(6)))
        .fleet(|f| f.redis_url(&url))
        .fleet(|f| f.key_prefix(format!("tt-chaos:{seed}:{}", std::process::id())))
        .fleet(|f| f.timeout(Duration::from_millis(100)));
    if rng.below(2) == 0 {
        builder = builder.hooks(|h| {
            h.before_send(|alert| {
                assert!(
                    !alert.text().is_some_and(|t| t.starts_with("hook-bomb")),
                    "the hook refuses this record"
                );
                true
            })
        });
    }
    // Drawn from a generator of its own, so that the seeds above still
    // replay the runs they were kept for.
    if Rng::new(seed ^ 0x1A7E_2AC7).below(2) == 0 {
        builder = builder
            .interactive(|i| i.enabled(true))
            .interactive(|i| i.poll_timeout(Duration::from_secs(1)));
    }
    // The storm family, drawn from generators of their own too.
    let storm = Rng::new(seed ^ 0x5709_3A11).below(2) == 0;
    let (layer, guard) = builder.build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let emitted = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let threads: Vec<_> = (0..2 + rng.below(3))
        .map(|t| {
            let (dispatch, emitted, stop) =
                (dispatch.clone(), Arc::clone(&emitted), Arc::clone(&stop));
            let mut rng = Rng::new(seed ^ ((t + 1) * 7919));
            let mut storm_rng = Rng::new(seed ^ ((t + 1) * 104_729));
            let total = 500 + rng.below(5_000);
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..total {
                        if stop.load(Ordering::Relaxed) && rng.below(4) == 0 {
                            break;
                        }
                        let kind = KINDS[rng.below(KINDS.len() as u64) as usize];
                        if storm && storm_rng.below(3) != 0 {
                            let user = letters(storm_rng.next());
                            error!(
                                "import rejected for user {user}: column {kind} is not writable"
                            );
                        } else {
                            error!(attempt = i, "{kind}");
                        }
                        emitted.fetch_add(1, Ordering::Relaxed);
                        if rng.below(500) == 0 {
                            std::thread::sleep(Duration::from_millis(rng.below(20)));
                        }
                    }
                });
            })
        })
        .collect();

    // Faults while the threads emit.
    for _ in 0..(3 + rng.below(8)) {
        match rng.below(9) {
            0 => mock.script(Reply::TooManyRequests { retry_after: 1 }),
            1 => mock.script(Reply::ServerError(502)),
            2 => mock.script(Reply::ParseError),
            3 => {
                mock.script(Reply::Hang);
                std::thread::sleep(Duration::from_millis(rng.below(200)));
                mock.hang(false);
            }
            4 if rng.below(4) == 0 => mock.script(Reply::Forbidden(
                "Forbidden: bot was kicked from the group chat".into(),
            )),
            5 => {
                if let Some(server) = redis.take() {
                    server.kill();
                }
            }
            6 if redis.is_none() => {
                *redis = OwnRedis::start("chaos (restart)", Some(port));
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(rng.below(60)));
    }

    // Answers that are not Bot API answers (a generator of their own).
    let mut glitches = Rng::new(seed ^ 0x6_11C4);
    for _ in 0..glitches.below(4) {
        match glitches.below(4) {
            0 => mock.script(Reply::HtmlPage),
            1 => mock.script(Reply::NotOk),
            2 => mock.script(Reply::Truncated),
            _ => mock.script(Reply::Huge(3 << 20)),
        }
    }

    // Shut down at a random moment: sometimes while threads still emit.
    let handle = guard.handle();
    let join_first = rng.below(2) == 0;
    let mut threads = Some(threads);
    if join_first {
        stop.store(true, Ordering::Relaxed);
        join(threads.take());
    }
    let deadline = Duration::from_millis(200 + rng.below(1_500));
    let started = Instant::now();
    let stats = guard.shutdown(deadline);
    let shutdown_took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    join(threads.take());
    Outcome {
        emitted: emitted.load(Ordering::Relaxed),
        stats,
        after: handle.stats(),
        shutdown_took,
        deadline,
    }
}

/// A number in letters: a user name no normaliser folds.
fn letters(mut n: u64) -> String {
    let mut name = String::from("user-");
    for _ in 0..6 {
        name.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
    }
    name
}

/// Joins the emitting threads: a panic in one would have escaped into the
/// application.
fn join(threads: Option<Vec<std::thread::JoinHandle<()>>>) {
    for thread in threads.into_iter().flatten() {
        thread
            .join()
            .expect("no panic escapes into the application");
    }
}

fn check(seed: u64, outcome: &Outcome) {
    let Outcome {
        emitted,
        stats,
        after,
        shutdown_took,
        deadline,
    } = outcome;
    assert!(
        *shutdown_took < *deadline + Duration::from_millis(700),
        "seed {seed}: shutdown took {shutdown_took:?} for a {deadline:?} deadline"
    );
    common::assert_accounted(stats);
    // What was emitted after shutdown is counted (as dropped) by the time
    // the threads are done: the final figures must cover every emission.
    assert_eq!(after.accepted, *emitted, "seed {seed}: {after:?}");
    common::assert_accounted(after);
}

#[test]
fn seeded_chaos_never_breaks_the_host_and_accounts_for_everything() {
    // CHAOS_SEEDS=N runs seeds 1..=N; by default a short set, with seeds
    // that once found a bug (52: repeats counted at the gate after the guard
    // abandoned a worker stalled on Redis were never accounted for).
    let seeds: Vec<u64> = match std::env::var("CHAOS_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        Some(n) => (1..=n).collect(),
        None => vec![1, 2, 3, 4, 52],
    };
    let Some(first) = OwnRedis::start("chaos", None) else {
        return;
    };
    let port = first
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let mut redis = Some(first);
    let started = Instant::now();
    let mut totals = (0_u64, 0_u64, 0_u64, 0_u64);
    for &seed in &seeds {
        if redis.is_none() {
            redis = OwnRedis::start("chaos (restart)", Some(port));
        }
        let outcome = run_seed(seed, &mut redis, port);
        check(seed, &outcome);
        totals.0 += outcome.emitted;
        totals.1 += outcome.after.sent;
        totals.2 += outcome.after.dropped;
        totals.3 += outcome.after.failed;
    }
    eprintln!(
        "chaos: {} seeds in {:?}: {} errors emitted, {} alerts sent, {} dropped, {} failed",
        seeds.len(),
        started.elapsed(),
        totals.0,
        totals.1,
        totals.2,
        totals.3
    );
}
