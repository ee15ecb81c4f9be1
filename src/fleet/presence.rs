//! The fleet watch's side in Redis (feature `redis`; see [`watch`]).
//!
//! Four keys under the prefix, whatever the fleet's size, each expiring a
//! day after the fleet's last refresh: the last refresh of every live
//! process (a sorted set, Redis's own clock as the score), what each says
//! about itself (a hash of JSON), and when processes started and vanished
//! (sorted sets, trimmed to a day, for the digest's census). One script
//! call per process per refresh does everything: the refresh, and the
//! claim of lapsed processes — removing one from the set is the claim, so
//! exactly one process of the fleet reports it.
//!
//! [`watch`]: super::watch

use std::sync::LazyLock;

use ::redis::Script;

use super::redis::{millis, FleetStore};
use crate::render::digest::FleetCensus;

use super::watch::{Presence, Refresh, Vanished, WatchNews};

/// At most this many lapsed processes are claimed per refresh (the rest on
/// the next ones).
const MAX_CLAIMS: u32 = 16;

/// How long the watch's keys outlive the fleet's last refresh, and how far
/// back the census counts starts and deaths.
const KEEP_MILLIS: u64 = 24 * 3600 * 1000;

/// `KEYS`: refreshes, presences, starts, deaths. `ARGV`: this process, its
/// presence, the lapse (ms), whether it may judge (`1`), whether this is
/// its first refresh (`1`), how long keys are kept (ms), the most claims,
/// and how recent the fleet's newest refresh must be for lapses to be
/// judged (ms). Returns whether this process had been reported vanished
/// (`1`: it was missing from the set and among the deaths, which forget
/// it: a Redis that lost its data reports no one back), then each claimed
/// lapse as three values: the process, its last refresh (ms) and its
/// presence.
static REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "\
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local missing = redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[5] == '1' then redis.call('ZADD', KEYS[3], now, ARGV[1]) end
local reported = 0
if missing == 1 and redis.call('ZREM', KEYS[4], ARGV[1]) == 1 then reported = 1 end
local out = {reported}
local lively = newest[2] ~= nil and now - tonumber(newest[2]) <= tonumber(ARGV[8])
if ARGV[4] == '1' and lively then
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]),
    'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[7]))
  for i = 1, #lapsed, 2 do
    local id = lapsed[i]
    redis.call('ZREM', KEYS[1], id)
    table.insert(out, id)
    table.insert(out, lapsed[i + 1])
    table.insert(out, redis.call('HGET', KEYS[2], id) or '')
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZADD', KEYS[4], now, id)
  end
end
local keep = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - keep)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - keep)
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], keep) end
return out",
    )
});

/// A clean exit: the process leaves the set and the hash.
static LEAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "\
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])",
    )
});

/// `KEYS`: refreshes, starts, deaths; `ARGV`: the window (ms). Processes
/// alive, started and vanished in it.
static CENSUS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "\
return {redis.call('ZCARD', KEYS[1]),
  redis.call('ZCOUNT', KEYS[2], ARGV[1], '(' .. ARGV[2]),
  redis.call('ZCOUNT', KEYS[3], ARGV[1], '(' .. ARGV[2])}",
    )
});

impl FleetStore {
    fn watch_keys(&self) -> [String; 4] {
        let base = format!("{}:fleet", self.prefix);
        [
            format!("{base}:refreshes"),
            format!("{base}:presences"),
            format!("{base}:starts"),
            format!("{base}:deaths"),
        ]
    }

    /// Refreshes this process's presence and claims lapsed processes
    /// (`None`: Redis did not answer).
    pub(crate) async fn refresh_presence(
        &mut self,
        presence: &Presence,
        refresh: Refresh,
    ) -> Option<WatchNews> {
        let json = serde_json::to_string(presence).ok()?;
        let keys = self.watch_keys();
        let instance = self.instance.clone();
        // Lapses are judged only while someone refreshed within a lapse.
        let lively = millis(refresh.lapse);
        let answer: Vec<::redis::Value> = self
            .call(|mut conn| async move {
                REFRESH
                    .key(&keys[0])
                    .key(&keys[1])
                    .key(&keys[2])
                    .key(&keys[3])
                    .arg(&instance)
                    .arg(&json)
                    .arg(millis(refresh.lapse))
                    .arg(u8::from(refresh.judge))
                    .arg(u8::from(refresh.first))
                    .arg(KEEP_MILLIS)
                    .arg(MAX_CLAIMS)
                    .arg(lively)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        Some(read_news(&answer))
    }

    /// Removes this process's presence (a clean shutdown).
    pub(crate) async fn leave_fleet(&mut self) {
        let keys = self.watch_keys();
        let instance = self.instance.clone();
        let _ = self
            .call(|mut conn| async move {
                LEAVE
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(&instance)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
    }

    /// The census of the window `[from, to)` (unix milliseconds).
    pub(crate) async fn census(&mut self, from: u64, to: u64) -> Option<FleetCensus> {
        let [refreshes, _, starts, deaths] = self.watch_keys();
        let (alive, started, vanished): (u64, u64, u64) = self
            .call(|mut conn| async move {
                CENSUS
                    .key(&refreshes)
                    .key(&starts)
                    .key(&deaths)
                    .arg(from)
                    .arg(to)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        Some(FleetCensus {
            alive,
            started,
            vanished,
        })
    }
}

/// The refresh script's answer.
fn read_news(answer: &[::redis::Value]) -> WatchNews {
    use ::redis::FromRedisValue;
    let text = |value: &::redis::Value| String::from_redis_value(value.clone()).ok();
    let reported = answer
        .first()
        .and_then(|value| i64::from_redis_value(value.clone()).ok())
        == Some(1);
    let vanished = answer
        .get(1..)
        .unwrap_or_default()
        .chunks_exact(3)
        .filter_map(|claim| {
            let last_seen_ms = text(&claim[1])?.parse().ok()?;
            let presence = text(&claim[2]).and_then(|json| serde_json::from_str(&json).ok());
            Some(Vanished {
                presence,
                last_seen_ms,
            })
        })
        .collect();
    WatchNews {
        vanished,
        back_after_lapse: reported,
    }
}
