//! The worker's side of what varies across repeats: which values each
//! entry of a kind's block stands for (learned from the layer's samples),
//! and the counts taken from the block, resolved to those values (see
//! [`spread`](super::spread) for the layer's side).

use std::collections::HashMap;
use std::sync::Arc;

use super::table::{GateKey, RepeatGate};

/// One combination's values: `(field name, value)`, as the event recorded
/// them (not sanitized yet: the pipeline sanitizes what it keeps).
pub(crate) type Combo = Arc<[(String, String)]>;

/// Most kinds whose combinations are remembered (past it, all are
/// forgotten; their counts then end among the others).
const MAX_KINDS: usize = 2_048;

/// The repeats of one kind counted at the gate, by combination of values.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct KindSpread {
    pub(crate) combos: Vec<(Combo, u64)>,
    /// Repeats whose combination is not known (the block was full, or its
    /// sample was lost).
    pub(crate) others: u64,
}

/// What each entry tag of each kind stands for.
#[derive(Debug, Default)]
pub(crate) struct Combinations {
    by_kind: HashMap<GateKey, HashMap<u64, Combo>>,
}

impl Combinations {
    /// Learns the combinations the layer sampled since the last call.
    pub(crate) fn learn(&mut self, gate: &RepeatGate) {
        let Some(spread) = &gate.spread else {
            return;
        };
        for sample in spread.take_samples() {
            if self.by_kind.len() >= MAX_KINDS && !self.by_kind.contains_key(&sample.key) {
                self.by_kind.clear();
            }
            let combo: Combo = sample
                .values
                .iter()
                .flatten()
                .map(|(name, value)| ((*name).to_owned(), value.to_string()))
                .collect();
            self.by_kind
                .entry(sample.key)
                .or_default()
                .insert(sample.tag, combo);
        }
    }

    /// The repeats of `key` counted by combination since the last take
    /// (a combination not learned yet stays counted in its entry).
    pub(crate) fn take(&self, gate: &RepeatGate, key: GateKey) -> KindSpread {
        let mut taken = KindSpread::default();
        let Some(spread) = &gate.spread else {
            return taken;
        };
        let known = self.by_kind.get(&key);
        let combo = |tag: u64| known.and_then(|known| known.get(&tag));
        for slot in gate.holders(key) {
            let (counts, others) = spread.take(slot, |tag| combo(tag).is_some());
            taken.others += others;
            taken.combos.extend(
                counts
                    .into_iter()
                    .filter_map(|(tag, n)| Some((Arc::clone(combo(tag)?), n))),
            );
        }
        taken
    }

    /// `key`'s kind was closed at `slots`: its blocks are emptied, every
    /// count left resolved (an unknown combination among the others), and
    /// its combinations forgotten.
    pub(crate) fn close(&mut self, gate: &RepeatGate, key: GateKey, slots: &[usize]) -> KindSpread {
        let known = self.by_kind.remove(&key).unwrap_or_default();
        let mut left = KindSpread::default();
        let Some(spread) = &gate.spread else {
            return left;
        };
        for &slot in slots {
            let (counts, others) = spread.clear(slot);
            left.others += others;
            for (tag, n) in counts {
                match known.get(&tag) {
                    Some(combo) => left.combos.push((Arc::clone(combo), n)),
                    None => left.others += n,
                }
            }
        }
        left
    }

    /// Forgets everything (the worker stops).
    pub(crate) fn clear(&mut self) {
        self.by_kind.clear();
    }
}
