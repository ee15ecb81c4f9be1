//! The poller of interactive alerts: long polls of `getUpdates` for button
//! presses, the answers (toasts) each press is owed, and when to poll again
//! (backing off after failures; off for good on a webhook or a revoked
//! token). The worker drives it (`worker/interact.rs`): it decides whether
//! this process leads, carries presses out, and waits on the poll beside
//! everything else.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::delivery::client::{ApiError, BotClient};

use super::press::PressJudge;
use super::updates::{next_offset, Update};
use super::InteractConfig;

/// One poll: the presses it answered first, then the updates it got.
type PollRequest = Pin<Box<dyn Future<Output = Result<Vec<Update>, ApiError>> + Send>>;

/// The longest wait between failed polls.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// 409s in a row ("terminated by other getUpdates request") after which a
/// fleet process concludes another program polls the bot.
const MAX_FLEET_CONFLICTS: u32 = 3;

/// The worker's interactive state.
pub(crate) struct Interaction {
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
    pub(crate) fn new(
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
    pub(crate) fn wake_at(&self) -> Option<Instant> {
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
pub(crate) fn poll_done(
    slot: &mut Option<Interaction>,
) -> impl Future<Output = Result<Vec<Update>, ApiError>> + '_ {
    std::future::poll_fn(
        move |cx| match slot.as_mut().and_then(|i| i.poll.as_mut()) {
            Some(request) => request.as_mut().poll(cx),
            None => Poll::Pending,
        },
    )
}

impl Interaction {
    /// How long the fleet's leader lock lives without renewal.
    pub(crate) fn leader_ttl(&self) -> Duration {
        self.config.leader_ttl()
    }

    /// Starts a poll if this process leads (or only answers the presses it
    /// still owes), and schedules the next one.
    pub(crate) fn begin(&mut self, leading: bool) {
        if leading || !self.answers.is_empty() {
            self.start(leading);
        }
        self.next_poll = Instant::now() + self.config.poll_timeout;
    }

    /// A poll answered with `updates`: the next one may start at once, and
    /// asks for what comes after them.
    pub(crate) fn polled(&mut self, updates: &[Update]) {
        self.poll = None;
        self.failures = 0;
        self.conflicts = 0;
        self.next_poll = Instant::now();
        self.offset = next_offset(self.offset, updates);
    }

    /// Who may press, and what a press asks for.
    pub(crate) fn judge(&self) -> &PressJudge {
        &self.judge
    }

    /// The toast to answer a press with, on the next poll.
    pub(crate) fn owe(&mut self, query_id: String, toast: String) {
        self.answers.push((query_id, toast));
    }

    /// A poll failed: why interactivity is off for good now (the poller
    /// stops), or `None` (it retries later, backing off).
    pub(crate) fn failed(&mut self, error: &ApiError) -> Option<&'static str> {
        self.poll = None;
        let why = self.why_off(error);
        match why {
            Some(_) => self.off = true,
            None => self.retry_later(),
        }
        why
    }

    /// Stops polling for good (shutdown); what still has to be said: the
    /// owed answers, and the client to say them with.
    pub(crate) fn stop(&mut self) -> (Vec<(String, String)>, Arc<BotClient>) {
        self.poll = None;
        self.off = true;
        (std::mem::take(&mut self.answers), Arc::clone(&self.client))
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
