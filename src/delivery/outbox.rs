//! Messages waiting to be sent: one bounded queue ("lane") per chat, each
//! with its own pacing windows and rate-limit block, plus a global window.
//!
//! Messages wait here, not in sleeping tasks: the worker asks for the next
//! message that may go now, or for the instant when one will.
//!
//! Within a chat, news goes first: the first page of a new alert is sent
//! ahead of tally edits, continuation pages, digests and notices queued
//! before it, so that a storm's follow-ups never hold up the next problem.
//! Edits of one message coalesce: a newer tally replaces the queued one.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::chat::ChatId;
use crate::delivery::pacing::{next_allowed, Pacing, Window};

/// One message to send (a whole alert, or one page of a long one).
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// The alert's level (for the `on_sent` hook).
    pub(crate) level: crate::alert::AlertLevel,
    /// A short title (for the `on_sent` hook).
    pub(crate) title: String,
    /// The chat as configured; the lane may send it elsewhere after a migration.
    pub(crate) chat_id: ChatId,
    pub(crate) thread_id: Option<i64>,
    /// HTML, or plain text once `plain` is set.
    pub(crate) text: String,
    pub(crate) plain: bool,
    pub(crate) silent: bool,
    /// Records this message settles (0 for all but an alert's last page).
    pub(crate) records: u64,
    /// Attempts made so far.
    pub(crate) attempts: u32,
    /// Order of arrival in the outbox: among lanes ready at the same time,
    /// the oldest message goes first.
    pub(crate) seq: u64,
    pub(crate) first_attempt: Option<Instant>,
    /// Set on the first page of a new (deduplicated) alert: where it lands
    /// is remembered, so that its tally can edit it.
    pub(crate) fingerprint: Option<u64>,
    /// Edit this message (`editMessageText`) instead of sending a new one.
    pub(crate) edit: Option<i64>,
    /// What to send instead if the edit is refused.
    pub(crate) fallback: Option<String>,
    /// The buttons of an interactive alert (its first page, and its edits).
    pub(crate) keyboard: Option<crate::interact::actions::Keyboard>,
    /// Sent as a reply to this message of its chat (a kind back after it
    /// was resolved, an escalation); sent anyway if that one is gone.
    pub(crate) reply_to: Option<i64>,
    /// Sent as a file (`sendDocument`) with `text` as its caption.
    pub(crate) document: Option<Document>,
}

/// A text file to send: a full report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Document {
    pub(crate) file_name: String,
    pub(crate) content: String,
}

impl Message {
    /// Whether this is news: the first page of a new alert (not an edit, a
    /// continuation page, a digest or a notice).
    fn is_news(&self) -> bool {
        self.edit.is_none() && self.fingerprint.is_some()
    }

    /// Takes the newer text of an edit of the same message (coalescing);
    /// the records both settle stay counted.
    fn take_newer(&mut self, newer: Message) {
        self.records += newer.records;
        self.text = newer.text;
        self.plain = newer.plain;
        self.fallback = newer.fallback;
        self.keyboard = newer.keyboard;
        self.level = newer.level;
        self.title = newer.title;
    }

    /// A message of `text` to `target`, not yet tried, settling no record,
    /// notifying; callers override what differs.
    pub(crate) fn page(
        level: crate::alert::AlertLevel,
        title: String,
        target: &crate::chat::Target,
        text: String,
    ) -> Self {
        Message {
            level,
            title,
            chat_id: target.chat_id.clone(),
            thread_id: target.thread_id,
            text,
            plain: false,
            silent: false,
            records: 0,
            attempts: 0,
            seq: 0,
            first_attempt: None,
            fingerprint: None,
            edit: None,
            fallback: None,
            keyboard: None,
            reply_to: None,
            document: None,
        }
    }
}

#[derive(Debug)]
struct Lane {
    queue: VecDeque<Message>,
    windows: Vec<Window>,
    /// After a 429 or a transient failure: nothing goes before this.
    blocked_until: Option<Instant>,
    /// The chat id to send to (changes when a group becomes a supergroup).
    send_to: ChatId,
    /// Why this chat can no longer be reached, if it cannot.
    dead: Option<String>,
}

impl Lane {
    /// Where the next message to send waits: the first news in the lane,
    /// else the head.
    fn next_index(&self) -> Option<usize> {
        let head = self.queue.front()?;
        if head.is_news() {
            return Some(0);
        }
        Some(self.queue.iter().position(Message::is_news).unwrap_or(0))
    }

    /// A queued edit of the same message as `edit`, to coalesce with.
    fn queued_edit_of(&mut self, message_id: i64) -> Option<&mut Message> {
        self.queue
            .iter_mut()
            .find(|queued| queued.edit == Some(message_id))
    }

    fn ready_at(&mut self, now: Instant) -> Instant {
        let paced = next_allowed(self.windows.iter_mut(), now);
        self.blocked_until
            .map_or(paced, |blocked| blocked.max(paced))
    }
}

/// All lanes, bounded in total.
#[derive(Debug)]
pub(crate) struct Outbox {
    lanes: HashMap<ChatId, Lane>,
    global: Option<Window>,
    pacing: Pacing,
    queued: usize,
    capacity: usize,
    next_seq: u64,
    /// Why nothing at all can be sent (401), if so.
    unauthorized: Option<String>,
}

impl Outbox {
    pub(crate) fn new(pacing: Pacing, capacity: usize) -> Self {
        Outbox {
            lanes: HashMap::new(),
            global: pacing.global.map(Window::new),
            pacing,
            queued: 0,
            capacity,
            next_seq: 0,
            unauthorized: None,
        }
    }

    /// Whether another message fits.
    pub(crate) fn has_room(&self) -> bool {
        self.queued < self.capacity
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Queues `message`, or returns the number of records it settles with
    /// the reason it can never be sent (revoked token, unreachable chat).
    pub(crate) fn push(&mut self, mut message: Message) -> Result<(), (u64, String)> {
        if let Some(reason) = &self.unauthorized {
            return Err((message.records, reason.clone()));
        }
        message.seq = self.next_seq;
        self.next_seq += 1;
        let lane = self.lane(&message.chat_id);
        if let Some(reason) = &lane.dead {
            return Err((message.records, reason.clone()));
        }
        if let Some(queued) = message.edit.and_then(|id| lane.queued_edit_of(id)) {
            queued.take_newer(message);
            return Ok(());
        }
        lane.queue.push_back(message);
        self.queued += 1;
        Ok(())
    }

    /// Puts a message back at the head of its lane (to retry it), blocking
    /// the lane until `blocked_until`. A failed edit of a message that a
    /// newer edit is already queued for is not retried: the newer text says
    /// more, and carries the records the failed one settles.
    pub(crate) fn requeue(&mut self, message: Message, blocked_until: Option<Instant>) {
        let lane = self.lane(&message.chat_id);
        if blocked_until.is_some() {
            lane.blocked_until = blocked_until;
        }
        if let Some(newer) = message.edit.and_then(|id| lane.queued_edit_of(id)) {
            newer.records += message.records;
            return;
        }
        lane.queue.push_front(message);
        self.queued += 1;
    }

    /// Blocks a chat until `until` (a 429 for a message that is not retried).
    pub(crate) fn block(&mut self, chat_id: &ChatId, until: Instant) {
        self.lane(chat_id).blocked_until = Some(until);
    }

    /// The chat id messages for `chat_id` are actually sent to.
    pub(crate) fn send_to(&mut self, chat_id: &ChatId) -> ChatId {
        self.lane(chat_id).send_to.clone()
    }

    /// The chats configured chats moved to (a group that became a
    /// supergroup).
    pub(crate) fn migrated(&self) -> Vec<ChatId> {
        self.lanes
            .iter()
            .filter(|(configured, lane)| **configured != lane.send_to)
            .map(|(_, lane)| lane.send_to.clone())
            .collect()
    }

    /// Sends everything for `chat_id` to `new_id` from now on. `false` if it
    /// already goes there (a repeated migration answer: do not loop).
    pub(crate) fn migrate(&mut self, chat_id: &ChatId, new_id: ChatId) -> bool {
        let lane = self.lane(chat_id);
        if lane.send_to == new_id {
            return false;
        }
        lane.send_to = new_id;
        true
    }

    /// Marks a chat unreachable and returns what was queued for it.
    pub(crate) fn close_lane(&mut self, chat_id: &ChatId, reason: String) -> Vec<Message> {
        let lane = self.lane(chat_id);
        lane.dead = Some(reason);
        let dropped: Vec<Message> = lane.queue.drain(..).collect();
        self.queued -= dropped.len();
        dropped
    }

    /// Stops all sending (revoked token) and returns everything queued.
    pub(crate) fn close_all(&mut self, reason: String) -> Vec<Message> {
        self.unauthorized = Some(reason);
        self.drain()
    }

    /// Everything queued, in no particular order (shutdown).
    pub(crate) fn drain(&mut self) -> Vec<Message> {
        self.queued = 0;
        self.lanes
            .values_mut()
            .flat_map(|lane| lane.queue.drain(..))
            .collect()
    }

    /// The next message that may be sent at `now` (its send is recorded in
    /// the pacing windows), or else the instant one will be ready.
    pub(crate) fn pop_ready(&mut self, now: Instant) -> Result<Message, Option<Instant>> {
        let global_ready = self.global.as_mut().map_or(now, |w| w.next_allowed(now));
        let mut best: Option<(Instant, u64, ChatId)> = None;
        for (chat_id, lane) in &mut self.lanes {
            let Some(seq) = lane.next_index().map(|i| lane.queue[i].seq) else {
                continue;
            };
            let ready = lane.ready_at(now).max(global_ready).max(now);
            if best
                .as_ref()
                .is_none_or(|(at, best_seq, _)| (ready, seq) < (*at, *best_seq))
            {
                best = Some((ready, seq, chat_id.clone()));
            }
        }
        let Some((ready, _, chat_id)) = best else {
            return Err(None);
        };
        if ready > now {
            return Err(Some(ready));
        }
        let Some(lane) = self.lanes.get_mut(&chat_id) else {
            return Err(None);
        };
        let Some(mut message) = lane.next_index().and_then(|i| lane.queue.remove(i)) else {
            return Err(None);
        };
        self.queued -= 1;
        lane.blocked_until = None;
        for window in &mut lane.windows {
            window.record(now);
        }
        if let Some(global) = &mut self.global {
            global.record(now);
        }
        message.attempts += 1;
        message.first_attempt.get_or_insert(now);
        Ok(message)
    }

    fn lane(&mut self, chat_id: &ChatId) -> &mut Lane {
        let pacing = self.pacing;
        self.lanes.entry(chat_id.clone()).or_insert_with(|| {
            let group_limit = if chat_id.is_group() {
                pacing.per_group
            } else {
                None
            };
            Lane {
                queue: VecDeque::new(),
                windows: pacing
                    .per_chat
                    .into_iter()
                    .chain(group_limit)
                    .map(Window::new)
                    .collect(),
                blocked_until: None,
                send_to: chat_id.clone(),
                dead: None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn message(chat: i64) -> Message {
        let target = crate::chat::Target {
            chat_id: ChatId::Id(chat),
            thread_id: None,
        };
        Message {
            records: 1,
            ..Message::page(
                crate::alert::AlertLevel::Error,
                String::new(),
                &target,
                "x".into(),
            )
        }
    }

    #[test]
    fn a_paced_lane_does_not_hold_up_another_chat() {
        let pacing = Pacing::telegram();
        let mut outbox = Outbox::new(pacing, 100);
        let now = Instant::now();
        for _ in 0..4 {
            outbox.push(message(-1)).unwrap();
        }
        outbox.push(message(42)).unwrap();
        let mut sent = Vec::new();
        while let Ok(m) = outbox.pop_ready(now) {
            sent.push(m.chat_id);
        }
        // Three to the group (its burst), one to the private chat.
        assert_eq!(sent.len(), 4);
        assert_eq!(sent.iter().filter(|c| **c == ChatId::Id(42)).count(), 1);
        assert_eq!(
            outbox.pop_ready(now).unwrap_err(),
            Some(now + Duration::from_millis(3250)),
            "3 s and the pacing safety margin"
        );
    }

    fn news(chat: i64, fingerprint: u64) -> Message {
        Message {
            fingerprint: Some(fingerprint),
            ..message(chat)
        }
    }

    fn edit_of(chat: i64, message_id: i64, text: &str) -> Message {
        Message {
            edit: Some(message_id),
            records: 0,
            text: text.to_owned(),
            ..message(chat)
        }
    }

    #[test]
    fn news_goes_ahead_of_edits_and_edits_of_one_message_coalesce() {
        let mut outbox = Outbox::new(Pacing::disabled(), 100);
        let now = Instant::now();
        outbox.push(edit_of(-1, 7, "×10")).unwrap();
        outbox.push(message(-1)).unwrap(); // a continuation page or a digest
        outbox.push(edit_of(-1, 7, "×100")).unwrap();
        outbox.push(news(-1, 42)).unwrap();
        let mut sent = Vec::new();
        while let Ok(m) = outbox.pop_ready(now) {
            sent.push((m.fingerprint, m.edit, m.text));
        }
        assert_eq!(
            sent,
            [
                (Some(42), None, "x".to_owned()),
                (None, Some(7), "×100".to_owned()),
                (None, None, "x".to_owned()),
            ]
        );
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_failed_edit_gives_way_to_a_newer_edit_of_the_same_message() {
        let mut outbox = Outbox::new(Pacing::disabled(), 100);
        let now = Instant::now();
        outbox.push(edit_of(-1, 7, "×10")).unwrap();
        let in_flight = outbox.pop_ready(now).unwrap();
        outbox.push(edit_of(-1, 7, "×100")).unwrap();
        // The ×10 edit failed and is put back: the ×100 one goes instead.
        outbox.requeue(
            Message {
                records: 2,
                ..in_flight
            },
            None,
        );
        let sent = outbox.pop_ready(now).unwrap();
        assert_eq!((sent.text.as_str(), sent.records), ("×100", 2));
        assert!(outbox.is_empty());
        // Without a newer edit, the failed one is retried.
        outbox.requeue(sent, None);
        assert_eq!(outbox.pop_ready(now).unwrap().text, "×100");
    }

    #[test]
    fn a_closed_lane_refuses_messages() {
        let mut outbox = Outbox::new(Pacing::disabled(), 10);
        outbox.push(message(-1)).unwrap();
        assert_eq!(outbox.close_lane(&ChatId::Id(-1), "gone".into()).len(), 1);
        assert!(outbox.is_empty());
        assert_eq!(outbox.push(message(-1)).unwrap_err().1, "gone");
        outbox.push(message(-2)).unwrap();
    }
}
