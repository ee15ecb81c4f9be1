//! The queue's reserve: room kept for callsites that are not flooding, so
//! a storm from one callsite cannot starve the first occurrence of another.
//!
//! Most storms never reach the queue (their repeats and variants are
//! counted at the gate), but some events cannot be recognised on the
//! application's thread: a response event (which request it answered is
//! only known to the worker), a message too long to read whole. A storm of
//! those goes through the queue one record each, and the queue is bounded:
//! once full, the next record — perhaps the first of an unrelated failure —
//! would be dropped. So the channel holds an eighth more than the
//! configured capacity, and those last places only take records of
//! callsites that have fewer than [`FEW`] records queued (and manual alerts
//! and panics). A storm's records beyond the capacity are dropped and
//! counted (the digest names them by callsite) as before; what comes from
//! elsewhere still finds room.
//!
//! Callsites are told apart by their static metadata, hashed into a fixed
//! table of counters; two callsites that share a counter are judged
//! together (rarely, and only ever more strictly).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::record::{Origin, Record};

/// Counters in the table (a power of two).
const SLOTS: usize = 256;

/// A callsite with fewer records than this queued is not flooding.
const FEW: u32 = 4;

/// How many records of each callsite are queued, and the reserve.
#[derive(Debug)]
pub(crate) struct QueueReserve {
    queued: Box<[AtomicU32]>,
    /// Places kept beyond the configured capacity.
    reserve: usize,
}

impl QueueReserve {
    /// The reserve of a queue of `capacity` records: an eighth more.
    pub(crate) fn new(capacity: usize) -> Self {
        QueueReserve {
            queued: (0..SLOTS).map(|_| AtomicU32::new(0)).collect(),
            reserve: capacity / 8,
        }
    }

    /// The places the channel needs: the capacity and the reserve.
    pub(crate) fn channel_capacity(&self, capacity: usize) -> usize {
        capacity.saturating_add(self.reserve).max(1)
    }

    /// Takes a place for `record` in a queue with `free` places left:
    /// `false` if only the reserve is left and its callsite is flooding.
    pub(crate) fn take(&self, record: &Record, free: usize) -> bool {
        let Some(counter) = self.counter(record) else {
            return true;
        };
        let queued = counter.fetch_add(1, Ordering::Relaxed);
        if free > self.reserve || queued < FEW {
            return true;
        }
        counter.fetch_sub(1, Ordering::Relaxed);
        false
    }

    /// Gives `record`'s place back (the worker took it, or it was not
    /// queued after all).
    pub(crate) fn give_back(&self, record: &Record) {
        if let Some(counter) = self.counter(record) {
            // Never below zero, whatever the order of events.
            let _ =
                counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    fn counter(&self, record: &Record) -> Option<&AtomicU32> {
        let Origin::Event(metadata) = record.origin else {
            return None;
        };
        let address = std::ptr::from_ref(metadata) as usize as u64;
        // Metadata are statics at least 8-byte aligned: mix the address so
        // neighbouring callsites spread over the table.
        let mixed = address.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56;
        // `mixed` is below 256 = SLOTS.
        Some(&self.queued[mixed as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertLevel;
    use crate::record::test_callsite::META;
    use crate::record::{Captured, Occurrence};

    fn record(origin: Origin) -> Record {
        Record::new(
            AlertLevel::Error,
            Occurrence::Alert,
            origin,
            String::from("x").into(),
            Captured::default(),
        )
    }

    #[test]
    fn the_reserve_takes_only_callsites_that_are_not_flooding() {
        let reserve = QueueReserve::new(64);
        assert_eq!(reserve.channel_capacity(64), 72);
        let event = record(Origin::Event(&META));
        // Beyond the reserve, anything goes.
        assert!((0..64).all(|n| reserve.take(&event, 72 - n)));
        assert!(!reserve.take(&event, 8), "only the reserve is left");
        let manual = record(Origin::Manual);
        assert!((0..100).all(|_| reserve.take(&manual, 0)));
        for _ in 0..100 {
            reserve.give_back(&event);
        }
        assert!(
            (0..4).all(|_| reserve.take(&event, 1)),
            "a few: not flooding"
        );
        assert!(!reserve.take(&event, 1));
    }
}
