//! Settling: the repeats counted at the gate, taken by the worker.
//!
//! When dedup admits a new kind of alert (or learns that the fleet covers
//! it), it opens the kind at the gate ([`table`](super::table)), and the
//! layer counts its repeats there. Here the counts are taken and handed to
//! the stage that settles them ([`Settle`], the pipeline's dedup) as the
//! same number of repeat records would have been; kinds whose window is
//! gone are closed. For a fleet kind, the fleet's side is asked through
//! [`SharedRepeats`] (implemented by `fleet::Fleet`), so that neither this
//! folder nor the pipeline needs the fleet's code.

use std::collections::{HashMap, VecDeque};

use super::combos::KindSpread;
use super::open::{OpenKind, OpenKinds};
use super::table::GateKey;
use crate::alert::AlertLevel;
use crate::chat::Target;

/// What the fleet knows about repeats of kinds another process alerted.
pub(crate) trait SharedRepeats {
    /// Adds `repeats` of a fleet kind; the fleet's total after them (`None`
    /// without a fleet).
    fn add_repeats(&mut self, fingerprint: u64, repeats: u64) -> Option<u64>;

    /// Whether another process's alert still covers `fingerprint`.
    fn covers(&self, fingerprint: u64) -> bool;

    /// The tally thresholds this process's counts crossed in the fleet's
    /// store since the last call (exactly one process sees each): the
    /// fingerprint and the fleet's total.
    fn take_crossed(&mut self) -> Vec<(u64, u64)>;
}

/// The headings of kinds another process alerted, for the tallies this
/// process sends when its counts cross a threshold. Bounded: past
/// [`MAX_FLEET_HEADINGS`] the oldest half is forgotten (a crossing of a
/// forgotten kind is left to the holder's final tally).
#[derive(Debug, Default)]
pub(crate) struct FleetHeadings {
    headings: HashMap<u64, (String, AlertLevel, Target)>,
    order: VecDeque<u64>,
}

/// Most fleet kinds whose heading is kept.
const MAX_FLEET_HEADINGS: usize = 10_000;

impl FleetHeadings {
    /// Remembers the heading of a fleet kind (once).
    pub(crate) fn remember(
        &mut self,
        fingerprint: u64,
        (title, level, target): (&str, AlertLevel, &Target),
    ) {
        if self.headings.contains_key(&fingerprint) {
            return;
        }
        if self.order.len() >= MAX_FLEET_HEADINGS {
            for old in self.order.drain(..MAX_FLEET_HEADINGS / 2) {
                self.headings.remove(&old);
            }
        }
        self.headings
            .insert(fingerprint, (title.to_owned(), level, target.clone()));
        self.order.push_back(fingerprint);
    }

    pub(crate) fn get(&self, fingerprint: u64) -> Option<(&str, AlertLevel, &Target)> {
        self.headings
            .get(&fingerprint)
            .map(|(title, level, target)| (title.as_str(), *level, target))
    }
}

/// The stage that settles the repeats counted at the gate (the pipeline's
/// dedup): what a count means for its tallies, and whether a kind's window
/// is gone.
pub(crate) trait Settle {
    /// What settling may produce: a tally to send.
    type Tally;

    /// The kinds open at the gate.
    fn open_kinds(&self) -> &OpenKinds;

    /// The kinds open at the gate, to take counts from or close.
    fn open_kinds_mut(&mut self) -> &mut OpenKinds;

    /// Counts `repeats` of `kind` as that many repeat records would have
    /// been (their values by combination in `spread`); the tally due, if a
    /// threshold was crossed.
    fn settle(
        &mut self,
        kind: &OpenKind,
        counted: (u64, KindSpread),
        fleet: &mut impl SharedRepeats,
    ) -> Option<Self::Tally>;

    /// Whether `kind`'s window is gone here (evicted, no longer covered by
    /// the fleet, muted or unmuted since it opened): it is closed.
    fn is_stale(&self, kind: &OpenKind, fleet: &impl SharedRepeats) -> bool;
}

/// Settles the repeats counted since the last call, and closes the kinds
/// whose window is gone; the tallies due.
pub(crate) fn settle_counts<S: Settle>(
    stage: &mut S,
    fleet: &mut impl SharedRepeats,
) -> Vec<S::Tally> {
    let mut tallies = Vec::new();
    for (kind, repeats, spread) in stage.open_kinds_mut().take_counts() {
        tallies.extend(stage.settle(&kind, (repeats, spread), fleet));
    }
    for key in stale_kinds(stage, fleet) {
        if let Some((kind, repeats, spread)) = stage.open_kinds_mut().close(key) {
            tallies.extend(stage.settle(&kind, (repeats, spread), fleet));
        }
    }
    tallies
}

/// Closes every kind (each tick, so that no count outlives its window;
/// with `shut`, for good), settling what was counted; the tallies due.
pub(crate) fn close_all<S: Settle>(
    stage: &mut S,
    shut: bool,
    fleet: &mut impl SharedRepeats,
) -> Vec<S::Tally> {
    let mut tallies = Vec::new();
    for (kind, repeats, spread) in stage.open_kinds_mut().close_all(shut) {
        tallies.extend(stage.settle(&kind, (repeats, spread), fleet));
    }
    tallies
}

fn stale_kinds<S: Settle>(stage: &S, fleet: &impl SharedRepeats) -> Vec<GateKey> {
    stage
        .open_kinds()
        .kinds()
        .filter(|kind| stage.is_stale(kind, fleet))
        .map(|kind| kind.key)
        .collect()
}
