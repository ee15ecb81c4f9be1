//! The fleet's watch, from the worker: the presence refreshed on time, the
//! processes it claimed reported, the census added to the digests this
//! process sends (see `fleet::watch`).

use std::time::SystemTime;

use crate::pipeline::ClosedWindow;

use super::{hostname, Worker};

impl Worker {
    /// Refreshes this process's presence, with its last alert, and reports
    /// the processes it claimed as vanished.
    pub(super) async fn refresh_presence(&mut self) {
        if let Some((at, title)) = self.pipeline.last_alert() {
            self.fleet.note_alert(title, *at);
        }
        let news = self.fleet.refresh_presence().await;
        for vanished in &news.vanished {
            let notice = self.pipeline.vanished_notice(vanished);
            self.enqueue(notice);
        }
        if news.back_after_lapse {
            let notice = self.pipeline.back_notice(&hostname());
            self.enqueue(notice);
        }
    }

    /// A digest this process sends names the fleet's processes in its
    /// window.
    pub(super) async fn add_census(&mut self, window: &mut ClosedWindow) {
        let seconds = window.period.as_secs().max(1);
        let from = window.id.saturating_mul(seconds);
        let to = from.saturating_add(seconds);
        // A partial window at shutdown ends now.
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(to, |d| d.as_secs() + 1);
        if let Some(census) = self.fleet.census(from, to.min(now)).await {
            window.data.set_census(census);
        }
    }
}
