//! The layer's own table of span states, keyed by span id.
//!
//! Kept apart from the registry's extensions on purpose: an extension costs
//! a boxed allocation when the span opens, a type-map insert, and the
//! registry clearing that map when the span closes — about a thousand
//! instructions per span, a quarter of what the layer cost a request span.
//! Here a span's state is one insert into a sharded map that keeps its
//! capacity, and one removal when the span closes. Each layer value has
//! its own table (a clone may sit behind another filter and see other
//! spans), so several layers never share or search one another's states.
//!
//! No code of the application runs while a shard is locked: field values
//! are formatted before a state is touched.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tracing_core::span::Id;

use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::record::{SpanList, SpanRecord};

use super::field_pool::PooledFields;
use super::span_state::SpanState;

/// Shards: enough that threads opening and closing spans rarely meet.
const SHARDS: usize = 16;

/// Span states by span id.
#[derive(Debug, Default)]
pub(crate) struct SpanTable {
    shards: [Mutex<HashMap<u64, SpanState, BuildHasherDefault<IdHasher>>>; SHARDS],
}

impl SpanTable {
    /// The shard of `id`, locked. A panic while a shard was locked cannot
    /// have left a map half changed (no application code runs under the
    /// lock, and map operations are whole): the poison is ignored.
    #[inline]
    fn shard(
        &self,
        id: &Id,
    ) -> MutexGuard<'_, HashMap<u64, SpanState, BuildHasherDefault<IdHasher>>> {
        let key = id.into_u64();
        // Registry ids are slab indexes: the low bits spread them.
        let index = (key as usize) % SHARDS;
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The state of a new span (replacing one a missed close left behind).
    pub(crate) fn insert(&self, id: &Id, state: SpanState) {
        let earlier = self.shard(id).insert(id.into_u64(), state);
        drop(earlier); // dropped outside the lock
    }

    /// The state of a closing span, taken out.
    pub(crate) fn remove(&self, id: &Id) -> Option<SpanState> {
        self.shard(id).remove(&id.into_u64())
    }

    /// `read` of the span's state, if it has one.
    #[inline]
    pub(crate) fn with<R>(&self, id: &Id, read: impl FnOnce(&SpanState) -> R) -> Option<R> {
        self.shard(id).get(&id.into_u64()).map(read)
    }

    /// `change` of the span's state, if it has one.
    #[inline]
    pub(crate) fn with_mut<R>(
        &self,
        id: &Id,
        change: impl FnOnce(&mut SpanState) -> R,
    ) -> Option<R> {
        self.shard(id).get_mut(&id.into_u64()).map(change)
    }
}

/// Span ids are unique while their spans live: one multiply spreads them
/// over the map's buckets (`SipHash` would cost more than the lookup).
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Whether the event is inside a span this layer skips.
pub(crate) fn inside_skipped_span<S>(
    table: &SpanTable,
    event: &Event<'_>,
    ctx: &Context<'_, S>,
) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.event_scope(event).is_some_and(|mut scope| {
        scope.any(|span| {
            table
                .with(&span.id(), SpanState::is_skipped)
                .unwrap_or(false)
        })
    })
}

/// Span records, root first, for the spans of a scope given leaf first (as
/// the registry walks them: `from_root` would collect them into a buffer to
/// turn them around); `None` if any span is skipped.
pub(crate) fn span_records<'a, R>(
    table: &SpanTable,
    spans: impl Iterator<Item = SpanRef<'a, R>>,
) -> Option<SpanList>
where
    R: LookupSpan<'a> + 'a,
{
    let mut records = SpanList::default();
    for span in spans {
        // A span without this layer's state is one it does not want (a
        // DEBUG span of a library): left out, as its filter would.
        let Some(state) = table.with(&span.id(), |state| {
            (!state.is_skipped()).then(|| state.fields.as_ref().map(PooledFields::shared))
        }) else {
            continue;
        };
        let fields = state?; // a skipped span: nothing inside it is reported
        records.push(SpanRecord {
            name: span.name(),
            target: span.metadata().target(),
            fields,
        });
    }
    records.reverse();
    Some(records)
}
