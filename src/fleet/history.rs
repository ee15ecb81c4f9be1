//! A kind's past in a fleet (feature `redis`): the version it was first
//! seen in and its last resolved alert, kept a week in one small hash per
//! kind, so that whichever process alerts the kind anew can say "🔁 back
//! after …" (as a reply to the resolved alert) or "🆕 first seen in …";
//! and each alert's full report, kept its dedup window, for whichever
//! process answers a 📄 press.

use std::sync::LazyLock;
use std::time::Duration;

use ::redis::Script;

use crate::pipeline::history::{KindPast, ResolvedAlert};

use super::redis::{millis, FleetStore};

/// How long the fleet remembers a kind it has not alerted anew.
pub(super) const KIND_MEMORY: Duration = Duration::from_secs(7 * 24 * 3_600);

/// `KEYS[1]`: the kind's hash; `ARGV[1]`: this process's version (may be
/// empty), `ARGV[2]`: its lifetime in ms. Only the process that claimed a
/// new window asks (one per fleet), and takes the resolution: back once.
/// Returns whether the kind is new to the fleet and its resolved alert
/// (JSON, or empty).
static ARRIVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "\
local new = 1 - redis.call('EXISTS', KEYS[1])
redis.call('HSETNX', KEYS[1], 'first', ARGV[1])
local resolved = redis.call('HGET', KEYS[1], 'resolved') or ''
redis.call('HDEL', KEYS[1], 'resolved')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {new, resolved}",
    )
});

/// `KEYS[1]`: the kind's hash, `KEYS[2]`: its escalation (a resolved kind
/// that fails again is a new problem, escalated anew); `ARGV[1]`: its
/// resolved alert (JSON), `ARGV[2]`: the hash's lifetime in ms.
static RESOLVED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "\
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'resolved', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1",
    )
});

impl FleetStore {
    fn report_key(&self, fingerprint: u64) -> String {
        format!("{}:report:{fingerprint:016x}", self.prefix)
    }

    /// Keeps an alert's full report (sanitized text) for `window`.
    pub(crate) async fn keep_report(&mut self, fingerprint: u64, report: &str, window: Duration) {
        let (key, report) = (self.report_key(fingerprint), report.to_owned());
        let _: Option<()> = self
            .call(|mut conn| async move {
                ::redis::cmd("SET")
                    .arg(&key)
                    .arg(&report)
                    .arg("PX")
                    .arg(millis(window).max(1))
                    .query_async(&mut conn)
                    .await
            })
            .await;
    }

    /// An alert's full report, if the fleet still keeps it (`None`: Redis
    /// did not answer).
    pub(crate) async fn report(&mut self, fingerprint: u64) -> Option<Option<String>> {
        let key = self.report_key(fingerprint);
        self.read("GET", key).await
    }

    fn kind_key(&self, fingerprint: u64) -> String {
        format!("{}:kind:{fingerprint:016x}", self.prefix)
    }

    /// What the fleet knows of `fingerprint`, which this process alerts
    /// anew (`None`: Redis did not answer; this process's memory decides).
    pub(crate) async fn arrive(&mut self, fingerprint: u64, version: &str) -> Option<KindPast> {
        let key = self.kind_key(fingerprint);
        let version = version.to_owned();
        let (new, resolved): (i64, String) = self
            .call(|mut conn| async move {
                ARRIVE
                    .key(&key)
                    .arg(&version)
                    .arg(millis(KIND_MEMORY))
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        Some(KindPast {
            new: new == 1,
            back: serde_json::from_str(&resolved).ok(),
        })
    }

    /// Keeps the alert that resolved `fingerprint`.
    pub(crate) async fn resolved(&mut self, fingerprint: u64, alert: &ResolvedAlert) {
        let Ok(json) = serde_json::to_string(alert) else {
            return;
        };
        let key = self.kind_key(fingerprint);
        let escalation = self.escalation_key(fingerprint);
        let _: Option<i64> = self
            .call(|mut conn| async move {
                RESOLVED
                    .key(&key)
                    .key(&escalation)
                    .arg(&json)
                    .arg(millis(KIND_MEMORY))
                    .invoke_async(&mut conn)
                    .await
            })
            .await;
    }
}
