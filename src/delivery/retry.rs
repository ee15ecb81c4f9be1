//! How transient failures are retried: exponential backoff with full jitter,
//! bounded by a number of attempts and by a total time per message.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// Retry settings for transient failures (network errors, timeouts, 5xx).
///
/// The delay before retry *n* (1-based) is drawn uniformly from
/// `0..=min(max_delay, base_delay × 2ⁿ⁻¹)` ("full jitter"), so a fleet that
/// failed together does not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) base_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) budget: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 500 ms base, 30 s cap, 2 min per message.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            budget: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Attempts in total, the first one included (1 = no retry).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The backoff before the first retry (before jitter).
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest backoff between two attempts.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The longest time from a message's first attempt to its last.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.max_attempts == 0 {
            return Err(Error::invalid("retry.max_attempts", "0", "at least 1"));
        }
        if self.max_delay < self.base_delay {
            return Err(Error::invalid(
                "retry.max_delay",
                &format!("{:?}", self.max_delay),
                "a delay no shorter than retry.base_delay",
            ));
        }
        Ok(())
    }

    /// The jittered delay before retry number `retry` (1-based).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(random_below(nanos.saturating_add(1)))
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let local = 0u8;
    (nanos ^ (&local as *const u8 as u64).rotate_left(32)) | 1
}

/// A uniform-enough number in `0..bound` (xorshift64*); jitter needs no
/// cryptographic quality, only that processes do not agree.
fn random_below(bound: u64) -> u64 {
    if bound == 0 {
        return 0;
    }
    let next = RNG.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    });
    next % bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_under_an_exponential_ceiling() {
        let policy = RetryPolicy::default();
        for retry in 1..=10 {
            let ceiling =
                (Duration::from_millis(500) * (1 << (retry - 1))).min(Duration::from_secs(30));
            let delays: Vec<Duration> = (0..200).map(|_| policy.backoff(retry)).collect();
            assert!(delays.iter().all(|d| *d <= ceiling), "retry {retry}");
            let distinct: std::collections::HashSet<_> = delays.iter().collect();
            assert!(distinct.len() > 150, "jitter spreads retries");
        }
    }

    #[test]
    fn invalid_policies_are_rejected() {
        assert!(RetryPolicy::default().max_attempts(0).validate().is_err());
        let err = RetryPolicy::default()
            .max_delay(Duration::from_millis(1))
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("retry.max_delay"));
    }
}
