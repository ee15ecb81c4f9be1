//! [`Panics`]: the panic hook.

use std::time::Duration;

use crate::capture::PanicConfig;

/// The panic hook: every panic becomes a Critical alert (message, location,
/// thread name and backtrace), and the hook waits up to
/// [`flush_timeout`](Self::flush_timeout) for it to be delivered, so that a
/// panic that aborts the process still gets its alert out. The previous
/// hook still runs.
///
/// With reporting off, the hook is still installed if a [`Hooks`](super::Hooks)
/// function is set, only to keep those functions' panics (reported once per
/// window by the crate) from being printed once per record; every other
/// panic goes to the previous hook untouched.
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct Panics(pub(in crate::builder) PanicConfig);

impl Panics {
    /// Whether panics are reported. Default `true`.
    pub fn report(mut self, on: bool) -> Self {
        self.0.report = on;
        self
    }

    /// How long the hook waits for the alert to be delivered. Default 2 s.
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.0.flush_timeout = timeout;
        self
    }
}
