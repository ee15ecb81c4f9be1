//! One record through the pipeline, and the repeats the layer counted at
//! the gate.

use crate::fleet::HeldIncident;
use crate::pipeline::Tally;
use crate::record::Record;

use super::Worker;

impl Worker {
    pub(super) async fn on_record(&mut self, record: Option<Record>) {
        let Some(record) = record else {
            self.records_open = false;
            return;
        };
        self.reserve.give_back(&record);
        let Some(record) = self.hold_for_status(record) else {
            return; // until its request ends (see `awaiting`)
        };
        self.process(record).await;
    }

    /// Runs a record through the pipeline, asking the fleet what it shares.
    pub(super) async fn process(&mut self, mut record: Record) {
        self.pipeline.classify(&mut record);
        let key = self.pipeline.dedup_key(&record);
        let claim = self.fleet.claim(key).await;
        let version = self.pipeline.version();
        if let Some((fingerprint, past)) = self.fleet.kind_past(key, claim, version).await {
            self.pipeline.learn_past(fingerprint, past);
        }
        let question = self.pipeline.incident_question(&record, key, claim);
        let incident = self.fleet.incident(question).await;
        let prepared = self.pipeline.prepare(record, key, (claim, incident));
        self.enqueue(prepared.messages);
        let reports = self.pipeline.take_fresh_reports();
        self.fleet.keep_reports(reports).await;
        self.send_tallies(prepared.tallies).await;
    }

    /// Settles the repeats the layer counted at the gate since the last
    /// call (and closes the kinds whose window is gone).
    pub(super) async fn take_gate_counts(&mut self) {
        let tallies = self.pipeline.settle_gate(&mut self.fleet);
        self.send_tallies(tallies).await;
    }

    /// While a flush waits, the batched fleet repeats go on every turn, not
    /// only each second: a threshold they cross is an edit to deliver
    /// before the flush is answered. (Every turn, not a wake-up of its own:
    /// with Redis away, a wake-up due at once would turn the loop into a
    /// spin until the flush's deadline.)
    pub(super) async fn sync_fleet_for_flush(&mut self) {
        if !self.flushes.is_empty() && self.fleet.has_pending_repeats() {
            self.fleet.flush_repeats().await;
        }
    }

    /// Sends the tallies of the thresholds the fleet's counts crossed.
    pub(super) async fn send_crossed_tallies(&mut self) {
        let tallies = self.pipeline.crossed_tallies(&mut self.fleet);
        self.send_tallies(tallies).await;
    }

    /// Closes every kind at the gate (with `shut`, for good); the tallies due.
    pub(super) fn close_gate(&mut self, shut: bool) -> Vec<Tally> {
        self.pipeline.close_gate(shut, &mut self.fleet)
    }

    /// Sends tallies, with the fleet's totals and originals when there is
    /// a fleet.
    pub(super) async fn send_tallies(&mut self, mut tallies: Vec<Tally>) {
        // What varies across fleet kinds' repeats goes to Redis with the
        // next sync (or before a tally below reads it back).
        self.fleet.add_spread(self.pipeline.take_fleet_spread());
        // Quiet here is not quiet everywhere: the fleet may hold a
        // resolution back.
        if let Some(quiet) = self.pipeline.quiet_period() {
            let held = self.fleet.hold_unquiet(&mut tallies, quiet).await;
            self.pipeline.postpone_resolutions(held);
        }
        if tallies.is_empty() {
            return;
        }
        self.fleet.complete(&mut tallies).await;
        let resolved = self.pipeline.remember_resolutions(&tallies);
        self.fleet.remember_resolutions(resolved).await;
        let messages = self.pipeline.render_tallies(tallies);
        self.enqueue(messages);
        let updates = self.pipeline.take_incident_updates();
        self.fleet.update_incidents(updates).await;
    }

    /// Reads the fleet's copy of the incidents this process holds, and
    /// edits their messages with what other processes added.
    pub(super) async fn refresh_incidents(&mut self) {
        for (chat, seen) in self.pipeline.held_incidents() {
            match self.fleet.read_incident(&chat, seen).await {
                Some(HeldIncident::NotMine) => self.pipeline.let_go_of_incident(&chat),
                Some(HeldIncident::Changed(version, members)) => {
                    let edits = self.pipeline.merge_incident(&chat, version, &members);
                    self.enqueue(edits);
                }
                Some(HeldIncident::Unchanged) | None => {}
            }
        }
    }
}
