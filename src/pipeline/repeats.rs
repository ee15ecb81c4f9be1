//! Repeats counted at the gate: the dedup stage's side of the repeat gate.
//!
//! When dedup admits a new kind of alert (or learns that the fleet covers
//! it), it opens the kind at the gate (`channel::gate`), and the layer counts
//! its repeats there. Here the counts are taken and settled as the same
//! number of repeat records would have been; kinds whose window is gone are
//! closed. For a fleet kind, the fleet's side is asked through
//! [`SharedRepeats`] (implemented by `fleet::Fleet`), so that this stage
//! needs nothing from the fleet's code.

use std::collections::{HashMap, VecDeque};

use crate::alert::AlertLevel;
use crate::channel::gate::{GateKey, OpenKind};
use crate::chat::Target;
use crate::stats::Outcome;

use super::{Pipeline, Tally};

/// What the fleet knows about repeats of kinds another process alerted.
pub(crate) trait SharedRepeats {
    /// Adds `repeats` of a fleet kind; the fleet's total after them (`None`
    /// without a fleet).
    fn add_repeats(&mut self, fingerprint: u64, repeats: u64) -> Option<u64>;

    /// Whether another process's alert still covers `fingerprint`.
    fn covers(&self, fingerprint: u64) -> bool;

    /// The tally thresholds this process's counts crossed in the fleet's
    /// store since the last call (exactly one process sees each): the
    /// fingerprint and the fleet's total.
    fn take_crossed(&mut self) -> Vec<(u64, u64)>;
}

/// The headings of kinds another process alerted, for the tallies this
/// process sends when its counts cross a threshold. Bounded: past
/// [`MAX_FLEET_HEADINGS`] the oldest half is forgotten (a crossing of a
/// forgotten kind is left to the holder's final tally).
#[derive(Debug, Default)]
pub(crate) struct FleetHeadings {
    headings: HashMap<u64, (String, AlertLevel, Target)>,
    order: VecDeque<u64>,
}

/// Most fleet kinds whose heading is kept.
const MAX_FLEET_HEADINGS: usize = 10_000;

impl FleetHeadings {
    /// Remembers the heading of a fleet kind (once).
    pub(crate) fn remember(
        &mut self,
        fingerprint: u64,
        (title, level, target): (&str, AlertLevel, &Target),
    ) {
        if self.headings.contains_key(&fingerprint) {
            return;
        }
        if self.order.len() >= MAX_FLEET_HEADINGS {
            for old in self.order.drain(..MAX_FLEET_HEADINGS / 2) {
                self.headings.remove(&old);
            }
        }
        self.headings
            .insert(fingerprint, (title.to_owned(), level, target.clone()));
        self.order.push_back(fingerprint);
    }

    fn get(&self, fingerprint: u64) -> Option<(&str, AlertLevel, &Target)> {
        self.headings
            .get(&fingerprint)
            .map(|(title, level, target)| (title.as_str(), *level, target))
    }
}

impl Pipeline {
    /// Whether any kind is open at the gate (then its counts are taken
    /// periodically).
    pub(crate) fn has_open_kinds(&self) -> bool {
        !self.open_kinds.is_empty()
    }

    /// Settles the repeats counted since the last call, and closes the kinds
    /// whose window this process no longer holds; the tallies due.
    pub(crate) fn settle_gate(&mut self, fleet: &mut impl SharedRepeats) -> Vec<Tally> {
        let mut tallies = self.crossed_tallies(fleet);
        if self.open_kinds.is_empty() {
            return tallies;
        }
        for (kind, repeats) in self.open_kinds.take_counts() {
            tallies.extend(self.settle(&kind, repeats, fleet));
        }
        for key in self.stale_kinds(fleet) {
            if let Some((kind, repeats)) = self.open_kinds.close(key) {
                tallies.extend(self.settle(&kind, repeats, fleet));
            }
        }
        tallies
    }

    /// Tallies for the thresholds this process's fleet counts crossed.
    pub(crate) fn crossed_tallies(&mut self, fleet: &mut impl SharedRepeats) -> Vec<Tally> {
        let mut tallies = Vec::new();
        for (fingerprint, total) in fleet.take_crossed() {
            if let Some(heading) = self.fleet_headings.get(fingerprint) {
                tallies.push(self.dedup.fleet_tally(fingerprint, total, heading));
            }
        }
        tallies
    }

    /// The worker stops: closes every slot, opened or only reserved by the
    /// layer for a record the worker never got to; the repeats counted in
    /// those (they were never settled, and are now lost).
    pub(crate) fn sweep_gate(&mut self) -> u64 {
        self.open_kinds.sweep()
    }

    /// Closes every kind (each tick, so that no count outlives its window;
    /// with `shut`, for good), settling what was counted; the tallies due.
    pub(crate) fn close_gate(&mut self, shut: bool, fleet: &mut impl SharedRepeats) -> Vec<Tally> {
        let mut tallies = Vec::new();
        for (kind, repeats) in self.open_kinds.close_all(shut) {
            tallies.extend(self.settle(&kind, repeats, fleet));
        }
        tallies
    }

    /// Open kinds whose dedup window is gone here: evicted for room, or
    /// (fleet) no longer known to be covered by another alert; and kinds
    /// muted or unmuted since they opened.
    fn stale_kinds(&self, fleet: &impl SharedRepeats) -> Vec<GateKey> {
        self.open_kinds
            .kinds()
            .filter(|kind| {
                // A kind muted or unmuted since it opened reopens as such.
                self.mute_changed(kind)
                    || match (kind.muted, kind.fleet) {
                        (true, _) => false,
                        (false, true) => !fleet.covers(kind.fingerprint),
                        (false, false) => !self.dedup.holds(kind.fingerprint),
                    }
            })
            .map(|kind| kind.key)
            .collect()
    }

    /// Counts a kind's repeats (in the fleet's tally too, for a fleet kind)
    /// as the same number of repeat records would have been: counted, added
    /// to the tally, and a threshold tally when one is crossed.
    fn settle(
        &mut self,
        kind: &OpenKind,
        repeats: u64,
        fleet: &mut impl SharedRepeats,
    ) -> Option<Tally> {
        if repeats == 0 {
            return None;
        }
        if kind.muted {
            self.settle_muted(kind, repeats);
            return None;
        }
        let fleet_total = match kind.fleet {
            true => fleet.add_repeats(kind.fingerprint, repeats),
            false => None,
        };
        self.counters.accept_repeats(repeats);
        self.counters.settle(Outcome::Deduplicated, repeats);
        let fp = kind.fingerprint;
        // `None` from `add_repeats`: the entry is gone (evicted for room);
        // the repeats are counted above but no longer tallied here.
        let local_total = self.dedup.add_repeats(fp, repeats);
        match fleet_total {
            // Crossings are found when the counts reach the fleet's store.
            Some(_) => {
                let heading = (kind.title.as_str(), kind.level, &kind.target);
                self.fleet_headings.remember(fp, heading);
                None
            }
            None => local_total
                .filter(|total| Tally::crossed(*total, repeats))
                .and_then(|_| self.dedup.tally(fp)),
        }
    }
}
