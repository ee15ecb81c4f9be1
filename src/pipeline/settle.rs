//! The dedup stage's answer to the repeat gate's counts: what the gate
//! ([`crate::gate`]) takes and closes is settled here as the same number of
//! repeat records would have been (counted, added to the tally, a threshold
//! tally when one is crossed).

use crate::gate::{self, KindSpread, OpenKind, OpenKinds, Settle, SharedRepeats};
use crate::stats::Outcome;

use super::{Pipeline, Tally};

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
        if !self.open_kinds.is_empty() {
            tallies.extend(gate::settle_counts(self, fleet));
        }
        tallies
    }

    /// Closes every kind (each tick, so that no count outlives its window;
    /// with `shut`, for good), settling what was counted; the tallies due.
    pub(crate) fn close_gate(&mut self, shut: bool, fleet: &mut impl SharedRepeats) -> Vec<Tally> {
        gate::close_all(self, shut, fleet)
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
}

impl Settle for Pipeline {
    type Tally = Tally;

    fn open_kinds(&self) -> &OpenKinds {
        &self.open_kinds
    }

    fn open_kinds_mut(&mut self) -> &mut OpenKinds {
        &mut self.open_kinds
    }

    fn settle(
        &mut self,
        kind: &OpenKind,
        (repeats, spread): (u64, KindSpread),
        fleet: &mut impl SharedRepeats,
    ) -> Option<Tally> {
        if repeats == 0 {
            return None;
        }
        if kind.muted {
            self.settle_muted(kind, repeats);
            return None;
        }
        let sanitizer = &self.config.sanitizer;
        self.spreads
            .add_gate(kind.fingerprint, &spread, (kind.fleet, sanitizer));
        let fleet_total = match kind.fleet {
            true => fleet.add_repeats(kind.fingerprint, repeats),
            false => None,
        };
        self.counters.accept_repeats(repeats);
        self.counters.settle(Outcome::Deduplicated, repeats);
        let fp = kind.fingerprint;
        // `None` from `add_repeats`: the entry is gone (evicted for room);
        // the repeats are counted above but no longer tallied here.
        let local_total = self.dedup.add_repeats(fp, repeats, self.clock.now());
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

    fn is_stale(&self, kind: &OpenKind, fleet: &impl SharedRepeats) -> bool {
        // A kind muted or unmuted since it opened reopens as such.
        self.mute_changed(kind)
            || match (kind.muted, kind.fleet) {
                (true, _) => false,
                (false, true) => !fleet.covers(kind.fingerprint),
                (false, false) => !self.dedup.holds(kind.fingerprint),
            }
    }
}
