//! The pipeline's side of escalation (see `interact::escalation`): an Error
//! or Critical alert this process delivered waits for its deadline. What
//! is escalated is the problem, not a message: a kind still failing when
//! its dedup window closes is alerted anew, and that alert keeps the first
//! one's deadline (the escalation answers the latest). An ack or a mute
//! pressed here settles the kind until it resolves; so does its
//! escalation; its resolution ends it all. At the deadline the worker asks
//! the fleet (a press in another process settles it there; exactly one
//! process escalates) and sends what [`Pipeline::render_escalation`] makes.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::alert::AlertLevel;
use crate::chat::Target;
use crate::delivery::{Delivered, Message};
use crate::interact::escalation::{EscalationConfig, EscalationText};

use super::heading::{messages_for, Heading};
use super::Pipeline;

/// Escalation, once configured: the rules and the alerts waiting.
#[derive(Debug, Default)]
pub(crate) struct Escalations {
    config: EscalationConfig,
    /// Where escalations are also sent.
    to: Option<Target>,
    /// By fingerprint: the alert this process delivered, waiting.
    waiting: HashMap<u64, Waiting>,
    /// Kinds acknowledged, muted or escalated, until they resolve (at most
    /// [`MAX_SETTLED`]: a full set is forgotten, and at worst a kind still
    /// failing is escalated once more).
    settled: HashSet<u64>,
}

/// The most kinds remembered as settled.
const MAX_SETTLED: usize = 10_000;

impl Escalations {
    fn settle(&mut self, fingerprint: u64) {
        self.waiting.remove(&fingerprint);
        if self.settled.len() >= MAX_SETTLED {
            self.settled.clear();
        }
        self.settled.insert(fingerprint);
    }
}

/// An alert waiting to be acknowledged.
#[derive(Debug, Clone)]
pub(crate) struct Waiting {
    pub(crate) fingerprint: u64,
    pub(crate) message_id: i64,
    level: AlertLevel,
    title: String,
    /// Where the alert is (the reply goes there).
    target: Target,
    after: Duration,
    due: Instant,
}

impl Pipeline {
    #[cfg_attr(not(feature = "interactive"), allow(dead_code))] // used with the `interactive` feature
    /// Unacknowledged alerts are escalated by `config` (also to the
    /// escalation chat, if one was configured).
    pub(crate) fn enable_escalation(&mut self, config: EscalationConfig) {
        self.escalations = Escalations {
            config,
            to: self.addresses.escalation.clone(),
            waiting: HashMap::new(),
            settled: HashSet::new(),
        };
    }

    /// An alert was delivered: it waits for its deadline, if its level has
    /// one (an alert of a kind already waiting keeps the earlier deadline).
    pub(super) fn await_ack(&mut self, delivered: &Delivered) {
        let fp = delivered.fingerprint;
        if self.escalations.settled.contains(&fp) {
            return;
        }
        let Some(alert) = self.dedup.current(delivered.fingerprint) else {
            return;
        };
        let Some(after) = self.escalations.config.deadline(alert.level) else {
            return;
        };
        if !self.has_buttons() {
            return; // no buttons (turned off): nobody could acknowledge it
        }
        let target = Target {
            chat_id: delivered.chat_id.clone(),
            thread_id: alert.target.thread_id,
        };
        let due = self.clock.now() + after;
        let due = self.escalations.waiting.get(&fp).map_or(due, |w| w.due);
        let waiting = Waiting {
            fingerprint: fp,
            message_id: delivered.message_id,
            level: alert.level,
            title: alert.title,
            target,
            after,
            due,
        };
        self.escalations.waiting.insert(fp, waiting);
    }

    /// The alert of `fingerprint` was acknowledged or muted: its kind is
    /// not escalated until it resolves.
    pub(crate) fn settle_escalation(&mut self, fingerprint: u64) {
        self.escalations.settle(fingerprint);
    }

    /// The kind of `fingerprint` resolved: a new problem starts afresh.
    pub(crate) fn end_escalation(&mut self, fingerprint: u64) {
        self.escalations.waiting.remove(&fingerprint);
        self.escalations.settled.remove(&fingerprint);
    }

    /// When the next deadline is.
    pub(crate) fn next_escalation(&self) -> Option<Instant> {
        self.escalations.waiting.values().map(|w| w.due).min()
    }

    /// The alerts whose deadline passed (their kinds settled: escalated).
    pub(crate) fn escalations_due(&mut self) -> Vec<Waiting> {
        let now = self.clock.now();
        let due: Vec<Waiting> = self
            .escalations
            .waiting
            .values()
            .filter(|w| w.due <= now)
            .cloned()
            .collect();
        for waiting in &due {
            self.escalations.settle(waiting.fingerprint);
        }
        due
    }

    /// The messages that escalate `waiting`: a reply to the alert (ringing,
    /// but for an alert below Critical in the quiet hours), and one to the
    /// escalation chat if there is one.
    pub(crate) fn render_escalation(&self, waiting: &Waiting) -> Vec<Message> {
        let people = self.escalations.config.people();
        let text = EscalationText {
            level: waiting.level,
            service: &self.config.identity.service,
            title: &waiting.title,
            after: waiting.after,
            on_call: &people,
        };
        let silent = self.is_silent(waiting.level);
        let heading = || Heading::new(waiting.level, "Escalation");
        let mut messages = messages_for(vec![text.reply()], &waiting.target, heading(), silent, 0);
        for message in &mut messages {
            message.reply_to = Some(waiting.message_id);
        }
        if let Some(to) = &self.escalations.to {
            let html = text.forwarded(&waiting.target.chat_id, waiting.message_id);
            messages.extend(messages_for(vec![html], to, heading(), silent, 0));
        }
        messages
    }
}
