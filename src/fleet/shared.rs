//! What the fleet shares besides claims and counts (feature `redis`): where
//! each original alert went (so that any process can edit it with a tally),
//! the digest windows every process pushes and one leads, and the startup
//! mark of a deploy. Each value is JSON under the prefix, with a TTL.

use std::time::Duration;

use crate::delivery::Delivered;
use crate::pipeline::DigestData;

use super::redis::{millis, FleetStore};

impl FleetStore {
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
        let json: String = self.read::<Option<String>>("GET", key).await??;
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
}
