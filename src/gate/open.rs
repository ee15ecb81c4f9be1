//! The worker's side of the gate: the kinds it opened, what their repeats
//! count towards, and the combinations of values counted beside them (see
//! [`table`](super::table) for the table both sides share).

use std::collections::HashMap;
use std::sync::Arc;

use crate::alert::AlertLevel;
use crate::chat::Target;

use super::combos::{Combinations, KindSpread};
use super::table::{GateKey, RepeatGate};

/// A kind of alert the worker opened the gate for: what its repeats count
/// towards.
#[derive(Debug, Clone)]
pub(crate) struct OpenKind {
    pub(crate) key: GateKey,
    pub(crate) fingerprint: u64,
    /// Counted towards the fleet's tally (Redis), not only this process's.
    pub(crate) fleet: bool,
    /// A kind a chat member muted: its repeats are the mute's (the digest's
    /// "muted ×N"), not the tally's.
    pub(crate) muted: bool,
    /// The sanitized title, level and destination, for threshold tallies.
    pub(crate) title: String,
    pub(crate) level: AlertLevel,
    pub(crate) target: Target,
}

/// The worker's side of the gate: which kinds it opened.
#[derive(Debug)]
pub(crate) struct OpenKinds {
    gate: Arc<RepeatGate>,
    kinds: HashMap<GateKey, OpenKind>,
    /// What the combinations counted in each kind's block stand for.
    combinations: Combinations,
    /// Once shut, nothing opens again (the worker is stopping).
    shut: bool,
}

impl OpenKinds {
    pub(crate) fn new(gate: Arc<RepeatGate>) -> Self {
        OpenKinds {
            gate,
            kinds: HashMap::new(),
            combinations: Combinations::default(),
            shut: false,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    pub(crate) fn kinds(&self) -> impl Iterator<Item = &OpenKind> {
        self.kinds.values()
    }

    /// Lets the layer count repeats of `kind` from now on (if its slot is free).
    pub(crate) fn open(&mut self, kind: OpenKind) {
        if self.shut || self.kinds.contains_key(&kind.key) {
            return;
        }
        if self.gate.open(kind.key) {
            self.kinds.insert(kind.key, kind);
        }
    }

    /// The repeats counted since the last call, per kind (only kinds with
    /// some), with their values; the kinds stay open.
    pub(crate) fn take_counts(&mut self) -> Vec<(OpenKind, u64, KindSpread)> {
        self.combinations.learn(&self.gate);
        self.kinds
            .values()
            .filter_map(|kind| {
                let repeats = self.gate.take(kind.key);
                let spread = self.combinations.take(&self.gate, kind.key);
                (repeats > 0).then(|| (kind.clone(), repeats, spread))
            })
            .collect()
    }

    /// Closes one kind; the repeats counted since the last take, with their
    /// values.
    pub(crate) fn close(&mut self, key: GateKey) -> Option<(OpenKind, u64, KindSpread)> {
        let kind = self.kinds.remove(&key)?;
        self.combinations.learn(&self.gate);
        let slots: Vec<usize> = self.gate.holders(key).collect();
        let repeats = self.gate.close(key);
        let spread = self.combinations.close(&self.gate, key, &slots);
        Some((kind, repeats, spread))
    }

    /// Closes every slot, opened or only reserved (the worker stops); the
    /// repeats no kind was settled for.
    pub(crate) fn sweep(&mut self) -> u64 {
        self.shut = true;
        self.kinds.clear();
        self.combinations.clear();
        self.gate.close_every_slot()
    }

    /// Closes every kind (the layer takes the ordinary path until the worker
    /// opens them again); with `shut`, for good.
    pub(crate) fn close_all(&mut self, shut: bool) -> Vec<(OpenKind, u64, KindSpread)> {
        self.shut |= shut;
        let keys: Vec<GateKey> = self.kinds.keys().copied().collect();
        keys.into_iter().filter_map(|key| self.close(key)).collect()
    }
}
