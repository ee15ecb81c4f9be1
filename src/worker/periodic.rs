//! Periodic work: dedup windows closing (their tallies), digest windows
//! closing (shared with the fleet, or sent), and fleet digests to lead.

use std::time::Instant;

use crate::pipeline::ClosedWindow;

use super::Worker;

impl Worker {
    /// The work that is due: tallies of closed dedup windows, the digest
    /// when its window closed, and the fleet digests this process may lead.
    pub(super) async fn tick(&mut self) {
        // Windows may close now: their counts go in first, and the kinds
        // still open are opened again by their next ordinary record.
        let mut tallies = self.close_gate(false);
        let ticked = self.pipeline.tick();
        if let Some(window) = ticked.window {
            self.share_window(window).await;
        }
        tallies.extend(ticked.tallies);
        self.send_tallies(tallies).await;
        self.send_fleet_digests(false).await;
    }

    /// When the next window closes, fleet digests to lead included.
    pub(super) fn next_window(&self) -> Instant {
        let local = self.pipeline.next_wake();
        self.fleet
            .next_collect()
            .map_or(local, |collect| local.min(collect))
    }

    /// Shares a closed digest window with the fleet; sends it as this
    /// process's own digest if nobody else will (no fleet, or Redis away).
    pub(super) async fn share_window(&mut self, window: ClosedWindow) {
        let now = self.courier.clock().now();
        if let Some(mut window) = self.fleet.share_window(window, now).await {
            self.add_census(&mut window).await;
            let messages = self.pipeline.render_window(window);
            self.enqueue(messages);
        }
    }

    /// Sends the merged fleet digests this process leads that are due (or
    /// all of them, at shutdown).
    pub(super) async fn send_fleet_digests(&mut self, all: bool) {
        let now = self.courier.clock().now();
        for mut window in self.fleet.collect_digests(now, all).await {
            self.add_census(&mut window).await;
            let messages = self.pipeline.render_window(window);
            self.enqueue(messages);
        }
    }
}
