//! [`Storms`]: what the layer does when one problem floods it.

use std::time::Duration;

use crate::gate::FoldConfig;
use crate::pipeline::IncidentConfig;

/// Storms: a callsite that fails with many different messages is folded
/// into one alert, and many new problems at once make one incident message.
///
/// **Folding.** A callsite with user input in its text
/// (`"import rejected for user {user}: …"`) makes a new alert per text.
/// Such messages defeat deduplication: each is a new fingerprint, a new
/// record through the queue and a new alert, and a storm of them fills the
/// queue and drowns every other failure. When one callsite (its level,
/// location and, for a bridged `log` record, its origin) produces more than
/// [`fold_after`](Storms::fold_after) different fingerprints within
/// [`fold_window`](Storms::fold_window), its further variants become one
/// alert — "Many variants: …" with a few of them as examples — tallied and
/// edited like any alert ("×N … · ≈V different messages"), fleet-wide with
/// Redis. The decision is made on the application's thread with a few
/// atomic operations, so a storm never reaches the queue. The fold lasts
/// one dedup window.
///
/// Response events (tower-http's `on_failure`, anything with a status
/// field) are never folded: each route and status stays its own alert.
/// Folding needs the repeat gate: it is off when deduplication is off or a
/// `before_send` hook must see every record.
///
/// **Incidents.** In an outage many components fail together, each from
/// its own callsite. When more than [`incident_after`](Storms::incident_after)
/// new kinds alert to one chat within
/// [`incident_window`](Storms::incident_window) of each other, the next one
/// opens an incident: one notifying message that names every kind of the
/// outbreak with its count, edited as more kinds join (each within the
/// window of the last) and as they repeat. Kinds that join are not sent on
/// their own (their records count as deduplicated); Critical alerts
/// (panics) and manual alerts always are. With Redis the fleet decides
/// together: one incident for the fleet, sent and edited by the process
/// that opened it, the others adding their problems and counts to it.
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct Storms {
    pub(in crate::builder) fold: FoldConfig,
    pub(in crate::builder) incidents: IncidentConfig,
}

impl Storms {
    /// How many different messages one callsite may alert on its own
    /// within [`fold_window`](Storms::fold_window) before the next folds it
    /// (env `ALERT_FOLD_AFTER_VARIANTS`). Zero turns folding off. Default 3.
    pub fn fold_after(mut self, variants: u32) -> Self {
        self.fold.after = variants;
        self
    }

    /// The window in which a callsite's different messages are counted
    /// (env `ALERT_FOLD_WINDOW_SECONDS`). Default 60 s.
    pub fn fold_window(mut self, window: Duration) -> Self {
        self.fold.window = window;
        self
    }

    /// How many new kinds may alert on their own to one chat within
    /// [`incident_window`](Storms::incident_window) before the next opens an
    /// incident (env `ALERT_INCIDENT_AFTER_KINDS`). Zero turns incidents
    /// off. Default 2.
    pub fn incident_after(mut self, kinds: u32) -> Self {
        self.incidents.after = kinds;
        self
    }

    /// How close together new kinds must come to make (and keep growing)
    /// an incident (env `ALERT_INCIDENT_WINDOW_SECONDS`). Default 30 s.
    pub fn incident_window(mut self, window: Duration) -> Self {
        self.incidents.window = window;
        self
    }
}
