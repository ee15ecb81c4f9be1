//! The time source for pacing and retries.
//!
//! Production code uses the system clock (`tokio::time`). Tests can inject a
//! [`TestClock`] (feature `testing`) whose sleeps complete at once by moving
//! virtual time forward, so that a test of "20 messages a minute" takes
//! milliseconds, while HTTP still runs in real time. Shutdown and flush
//! deadlines always use real time: they bound how long the caller waits.

use std::time::Instant;

#[cfg(feature = "testing")]
use std::sync::{Arc, Mutex, PoisonError};

/// Where pacing and retry delays read the time.
#[derive(Debug, Clone, Default)]
pub(crate) enum Clock {
    /// Real time.
    #[default]
    System,
    /// Virtual time shared with a `MockTelegram`.
    #[cfg(feature = "testing")]
    Test(TestClock),
}

impl Clock {
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            #[cfg(feature = "testing")]
            Clock::Test(clock) => clock.now(),
        }
    }

    /// How much real time waiting `wait` on this clock takes.
    pub(crate) fn real_time(&self, wait: std::time::Duration) -> std::time::Duration {
        match self {
            Clock::System => wait,
            #[cfg(feature = "testing")]
            Clock::Test(_) => std::time::Duration::ZERO,
        }
    }

    /// Waits until `deadline` (virtual clocks jump there at once).
    pub(crate) async fn sleep_until(&self, deadline: Instant) {
        match self {
            Clock::System => {
                tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
            }
            #[cfg(feature = "testing")]
            Clock::Test(clock) => clock.advance_to(deadline),
        }
    }
}

/// A virtual clock for tests (feature `testing`).
///
/// Share one between [`Builder::clock`](crate::Builder::clock) and
/// [`MockTelegram::set_clock`](crate::testing::MockTelegram::set_clock): the
/// worker's pacing and retry waits then advance it instantly instead of
/// sleeping, and the mock stamps and rate-limits requests in the same
/// virtual time.
#[cfg(feature = "testing")]
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<Mutex<Instant>>,
}

#[cfg(feature = "testing")]
impl Default for TestClock {
    fn default() -> Self {
        TestClock::new()
    }
}

#[cfg(feature = "testing")]
impl TestClock {
    /// A clock that starts at the current real instant and only moves when
    /// advanced.
    pub fn new() -> Self {
        TestClock {
            now: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// The current virtual instant.
    pub fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Moves the clock forward to `to` (never backwards).
    pub fn advance_to(&self, to: Instant) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        if to > *now {
            *now = to;
        }
    }
}
