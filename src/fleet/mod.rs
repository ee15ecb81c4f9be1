//! Fleet: what the processes of a service share — who alerts first, the
//! tallies, where each original alert went, and the digest windows.
//!
//! In: fingerprints to claim, repeat counts, delivered alerts, closed digest
//! windows (from the worker). Out: claims, fleet totals, originals to edit,
//! and merged windows to render. A [`Fleet`] is local (every answer "decide
//! here") or backed by Redis; this folder is the only code that knows the
//! `redis` feature: without it, the store is a type with no values
//! ([`disabled`]), so the fleet is local by construction.
//!
//! Redis trouble never stops alerts: each call is bounded, and a failed one
//! is decided in this process's memory (counted in `Stats::redis_fallbacks`).
//!
//! Interactive alerts share two things more ([`interactive`]): the leader
//! lock (one process polls Telegram for presses) and mutes. With
//! `fleet.watch_fleet`, the fleet watches itself ([`watch`]): a process
//! that vanishes without shutting down is reported by another.

pub(crate) mod claim;
#[cfg(feature = "redis")]
mod connection;
#[cfg(not(feature = "redis"))]
mod disabled;
#[cfg(feature = "redis")]
mod history;
#[cfg(feature = "redis")]
mod incidents;
#[cfg(feature = "redis")]
mod interactive;
#[cfg(feature = "redis")]
mod presence;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod resolve;
#[cfg(feature = "redis")]
mod shared;
#[cfg(feature = "redis")]
mod spread;
#[cfg(feature = "redis")]
mod sync;
pub(crate) mod watch;

use std::time::{Duration, Instant};

use crate::delivery::Delivered;
use crate::gate::SharedRepeats;
use crate::pipeline::incident::{FleetAdmission, IncidentMember};
use crate::pipeline::spread::FleetCount;
use crate::pipeline::{ClosedWindow, DigestData, IncidentConfig, Tally};

pub(crate) use claim::Claim;

#[cfg(not(feature = "redis"))]
pub(crate) use disabled::{FleetConfig, FleetStore};
#[cfg(feature = "redis")]
pub(crate) use redis::{FleetConfig, FleetStore};

/// Whether this build can share state through Redis (the `redis` feature).
pub(crate) const AVAILABLE: bool = cfg!(feature = "redis");

/// How often the repeats counted for other processes' alerts are sent to
/// Redis (all kinds in one call): how stale a fleet tally may be.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// How long after a digest window closes its fleet leader is chosen, so that
/// every process has pushed its part.
const DIGEST_GRACE: Duration = Duration::from_secs(10);

/// When the fleet decides incidents: how close together new problems come,
/// how many may alert on their own, how long an incident lives.
#[cfg_attr(not(feature = "redis"), allow(dead_code))] // read by the Redis store
#[derive(Debug, Clone, Copy)]
pub(crate) struct IncidentRules {
    pub(crate) window: Duration,
    pub(crate) after: u32,
    pub(crate) lifetime: Duration,
}

/// What the fleet's copy of an incident this process held says.
#[cfg_attr(not(feature = "redis"), allow(dead_code))] // made by the Redis store
#[derive(Debug)]
pub(crate) enum HeldIncident {
    /// Another process holds it now, or it expired.
    NotMine,
    /// Nothing changed since the version read last.
    Unchanged,
    /// It changed: its version and every member.
    Changed(u64, Vec<IncidentMember>),
}

/// How long a kind has been quiet in the whole fleet.
#[cfg_attr(not(feature = "redis"), allow(dead_code))] // made by the Redis store
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FleetQuiet {
    /// Since its last occurrence anywhere.
    For(Duration),
    /// Longer than its last occurrence is kept.
    Long,
    /// It failed again and a process alerted it anew: the old alert is not
    /// resolved.
    AlertedAnew,
}

/// The fleet as this process sees it.
#[derive(Debug)]
pub(crate) struct Fleet {
    /// `None`: a process on its own.
    store: Option<FleetStore>,
    /// The dedup window (claims and tallies expire with it).
    dedup_window: Duration,
    /// The digest period: merged windows report it, and pushed windows
    /// live three of them.
    digest_period: Duration,
    /// Windows pushed, and when to try to lead their digest.
    collects: Vec<(u64, Instant)>,
    /// When batched repeat counts were last sent.
    last_sync: Instant,
    /// Interactive alerts: tallies take the notes the fleet stored.
    interactive: bool,
    /// Until when the leader lock this process took holds.
    leads_until: Option<Instant>,
    /// When the incidents this process holds were last read.
    incidents_read: Instant,
    /// This process's presence, while the fleet watches itself.
    watch: Option<watch::Watch>,
    /// Counts of fleet kinds' values not yet added to Redis.
    spread: Vec<(u64, Vec<FleetCount>)>,
}

impl Fleet {
    /// A fleet through `store`, or this process alone.
    pub(crate) fn new(
        store: Option<FleetStore>,
        dedup_window: Duration,
        digest_period: Duration,
    ) -> Self {
        Fleet {
            store,
            dedup_window,
            digest_period,
            collects: Vec::new(),
            last_sync: Instant::now(),
            interactive: false,
            leads_until: None,
            incidents_read: Instant::now(),
            watch: None,
            spread: Vec::new(),
        }
    }

    /// The fleet's decision about a new problem (`question`: the chat's
    /// key, the member, the rules); `None`: decide in this process (no
    /// fleet, nothing to ask, or Redis did not answer).
    pub(crate) async fn incident(
        &mut self,
        question: Option<(String, IncidentMember, IncidentConfig)>,
    ) -> Option<FleetAdmission> {
        let (store, (chat, member, config)) = (self.store.as_mut()?, question?);
        let rules = IncidentRules {
            window: config.window,
            after: config.after,
            lifetime: self.dedup_window,
        };
        store.admit_to_incident(&chat, &member, rules).await
    }

    /// Tells the fleet the counts of this process's kinds that live in
    /// another process's incident.
    pub(crate) async fn update_incidents(&mut self, updates: Vec<(String, IncidentMember)>) {
        let Some(store) = &mut self.store else {
            return;
        };
        for (chat, member) in updates {
            store.update_incident_member(&chat, &member).await;
        }
    }

    /// When the incidents this process holds are next read (with `held`).
    pub(crate) fn next_incident_read(&self, held: bool) -> Option<Instant> {
        (held && self.store.is_some()).then_some(self.incidents_read + SYNC_INTERVAL)
    }

    /// The fleet's copy of an incident this process held at `seen`
    /// (`None`: no fleet, or Redis did not answer).
    pub(crate) async fn read_incident(&mut self, chat: &str, seen: u64) -> Option<HeldIncident> {
        self.incidents_read = Instant::now();
        self.store.as_mut()?.read_incident(chat, seen).await
    }

    /// Alerts carry buttons: tallies read the notes chat members added.
    #[cfg_attr(not(feature = "interactive"), allow(dead_code))] // used with the `interactive` feature
    pub(crate) fn interactive(&mut self) {
        self.interactive = true;
    }

    /// Whether other processes share this one's state.
    pub(crate) fn is_shared(&self) -> bool {
        self.store.is_some()
    }

    /// Connects now (at startup), so that an unreachable Redis is reported
    /// at once; alerts are decided in memory meanwhile.
    pub(crate) async fn connect(&mut self) {
        if let Some(store) = &mut self.store {
            store.connect().await;
        }
    }

    /// Whether this process is the first of its deploy to start (always, on
    /// its own or when Redis does not answer).
    pub(crate) async fn first_start(&mut self, service: &str, version: Option<&str>) -> bool {
        let Some(store) = &mut self.store else {
            return true;
        };
        let version = version.unwrap_or("unversioned");
        store.first_start(service, version).await.unwrap_or(true)
    }

    /// Asks the fleet whether the record of `fingerprint` (`None`: not
    /// deduplicated) is the first of its kind.
    pub(crate) async fn claim(&mut self, fingerprint: Option<u64>) -> Claim {
        match (&mut self.store, fingerprint) {
            (Some(store), Some(fingerprint)) => store.claim(fingerprint, self.dedup_window).await,
            _ => Claim::Local,
        }
    }

    /// Whether repeat counts wait to be sent to Redis.
    pub(crate) fn has_pending_repeats(&self) -> bool {
        self.store
            .as_ref()
            .is_some_and(FleetStore::has_pending_repeats)
    }

    /// When the batched repeat counts are to be sent (`None`: none wait):
    /// [`SYNC_INTERVAL`] after the last sync, whatever else wakes the worker.
    pub(crate) fn next_sync(&self) -> Option<Instant> {
        self.has_pending_repeats()
            .then_some(self.last_sync + SYNC_INTERVAL)
    }

    /// Sends the batched repeat counts now (also at shutdown).
    pub(crate) async fn flush_repeats(&mut self) {
        if let Some(store) = &mut self.store {
            store.flush_all_repeats().await;
        }
        self.flush_spread().await;
        self.last_sync = Instant::now();
    }

    /// Takes counts of fleet kinds' values, added to Redis with the next
    /// sync (or before a tally reads them back).
    pub(crate) fn add_spread(&mut self, counts: Vec<(u64, Vec<FleetCount>)>) {
        if self.store.is_some() {
            self.spread.extend(counts);
        }
    }

    async fn flush_spread(&mut self) {
        let Some(store) = &mut self.store else {
            return;
        };
        for (fingerprint, counts) in std::mem::take(&mut self.spread) {
            store
                .add_spread(fingerprint, &counts, self.dedup_window)
                .await;
        }
    }

    /// Tells the fleet where an alert's original went, so that any process
    /// can edit it with a tally.
    pub(crate) async fn remember(&mut self, delivered: &Delivered) {
        if let Some(store) = &mut self.store {
            store.store_original(delivered, self.dedup_window).await;
        }
    }

    /// Whether this process leads the fleet's interactive polling, taking
    /// or renewing the lock for `ttl`: always on its own; with Redis away,
    /// only while the lock it took still holds (so that two processes
    /// never poll at once).
    pub(crate) async fn lead(&mut self, ttl: Duration, now: Instant) -> bool {
        let Some(store) = &mut self.store else {
            return true;
        };
        match store.lead(ttl).await {
            Some(true) => {
                self.leads_until = Some(now + ttl);
                true
            }
            Some(false) => {
                self.leads_until = None;
                false
            }
            None => self.leads_until.is_some_and(|until| now < until),
        }
    }

    /// Gives the leader lock up (shutdown).
    pub(crate) async fn resign(&mut self) {
        if let (Some(store), Some(_)) = (&mut self.store, self.leads_until.take()) {
            store.resign().await;
        }
    }

    /// Mutes `fingerprint` fleet-wide for `duration` (nothing without a
    /// fleet: the pipeline's own memory is all there is).
    /// `false` if the fleet could not be told (Redis did not answer).
    pub(crate) async fn mute(&mut self, fingerprint: u64, duration: Duration) -> bool {
        match &mut self.store {
            Some(store) => store.mute(fingerprint, duration, self.dedup_window).await,
            None => true,
        }
    }

    /// Ends a mute fleet-wide; `false` if the fleet could not be told.
    pub(crate) async fn unmute(&mut self, fingerprint: u64) -> bool {
        match &mut self.store {
            Some(store) => store.unmute(fingerprint).await,
            None => true,
        }
    }

    /// The original alert of `fingerprint` as the fleet stored it (with
    /// its notes), if any.
    pub(crate) async fn original(&mut self, fingerprint: u64) -> Option<Delivered> {
        self.store.as_mut()?.original(fingerprint).await
    }

    /// Stores an alert with what chat members added to it, for `ttl` (a
    /// muted alert's for the mute's length, to edit it when it ends).
    pub(crate) async fn remember_for(&mut self, delivered: &Delivered, ttl: Duration) {
        if let Some(store) = &mut self.store {
            store.store_original(delivered, ttl).await;
        }
    }

    /// Holds back the resolving tallies of kinds not quiet for `quiet` in
    /// the whole fleet: each one held back, with how long the kind has been
    /// quiet everywhere (`None`: Redis did not answer; ask again soon).
    pub(crate) async fn hold_unquiet(
        &mut self,
        tallies: &mut Vec<Tally>,
        quiet: Duration,
    ) -> Vec<(Tally, Option<Duration>)> {
        let Some(store) = &mut self.store else {
            return Vec::new();
        };
        let mut held = Vec::new();
        let mut kept = Vec::with_capacity(tallies.len());
        for tally in tallies.drain(..) {
            if tally.resolved.is_none() {
                kept.push(tally);
                continue;
            }
            match store.quiet_for(tally.fingerprint).await {
                // Nothing kept, or quiet long enough: quiet everywhere.
                Some(FleetQuiet::Long) => kept.push(tally),
                Some(FleetQuiet::For(so_far)) if so_far >= quiet => kept.push(tally),
                Some(FleetQuiet::For(so_far)) => held.push((tally, Some(so_far))),
                // Superseded by a newer alert: dropped.
                Some(FleetQuiet::AlertedAnew) => {}
                None => held.push((tally, None)),
            }
        }
        *tallies = kept;
        held
    }

    /// What the fleet knows of a kind this process alerts anew (`claim`
    /// said it is first): `None` without a fleet, or if Redis did not answer.
    pub(crate) async fn kind_past(
        &mut self,
        key: Option<u64>,
        claim: Claim,
        version: Option<&str>,
    ) -> Option<(u64, crate::pipeline::history::KindPast)> {
        let (store, fingerprint) = (self.store.as_mut()?, key?);
        if claim != Claim::First {
            return None;
        }
        let past = store
            .arrive(fingerprint, version.unwrap_or_default())
            .await?;
        Some((fingerprint, past))
    }

    /// Whether this process escalates `fingerprint`'s kind now: nobody
    /// acknowledged or muted it in the fleet, and no other process
    /// escalated it since it last resolved (without a fleet, or with Redis
    /// away: yes — a duplicate is better than an alert nobody saw).
    pub(crate) async fn claim_escalation(&mut self, fingerprint: u64) -> bool {
        let Some(store) = &mut self.store else {
            return true;
        };
        let claimed = store.settle_escalation(fingerprint, true).await;
        claimed.unwrap_or(true)
    }

    /// An alert was acknowledged or muted: no process escalates its kind
    /// until it resolves.
    pub(crate) async fn cancel_escalation(&mut self, fingerprint: u64) {
        if let Some(store) = &mut self.store {
            let _ = store.settle_escalation(fingerprint, false).await;
        }
    }

    /// Keeps full reports for the dedup window, for whichever process
    /// answers a 📄 press (none without a fleet).
    pub(crate) async fn keep_reports(&mut self, reports: Vec<(u64, String)>) {
        let Some(store) = &mut self.store else {
            return;
        };
        for (fingerprint, report) in &reports {
            store
                .keep_report(*fingerprint, report, self.dedup_window)
                .await;
        }
    }

    /// A full report the fleet keeps: `Ok(None)` if it keeps none (or
    /// there is no fleet), `Err` if Redis did not answer.
    pub(crate) async fn report(&mut self, fingerprint: u64) -> Result<Option<String>, ()> {
        match &mut self.store {
            None => Ok(None),
            Some(store) => store.report(fingerprint).await.ok_or(()),
        }
    }

    /// Keeps the alerts that resolved kinds, for whichever process alerts
    /// them anew.
    pub(crate) async fn remember_resolutions(
        &mut self,
        resolved: Vec<(u64, crate::pipeline::history::ResolvedAlert)>,
    ) {
        let Some(store) = &mut self.store else {
            return;
        };
        for (fingerprint, alert) in &resolved {
            store.resolved(*fingerprint, alert).await;
        }
    }

    /// Completes tallies with the fleet's totals, and with the original an
    /// alert of another process was delivered as.
    pub(crate) async fn complete(&mut self, tallies: &mut [Tally]) {
        self.flush_spread().await;
        let Some(store) = &mut self.store else {
            return;
        };
        for tally in tallies {
            tally.fleet_spread = store.spread(tally.fingerprint).await;
            if !tally.fleet_total_known {
                if let Some(total) = store.total(tally.fingerprint).await {
                    tally.total = tally.total.max(total);
                }
            }
            match &mut tally.delivered {
                None => tally.delivered = store.original(tally.fingerprint).await,
                // Another process may have acknowledged or muted it: the
                // fleet's copy has the notes.
                Some(delivered) if self.interactive => {
                    if let Some(stored) = store.original(tally.fingerprint).await {
                        delivered.notes = stored.notes;
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// Shares a closed digest window with the fleet, whose leader will send
    /// the merged digest; gives it back when it is this process's to send
    /// (no fleet, or Redis did not take it).
    pub(crate) async fn share_window(
        &mut self,
        window: ClosedWindow,
        now: Instant,
    ) -> Option<ClosedWindow> {
        let Some(store) = &mut self.store else {
            return Some(window);
        };
        if !store
            .push_digest(window.id, &window.data, self.digest_period * 3)
            .await
        {
            return Some(window);
        }
        if !self.collects.iter().any(|(id, _)| *id == window.id) {
            self.collects.push((window.id, now + DIGEST_GRACE));
        }
        None
    }

    /// Tries to lead the fleet digests that are due (or all of them, at
    /// shutdown); the merged windows this process leads, to render.
    pub(crate) async fn collect_digests(&mut self, now: Instant, all: bool) -> Vec<ClosedWindow> {
        let Some(store) = &mut self.store else {
            return Vec::new();
        };
        let (due, later): (Vec<_>, Vec<_>) = self
            .collects
            .drain(..)
            .partition(|(_, at)| all || *at <= now);
        self.collects = later;
        let mut merged_windows = Vec::new();
        for (id, _) in due {
            // Another process leads, or Redis is gone: nothing to send here.
            let Ok(Some(windows)) = store.collect_digest(id, self.digest_period * 3).await else {
                continue;
            };
            let data = windows
                .into_iter()
                .fold(DigestData::default(), |mut all, window| {
                    all.merge(window);
                    all
                });
            merged_windows.push(ClosedWindow {
                id,
                period: self.digest_period,
                data,
            });
        }
        merged_windows
    }

    /// When the next fleet digest is due to be collected.
    pub(crate) fn next_collect(&self) -> Option<Instant> {
        self.collects.iter().map(|(_, at)| *at).min()
    }
}

impl SharedRepeats for Fleet {
    /// Repeats of a fleet kind counted at the gate: batched for Redis; the
    /// fleet's total after them (`None` on its own).
    fn add_repeats(&mut self, fingerprint: u64, repeats: u64) -> Option<u64> {
        let store = self.store.as_mut()?;
        Some(store.add_repeats(fingerprint, repeats, self.dedup_window))
    }

    /// Whether `fingerprint` is still known to be covered by another
    /// process's alert (so that its repeats may be counted at the gate).
    fn covers(&self, fingerprint: u64) -> bool {
        self.store
            .as_ref()
            .is_some_and(|store| store.knows_repeat(fingerprint))
    }

    fn take_crossed(&mut self) -> Vec<(u64, u64)> {
        self.store
            .as_mut()
            .map(FleetStore::take_crossed)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_process_on_its_own_decides_everything_here() {
        let mut fleet = Fleet::new(None, Duration::from_secs(600), Duration::from_secs(900));
        assert!(!fleet.is_shared());
        fleet.connect().await;
        assert!(fleet.first_start("orders-api", Some("1.2")).await);
        assert_eq!(fleet.claim(Some(7)).await, Claim::Local);
        assert_eq!(fleet.add_repeats(7, 3), None);
        assert!(!fleet.covers(7));
        assert!(!fleet.has_pending_repeats());
        let window = ClosedWindow {
            id: 42,
            period: Duration::from_secs(900),
            data: DigestData::default(),
        };
        let now = Instant::now();
        assert_eq!(
            fleet.share_window(window.clone(), now).await,
            Some(window),
            "this process sends its own digest"
        );
        assert!(fleet.collect_digests(now, true).await.is_empty());
        assert_eq!(fleet.next_collect(), None);
    }
}
