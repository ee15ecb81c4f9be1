//! The Redis store (feature `redis`): shared dedup, tallies and digests for
//! a fleet.
//!
//! - First writer wins: `SET {prefix}:dedup:{fp} NX PX window` decides which
//!   process alerts; the others count the record as a repeat (one script:
//!   the claim, or the count).
//! - Fleet tallies: `{prefix}:tally:{fp}` counts the repeats (with the
//!   window as expiry); the process that alerted reads the total when it
//!   reports the final tally. Once a kind is claimed, its later records are
//!   counted here, and once a second one script carries every such kind's
//!   count and asks whether its claim still holds: in steady state a
//!   process talks to Redis about once a second however many kinds fail.
//!   The process whose count crosses a tally threshold in Redis (exactly
//!   one does) edits the alert.
//! - Startup notices once per deploy: `SET {prefix}:started:{service}:{version} NX`;
//!   originals and digest windows: [`shared`](super::shared).
//! - Every key has a TTL and lives under the configurable prefix.
//!
//! Redis trouble never stops alerts: every call is bounded by a timeout
//! (500 ms by default); an error or timeout falls back to the in-memory
//! store for that record (fail open: a duplicate is better than silence),
//! counts a fallback in `Stats`, and says so once (through the reporter). The connection
//! manager reconnects by itself; the first success after trouble is
//! announced too. Everything here runs in the worker thread.
//!
//! A failover is trouble of a known shape: Redis is away for a moment, and
//! the new master may lack the last writes (replication is asynchronous).
//! So a kind this process knows the fleet alerted stays a repeat while its
//! claim's window lasts, Redis answering or not (its counts wait here), and
//! the sync puts back a claim Redis lost. Only a kind never seen here is
//! decided in memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::redis::Script;

use crate::pipeline::Tally;
use crate::report::Reporter;
use crate::stats::Counters;

use super::connection::{hash_tagged, FleetConnection, RedisTarget};
use super::Claim;

/// A Redis URL the Redis client accepted, and how to use it.
#[derive(Debug, Clone)]
pub(crate) struct FleetConfig {
    target: RedisTarget,
    prefix: String,
    timeout: Duration,
}

impl FleetConfig {
    /// Parses `url` with the Redis client's own parser (so that what passes
    /// here also connects later); the error says why, without the URL.
    pub(crate) fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, String> {
        let target = RedisTarget::parse(url, timeout)?;
        Ok(FleetConfig {
            target,
            prefix: prefix.to_owned(),
            timeout,
        })
    }
}

/// A connection to the fleet's Redis, or the memory of having none.
pub(crate) struct FleetStore {
    target: RedisTarget,
    connection: Option<FleetConnection>,
    pub(super) prefix: String,
    timeout: Duration,
    pub(super) instance: String,
    counters: Arc<Counters>,
    reporter: Arc<Reporter>,
    /// Whether the last call failed (to announce recovery once).
    degraded: bool,
    /// Claims a kind, or counts a repeat of it: one call.
    claim_or_count: Script,
    /// Tally thresholds this process's counts crossed in Redis: the kind's
    /// fingerprint and its fleet total (for the worker to edit the alert).
    pub(super) crossed: Vec<(u64, u64)>,
    /// Fingerprints known to be fleet repeats: their further repeats are
    /// counted here and sent with every other kind's in one script call,
    /// instead of two round trips each.
    pub(super) known: HashMap<u64, KnownRepeat>,
}

/// A fingerprint this process knows another alert covers.
#[derive(Debug, Clone, Copy)]
pub(super) struct KnownRepeat {
    /// Until when the knowledge is trusted (then Redis is asked again).
    pub(super) until: Instant,
    /// The dedup window, for the tally key's expiry.
    pub(super) window: Duration,
    /// The fleet's repeat count after the last `INCRBY`.
    pub(super) fleet_repeats: u64,
    /// Repeats counted here since then.
    pub(super) pending: u64,
    /// Until when the fleet's claim on the kind holds, as Redis last said
    /// (its remaining time to live). Until then, a failed call leaves the
    /// kind a repeat (its counts wait here), and a claim Redis lost in a
    /// failover is put back by the next sync.
    pub(super) covered_until: Instant,
}

impl KnownRepeat {
    /// Occurrences in the fleet as far as this process knows: the original,
    /// the fleet's counted repeats and those not yet sent.
    fn total(&self) -> u64 {
        self.fleet_repeats + self.pending + 1
    }
}

/// How long a "known repeat" is trusted before Redis is asked again. Each
/// sync (about once a second, see the worker) renews it for the kinds that
/// repeated, so that a steadily failing kind never asks on its own.
pub(super) const REPEAT_TRUST: Duration = Duration::from_secs(3);

/// What [`CLAIM_SCRIPT`] answers when this process claimed the kind.
const FIRST: i64 = -1;

/// `SET KEYS[1] NX` (the claim, `ARGV[1]` this process, `ARGV[2]` the
/// window): `{-1, window}` if it was taken here; otherwise a repeat, added
/// to the tally `KEYS[2]` (expiring with the window): its new count and the
/// claim's remaining milliseconds. While the kind is muted (`KEYS[3]`, set
/// by a chat member's 🔕), nothing is claimed or counted: `{-3, the mute's
/// remaining milliseconds}`. A new claim clears `KEYS[4]`, the mark a mute
/// leaves (see the sync script), the last window's tally (`KEYS[2]`,
/// which outlives its window, `ARGV[3]` ms, so that the alert can still be
/// resolved with the fleet's count) and its values (`KEYS[6]`, see
/// `spread`). Claimed or counted, the kind's last
/// occurrence in the fleet (`KEYS[5]`, Redis's clock, kept as long) is
/// now: a kind is resolved only when it is quiet everywhere.
const CLAIM_SCRIPT: &str = "\
local muted = redis.call('PTTL', KEYS[3])
if muted > 0 then return {-3, muted} end
local t = redis.call('TIME')
redis.call('SET', KEYS[5], t[1] * 1000 + math.floor(t[2] / 1000), 'PX', ARGV[3])
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('DEL', KEYS[4], KEYS[2], KEYS[6])
  return {-1, tonumber(ARGV[2])}
end
local n = redis.call('INCRBY', KEYS[2], 1)
if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return {n, redis.call('PTTL', KEYS[1])}";

/// What [`CLAIM_SCRIPT`] and the sync script answer for a muted kind.
pub(super) const MUTED: i64 = -3;

/// Most fingerprints remembered as known repeats.
const MAX_KNOWN: usize = 10_000;

impl fmt::Debug for FleetStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetStore")
            .field("prefix", &self.prefix)
            .field("connected", &self.connection.is_some())
            .field("degraded", &self.degraded)
            .finish_non_exhaustive()
    }
}

impl FleetStore {
    /// A store for the configured Redis; nothing is contacted until the
    /// first call.
    pub(crate) fn new(
        config: FleetConfig,
        counters: Arc<Counters>,
        reporter: Arc<Reporter>,
    ) -> Self {
        FleetStore {
            target: config.target,
            connection: None,
            // One hash tag for every key: the scripts' keys share a slot.
            prefix: hash_tagged(&config.prefix),
            timeout: config.timeout,
            instance: instance_id(),
            counters,
            reporter,
            degraded: false,
            claim_or_count: Script::new(CLAIM_SCRIPT),
            crossed: Vec::new(),
            known: HashMap::new(),
        }
    }

    /// Connects now (at startup) so that an unreachable Redis is reported
    /// at once; the layer works in memory meanwhile.
    pub(crate) async fn connect(&mut self) {
        let _ = self.connection().await;
    }

    /// First-writer-wins for `fingerprint` within `window`.
    pub(crate) async fn claim(&mut self, fingerprint: u64, window: Duration) -> Claim {
        let now = Instant::now();
        if let Some(claim) = self.claim_known(fingerprint, now).await {
            return claim;
        }
        // A claim that fails while Redis was fine is tried once more (on a
        // fresh connection where the target needs one): right after a
        // failover the first call meets the old master, and deciding in
        // memory then would alert twice. During an outage it is not (each
        // record would wait twice as long).
        let was_degraded = self.degraded;
        let answer = match self.claim_or_count(fingerprint, window).await {
            None if !was_degraded => self.claim_or_count(fingerprint, window).await,
            answer => answer,
        };
        self.learn_claim(fingerprint, window, now, answer).await
    }

    /// The claim of a kind this process knows the fleet alerted: a repeat
    /// while trusted; while the alert covers it, a repeat after a sync
    /// (or without one, if Redis is away). `None`: ask Redis (unknown, the
    /// window ended, or it was muted).
    async fn claim_known(&mut self, fingerprint: u64, now: Instant) -> Option<Claim> {
        let known = self.known.get_mut(&fingerprint)?;
        if now < known.until {
            known.pending += 1;
            return Some(Claim::Repeat {
                total: known.total(),
                crossed: false, // found when the count reaches Redis
            });
        }
        if now >= known.covered_until {
            self.flush_repeats(fingerprint).await;
            return None;
        }
        // The sync renews the trust, or keeps the counts if Redis is away
        // (rather than alert a kind this process knows was alerted).
        self.sync_one(fingerprint).await;
        let known = self.known.get_mut(&fingerprint)?;
        if Instant::now() >= known.covered_until {
            return None;
        }
        known.pending += 1;
        Some(self.known_repeat(fingerprint))
    }

    /// What Redis' answer to a claim means, remembered for the next records.
    async fn learn_claim(
        &mut self,
        fingerprint: u64,
        window: Duration,
        now: Instant,
        answer: Option<(i64, Duration)>,
    ) -> Claim {
        match answer {
            Some((MUTED, remaining)) => {
                self.known.remove(&fingerprint);
                Claim::Muted { remaining }
            }
            // This process's alert: its later records are repeats, counted
            // here and synced like any other fleet kind's.
            Some((FIRST, _)) => {
                self.remember_repeat(fingerprint, 0, window, window, now)
                    .await;
                Claim::First
            }
            Some((repeats, claim_ttl)) => {
                let repeats = repeats.unsigned_abs();
                self.remember_repeat(fingerprint, repeats, window, claim_ttl, now)
                    .await;
                Claim::Repeat {
                    total: repeats + 1,
                    crossed: Tally::crossed(repeats + 1, 1),
                }
            }
            None => Claim::Local,
        }
    }

    /// A record of a kind the fleet's alert covers, counted already.
    fn known_repeat(&self, fingerprint: u64) -> Claim {
        let total = self.known.get(&fingerprint).map_or(1, KnownRepeat::total);
        Claim::Repeat {
            total,
            crossed: false, // a crossing the sync found is in `crossed`
        }
    }

    /// Claims `fingerprint` for this process, or counts a repeat of it, in
    /// one call: [`FIRST`] (or the fleet's repeat count after this one) and
    /// how long the claim holds still.
    async fn claim_or_count(
        &mut self,
        fingerprint: u64,
        window: Duration,
    ) -> Option<(i64, Duration)> {
        let claim = format!("{}:dedup:{fingerprint:016x}", self.prefix);
        let tally = format!("{}:tally:{fingerprint:016x}", self.prefix);
        let (script, instance) = (self.claim_or_count.clone(), self.instance.clone());
        let mute = format!("{}:mute:{fingerprint:016x}", self.prefix);
        let ended = format!("{}:ended:{fingerprint:016x}", self.prefix);
        let seen = self.seen_key(fingerprint);
        let spread = self.spread_key(fingerprint);
        let (answer, claim_ttl) = self
            .call(|mut conn| async move {
                script
                    .key(&claim)
                    .key(&tally)
                    .key(&mute)
                    .key(&ended)
                    .key(&seen)
                    .key(&spread)
                    .arg(&instance)
                    .arg(millis(window))
                    .arg(millis(seen_lifetime(window)))
                    .invoke_async::<(i64, i64)>(&mut conn)
                    .await
            })
            .await?;
        Some((answer, claim_remaining(claim_ttl, window)))
    }

    /// Repeats the layer counted at the gate for a fingerprint known to be
    /// a fleet repeat: batched like the others; the fleet total they make.
    pub(crate) fn add_repeats(&mut self, fingerprint: u64, repeats: u64, window: Duration) -> u64 {
        let known = self.known.entry(fingerprint).or_insert(KnownRepeat {
            // Known no longer: the next ordinary record asks Redis again.
            until: Instant::now(),
            window,
            fleet_repeats: 0,
            pending: 0,
            covered_until: Instant::now(),
        });
        known.pending += repeats;
        known.total()
    }

    /// Whether `fingerprint` is still trusted to be a fleet repeat.
    pub(crate) fn knows_repeat(&self, fingerprint: u64) -> bool {
        self.known
            .get(&fingerprint)
            .is_some_and(|known| Instant::now() < known.until)
    }

    /// The thresholds crossed since the last call: fingerprint and total.
    pub(crate) fn take_crossed(&mut self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.crossed)
    }

    /// Whether repeats are waiting to be counted in Redis.
    pub(crate) fn has_pending_repeats(&self) -> bool {
        self.known.values().any(|known| known.pending > 0)
    }

    async fn remember_repeat(
        &mut self,
        fingerprint: u64,
        repeats: u64,
        window: Duration,
        claim_holds: Duration,
        now: Instant,
    ) {
        if self.known.len() >= MAX_KNOWN {
            self.flush_all_repeats().await;
            if self.known.len() >= MAX_KNOWN {
                return; // still full of live entries: ask Redis every time
            }
        }
        // Counts a failed sync left behind are kept for the next one, as
        // long as the window they belong to still holds (a repeat); a new
        // window (`repeats == 0`: this process's alert) starts from none.
        let pending = match repeats {
            0 => 0,
            _ => self
                .known
                .get(&fingerprint)
                .map_or(0, |known| known.pending),
        };
        self.known.insert(
            fingerprint,
            KnownRepeat {
                until: now + REPEAT_TRUST.min(window),
                window,
                fleet_repeats: repeats,
                pending,
                covered_until: now + claim_holds,
            },
        );
    }

    /// Syncs `fingerprint` alone, whether it has pending repeats or not (to
    /// learn whether its claim still holds, or it was muted).
    async fn sync_one(&mut self, fingerprint: u64) {
        self.sync(&[fingerprint]).await;
    }

    /// Counts `fingerprint`'s batched repeats in Redis, if it has any (a
    /// kind with none stays known for as long as it is trusted).
    async fn flush_repeats(&mut self, fingerprint: u64) {
        if self
            .known
            .get(&fingerprint)
            .is_some_and(|known| known.pending > 0)
        {
            self.sync(&[fingerprint]).await;
        }
    }

    /// Forgets that `fingerprint` is a fleet repeat (it was muted: the next
    /// record asks Redis, which says so).
    pub(super) fn forget_repeat(&mut self, fingerprint: u64) {
        self.known.remove(&fingerprint);
    }

    /// The fleet's occurrences of `fingerprint` (the original included), if
    /// Redis answers.
    pub(crate) async fn total(&mut self, fingerprint: u64) -> Option<u64> {
        self.flush_repeats(fingerprint).await;
        let key = format!("{}:tally:{fingerprint:016x}", self.prefix);
        let repeats: Option<u64> = self.read("GET", key).await?;
        Some(repeats.unwrap_or(0) + 1)
    }

    /// `SET key <instance> NX PX ttl`: `Some(true)` if this process set it
    /// first, `Some(false)` if another had, `None` if Redis did not answer.
    pub(super) async fn set_nx(&mut self, key: String, ttl: Duration) -> Option<bool> {
        let instance = self.instance.clone();
        let set = self
            .call(|mut conn| async move {
                ::redis::cmd("SET")
                    .arg(&key)
                    .arg(&instance)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl))
                    .query_async::<Option<String>>(&mut conn)
                    .await
            })
            .await?;
        Some(set.is_some())
    }

    /// Runs one command with the timeout; `None` (counted, reported) on
    /// any failure.
    pub(super) async fn call<T, F, Fut>(&mut self, command: F) -> Option<T>
    where
        F: FnOnce(FleetConnection) -> Fut,
        Fut: std::future::Future<Output = ::redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        let answer = tokio::time::timeout(self.timeout, command(connection)).await;
        if !matches!(answer, Ok(Ok(_))) && self.target.reconnects_after_failure() {
            // The master may have moved: the next call asks the sentinels.
            self.connection = None;
        }
        match answer {
            Ok(Ok(value)) => {
                self.recovered();
                Some(value)
            }
            Ok(Err(error)) => self.failed(&error.to_string()),
            Err(_) => self.failed(&format!("no answer within {:?}", self.timeout)),
        }
    }

    /// `command key` (`GET`, `HGETALL`): the one shape of the store's
    /// reads, bounded and failing over like every [`call`](Self::call).
    pub(super) async fn read<T>(&mut self, command: &'static str, key: String) -> Option<T>
    where
        T: ::redis::FromRedisValue + Send + 'static,
    {
        self.call(|mut conn| async move {
            ::redis::cmd(command)
                .arg(&key)
                .query_async::<T>(&mut conn)
                .await
        })
        .await
    }

    /// The connection, established on first use (bounded by the timeout).
    async fn connection(&mut self) -> Option<FleetConnection> {
        if let Some(connection) = &self.connection {
            return Some(connection.clone());
        }
        let connect = self.target.connect(self.timeout);
        match tokio::time::timeout(self.timeout * 2, connect).await {
            Ok(Ok(connection)) => {
                self.connection = Some(connection.clone());
                self.recovered();
                Some(connection)
            }
            Ok(Err(error)) => self.failed(&error.to_string()),
            Err(_) => self.failed("connecting timed out"),
        }
    }

    fn failed<T>(&mut self, reason: &str) -> Option<T> {
        self.counters.redis_fallback();
        if !self.degraded {
            self.reporter.notice(&format!(
                "Redis unavailable ({reason}); deduplicating in memory until it returns"
            ));
            self.degraded = true;
        }
        None
    }

    fn recovered(&mut self) {
        if self.degraded {
            self.reporter
                .notice("Redis is back; fleet-wide deduplication resumed");
            self.degraded = false;
        }
    }
}

/// How long a claim holds still, from Redis' `PTTL` answer (a claim
/// without expiry, which this crate never writes, counts as a full window).
pub(super) fn claim_remaining(ttl_millis: i64, window: Duration) -> Duration {
    match u64::try_from(ttl_millis) {
        Ok(millis) => Duration::from_millis(millis).min(window),
        Err(_) if ttl_millis == -1 => window,
        Err(_) => Duration::ZERO,
    }
}

/// How long a kind's last occurrence is kept: past any quiet period worth
/// waiting for (a kind unseen for that long is quiet).
pub(super) fn seen_lifetime(window: Duration) -> Duration {
    window.saturating_mul(4).max(Duration::from_secs(3600))
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A value that tells this process's keys from others': host, pid, start time.
fn instance_id() -> String {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{}", std::process::id(), started)
}
