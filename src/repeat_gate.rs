//! The repeat gate: how the application's thread counts a repeat of an
//! alert that is already inside its dedup window without building a record.
//!
//! In a flood almost every event is a repeat. Capturing one (fields
//! formatted, spans cloned, a record queued for the worker) costs about a
//! microsecond on the calling thread, only for dedup to throw it away. The
//! worker knows which kinds of alert are inside their window: it opens a
//! slot for each here, and the layer turns a repeat into one atomic
//! increment. The worker takes the counts and tallies them as if the
//! records had come through the queue.
//!
//! A slot is one `AtomicU64`: the upper 40 bits tag the kind (its
//! [`GateKey`]), the lower 24 count repeats. The layer increments only with
//! a compare-and-swap against the tag it matched; the worker takes counts
//! with a compare-and-swap that keeps the tag, or a swap to zero that closes
//! the slot. Every increment is therefore attributed to exactly one kind:
//! none is lost, none counted twice. A full count, a closed slot or a
//! foreign tag makes the layer take the ordinary path.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::Metadata;

use crate::alert::AlertLevel;
use crate::record::CONTROL_PREFIX;
use crate::short_text::InlineText;

/// Slots in the table (a power of two). Kinds whose slot is taken by
/// another kind simply use the ordinary path.
const SLOTS: usize = 1024;

const COUNT_BITS: u32 = 24;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
/// Set in every tag, so that an open slot is never zero.
const OPEN_BIT: u64 = 1 << COUNT_BITS;

/// Identifies a kind of alert on the application's thread: the callsite,
/// the effective level and the normalised message (or the explicit
/// fingerprint). Everything the fleet fingerprint depends on goes in, so
/// one key always maps to one fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct GateKey(u64);

impl GateKey {
    fn slot(self) -> usize {
        // The mask keeps the value below SLOTS, so the cast cannot truncate.
        (self.0 & (SLOTS as u64 - 1)) as usize
    }

    fn tag(self) -> u64 {
        (self.0 & !COUNT_MASK) | OPEN_BIT
    }
}

/// The table shared by the layer (counts) and the worker (opens, takes,
/// closes).
#[derive(Debug)]
pub(crate) struct RepeatGate {
    slots: Box<[Slot]>,
}

/// One slot per cache line: threads counting different kinds do not slow
/// each other down (1024 slots make 64 KiB).
#[derive(Debug, Default)]
#[repr(align(64))]
struct Slot(AtomicU64);

impl Default for RepeatGate {
    fn default() -> Self {
        RepeatGate {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
        }
    }
}

impl RepeatGate {
    /// Whether `key`'s slot is open (a repeat would be counted).
    #[cfg(test)]
    fn is_open(&self, key: GateKey) -> bool {
        self.slots[key.slot()].0.load(Ordering::Relaxed) & !COUNT_MASK == key.tag()
    }

    /// Counts one repeat of `key` if its slot is open; `false` sends the
    /// event down the ordinary path.
    pub(crate) fn count(&self, key: GateKey) -> bool {
        let slot = &self.slots[key.slot()].0;
        let tag = key.tag();
        let mut current = slot.load(Ordering::Relaxed);
        loop {
            if current & !COUNT_MASK != tag || current & COUNT_MASK == COUNT_MASK {
                return false;
            }
            match slot.compare_exchange_weak(
                current,
                current + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
    }

    /// Worker: opens `key`'s slot; `false` if another kind holds it.
    pub(crate) fn open(&self, key: GateKey) -> bool {
        self.slots[key.slot()]
            .0
            .compare_exchange(0, key.tag(), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Worker: the repeats counted for `key` since the last take; the slot
    /// stays open.
    pub(crate) fn take(&self, key: GateKey) -> u64 {
        let slot = &self.slots[key.slot()].0;
        let tag = key.tag();
        let mut current = slot.load(Ordering::Relaxed);
        loop {
            if current & !COUNT_MASK != tag || current & COUNT_MASK == 0 {
                return 0;
            }
            match slot.compare_exchange_weak(current, tag, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return current & COUNT_MASK,
                Err(now) => current = now,
            }
        }
    }

    /// Worker: closes `key`'s slot; the repeats counted since the last take.
    pub(crate) fn close(&self, key: GateKey) -> u64 {
        let slot = &self.slots[key.slot()].0;
        let tag = key.tag();
        let mut current = slot.load(Ordering::Relaxed);
        loop {
            if current & !COUNT_MASK != tag {
                return 0;
            }
            match slot.compare_exchange_weak(current, 0, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return current & COUNT_MASK,
                Err(now) => current = now,
            }
        }
    }
}

/// A kind of alert the worker opened the gate for: what its repeats count
/// towards.
#[derive(Debug, Clone)]
pub(crate) struct OpenKind {
    pub(crate) key: GateKey,
    pub(crate) fingerprint: u64,
    /// Counted towards the fleet's tally (Redis), not only this process's.
    pub(crate) fleet: bool,
    /// The sanitized title, level and destination, for threshold tallies.
    pub(crate) title: String,
    pub(crate) level: AlertLevel,
    pub(crate) target: crate::route::Target,
}

/// The worker's side of the gate: which kinds it opened.
#[derive(Debug)]
pub(crate) struct OpenKinds {
    gate: Arc<RepeatGate>,
    kinds: HashMap<GateKey, OpenKind>,
    /// Once shut, nothing opens again (the worker is stopping).
    shut: bool,
}

impl OpenKinds {
    pub(crate) fn new(gate: Arc<RepeatGate>) -> Self {
        OpenKinds {
            gate,
            kinds: HashMap::new(),
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
    /// some); the kinds stay open.
    pub(crate) fn take_counts(&self) -> Vec<(OpenKind, u64)> {
        self.kinds
            .values()
            .filter_map(|kind| {
                let repeats = self.gate.take(kind.key);
                (repeats > 0).then(|| (kind.clone(), repeats))
            })
            .collect()
    }

    /// Closes one kind; the repeats counted since the last take.
    pub(crate) fn close(&mut self, key: GateKey) -> Option<(OpenKind, u64)> {
        let kind = self.kinds.remove(&key)?;
        let repeats = self.gate.close(key);
        Some((kind, repeats))
    }

    /// Closes every kind (the layer takes the ordinary path until the worker
    /// opens them again); with `shut`, for good.
    pub(crate) fn close_all(&mut self, shut: bool) -> Vec<(OpenKind, u64)> {
        self.shut |= shut;
        let keys: Vec<GateKey> = self.kinds.keys().copied().collect();
        keys.into_iter().filter_map(|key| self.close(key)).collect()
    }
}

/// What the layer reads from an event to compute its [`GateKey`], without
/// allocating: the message goes into a stack buffer.
#[derive(Default)]
pub(crate) struct GateProbe {
    /// The message, formatted on the stack (longer ones overflow).
    message: InlineText<255>,
    fingerprint: Option<u64>,
    level: Option<AlertLevel>,
    /// `telegram.skip = true` on the event itself.
    pub(crate) skip: bool,
    /// Something did not fit (a long message or fingerprint): no key.
    overflow: bool,
}

impl GateProbe {
    /// The level the record would get (an explicit `telegram.level` wins).
    pub(crate) fn level_override(&self) -> Option<AlertLevel> {
        self.level
    }

    /// The event's key, or `None` if the probe could not read it whole.
    pub(crate) fn key(
        &self,
        metadata: &'static Metadata<'static>,
        level: AlertLevel,
    ) -> Option<GateKey> {
        if self.overflow {
            return None;
        }
        let mut hash = QuickHash::default();
        // The callsite's identity: its metadata is a static, one per callsite.
        hash.write_u64(std::ptr::from_ref(metadata) as usize as u64);
        hash.write_u64(level as u64);
        match self.fingerprint {
            Some(explicit) => hash.write_u64(explicit),
            None => crate::fingerprint::normalized_bytes(self.message.as_bytes(), |piece| {
                hash.write(piece);
            }),
        }
        Some(GateKey(hash.finish()))
    }
}

impl GateProbe {
    fn set_message(&mut self, text: &str) {
        self.message.clear();
        if self.message.write_str(text).is_err() {
            self.overflow = true;
        }
    }

    /// A message or instruction recorded in a way the ordinary path turns
    /// into text differently: let it decide.
    fn unusual(&mut self, field: &Field) {
        let name = field.name();
        if name == "message" || (name.starts_with(CONTROL_PREFIX) && name != TITLE) {
            self.overflow = true;
        }
    }
}

/// The title does not take part in the fingerprint of an event.
const TITLE: &str = "telegram.title";

impl Visit for GateProbe {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.set_message(value),
            "telegram.fingerprint" => {
                let mut hash = QuickHash::default();
                hash.write(value.as_bytes());
                self.fingerprint = Some(hash.finish());
            }
            // As the ordinary path reads them: an unknown level is ignored.
            "telegram.level" => self.level = AlertLevel::parse(value),
            "telegram.skip" => self.skip |= value == "true",
            _ => {}
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "telegram.skip" => self.skip |= value,
            _ => self.unusual(field),
        }
    }

    fn record_f64(&mut self, field: &Field, _: f64) {
        self.unusual(field);
    }

    fn record_i64(&mut self, field: &Field, _: i64) {
        self.unusual(field);
    }

    fn record_u64(&mut self, field: &Field, _: u64) {
        self.unusual(field);
    }

    fn record_i128(&mut self, field: &Field, _: i128) {
        self.unusual(field);
    }

    fn record_u128(&mut self, field: &Field, _: u128) {
        self.unusual(field);
    }

    fn record_error(&mut self, field: &Field, _: &(dyn std::error::Error + 'static)) {
        self.unusual(field);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            // As the ordinary path formats it (`fmt::Arguments` for `error!("...")`).
            self.message.clear();
            if write!(self.message, "{value:?}").is_err() {
                self.overflow = true;
            }
        } else {
            self.unusual(field);
        }
    }
}

/// A fast multiply-rotate hash with a final avalanche (the slot index is
/// taken from the low bits). Process-local: keys never leave the process.
#[derive(Default)]
struct QuickHash(u64);

impl QuickHash {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn finish(&self) -> u64 {
        // splitmix64's finaliser: every input bit reaches the low bits.
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_go_to_the_open_kind_and_are_taken_once() {
        let gate = RepeatGate::default();
        let key = GateKey(0xdead_beef_0000_0007);
        assert!(!gate.count(key), "closed: the ordinary path");
        assert!(gate.open(key));
        assert!(gate.is_open(key));
        for _ in 0..5 {
            assert!(gate.count(key));
        }
        assert_eq!(gate.take(key), 5);
        assert_eq!(gate.take(key), 0);
        assert!(gate.count(key));
        assert_eq!(gate.close(key), 1);
        assert!(!gate.is_open(key));
        assert!(!gate.count(key));
    }

    #[test]
    fn another_kind_in_the_same_slot_is_not_counted() {
        let gate = RepeatGate::default();
        let one = GateKey(0x1111_0000_0000_0003);
        let other = GateKey(0x2222_0000_0000_0003);
        assert!(gate.open(one));
        assert!(!gate.open(other), "the slot is taken");
        assert!(!gate.count(other));
        assert_eq!(gate.take(other), 0);
        assert_eq!(gate.close(other), 0);
        assert!(gate.count(one));
        assert_eq!(gate.close(one), 1);
    }

    #[test]
    fn a_full_count_falls_back_to_the_ordinary_path() {
        let gate = RepeatGate::default();
        let key = GateKey(42);
        assert!(gate.open(key));
        gate.slots[key.slot()]
            .0
            .store(key.tag() | (COUNT_MASK - 1), Ordering::Relaxed);
        assert!(gate.count(key));
        assert!(!gate.count(key), "the count is full");
        assert_eq!(gate.take(key), COUNT_MASK);
        assert!(gate.count(key));
    }

    #[test]
    fn concurrent_counts_are_all_taken_exactly_once() {
        let gate = std::sync::Arc::new(RepeatGate::default());
        let key = GateKey(0xabcd_ef01_2345_6789);
        assert!(gate.open(key));
        let counters: Vec<_> = (0..4)
            .map(|_| {
                let gate = gate.clone();
                std::thread::spawn(move || (0..50_000).filter(|_| gate.count(key)).count() as u64)
            })
            .collect();
        let mut taken = 0;
        while !counters.iter().all(std::thread::JoinHandle::is_finished) {
            taken += gate.take(key);
        }
        let counted: u64 = counters.into_iter().map(|t| t.join().unwrap()).sum();
        taken += gate.close(key);
        assert_eq!(counted, 200_000);
        assert_eq!(taken, counted);
    }

    #[test]
    fn the_key_follows_the_normalised_message_level_and_fingerprint() {
        fn key(message: &str, level: AlertLevel, fingerprint: Option<u64>) -> Option<GateKey> {
            let mut probe = GateProbe::default();
            probe.set_message(message);
            probe.fingerprint = fingerprint;
            static CALLSITE: tracing_core::callsite::DefaultCallsite =
                tracing_core::callsite::DefaultCallsite::new(&META);
            static META: Metadata<'static> = tracing_core::metadata!(
                name: "event",
                target: "app",
                level: tracing_core::Level::ERROR,
                fields: &[],
                callsite: &CALLSITE,
                kind: tracing_core::metadata::Kind::EVENT,
            );
            probe.key(&META, level)
        }
        let e = AlertLevel::Error;
        assert_eq!(
            key("timeout after 130 ms", e, None),
            key("timeout after 4127 ms", e, None)
        );
        assert_ne!(
            key("payment failed", e, None),
            key("payment refused", e, None)
        );
        assert_ne!(
            key("payment failed", e, None),
            key("payment failed", AlertLevel::Critical, None)
        );
        assert_eq!(key("a", e, Some(7)), key("b", e, Some(7)));
        let long = "x".repeat(300);
        let mut probe = GateProbe::default();
        probe.set_message(&long);
        assert!(probe.overflow);
    }
}
