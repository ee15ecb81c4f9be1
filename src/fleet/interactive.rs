//! The fleet's side of interactive alerts (feature `redis`): the leader
//! lock (exactly one process polls Telegram for button presses) and mutes,
//! which live in Redis with the mute's length as TTL so that every process
//! honours them (the claim and sync scripts check them).

use std::sync::LazyLock;
use std::time::Duration;

use ::redis::Script;

use super::redis::{millis, FleetStore};

/// How long the fleet remembers that an alert was escalated or
/// acknowledged (longer than any deadline worth configuring).
const ESCALATION_MEMORY: Duration = Duration::from_secs(24 * 3_600);

/// The scripts, hashed once (they run by `EVALSHA`).
static LEAD: LazyLock<Script> = LazyLock::new(|| Script::new(LEAD_SCRIPT));
static RESIGN: LazyLock<Script> = LazyLock::new(|| Script::new(RESIGN_SCRIPT));

/// Takes or renews the interactive leader lock `KEYS[1]` for this process
/// (`ARGV[1]`) for `ARGV[2]` ms: 1 if this process leads.
const LEAD_SCRIPT: &str = "\
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0";

/// Gives the leader lock `KEYS[1]` up if this process (`ARGV[1]`) holds it.
const RESIGN_SCRIPT: &str = "\
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0";

impl FleetStore {
    /// Takes or renews the interactive leader lock for `ttl`: whether this
    /// process leads (`None`: Redis did not answer).
    pub(crate) async fn lead(&mut self, ttl: Duration) -> Option<bool> {
        let key = format!("{}:interactive:leader", self.prefix);
        let (script, instance) = (LEAD.clone(), self.instance.clone());
        self.call(|mut conn| async move {
            script
                .key(&key)
                .arg(&instance)
                .arg(millis(ttl))
                .invoke_async::<i64>(&mut conn)
                .await
        })
        .await
        .map(|led| led == 1)
    }

    /// Gives the leader lock up (shutdown), if this process holds it.
    pub(crate) async fn resign(&mut self) {
        let key = format!("{}:interactive:leader", self.prefix);
        let (script, instance) = (RESIGN.clone(), self.instance.clone());
        let _ = self
            .call(|mut conn| async move {
                script
                    .key(&key)
                    .arg(&instance)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
    }

    /// Mutes `fingerprint` for `duration`, fleet-wide: its claim and tally
    /// end with it (when the mute ends, the kind is alerted anew), and a
    /// mark that lives a dedup `window` tells every process that knew the
    /// claim not to put it back (see the sync script).
    pub(crate) async fn mute(
        &mut self,
        fingerprint: u64,
        duration: Duration,
        window: Duration,
    ) -> bool {
        self.forget_repeat(fingerprint);
        let prefix = self.prefix.clone();
        self.call(|mut conn| async move {
            ::redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(format!("{prefix}:mute:{fingerprint:016x}"))
                .arg(1)
                .arg("PX")
                .arg(millis(duration))
                .ignore()
                .cmd("DEL")
                .arg(format!("{prefix}:dedup:{fingerprint:016x}"))
                .arg(format!("{prefix}:tally:{fingerprint:016x}"))
                .ignore()
                .cmd("SET")
                .arg(format!("{prefix}:ended:{fingerprint:016x}"))
                .arg(1)
                .arg("PX")
                .arg(millis(window))
                .ignore()
                .query_async::<()>(&mut conn)
                .await
        })
        .await
        .is_some()
    }

    /// Settles the escalation of `fingerprint`'s kind until it resolves:
    /// `escalated` claims it (whether this process is the one to escalate:
    /// nobody acknowledged, muted or escalated it), otherwise it is
    /// cancelled for every process. Kept a day at most.
    pub(crate) async fn settle_escalation(
        &mut self,
        fingerprint: u64,
        escalated: bool,
    ) -> Option<bool> {
        let key = self.escalation_key(fingerprint);
        let (value, ttl) = (
            if escalated { "escalated" } else { "cancelled" },
            ESCALATION_MEMORY,
        );
        self.call(|mut conn| async move {
            let mut set = ::redis::cmd("SET");
            set.arg(&key).arg(value).arg("PX").arg(millis(ttl));
            if escalated {
                set.arg("NX");
            }
            set.query_async::<Option<String>>(&mut conn).await
        })
        .await
        .map(|answer| answer.is_some())
    }

    pub(super) fn escalation_key(&self, fingerprint: u64) -> String {
        format!("{}:escalation:{fingerprint:016x}", self.prefix)
    }

    /// Ends a mute of `fingerprint`, fleet-wide.
    pub(crate) async fn unmute(&mut self, fingerprint: u64) -> bool {
        let key = format!("{}:mute:{fingerprint:016x}", self.prefix);
        self.call(|mut conn| async move {
            ::redis::cmd("DEL")
                .arg(&key)
                .query_async::<()>(&mut conn)
                .await
        })
        .await
        .is_some()
    }
}
