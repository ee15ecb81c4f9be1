//! Incidents: when many new problems alert at once, one message names them
//! all instead of one notifying message each.
//!
//! In an outage forty components fail together, each from its own
//! callsite: forty kinds, forty alerts, a paced stream of notifications
//! that Telegram's 20-per-minute limit for a group stretches over minutes
//! (and a shutdown cuts short). Alertmanager groups such alerts
//! (`group_by`); here, when more than [`IncidentConfig::after`] new kinds
//! alert to one chat within [`IncidentConfig::window`] of each other, the
//! next one opens an *incident*: one message listing every kind of the
//! outbreak (those already alerted marked as such) with its count. Later
//! new kinds join it while they keep coming (each within the window of the
//! last), and it is edited as they join and as its kinds repeat: their
//! tallies live in it. A kind that joined an incident is not sent on its
//! own; its record counts as deduplicated, like a repeat.
//!
//! Critical alerts (panics) and manual alerts always get a message of
//! their own and do not count towards an incident.
//!
//! With a fleet, the decision is the fleet's (`fleet::incidents` asks
//! Redis, see [`FleetAdmission`]): one process holds the incident's message
//! and the others tell Redis their problems and counts ([`IncidentMember`]),
//! which the holder reads and shows.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::alert::AlertLevel;
use crate::chat::Target;
use crate::render::incident::{IncidentLine, IncidentText};

/// A problem of an incident as the fleet shares it (JSON in Redis).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IncidentMember {
    /// What counts as one problem (see [`Kind::problem`]).
    pub(crate) problem: u64,
    pub(crate) fingerprint: u64,
    /// Sanitized.
    pub(crate) title: String,
    /// The level's label (`ERROR`).
    pub(crate) level: String,
    pub(crate) count: u64,
    /// It has a message of its own.
    pub(crate) own: bool,
}

/// What the fleet decided for a new problem.
#[cfg_attr(not(feature = "redis"), allow(dead_code))] // made by the Redis store
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FleetAdmission {
    /// An alert of its own.
    Own,
    /// It opened the fleet's incident, held by this process: these are its
    /// members (this problem last).
    Opened(Vec<IncidentMember>),
    /// It joined the open incident, held by this process (`mine`) or
    /// another.
    Joined { mine: bool },
}

/// When new kinds make an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IncidentConfig {
    /// New kinds that alert on their own within the window; the next one
    /// opens an incident (0: never).
    pub(crate) after: u32,
    /// How close together new kinds must come.
    pub(crate) window: Duration,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            after: 2,
            window: Duration::from_secs(30),
        }
    }
}

/// Incidents kept for their kinds' tallies (the oldest is forgotten).
const KEPT: usize = 16;

/// Marks an incident's message id among dedup fingerprints.
const ID_MARK: u64 = 0x1c1d_e000_0000_0000;

/// What [`Incidents::admit`] decided for a new kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// An alert of its own.
    Own,
    /// It opened the incident with this id: send its message.
    Opened(u64),
    /// It joined the open incident with this id: edit its message.
    Joined(u64),
    /// It joined an incident another process of the fleet holds: nothing
    /// to send here.
    Elsewhere,
}

/// A new kind as the incident lists it.
#[derive(Debug, Clone)]
pub(crate) struct Kind {
    pub(crate) fingerprint: u64,
    /// What counts as one problem towards an incident: the callsite's
    /// family when known (the variants of one callsite, and its fold, are
    /// one problem), else the fingerprint.
    pub(crate) problem: u64,
    /// Sanitized.
    pub(crate) title: String,
    pub(crate) level: AlertLevel,
    pub(crate) target: Target,
}

#[derive(Debug)]
struct Member {
    kind: Kind,
    count: u64,
    own_message: bool,
}

#[derive(Debug)]
struct Incident {
    id: u64,
    target: Target,
    started: SystemTime,
    /// When the last new kind joined.
    last_joined: Instant,
    members: Vec<Member>,
    /// Its message, once delivered.
    message_id: Option<i64>,
    /// Changed since its message was last rendered.
    dirty: bool,
    /// The fleet's incident this is (its chat key) and the version of it
    /// last read, while this process holds it.
    fleet: Option<(String, u64)>,
}

impl Incident {
    /// A new kind joins: it is listed, and the incident stays open for
    /// another window from now.
    fn join(&mut self, kind: Kind, now: Instant) -> Admission {
        self.last_joined = now;
        self.dirty = true;
        self.members.push(Member {
            kind,
            count: 1,
            own_message: false,
        });
        Admission::Joined(self.id)
    }
}

/// The pipeline's incidents.
#[derive(Debug)]
pub(crate) struct Incidents {
    config: IncidentConfig,
    /// New kinds alerted on their own lately, with when.
    recent: VecDeque<(Instant, Kind)>,
    incidents: VecDeque<Incident>,
    next_id: u64,
    /// Kinds of this process that live in another process's incident: the
    /// chat key and the member, for their counts.
    elsewhere: HashMap<u64, (String, IncidentMember)>,
    /// Counts of those to tell the fleet.
    updates: Vec<(String, IncidentMember)>,
}

impl Incidents {
    pub(crate) fn new(config: IncidentConfig) -> Self {
        Incidents {
            config,
            recent: VecDeque::new(),
            incidents: VecDeque::new(),
            next_id: 0,
            elsewhere: HashMap::new(),
            updates: Vec::new(),
        }
    }

    /// Whether incidents are on.
    pub(crate) fn enabled(&self) -> bool {
        self.config.after > 0
    }

    /// The rules the fleet decides by: the window, `after`.
    pub(crate) fn config(&self) -> IncidentConfig {
        self.config
    }

    /// A new kind alerts, as the fleet decided (`chat`: the fleet's key for
    /// its destination).
    pub(crate) fn admit_from_fleet(
        &mut self,
        kind: Kind,
        answer: FleetAdmission,
        chat: &str,
        (now, wall): (Instant, SystemTime),
    ) -> Admission {
        match answer {
            FleetAdmission::Own => Admission::Own,
            FleetAdmission::Joined { mine: false } => {
                let member = member_of(&kind, 1, false);
                if self.elsewhere.len() >= 10_000 {
                    self.elsewhere.clear();
                }
                self.elsewhere
                    .insert(kind.fingerprint, (chat.to_owned(), member));
                Admission::Elsewhere
            }
            FleetAdmission::Joined { mine: true } => {
                if let Some(held) = self.held_mut(chat) {
                    return held.join(kind, now);
                }
                self.open_for_fleet(kind, Vec::new(), chat, (now, wall))
            }
            FleetAdmission::Opened(members) => {
                self.open_for_fleet(kind, members, chat, (now, wall))
            }
        }
    }

    fn open_for_fleet(
        &mut self,
        kind: Kind,
        members: Vec<IncidentMember>,
        chat: &str,
        (now, wall): (Instant, SystemTime),
    ) -> Admission {
        let target = kind.target.clone();
        let problem = kind.problem;
        let id = self.push_incident(target.clone(), Vec::new(), (now, wall));
        let Some(incident) = self.incidents.back_mut() else {
            return Admission::Own; // just pushed: never
        };
        incident.fleet = Some((chat.to_owned(), 0));
        for member in members.iter().filter(|m| m.problem != problem) {
            incident.members.push(from_fleet(member, &target));
        }
        incident.members.push(Member {
            kind,
            count: 1,
            own_message: false,
        });
        Admission::Opened(id)
    }

    /// Whether this process holds a fleet incident.
    pub(crate) fn holds_any(&self) -> bool {
        self.incidents
            .iter()
            .any(|incident| incident.fleet.is_some())
    }

    /// The fleet incidents this process holds: their chat key and the
    /// version last read.
    pub(crate) fn held(&self) -> Vec<(String, u64)> {
        self.incidents
            .iter()
            .filter_map(|incident| incident.fleet.clone())
            .collect()
    }

    /// What the fleet's copy of a held incident says (read at `version`):
    /// members of other processes and their counts; `true` if it changed.
    pub(crate) fn merge(&mut self, chat: &str, version: u64, members: &[IncidentMember]) -> bool {
        let Some(incident) = self.held_mut(chat) else {
            return false;
        };
        if let Some((_, seen)) = &mut incident.fleet {
            *seen = version;
        }
        let target = incident.target.clone();
        for member in members {
            match incident
                .members
                .iter_mut()
                .find(|m| m.kind.problem == member.problem)
            {
                Some(known) if known.count < member.count => {
                    known.count = member.count;
                    incident.dirty = true;
                }
                Some(_) => {}
                None => {
                    incident.members.push(from_fleet(member, &target));
                    incident.dirty = true;
                }
            }
        }
        incident.dirty
    }

    /// The fleet's incident of `chat` is no longer this process's.
    pub(crate) fn let_go(&mut self, chat: &str) {
        if let Some(incident) = self.held_mut(chat) {
            incident.fleet = None;
        }
    }

    /// Counts to tell the fleet, of kinds in another process's incident.
    pub(crate) fn take_updates(&mut self) -> Vec<(String, IncidentMember)> {
        std::mem::take(&mut self.updates)
    }

    fn held_mut(&mut self, chat: &str) -> Option<&mut Incident> {
        self.incidents
            .iter_mut()
            .rev()
            .find(|incident| incident.fleet.as_ref().is_some_and(|(key, _)| key == chat))
    }

    /// Whether `fingerprint` is an incident's message id.
    pub(crate) fn is_incident(fingerprint: u64) -> bool {
        fingerprint & 0xffff_f000_0000_0000 == ID_MARK
    }

    /// A new kind alerts: on its own, or in an incident.
    pub(crate) fn admit(&mut self, kind: Kind, now: Instant, wall: SystemTime) -> Admission {
        if self.config.after == 0 || matches!(kind.level, AlertLevel::Critical) {
            return Admission::Own;
        }
        let window = self.config.window;
        if let Some(open) = self.incidents.iter_mut().find(|i| {
            i.target == kind.target && now.saturating_duration_since(i.last_joined) < window
        }) {
            return open.join(kind, now);
        }
        self.recent
            .retain(|(when, _)| now.saturating_duration_since(*when) < window);
        let same_chat = |k: &&(Instant, Kind)| k.1.target == kind.target;
        // Another variant of a problem alerted lately is not a new problem.
        if self
            .recent
            .iter()
            .filter(same_chat)
            .any(|(_, k)| k.problem == kind.problem)
        {
            return Admission::Own;
        }
        // `recent` holds each problem once (a variant returned above).
        if self.recent.iter().filter(same_chat).count() < self.config.after as usize {
            self.recent.push_back((now, kind));
            return Admission::Own;
        }
        self.open(kind, now, wall)
    }

    fn open(&mut self, kind: Kind, now: Instant, wall: SystemTime) -> Admission {
        let target = kind.target.clone();
        let mut members = Vec::new();
        self.recent.retain(|(_, earlier)| {
            if earlier.target != target {
                return true;
            }
            members.push(Member {
                kind: earlier.clone(),
                count: 1,
                own_message: true,
            });
            false
        });
        members.push(Member {
            kind,
            count: 1,
            own_message: false,
        });
        Admission::Opened(self.push_incident(target, members, (now, wall)))
    }

    fn push_incident(
        &mut self,
        target: Target,
        members: Vec<Member>,
        (now, wall): (Instant, SystemTime),
    ) -> u64 {
        self.next_id += 1;
        let id = ID_MARK | (self.next_id & 0x0000_0fff_ffff_ffff);
        if self.incidents.len() >= KEPT {
            self.incidents.pop_front();
        }
        self.incidents.push_back(Incident {
            id,
            target,
            started: wall,
            last_joined: now,
            members,
            message_id: None,
            dirty: false,
            fleet: None,
        });
        id
    }

    /// A kind's tally: its count in the incidents that list it. `true` if
    /// the kind has no message of its own (the incident is all it has).
    pub(crate) fn tally(&mut self, fingerprint: u64, total: u64) -> Option<bool> {
        if let Some((chat, member)) = self.elsewhere.get_mut(&fingerprint) {
            if member.count < total {
                member.count = total;
                self.updates.push((chat.clone(), member.clone()));
            }
            return Some(true);
        }
        let mut listed = None;
        for incident in &mut self.incidents {
            for member in &mut incident.members {
                if member.kind.fingerprint == fingerprint && member.count < total {
                    member.count = total;
                    incident.dirty = true;
                }
                if member.kind.fingerprint == fingerprint {
                    listed = Some(listed.unwrap_or(false) || !member.own_message);
                }
            }
        }
        listed
    }

    /// The incident's message was delivered: `true` if it changed since
    /// (an edit is due).
    pub(crate) fn delivered(&mut self, id: u64, message_id: i64) -> bool {
        match self.incidents.iter_mut().find(|i| i.id == id) {
            Some(incident) => {
                incident.message_id = Some(message_id);
                incident.dirty
            }
            None => false,
        }
    }

    /// The incidents whose message is delivered and changed: their message
    /// id, target and text to render; they are no longer dirty.
    pub(crate) fn take_edits(&mut self) -> Vec<(i64, Target, IncidentText<'_>)> {
        self.incidents
            .iter_mut()
            .filter(|incident| incident.dirty && incident.message_id.is_some())
            .filter_map(|incident| {
                incident.dirty = false;
                let message_id = incident.message_id?;
                Some((message_id, incident.target.clone(), text_of(incident)))
            })
            .collect()
    }

    /// The text of incident `id` (its first message); it is no longer dirty.
    pub(crate) fn text(&mut self, id: u64) -> Option<(Target, IncidentText<'_>)> {
        let incident = self.incidents.iter_mut().find(|i| i.id == id)?;
        incident.dirty = false;
        Some((incident.target.clone(), text_of(incident)))
    }
}

fn member_of(kind: &Kind, count: u64, own: bool) -> IncidentMember {
    IncidentMember {
        problem: kind.problem,
        fingerprint: kind.fingerprint,
        title: kind.title.clone(),
        level: kind.level.label().to_owned(),
        count,
        own,
    }
}

fn from_fleet(member: &IncidentMember, target: &Target) -> Member {
    Member {
        kind: Kind {
            fingerprint: member.fingerprint,
            problem: member.problem,
            title: member.title.clone(),
            level: AlertLevel::parse(&member.level).unwrap_or(AlertLevel::Error),
            target: target.clone(),
        },
        count: member.count,
        own_message: member.own,
    }
}

/// A new kind's member for the fleet (a line of the incident).
pub(crate) fn new_member(kind: &Kind) -> IncidentMember {
    member_of(kind, 1, false)
}

fn text_of(incident: &Incident) -> IncidentText<'_> {
    let lines: Vec<IncidentLine<'_>> = incident
        .members
        .iter()
        .map(|member| IncidentLine {
            level: member.kind.level,
            title: &member.kind.title,
            count: member.count,
            own_message: member.own_message,
        })
        .collect();
    let level = lines
        .iter()
        .map(|line| line.level)
        .min_by_key(|level| *level as u8)
        .unwrap_or(AlertLevel::Error);
    IncidentText {
        level,
        started: incident.started,
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ChatId;

    fn kind(n: u64) -> Kind {
        Kind {
            fingerprint: n,
            problem: n,
            title: format!("component {n} failed"),
            level: AlertLevel::Error,
            target: Target {
                chat_id: ChatId::Id(-100),
                thread_id: None,
            },
        }
    }

    #[test]
    fn the_third_new_kind_within_the_window_opens_an_incident_the_rest_join() {
        let mut incidents = Incidents::new(IncidentConfig::default());
        let start = Instant::now();
        let wall = SystemTime::now();
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(incidents.admit(kind(1), at(0), wall), Admission::Own);
        // A variant of the same problem (its callsite) is not a new one.
        let variant = Kind {
            fingerprint: 100,
            ..kind(1)
        };
        assert_eq!(incidents.admit(variant, at(0), wall), Admission::Own);
        assert_eq!(incidents.admit(kind(2), at(1), wall), Admission::Own);
        let Admission::Opened(id) = incidents.admit(kind(3), at(2), wall) else {
            panic!("the third opens an incident");
        };
        assert!(Incidents::is_incident(id));
        assert_eq!(
            incidents.admit(kind(4), at(20), wall),
            Admission::Joined(id)
        );
        // Each join keeps it open for another window.
        assert_eq!(
            incidents.admit(kind(5), at(45), wall),
            Admission::Joined(id)
        );
        let (_, text) = incidents.text(id).unwrap();
        let owns: Vec<bool> = text.lines.iter().map(|l| l.own_message).collect();
        assert_eq!(owns, [true, true, false, false, false]);
        // Tallies: a kind with no message of its own lives in the incident.
        assert_eq!(incidents.tally(4, 25), Some(true));
        assert_eq!(incidents.tally(1, 25), Some(false));
        assert_eq!(incidents.tally(99, 25), None);
        assert!(incidents.take_edits().is_empty(), "not delivered yet");
        assert!(incidents.delivered(id, 77));
        let edits = incidents.take_edits();
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].0, 77);
        assert!(incidents.take_edits().is_empty());
        // Quiet for a window: the next new kind is on its own again.
        assert_eq!(incidents.admit(kind(6), at(100), wall), Admission::Own);
    }

    #[test]
    fn critical_alerts_and_a_zero_setting_stay_on_their_own() {
        let mut incidents = Incidents::new(IncidentConfig::default());
        let now = Instant::now();
        let wall = SystemTime::now();
        for n in 0..5 {
            let critical = Kind {
                level: AlertLevel::Critical,
                ..kind(n)
            };
            assert_eq!(incidents.admit(critical, now, wall), Admission::Own);
        }
        let mut off = Incidents::new(IncidentConfig {
            after: 0,
            ..IncidentConfig::default()
        });
        assert!((0..10).all(|n| off.admit(kind(n), now, wall) == Admission::Own));
    }
}
