//! The pipeline's side of interactive alerts: the buttons alerts carry,
//! the kinds chat members muted, and the edits their presses ask for.
//!
//! A muted kind's records are counted for the digest ("🔕 muted ×N"), not
//! alerted or tallied; its dedup window ends when it is muted, so that a
//! kind still failing when the mute ends (or is lifted) is alerted anew.
//! The layer counts a muted kind's repeats at the gate like any other's.
//! The worker tells this stage about presses; the fleet's answers
//! ([`Claim::Muted`]) tell it about mutes pressed in other processes. What
//! is known of each mute is `interact::mutes`'s table.

use std::time::{Duration, Instant, SystemTime};

use crate::delivery::{Delivered, Message};
use crate::gate::OpenKind;
use crate::interact::actions::{AlertNotes, Buttons, Keyboard};
use crate::interact::mutes::MuteTable;
use crate::record::Record;
use crate::stats::Outcome;

use crate::fleet::claim::Claim;

use super::{messages_for, Heading, Pipeline, Tally};

/// Interactive alerts as the pipeline keeps them.
#[derive(Debug, Default)]
pub(crate) struct Interactive {
    /// The buttons alerts carry (`None`: not interactive, or turned off).
    buttons: Option<Buttons>,
    /// Muted kinds, as this process knows them.
    muted: MuteTable,
}

impl Pipeline {
    /// Alerts carry `buttons` from now on.
    #[cfg_attr(not(feature = "interactive"), allow(dead_code))] // used with the `interactive` feature
    pub(crate) fn enable_buttons(&mut self, buttons: Buttons) {
        self.interactive.buttons = Some(buttons);
    }

    /// New alerts carry no buttons any more (another program consumes the
    /// bot's updates); mutes already pressed still hold.
    pub(crate) fn disable_buttons(&mut self) {
        self.interactive.buttons = None;
    }

    /// Whether alerts carry buttons now.
    pub(crate) fn has_buttons(&self) -> bool {
        self.interactive.buttons.is_some()
    }

    /// The buttons for the alert of `fingerprint` with `notes`, if alerts
    /// carry buttons.
    pub(crate) fn keyboard(&self, fingerprint: u64, notes: &AlertNotes) -> Option<Keyboard> {
        let buttons = self.interactive.buttons.as_ref()?;
        Some(buttons.keyboard(fingerprint, notes, self.clock.wall()))
    }

    /// The buttons a tally's edit keeps (an edit without them removes them).
    pub(super) fn tally_keyboard(&self, tally: &Tally) -> Option<Keyboard> {
        let notes = tally.delivered.as_ref().map(|d| &d.notes)?;
        self.keyboard(tally.fingerprint, notes)
    }

    /// Whether `fingerprint` is muted now.
    fn is_muted(&self, fingerprint: u64) -> bool {
        self.interactive
            .muted
            .is_muted(fingerprint, self.clock.now())
    }

    /// Forgets the mutes that ended (each tick).
    pub(super) fn expire_mutes(&mut self) {
        self.interactive.muted.expire(self.clock.now());
    }

    /// Remembers that `fingerprint` is muted for `remaining` (a press here,
    /// or the fleet's answer), keeping the alert it knew.
    fn remember_mute(&mut self, fingerprint: u64, remaining: Duration, kept: Option<Delivered>) {
        let (now, shared) = (self.clock.now(), self.shared);
        self.interactive
            .muted
            .remember(fingerprint, remaining, kept, (now, shared));
    }

    /// Counts `record` for its mute, if its kind is muted (here, or in the
    /// fleet as `claim` says); then the gate kind to open for it.
    pub(super) fn muted(
        &mut self,
        record: &Record,
        fp: u64,
        claim: Claim,
    ) -> Option<Option<OpenKind>> {
        match claim {
            // Muted in the fleet: the mute ended this process's window too
            // (so that the kind is alerted anew when it ends).
            Claim::Muted { remaining } => {
                let kept = self.dedup.forget(fp).and_then(|alert| alert.delivered);
                self.remember_mute(fp, remaining, kept);
            }
            // The fleet answered and knows no mute: it was lifted.
            Claim::First | Claim::Repeat { .. } => {
                self.interactive.muted.forget(fp);
            }
            // Redis did not answer (or there is none): what is known holds.
            Claim::Local => {}
        }
        if !self.is_muted(fp) {
            return None;
        }
        let title = self.safe_title(record);
        self.count_muted(fp, record.metadata().map_or("", |m| m.target()), &title, 1);
        let target = self.target_of(record);
        let opening = super::opening(record, fp, false, title, target).map(|kind| OpenKind {
            muted: true,
            ..kind
        });
        Some(opening)
    }

    /// Whether a tally must not edit its alert: the kind is muted (as this
    /// process knows, or as the notes a chat member's press stored say —
    /// another process may have muted it).
    pub(super) fn tally_muted(&self, tally: &Tally) -> bool {
        let noted = tally
            .delivered
            .as_ref()
            .and_then(|delivered| delivered.notes.mute.as_ref())
            .is_some_and(|mute| mute.is_after(self.clock.wall()));
        noted || self.is_muted(tally.fingerprint)
    }

    /// Settles the repeats the layer counted for a muted gate kind: accepted,
    /// and counted for the digest.
    pub(super) fn settle_muted(&mut self, kind: &OpenKind, repeats: u64) {
        self.counters.accept_repeats(repeats);
        self.count_muted(kind.fingerprint, "", &kind.title, repeats);
    }

    /// Counts `count` records of a muted kind for the digest.
    pub(super) fn count_muted(&mut self, fp: u64, target: &str, title: &str, count: u64) {
        self.counters.settle(Outcome::Batched, count);
        self.digest.add_muted(fp, target, title, count);
    }

    /// Whether a gate kind no longer matches what is known of its kind's
    /// mute (muted or unmuted since it opened, or, in a fleet, known too
    /// long without asking): then it is closed, and the next record decides.
    pub(super) fn mute_changed(&self, kind: &OpenKind) -> bool {
        let trusted = self
            .interactive
            .muted
            .is_trusted(kind.fingerprint, self.clock.now());
        kind.muted != trusted
    }

    /// Mutes `fingerprint` for `duration` (a press here): its window ends
    /// without a tally, and the layer stops counting it as a repeat. The
    /// alert as this process held it, if it did.
    pub(crate) fn mute(&mut self, fingerprint: u64, duration: Duration) -> Option<Tally> {
        let alert = self.dedup.forget(fingerprint);
        let kept = alert.as_ref().and_then(|tally| tally.delivered.clone());
        self.remember_mute(fingerprint, duration, kept);
        self.close_kinds_of(fingerprint);
        alert
    }

    /// Ends a mute (a press here): the layer stops counting the kind as
    /// muted at once. The alert as it stood when muted, if this process
    /// muted it.
    pub(crate) fn unmute(&mut self, fingerprint: u64) -> Option<Delivered> {
        let kept = self.interactive.muted.forget(fingerprint);
        self.close_kinds_of(fingerprint);
        kept
    }

    /// Closes the gate kinds of `fingerprint`, settling what they counted.
    fn close_kinds_of(&mut self, fingerprint: u64) {
        let keys: Vec<_> = self
            .open_kinds
            .kinds()
            .filter(|kind| kind.fingerprint == fingerprint)
            .map(|kind| kind.key)
            .collect();
        for key in keys {
            if let Some((kind, repeats, _values)) = self.open_kinds.close(key) {
                if kind.muted {
                    self.settle_muted(&kind, repeats);
                } else if repeats > 0 {
                    // Repeats of the window the mute ends: counted as such.
                    self.counters.accept_repeats(repeats);
                    self.counters.settle(Outcome::Deduplicated, repeats);
                }
            }
        }
    }

    /// The alert of `fingerprint` as this process holds it (in its dedup
    /// window, or muted here) and its count so far.
    pub(crate) fn known_alert(&self, fingerprint: u64) -> Option<(Delivered, u64)> {
        if let Some(tally) = self.dedup.current(fingerprint) {
            return Some((tally.delivered?, tally.total));
        }
        let kept = self.interactive.muted.kept(fingerprint)?;
        Some((kept.clone(), 1))
    }

    /// The dedup window (an alert's notes are kept in the fleet as long).
    pub(crate) fn dedup_window(&self) -> std::time::Duration {
        self.config.dedup.window
    }

    /// When the next mute ends or needs asking the fleet again (the worker
    /// wakes then, to close its kind at the gate, so that the next record
    /// decides anew).
    pub(crate) fn next_mute_end(&self) -> Option<Instant> {
        self.interactive.muted.next_end(self.clock.now())
    }

    /// Keeps what chat members added to an alert, for its later edits.
    pub(crate) fn set_notes(&mut self, delivered: &Delivered) {
        if delivered.notes.ack.is_some() || delivered.notes.mute.is_some() {
            self.settle_escalation(delivered.fingerprint);
        }
        self.dedup
            .set_notes(delivered.fingerprint, &delivered.notes);
        self.interactive
            .muted
            .set_notes(delivered.fingerprint, &delivered.notes);
    }

    /// The edit a press asks for: the alert as delivered, with its tally
    /// (`total` occurrences so far) and notes, and the buttons its state
    /// offers. No follow-up if it cannot be edited: the toast said it.
    pub(crate) fn action_edit(
        &self,
        delivered: &Delivered,
        total: u64,
        title: &str,
    ) -> Vec<Message> {
        let tally = Tally {
            fingerprint: delivered.fingerprint,
            title: title.to_owned(),
            level: crate::alert::AlertLevel::Info,
            target: self
                .addresses
                .routes
                .target(crate::alert::AlertLevel::Error),
            total,
            window: self.config.dedup.window,
            last_seen: SystemTime::now(),
            delivered: Some(delivered.clone()),
            shown: 0,
            threshold: false,
            fleet_total_known: true,
            fleet_spread: None,
            resolved: None,
        };
        let (Some(edit), text, _) =
            crate::render::render_tally(&tally.text(), &self.config.identity.service)
        else {
            return Vec::new();
        };
        let target = crate::chat::Target {
            chat_id: delivered.chat_id.clone(),
            thread_id: None,
        };
        let mut pages = messages_for(
            vec![text],
            &target,
            Heading::new(tally.level, title),
            true,
            0,
        );
        for page in &mut pages {
            page.edit = Some(edit);
            page.keyboard = self.keyboard(delivered.fingerprint, &delivered.notes);
        }
        pages
    }
}
