//! Resolving a kind in a fleet (feature `redis`): quiet here is not quiet
//! everywhere. Every claim and every sync sets the kind's last occurrence
//! in the fleet (Redis's clock; see the claim and sync scripts); before the
//! process that holds an alert marks it resolved, it asks how long the kind
//! has been quiet fleet-wide.

use std::sync::LazyLock;
use std::time::Duration;

use ::redis::Script;

use super::redis::FleetStore;
use super::FleetQuiet;

/// `KEYS[1]`: the kind's last occurrence, `KEYS[2]`: its claim. Returns
/// Redis's time and that occurrence (`-1`: none kept: quiet for longer than
/// it is kept), in ms, and whether a claim holds (a new window opened: the
/// kind failed again and was alerted anew).
static QUIET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "\
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local seen = tonumber(redis.call('GET', KEYS[1]) or '-1')
return {now, seen, redis.call('EXISTS', KEYS[2])}",
    )
});

impl FleetStore {
    /// The key of a kind's last occurrence in the fleet.
    pub(super) fn seen_key(&self, fingerprint: u64) -> String {
        format!("{}:seen:{fingerprint:016x}", self.prefix)
    }

    /// How long `fingerprint` has been quiet in the whole fleet (`None`:
    /// Redis did not answer).
    pub(crate) async fn quiet_for(&mut self, fingerprint: u64) -> Option<FleetQuiet> {
        let key = self.seen_key(fingerprint);
        let claim = format!("{}:dedup:{fingerprint:016x}", self.prefix);
        let (now, seen, claimed): (i64, i64, i64) = self
            .call(
                |mut conn| async move { QUIET.key(&key).key(&claim).invoke_async(&mut conn).await },
            )
            .await?;
        if claimed == 1 {
            return Some(FleetQuiet::AlertedAnew);
        }
        Some(match u64::try_from(seen) {
            Ok(seen) => {
                let now = u64::try_from(now).unwrap_or(0);
                FleetQuiet::For(Duration::from_millis(now.saturating_sub(seen)))
            }
            Err(_) => FleetQuiet::Long,
        })
    }
}
