//! Escalation's deadlines (interactive alerts): an alert still waiting when
//! its deadline passes is escalated — once in the whole fleet, and not if a
//! chat member acknowledged or muted it in another process meanwhile.

use std::time::Instant;

use super::schedule::Due;
use super::Worker;

impl Worker {
    pub(super) fn escalation_due(&self, _: Instant) -> Option<Due> {
        self.pipeline.next_escalation().map(Due::Clock)
    }

    /// Escalates the alerts whose deadline passed.
    pub(super) async fn escalate(&mut self) {
        for waiting in self.pipeline.escalations_due() {
            if !self.fleet.claim_escalation(waiting.fingerprint).await {
                continue; // acknowledged elsewhere, or escalated already
            }
            let messages = self.pipeline.render_escalation(&waiting);
            self.enqueue(messages);
        }
    }
}
