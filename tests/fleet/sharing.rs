//! A fleet speaking with one voice through a real Redis.
//!
//! The shared server is 127.0.0.1:6379 (CI starts it). Tests that kill and
//! restart Redis run their own `redis-server` on a free port. Where no Redis
//! can be found or started, the tests say loudly that they skipped — unless
//! `CI` is set, where that is a failure.
#![cfg(feature = "redis")]

use crate::common;

use common::redis::{shared_redis, OwnRedis};

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use tracing::error;
use tracing_subscriber::prelude::*;
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{Builder, Stats, TelegramGuard};

use common::redis::unique_prefix as prefix;

fn fleet_member(mock: &MockTelegram, url: &str, prefix: &str) -> Builder {
    common::builder(mock)
        .dedup(|d| d.window(Duration::from_secs(600)))
        .fleet(|f| f.redis_url(url))
        .fleet(|f| f.key_prefix(prefix))
        .panics(|p| p.report(false))
        // One message per kind is the subject: no incident grouping them.
        .storms(|s| s.incident_after(0))
}

/// Waits until `parts` digest windows are in Redis under `prefix`: what
/// the processes pushed, read the way the leader will.
fn wait_for_pushed_windows(url: &str, prefix: &str, parts: usize) {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    common::wait_until(&format!("{parts} windows pushed"), || {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{{{prefix}}}:digest:*"))
            .query(&mut conn)
            .unwrap();
        let pushed: usize = keys
            .iter()
            .map(|key| {
                redis::cmd("LLEN")
                    .arg(key)
                    .query::<usize>(&mut conn)
                    .unwrap()
            })
            .sum();
        (pushed >= parts).then_some(())
    });
}

/// A process's subscriber, to switch between processes on one thread.
fn dispatch(
    layer: tracing_telegram::FilteredLayer<tracing_subscriber::Registry>,
) -> tracing::Dispatch {
    tracing::Dispatch::new(tracing_subscriber::registry().with(layer))
}

/// The same line failing in every process.
fn ledger_down(attempt: u64) {
    error!(attempt, "ledger unavailable after {} ms", 100 + attempt);
}

/// Emits `errors` on a thread of its own with `guard`'s layer installed.
fn emit_on_thread(
    layer: tracing_telegram::FilteredLayer<tracing_subscriber::Registry>,
    barrier: Arc<Barrier>,
    attempt: u64,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            barrier.wait();
            ledger_down(attempt);
        });
    })
}

fn shutdown_all(guards: Vec<TelegramGuard>) -> Vec<Stats> {
    for guard in &guards {
        assert!(guard.flush(Duration::from_secs(5)));
    }
    guards
        .into_iter()
        .map(|g| g.shutdown(Duration::from_secs(5)))
        .collect()
}

#[test]
fn four_processes_send_one_alert_with_a_fleet_tally_of_four() {
    let Some(url) = shared_redis("four_processes") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = prefix("four");
    let barrier = Arc::new(Barrier::new(4));
    let mut guards = Vec::new();
    let mut threads = Vec::new();
    for attempt in 0..4 {
        let (layer, guard) = fleet_member(&mock, &url, &prefix).build().unwrap();
        guards.push(guard);
        threads.push(emit_on_thread(layer, Arc::clone(&barrier), attempt));
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let stats = shutdown_all(guards);

    let alerts: Vec<_> = mock
        .messages()
        .into_iter()
        .filter(|m| !m.disable_notification)
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let text = alerts[0].plain_text();
    assert!(text.contains("ledger unavailable"), "{text}");
    assert!(
        text.contains("🔁 ×4 in the last 10 min"),
        "the fleet tally: {text}"
    );
    let sent: u64 = stats.iter().map(|s| s.sent).sum();
    let deduplicated: u64 = stats.iter().map(|s| s.deduplicated).sum();
    assert_eq!((sent, deduplicated), (1, 3), "{stats:?}");
    assert!(stats.iter().all(|s| s.redis_fallbacks == 0), "{stats:?}");
}

#[test]
fn redis_dying_mid_run_falls_back_and_sharing_resumes_when_it_returns() {
    let Some(redis) = OwnRedis::start("redis_dying", None) else {
        return;
    };
    let url = redis.url();
    let mock = MockTelegram::start().unwrap();
    let prefix = prefix("dying");
    let (layer_a, guard_a) = fleet_member(&mock, &url, &prefix)
        .fleet(|f| f.timeout(Duration::from_millis(300)))
        .build()
        .unwrap();
    let (layer_b, guard_b) = fleet_member(&mock, &url, &prefix)
        .fleet(|f| f.timeout(Duration::from_millis(300)))
        .build()
        .unwrap();
    let a = dispatch(layer_a);
    let b = dispatch(layer_b);
    // One callsite per phase: four texts from one callsite within a minute
    // would fold into one alert (the storm tests), which is not the subject.
    let fail = |what: &str| match what {
        "before" => error!(what, "fleet check before failed"),
        "during" => error!(what, "fleet check during failed"),
        "reconnect" => error!(what, "fleet check reconnect failed"),
        _ => error!(what, "fleet check after failed"),
    };

    // Shared: two processes, one alert.
    tracing::dispatcher::with_default(&a, || fail("before"));
    assert!(guard_a.flush(Duration::from_secs(5)));
    tracing::dispatcher::with_default(&b, || fail("before"));
    assert!(guard_b.flush(Duration::from_secs(5)));
    assert_eq!(mock.messages().len(), 1);

    // Redis dies: alerts keep flowing, decided in memory, within the timeout.
    let port = redis.kill();
    let started = Instant::now();
    tracing::dispatcher::with_default(&a, || fail("during"));
    assert!(guard_a.flush(Duration::from_secs(5)));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stalled {:?}",
        started.elapsed()
    );
    assert_eq!(mock.messages().len(), 2, "the alert went out without Redis");
    assert!(guard_a.stats().redis_fallbacks > 0);

    // Redis returns: after a reconnecting call, sharing resumes.
    let _redis = OwnRedis::start("redis_dying (restart)", Some(port)).unwrap();
    for (dispatch, guard) in [(&a, &guard_a), (&b, &guard_b)] {
        tracing::dispatcher::with_default(dispatch, || fail("reconnect"));
        assert!(guard.flush(Duration::from_secs(5)));
    }
    let before = mock.messages().len();
    tracing::dispatcher::with_default(&a, || fail("after"));
    assert!(guard_a.flush(Duration::from_secs(5)));
    tracing::dispatcher::with_default(&b, || fail("after"));
    assert!(guard_b.flush(Duration::from_secs(5)));
    let new_alerts = mock.messages().len() - before;
    assert_eq!(
        new_alerts, 1,
        "shared dedup resumed: one alert for two processes"
    );
    drop((a, b));
    let stats = shutdown_all(vec![guard_a, guard_b]);
    for s in &stats {
        common::assert_accounted(s);
    }
}

/// What a failover does to a fleet: Redis stops answering for a while, and
/// comes back without the keys it had (the new master had not received
/// them). A process that knows the fleet alerted a kind keeps it a repeat
/// through both: no second alert, from it or from a process that never saw
/// the kind, and the claim is back in Redis.
#[test]
fn a_kind_the_fleet_alerted_stays_one_alert_through_an_outage_and_a_lost_claim() {
    let Some(redis) = OwnRedis::start("lost_claim", None) else {
        return;
    };
    let url = redis.url();
    let mock = MockTelegram::start().unwrap();
    let prefix = prefix("lost_claim");
    let member = || {
        let (layer, guard) = fleet_member(&mock, &url, &prefix)
            .fleet(|f| f.timeout(Duration::from_millis(300)))
            .build()
            .unwrap();
        (dispatch(layer), guard)
    };
    let ((a, guard_a), (b, guard_b)) = (member(), member());
    let fail = |process: &tracing::Dispatch, guard: &TelegramGuard, attempt: u64| {
        tracing::dispatcher::with_default(process, || ledger_down(attempt));
        assert!(guard.flush(Duration::from_secs(5)));
    };
    fail(&a, &guard_a, 0);
    fail(&b, &guard_b, 1);
    assert_eq!(mock.messages().len(), 1);
    // Past the few seconds a known repeat is trusted without asking Redis
    // (the store's own wall-clock time: no test clock reaches it).
    std::thread::sleep(Duration::from_millis(3_200));

    let port = redis.kill();
    fail(&b, &guard_b, 2);
    assert!(guard_b.stats().redis_fallbacks > 0, "Redis was asked");
    assert_eq!(mock.messages().len(), 1, "a known kind is no new alert");

    let redis = OwnRedis::start("lost_claim (empty again)", Some(port)).unwrap();
    fail(&b, &guard_b, 3);
    let mut conn = redis::Client::open(redis.url().as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let claims: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}:dedup:*"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(claims.len(), 1, "the lost claim is back: {claims:?}");
    let ttl: i64 = redis::cmd("PTTL").arg(&claims[0]).query(&mut conn).unwrap();
    assert!(
        (1..=600_000).contains(&ttl),
        "for the rest of the window: {ttl}"
    );

    let (c, guard_c) = member();
    fail(&c, &guard_c, 4);
    assert_eq!(
        common::notifying(&mock.messages()).len(),
        1,
        "a process that never saw the kind counts it as a repeat too"
    );
    drop((a, b, c));
    let stats = shutdown_all(vec![guard_a, guard_b, guard_c]);
    let sent: u64 = stats.iter().map(|s| s.sent).sum();
    let deduplicated: u64 = stats.iter().map(|s| s.deduplicated).sum();
    assert_eq!((sent, deduplicated), (1, 4), "{stats:?}");
}

/// A kind alerted in memory while Redis was away is still inside its window
/// when Redis returns: its next record is a repeat, not a second alert.
#[test]
fn a_kind_alerted_during_an_outage_is_not_alerted_again_when_redis_returns() {
    let Some(redis) = OwnRedis::start("alerted_during_outage", None) else {
        return;
    };
    let url = redis.url();
    let mock = MockTelegram::start().unwrap();
    // A `before_send` hook turns the repeat gate off: every record reaches
    // the worker and its claim (as it does once the gate closes a kind).
    let (layer, guard) = fleet_member(&mock, &url, &prefix("outage_window"))
        .fleet(|f| f.timeout(Duration::from_millis(300)))
        .hooks(|h| h.before_send(|_| true))
        .build()
        .unwrap();
    let process = dispatch(layer);
    let port = redis.kill();
    tracing::dispatcher::with_default(&process, || ledger_down(1));
    assert!(guard.flush(Duration::from_secs(5)));
    assert_eq!(mock.messages().len(), 1, "alerted in memory");
    let _redis = OwnRedis::start("alerted_during_outage (back)", Some(port)).unwrap();
    for attempt in 2..5 {
        tracing::dispatcher::with_default(&process, || ledger_down(attempt));
        assert!(guard.flush(Duration::from_secs(5)));
    }
    drop(process);
    let stats = shutdown_all(vec![guard]);
    let alerts = common::notifying(&mock.messages()).len();
    assert_eq!(alerts, 1, "{:#?}", mock.messages());
    assert_eq!((stats[0].sent, stats[0].deduplicated), (1, 3), "{stats:?}");
}

#[test]
fn an_unreachable_redis_at_start_still_builds_and_alerts() {
    let mock = MockTelegram::start().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{closed}/");
    let (layer, guard) = fleet_member(&mock, &url, "unreachable")
        .fleet(|f| f.timeout(Duration::from_millis(200)))
        .build()
        .expect("building never waits for Redis");
    let stats = common::run_with(layer, guard, || {
        ledger_down(1);
        ledger_down(2);
    });
    assert_eq!(
        (stats.sent, stats.deduplicated),
        (1, 1),
        "in-memory dedup: {stats:?}"
    );
    assert!(stats.redis_fallbacks > 0, "{stats:?}");
}

#[test]
fn the_startup_notice_is_sent_once_per_deploy() {
    let Some(url) = shared_redis("startup_once") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = prefix("startup");
    let guards: Vec<TelegramGuard> = (0..3)
        .map(|_| {
            fleet_member(&mock, &url, &prefix)
                .notices(|n| n.startup(true))
                .service_version("2.4.1")
                .build::<tracing_subscriber::Registry>()
                .unwrap()
                .1
        })
        .collect();
    shutdown_all(guards);
    let notices = mock
        .messages()
        .iter()
        .filter(|m| m.plain_text().contains("started v2.4.1"))
        .count();
    assert_eq!(notices, 1);
}

/// With a target route, the routed team's warnings make a digest of their
/// own in its topic, merged across the fleet like the main one.
#[test]
fn three_processes_send_one_digest_with_merged_counts() {
    let Some(url) = shared_redis("fleet_digest") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let clock = tracing_telegram::testing::TestClock::new();
    mock.set_clock(clock.clone());
    let prefix = prefix("digest");
    let mut members = Vec::new();
    for _ in 0..3 {
        let (layer, guard) = fleet_member(&mock, &url, &prefix)
            .clock(clock.clone())
            .slow_spans(|s| s.threshold(Duration::from_millis(50)))
            .digest(|d| d.interval(Duration::from_secs(900)))
            .routes(|r| r.target("billing", tracing_telegram::Destination::thread(11)))
            .build()
            .unwrap();
        members.push((dispatch(layer), guard));
    }
    for (i, (dispatch, guard)) in members.iter().enumerate() {
        tracing::dispatcher::with_default(dispatch, || {
            for ms in [60, 80 + 100 * i as u64] {
                tracing::info_span!("request", method = "GET", http.route = "/reports/{id}")
                    .in_scope(|| clock.advance(Duration::from_millis(ms)));
            }
            tracing::warn!(target: "billing::invoices", "invoice export retried");
        });
        assert!(guard.flush(Duration::from_secs(5)));
    }
    // The window closes for all three; each pushes its part...
    clock.advance(Duration::from_secs(900));
    wait_for_pushed_windows(&url, &prefix, 3);
    // ...and after the grace period one of them leads and sends the digest.
    clock.advance(Duration::from_secs(11));
    let digests_in = |topic: Option<i64>| {
        mock.messages()
            .into_iter()
            .filter(|m| m.message_thread_id == topic)
            .map(|m| m.plain_text())
            .filter(|t| t.starts_with("📊 DIGEST"))
            .collect::<Vec<_>>()
    };
    let digests = || digests_in(None);
    common::wait_until("the fleet's digests", || {
        (!digests().is_empty() && !digests_in(Some(11)).is_empty()).then_some(())
    });
    let guards = members.into_iter().map(|(_, guard)| guard).collect();
    let stats = shutdown_all(guards);
    let digests = digests();
    assert_eq!(digests.len(), 1, "{digests:#?} {stats:?}");
    assert!(
        digests[0].contains("GET /reports/{id} ×6"),
        "{}",
        digests[0]
    );
    assert!(digests[0].contains("max 280 ms"), "{}", digests[0]);
    assert!(!digests[0].contains("invoice export"), "{}", digests[0]);
    let billing = digests_in(Some(11));
    assert_eq!(billing.len(), 1, "{billing:#?}");
    assert!(
        billing[0].contains("invoice export retried"),
        "{}",
        billing[0]
    );
    assert!(billing[0].contains("×3"), "merged: {}", billing[0]);
}

#[test]
fn any_process_can_edit_the_original_at_a_threshold() {
    let Some(url) = shared_redis("fleet_threshold") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = prefix("threshold");
    let (layer_a, guard_a) = fleet_member(&mock, &url, &prefix).build().unwrap();
    let (layer_b, guard_b) = fleet_member(&mock, &url, &prefix).build().unwrap();
    let a = dispatch(layer_a);
    let b = dispatch(layer_b);
    tracing::dispatcher::with_default(&a, || ledger_down(0));
    assert!(guard_a.flush(Duration::from_secs(5)), "A alerts first");
    tracing::dispatcher::with_default(&b, || {
        for attempt in 1..10 {
            ledger_down(attempt); // B's 9 repeats make 10 in the fleet
        }
    });
    assert!(guard_b.flush(Duration::from_secs(5)));
    let edits = mock
        .requests()
        .iter()
        .filter(|r| r.method == "editMessageText")
        .count();
    assert_eq!(edits, 1, "B edited A's message at the threshold");
    let text = mock.messages()[0].plain_text();
    assert!(text.contains("🔁 ×10 in the last 10 min"), "{text}");
    drop((a, b));
    shutdown_all(vec![guard_a, guard_b]);
}

#[test]
fn a_flood_of_fleet_repeats_is_counted_without_queueing_and_tallied_fleet_wide() {
    let Some(url) = shared_redis("fleet_flood") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = prefix("flood");
    let (layer_a, guard_a) = fleet_member(&mock, &url, &prefix).build().unwrap();
    // A queue of one: repeats that went through it would mostly be dropped.
    let (layer_b, guard_b) = fleet_member(&mock, &url, &prefix)
        .limits(|l| l.queue_capacity(1))
        .build()
        .unwrap();
    let a = dispatch(layer_a);
    let b = dispatch(layer_b);
    tracing::dispatcher::with_default(&a, || ledger_down(0));
    assert!(guard_a.flush(Duration::from_secs(5)), "A alerts first");
    tracing::dispatcher::with_default(&b, || ledger_down(1));
    assert!(
        guard_b.flush(Duration::from_secs(5)),
        "B learns it is a repeat"
    );
    tracing::dispatcher::with_default(&b, || {
        for attempt in 2..=2000 {
            ledger_down(attempt);
        }
    });
    drop((a, b));
    let stats_b = guard_b.shutdown(Duration::from_secs(5));
    assert_eq!(stats_b.dropped, 0, "{stats_b:?}");
    assert_eq!(
        (stats_b.sent, stats_b.deduplicated),
        (0, 2000),
        "{stats_b:?}"
    );
    common::assert_accounted(&stats_b);
    let stats_a = guard_a.shutdown(Duration::from_secs(5));
    common::assert_accounted(&stats_a);
    let messages = mock.messages();
    let alerts = common::notifying(&messages);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let text = alerts[0].plain_text();
    assert!(
        text.contains("🔁 ×2001 in the last 10 min"),
        "A's final tally has B's repeats from Redis: {text}"
    );
}

/// Runs in a child process (see below) so that its stderr can be read.
#[test]
#[ignore = "run by an_unreachable_redis_is_reported_once in a child process"]
fn child_with_unreachable_redis() {
    let mock = MockTelegram::start().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (layer, guard) = fleet_member(&mock, &format!("redis://127.0.0.1:{closed}/"), "child")
        .fleet(|f| f.timeout(Duration::from_millis(100)))
        .build()
        .unwrap();
    let stats = common::run_with(layer, guard, || {
        for attempt in 0..5 {
            ledger_down(attempt);
        }
    });
    assert!(stats.redis_fallbacks >= 5, "{stats:?}");
}

#[test]
fn an_unreachable_redis_is_reported_once() {
    let output = common::child(module_path!(), "child_with_unreachable_redis")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stderr}");
    let reports = stderr
        .matches("tracing-telegram: Redis unavailable")
        .count();
    assert_eq!(reports, 1, "said once, not per record:\n{stderr}");
}

/// The flood of ten known failures from two threads, with the default
/// queue and dedup window, in a fleet: nothing is dropped, and the fleet's
/// tallies add up to the flood.
#[test]
fn a_fleet_flood_of_ten_kinds_drops_nothing_and_is_tallied_whole() {
    const PER_THREAD: u64 = 250_000;
    let Some(url) = shared_redis("fleet_flood_ten") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = tracing_telegram::TelegramLayer::builder()
        .bot_token(mock.token())
        .chat_id(common::CHAT)
        .api_url(mock.url())
        .delivery(|d| d.pacing(tracing_telegram::Pacing::disabled()))
        .fleet(|f| f.redis_url(&url))
        .fleet(|f| f.key_prefix(prefix("flood_ten")))
        .build()
        .unwrap();
    common::flood_ten_kinds(&dispatch(layer), PER_THREAD);
    let stats = guard.shutdown(Duration::from_secs(30));
    common::assert_flood_tallied(&stats, &mock, 2 * PER_THREAD);
}

/// Three processes count repeats of one alert: each tally threshold the
/// fleet's count crosses is one edit (by the process whose count crossed
/// it in Redis), not one per process.
#[test]
fn each_threshold_is_one_edit_for_the_whole_fleet() {
    let Some(url) = shared_redis("fleet_one_edit_per_threshold") else {
        return;
    };
    let mock = MockTelegram::start().unwrap();
    let prefix = prefix("one-edit");
    let members: Vec<_> = (0..3)
        .map(|_| fleet_member(&mock, &url, &prefix).build().unwrap())
        .collect();
    let (layers, guards): (Vec<_>, Vec<_>) = members.into_iter().unzip();
    let dispatches: Vec<_> = layers.into_iter().map(dispatch).collect();
    tracing::dispatcher::with_default(&dispatches[0], || ledger_down(0));
    assert!(guards[0].flush(Duration::from_secs(5)), "the first alerts");
    // 3 × 40 repeats: the fleet's count reaches 121, past 10 and 100.
    for round in 0..40 {
        for dispatch in &dispatches {
            tracing::dispatcher::with_default(dispatch, || ledger_down(round));
        }
    }
    for guard in &guards {
        assert!(guard.flush(Duration::from_secs(5)));
    }
    let edits = mock
        .requests()
        .iter()
        .filter(|r| r.method == "editMessageText")
        .count();
    assert_eq!(edits, 2, "one edit per threshold: {:#?}", mock.messages());
    drop(dispatches);
    let stats = shutdown_all(guards);
    let deduplicated: u64 = stats.iter().map(|s| s.deduplicated).sum();
    assert_eq!(deduplicated, 120, "{stats:?}");
    let text = mock.messages()[0].plain_text();
    assert!(text.contains("🔁 ×121"), "the final tally: {text}");
}
