//! The worker's synchronous stages, in order: sanitize → dedup → digest →
//! render. What comes out is a list of [`Message`]s for the
//! [`Courier`](crate::delivery::Courier) to deliver.

use std::sync::Arc;

use crate::builder::Config;
use crate::dedup::{Dedup, Verdict};
use crate::digest::{Digest, Route};
use crate::outbox::Message;
use crate::record::Record;
use crate::render::{render_record, RenderContext};
use crate::sanitize::Sanitizer;
use crate::stats::Counters;

/// The worker's processing state before delivery.
#[derive(Debug)]
pub(crate) struct Pipeline {
    config: Arc<Config>,
    sanitizer: Sanitizer,
    dedup: Dedup,
    digest: Digest,
    counters: Arc<Counters>,
    /// `Counters::dropped` when the last message was rendered.
    dropped_reported: u64,
}

impl Pipeline {
    pub(crate) fn new(config: Arc<Config>, counters: Arc<Counters>) -> Self {
        Pipeline {
            sanitizer: Sanitizer::new(config.token.expose()),
            config,
            dedup: Dedup,
            digest: Digest,
            counters,
            dropped_reported: 0,
        }
    }

    /// Runs the stages on one record and returns the messages to send: one,
    /// or several pages of a long alert (the last page settles the record).
    pub(crate) fn prepare(&mut self, mut record: Record) -> Vec<Message> {
        self.sanitizer.sanitize_record(&mut record);
        match self.dedup.admit(&record) {
            Verdict::Alert => {}
        }
        match self.digest.route(&record) {
            Route::Alert => {}
        }
        let dropped_total = self.counters.dropped();
        let context = RenderContext {
            service: &self.config.service,
            environment: &self.config.environment,
            max_traceback_lines: self.config.max_traceback_lines,
            dropped_since_last: dropped_total.saturating_sub(self.dropped_reported),
            max_messages: 1 + self.config.max_continuation_messages,
        };
        self.dropped_reported = dropped_total;
        let pages = render_record(&record, &context);
        let target = self.config.routes.target(record.level);
        let last = pages.len().saturating_sub(1);
        pages
            .into_iter()
            .enumerate()
            .map(|(index, text)| Message {
                chat_id: target.chat_id.clone(),
                thread_id: target.thread_id,
                text,
                plain: false,
                // Only the first page of an alert may notify.
                silent: record.level.is_silent() || index > 0,
                records: u64::from(index == last),
                attempts: 0,
                seq: 0,
                first_attempt: None,
            })
            .collect()
    }
}
