//! What varies across repeats: the values of an event's small fields
//! (`shard = 3`, `region = "eu"`), counted per kind, so that a tally can say
//! `shard: 3 ×40 · 7 ×2` and not only ×42.
//!
//! Repeats are counted at the gate without their fields, so their values
//! are counted there too, by combination: the probe hashes the values of up
//! to [`MAX_FIELDS`] fields into one word ([`Combination`]), and a block of
//! [`BLOCK`] entries beside the kind's slot counts each combination with one
//! more atomic increment. The repeat that brings a new combination claims an
//! entry and leaves a [`Sample`] of its values for the worker (the event is
//! read a second time, which happens at most [`BLOCK`] times per kind and
//! window); once the block is full, further combinations are counted as
//! "others". No repeat takes the queue for this, and memory is the table's
//! (1 024 blocks of 16 words, 136 KiB), whatever the values.
//!
//! Which fields take part is defined here once, for the probe, the sample
//! and the worker's reading of a record: not the message, instructions, a
//! bridged `log` record's origin, error or response fields (they make the
//! kind), ids by value (a run of five digits, a long hex token, anything
//! over 32 bytes, an integer from 10 000), floats or errors. Ids by name
//! (`user_id`, `uuid`) are counted but never kept ([`shown_field`]): the
//! probe reads names for every field of every repeat, so it reads only
//! their first letter where it can.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tracing_core::field::{Field, Visit};

use crate::record::{
    is_error_field, is_response_field, FieldValue, Fields, GateKey, CONTROL_PREFIX,
};
use crate::text::InlineText;

use super::hash::QuickHash;
use super::word::{add_one, take_count, COUNT_BITS, COUNT_MASK, OPEN_BIT};

/// Most fields of one event whose values are counted (the first ones that
/// take part, in the order the event records them).
pub(crate) const MAX_FIELDS: usize = 4;
/// Longest value counted, in bytes: a longer one is a text or an id.
const MAX_VALUE_BYTES: usize = 32;
/// Integers from here on are ids (`user = 48213`), not categories.
const MAX_INT: u64 = 10_000;
/// Combinations counted per kind (a power of two).
pub(crate) const BLOCK: usize = 16;
/// Samples waiting for the worker; past that, a new combination's counts
/// end up among the "others" (the worker takes samples every turn).
const MAX_SAMPLES: usize = 64;

/// Whether a field named `name` is counted: not the message, an
/// instruction, a bridged `log` record's origin, an error or a response
/// field (they make the kind). The probe reads this for every field of
/// every repeat, so it is settled by the first letter for most names; ids
/// by name are left out later, when values are kept ([`shown_field`]).
#[inline]
pub(crate) fn counts_field(name: &str) -> bool {
    match name.as_bytes().first() {
        Some(b'm' | b't' | b'l' | b'e' | b'c' | b's' | b'h') => {
            name != "message"
                && !name.starts_with(CONTROL_PREFIX)
                && !name.starts_with("log.")
                && !is_error_field(name)
                && !is_response_field(name)
        }
        Some(_) => true,
        None => false,
    }
}

/// Whether a counted field's values are kept and shown: not an id by name.
pub(crate) fn shown_field(name: &str) -> bool {
    !is_id_name(name)
}

/// `id`, `user_id`, `order.id`, `userId`, `userID`, `ids`, `uuid` — not
/// `paid` or `valid`.
fn is_id_name(name: &str) -> bool {
    let base = name.strip_suffix('s').unwrap_or(name).as_bytes();
    let [.., before, i, d] = base else {
        return base.eq_ignore_ascii_case(b"id");
    };
    if !matches!((i, d), (b'i' | b'I', b'd' | b'D')) {
        return false;
    }
    match before {
        b'_' | b'.' | b'-' => true,
        b'u' | b'U' => base.ends_with(b"uuid") || base.ends_with(b"UUID"),
        _ => *i == b'I' && before.is_ascii_lowercase(),
    }
}

/// An integer that is a category (a shard, an attempt, a port), not an id.
#[inline]
fn small_int(value: i128) -> Option<i64> {
    (value.unsigned_abs() < u128::from(MAX_INT)).then_some(value as i64)
}

/// A text that is a category (`eu-west-1`, `acme`), not an id or a text:
/// at most 32 bytes, no run of five digits, no hex token of eight or more
/// characters with a digit in it.
fn small_text(text: &str) -> Option<&str> {
    if text.len() > MAX_VALUE_BYTES {
        return None;
    }
    if text.len() < 5 {
        return Some(text); // too short for either
    }
    let (mut digits, mut hex, mut hex_digit) = (0, 0, false);
    for byte in text.bytes() {
        if byte.is_ascii_digit() {
            digits += 1;
            hex += 1;
            hex_digit = true;
        } else if byte.is_ascii_hexdigit() {
            digits = 0;
            hex += 1;
        } else {
            (digits, hex, hex_digit) = (0, 0, false);
        }
        if digits >= 5 || (hex >= 8 && hex_digit) {
            return None;
        }
    }
    Some(text)
}

/// One value counted: what a sample keeps and the worker shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SpreadValue {
    Int(i64),
    Bool(bool),
    Text(InlineText<MAX_VALUE_BYTES>),
}

impl fmt::Display for SpreadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpreadValue::Int(value) => write!(f, "{value}"),
            SpreadValue::Bool(value) => write!(f, "{value}"),
            SpreadValue::Text(text) => f.write_str(text.as_str()),
        }
    }
}

impl SpreadValue {
    fn debug(value: &dyn fmt::Debug) -> Option<SpreadValue> {
        let mut text = InlineText::<MAX_VALUE_BYTES>::default();
        write!(text, "{value:?}").ok()?;
        small_text(text.as_str())?;
        Some(SpreadValue::Text(text))
    }

    fn text(value: &str) -> Option<SpreadValue> {
        InlineText::new(small_text(value)?).map(SpreadValue::Text)
    }

    /// A record's field value, read as the probe reads it.
    fn of_field(value: &FieldValue) -> Option<SpreadValue> {
        match value {
            FieldValue::I64(v) => small_int(i128::from(*v)).map(SpreadValue::Int),
            FieldValue::U64(v) => small_int(i128::from(*v)).map(SpreadValue::Int),
            FieldValue::Bool(v) => Some(SpreadValue::Bool(*v)),
            FieldValue::Str(_) | FieldValue::Short(_) | FieldValue::Text(_) => {
                SpreadValue::text(value.as_text()?)
            }
            _ => None,
        }
    }
}

/// The values of an event's fields that take part, in order.
pub(crate) type Values = Vec<(String, SpreadValue)>;

/// The values of a record's fields that take part (the worker's reading,
/// for records that reach it).
pub(crate) fn values_of(fields: &Fields) -> Values {
    fields
        .iter()
        .filter(|(name, _)| counts_field(name))
        .filter_map(|(name, value)| Some((name.to_string(), SpreadValue::of_field(value)?)))
        .take(MAX_FIELDS)
        .collect()
}

/// The probe's side: the values of an event's fields hashed into one word,
/// without keeping them.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Combination {
    hash: QuickHash,
    fields: u8,
    /// Off: nothing is hashed (the option is off, or the gate keeps no table).
    on: bool,
}

impl Combination {
    pub(crate) fn new(on: bool) -> Self {
        Combination {
            on,
            ..Combination::default()
        }
    }

    /// The combination's word, if any field took part.
    pub(crate) fn word(&self) -> Option<u64> {
        (self.fields > 0).then(|| self.hash.finish() | 1)
    }

    #[inline]
    fn room(&self, name: &str) -> bool {
        self.on && usize::from(self.fields) < MAX_FIELDS && counts_field(name)
    }

    /// Mixes in one value: its kind, its field name's length and `low` (an
    /// integer, a boolean or a text's length) in one word; a text's bytes
    /// follow. `small_int` keeps magnitudes under 2^14: no overlap.
    #[inline]
    fn mix(&mut self, name: &str, kind: u64, low: u64) {
        let word = low ^ ((name.len() as u64 & 0xff) << 40) ^ (kind << 56);
        self.hash.write_u64(word);
        self.fields += 1;
    }

    pub(crate) fn unsigned(&mut self, name: &str, value: u64) {
        if value < MAX_INT && self.room(name) {
            self.mix(name, 1, value);
        }
    }

    pub(crate) fn signed(&mut self, name: &str, value: i64) {
        if value.unsigned_abs() < MAX_INT && self.room(name) {
            // Under 2^14 in magnitude: the low 32 bits tell it apart.
            self.mix(name, 1, value as u64 & 0xffff_ffff);
        }
    }

    pub(crate) fn bool(&mut self, name: &str, value: bool) {
        if self.room(name) {
            self.mix(name, 2, u64::from(value));
        }
    }

    pub(crate) fn text(&mut self, name: &str, value: &str) {
        if self.room(name) && small_text(value).is_some() {
            self.mix(name, 3, value.len() as u64);
            self.hash.write(value.as_bytes());
        }
    }

    pub(crate) fn debug(&mut self, name: &str, value: &dyn fmt::Debug) {
        if !self.room(name) {
            return;
        }
        if let Some(SpreadValue::Text(text)) = SpreadValue::debug(value) {
            self.mix(name, 3, text.as_str().len() as u64);
            self.hash.write(text.as_bytes());
        }
    }
}

/// A new combination's values, left by the repeat that claimed its entry.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) key: GateKey,
    /// The entry's tag (see [`SpreadTable::count`]).
    pub(crate) tag: u64,
    pub(crate) values: [Option<(&'static str, SpreadValue)>; MAX_FIELDS],
}

/// Reads an event's values as the probe hashed them (a second visit, only
/// for a new combination).
#[derive(Default)]
pub(crate) struct Sampler {
    values: [Option<(&'static str, SpreadValue)>; MAX_FIELDS],
    taken: usize,
}

impl Sampler {
    fn keep(&mut self, field: &Field, value: impl FnOnce() -> Option<SpreadValue>) {
        let name = field.name();
        if self.taken >= MAX_FIELDS || !counts_field(name) {
            return;
        }
        if let Some(value) = value() {
            self.values[self.taken] = Some((name, value));
            self.taken += 1;
        }
    }

    pub(crate) fn into_sample(self, key: GateKey, tag: u64) -> Sample {
        Sample {
            key,
            tag,
            values: self.values,
        }
    }
}

impl Visit for Sampler {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.keep(field, || small_int(i128::from(value)).map(SpreadValue::Int));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.keep(field, || small_int(i128::from(value)).map(SpreadValue::Int));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.keep(field, || Some(SpreadValue::Bool(value)));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.keep(field, || SpreadValue::text(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.keep(field, || SpreadValue::debug(value));
    }

    // Floats, 128-bit integers and errors take no part (as in the probe).
    fn record_f64(&mut self, _: &Field, _: f64) {}
    fn record_i128(&mut self, _: &Field, _: i128) {}
    fn record_u128(&mut self, _: &Field, _: u128) {}
    fn record_error(&mut self, _: &Field, _: &(dyn std::error::Error + 'static)) {}
}

/// The entries of every slot's block, shared by the layer (counts, claims)
/// and the worker (takes, clears), with the samples in between.
#[derive(Debug)]
pub(crate) struct SpreadTable {
    /// `BLOCK` entries per slot: a tag (upper bits) and a count (lower
    /// [`COUNT_BITS`]), as in the slots themselves.
    entries: Box<[AtomicU64]>,
    /// Per slot: repeats whose combination found no entry.
    others: Box<[AtomicU64]>,
    samples: Mutex<Vec<Sample>>,
}

/// What [`SpreadTable::take`] and [`SpreadTable::clear`] found in a block:
/// counts per entry tag, and the others.
pub(crate) type BlockCounts = (Vec<(u64, u64)>, u64);

impl SpreadTable {
    pub(crate) fn new(slots: usize) -> Self {
        SpreadTable {
            entries: (0..slots * BLOCK).map(|_| AtomicU64::new(0)).collect(),
            others: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            samples: Mutex::new(Vec::new()),
        }
    }

    fn block(&self, slot: usize) -> &[AtomicU64] {
        self.entries
            .get(slot * BLOCK..(slot + 1) * BLOCK)
            .unwrap_or_default()
    }

    /// Layer: counts one repeat of `combination` in the block of the kind
    /// `key` holding `slot` (the repeat itself was counted there); the
    /// entry's tag if this repeat claimed it (the caller leaves a sample).
    pub(crate) fn count(&self, slot: usize, key: GateKey, combination: u64) -> Option<u64> {
        // One multiply carries every bit of the combination into the tag's
        // upper bits (the key is a hash already).
        let mixed = combination.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ key.0;
        let tag = (mixed & !COUNT_MASK) | OPEN_BIT;
        let (base, start) = (slot * BLOCK, (tag >> COUNT_BITS) as usize);
        for step in 0..BLOCK {
            let Some(entry) = self.entries.get(base + ((start + step) & (BLOCK - 1))) else {
                break;
            };
            let mut current = entry.load(Ordering::Relaxed);
            if current == 0 {
                match entry.compare_exchange(0, tag | 1, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return Some(tag),
                    Err(now) => current = now,
                }
            }
            if current & !COUNT_MASK == tag {
                if add_one(entry, tag, current) {
                    return None;
                }
                break; // a full count: among the others until taken
            }
        }
        if let Some(others) = self.others.get(slot) {
            others.fetch_add(1, Ordering::Relaxed);
        }
        None
    }

    /// Layer: leaves a new combination's values for the worker (dropped if
    /// too many wait: its counts then end among the others).
    pub(crate) fn leave(&self, sample: Sample) {
        if let Ok(mut samples) = self.samples.lock() {
            if samples.len() < MAX_SAMPLES {
                samples.push(sample);
            }
        }
    }

    /// Worker: the samples left since the last call.
    pub(crate) fn take_samples(&self) -> Vec<Sample> {
        match self.samples.lock() {
            Ok(mut samples) => std::mem::take(&mut *samples),
            Err(_) => Vec::new(),
        }
    }

    /// Worker: the counts of `slot`'s entries whose tag is `known`, and of
    /// its others, since the last take; the entries stay.
    pub(crate) fn take(&self, slot: usize, known: impl Fn(u64) -> bool) -> BlockCounts {
        let counts = self
            .block(slot)
            .iter()
            .filter_map(|entry| take_count(entry, &known))
            .collect();
        (counts, self.take_others(slot))
    }

    /// Worker: `slot`'s others since the last take.
    fn take_others(&self, slot: usize) -> u64 {
        self.others
            .get(slot)
            .map_or(0, |o| o.swap(0, Ordering::Relaxed))
    }

    /// Worker: empties `slot`'s block (its kind closed); every count left.
    pub(crate) fn clear(&self, slot: usize) -> BlockCounts {
        let counts = self
            .block(slot)
            .iter()
            .map(|entry| entry.swap(0, Ordering::Relaxed))
            .filter(|word| word & COUNT_MASK != 0)
            .map(|word| (word & !COUNT_MASK, word & COUNT_MASK))
            .collect();
        (counts, self.take_others(slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_texts_take_no_part() {
        for name in [
            "shard", "region", "attempt", "paid", "valid", "tenant", "kids", "d",
        ] {
            assert!(counts_field(name) && shown_field(name), "{name}");
        }
        for name in [
            "message",
            "user_id",
            "orderId",
            "id",
            "trace.id",
            "uuid",
            "userID",
            "ids",
            "order_ids",
            "ID",
            "error",
            "status",
            "telegram.level",
            "log.line",
        ] {
            assert!(!(counts_field(name) && shown_field(name)), "{name}");
        }
        assert_eq!(small_int(9_999), Some(9_999));
        assert_eq!(small_int(-3), Some(-3));
        assert_eq!(small_int(10_000), None);
        assert!(small_text("eu-west-1").is_some());
        assert!(small_text("10.0.0.12").is_some());
        for id in [
            "user-48213",
            "550e8400-e29b-41d4-a716-446655440000",
            "9f86d081884c",
            "a text that goes on for longer than a category would",
        ] {
            assert!(small_text(id).is_none(), "{id}");
        }
    }

    #[test]
    fn a_block_counts_combinations_then_others() {
        let table = SpreadTable::new(4);
        let key = GateKey(0x1234_5678_9abc_def0);
        let first = table.count(2, key, 11).expect("claimed");
        assert_eq!(table.count(2, key, 11), None, "counted");
        assert_eq!(table.count(2, key, 11), None);
        let mut claimed = vec![first];
        for combination in 100..100 + BLOCK as u64 - 1 {
            claimed.extend(table.count(2, key, combination));
        }
        assert_eq!(claimed.len(), BLOCK, "every entry claimed");
        assert_eq!(table.count(2, key, 999), None, "full: others");
        let (counts, others) = table.take(2, |tag| tag == first);
        assert_eq!((counts, others), (vec![(first, 3)], 1));
        let (counts, others) = table.clear(2);
        assert_eq!((counts.len(), others), (BLOCK - 1, 0), "the rest, unknown");
        assert_eq!(table.clear(2).0.len(), 0);
    }
}
