//! Delivery: getting rendered messages into chats, and deciding what each
//! failure means.
//!
//! In: addressed [`Message`]s (from the pipeline, through the worker). Out:
//! Bot API requests, [`Delivered`] originals (for tallies to edit), and the
//! records each message settles, counted in `Stats`. The [`Courier`] owns
//! the [`Outbox`](outbox::Outbox) (one lane per chat, paced under Telegram's
//! limits) and the Bot API [`client`]. The worker asks it for the next
//! message that may go, runs the request future it returns (which borrows
//! nothing, so the worker stays responsive), and hands the result back to
//! [`Courier::settle`], which retries, falls back, migrates, or gives up —
//! never in a loop, and never silently.

mod check;
pub(crate) mod client;
pub(crate) mod outbox;
pub(crate) mod pacing;
pub(crate) mod retry;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::chat::ChatId;
use crate::clock::Clock;
use crate::health::Health;
use crate::hooks::call_user_hook;
use crate::interact::actions::AlertNotes;
use crate::render::html_to_plain;
use crate::report::Reporter;
use crate::stats::{Counters, Outcome};
use crate::text::panic_text;

use crate::hooks::{DeliveryFailure, OnFailure, OnSent, SentAlert};
use client::{
    ApiError, BotClient, EditMessageText, Failure, LinkPreviewOptions, ReplyParameters,
    SendDocument, SendMessage,
};
pub(crate) use outbox::{Document, Message, Outbox};
use pacing::Pacing;
use retry::RetryPolicy;

/// How delivery talks to the Bot API: where, how long it waits, how fast
/// and how often it tries, and whom it tells. The token is not here (it is
/// checked once and held by the client), nor the outbox's capacity (the
/// queue's, set in `Limits`).
#[derive(Debug, Clone)]
pub(crate) struct DeliveryConfig {
    /// The Bot API base URL, without a trailing `/`.
    pub(crate) api_url: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) pacing: Pacing,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_retry_after: Duration,
    pub(crate) protect_content: bool,
    pub(crate) on_sent: Option<OnSent>,
    pub(crate) on_failure: Option<OnFailure>,
    /// The application's own HTTP client (proxy, roots, local address);
    /// `None`: one built here (rustls, with webpki roots or, with the
    /// `native-roots` feature, the system's).
    pub(crate) http_client: Option<reqwest::Client>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            api_url: DEFAULT_API_URL.to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            pacing: Pacing::telegram(),
            retry: RetryPolicy::default(),
            max_retry_after: Duration::from_secs(5 * 60),
            protect_content: false,
            on_sent: None,
            on_failure: None,
            http_client: None,
        }
    }
}

/// The public Bot API endpoint.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// Where the original alert of a fingerprint was delivered (stored in Redis
/// too, so that any process of a fleet can edit it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Delivered {
    pub(crate) fingerprint: u64,
    pub(crate) chat_id: ChatId,
    pub(crate) message_id: i64,
    /// The first page as sent (HTML), to append the tally to.
    pub(crate) html: String,
    /// `true` if it was sent as plain text (then it is not edited).
    pub(crate) plain: bool,
    /// Who acknowledged or muted it (interactive alerts), shown with every
    /// edit.
    #[serde(default)]
    pub(crate) notes: AlertNotes,
}

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
    reporter: Arc<Reporter>,
    on_sent: Option<OnSent>,
    on_failure: Option<OnFailure>,
    /// The chat errors go to: losing it makes delivery dark.
    main_chat: ChatId,
    /// First pages of deduplicated alerts delivered since the last take.
    deliveries: Vec<Delivered>,
    /// A hook's last panic (the hook's name and message), not yet reported.
    hook_panic: Option<(&'static str, String)>,
    /// Why delivery just went dark, not yet told to the worker.
    went_dark: Option<String>,
    /// When the last "still dark" line was printed.
    reminded_at: Option<Instant>,
}

/// How often, while delivery is dark, a line on stderr says so.
const DARK_REMINDER: Duration = Duration::from_secs(5 * 60);

impl Courier {
    /// A courier sending through `client`, paced and retried as `config`
    /// says, waiting on `clock`.
    pub(crate) fn new(
        config: DeliveryConfig,
        main_chat: ChatId,
        outbox_capacity: usize,
        client: BotClient,
        clock: Clock,
        counters: Arc<Counters>,
        reporter: Arc<Reporter>,
    ) -> Self {
        Courier {
            outbox: Outbox::new(config.pacing, outbox_capacity),
            client: Arc::new(client),
            retry: config.retry,
            max_retry_after: config.max_retry_after,
            protect_content: config.protect_content,
            clock,
            counters,
            reporter,
            on_sent: config.on_sent,
            on_failure: config.on_failure,
            main_chat,
            deliveries: Vec::new(),
            hook_panic: None,
            went_dark: None,
            reminded_at: None,
        }
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The chats alerts go to since a migration (their buttons may be
    /// pressed there).
    pub(crate) fn migrated_chats(&self) -> Vec<ChatId> {
        self.outbox.migrated()
    }

    /// The Bot API client (interactive alerts poll through it too).
    pub(crate) fn client(&self) -> Arc<BotClient> {
        Arc::clone(&self.client)
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
                        reply_markup: message.keyboard.as_ref(),
                    };
                    let result = client
                        .edit_message_text(&request)
                        .await
                        .map(|()| message_id);
                    (message, result)
                }) as Request,
            ));
        }
        if message.document.is_some() {
            return Ok((
                records,
                Box::pin(async move {
                    let result = match &message.document {
                        Some(document) => {
                            let request = SendDocument {
                                chat_id: &chat_id,
                                message_thread_id: message.thread_id,
                                reply_to: message.reply_to,
                                caption: &message.text,
                                file_name: &document.file_name,
                                content: &document.content,
                            };
                            client.send_document(&request).await
                        }
                        // Checked above; a message is never both.
                        None => Err(ApiError::NotBotApi("no document".to_owned())),
                    };
                    (message, result)
                }),
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
                    reply_markup: message.keyboard.as_ref(),
                    reply_parameters: ReplyParameters::to(message.reply_to),
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
                self.go_dark(&reason);
                let queued = self.outbox.close_all(reason.clone());
                self.fail_all(message, queued, &reason);
            }
            Failure::ChatUnavailable => {
                let chat = self.outbox.send_to(&message.chat_id);
                let reason =
                    format!("{error}: chat {chat} cannot be reached; sending to it stopped");
                if message.chat_id == self.main_chat {
                    self.go_dark(&reason);
                }
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
        self.counters.health.delivered();
        self.counters.settle(Outcome::Sent, message.records);
        self.audit(&message, message_id);
        if let Some(fingerprint) = message.fingerprint {
            self.deliveries.push(Delivered {
                fingerprint,
                chat_id: self.outbox.send_to(&message.chat_id),
                message_id,
                html: message.text,
                plain: message.plain,
                notes: AlertNotes::default(),
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
        let outcome = call_user_hook(|| hook(&sent));
        if let Err(payload) = outcome {
            self.hook_panic = Some(("on_sent", panic_text(payload.as_ref())));
        }
    }

    /// The hook and message of a hook's panic since the last call, if one
    /// panicked (the worker has the pipeline report it).
    pub(crate) fn take_hook_panic(&mut self) -> Option<(&'static str, String)> {
        self.hook_panic.take()
    }

    /// Why delivery went dark, once (the worker has the fallback chat told).
    pub(crate) fn take_went_dark(&mut self) -> Option<String> {
        self.went_dark.take()
    }

    /// Marks delivery dark: nothing reaches the main chat any more.
    fn go_dark(&mut self, reason: &str) {
        let reason = self.reporter.scrub(reason);
        if self.counters.health.dark(&reason) {
            self.went_dark = Some(reason);
        }
    }

    /// When the next reminder on stderr that delivery is dark is due
    /// (`None`: not dark).
    pub(crate) fn next_reminder(&self, now: Instant) -> Option<Instant> {
        match self.counters.health.get() {
            Health::Dark { .. } => Some(self.reminded_at.map_or(now, |at| at + DARK_REMINDER)),
            _ => None,
        }
    }

    /// Says on stderr that delivery is dark, if it is and the last reminder
    /// is old enough; returns when the next one is due.
    pub(crate) fn remind_if_dark(&mut self, now: Instant) -> Option<Instant> {
        let Health::Dark { reason, since } = self.counters.health.get() else {
            return None;
        };
        let due = self.reminded_at.map_or(now, |at| at + DARK_REMINDER);
        if now >= due {
            let since = crate::render::time::format_utc(since);
            self.reporter.notice(&format!(
                "alerts are not being delivered (dark since {since}): {reason}"
            ));
            self.reminded_at = Some(now);
            return Some(now + DARK_REMINDER);
        }
        Some(due)
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
        let reason = self.reporter.delivery_failed(reason);
        self.counters.health.degraded(&reason);
        self.tell_failure(records, &reason);
        self.counters.fail(records, reason);
    }

    /// Tells the `on_delivery_failure` hook; a panic in it is caught.
    fn tell_failure(&mut self, records: u64, reason: &str) {
        let Some(hook) = &self.on_failure else {
            return;
        };
        let failure = DeliveryFailure {
            reason: reason.to_owned(),
            records,
            health: self.counters.health.get(),
        };
        let hook = Arc::clone(&hook.0);
        if let Err(payload) = call_user_hook(|| hook(&failure)) {
            self.hook_panic = Some(("on_delivery_failure", panic_text(payload.as_ref())));
        }
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
        if let ApiError::NotBotApi(_) = error {
            // Counted and said at once: it is retried, so it may never fail.
            let reason = self.reporter.scrub(&error.to_string());
            self.reporter.notice(&format!(
                "{reason}; retrying (a proxy or the network in between?)"
            ));
            self.counters.unreadable_answer(reason);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::BotToken;

    fn courier() -> Courier {
        let config = DeliveryConfig::default();
        let token = BotToken::new("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
        let client = BotClient::new(&config, &token).unwrap();
        let reporter = Arc::new(Reporter::new(crate::sanitize::Sanitizer::new()));
        Courier::new(
            config,
            ChatId::Id(-100),
            8,
            client,
            Clock::System,
            Arc::new(Counters::default()),
            reporter,
        )
    }

    #[test]
    fn while_dark_a_reminder_is_due_every_five_minutes() {
        let mut courier = courier();
        let start = Instant::now();
        assert_eq!(courier.remind_if_dark(start), None, "not dark");
        courier.go_dark("403 Forbidden: bot was kicked");
        assert_eq!(
            courier.take_went_dark().as_deref(),
            Some("403 Forbidden: bot was kicked")
        );
        assert_eq!(courier.take_went_dark(), None, "told once");
        assert_eq!(courier.remind_if_dark(start), Some(start + DARK_REMINDER));
        assert_eq!(courier.reminded_at, Some(start));
        let later = start + Duration::from_secs(60);
        assert_eq!(courier.remind_if_dark(later), Some(start + DARK_REMINDER));
        assert_eq!(courier.reminded_at, Some(start), "not reminded again yet");
        let due = start + DARK_REMINDER;
        assert_eq!(courier.remind_if_dark(due), Some(due + DARK_REMINDER));
        assert_eq!(courier.reminded_at, Some(due));
    }
}
