//! Interactive alerts, the worker's part: long-polling the Bot API for
//! button presses while this process leads, and carrying them out.
//!
//! The poll is one request future the loop waits on beside everything
//! else (like a delivery in flight), so a flush or a shutdown never waits
//! for it; dropping it cancels it. Each poll first answers the presses the
//! last one brought (Telegram shows a spinner until then), then waits up to
//! `interactive_poll_timeout` for new ones. With a fleet, a process polls
//! only while it holds the leader lock in Redis (renewed before each poll),
//! so that Telegram never sees two pollers; the others check every poll
//! timeout whether the lock is free.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::chat::ChatId;
use crate::delivery::client::{ApiError, BotClient};
use crate::delivery::Delivered;
use crate::interact::callback::Action;
use crate::interact::press::{Press, PressJudge};
use crate::interact::updates::{next_offset, Update};
use crate::interact::InteractConfig;
use crate::render::actions::Stamp;

use super::Worker;

/// One poll: the presses it answered first, then the updates it got.
type PollRequest = Pin<Box<dyn Future<Output = Result<Vec<Update>, ApiError>> + Send>>;

/// The longest wait between failed polls.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// The most a shutdown spends answering the presses it still owes.
const MAX_GOODBYE: Duration = Duration::from_secs(1);

/// 409s in a row ("terminated by other getUpdates request") after which a
/// fleet process concludes another program polls the bot.
const MAX_FLEET_CONFLICTS: u32 = 3;

/// The worker's interactive state.
pub(super) struct Interaction {
    config: InteractConfig,
    judge: PressJudge,
    client: Arc<BotClient>,
    /// The next update to ask for (Telegram forgets those below it).
    offset: i64,
    /// Presses to answer with the next poll: query id and toast.
    answers: Vec<(String, String)>,
    poll: Option<PollRequest>,
    /// When to try polling (or taking the lead) next.
    next_poll: Instant,
    failures: u32,
    /// 409s in a row that said another poller ended ours.
    conflicts: u32,
    /// Whether a fleet shares the lead (then another poller may, for a
    /// moment, be this fleet's new leader while this one's poll ends).
    fleet: bool,
    /// Turned off for good (409: another program takes the bot's updates).
    off: bool,
}

impl std::fmt::Debug for Interaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interaction")
            .field("offset", &self.offset)
            .field("polling", &self.poll.is_some())
            .field("off", &self.off)
            .finish_non_exhaustive()
    }
}

impl Interaction {
    pub(super) fn new(
        config: InteractConfig,
        judge: PressJudge,
        client: Arc<BotClient>,
        fleet: bool,
    ) -> Self {
        Interaction {
            config,
            judge,
            client,
            offset: 0,
            answers: Vec::new(),
            poll: None,
            next_poll: Instant::now(),
            failures: 0,
            conflicts: 0,
            fleet,
            off: false,
        }
    }

    /// When the loop should wake to start a poll (`None`: one is running,
    /// or interactivity is off).
    pub(super) fn wake_at(&self) -> Option<Instant> {
        (!self.off && self.poll.is_none()).then_some(self.next_poll)
    }

    fn start(&mut self, leading: bool) {
        let answers = std::mem::take(&mut self.answers);
        let client = Arc::clone(&self.client);
        let (offset, wait) = (self.offset, self.config.poll_timeout);
        self.poll = Some(Box::pin(async move {
            for (id, toast) in answers {
                // A press left unanswered only shows a spinner a while.
                let _ = client.answer_callback_query(&id, &toast).await;
            }
            match leading {
                true => client.get_updates(offset, wait).await,
                false => Ok(Vec::new()),
            }
        }));
    }

    /// Why a failed poll turns interactivity off for good, if it does: a
    /// 409 (a webhook, or another program polling), or a revoked token.
    fn why_off(&mut self, error: &ApiError) -> Option<&'static str> {
        let ApiError::Rejected {
            code, description, ..
        } = error
        else {
            return None;
        };
        match code {
            409 => {
                self.conflicts += 1;
                // In a fleet, "terminated by other getUpdates request" may
                // be this fleet's new leader while this process's last poll
                // ends: only a conflict that persists is another program.
                let handover = self.fleet
                    && description.contains("other getUpdates")
                    && self.conflicts < MAX_FLEET_CONFLICTS;
                (!handover).then_some("a webhook or another program takes this bot's updates")
            }
            401 => Some("the bot token is invalid or revoked"),
            _ => None,
        }
    }

    fn retry_later(&mut self) {
        self.failures = self.failures.saturating_add(1);
        let backoff = Duration::from_secs(1) * 2u32.saturating_pow(self.failures.min(5) - 1);
        self.next_poll = Instant::now() + backoff.min(MAX_RETRY);
    }
}

/// Resolves when the poll does; pending if there is none.
pub(super) fn poll_done(
    slot: &mut Option<Interaction>,
) -> impl Future<Output = Result<Vec<Update>, ApiError>> + '_ {
    std::future::poll_fn(
        move |cx| match slot.as_mut().and_then(|i| i.poll.as_mut()) {
            Some(request) => request.as_mut().poll(cx),
            None => Poll::Pending,
        },
    )
}

impl Worker {
    /// Starts the next poll when one is due: this process must lead (a
    /// process that does not only answers what it still owes).
    pub(super) async fn poll_if_due(&mut self) {
        let due = self
            .interaction
            .as_ref()
            .and_then(Interaction::wake_at)
            .is_some_and(|at| Instant::now() >= at);
        if !due || self.stopping.is_some() {
            return;
        }
        let Some(ttl) = self.interaction.as_ref().map(|i| i.config.leader_ttl()) else {
            return;
        };
        let leading = self.fleet.lead(ttl, Instant::now()).await;
        if let Some(interaction) = &mut self.interaction {
            if leading || !interaction.answers.is_empty() {
                interaction.start(leading);
            }
            interaction.next_poll = Instant::now() + interaction.config.poll_timeout;
        }
    }

    /// Handles a poll's answer: carries out each press and queues its
    /// toast; a 409 turns interactivity off.
    pub(super) async fn on_updates(&mut self, result: Result<Vec<Update>, ApiError>) {
        let Some(interaction) = &mut self.interaction else {
            return;
        };
        interaction.poll = None;
        let updates = match result {
            Ok(updates) => updates,
            Err(error) => return self.poll_failed(&error),
        };
        interaction.failures = 0;
        interaction.conflicts = 0;
        interaction.next_poll = Instant::now();
        interaction.offset = next_offset(interaction.offset, &updates);
        let now = self.courier.clock().wall();
        let migrated = self.courier.migrated_chats();
        for query in updates.into_iter().filter_map(|u| u.callback_query) {
            let Some(interaction) = &self.interaction else {
                return;
            };
            let toast = match interaction.judge.judge(&query, now, &migrated) {
                Ok(press) => self.carry_out(press).await,
                Err(refusal) => refusal,
            };
            if let Some(interaction) = &mut self.interaction {
                interaction.answers.push((query.id, toast));
            }
        }
    }

    fn poll_failed(&mut self, error: &ApiError) {
        let Some(interaction) = &mut self.interaction else {
            return;
        };
        let Some(why) = interaction.why_off(error) else {
            interaction.retry_later();
            // Said at most once a minute (the reporter holds repeats back).
            self.reporter.notice(&format!(
                "interactive alerts: could not poll for button presses ({error}); retrying"
            ));
            return;
        };
        interaction.off = true;
        self.pipeline.disable_buttons();
        let reason = format!(
            "interactive alerts turned off: getUpdates answered {error} ({why}); alerts keep flowing, without buttons"
        );
        let reason = self.reporter.scrub(&reason);
        self.reporter.notice(&reason);
        self.counters.health.interactive_off(&reason);
    }

    /// Carries a press out; the toast its presser sees.
    async fn carry_out(&mut self, press: Press) -> String {
        let fp = press.fingerprint;
        let wall = self.courier.clock().wall();
        let (mut delivered, mut total) = self.alert_pressed(&press).await;
        let mut keep_for = self.pipeline.dedup_window();
        let mut fleet_told = true;
        match press.action {
            Action::Ack => delivered.notes.ack = Some(Stamp::new(&press.by, wall)),
            Action::Mute(duration) => {
                delivered.notes.mute = Some(Stamp::new(&press.by, wall + duration));
                if let Some(held) = self.pipeline.mute(fp, duration) {
                    total = total.max(held.total);
                }
                fleet_told = self.fleet.mute(fp, duration).await;
                keep_for = keep_for.max(duration);
            }
            Action::Unmute => {
                delivered.notes.mute = None;
                self.pipeline.unmute(fp);
                fleet_told = self.fleet.unmute(fp).await;
            }
        }
        self.pipeline.set_notes(&delivered);
        self.fleet.remember_for(&delivered, keep_for).await;
        // The alert's first line titles the edit (for the `on_sent` hook).
        let plain = crate::render::html_to_plain(&delivered.html);
        let title = plain.lines().next().unwrap_or("alert");
        let edit = self.pipeline.action_edit(&delivered, total, title);
        self.enqueue(edit);
        match fleet_told {
            true => press.toast(),
            // Honest about a mute only this process knows of.
            false => format!("{} (here only: Redis did not answer)", press.toast()),
        }
    }

    /// The pressed alert as delivered (with the notes the fleet stored) and
    /// its count so far; rebuilt from the pressed message's text if no one
    /// remembers it any more.
    async fn alert_pressed(&mut self, press: &Press) -> (Delivered, u64) {
        let fp = press.fingerprint;
        let held = self.pipeline.known_alert(fp);
        let total = held.as_ref().map_or(1, |(_, total)| *total);
        let stored = self.fleet.original(fp).await;
        let delivered = match (held, stored) {
            (Some((mut mine, _)), Some(stored)) => {
                mine.notes = stored.notes;
                Some(mine)
            }
            (Some((mine, _)), None) => Some(mine),
            (None, stored) => stored,
        };
        let delivered = delivered
            .filter(|d| d.message_id == press.message_id && !d.plain)
            .unwrap_or_else(|| rebuilt(press));
        (delivered, total)
    }

    /// Stops polling (shutdown), answers the presses still owed (within a
    /// quarter of the time left, at most 1 s) and gives the lead up.
    pub(super) async fn stop_interacting(&mut self, deadline: Instant) {
        let Some(interaction) = &mut self.interaction else {
            return;
        };
        interaction.poll = None;
        interaction.off = true;
        let answers = std::mem::take(&mut interaction.answers);
        let client = Arc::clone(&interaction.client);
        let budget = (deadline.saturating_duration_since(Instant::now()) / 4).min(MAX_GOODBYE);
        let answer_all = async move {
            for (id, toast) in answers {
                let _ = client.answer_callback_query(&id, &toast).await;
            }
        };
        let _ = tokio::time::timeout(budget, answer_all).await;
        self.fleet.resign().await;
    }
}

/// The pressed alert rebuilt from its text as users see it (the notes and
/// tally lines it showed are cut: they are added again).
fn rebuilt(press: &Press) -> Delivered {
    let text = press.text.as_deref().unwrap_or("alert");
    let cut = ["\n\n🔁 ×", "\n\n✅ Acknowledged by", "\n\n🔕 muted by"]
        .iter()
        .filter_map(|marker| text.find(marker))
        .min()
        .unwrap_or(text.len());
    let mut html = String::new();
    crate::render::html::escape_into(&mut html, &text[..cut]);
    Delivered {
        fingerprint: press.fingerprint,
        chat_id: ChatId::Id(press.chat_id),
        message_id: press.message_id,
        html,
        plain: false,
        notes: Default::default(),
    }
}

#[cfg(test)]
#[cfg(feature = "interactive")]
mod tests {
    use super::*;
    use crate::chat::BotToken;
    use crate::delivery::DeliveryConfig;
    use crate::interact::callback::CallbackKey;

    fn interaction(fleet: bool) -> Interaction {
        let token = BotToken::new("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
        let client = BotClient::new(&DeliveryConfig::default(), &token).unwrap();
        let key = CallbackKey::from_token(token.expose());
        let config = InteractConfig::default();
        let judge = PressJudge::new(key, config.mute_options.clone(), Vec::new(), Vec::new());
        Interaction::new(config, judge, Arc::new(client), fleet)
    }

    fn rejected(code: u16, description: &str) -> ApiError {
        ApiError::Rejected {
            code,
            description: description.to_owned(),
            retry_after: None,
            migrate_to: None,
        }
    }

    #[test]
    fn a_webhook_or_a_revoked_token_turns_it_off_at_once() {
        let webhook = rejected(
            409,
            "Conflict: can't use getUpdates method while webhook is active",
        );
        for fleet in [false, true] {
            assert!(interaction(fleet).why_off(&webhook).is_some());
            assert!(interaction(fleet)
                .why_off(&rejected(401, "Unauthorized"))
                .is_some());
            assert_eq!(
                interaction(fleet).why_off(&rejected(502, "Bad Gateway")),
                None
            );
        }
    }

    #[test]
    fn in_a_fleet_only_a_persisting_poller_conflict_turns_it_off() {
        let other = rejected(409, "Conflict: terminated by other getUpdates request");
        assert!(
            interaction(false).why_off(&other).is_some(),
            "alone: another program"
        );
        let mut member = interaction(true);
        assert_eq!(member.why_off(&other), None, "maybe the fleet's new leader");
        assert_eq!(member.why_off(&other), None);
        assert!(
            member.why_off(&other).is_some(),
            "three in a row: another program"
        );
    }
}
