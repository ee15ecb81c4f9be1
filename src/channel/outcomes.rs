//! How requests ended, for the records that wait to be titled with it.
//!
//! An alert captured inside an HTTP request span whose status is not known
//! yet (an `error!` in a handler that goes on to answer 503) is titled with
//! the status the span records when it closes: the layer marks the record
//! with the request's serial number, and posts the span's final fields here
//! when it closes; the worker holds the record a short while
//! (`worker::awaiting`) and takes them. Posted only for requests a record
//! waits for, and bounded: a request whose record never comes (dropped from
//! a full queue) is forgotten after [`CAPACITY`] others.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::record::Fields;

/// How many ended requests are kept for records still on their way.
const CAPACITY: usize = 256;

/// Shared by the layer (which posts) and the worker (which takes).
#[derive(Debug, Default)]
pub(crate) struct RequestOutcomes {
    ended: Mutex<VecDeque<(u64, Arc<Fields>)>>,
}

impl RequestOutcomes {
    /// A request's serial number, never handed out before in this process
    /// (span ids are reused as soon as a span closes: these are not).
    pub(crate) fn next_serial() -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    /// The request `serial` ended with these fields.
    pub(crate) fn post(&self, serial: u64, fields: Arc<Fields>) {
        // A panic while the lock was held cannot leave the queue half
        // changed (push and pop are whole): the poison is ignored.
        let mut ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        if ended.len() == CAPACITY {
            ended.pop_front();
        }
        ended.push_back((serial, fields));
    }

    /// The fields request `serial` ended with, if it has ended.
    pub(crate) fn take(&self, serial: u64) -> Option<Arc<Fields>> {
        let mut ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        let at = ended.iter().position(|(posted, _)| *posted == serial)?;
        ended.remove(at).map(|(_, fields)| fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_is_taken_once_and_the_oldest_go_first() {
        let outcomes = RequestOutcomes::default();
        for serial in 0..(CAPACITY as u64 + 1) {
            outcomes.post(serial, Arc::new(Fields::new()));
        }
        assert!(outcomes.take(0).is_none(), "the oldest was forgotten");
        assert!(outcomes.take(7).is_some());
        assert!(outcomes.take(7).is_none());
        assert!(RequestOutcomes::next_serial() < RequestOutcomes::next_serial());
    }
}
