//! The time source for span timing, pacing, retries and periodic windows.
//!
//! Production code uses the system clock (`Instant::now`, `tokio::time`).
//! Tests can inject a [`TestClock`] (feature `testing`): spans are then timed
//! in virtual time that the test moves with [`TestClock::advance`], and the
//! worker's waits come in two kinds:
//!
//! - [`Clock::sleep_until`] is for work that is waiting (pacing, backoff,
//!   `retry_after`): on a test clock it jumps there at once, so "20 messages
//!   a minute" takes milliseconds;
//! - [`Clock::wait_until`] is for periodic deadlines (digest windows): on a
//!   test clock it waits until the test advances time past it, so a digest
//!   never fires by itself while the test is still producing records.
//!
//! Shutdown and flush deadlines always use real time: they bound how long
//! the caller waits.

use std::time::Instant;

#[cfg(feature = "testing")]
use std::sync::Arc;

/// Where timing, pacing and windows read the time.
#[derive(Debug, Clone, Default)]
pub(crate) enum Clock {
    /// Real time.
    #[default]
    System,
    /// Virtual time shared with the test (and a `MockTelegram`).
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

    /// The wall-clock time now (virtual clocks: their start plus the
    /// virtual time elapsed), for aligning digest windows across a fleet.
    pub(crate) fn wall(&self) -> std::time::SystemTime {
        match self {
            Clock::System => std::time::SystemTime::now(),
            #[cfg(feature = "testing")]
            Clock::Test(clock) => clock.wall(),
        }
    }

    /// How much real time waiting `wait` on this clock may take.
    pub(crate) fn real_time(&self, wait: std::time::Duration) -> std::time::Duration {
        match self {
            Clock::System => wait,
            #[cfg(feature = "testing")]
            Clock::Test(_) => std::time::Duration::ZERO,
        }
    }

    /// Waits until `deadline` on behalf of pending work (virtual clocks jump
    /// there at once).
    pub(crate) async fn sleep_until(&self, deadline: Instant) {
        match self {
            Clock::System => {
                tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
            }
            #[cfg(feature = "testing")]
            Clock::Test(clock) => clock.advance_to(deadline),
        }
    }

    /// Waits until time reaches `deadline` by itself (virtual clocks: until
    /// the test advances them that far).
    pub(crate) async fn wait_until(&self, deadline: Instant) {
        match self {
            Clock::System => {
                tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
            }
            #[cfg(feature = "testing")]
            Clock::Test(clock) => {
                let mut changes = clock.now.subscribe();
                // An error means the clock is gone: nothing will ever advance it.
                if changes.wait_for(|now| *now >= deadline).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// A virtual clock for tests (feature `testing`).
///
/// Share one between [`Builder::clock`](crate::Builder::clock) and
/// [`MockTelegram::set_clock`](crate::testing::MockTelegram::set_clock).
/// Spans are then timed in virtual time (advance the clock inside a span to
/// make it "take" that long), pacing and retry waits complete instantly by
/// moving the clock forward, digest windows close when the test advances the
/// clock past them, and the mock stamps and rate-limits requests in the same
/// time.
#[cfg(feature = "testing")]
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<tokio::sync::watch::Sender<Instant>>,
    /// The real instant and wall time the clock started at.
    origin: (Instant, std::time::SystemTime),
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
    ///
    /// Its wall time starts at the beginning of the current UTC hour, not at
    /// the real wall time: digest windows are aligned to the wall clock, so
    /// a test that started a few seconds before a window boundary would see
    /// that window close early. Every window length that divides an hour
    /// therefore starts fresh when the clock does. Use
    /// [`TestClock::starting_at`] to pick the wall time yourself.
    pub fn new() -> Self {
        TestClock::starting_at(start_of_hour(std::time::SystemTime::now()))
    }

    /// A clock whose virtual wall time starts at `wall` (and whose instant
    /// starts at the current real instant).
    pub fn starting_at(wall: std::time::SystemTime) -> Self {
        let origin = (Instant::now(), wall);
        TestClock {
            now: Arc::new(tokio::sync::watch::Sender::new(origin.0)),
            origin,
        }
    }

    /// The virtual wall-clock time.
    pub fn wall(&self) -> std::time::SystemTime {
        self.origin.1 + self.now().saturating_duration_since(self.origin.0)
    }

    /// The current virtual instant.
    pub fn now(&self) -> Instant {
        *self.now.borrow()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        self.now.send_modify(|now| *now += by);
    }

    /// Moves the clock forward to `to` (never backwards).
    pub fn advance_to(&self, to: Instant) {
        self.now.send_if_modified(|now| {
            if to > *now {
                *now = to;
                true
            } else {
                false
            }
        });
    }
}

/// `wall` rounded down to a whole UTC hour (times before 1970 are kept).
#[cfg(feature = "testing")]
fn start_of_hour(wall: std::time::SystemTime) -> std::time::SystemTime {
    const HOUR: u64 = 3600;
    match wall.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => {
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(since.as_secs() / HOUR * HOUR)
        }
        Err(_) => wall,
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::TestClock;

    #[test]
    fn a_new_test_clock_starts_on_a_whole_hour_so_windows_start_fresh() {
        let clock = TestClock::new();
        let since = clock.wall().duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(since.as_secs() % 3600, 0);
        assert_eq!(since.subsec_nanos(), 0);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(
            clock.wall().duration_since(UNIX_EPOCH).unwrap(),
            since + Duration::from_millis(1500)
        );
    }
}
