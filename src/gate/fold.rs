//! Folding: when one callsite produces many different messages, its
//! variants become one kind of alert, decided on the application's thread.
//!
//! `error!("import rejected for user {user}: column {column} …")` puts user
//! input in the message: no normaliser can fold it, so every occurrence is
//! a new fingerprint, a new record through the queue and a new alert. In a
//! storm that fills the queue, drowns every other failure and shows the
//! chat twenty random variants of one problem.
//!
//! A *family* is the callsite (its static metadata), the effective level
//! and, for a bridged `log` record, its real origin — what a record's
//! fingerprint has besides the message and its error fields. A response
//! event (tower-http's `on_failure`) never gets here: which request it
//! answered is not known on this thread, so those stay apart by route and
//! status.
//!
//! Each family that missed the repeat gate holds a [`FamilySlot`]: the
//! distinct variants it produced in the current window. The first
//! `fold_after` variants in a window are alerts of their own; the next one
//! *trips* the fold: it goes to the worker as the family's alert, and from
//! then on every new variant is counted at the repeat gate under the
//! family's key (one atomic increment), with its variant noted in a small
//! HyperLogLog sketch so the chat can say how many distinct messages there
//! were. The worker releases the family when the fold's dedup window ends.
//!
//! Nothing here allocates or waits: slots are atomics in a fixed table; a
//! family that finds no slot simply is not folded.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::record::{FamilyKey, GateKey};

/// Family slots in the table (a power of two).
const SLOTS: usize = 256;
/// `log2(SLOTS)`.
const SLOT_BITS: u32 = 8;
/// Variant keys remembered per family, so that a variant whose gate slot
/// was closed (a tick) or taken is not counted as new again.
const RECENT: usize = 4;
/// Registers of the variant sketch (a power of two): about 6.5 % error.
const REGISTERS: usize = 256;
/// `log2(REGISTERS)`.
const REGISTER_BITS: u32 = 8;

/// When a callsite folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FoldConfig {
    /// Distinct variants a family may alert on its own in one window; the
    /// next one folds it (0: never fold).
    pub(crate) after: u32,
    /// The window variants are counted in.
    pub(crate) window: Duration,
}

impl Default for FoldConfig {
    fn default() -> Self {
        FoldConfig {
            after: 3,
            window: Duration::from_secs(60),
        }
    }
}

/// What [`FoldTable::admit`] made of a variant that missed the repeat gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FoldVerdict {
    /// An alert of its own (few variants so far, or no room to fold).
    Variant,
    /// This variant folds the family: it goes to the worker as the
    /// family's alert.
    Trip,
    /// The family is folded: count it under the family's key.
    Folded,
}

/// The families, shared by the layer (admits) and the worker (reads the
/// variant estimate, releases).
#[derive(Debug)]
pub(crate) struct FoldTable {
    config: FoldConfig,
    /// The instant the table's seconds count from.
    origin: Instant,
    slots: Box<[FamilySlot]>,
}

/// One family: its tag, its window, what it folded.
#[derive(Debug)]
#[repr(align(64))]
struct FamilySlot {
    /// The family's key with the low bit set (0: free).
    tag: AtomicU64,
    /// The window's start in seconds (upper 32 bits) and the distinct
    /// variants seen in it (lower 32).
    window: AtomicU64,
    folded: AtomicBool,
    recent: [AtomicU64; RECENT],
    recent_next: AtomicU32,
    /// The variant sketch: the highest rank seen per register.
    registers: [AtomicU8; REGISTERS],
}

impl Default for FamilySlot {
    fn default() -> Self {
        FamilySlot {
            tag: AtomicU64::new(0),
            window: AtomicU64::new(0),
            folded: AtomicBool::new(false),
            recent: Default::default(),
            recent_next: AtomicU32::new(0),
            registers: std::array::from_fn(|_| AtomicU8::new(0)),
        }
    }
}

impl FamilyKey {
    fn slots(self) -> [usize; 2] {
        let mask = SLOTS as u64 - 1;
        // The mask keeps each value below SLOTS, so the casts cannot truncate.
        [
            (self.0 & mask) as usize,
            ((self.0 >> SLOT_BITS) & mask) as usize,
        ]
    }

    fn tag(self) -> u64 {
        self.0 | 1
    }
}

impl FoldTable {
    /// A table whose windows start counting at `origin` (the layer's clock).
    pub(crate) fn new(config: FoldConfig, origin: Instant) -> Self {
        FoldTable {
            config,
            origin,
            slots: (0..SLOTS).map(|_| FamilySlot::default()).collect(),
        }
    }

    /// Whether folding is on.
    pub(crate) fn enabled(&self) -> bool {
        self.config.after > 0
    }

    /// Layer: `variant` of `family` missed the repeat gate (it is new, or its
    /// slot is closed): is it an alert of its own, the one that folds the
    /// family, or one more folded variant? `now` is read only when the
    /// family is not folded (a folded variant costs no clock read).
    pub(crate) fn admit(
        &self,
        family: FamilyKey,
        variant: GateKey,
        now: impl FnOnce() -> Instant,
    ) -> FoldVerdict {
        if !self.enabled() {
            return FoldVerdict::Variant;
        }
        if let Some(slot) = self.holding(family) {
            if slot.folded.load(Ordering::Relaxed) {
                slot.note_variant(variant);
                return FoldVerdict::Folded;
            }
        }
        let now = self.seconds(now());
        let Some(slot) = self.slot_for(family, now) else {
            return FoldVerdict::Variant;
        };
        if slot.knows(variant) {
            return FoldVerdict::Variant;
        }
        let distinct = slot.count_variant(now, self.window_seconds());
        slot.remember(variant);
        slot.note_variant(variant);
        match distinct.cmp(&(self.config.after + 1)) {
            std::cmp::Ordering::Less => FoldVerdict::Variant,
            std::cmp::Ordering::Equal => {
                slot.folded.store(true, Ordering::Relaxed);
                FoldVerdict::Trip
            }
            // Another thread tripped it a moment ago.
            std::cmp::Ordering::Greater => FoldVerdict::Folded,
        }
    }

    /// Worker: about how many distinct variants `family` produced since it
    /// folded (and the few before), if it holds a slot.
    pub(crate) fn variants(&self, family: FamilyKey) -> Option<u64> {
        let slot = self.holding(family)?;
        Some(slot.estimate())
    }

    /// Worker: the family's fold is over (its window ended): its next
    /// variants are counted afresh.
    pub(crate) fn release(&self, family: FamilyKey) {
        let Some(slot) = self.holding(family) else {
            return;
        };
        slot.folded.store(false, Ordering::Relaxed);
        slot.clear();
    }

    fn holding(&self, family: FamilyKey) -> Option<&FamilySlot> {
        let tag = family.tag();
        family
            .slots()
            .into_iter()
            .map(|i| &self.slots[i])
            .find(|slot| slot.tag.load(Ordering::Relaxed) == tag)
    }

    /// The family's slot: the one it holds, a free one, or one whose
    /// family went quiet (not folded, window over) — taken over.
    fn slot_for(&self, family: FamilyKey, now: u32) -> Option<&FamilySlot> {
        if let Some(slot) = self.holding(family) {
            return Some(slot);
        }
        let tag = family.tag();
        for i in family.slots() {
            let slot = &self.slots[i];
            let current = slot.tag.load(Ordering::Relaxed);
            if current == tag {
                // Another thread took it for this family a moment ago.
                return Some(slot);
            }
            let free = current == 0
                || (!slot.folded.load(Ordering::Relaxed)
                    && slot.window_over(now, self.window_seconds()));
            if !free {
                continue;
            }
            // A slot taken over from a family gone quiet is cleared before
            // it is published (after, it would erase what a thread of the
            // new family counted meanwhile); a free one is clear already.
            if current != 0 {
                slot.clear();
            }
            match slot
                .tag
                .compare_exchange(current, tag, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(slot),
                // Two threads claimed it for this family at once: one slot.
                Err(now) if now == tag => return Some(slot),
                Err(_) => {}
            }
        }
        None
    }

    /// Seconds since the table's origin (saturating: a process up for 136
    /// years counts the rest as one window).
    fn seconds(&self, now: Instant) -> u32 {
        let elapsed = now.saturating_duration_since(self.origin).as_secs();
        u32::try_from(elapsed).unwrap_or(u32::MAX)
    }

    fn window_seconds(&self) -> u32 {
        u32::try_from(self.config.window.as_secs().max(1)).unwrap_or(u32::MAX)
    }
}

impl FamilySlot {
    /// Forgets the window, the recent variants and the sketch.
    fn clear(&self) {
        self.window.store(0, Ordering::Relaxed);
        for recent in &self.recent {
            recent.store(0, Ordering::Relaxed);
        }
        for register in &self.registers {
            register.store(0, Ordering::Relaxed);
        }
    }

    fn knows(&self, variant: GateKey) -> bool {
        self.recent
            .iter()
            .any(|recent| recent.load(Ordering::Relaxed) == variant.0)
    }

    fn remember(&self, variant: GateKey) {
        let next = self.recent_next.fetch_add(1, Ordering::Relaxed) as usize;
        self.recent[next % RECENT].store(variant.0, Ordering::Relaxed);
    }

    fn window_over(&self, now: u32, window: u32) -> bool {
        let (start, _) = unpack(self.window.load(Ordering::Relaxed));
        now.saturating_sub(start) >= window
    }

    /// Counts one more distinct variant in the current window (starting a
    /// new one if it is over); the count after it.
    fn count_variant(&self, now: u32, window: u32) -> u32 {
        let mut current = self.window.load(Ordering::Relaxed);
        loop {
            let (start, distinct) = unpack(current);
            let next = if current == 0 || now.saturating_sub(start) >= window {
                (now, 1)
            } else {
                (start, distinct.saturating_add(1))
            };
            match self.window.compare_exchange_weak(
                current,
                pack(next),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next.1,
                Err(now_current) => current = now_current,
            }
        }
    }

    /// Notes a variant in the sketch: one load, and a write only when its
    /// register rises (rarely, once a few hundred variants were seen).
    fn note_variant(&self, variant: GateKey) {
        // Gate keys are mixed to the last bit (splitmix's finaliser).
        let register = &self.registers[(variant.0 as usize) & (REGISTERS - 1)];
        let rest = variant.0 >> REGISTER_BITS;
        // At most 56 + 1: fits a u8.
        let rank = (rest.trailing_zeros().min(64 - REGISTER_BITS) + 1) as u8;
        if register.load(Ordering::Relaxed) < rank {
            register.fetch_max(rank, Ordering::Relaxed);
        }
    }

    /// The HyperLogLog estimate of distinct variants (linear counting
    /// while registers are still empty: exact enough for small numbers).
    fn estimate(&self) -> u64 {
        let m = REGISTERS as f64;
        let mut sum = 0.0;
        let mut empty = 0u32;
        for register in &self.registers {
            let rank = register.load(Ordering::Relaxed);
            if rank == 0 {
                empty += 1;
            }
            sum += 2f64.powi(-i32::from(rank));
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let estimate = if raw <= 2.5 * m && empty > 0 {
            m * (m / f64::from(empty)).ln()
        } else {
            raw
        };
        // A count of variants: never negative, far below u64::MAX.
        estimate.round().max(0.0) as u64
    }
}

fn pack((start, distinct): (u32, u32)) -> u64 {
    (u64::from(start) << 32) | u64::from(distinct)
}

fn unpack(word: u64) -> (u32, u32) {
    // The shifts and the mask keep each half within 32 bits.
    ((word >> 32) as u32, (word & 0xffff_ffff) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(n: u64) -> GateKey {
        // Mixed like the probe's keys.
        let mut x = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        GateKey(x ^ (x >> 31))
    }

    #[test]
    fn the_variant_after_fold_after_trips_and_the_rest_are_folded() {
        let start = Instant::now();
        let table = FoldTable::new(FoldConfig::default(), start);
        let family = FamilyKey(0xabc0);
        let verdicts: Vec<_> = (0..6)
            .map(|n| table.admit(family, variant(n), || start))
            .collect();
        use FoldVerdict::*;
        assert_eq!(verdicts, [Variant, Variant, Variant, Trip, Folded, Folded]);
        // Another family is not affected.
        assert_eq!(
            table.admit(FamilyKey(0x1230), variant(9), || start),
            Variant
        );
    }

    #[test]
    fn a_known_variant_is_not_counted_twice_and_old_ones_age_out() {
        let start = Instant::now();
        let table = FoldTable::new(FoldConfig::default(), start);
        let family = FamilyKey(0x5550);
        for _ in 0..10 {
            assert_eq!(
                table.admit(family, variant(1), || start),
                FoldVerdict::Variant
            );
        }
        for n in 2..=3 {
            assert_eq!(
                table.admit(family, variant(n), || start),
                FoldVerdict::Variant
            );
        }
        // A minute later the window starts again.
        let later = start + Duration::from_secs(61);
        assert_eq!(
            table.admit(family, variant(4), || later),
            FoldVerdict::Variant
        );
        assert_eq!(
            table.admit(family, variant(5), || later),
            FoldVerdict::Variant
        );
    }

    #[test]
    fn release_ends_the_fold_and_the_sketch_counts_variants() {
        let start = Instant::now();
        let table = FoldTable::new(FoldConfig::default(), start);
        let family = FamilyKey(0x7770);
        for n in 0..200_000 {
            let _ = table.admit(family, variant(n), || start);
        }
        let estimate = table.variants(family).unwrap_or(0);
        // 256 registers: about 6.5 % standard error; three of them either way.
        assert!((160_000..240_000).contains(&estimate), "{estimate}");
        table.release(family);
        assert_eq!(table.variants(family), Some(0));
        assert_eq!(
            table.admit(family, variant(1), || start),
            FoldVerdict::Variant
        );
    }

    #[test]
    fn small_counts_are_nearly_exact_and_off_never_folds() {
        let start = Instant::now();
        let table = FoldTable::new(FoldConfig::default(), start);
        let family = FamilyKey(0x8880);
        for n in 0..20 {
            let _ = table.admit(family, variant(n), || start);
        }
        let estimate = table.variants(family).unwrap_or(0);
        assert!((17..=23).contains(&estimate), "{estimate}");
        let off = FoldTable::new(
            FoldConfig {
                after: 0,
                ..FoldConfig::default()
            },
            start,
        );
        assert!((0..100).all(|n| off.admit(family, variant(n), || start) == FoldVerdict::Variant));
    }

    #[test]
    fn threads_folding_one_family_at_once_share_one_slot() {
        for round in 0..50 {
            let start = Instant::now();
            let table = std::sync::Arc::new(FoldTable::new(FoldConfig::default(), start));
            let family = FamilyKey(0x4440 + round);
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
            let threads: Vec<_> = (0..4_u64)
                .map(|t| {
                    let (table, barrier) = (table.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        (0..50)
                            .filter(|n| {
                                table.admit(family, variant(t * 1_000 + n), || start)
                                    == FoldVerdict::Variant
                            })
                            .count()
                    })
                })
                .collect();
            let alone: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
            assert_eq!(
                alone, 3,
                "round {round}: the first three variants, whatever the threads"
            );
        }
    }

    #[test]
    fn families_that_went_quiet_give_their_slot_up() {
        let start = Instant::now();
        let table = FoldTable::new(FoldConfig::default(), start);
        // Same two slots (low 16 bits equal, families differ above).
        let families: Vec<_> = (0..3).map(|n| FamilyKey((n << 40) | 0x0102)).collect();
        assert_eq!(
            table.admit(families[0], variant(1), || start),
            FoldVerdict::Variant
        );
        assert_eq!(
            table.admit(families[1], variant(2), || start),
            FoldVerdict::Variant
        );
        assert!(table.holding(families[2]).is_none());
        // No room now: not folded, and not tracked.
        for n in 0..10 {
            assert_eq!(
                table.admit(families[2], variant(n), || start),
                FoldVerdict::Variant
            );
        }
        assert!(table.holding(families[2]).is_none());
        let later = start + Duration::from_secs(120);
        assert_eq!(
            table.admit(families[2], variant(1), || later),
            FoldVerdict::Variant
        );
        assert!(table.holding(families[2]).is_some());
    }
}
