//! [`Notices`]: the messages about the layer itself.

use crate::worker::WorkerConfig;

/// Notices about the service itself, sent silently.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Notices(pub(in crate::builder) WorkerConfig);

impl Notices {
    /// A "service v1.2 started on host H (env)" notice when the layer
    /// starts (once per deploy with a fleet). Default `false`.
    pub fn startup(mut self, on: bool) -> Self {
        self.0.startup_notice = on;
        self
    }

    /// A notice with the final counters at shutdown. Default `false`.
    pub fn shutdown(mut self, on: bool) -> Self {
        self.0.shutdown_notice = on;
        self
    }
}
