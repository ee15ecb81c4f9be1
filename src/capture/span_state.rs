//! What the layer keeps of each span (in its own table, `span_table`):
//! whether it is skipped, its fields (shared with every record captured
//! inside it), its timer, and for a request span its watch; and the walks
//! over a scope's states.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::channel::outcomes::RequestOutcomes;

use super::field_pool::PooledFields;
use super::timing::Timing;

/// Span extension: what the layer keeps for each span it sees.
#[derive(Debug)]
pub(crate) struct SpanState {
    /// This span (and so everything inside it) is not reported.
    pub(crate) skipped: Option<SkipMark>,
    /// The span's fields, shared with every record captured inside it.
    pub(crate) fields: Option<PooledFields>,
    /// Total and busy time, for spans judged slow (no others are timed).
    pub(crate) timing: Option<Timing>,
    /// For an HTTP request span: whether an alert was captured inside it
    /// (then its failing status is not alerted a second time).
    pub(crate) request: Option<RequestWatch>,
    /// Set on a span that describes a request (HTTP or RPC): what an alert
    /// inside it is grouped by.
    pub(crate) describes_request: Option<RequestMark>,
}

/// What the layer watches in an HTTP request span that declares a status:
/// whether an alert-level event was captured inside it (if none was and it
/// closes with a server error, its status is the alert: a handler that
/// returns a 502 without an error value logs nothing), and whether a record
/// waits for its status (see `channel::outcomes`).
#[derive(Debug)]
pub(crate) struct RequestWatch {
    reported: AtomicBool,
    /// The request's serial number once a record waits for it (0: none).
    awaited: AtomicU64,
}

impl RequestWatch {
    pub(crate) fn new() -> Self {
        RequestWatch {
            reported: AtomicBool::new(false),
            awaited: AtomicU64::new(0),
        }
    }

    /// An alert was captured inside the request.
    pub(crate) fn report(&self) {
        self.reported.store(true, Ordering::Relaxed);
    }

    pub(crate) fn was_reported(&self) -> bool {
        self.reported.load(Ordering::Relaxed)
    }

    /// A record waits for the request's status: its serial number (the
    /// same for every record inside it).
    pub(crate) fn await_status(&self) -> u64 {
        let fresh = RequestOutcomes::next_serial();
        match self
            .awaited
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(earlier) => earlier,
        }
    }

    /// The serial number records wait under, if any does.
    pub(crate) fn awaited(&self) -> Option<u64> {
        Some(self.awaited.load(Ordering::Relaxed)).filter(|&serial| serial != 0)
    }
}

/// Held by the state of a span that describes a request, and counted while
/// it lives: while no such span is alive (a service that is not a web
/// service), an alert does not look around it for the request it belongs
/// to. A process-wide hint, not an exact count per layer.
#[derive(Debug)]
pub(crate) struct RequestMark(());

static REQUESTS_ALIVE: AtomicUsize = AtomicUsize::new(0);

impl RequestMark {
    pub(crate) fn new() -> Self {
        REQUESTS_ALIVE.fetch_add(1, Ordering::Relaxed);
        RequestMark(())
    }

    /// Whether any request span is alive.
    pub(crate) fn any_alive() -> bool {
        REQUESTS_ALIVE.load(Ordering::Relaxed) > 0
    }
}

impl Drop for RequestMark {
    fn drop(&mut self) {
        // The registry drops a span's extensions when the span closes.
        REQUESTS_ALIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SpanState {
    pub(crate) fn skipped(alive: &Arc<AtomicUsize>) -> SpanState {
        SpanState {
            skipped: Some(SkipMark::new(alive)),
            fields: None,
            timing: None,
            request: None,
            describes_request: None,
        }
    }

    pub(crate) fn is_skipped(&self) -> bool {
        self.skipped.is_some()
    }
}

/// Held by the state of a skipped span: while any exists, events look for a
/// skipped span around them; while none does (the usual case), they need
/// not look up their spans at all.
#[derive(Debug)]
pub(crate) struct SkipMark(Arc<AtomicUsize>);

impl SkipMark {
    fn new(alive: &Arc<AtomicUsize>) -> Self {
        // Counted before the span can be entered or recorded into, so an
        // event inside it (which happens after) sees the count.
        alive.fetch_add(1, Ordering::Relaxed);
        SkipMark(Arc::clone(alive))
    }
}

impl Drop for SkipMark {
    fn drop(&mut self) {
        // The registry drops a span's extensions when the span closes.
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
