//! What the layer keeps of each span (in its own table, `span_table`):
//! whether it is skipped, its fields (shared with every record captured
//! inside it), its timer, and for a request span its watch; and the walks
//! over a scope's states.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::channel::outcomes::RequestOutcomes;
use crate::gate::probe::request_key;
use crate::record::http::is_status_field;
use crate::record::Fields;

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
    /// [`RequestWatch::REPORTED`], and the request's serial number once a
    /// record waits for it (0: none), in one word: the state is moved into
    /// and out of the span table, every byte of it copied each time.
    word: AtomicU64,
}

impl RequestWatch {
    /// Set once an alert was captured inside the request (serial numbers
    /// count up from 1 and never reach it).
    const REPORTED: u64 = 1 << 63;

    pub(crate) fn new() -> Self {
        RequestWatch {
            word: AtomicU64::new(0),
        }
    }

    /// An alert was captured inside the request.
    pub(crate) fn report(&self) {
        self.word.fetch_or(Self::REPORTED, Ordering::Relaxed);
    }

    pub(crate) fn was_reported(&self) -> bool {
        self.word.load(Ordering::Relaxed) & Self::REPORTED != 0
    }

    /// A record waits for the request's status: its serial number (the
    /// same for every record inside it).
    pub(crate) fn await_status(&self) -> u64 {
        let fresh = RequestOutcomes::next_serial() & !Self::REPORTED;
        let update = self
            .word
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |word| {
                (word & !Self::REPORTED == 0).then_some(word | fresh)
            });
        match update {
            Ok(_) => fresh,
            Err(word) => word & !Self::REPORTED,
        }
    }

    /// The serial number records wait under, if any does.
    pub(crate) fn awaited(&self) -> Option<u64> {
        Some(self.word.load(Ordering::Relaxed) & !Self::REPORTED).filter(|&serial| serial != 0)
    }
}

/// Held by the state of a span that describes a request, and counted while
/// it lives: while no such span is alive (a service that is not a web
/// service), an alert does not look around it for the request it belongs
/// to. A process-wide hint, not an exact count per layer.
///
/// It also keeps what the span's fields say about the request, read the
/// first time an alert inside it asks: every repeat inside the same request
/// would otherwise read and hash its method and route again (about 900
/// instructions). Values recorded into the span later forget it.
#[derive(Debug)]
pub(crate) struct RequestMark {
    /// [`RequestFacts`] in one word, 0 until read (see `RequestFacts::word`):
    /// the state is moved into and out of the span table, and every byte
    /// of it is copied each time.
    facts: u64,
}

/// What a request span's fields say, as an alert inside it needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestFacts {
    /// The key its alerts are grouped by ([`request_key`]).
    pub(crate) key: Option<u64>,
    /// Whether its fields give its outcome (a status) already.
    pub(crate) has_status: bool,
}

impl RequestFacts {
    const READ: u64 = 1;
    const HAS_STATUS: u64 = 2;
    const HAS_KEY: u64 = 4;
    const FLAGS: u64 = 7;

    /// One word, never 0: the flags in the low three bits, the key (never
    /// 0, odd) above them, so the key read back has those bits as flags.
    fn word(self) -> u64 {
        let status = if self.has_status { Self::HAS_STATUS } else { 0 };
        let key = self
            .key
            .map_or(0, |key| (key & !Self::FLAGS) | Self::HAS_KEY);
        key | status | Self::READ
    }

    fn from_word(word: u64) -> Self {
        RequestFacts {
            key: (word & Self::HAS_KEY != 0).then_some(word | Self::FLAGS),
            has_status: word & Self::HAS_STATUS != 0,
        }
    }
}

static REQUESTS_ALIVE: AtomicUsize = AtomicUsize::new(0);

impl RequestMark {
    pub(crate) fn new() -> Self {
        REQUESTS_ALIVE.fetch_add(1, Ordering::Relaxed);
        RequestMark { facts: 0 }
    }

    /// What `fields` (the span's) say, read once.
    pub(crate) fn facts(&mut self, fields: &Fields) -> RequestFacts {
        if self.facts == 0 {
            self.facts = RequestFacts {
                key: request_key(fields),
                has_status: has_status(fields),
            }
            .word();
        }
        RequestFacts::from_word(self.facts)
    }

    /// The span's fields changed: read them again when next asked.
    pub(crate) fn forget(&mut self) {
        self.facts = 0;
    }

    /// Whether any request span is alive.
    pub(crate) fn any_alive() -> bool {
        REQUESTS_ALIVE.load(Ordering::Relaxed) > 0
    }
}

/// Whether a request span's fields give its outcome already.
fn has_status(fields: &Fields) -> bool {
    fields
        .iter()
        .any(|(name, _)| is_status_field(name) || name == "rpc.grpc.status_code")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_facts_survive_their_word() {
        for key in [None, Some(1), Some(u64::MAX), Some(0x1234_5678_9abc_def1)] {
            for has_status in [false, true] {
                let facts = RequestFacts { key, has_status };
                assert_ne!(facts.word(), 0, "0 means not read yet");
                let back = RequestFacts::from_word(facts.word());
                assert_eq!(back.has_status, has_status);
                assert_eq!(back.key.is_some(), key.is_some());
                // The same key reads back the same, status or not: what the
                // repeat gate compares.
                let other = RequestFacts {
                    key,
                    has_status: !has_status,
                };
                assert_eq!(back.key, RequestFacts::from_word(other.word()).key);
            }
        }
        let one = RequestFacts::from_word(
            RequestFacts {
                key: Some(0x10),
                has_status: false,
            }
            .word(),
        );
        let two = RequestFacts::from_word(
            RequestFacts {
                key: Some(0x20),
                has_status: false,
            }
            .word(),
        );
        assert_ne!(one.key, two.key);
    }

    #[test]
    fn a_watch_keeps_its_serial_and_its_report_apart() {
        let watch = RequestWatch::new();
        assert_eq!((watch.was_reported(), watch.awaited()), (false, None));
        watch.report();
        let serial = watch.await_status();
        assert!(watch.was_reported());
        assert_eq!(watch.awaited(), Some(serial));
        assert_eq!(watch.await_status(), serial, "one serial per request");
        let quiet = RequestWatch::new();
        let other = quiet.await_status();
        assert_ne!(other, serial);
        assert!(!quiet.was_reported());
    }
}
