//! The sync (feature `redis`): the repeats this process counted for kinds
//! another process alerted, sent for every such kind in one script call
//! about once a second, which also tells whether each kind's claim still
//! holds (and puts back one Redis lost in a failover).

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use ::redis::Script;

use crate::pipeline::Tally;

use super::redis::{claim_remaining, millis, seen_lifetime, FleetStore, MUTED, REPEAT_TRUST};

/// The script, hashed once (it runs by `EVALSHA`): counts the repeats of
/// many kinds and checks their claims in one call.
static SYNC: LazyLock<Script> = LazyLock::new(|| Script::new(SYNC_SCRIPT));

/// Most kinds one sync call carries (the rest go in further calls).
const SYNC_BATCH: usize = 500;

/// For each kind: `KEYS[5i-4]` its tally, `KEYS[5i-3]` its claim,
/// `KEYS[5i-2]` its mute, `KEYS[5i-1]` the mark a mute leaves, `KEYS[5i]`
/// its last occurrence in the fleet (set to now, Redis's clock, kept
/// `ARGV[2]` ms, like a new tally), `ARGV[2i+1]` the repeats to add,
/// `ARGV[2i+2]` how long this process knows the claim to hold still
/// (`ARGV[1]`: the window). A claim
/// that is gone although it should hold (Redis lost it in a failover:
/// replication is asynchronous) is put back for that long, so that no
/// process alerts the kind a second time — unless a mute ended its window
/// (the mark says so; the kind is alerted anew).
/// Returns, per kind, the tally after the addition and the claim's
/// remaining milliseconds (-2: gone); for a muted kind, nothing is counted
/// and the answer is `-3` and the mute's remaining milliseconds.
const SYNC_SCRIPT: &str = "\
local out = {}
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
for i = 1, #KEYS / 5 do
  local muted = redis.call('PTTL', KEYS[5 * i - 2])
  if muted > 0 then
    out[2 * i - 1] = -3
    out[2 * i] = muted
  else
    local add = tonumber(ARGV[2 * i + 1])
    local n = redis.call('INCRBY', KEYS[5 * i - 4], add)
    if n == add then redis.call('PEXPIRE', KEYS[5 * i - 4], ARGV[2]) end
    redis.call('SET', KEYS[5 * i], now, 'PX', ARGV[2])
    local ttl = redis.call('PTTL', KEYS[5 * i - 3])
    local restore = tonumber(ARGV[2 * i + 2])
    if ttl == -2 and restore > 0 and redis.call('EXISTS', KEYS[5 * i - 1]) == 0 then
      redis.call('SET', KEYS[5 * i - 3], 'restored', 'PX', restore)
      ttl = restore
    end
    out[2 * i - 1] = n
    out[2 * i] = ttl
  end
end
return out";

impl FleetStore {
    /// Sends every batched repeat count (about once a second, and at
    /// shutdown), in one script call per [`SYNC_BATCH`] kinds, and renews
    /// the trust of the kinds whose alert's claim still holds.
    pub(crate) async fn flush_all_repeats(&mut self) {
        let pending: Vec<u64> = self
            .known
            .iter()
            .filter(|(_, known)| known.pending > 0)
            .map(|(fingerprint, _)| *fingerprint)
            .collect();
        for batch in pending.chunks(SYNC_BATCH) {
            self.sync(batch).await;
        }
        let now = Instant::now();
        self.known
            .retain(|_, known| known.pending > 0 || now < known.until || now < known.covered_until);
    }

    /// Counts the pending repeats of `fingerprints` in Redis (one call); a
    /// kind whose claim still holds stays known for [`REPEAT_TRUST`], one
    /// whose claim expired is forgotten (its next record claims anew). If
    /// Redis is away, the counts stay here and the next sync retries.
    pub(super) async fn sync(&mut self, fingerprints: &[u64]) {
        let mut invocation = SYNC.prepare_invoke();
        let window = fingerprints
            .first()
            .and_then(|fp| self.known.get(fp))
            .map_or(Duration::ZERO, |known| known.window);
        invocation.arg(millis(window));
        invocation.arg(millis(seen_lifetime(window)));
        let mut sent = Vec::with_capacity(fingerprints.len());
        let asked = Instant::now();
        for fingerprint in fingerprints {
            let Some(known) = self.known.get(fingerprint) else {
                continue;
            };
            let restore = known.covered_until.saturating_duration_since(asked);
            invocation
                .key(format!("{}:tally:{fingerprint:016x}", self.prefix))
                .key(format!("{}:dedup:{fingerprint:016x}", self.prefix))
                .key(format!("{}:mute:{fingerprint:016x}", self.prefix))
                .key(format!("{}:ended:{fingerprint:016x}", self.prefix))
                .key(self.seen_key(*fingerprint))
                .arg(known.pending)
                .arg(restore.as_millis().min(u128::from(u64::MAX)) as u64);
            sent.push((*fingerprint, known.pending));
        }
        if sent.is_empty() {
            return;
        }
        let Some(answers) = self
            .call(|mut conn| async move { invocation.invoke_async::<Vec<i64>>(&mut conn).await })
            .await
        else {
            return;
        };
        for ((fingerprint, added), answer) in sent.iter().zip(answers.chunks(2)) {
            let (Some(entry), [repeats, claim_ttl]) = (self.known.get_mut(fingerprint), answer)
            else {
                continue;
            };
            if *repeats == MUTED {
                // Muted by a chat member: its records are the mute's now
                // (the next one asks Redis and learns for how long).
                entry.pending = 0;
                entry.until = asked;
                entry.covered_until = asked;
                continue;
            }
            let repeats = repeats.unsigned_abs();
            entry.fleet_repeats = repeats;
            entry.pending = entry.pending.saturating_sub(*added);
            if Tally::crossed(repeats + 1, *added) {
                self.crossed.push((*fingerprint, repeats + 1));
            }
            if *claim_ttl == -2 {
                // The window ended: the next record claims anew.
                entry.until = asked;
                entry.covered_until = asked;
            } else {
                entry.until = asked + REPEAT_TRUST.min(entry.window);
                entry.covered_until = asked + claim_remaining(*claim_ttl, entry.window);
            }
        }
    }
}
