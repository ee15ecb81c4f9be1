//! Records that wait a little for the request they happened in to end, so
//! that their alert names its status (`GET /stock/{id} → 503 Service
//! Unavailable · inventory lookup failed`).
//!
//! A handler that logs an `error!` and then answers 503 records the status
//! on its request span only after the event: the layer marks such a record
//! with the request's serial number and posts the span's final fields when
//! it closes (`channel::outcomes`). The worker holds the record until they
//! come, [`STATUS_WAIT`] at most, and never more than [`MAX_HELD`] records;
//! a flush or the shutdown lets them all go at once. A record let go without
//! its status is alerted as it was captured.

use std::time::{Duration, Instant};

use crate::record::Record;

use super::Worker;

/// How long a record waits for its request to end: longer than almost any
/// request takes to answer after logging its failure, short beside the
/// seconds an alert may take to reach the chat anyway.
pub(super) const STATUS_WAIT: Duration = Duration::from_secs(2);

/// How many records wait at once; past that, records go on without waiting.
const MAX_HELD: usize = 64;

/// How often the worker looks for the requests its records wait for (the
/// layer posts them without waking it).
const LOOK_INTERVAL: Duration = Duration::from_millis(20);

/// The records waiting, each with the moment it goes on regardless.
#[derive(Debug, Default)]
pub(super) struct Awaiting {
    held: Vec<(Record, Instant)>,
}

impl Awaiting {
    /// When the worker should look again, while something waits.
    pub(super) fn next_look(&self, now: Instant) -> Option<Instant> {
        let earliest = self.held.iter().map(|(_, until)| *until).min()?;
        Some(earliest.min(now + LOOK_INTERVAL))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

impl Worker {
    /// Holds a record that waits for its request to end (unless the request
    /// ended already: then it gets the status at once). `None` if it was
    /// held; the record to process now otherwise.
    pub(super) fn hold_for_status(&mut self, mut record: Record) -> Option<Record> {
        let Some(serial) = record.awaits_request else {
            return Some(record);
        };
        if let Some(fields) = self.outcomes.take(serial) {
            record.request_ended(fields);
            return Some(record);
        }
        let hurried = self.stopping.is_some() || !self.flushes.is_empty();
        if hurried || self.awaiting.held.len() >= MAX_HELD {
            return Some(record);
        }
        let until = Instant::now() + STATUS_WAIT;
        self.awaiting.held.push((record, until));
        None
    }

    /// Lets go of the records whose request ended, whose wait is over, or
    /// all of them (a flush or the shutdown waits), through the pipeline.
    pub(super) async fn release_awaiting(&mut self) {
        let everything = self.stopping.is_some() || !self.flushes.is_empty();
        let now = Instant::now();
        let held = std::mem::take(&mut self.awaiting.held);
        for (mut record, until) in held {
            let ended = record
                .awaits_request
                .and_then(|serial| self.outcomes.take(serial));
            match ended {
                Some(fields) => record.request_ended(fields),
                None if everything || now >= until => record.awaits_request = None,
                None => {
                    self.awaiting.held.push((record, until));
                    continue;
                }
            }
            self.process(record).await;
        }
    }
}
