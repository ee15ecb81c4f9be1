//! What varies across a fleet kind's repeats (feature `redis`): each
//! process adds its counts of field values to one hash per kind, and the
//! process that edits the alert reads the fleet's sums back, so a tally
//! says `shard: 3 ×40 · 7 ×2` for the whole fleet.
//!
//! `{prefix}:spread:{fingerprint}`: `name\x1fvalue` → count (values are
//! sanitized before they get here), `name\x1f\x01` → the field's others.
//! The claim that opens a kind's window empties it (in the claim's script,
//! so that no process's counts of the new window go before it); it lives
//! two dedup windows from its first count (so that the tally at the window's
//! end still finds it), and holds at most [`MAX_ENTRIES`] entries: a value
//! that finds no room is counted among its field's others.

use std::sync::LazyLock;
use std::time::Duration;

use ::redis::Script;

use crate::pipeline::spread::FleetCount;

use super::redis::{millis, FleetStore};

/// Entries one kind's hash holds.
const MAX_ENTRIES: usize = 256;
/// Between a field's name and its value.
const SEPARATOR: char = '\u{1f}';
/// The value that stands for a field's others.
const OTHERS: &str = "\u{1}";

/// `KEYS[1]` the kind's hash, `ARGV[1]` its lifetime in ms, `ARGV[2]` the
/// most entries, then `entry, count` pairs.
static ADD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "\
local created = redis.call('EXISTS', KEYS[1]) == 0
local most = tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  local entry = ARGV[i]
  if redis.call('HEXISTS', KEYS[1], entry) == 0 and redis.call('HLEN', KEYS[1]) >= most then
    local cut = string.find(entry, '\\31', 1, true)
    if cut then entry = string.sub(entry, 1, cut) .. '\\1' end
  end
  redis.call('HINCRBY', KEYS[1], entry, ARGV[i + 1])
end
if created then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1",
    )
});

impl FleetStore {
    pub(super) fn spread_key(&self, fingerprint: u64) -> String {
        format!("{}:spread:{fingerprint:016x}", self.prefix)
    }

    /// Adds this process's counts of `fingerprint`'s values (the hash
    /// lives `window` from its first count). Lost if Redis is away: the
    /// fleet's tally then shows fewer values, never wrong ones.
    pub(crate) async fn add_spread(
        &mut self,
        fingerprint: u64,
        counts: &[FleetCount],
        window: Duration,
    ) {
        let mut invocation = ADD.prepare_invoke();
        invocation
            .key(self.spread_key(fingerprint))
            .arg(millis(window.saturating_mul(2)).max(1))
            .arg(MAX_ENTRIES);
        for (name, value, n) in counts {
            let value = value.as_deref().unwrap_or(OTHERS);
            invocation.arg(format!("{name}{SEPARATOR}{value}")).arg(*n);
        }
        let _: Option<i64> = self
            .call(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await;
    }

    /// The fleet's counts of `fingerprint`'s values (`None`: none, or Redis
    /// did not answer).
    pub(crate) async fn spread(&mut self, fingerprint: u64) -> Option<Vec<FleetCount>> {
        let key = self.spread_key(fingerprint);
        let entries: Vec<(String, u64)> = self.read("HGETALL", key).await?;
        let counts: Vec<FleetCount> = entries
            .into_iter()
            .filter_map(|(entry, n)| {
                let (name, value) = entry.split_once(SEPARATOR)?;
                let value = (value != OTHERS).then(|| value.to_owned());
                Some((name.to_owned(), value, n))
            })
            .collect();
        (!counts.is_empty()).then_some(counts)
    }
}
