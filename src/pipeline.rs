//! The worker's synchronous stages, in order: `before_send` → sanitize →
//! dedup → digest → render. What comes out is a list of [`Message`]s for the
//! [`Courier`](crate::delivery::Courier) to deliver.

use std::sync::Arc;

use crate::alert::Alert;
use crate::builder::{BeforeSend, Config};
use crate::dedup::{Dedup, Verdict};
use crate::digest::{Digest, Route};
use crate::outbox::Message;
use crate::record::{FieldValue, Record};
use crate::render::{render_record, RenderContext};
use crate::stats::Counters;

/// The worker's processing state before delivery.
#[derive(Debug)]
pub(crate) struct Pipeline {
    config: Arc<Config>,
    dedup: Dedup,
    digest: Digest,
    counters: Arc<Counters>,
    /// `Counters::dropped_for_room` when the last message was rendered.
    dropped_reported: u64,
}

impl Pipeline {
    pub(crate) fn new(config: Arc<Config>, counters: Arc<Counters>) -> Self {
        Pipeline {
            config,
            dedup: Dedup,
            digest: Digest,
            counters,
            dropped_reported: 0,
        }
    }

    /// Runs the stages on one record and returns the messages to send: none
    /// (refused by `before_send`), one, or several pages of a long alert
    /// (the last page settles the record).
    pub(crate) fn prepare(&mut self, mut record: Record) -> Vec<Message> {
        if let Some(hook) = &self.config.before_send {
            if !run_hook(hook, &mut record) {
                self.counters.filter();
                return Vec::new();
            }
        }
        self.config.sanitizer.sanitize_record(&mut record);
        match self.dedup.admit(&record) {
            Verdict::Alert => {}
        }
        match self.digest.route(&record) {
            Route::Alert => {}
        }
        let dropped_total = self.counters.dropped_for_room();
        let context = RenderContext {
            service: &self.config.service,
            environment: &self.config.environment,
            max_traceback_lines: self.config.max_traceback_lines,
            max_field_len: self.config.max_field_len,
            max_fields: self.config.max_fields,
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

/// Shows the record to the user's hook as an [`Alert`] and applies what it
/// changed. Fields the hook left as they were keep their original values
/// (error chains included).
fn run_hook(hook: &BeforeSend, record: &mut Record) -> bool {
    let mut alert = Alert {
        level: record.level,
        title: record.title.clone().unwrap_or_default(),
        message: Some(record.message.clone()).filter(|m| !m.is_empty()),
        details: record
            .fields
            .iter()
            .map(|(name, value)| (name.clone(), value.to_string()))
            .collect(),
    };
    if !(hook.0)(&mut alert) {
        return false;
    }
    record.level = alert.level;
    record.title = Some(alert.title).filter(|t| !t.is_empty());
    record.message = alert.message.unwrap_or_default();
    let mut original = std::mem::take(&mut record.fields);
    record.fields = alert
        .details
        .into_iter()
        .map(|(name, text)| {
            let kept = original
                .iter()
                .position(|(n, v)| *n == name && v.to_string() == text)
                .map(|i| original.swap_remove(i).1);
            let value = kept.unwrap_or(FieldValue::Str(text));
            (name, value)
        })
        .collect();
    true
}
