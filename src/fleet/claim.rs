//! The fleet's answer about a record's fingerprint, which the pipeline's
//! dedup follows.

use std::time::Duration;

/// What the fleet (Redis) says about a record's fingerprint.
///
/// The fleet's answer is all the pipeline needs of it: the worker asks
/// [`Fleet::claim`](super::Fleet::claim) before the record reaches dedup.
/// `First`, `Repeat` and `Muted` come from the Redis store only; a build
/// without the `redis` feature never makes them.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// No fleet store, or it did not answer: decide in this process.
    Local,
    /// This process saw it first in the fleet: alert.
    First,
    /// Another process (or this one) alerted already: only count it. This
    /// is occurrence number `total` in the fleet; `crossed` if Redis' own
    /// count crossed a tally threshold with it (exactly one process sees
    /// each crossing, so that one edits the alert).
    Repeat { total: u64, crossed: bool },
    /// A chat member muted the kind (fleet-wide) for `remaining` still.
    Muted { remaining: Duration },
}
