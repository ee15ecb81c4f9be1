//! Interactive alerts, the worker's part: deciding whether this process
//! leads the polling, and carrying presses out (see `interact::poller` for
//! the poll itself).
//!
//! The poll is one request future the loop waits on beside everything
//! else (like a delivery in flight), so a flush or a shutdown never waits
//! for it; dropping it cancels it. Each poll first answers the presses the
//! last one brought (Telegram shows a spinner until then), then waits up to
//! `interactive_poll_timeout` for new ones. With a fleet, a process polls
//! only while it holds the leader lock in Redis (renewed before each poll),
//! so that Telegram never sees two pollers; the others check every poll
//! timeout whether the lock is free.

use std::time::{Duration, Instant};

use crate::chat::ChatId;
use crate::delivery::client::ApiError;
use crate::delivery::Delivered;
use crate::interact::actions::Stamp;
use crate::interact::callback::Action;
use crate::interact::poller::Interaction;
use crate::interact::press::Press;
use crate::interact::updates::Update;

use super::Worker;

/// The most a shutdown spends answering the presses it still owes.
const MAX_GOODBYE: Duration = Duration::from_secs(1);

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
        let Some(ttl) = self.interaction.as_ref().map(Interaction::leader_ttl) else {
            return;
        };
        let leading = self.fleet.lead(ttl, Instant::now()).await;
        if let Some(interaction) = &mut self.interaction {
            interaction.begin(leading);
        }
    }

    /// Handles a poll's answer: carries out each press and queues its
    /// toast; a 409 turns interactivity off.
    pub(super) async fn on_updates(&mut self, result: Result<Vec<Update>, ApiError>) {
        let Some(interaction) = &mut self.interaction else {
            return;
        };
        let updates = match result {
            Ok(updates) => updates,
            Err(error) => return self.poll_failed(&error),
        };
        interaction.polled(&updates);
        let now = self.courier.clock().wall();
        let migrated = self.courier.migrated_chats();
        for query in updates.into_iter().filter_map(|u| u.callback_query) {
            let Some(interaction) = &self.interaction else {
                return;
            };
            let toast = match interaction.judge().judge(&query, now, &migrated) {
                Ok(press) => self.carry_out(press).await,
                Err(refusal) => refusal,
            };
            if let Some(interaction) = &mut self.interaction {
                interaction.owe(query.id, toast);
            }
        }
    }

    fn poll_failed(&mut self, error: &ApiError) {
        let Some(interaction) = &mut self.interaction else {
            return;
        };
        let Some(why) = interaction.failed(error) else {
            // Said at most once a minute (the reporter holds repeats back).
            self.reporter.notice(&format!(
                "interactive alerts: could not poll for button presses ({error}); retrying"
            ));
            return;
        };
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
        if press.action == Action::Report {
            return self.send_report(&press).await;
        }
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
            Action::Report => {}
            Action::Unmute => {
                delivered.notes.mute = None;
                self.pipeline.unmute(fp);
                fleet_told = self.fleet.unmute(fp).await;
            }
        }
        self.pipeline.set_notes(&delivered);
        if matches!(press.action, Action::Ack | Action::Mute(_)) {
            self.fleet.cancel_escalation(fp).await;
        }
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

    /// Sends the full report of the pressed alert, in reply to it, if this
    /// process or the fleet still keeps it; the toast.
    async fn send_report(&mut self, press: &Press) -> String {
        let fp = press.fingerprint;
        let report = match self.pipeline.report(fp) {
            Some(report) => Ok(Some(report)),
            None => self.fleet.report(fp).await,
        };
        let report = match report {
            Ok(Some(report)) => report,
            Ok(None) => {
                return "📄 This report has expired: reports are kept for the dedup window"
                    .to_owned()
            }
            Err(()) => return "📄 The report could not be read: Redis did not answer".to_owned(),
        };
        let chat = crate::chat::Target {
            chat_id: crate::chat::ChatId::Id(press.chat_id),
            thread_id: None,
        };
        let message = self
            .pipeline
            .report_message(fp, report, (chat, press.message_id));
        self.enqueue(vec![message]);
        press.toast()
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
        let (answers, client) = interaction.stop();
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
