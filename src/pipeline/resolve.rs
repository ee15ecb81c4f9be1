//! Resolving kinds in a fleet: a resolution the fleet held back (the kind
//! still occurs elsewhere, or Redis could not say) waits again.

use std::time::Duration;

use super::{Pipeline, Tally};

impl Pipeline {
    /// How long a kind must be quiet to be resolved (`None`: never).
    pub(crate) fn quiet_period(&self) -> Option<Duration> {
        self.config.dedup.quiet_period()
    }

    /// Resolutions the fleet held back, each with how long its kind has been
    /// quiet everywhere (`None`: unknown).
    pub(crate) fn postpone_resolutions(&mut self, held: Vec<(Tally, Option<Duration>)>) {
        let now = self.clock.now();
        for (tally, so_far) in held {
            self.dedup.postpone(tally, so_far, now);
        }
    }
}
