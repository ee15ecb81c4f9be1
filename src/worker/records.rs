//! One record through the pipeline, and the repeats the layer counted at
//! the gate.

use crate::channel::gate::{GateKey, OpenKind};
use crate::pipeline::Tally;
use crate::record::Record;

use super::Worker;

impl Worker {
    pub(super) async fn on_record(&mut self, record: Option<Record>) {
        let Some(record) = record else {
            self.records_open = false;
            return;
        };
        let key = self.pipeline.dedup_key(&record);
        let claim = self.fleet.claim(key).await;
        let prepared = self.pipeline.prepare(record, key, claim);
        self.enqueue(prepared.messages);
        if let Some(kind) = prepared.opening {
            self.open_kinds.open(kind);
        }
        self.send_tallies(prepared.tallies).await;
    }

    /// Settles the repeats the layer counted at the gate since the last
    /// call, and closes the kinds whose window this process no longer holds.
    pub(super) async fn take_gate_counts(&mut self) {
        if self.open_kinds.is_empty() {
            return;
        }
        let mut tallies = Vec::new();
        for (kind, repeats) in self.open_kinds.take_counts() {
            tallies.extend(self.settle_gate_repeats(&kind, repeats));
        }
        for key in self.stale_kinds() {
            if let Some((kind, repeats)) = self.open_kinds.close(key) {
                tallies.extend(self.settle_gate_repeats(&kind, repeats));
            }
        }
        self.send_tallies(tallies).await;
    }

    /// Open kinds whose dedup window is gone here: evicted for room, or
    /// (fleet) no longer known to be covered by another alert.
    fn stale_kinds(&self) -> Vec<GateKey> {
        self.open_kinds
            .kinds()
            .filter(|kind| match kind.fleet {
                true => !self.fleet.covers(kind.fingerprint),
                false => !self.pipeline.holds(kind.fingerprint),
            })
            .map(|kind| kind.key)
            .collect()
    }

    /// Closes every kind (each tick, so that no count outlives its window;
    /// with `shut`, for good), settling what was counted; the tallies due.
    pub(super) fn close_gate(&mut self, shut: bool) -> Vec<Tally> {
        let mut tallies = Vec::new();
        for (kind, repeats) in self.open_kinds.close_all(shut) {
            tallies.extend(self.settle_gate_repeats(&kind, repeats));
        }
        tallies
    }

    /// Counts a kind's repeats, in the fleet's tally too for a fleet kind;
    /// the tally due if a threshold was crossed.
    fn settle_gate_repeats(&mut self, kind: &OpenKind, repeats: u64) -> Option<Tally> {
        if repeats == 0 {
            return None;
        }
        let fleet_total = match kind.fleet {
            true => self.fleet.add_repeats(kind.fingerprint, repeats),
            false => None,
        };
        self.pipeline.gate_repeats(kind, repeats, fleet_total)
    }

    /// Sends tallies, with the fleet's totals and originals when there is
    /// a fleet.
    pub(super) async fn send_tallies(&mut self, mut tallies: Vec<Tally>) {
        if tallies.is_empty() {
            return;
        }
        self.fleet.complete(&mut tallies).await;
        let messages = self.pipeline.render_tallies(tallies);
        self.enqueue(messages);
    }
}
