//! The Redis store (feature `redis`): shared dedup, tallies and digests for
//! a fleet.
//!
//! - First writer wins: `SET {prefix}:dedup:{fp} NX PX window` decides which
//!   process alerts; the others count the record as a repeat.
//! - Fleet tallies: every repeat runs `INCR` (with the window as expiry, in
//!   one Lua script) on `{prefix}:tally:{fp}`; the process that alerted reads
//!   the total when it reports the tally.
//! - Startup notices once per deploy: `SET {prefix}:started:{service}:{version} NX`.
//! - Every key has a TTL and lives under the configurable prefix.
//!
//! Redis trouble never stops alerts: every call is bounded by a timeout
//! (500 ms by default); an error or timeout falls back to the in-memory
//! store for that record (fail open: a duplicate is better than silence),
//! counts a fallback in `Stats`, and says so once (through the reporter). The connection
//! manager reconnects by itself; the first success after trouble is
//! announced too. Everything here runs in the worker thread.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Script};

use crate::delivery::Delivered;
use crate::pipeline::{Claim, DigestData};
use crate::report::Reporter;
use crate::stats::Counters;

/// A Redis URL the Redis client accepted, and how to use it.
#[derive(Debug, Clone)]
pub(crate) struct FleetConfig {
    client: Client,
    prefix: String,
    timeout: Duration,
}

impl FleetConfig {
    /// Parses `url` with the Redis client's own parser (so that what passes
    /// here also connects later); the error says why, without the URL.
    pub(crate) fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, String> {
        let client = Client::open(url).map_err(|error| format!("{:?}", error.kind()))?;
        Ok(FleetConfig {
            client,
            prefix: prefix.to_owned(),
            timeout,
        })
    }
}

/// A connection to the fleet's Redis, or the memory of having none.
pub(crate) struct FleetStore {
    client: Client,
    connection: Option<ConnectionManager>,
    prefix: String,
    timeout: Duration,
    instance: String,
    counters: Arc<Counters>,
    reporter: Arc<Reporter>,
    /// Whether the last call failed (to announce recovery once).
    degraded: bool,
    incr_with_expiry: Script,
    /// Fingerprints known to be fleet repeats: their further repeats are
    /// counted here and sent as one `INCRBY` at most every
    /// [`REPEAT_BATCH`], instead of two round trips each.
    known: HashMap<u64, KnownRepeat>,
}

/// A fingerprint this process knows another alert covers.
#[derive(Debug, Clone, Copy)]
struct KnownRepeat {
    /// Until when the knowledge is trusted (then Redis is asked again).
    until: Instant,
    /// The dedup window, for the tally key's expiry.
    window: Duration,
    /// The fleet's repeat count after the last `INCRBY`.
    fleet_repeats: u64,
    /// Repeats counted here since then.
    pending: u64,
}

impl KnownRepeat {
    /// Occurrences in the fleet as far as this process knows: the original,
    /// the fleet's counted repeats and those not yet sent.
    fn total(&self) -> u64 {
        self.fleet_repeats + self.pending + 1
    }
}

/// How long a "known repeat" is trusted before Redis is asked again, and so
/// how stale a fleet tally can be.
const REPEAT_BATCH: Duration = Duration::from_secs(1);

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
            client: config.client,
            connection: None,
            prefix: config.prefix,
            timeout: config.timeout,
            instance: instance_id(),
            counters,
            reporter,
            degraded: false,
            // INCRBY, and an expiry when this call created the key.
            incr_with_expiry: Script::new(
                "local n = redis.call('INCRBY', KEYS[1], ARGV[2]) \
                 if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
                 return n",
            ),
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
        if let Some(known) = self.known.get_mut(&fingerprint) {
            if now < known.until {
                known.pending += 1;
                return Claim::Repeat {
                    total: known.total(),
                };
            }
            self.flush_repeats(fingerprint).await;
        }
        let key = format!("{}:dedup:{fingerprint:016x}", self.prefix);
        match self.set_nx(key, window).await {
            Some(true) => Claim::First,
            Some(false) => match self.count_repeats(fingerprint, 1, window).await {
                Some(repeats) => {
                    self.remember_repeat(fingerprint, repeats, window, now)
                        .await;
                    Claim::Repeat { total: repeats + 1 }
                }
                None => Claim::Local,
            },
            None => Claim::Local,
        }
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

    /// Sends every batched repeat count (periodically, and at shutdown).
    pub(crate) async fn flush_all_repeats(&mut self) {
        let pending: Vec<u64> = self
            .known
            .iter()
            .filter(|(_, known)| known.pending > 0)
            .map(|(fingerprint, _)| *fingerprint)
            .collect();
        for fingerprint in pending {
            self.flush_repeats(fingerprint).await;
        }
        let now = Instant::now();
        self.known
            .retain(|_, known| known.pending > 0 || now < known.until);
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
        now: Instant,
    ) {
        if self.known.len() >= MAX_KNOWN {
            self.flush_all_repeats().await;
            if self.known.len() >= MAX_KNOWN {
                return; // still full of live entries: ask Redis every time
            }
        }
        self.known.insert(
            fingerprint,
            KnownRepeat {
                until: now + REPEAT_BATCH.min(window),
                window,
                fleet_repeats: repeats,
                pending: 0,
            },
        );
    }

    /// Counts `fingerprint`'s batched repeats in Redis.
    async fn flush_repeats(&mut self, fingerprint: u64) {
        let Some(known) = self.known.get(&fingerprint).copied() else {
            return;
        };
        if known.pending == 0 {
            self.known.remove(&fingerprint);
            return;
        }
        // If Redis is away, the count stays here and the next flush retries.
        if let Some(repeats) = self
            .count_repeats(fingerprint, known.pending, known.window)
            .await
        {
            if let Some(entry) = self.known.get_mut(&fingerprint) {
                entry.fleet_repeats = repeats;
                entry.pending = 0;
            }
        }
    }

    /// The fleet's occurrences of `fingerprint` (the original included), if
    /// Redis answers.
    pub(crate) async fn total(&mut self, fingerprint: u64) -> Option<u64> {
        self.flush_repeats(fingerprint).await;
        let key = format!("{}:tally:{fingerprint:016x}", self.prefix);
        let repeats = self
            .call(|mut conn| async move {
                ::redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<u64>>(&mut conn)
                    .await
            })
            .await?;
        Some(repeats.unwrap_or(0) + 1)
    }

    /// Whether this process is the first of its deploy to start (`None`:
    /// Redis did not answer).
    pub(crate) async fn first_start(&mut self, service: &str, version: &str) -> Option<bool> {
        let key = format!("{}:started:{service}:{version}", self.prefix);
        self.set_nx(key, Duration::from_secs(3600)).await
    }

    /// Remembers where the original alert of `fingerprint` went, for the
    /// window, so that any process can edit it with a tally.
    pub(crate) async fn store_original(&mut self, delivered: &Delivered, window: Duration) {
        let Ok(json) = serde_json::to_string(delivered) else {
            return;
        };
        let key = format!("{}:msg:{:016x}", self.prefix, delivered.fingerprint);
        let _ = self
            .call(|mut conn| async move {
                ::redis::cmd("SET")
                    .arg(&key)
                    .arg(&json)
                    .arg("PX")
                    .arg(millis(window))
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
    }

    /// Where the original alert of `fingerprint` went, if any process said.
    pub(crate) async fn original(&mut self, fingerprint: u64) -> Option<Delivered> {
        let key = format!("{}:msg:{fingerprint:016x}", self.prefix);
        let json = self
            .call(|mut conn| async move {
                ::redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<String>>(&mut conn)
                    .await
            })
            .await??;
        serde_json::from_str(&json).ok()
    }

    /// Adds this process's window to the fleet's; `false` if Redis did not
    /// take it.
    pub(crate) async fn push_digest(
        &mut self,
        window_id: u64,
        data: &DigestData,
        ttl: Duration,
    ) -> bool {
        let Ok(json) = serde_json::to_string(data) else {
            return false;
        };
        let key = format!("{}:digest:{window_id}", self.prefix);
        let pushed = self
            .call(|mut conn| async move {
                ::redis::pipe()
                    .atomic()
                    .cmd("RPUSH")
                    .arg(&key)
                    .arg(&json)
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(millis(ttl))
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
        pushed.is_some()
    }

    /// Becomes the leader of `window_id`'s digest if nobody is: then the
    /// windows every process pushed. `Err` if Redis did not answer,
    /// `Ok(None)` if another process leads.
    pub(crate) async fn collect_digest(
        &mut self,
        window_id: u64,
        ttl: Duration,
    ) -> Result<Option<Vec<DigestData>>, ()> {
        let leader_key = format!("{}:digest-leader:{window_id}", self.prefix);
        let leads = self.set_nx(leader_key, ttl).await.ok_or(())?;
        if !leads {
            return Ok(None);
        }
        let key = format!("{}:digest:{window_id}", self.prefix);
        let pushed = self
            .call(|mut conn| async move {
                ::redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async::<Vec<String>>(&mut conn)
                    .await
            })
            .await
            .ok_or(())?;
        Ok(Some(
            pushed
                .iter()
                .filter_map(|json| serde_json::from_str(json).ok())
                .collect(),
        ))
    }

    /// `SET key <instance> NX PX ttl`: `Some(true)` if this process set it
    /// first, `Some(false)` if another had, `None` if Redis did not answer.
    async fn set_nx(&mut self, key: String, ttl: Duration) -> Option<bool> {
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

    /// Adds `count` repeats to the fleet's tally; the new total of repeats.
    async fn count_repeats(
        &mut self,
        fingerprint: u64,
        count: u64,
        window: Duration,
    ) -> Option<u64> {
        let key = format!("{}:tally:{fingerprint:016x}", self.prefix);
        let script = self.incr_with_expiry.clone();
        self.call(|mut conn| async move {
            script
                .key(&key)
                .arg(millis(window))
                .arg(count)
                .invoke_async::<u64>(&mut conn)
                .await
        })
        .await
    }

    /// Runs one command with the timeout; `None` (counted, reported) on
    /// any failure.
    async fn call<T, F, Fut>(&mut self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = ::redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        match tokio::time::timeout(self.timeout, command(connection)).await {
            Ok(Ok(value)) => {
                self.recovered();
                Some(value)
            }
            Ok(Err(error)) => self.failed(&error.to_string()),
            Err(_) => self.failed(&format!("no answer within {:?}", self.timeout)),
        }
    }

    /// The connection, established on first use (bounded by the timeout).
    async fn connection(&mut self) -> Option<ConnectionManager> {
        if let Some(connection) = &self.connection {
            return Some(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let connect = ConnectionManager::new_with_config(self.client.clone(), config);
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

fn millis(duration: Duration) -> u64 {
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
