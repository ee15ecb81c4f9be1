//! What the chat was told about a kind before, so that a new alert of it
//! can say so: "🔁 back after 2 h 10 min (quiet since …)", sent as a reply
//! to the alert that was resolved; with a service version, "🆕 first seen
//! in 1.4.3", or "regression in 1.4.3" when it is back in a newer version
//! than the one it was resolved in.
//!
//! In one process the memory is the process's own: as many kinds as the
//! dedup store holds (the oldest forgotten first), gone with the process —
//! so there "first seen" means first seen since it started, and a
//! regression (a newer version) is only seen by a fleet. In a fleet, Redis
//! keeps each kind's first version and last resolution for a week (see the
//! fleet's history script); its answer for a kind the fleet alerts anew
//! replaces this process's own.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::chat::{ChatId, Target};
use crate::render::lifecycle::{past_line, Back};

use super::{Pipeline, Tally};

/// A resolved alert: where it is, since when its kind was quiet, and the
/// version that resolved it (kept in Redis too, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ResolvedAlert {
    pub(crate) chat_id: ChatId,
    pub(crate) message_id: i64,
    /// Unix milliseconds.
    pub(crate) quiet_since_ms: u64,
    #[serde(default)]
    pub(crate) version: Option<String>,
}

impl ResolvedAlert {
    fn quiet_since(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.quiet_since_ms)
    }
}

/// What is known of a kind when it is alerted anew.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KindPast {
    /// Never seen before (in this process, or in the fleet for a week).
    pub(crate) new: bool,
    /// Its alert was resolved, and this is that alert.
    pub(crate) back: Option<ResolvedAlert>,
}

/// The kinds seen, each with its last resolved alert (if it was resolved
/// and has not come back since).
#[derive(Debug)]
pub(crate) struct History {
    capacity: usize,
    kinds: HashMap<u64, Option<ResolvedAlert>>,
    /// Kinds in order of first sighting, to forget the oldest.
    order: VecDeque<u64>,
    /// The fleet's answer about the kind alerted next.
    told: Option<(u64, KindPast)>,
}

impl History {
    pub(crate) fn new(capacity: usize) -> Self {
        History {
            capacity: capacity.max(1),
            kinds: HashMap::new(),
            order: VecDeque::new(),
            told: None,
        }
    }

    /// `fingerprint`'s alert was resolved.
    fn resolved(&mut self, fingerprint: u64, alert: ResolvedAlert) {
        self.remember(fingerprint, Some(alert));
    }

    /// The fleet's answer for the next alert of `fingerprint`.
    fn learn(&mut self, fingerprint: u64, past: KindPast) {
        self.told = Some((fingerprint, past));
    }

    /// A new alert of `fingerprint`: what is known of its past (which it
    /// now leaves: it is back, no longer resolved).
    fn arrive(&mut self, fingerprint: u64) -> KindPast {
        let told = match self.told.take() {
            Some((fp, past)) if fp == fingerprint => Some(past),
            _ => None,
        };
        let mine = match self.kinds.get_mut(&fingerprint) {
            Some(resolved) => KindPast {
                new: false,
                back: resolved.take(),
            },
            None => {
                self.remember(fingerprint, None);
                KindPast {
                    new: true,
                    back: None,
                }
            }
        };
        told.unwrap_or(mine)
    }

    fn remember(&mut self, fingerprint: u64, resolved: Option<ResolvedAlert>) {
        if let Some(slot) = self.kinds.get_mut(&fingerprint) {
            *slot = resolved;
            return;
        }
        while self.kinds.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.kinds.remove(&oldest);
        }
        self.kinds.insert(fingerprint, resolved);
        self.order.push_back(fingerprint);
    }
}

/// Whether `new` is a later release than `old`: their leading dotted
/// numbers compared (`1.10.0` after `1.9.2`), a release after its own
/// pre-releases (`1.4.3` after `1.4.3-rc.1`). Versions without numbers
/// (a commit hash) have no order: never a regression.
pub(crate) fn is_newer(new: &str, old: &str) -> bool {
    fn parts(version: &str) -> (Vec<u64>, bool) {
        let version = version.trim().trim_start_matches('v');
        let (core, pre) = match version.find(['-', '+']) {
            Some(at) => (&version[..at], version[at..].starts_with('-')),
            None => (version, false),
        };
        let numbers = core
            .split('.')
            .map_while(|part| part.parse().ok())
            .collect();
        (numbers, pre)
    }
    let ((new_core, new_pre), (old_core, old_pre)) = (parts(new), parts(old));
    if new_core.is_empty() || old_core.is_empty() {
        return false;
    }
    new_core > old_core || (new_core == old_core && old_pre && !new_pre)
}

impl Pipeline {
    /// The service's version, if configured.
    pub(crate) fn version(&self) -> Option<&str> {
        self.config.identity.version.as_deref()
    }

    /// The fleet's answer about the kind this process alerts next.
    pub(crate) fn learn_past(&mut self, fingerprint: u64, past: KindPast) {
        self.history.learn(fingerprint, past);
    }

    /// Remembers the alerts `tallies` resolve; those alerts (for the
    /// fleet to keep).
    pub(crate) fn remember_resolutions(&mut self, tallies: &[Tally]) -> Vec<(u64, ResolvedAlert)> {
        let version = self.config.identity.version.clone();
        let mut resolved = Vec::new();
        for tally in tallies {
            let (Some(delivered), Some(resolution)) = (&tally.delivered, &tally.resolved) else {
                continue;
            };
            let alert = ResolvedAlert {
                chat_id: delivered.chat_id.clone(),
                message_id: delivered.message_id,
                quiet_since_ms: unix_millis(resolution.quiet_since),
                version: version.clone(),
            };
            self.history.resolved(tally.fingerprint, alert.clone());
            self.end_escalation(tally.fingerprint);
            resolved.push((tally.fingerprint, alert));
        }
        resolved
    }

    /// What a new alert of `fingerprint` going to `target` says of its
    /// past, and the earlier alert it answers (in the same chat).
    pub(super) fn past_of(
        &mut self,
        fingerprint: u64,
        target: &Target,
    ) -> (Option<String>, Option<i64>) {
        let past = self.history.arrive(fingerprint);
        let version = self.config.identity.version.as_deref();
        let back = past.back.as_ref().map(|alert| Back {
            quiet_since: alert.quiet_since(),
            after: self
                .clock
                .wall()
                .duration_since(alert.quiet_since())
                .unwrap_or_default(),
            regression: version.filter(|new| {
                alert
                    .version
                    .as_deref()
                    .is_some_and(|old| is_newer(new, old))
            }),
        });
        let reply_to = past
            .back
            .as_ref()
            .filter(|alert| alert.chat_id == target.chat_id)
            .map(|alert| alert.message_id);
        let new_in = version.filter(|_| past.new);
        (past_line(new_in, back.as_ref()), reply_to)
    }
}

fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(message_id: i64) -> ResolvedAlert {
        ResolvedAlert {
            chat_id: ChatId::Id(1),
            message_id,
            quiet_since_ms: 0,
            version: None,
        }
    }

    #[test]
    fn a_kind_is_new_once_then_back_once_after_each_resolution() {
        let mut history = History::new(10);
        assert!(history.arrive(7).new);
        assert_eq!(history.arrive(7), KindPast::default());
        history.resolved(7, alert(3));
        assert_eq!(history.arrive(7).back, Some(alert(3)));
        assert_eq!(history.arrive(7).back, None, "back once");
    }

    #[test]
    fn the_fleet_answer_replaces_this_processs_own_for_its_kind_only() {
        let mut history = History::new(10);
        history.learn(
            7,
            KindPast {
                new: false,
                back: Some(alert(9)),
            },
        );
        assert!(history.arrive(8).new, "another kind: own memory");
        history.learn(7, KindPast::default());
        assert!(!history.arrive(7).new);
    }

    #[test]
    fn the_oldest_kinds_are_forgotten_at_capacity() {
        let mut history = History::new(2);
        for fp in 1..=3 {
            history.arrive(fp);
        }
        assert!(history.arrive(1).new, "forgotten");
        assert!(!history.arrive(3).new);
    }

    #[test]
    fn versions_are_ordered_by_their_numbers() {
        assert!(is_newer("1.4.3", "1.4.2"));
        assert!(is_newer("1.10.0", "1.9.2"));
        assert!(is_newer("v2.0", "1.99.1"));
        assert!(is_newer("1.4.3", "1.4.3-rc.1"));
        assert!(!is_newer("1.4.2", "1.4.3"), "a rollback is no regression");
        assert!(!is_newer("1.4.3", "1.4.3"));
        assert!(!is_newer("1.4.3-rc.1", "1.4.3"));
        assert!(
            !is_newer("3f2a9c1", "1.4.3"),
            "no order: never a regression"
        );
    }
}
