//! Field buffers reused across spans: a span's fields live in an
//! `Arc<Fields>` (shared, without a copy, with every record captured inside
//! it); when the span ends and no record holds them, the buffer — the `Arc`
//! and the `Vec` in it — goes back to a small pool of the thread that ended
//! it, and the next span created there takes it instead of allocating two.

use std::cell::RefCell;
use std::sync::{Arc, LazyLock};

use crate::record::Fields;

/// Buffers kept per thread.
const POOL_SIZE: usize = 32;

/// Buffers grown past this many fields are not kept (a rare wide span
/// should not pin its memory).
const MAX_KEPT_CAPACITY: usize = 16;

thread_local! {
    static POOL: RefCell<Vec<Arc<Fields>>> = const { RefCell::new(Vec::new()) };
}

/// One empty buffer, shared: what a dropped span's state is left holding
/// while its own buffer goes back to the pool.
fn empty() -> Arc<Fields> {
    static EMPTY: LazyLock<Arc<Fields>> = LazyLock::new(Arc::default);
    Arc::clone(&EMPTY)
}

/// An empty buffer, from this thread's pool if it has one.
pub(crate) fn take() -> Arc<Fields> {
    POOL.try_with(|pool| pool.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A span's fields; returned to the pool when the span's state is dropped
/// and nothing else holds them.
#[derive(Debug)]
pub(crate) struct PooledFields(Arc<Fields>);

impl PooledFields {
    /// `fields` (from [`take`]) as a span's, unless there are none (then
    /// the buffer goes back at once).
    pub(crate) fn new(fields: Arc<Fields>) -> Option<Self> {
        let pooled = PooledFields(fields);
        (!pooled.0.is_empty()).then_some(pooled)
    }

    /// The fields, shared (a record captured inside the span keeps them).
    pub(crate) fn shared(&self) -> Arc<Fields> {
        Arc::clone(&self.0)
    }

    /// The fields, to read.
    pub(crate) fn get(&self) -> &Fields {
        &self.0
    }

    /// The fields, to change (copied first if a record holds them).
    pub(crate) fn make_mut(&mut self) -> &mut Fields {
        Arc::make_mut(&mut self.0)
    }
}

impl Drop for PooledFields {
    fn drop(&mut self) {
        let Some(fields) = Arc::get_mut(&mut self.0) else {
            return; // a record still holds them
        };
        if fields.capacity() > MAX_KEPT_CAPACITY {
            return;
        }
        fields.clear();
        // Swapped with the shared empty buffer, not a new one (`take` would
        // allocate an `Arc` only to free it).
        let buffer = std::mem::replace(&mut self.0, empty());
        // Never panics: a pool in use (re-entered) or gone (thread ending)
        // just lets the buffer be freed.
        let _ = POOL.try_with(|pool| {
            if let Ok(mut pool) = pool.try_borrow_mut() {
                if pool.len() < POOL_SIZE {
                    pool.push(buffer);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::FieldValue;

    fn one_field(mut buffer: Arc<Fields>) -> Arc<Fields> {
        if let Some(fields) = Arc::get_mut(&mut buffer) {
            fields.push(("k".into(), FieldValue::U64(1)));
        }
        buffer
    }

    #[test]
    fn a_buffer_is_reused_unless_a_record_holds_it() {
        let first = one_field(take());
        let address = Arc::as_ptr(&first);
        drop(PooledFields::new(first));
        let again = take();
        assert_eq!(Arc::as_ptr(&again), address, "reused");
        assert!(again.is_empty());
        let span = PooledFields::new(one_field(again)).expect("has a field");
        let record = span.shared();
        drop(span);
        assert_eq!(record.len(), 1, "the record's copy is untouched");
        assert_ne!(
            Arc::as_ptr(&take()),
            Arc::as_ptr(&record),
            "not pooled while held"
        );
    }
}
