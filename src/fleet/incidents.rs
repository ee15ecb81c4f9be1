//! Incidents the fleet shares (feature `redis`): one incident message for
//! an outbreak, whichever processes its problems alert in.
//!
//! Each new problem a process alerts (its claim came back `First`) is told
//! to Redis in one script call, which decides for the whole fleet what a
//! process alone decides in memory (see `pipeline::incident`): an alert of
//! its own (fewer than `after` problems lately, kept in a sorted set with
//! their members), the one that opens the incident (the process that sends
//! it becomes its holder), or a problem that joins the open incident. The
//! incident is a hash: its holder, when a problem last joined, a version
//! that every change bumps, and one field per problem (the member as JSON,
//! its count updated by the process that tallies it). The holder reads it
//! again when the version moved (about once a second) and edits its
//! message. Work follows the news: one call per new problem, one per
//! tally of a problem that lives in another process's incident, one small
//! read a second while an incident is held.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::SystemTime;

use ::redis::Script;

use crate::pipeline::incident::{FleetAdmission, IncidentMember};

use super::redis::{millis, FleetStore};
use super::{HeldIncident, IncidentRules};

/// Decides for the fleet whether a new problem alerts on its own, opens the
/// incident or joins it.
///
/// `KEYS`: the recent problems (sorted set), their members (hash), the
/// incident (hash). `ARGV`: now (ms), the window (ms), `after`, the
/// problem, its member as an alert of its own, its member as a line of the
/// incident, this process, the incident's lifetime (ms). Returns `own`,
/// `mine` / `theirs` (joined the open incident, held by this process or
/// another), or `opened` followed by every member of the new incident.
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "\
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[3], 'last') or '-1')
if last >= 0 and now - last < window then
  if redis.call('HEXISTS', KEYS[3], 'm:' .. ARGV[4]) == 0 then
    redis.call('HSET', KEYS[3], 'm:' .. ARGV[4], ARGV[6])
  end
  redis.call('HSET', KEYS[3], 'last', now)
  redis.call('HINCRBY', KEYS[3], 'v', 1)
  redis.call('PEXPIRE', KEYS[3], ARGV[8])
  if redis.call('HGET', KEYS[3], 'holder') == ARGV[7] then return {'mine'} end
  return {'theirs'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return {'own'} end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('PEXPIRE', KEYS[2], window)
  return {'own'}
end
local out = {'opened'}
redis.call('DEL', KEYS[3])
for _, p in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local m = redis.call('HGET', KEYS[2], p)
  if m then
    redis.call('HSET', KEYS[3], 'm:' .. p, m)
    table.insert(out, m)
  end
end
redis.call('HSET', KEYS[3], 'm:' .. ARGV[4], ARGV[6], 'holder', ARGV[7], 'last', now, 'v', 1)
table.insert(out, ARGV[6])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PEXPIRE', KEYS[3], ARGV[8])
return out",
    )
});

/// Updates a member's count, if it is still a member of the incident.
static UPDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "\
if redis.call('HEXISTS', KEYS[1], 'm:' .. ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'm:' .. ARGV[1], ARGV[2])
return redis.call('HINCRBY', KEYS[1], 'v', 1)",
    )
});

impl FleetStore {
    fn incident_keys(&self, chat: &str) -> [String; 3] {
        let base = format!("{}:incident:{chat}", self.prefix);
        [
            format!("{base}:recent"),
            format!("{base}:recent:members"),
            base,
        ]
    }

    /// The fleet's decision for a new problem of `chat` (`None`: Redis did
    /// not answer; decide in memory).
    pub(crate) async fn admit_to_incident(
        &mut self,
        chat: &str,
        member: &IncidentMember,
        rules: IncidentRules,
    ) -> Option<FleetAdmission> {
        let own = serde_json::to_string(&IncidentMember {
            own: true,
            ..member.clone()
        })
        .ok()?;
        let line = serde_json::to_string(member).ok()?;
        let keys = self.incident_keys(chat);
        let instance = self.instance.clone();
        let now = now_millis();
        let problem = format!("{:016x}", member.problem);
        let answer: Vec<String> = self
            .call(|mut conn| async move {
                ADMIT
                    .key(&keys[0])
                    .key(&keys[1])
                    .key(&keys[2])
                    .arg(now)
                    .arg(millis(rules.window))
                    .arg(rules.after)
                    .arg(&problem)
                    .arg(&own)
                    .arg(&line)
                    .arg(&instance)
                    .arg(millis(rules.lifetime))
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        let (verdict, members) = answer.split_first()?;
        Some(match verdict.as_str() {
            "mine" => FleetAdmission::Joined { mine: true },
            "theirs" => FleetAdmission::Joined { mine: false },
            "opened" => FleetAdmission::Opened(parse_members(members.iter())),
            _ => FleetAdmission::Own,
        })
    }

    /// A member's new count, for the holder to show.
    pub(crate) async fn update_incident_member(&mut self, chat: &str, member: &IncidentMember) {
        let Ok(json) = serde_json::to_string(member) else {
            return;
        };
        let [_, _, key] = self.incident_keys(chat);
        let problem = format!("{:016x}", member.problem);
        let _ = self
            .call(|mut conn| async move {
                UPDATE
                    .key(&key)
                    .arg(&problem)
                    .arg(&json)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
    }

    /// The incident of `chat`, which this process held at version `seen`
    /// (`None`: Redis did not answer).
    pub(crate) async fn read_incident(&mut self, chat: &str, seen: u64) -> Option<HeldIncident> {
        let [_, _, key] = self.incident_keys(chat);
        let (holder, version): (Option<String>, Option<u64>) = self
            .call(|mut conn| {
                let key = key.clone();
                async move {
                    ::redis::cmd("HMGET")
                        .arg(&key)
                        .arg("holder")
                        .arg("v")
                        .query_async(&mut conn)
                        .await
                }
            })
            .await?;
        if holder.as_deref() != Some(self.instance.as_str()) {
            return Some(HeldIncident::NotMine);
        }
        let version = version.unwrap_or(0);
        if version == seen {
            return Some(HeldIncident::Unchanged);
        }
        let fields: HashMap<String, String> = self.read("HGETALL", key).await?;
        let members = fields
            .iter()
            .filter(|(field, _)| field.starts_with("m:"))
            .map(|(_, json)| json);
        Some(HeldIncident::Changed(version, parse_members(members)))
    }
}

fn parse_members<'a>(jsons: impl Iterator<Item = &'a String>) -> Vec<IncidentMember> {
    jsons
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect()
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
