//! A bounded, mergeable latency histogram with log-scale buckets.
//!
//! Bucket `i` covers `[MIN × R^i, MIN × R^(i+1))` with `R = 1.08`; a
//! quantile is reported as the bucket's geometric middle, clamped to the
//! observed minimum and maximum, so its relative error is at most
//! `√R − 1 ≈ 3.9 %`. Durations from 1 µs to about 2 hours fit in 300 buckets;
//! longer ones land in the last. Two histograms merge by adding bucket counts,
//! which is what a fleet needs to combine its processes' digests.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The growth factor between bucket bounds.
const RATIO: f64 = 1.08;
/// The lower bound of bucket 0, in nanoseconds (1 µs).
const MIN_NANOS: f64 = 1_000.0;
/// The number of buckets.
const BUCKETS: u16 = 300;

/// Latency distribution of one key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Histogram {
    /// Sparse bucket counts (at most `BUCKETS` entries).
    buckets: BTreeMap<u16, u64>,
    count: u64,
    min_nanos: u64,
    max_nanos: u64,
}

impl Histogram {
    pub(crate) fn record(&mut self, value: Duration) {
        let nanos = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        *self.buckets.entry(bucket_of(nanos)).or_insert(0) += 1;
        if self.count == 0 || nanos < self.min_nanos {
            self.min_nanos = nanos;
        }
        self.max_nanos = self.max_nanos.max(nanos);
        self.count += 1;
    }

    /// Adds `other`'s observations to this one (the fleet digest merges).
    pub(crate) fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        for (bucket, count) in &other.buckets {
            *self.buckets.entry(*bucket).or_insert(0) += count;
        }
        if self.count == 0 || other.min_nanos < self.min_nanos {
            self.min_nanos = other.min_nanos;
        }
        self.max_nanos = self.max_nanos.max(other.max_nanos);
        self.count += other.count;
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    pub(crate) fn max(&self) -> Duration {
        Duration::from_nanos(self.max_nanos)
    }

    /// The `q`-quantile (`0.0..=1.0`), within ±3.9 %.
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        if rank >= self.count {
            return self.max();
        }
        if rank == 1 {
            return Duration::from_nanos(self.min_nanos);
        }
        let mut seen = 0;
        for (&bucket, &count) in &self.buckets {
            seen += count;
            if seen >= rank {
                if bucket == BUCKETS - 1 {
                    return self.max(); // the open-ended last bucket
                }
                let middle = MIN_NANOS * RATIO.powf(f64::from(bucket) + 0.5);
                let nanos = (middle as u64).clamp(self.min_nanos, self.max_nanos);
                return Duration::from_nanos(nanos);
            }
        }
        self.max()
    }
}

fn bucket_of(nanos: u64) -> u16 {
    if (nanos as f64) < MIN_NANOS {
        return 0;
    }
    let index = ((nanos as f64) / MIN_NANOS).ln() / RATIO.ln();
    (index.floor() as u64).min(u64::from(BUCKETS - 1)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: Duration, expected: Duration) -> bool {
        let (a, e) = (actual.as_secs_f64(), expected.as_secs_f64());
        (a - e).abs() <= e * 0.05
    }

    #[test]
    fn quantiles_are_within_five_percent() {
        let mut histogram = Histogram::default();
        for ms in 1..=1000 {
            histogram.record(Duration::from_millis(ms));
        }
        assert_eq!(histogram.count(), 1000);
        assert!(
            close(histogram.quantile(0.5), Duration::from_millis(500)),
            "{:?}",
            histogram.quantile(0.5)
        );
        assert!(
            close(histogram.quantile(0.95), Duration::from_millis(950)),
            "{:?}",
            histogram.quantile(0.95)
        );
        assert_eq!(histogram.max(), Duration::from_millis(1000));
        assert_eq!(histogram.quantile(0.0), Duration::from_millis(1));
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (
            Histogram::default(),
            Histogram::default(),
            Histogram::default(),
        );
        for ms in [3, 70, 900, 12_000] {
            a.record(Duration::from_millis(ms));
            all.record(Duration::from_millis(ms));
        }
        for ms in [1, 55, 55, 2_000_000] {
            b.record(Duration::from_millis(ms));
            all.record(Duration::from_millis(ms));
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert!(a.buckets.len() <= usize::from(BUCKETS));
    }

    #[test]
    fn extreme_values_stay_in_range() {
        let mut histogram = Histogram::default();
        histogram.record(Duration::ZERO);
        histogram.record(Duration::MAX);
        assert_eq!(histogram.quantile(1.0), Duration::from_nanos(u64::MAX));
        assert_eq!(histogram.quantile(0.0), Duration::ZERO);
    }
}
