//! The worker's stages, in order: sanitize → dedup → digest → render →
//! deliver → settle.
//!
//! [`Pipeline::prepare`] runs the synchronous stages and yields what to send;
//! [`Pipeline::deliver`] returns a future that owns everything it needs, so
//! the worker loop can keep listening for flush and shutdown requests while a
//! request is in flight (and drop it at a shutdown deadline);
//! [`Pipeline::settle`] records the outcome.

use std::future::Future;
use std::sync::Arc;

use crate::builder::Config;
use crate::dedup::{Dedup, Verdict};
use crate::digest::{Digest, Route};
use crate::record::Record;
use crate::render::{render_record, RenderContext};
use crate::sanitize::Sanitizer;
use crate::stats::{Counters, Outcome};
use crate::telegram::{ApiError, BotClient, LinkPreviewOptions, SendMessage};

/// A rendered message, ready to send.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) html: String,
    pub(crate) silent: bool,
    /// How many records this message settles.
    pub(crate) records: u64,
}

/// The result of one delivery.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) records: u64,
    pub(crate) result: Result<i64, ApiError>,
}

/// The worker's processing state.
#[derive(Debug)]
pub(crate) struct Pipeline {
    config: Arc<Config>,
    sanitizer: Sanitizer,
    dedup: Dedup,
    digest: Digest,
    client: Arc<BotClient>,
    counters: Arc<Counters>,
    /// `Counters::dropped` when the last message was rendered.
    dropped_reported: u64,
    /// The last failure written to stderr, so a dead API does not flood it.
    last_reported_failure: Option<String>,
}

impl Pipeline {
    pub(crate) fn new(config: Arc<Config>, client: BotClient, counters: Arc<Counters>) -> Self {
        Pipeline {
            sanitizer: Sanitizer::new(config.token.expose()),
            config,
            dedup: Dedup,
            digest: Digest,
            client: Arc::new(client),
            counters,
            dropped_reported: 0,
            last_reported_failure: None,
        }
    }

    /// Runs the synchronous stages on one record.
    pub(crate) fn prepare(&mut self, mut record: Record) -> Outgoing {
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
        };
        self.dropped_reported = dropped_total;
        Outgoing {
            html: render_record(&record, &context),
            silent: record.level.is_silent(),
            records: 1,
        }
    }

    /// Sends a message; the future borrows nothing from the pipeline.
    pub(crate) fn deliver(
        &self,
        outgoing: Outgoing,
    ) -> impl Future<Output = Delivery> + Send + 'static {
        let client = Arc::clone(&self.client);
        let config = Arc::clone(&self.config);
        async move {
            let request = SendMessage {
                chat_id: &config.chat_id,
                text: &outgoing.html,
                parse_mode: Some("HTML"),
                message_thread_id: config.thread_id,
                disable_notification: outgoing.silent,
                link_preview_options: LinkPreviewOptions { is_disabled: true },
            };
            let result = client.send_message(&request).await;
            Delivery {
                records: outgoing.records,
                result,
            }
        }
    }

    /// Records the outcome of a delivery.
    pub(crate) fn settle(&mut self, delivery: Delivery) {
        match delivery.result {
            Ok(_message_id) => self.counters.settle(Outcome::Sent, delivery.records),
            Err(error) => self.fail(delivery.records, &error.to_string()),
        }
    }

    /// Counts `records` as failed for `reason` (scrubbed of secrets), and
    /// says so on stderr when the reason is new. Never through `tracing`:
    /// that would feed back into the layer.
    pub(crate) fn fail(&mut self, records: u64, reason: &str) {
        let reason = self.sanitizer.scrub(reason).into_owned();
        if self.last_reported_failure.as_deref() != Some(reason.as_str()) {
            eprintln!("tracing-telegram: could not deliver an alert: {reason}");
            self.last_reported_failure = Some(reason.clone());
        }
        self.counters.fail(records, reason);
    }
}
