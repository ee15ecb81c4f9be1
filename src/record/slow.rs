//! What a slow span measured, and the slow spans inside it.

use std::time::Duration;

/// How many slow descendants an alert lists.
pub(crate) const MAX_SLOW_INSIDE: usize = 3;

/// How long a slow span took, and against what threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlowSpan {
    /// From creation to close.
    pub(crate) total: Duration,
    /// Time spent entered (doing work rather than waiting).
    pub(crate) busy: Duration,
    /// The threshold it exceeded.
    pub(crate) threshold: Duration,
    /// Whether `busy` (rather than `total`) was judged.
    pub(crate) judged_busy: bool,
    /// Part of a unit of work that has (or will have) its own alert: counted
    /// in the digest only.
    pub(crate) nested: bool,
    /// The slowest judged spans inside it that were slow too, slowest first.
    pub(crate) inside: Vec<SlowChild>,
}

impl SlowSpan {
    /// The duration that was judged.
    pub(crate) fn measured(&self) -> Duration {
        if self.judged_busy {
            self.busy
        } else {
            self.total
        }
    }
}

/// A slow span inside another one, as the outer one's alert lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlowChild {
    /// The span's name.
    pub(crate) name: &'static str,
    /// The duration that was judged.
    pub(crate) took: Duration,
}

/// Adds `child` to `slowest` (slowest first), keeping at most
/// [`MAX_SLOW_INSIDE`].
pub(crate) fn keep_slowest(slowest: &mut Vec<SlowChild>, child: SlowChild) {
    let at = slowest.partition_point(|kept| kept.took >= child.took);
    if at < MAX_SLOW_INSIDE {
        slowest.insert(at, child);
        slowest.truncate(MAX_SLOW_INSIDE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_slowest_are_kept_slowest_first() {
        let mut slowest = Vec::new();
        for (name, ms) in [("a", 400), ("b", 900), ("c", 100), ("d", 500), ("e", 450)] {
            let took = Duration::from_millis(ms);
            keep_slowest(&mut slowest, SlowChild { name, took });
        }
        let names: Vec<_> = slowest.iter().map(|c| c.name).collect();
        assert_eq!(names, ["b", "d", "e"]);
    }
}
