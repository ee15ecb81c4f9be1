//! What varies across a kind's repeats, as its tally shows it: for each
//! field whose values differ, the most frequent ones with their counts
//! (`shard: 3 ×40 · 7 ×2 · others ×5`).
//!
//! In: the values of the records that reach the worker, and the
//! combinations the repeat gate counted (`gate::KindSpread`). Out: the lines
//! of a tally, and the counts a fleet adds up in Redis (then a tally shows
//! the fleet's values, read back by `fleet::spread`).
//!
//! Bounded: per kind, [`MAX_FIELDS`] fields of [`MAX_VALUES`] values (a
//! small heavy-hitters sketch: a value that finds no room takes the place of
//! the least frequent one, whose count moves to "others"); at most
//! [`MAX_KINDS`] kinds, the oldest forgotten. A value is sanitized before it
//! is kept; an id by name (`user_id`) or a field the sanitizer calls
//! sensitive is not kept at all.

use std::collections::{HashMap, VecDeque};

use crate::gate::spread::{shown_field, Values};
use crate::gate::KindSpread;
use crate::render::tally::SpreadLine;
use crate::sanitize::Sanitizer;

/// Fields kept per kind.
const MAX_FIELDS: usize = 8;
/// Values kept per field.
const MAX_VALUES: usize = 8;
/// Kinds whose values are kept.
const MAX_KINDS: usize = 1_024;
/// Fields a tally shows.
const SHOWN_FIELDS: usize = 3;
/// Values a tally shows per field.
const SHOWN_VALUES: usize = 3;

/// One count for the fleet's store: the field, its value (`None`: others),
/// and how many.
pub(crate) type FleetCount = (String, Option<String>, u64);

/// The values of every kind's repeats in its current window.
#[derive(Debug, Default)]
pub(crate) struct Spreads {
    on: bool,
    kinds: HashMap<u64, KindCounts>,
    order: VecDeque<u64>,
    /// Counts of fleet kinds not yet handed to the fleet.
    fleet: HashMap<u64, Vec<FleetCount>>,
}

/// One kind's fields.
#[derive(Debug, Default, Clone)]
pub(crate) struct KindCounts {
    fields: Vec<FieldCounts>,
}

#[derive(Debug, Clone)]
struct FieldCounts {
    name: String,
    values: Vec<(String, u64)>,
    others: u64,
}

impl Spreads {
    pub(crate) fn new(on: bool) -> Self {
        Spreads {
            on,
            ..Spreads::default()
        }
    }

    /// A new window of `fingerprint` begins: its values start afresh (in a
    /// fleet, the claim that opened the window emptied the fleet's).
    pub(crate) fn restart(&mut self, fingerprint: u64) {
        self.kinds.remove(&fingerprint);
    }

    /// One record of `fingerprint` reached the worker with `values`.
    pub(crate) fn add_record(
        &mut self,
        fingerprint: u64,
        values: &Values,
        (fleet, sanitizer): (bool, &Sanitizer),
    ) {
        if !self.on || values.is_empty() {
            return;
        }
        let pairs: Vec<(String, String)> = values
            .iter()
            .map(|(name, value)| (name.clone(), value.to_string()))
            .collect();
        self.add(fingerprint, &pairs, 1, (fleet, sanitizer));
    }

    /// Repeats of `fingerprint` the gate counted, by combination.
    pub(crate) fn add_gate(
        &mut self,
        fingerprint: u64,
        spread: &KindSpread,
        (fleet, sanitizer): (bool, &Sanitizer),
    ) {
        if !self.on {
            return;
        }
        for (combo, n) in &spread.combos {
            self.add(fingerprint, combo, *n, (fleet, sanitizer));
        }
        if spread.others > 0 {
            let kind = self.kind(fingerprint);
            let mut counts = Vec::new();
            for field in &mut kind.fields {
                field.others += spread.others;
                counts.push((field.name.clone(), None, spread.others));
            }
            if fleet {
                self.fleet.entry(fingerprint).or_default().extend(counts);
            }
        }
    }

    fn add(
        &mut self,
        fingerprint: u64,
        pairs: &[(String, String)],
        n: u64,
        (fleet, sanitizer): (bool, &Sanitizer),
    ) {
        let mut counts = Vec::new();
        let kind = self.kind(fingerprint);
        for (name, raw) in pairs {
            if !shown_field(name) || sanitizer.is_sensitive_field(name) {
                continue;
            }
            let value = sanitizer.sanitize(raw).into_owned();
            if kind.add(name, &value, n) && fleet {
                counts.push((name.clone(), Some(value), n));
            }
        }
        if fleet && !counts.is_empty() {
            self.fleet.entry(fingerprint).or_default().extend(counts);
        }
    }

    fn kind(&mut self, fingerprint: u64) -> &mut KindCounts {
        if !self.kinds.contains_key(&fingerprint) {
            if self.order.len() >= MAX_KINDS {
                for old in self.order.drain(..MAX_KINDS / 2) {
                    self.kinds.remove(&old);
                }
            }
            self.order.push_back(fingerprint);
        }
        self.kinds.entry(fingerprint).or_default()
    }

    /// What `fingerprint`'s tally shows (nothing if no field varies).
    pub(crate) fn lines(&self, fingerprint: u64) -> Vec<SpreadLine> {
        if !self.on {
            return Vec::new();
        }
        self.kinds
            .get(&fingerprint)
            .map(KindCounts::lines)
            .unwrap_or_default()
    }

    /// The lines of a fleet's counts (read back from Redis).
    pub(crate) fn fleet_lines(&self, counts: &[FleetCount]) -> Vec<SpreadLine> {
        if !self.on {
            return Vec::new();
        }
        let mut kind = KindCounts::default();
        for (name, value, n) in counts {
            match value {
                Some(value) => {
                    kind.add(name, value, *n);
                }
                None => {
                    if let Some(field) = kind.field(name) {
                        field.others += n;
                    }
                }
            }
        }
        kind.lines()
    }

    /// The counts of fleet kinds since the last call, for the fleet's store.
    pub(crate) fn take_fleet(&mut self) -> Vec<(u64, Vec<FleetCount>)> {
        self.fleet.drain().collect()
    }
}

impl KindCounts {
    /// Counts `n` of `value` for the field `name`; `false` if the kind keeps
    /// no more fields.
    fn add(&mut self, name: &str, value: &str, n: u64) -> bool {
        let Some(field) = self.field(name) else {
            return false;
        };
        if let Some((_, count)) = field.values.iter_mut().find(|(known, _)| known == value) {
            *count += n;
        } else if field.values.len() < MAX_VALUES {
            field.values.push((value.to_owned(), n));
        } else {
            field.replace_least(value, n);
        }
        true
    }

    /// The field `name`, added if there is room.
    fn field(&mut self, name: &str) -> Option<&mut FieldCounts> {
        let at = match self.fields.iter().position(|field| field.name == name) {
            Some(at) => at,
            None if self.fields.len() < MAX_FIELDS => {
                self.fields.push(FieldCounts {
                    name: name.to_owned(),
                    values: Vec::new(),
                    others: 0,
                });
                self.fields.len() - 1
            }
            None => return None,
        };
        self.fields.get_mut(at)
    }

    fn lines(&self) -> Vec<SpreadLine> {
        self.fields
            .iter()
            .filter_map(FieldCounts::line)
            .take(SHOWN_FIELDS)
            .collect()
    }
}

impl FieldCounts {
    /// The sketch's step: the least frequent value gives its place (and
    /// its count, to "others") to a new one.
    fn replace_least(&mut self, value: &str, n: u64) {
        let least = self.values.iter_mut().min_by_key(|(_, count)| *count);
        if let Some(least) = least {
            if least.1 <= n {
                self.others += least.1;
                *least = (value.to_owned(), n);
                return;
            }
        }
        self.others += n;
    }

    /// The field's line, if its values vary and a few of them say most of
    /// it (a field where every repeat has its own value, a latency or a
    /// counter, says nothing).
    fn line(&self) -> Option<SpreadLine> {
        let total: u64 = self.values.iter().map(|(_, n)| n).sum::<u64>() + self.others;
        let distinct = self.values.len() + usize::from(self.others > 0);
        if distinct < 2 || total < 2 {
            return None;
        }
        let mut top: Vec<(String, u64)> = self.values.clone();
        // Stable: equal counts keep the order they were first seen in.
        top.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        top.truncate(SHOWN_VALUES);
        let shown: u64 = top.iter().map(|(_, n)| n).sum();
        if shown * 2 < total || top.first().is_some_and(|(_, n)| *n < 2) {
            return None;
        }
        Some(SpreadLine {
            field: self.name.clone(),
            top,
            others: total - shown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> KindCounts {
        let mut kind = KindCounts::default();
        for (value, n) in pairs {
            kind.add("shard", value, *n);
        }
        kind
    }

    #[test]
    fn a_field_that_varies_shows_its_top_values() {
        let lines = counts(&[("3", 39), ("7", 2), ("3", 1)]).lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].top, vec![("3".into(), 40), ("7".into(), 2)]);
        assert_eq!(lines[0].others, 0);
        assert!(counts(&[("3", 40)]).lines().is_empty(), "does not vary");
    }

    #[test]
    fn a_field_where_each_repeat_differs_says_nothing() {
        let each: Vec<(String, u64)> = (0..20).map(|i| (i.to_string(), 1)).collect();
        let pairs: Vec<(&str, u64)> = each.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        assert!(counts(&pairs).lines().is_empty());
    }

    #[test]
    fn the_sketch_keeps_the_frequent_values_and_counts_the_rest() {
        let mut pairs = vec![("3", 50), ("7", 20)];
        let rare: Vec<String> = (100..120).map(|i| i.to_string()).collect();
        pairs.extend(rare.iter().map(|v| (v.as_str(), 1)));
        let kind = counts(&pairs);
        let field = &kind.fields[0];
        assert_eq!(field.values.len(), MAX_VALUES);
        let total: u64 = field.values.iter().map(|(_, n)| n).sum::<u64>() + field.others;
        assert_eq!(total, 90, "nothing lost");
        let line = &kind.lines()[0];
        assert_eq!(&line.top[..2], &[("3".into(), 50), ("7".into(), 20)]);
        assert_eq!(line.others, 90 - 71);
    }
}
