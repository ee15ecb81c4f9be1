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

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use crate::record::GateKey;

use super::fold::{FoldConfig, FoldTable};
use super::spread::{Sampler, SpreadTable};
use super::word::{add_one, take_count, COUNT_MASK, OPEN_BIT};

/// Slots in the table (a power of two). Kinds whose slot is taken by
/// another kind simply use the ordinary path.
const SLOTS: usize = 1024;
/// `log2(SLOTS)`: a key's second slot comes from the bits above its first.
const SLOT_BITS: u32 = 10;

/// Where a key may live in the table, and the tag that tells it from the
/// other kinds that share a slot.
impl GateKey {
    /// The two slots a kind may use: when another kind holds the first, it
    /// takes the second (so that two of a handful of kinds rarely fight over
    /// one slot, which would send all of one's repeats through the queue).
    fn slots(self) -> [usize; 2] {
        let mask = SLOTS as u64 - 1;
        // The mask keeps each value below SLOTS, so the casts cannot truncate.
        [
            (self.0 & mask) as usize,
            ((self.0 >> SLOT_BITS) & mask) as usize,
        ]
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
    /// Callsites whose many variants are counted as one kind (see
    /// [`fold`](super::fold)).
    pub(crate) folds: FoldTable,
    /// What varies across repeats (see [`spread`](super::spread)); `None`
    /// when the field distribution is off.
    pub(crate) spread: Option<SpreadTable>,
}

/// What [`RepeatGate::count`] did with a repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    /// Not counted: the event takes the ordinary path.
    No,
    Yes,
    /// Counted, with a combination of values new to its kind: the caller
    /// leaves a sample of them ([`RepeatGate::sample`]) under this tag.
    NewCombination(u64),
}

/// One slot per cache line: threads counting different kinds do not slow
/// each other down (1024 slots make 64 KiB).
#[derive(Debug, Default)]
#[repr(align(64))]
struct Slot(AtomicU64);

impl Default for RepeatGate {
    fn default() -> Self {
        RepeatGate::new(FoldConfig::default(), std::time::Instant::now(), true)
    }
}

impl RepeatGate {
    /// A gate whose callsites fold as `fold` says, counting windows from
    /// `origin` (the layer's clock); with `spread`, counting what varies
    /// across repeats too.
    pub(crate) fn new(fold: FoldConfig, origin: std::time::Instant, spread: bool) -> Self {
        RepeatGate {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            folds: FoldTable::new(fold, origin),
            spread: spread.then(|| SpreadTable::new(SLOTS)),
        }
    }

    /// Whether repeats' values are counted (the probe hashes them).
    pub(crate) fn spreads(&self) -> bool {
        self.spread.is_some()
    }

    /// The slots `key`'s kind holds (worker: where its combinations are).
    pub(crate) fn holders(&self, key: GateKey) -> impl Iterator<Item = usize> + '_ {
        let tag = key.tag();
        distinct(key.slots())
            .filter(move |&i| self.slots[i].0.load(Ordering::Relaxed) & !COUNT_MASK == tag)
    }

    /// Layer: leaves the values of `event` for the worker, under the tag
    /// [`count`](Self::count) returned for its new combination.
    #[cold]
    pub(crate) fn sample(&self, key: GateKey, tag: u64, event: &tracing_core::Event<'_>) {
        if let Some(spread) = &self.spread {
            let mut sampler = Sampler::default();
            event.record(&mut sampler);
            spread.leave(sampler.into_sample(key, tag));
        }
    }

    /// [`count`](Self::count) without values: whether it was counted.
    #[cfg(test)]
    fn counts(&self, key: GateKey) -> bool {
        self.count(key, None) != Counted::No
    }

    /// Whether `key`'s kind holds a slot (a repeat would be counted).
    #[cfg(test)]
    fn is_open(&self, key: GateKey) -> bool {
        let tag = key.tag();
        key.slots()
            .iter()
            .any(|&i| self.slots[i].0.load(Ordering::Relaxed) & !COUNT_MASK == tag)
    }

    /// Counts one repeat of `key` if its kind holds a slot, with the
    /// combination of its values (if any took part); [`Counted::No`] sends
    /// the event down the ordinary path.
    pub(crate) fn count(&self, key: GateKey, combination: Option<u64>) -> Counted {
        let tag = key.tag();
        for i in key.slots() {
            let slot = &self.slots[i].0;
            let current = slot.load(Ordering::Relaxed);
            if current & !COUNT_MASK != tag {
                continue;
            }
            if !add_one(slot, tag, current) {
                return Counted::No;
            }
            let (Some(combination), Some(spread)) = (combination, &self.spread) else {
                return Counted::Yes;
            };
            return match spread.count(i, key, combination) {
                Some(new) => Counted::NewCombination(new),
                None => Counted::Yes,
            };
        }
        Counted::No
    }

    /// Layer: the record of `key`'s kind is about to be queued: from now
    /// on its repeats are counted here, before the worker has seen it, and
    /// the worker adopts the count when it opens the kind.
    pub(crate) fn reserve(&self, key: GateKey) -> Reservation {
        let tag = key.tag();
        let holds = |i: usize| self.slots[i].0.load(Ordering::Relaxed) & !COUNT_MASK == tag;
        if key.slots().into_iter().any(holds) {
            return Reservation::AlreadyOpen;
        }
        for i in key.slots() {
            match self.slots[i]
                .0
                .compare_exchange(0, tag, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Reservation::Reserved,
                Err(current) if current & !COUNT_MASK == tag => return Reservation::AlreadyOpen,
                Err(_) => {}
            }
        }
        Reservation::Taken
    }

    /// Worker: opens a slot for `key`'s kind, adopting what the layer
    /// counted if it reserved one; `false` if other kinds hold both.
    pub(crate) fn open(&self, key: GateKey) -> bool {
        self.reserve(key) != Reservation::Taken
    }

    /// Worker: the repeats counted for `key` since the last take; its slot
    /// stays open. (A race can leave a kind in both of its slots: both
    /// count.)
    pub(crate) fn take(&self, key: GateKey) -> u64 {
        let tag = key.tag();
        distinct(key.slots())
            .filter_map(|i| take_count(&self.slots[i].0, |held| held == tag))
            .map(|(_, taken)| taken)
            .sum()
    }

    /// Worker: closes `key`'s slots; the repeats counted since the last take.
    pub(crate) fn close(&self, key: GateKey) -> u64 {
        let tag = key.tag();
        let mut closed = 0;
        for i in distinct(key.slots()) {
            let slot = &self.slots[i].0;
            let mut current = slot.load(Ordering::Relaxed);
            loop {
                if current & !COUNT_MASK != tag {
                    break;
                }
                match slot.compare_exchange_weak(current, 0, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => {
                        closed += current & COUNT_MASK;
                        break;
                    }
                    Err(now) => current = now,
                }
            }
        }
        closed
    }

    /// Worker, when it stops: closes every slot; the repeats counted in
    /// slots no kind was opened for (reserved for records it never got to).
    pub(crate) fn close_every_slot(&self) -> u64 {
        if let Some(spread) = &self.spread {
            for slot in 0..SLOTS {
                let _values_of_unsettled_repeats = spread.clear(slot);
            }
        }
        self.slots
            .iter()
            .map(|slot| slot.0.swap(0, Ordering::Relaxed) & COUNT_MASK)
            .sum()
    }
}

/// A key's slots, each once (both may be the same).
fn distinct([first, second]: [usize; 2]) -> impl Iterator<Item = usize> {
    std::iter::once(first).chain((second != first).then_some(second))
}

/// What [`RepeatGate::reserve`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// The slot was free and is now this kind's.
    Reserved,
    /// The slot was this kind's already (open, or reserved by another record).
    AlreadyOpen,
    /// Another kind holds the slot: its repeats take the ordinary path.
    Taken,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_go_to_the_open_kind_and_are_taken_once() {
        let gate = RepeatGate::default();
        let key = GateKey(0xdead_beef_0000_0007);
        assert!(!gate.counts(key), "closed: the ordinary path");
        assert!(gate.open(key));
        assert!(gate.is_open(key));
        for _ in 0..5 {
            assert!(gate.counts(key));
        }
        assert_eq!(gate.take(key), 5);
        assert_eq!(gate.take(key), 0);
        assert!(gate.counts(key));
        assert_eq!(gate.close(key), 1);
        assert!(!gate.is_open(key));
        assert!(!gate.counts(key));
    }

    #[test]
    fn a_kind_whose_first_slot_is_taken_uses_its_second() {
        let gate = RepeatGate::default();
        // Both have slot 3 first; `other`'s second is slot 0.
        let one = GateKey(0x1111_0000_0000_0003);
        let other = GateKey(0x2222_0000_0000_0003);
        assert!(gate.open(one));
        assert!(gate.open(other), "its second slot");
        assert!(gate.counts(one) && gate.counts(other) && gate.counts(other));
        assert_eq!((gate.take(one), gate.take(other)), (1, 2));
        assert_eq!(gate.close(other), 0);
        assert!(!gate.counts(other));
        assert!(gate.counts(one));
        assert_eq!(gate.close(one), 1);
    }

    #[test]
    fn a_kind_whose_two_slots_are_taken_is_not_counted() {
        let gate = RepeatGate::default();
        let one = GateKey(0x1111_0000_0000_0003); // slots 3, 0
        let blocker = GateKey(0x3333_0000_0000_0000); // slots 0, 0
        let other = GateKey(0x2222_0000_0000_0003); // slots 3, 0
        assert!(gate.open(one));
        assert!(gate.open(blocker));
        assert!(!gate.open(other), "both slots are taken");
        assert_eq!(gate.reserve(other), Reservation::Taken);
        assert!(!gate.counts(other));
        assert_eq!(gate.take(other), 0);
        assert_eq!(gate.close(other), 0);
        assert!(gate.counts(one));
        assert_eq!(gate.close(one), 1);
    }

    #[test]
    fn the_layer_reserves_and_the_worker_adopts_the_count() {
        let gate = RepeatGate::default();
        let key = GateKey(0xfeed_0000_0000_0042);
        assert_eq!(gate.reserve(key), Reservation::Reserved);
        assert_eq!(gate.reserve(key), Reservation::AlreadyOpen);
        assert!(gate.counts(key) && gate.counts(key));
        assert!(gate.open(key), "adopted");
        assert_eq!(gate.take(key), 2);
        assert!(gate.counts(key));
        assert_eq!(gate.close_every_slot(), 1);
        assert!(!gate.counts(key));
    }

    #[test]
    fn a_full_count_falls_back_to_the_ordinary_path() {
        let gate = RepeatGate::default();
        let key = GateKey(42);
        assert!(gate.open(key));
        gate.slots[key.slots()[0]]
            .0
            .store(key.tag() | (COUNT_MASK - 1), Ordering::Relaxed);
        assert!(gate.counts(key));
        assert!(!gate.counts(key), "the count is full");
        assert_eq!(gate.take(key), COUNT_MASK);
        assert!(gate.counts(key));
    }

    #[test]
    fn concurrent_counts_are_all_taken_exactly_once() {
        let gate = std::sync::Arc::new(RepeatGate::default());
        let key = GateKey(0xabcd_ef01_2345_6789);
        assert!(gate.open(key));
        let counters: Vec<_> = (0..4)
            .map(|_| {
                let gate = gate.clone();
                std::thread::spawn(move || (0..50_000).filter(|_| gate.counts(key)).count() as u64)
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
}
