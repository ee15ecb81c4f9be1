//! [`Storms`]: what the layer does when one problem floods it.

use std::time::Duration;

use crate::gate::FoldConfig;

/// Storms: a callsite that fails with many different messages (user input
/// in the text: `"import rejected for user {user}: …"`) is folded into one
/// alert.
///
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
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct Storms(pub(in crate::builder) FoldConfig);

impl Storms {
    /// How many different messages one callsite may alert on its own
    /// within [`fold_window`](Storms::fold_window) before the next folds it
    /// (env `ALERT_FOLD_AFTER_VARIANTS`). Zero turns folding off. Default 3.
    pub fn fold_after(mut self, variants: u32) -> Self {
        self.0.after = variants;
        self
    }

    /// The window in which a callsite's different messages are counted
    /// (env `ALERT_FOLD_WINDOW_SECONDS`). Default 60 s.
    pub fn fold_window(mut self, window: Duration) -> Self {
        self.0.window = window;
        self
    }
}
