//! A gate word: the tag of what it counts (upper bits) and the count
//! (lower [`COUNT_BITS`]), in one `AtomicU64`, so that an increment is
//! attributed to exactly one tag. The repeat gate's slots and the spread
//! entries beside them are such words.

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) const COUNT_BITS: u32 = 24;
pub(crate) const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
/// Set in every tag, so that an open word is never zero.
pub(crate) const OPEN_BIT: u64 = 1 << COUNT_BITS;

/// Layer: one more repeat in `slot`, if it still holds `tag` and its count
/// is not full (one compare-and-swap loop, for slots and spread entries).
pub(crate) fn add_one(slot: &AtomicU64, tag: u64, mut current: u64) -> bool {
    loop {
        if current & !COUNT_MASK != tag || current & COUNT_MASK == COUNT_MASK {
            return false;
        }
        match slot.compare_exchange_weak(current, current + 1, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => return true,
            Err(now) => current = now,
        }
    }
}

/// Worker: takes `word`'s count and keeps its tag, if `keep` says so of the
/// tag; the tag and the count taken (`None`: nothing counted, or a tag not
/// to take).
pub(crate) fn take_count(word: &AtomicU64, keep: impl Fn(u64) -> bool) -> Option<(u64, u64)> {
    let mut current = word.load(Ordering::Relaxed);
    loop {
        let (tag, count) = (current & !COUNT_MASK, current & COUNT_MASK);
        if count == 0 || !keep(tag) {
            return None;
        }
        match word.compare_exchange_weak(current, tag, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Some((tag, count)),
            Err(now) => current = now,
        }
    }
}
