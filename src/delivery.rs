//! Delivery: sending queued messages, and deciding what each failure means.
//!
//! The [`Courier`] owns the [`Outbox`] and the Bot API client. The worker
//! asks it for the next message that may go, runs the request future it
//! returns (which borrows nothing, so the worker stays responsive), and
//! hands the result back to [`Courier::settle`], which retries, falls back,
//! migrates, or gives up — never in a loop, and never silently.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::audit::{OnSent, SentAlert};
use crate::builder::{ChatId, Config};
use crate::check::{CheckProblem, CheckReport};
use crate::clock::Clock;
use crate::dedup::Delivered;
use crate::outbox::{Message, Outbox};
use crate::render::html_to_plain;
use crate::retry::RetryPolicy;
use crate::route::Target;
use crate::sanitize::Sanitizer;
use crate::stats::{Counters, Outcome};
use crate::telegram::{
    ApiError, BotClient, EditMessageText, Failure, LinkPreviewOptions, SendMessage,
};

/// How long to wait after a 429 that gives no `retry_after`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A request in flight: the message comes back with the result.
pub(crate) type Sent = (Message, Result<i64, ApiError>);

/// The future of one request; it borrows nothing from the courier.
pub(crate) type Request = std::pin::Pin<Box<dyn Future<Output = Sent> + Send>>;

/// Sends messages and handles the answers.
#[derive(Debug)]
pub(crate) struct Courier {
    outbox: Outbox,
    client: Arc<BotClient>,
    retry: RetryPolicy,
    max_retry_after: Duration,
    protect_content: bool,
    clock: Clock,
    counters: Arc<Counters>,
    reporter: Reporter,
    on_sent: Option<OnSent>,
    /// First pages of deduplicated alerts delivered since the last take.
    deliveries: Vec<Delivered>,
}

impl Courier {
    pub(crate) fn new(config: &Config, client: BotClient, counters: Arc<Counters>) -> Self {
        Courier {
            outbox: Outbox::new(config.pacing, config.queue_capacity),
            client: Arc::new(client),
            retry: config.retry,
            max_retry_after: config.max_retry_after,
            protect_content: config.protect_content,
            clock: config.clock.clone(),
            counters,
            reporter: Reporter::new(config.sanitizer.clone()),
            on_sent: config.on_sent.clone(),
            deliveries: Vec::new(),
        }
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn has_room(&self) -> bool {
        self.outbox.has_room()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.outbox.is_empty()
    }

    /// Queues a message (or fails it at once if its chat is unreachable).
    pub(crate) fn enqueue(&mut self, message: Message) {
        if let Err((records, reason)) = self.outbox.push(message) {
            self.fail(records, &reason);
        }
    }

    /// The request for the next message that may go now, with the number
    /// of records it settles; or else the instant one will be ready (`None`:
    /// nothing is queued).
    pub(crate) fn next_request(&mut self) -> Result<(u64, Request), Option<Instant>> {
        let message = self.outbox.pop_ready(self.clock.now())?;
        let records = message.records;
        let chat_id = self.outbox.send_to(&message.chat_id);
        let client = Arc::clone(&self.client);
        let protect_content = self.protect_content;
        if let Some(message_id) = message.edit {
            return Ok((
                records,
                Box::pin(async move {
                    let request = EditMessageText {
                        chat_id: &chat_id,
                        message_id,
                        text: &message.text,
                        parse_mode: "HTML",
                        link_preview_options: LinkPreviewOptions { is_disabled: true },
                    };
                    let result = client
                        .edit_message_text(&request)
                        .await
                        .map(|()| message_id);
                    (message, result)
                }) as Request,
            ));
        }
        Ok((
            records,
            Box::pin(async move {
                let request = SendMessage {
                    chat_id: &chat_id,
                    text: &message.text,
                    parse_mode: (!message.plain).then_some("HTML"),
                    message_thread_id: message.thread_id,
                    disable_notification: message.silent,
                    protect_content,
                    link_preview_options: LinkPreviewOptions { is_disabled: true },
                };
                let result = client.send_message(&request).await;
                (message, result)
            }),
        ))
    }

    /// Handles the answer to a request.
    pub(crate) fn settle(&mut self, (message, result): Sent) {
        let error = match result {
            Ok(message_id) => return self.delivered(message, message_id),
            Err(error) if message.edit.is_some() && error.is_not_modified() => {
                let message_id = message.edit.unwrap_or_default();
                return self.delivered(message, message_id);
            }
            Err(error) => error,
        };
        if message.edit.is_some() && !error.classify().is_retryable() {
            return self.edit_refused(message, &error);
        }
        let now = self.clock.now();
        match error.classify() {
            Failure::RateLimited(retry_after) => self.rate_limited(message, retry_after, now),
            Failure::Transient => self.transient(message, &error, now),
            Failure::Markup if !message.plain => self.resend_as_plain(message),
            Failure::Migrated(new_id) => self.migrate(message, new_id, &error),
            Failure::Unauthorized => {
                let reason =
                    format!("{error}: the bot token is invalid or revoked; sending stopped");
                let queued = self.outbox.close_all(reason.clone());
                self.fail_all(message, queued, &reason);
            }
            Failure::ChatUnavailable => {
                let chat = self.outbox.send_to(&message.chat_id);
                let reason =
                    format!("{error}: chat {chat} cannot be reached; sending to it stopped");
                let queued = self.outbox.close_lane(&message.chat_id, reason.clone());
                self.fail_all(message, queued, &reason);
            }
            Failure::Markup | Failure::Permanent => self.fail(message.records, &error.to_string()),
        }
    }

    /// The first pages of deduplicated alerts delivered since the last call.
    pub(crate) fn take_deliveries(&mut self) -> Vec<Delivered> {
        std::mem::take(&mut self.deliveries)
    }

    fn delivered(&mut self, message: Message, message_id: i64) {
        self.counters.settle(Outcome::Sent, message.records);
        self.audit(&message, message_id);
        if let Some(fingerprint) = message.fingerprint {
            self.deliveries.push(Delivered {
                fingerprint,
                chat_id: self.outbox.send_to(&message.chat_id),
                message_id,
                html: message.text,
                plain: message.plain,
            });
        }
    }

    /// A tally could not edit its alert (too old, deleted): send it as a
    /// follow-up message instead.
    fn edit_refused(&mut self, mut message: Message, error: &ApiError) {
        match message.fallback.take() {
            Some(fallback) => {
                message.text = fallback;
                message.edit = None;
                message.attempts = 0;
                message.first_attempt = None;
                self.outbox.requeue(message, None);
            }
            None => self.fail(message.records, &error.to_string()),
        }
    }

    /// Tells the `on_sent` hook; a panic in it is caught (the worker must not die).
    fn audit(&mut self, message: &Message, message_id: i64) {
        let Some(hook) = &self.on_sent else {
            return;
        };
        let sent = SentAlert {
            level: message.level,
            title: message.title.clone(),
            chat_id: self.outbox.send_to(&message.chat_id),
            thread_id: message.thread_id,
            message_id,
        };
        let hook = Arc::clone(&hook.0);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&sent)));
        if outcome.is_err() {
            self.reporter
                .notice("the on_sent hook panicked; the alert was delivered");
        }
    }

    /// Checks the token and every destination with a test message.
    pub(crate) async fn check(&self, targets: &[Target], greeting: &str) -> CheckReport {
        let mut report = CheckReport::default();
        match self.client.get_me().await {
            Ok(bot) => report.bot_username = bot.username.or(Some(bot.id.to_string())),
            Err(error) => {
                report.problems.push(match error.classify() {
                    Failure::Unauthorized => CheckProblem::InvalidToken,
                    _ => CheckProblem::ApiUnreachable {
                        reason: self
                            .reporter
                            .sanitizer
                            .sanitize(&error.to_string())
                            .into_owned(),
                    },
                });
                return report;
            }
        }
        for target in targets {
            let destination = match target.thread_id {
                Some(thread) => format!("chat {} topic {thread}", target.chat_id),
                None => format!("chat {}", target.chat_id),
            };
            let request = SendMessage {
                chat_id: &target.chat_id,
                text: greeting,
                parse_mode: None,
                message_thread_id: target.thread_id,
                disable_notification: true,
                protect_content: self.protect_content,
                link_preview_options: LinkPreviewOptions { is_disabled: true },
            };
            let Err(error) = self.client.send_message(&request).await else {
                report.reachable.push(destination);
                continue;
            };
            let reason = self
                .reporter
                .sanitizer
                .sanitize(&error.to_string())
                .into_owned();
            report
                .problems
                .push(match (error.classify(), target.thread_id) {
                    (Failure::Unauthorized, _) => CheckProblem::InvalidToken,
                    (Failure::Transient | Failure::RateLimited(_), _) => {
                        CheckProblem::ApiUnreachable { reason }
                    }
                    (Failure::ChatUnavailable, _) => CheckProblem::ChatUnreachable {
                        chat: target.chat_id.to_string(),
                        reason,
                    },
                    (_, Some(thread_id)) if reason.contains("thread not found") => {
                        CheckProblem::TopicMissing {
                            chat: target.chat_id.to_string(),
                            thread_id,
                        }
                    }
                    _ => CheckProblem::Rejected {
                        destination,
                        reason,
                    },
                });
        }
        report
    }

    /// Counts everything still queued as failed (shutdown deadline).
    pub(crate) fn abandon(&mut self, reason: &str) {
        let records = self.outbox.drain().iter().map(|m| m.records).sum();
        if records > 0 {
            self.fail(records, reason);
        }
    }

    /// Counts `records` as failed and reports why.
    pub(crate) fn fail(&mut self, records: u64, reason: &str) {
        let reason = self.reporter.report(reason);
        self.counters.fail(records, reason);
    }

    fn fail_all(&mut self, message: Message, queued: Vec<Message>, reason: &str) {
        let records = message.records + queued.iter().map(|m| m.records).sum::<u64>();
        self.fail(records, reason);
    }

    fn rate_limited(&mut self, message: Message, retry_after: Option<Duration>, now: Instant) {
        self.counters.rate_limited();
        let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
        let until = now + wait;
        if wait > self.max_retry_after {
            self.outbox.block(&message.chat_id, until);
            let reason = format!(
                "rate limited by Telegram for {wait:?}, longer than max_retry_after ({:?})",
                self.max_retry_after
            );
            self.fail(message.records, &reason);
            return;
        }
        self.counters.retry();
        self.outbox.requeue(message, Some(until));
    }

    fn transient(&mut self, message: Message, error: &ApiError, now: Instant) {
        let backoff = self.retry.backoff(message.attempts);
        let elapsed = message
            .first_attempt
            .map_or(Duration::ZERO, |first| now.saturating_duration_since(first));
        if message.attempts >= self.retry.max_attempts || elapsed + backoff > self.retry.budget {
            let reason = format!("{error} (gave up after {} attempts)", message.attempts);
            self.fail(message.records, &reason);
            return;
        }
        self.counters.retry();
        self.outbox.requeue(message, Some(now + backoff));
    }

    fn resend_as_plain(&mut self, mut message: Message) {
        self.counters.plain_text_fallback();
        self.reporter.notice(
            "Telegram rejected an alert's HTML; it was resent as plain text (please report this as a bug)",
        );
        message.text = html_to_plain(&message.text);
        message.plain = true;
        self.outbox.requeue(message, None);
    }

    fn migrate(&mut self, message: Message, new_id: i64, error: &ApiError) {
        let old = self.outbox.send_to(&message.chat_id);
        if !self.outbox.migrate(&message.chat_id, ChatId::Id(new_id)) {
            self.fail(message.records, &error.to_string());
            return;
        }
        self.counters.chat_migration();
        self.reporter.notice(&format!(
            "chat {old} was upgraded to supergroup {new_id}; sending there from now on (update the configured chat id)"
        ));
        self.outbox.requeue(message, None);
    }
}

/// Reports the worker's own trouble on stderr — never through `tracing`,
/// which would feed back into the layer — scrubbed of secrets, and without
/// repeating itself.
#[derive(Debug)]
struct Reporter {
    sanitizer: Sanitizer,
    last: Option<String>,
}

impl Reporter {
    fn new(sanitizer: Sanitizer) -> Self {
        Reporter {
            sanitizer,
            last: None,
        }
    }

    /// Prints `reason` unless it was the last thing printed; returns it scrubbed.
    fn report(&mut self, reason: &str) -> String {
        let reason = self.sanitizer.sanitize(reason).into_owned();
        if self.last.as_deref() != Some(reason.as_str()) {
            eprintln!("tracing-telegram: could not deliver an alert: {reason}");
            self.last = Some(reason.clone());
        }
        reason
    }

    /// Prints a notice that is not a failure.
    pub(crate) fn notice(&mut self, notice: &str) {
        let notice = self.sanitizer.sanitize(notice).into_owned();
        if self.last.as_deref() != Some(notice.as_str()) {
            eprintln!("tracing-telegram: {notice}");
            self.last = Some(notice);
        }
    }
}
