//! Which kinds of record were dropped at a full queue, for the next digest.
//!
//! Only the drop path (an overloaded queue) touches this, and it never
//! waits: the table is taken with `try_lock`, kinds are told apart by their
//! callsite (no formatting, no normalising on the application's thread),
//! and what cannot be recorded by kind is still counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};

use crate::record::{Origin, Record};

/// Most kinds remembered per digest window.
const MAX_KINDS: usize = 64;

/// The records dropped at a full queue since the last take, by kind.
#[derive(Debug, Default)]
pub(crate) struct DropTally {
    kinds: Mutex<HashMap<usize, DroppedKind>>,
    /// Drops that could not be recorded by kind (table busy or full).
    unnamed: AtomicU64,
}

/// One kind of dropped record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DroppedKind {
    pub(crate) target: String,
    /// The first dropped record's message (sanitized by the digest).
    pub(crate) message: String,
    pub(crate) count: u64,
}

impl DropTally {
    /// Notes a dropped record.
    pub(crate) fn note(&self, record: &Record) {
        let (key, target) = match record.origin {
            // The callsite's metadata is a static: one per callsite.
            Origin::Event(metadata) => (std::ptr::from_ref(metadata) as usize, metadata.target()),
            Origin::Manual => (0, "manual alerts"),
        };
        let mut kinds = match self.kinds.try_lock() {
            Ok(kinds) => kinds,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                self.unnamed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        if let Some(kind) = kinds.get_mut(&key) {
            kind.count += 1;
        } else if kinds.len() < MAX_KINDS {
            let message = record
                .title
                .clone()
                .unwrap_or_else(|| record.message.to_string());
            kinds.insert(
                key,
                DroppedKind {
                    target: target.to_owned(),
                    message,
                    count: 1,
                },
            );
        } else {
            self.unnamed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The kinds dropped since the last call, and how many drops could not
    /// be told apart.
    pub(crate) fn take(&self) -> (Vec<DroppedKind>, u64) {
        let kinds = std::mem::take(&mut *self.kinds.lock().unwrap_or_else(PoisonError::into_inner));
        let unnamed = self.unnamed.swap(0, Ordering::Relaxed);
        (kinds.into_values().collect(), unnamed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertLevel;
    use crate::record::{Captured, Occurrence};
    use crate::text::Text;

    fn manual(message: &str) -> Record {
        Record::new(
            AlertLevel::Error,
            Occurrence::Alert,
            Origin::Manual,
            Text::new(message),
            Captured::default(),
        )
    }

    #[test]
    fn drops_are_counted_by_kind_and_taken_once() {
        let tally = DropTally::default();
        for _ in 0..3 {
            tally.note(&manual("disk full"));
        }
        let (kinds, unnamed) = tally.take();
        assert_eq!(unnamed, 0);
        assert_eq!(
            kinds,
            vec![DroppedKind {
                target: "manual alerts".into(),
                message: "disk full".into(),
                count: 3
            }]
        );
        assert_eq!(tally.take(), (Vec::new(), 0));
    }
}
