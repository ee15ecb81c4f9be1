//! The pipeline's side of interactive alerts: the buttons alerts carry,
//! the kinds chat members muted, and the edits their presses ask for.
//!
//! A muted kind's records are counted for the digest ("🔕 muted ×N"), not
//! alerted or tallied; its dedup window ends when it is muted, so that a
//! kind still failing when the mute ends (or is lifted) is alerted anew.
//! The layer counts a muted kind's repeats at the gate like any other's.
//! The worker tells this stage about presses; the fleet's answers
//! ([`Claim::Muted`]) tell it about mutes pressed in other processes.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use crate::channel::gate::OpenKind;
use crate::delivery::{Delivered, Message};
use crate::record::Record;
use crate::render::actions::{AlertNotes, Buttons, Keyboard};
use crate::stats::Outcome;

use super::{messages_for, Claim, Heading, Pipeline, Tally};

/// Interactive alerts as the pipeline keeps them.
#[derive(Debug, Default)]
pub(crate) struct Interactive {
    /// The buttons alerts carry (`None`: not interactive, or turned off).
    buttons: Option<Buttons>,
    /// Muted kinds: until when (on the pipeline's clock), and the alert as
    /// it stood (to edit it again on 🔔 Unmute).
    muted: HashMap<u64, (Instant, Option<Delivered>)>,
}

impl Pipeline {
    /// Alerts carry `buttons` from now on.
    pub(crate) fn enable_buttons(&mut self, buttons: Buttons) {
        self.interactive.buttons = Some(buttons);
    }

    /// New alerts carry no buttons any more (another program consumes the
    /// bot's updates); mutes already pressed still hold.
    pub(crate) fn disable_buttons(&mut self) {
        self.interactive.buttons = None;
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
        let now = self.clock.now();
        self.interactive
            .muted
            .get(&fingerprint)
            .is_some_and(|(until, _)| now < *until)
    }

    /// Forgets the mutes that ended (each tick).
    pub(super) fn expire_mutes(&mut self) {
        let now = self.clock.now();
        self.interactive.muted.retain(|_, (until, _)| now < *until);
    }

    /// Counts `record` for its mute, if its kind is muted (here, or in the
    /// fleet as `claim` says); then the gate kind to open for it.
    pub(super) fn muted(
        &mut self,
        record: &Record,
        fp: u64,
        claim: Claim,
    ) -> Option<Option<OpenKind>> {
        if let Claim::Muted { remaining } = claim {
            let until = self.clock.now() + remaining;
            let kept = self.interactive.muted.remove(&fp).and_then(|(_, d)| d);
            self.interactive.muted.insert(fp, (until, kept));
        }
        if !self.is_muted(fp) {
            return None;
        }
        let title = self.safe_title(record);
        self.count_muted(fp, record.metadata().map_or("", |m| m.target()), &title, 1);
        let target = self.addresses.routes.target(record.level);
        let opening = super::opening(record, fp, false, title, target).map(|kind| OpenKind {
            muted: true,
            ..kind
        });
        Some(opening)
    }

    /// Counts `count` records of a muted kind for the digest.
    pub(super) fn count_muted(&mut self, fp: u64, target: &str, title: &str, count: u64) {
        self.counters.settle(Outcome::Batched, count);
        self.digest.add_muted(fp, target, title, count);
    }

    /// Whether a gate kind no longer matches its kind's mute (it was muted
    /// or unmuted since it opened): then it is closed and reopened.
    pub(super) fn mute_changed(&self, kind: &OpenKind) -> bool {
        kind.muted != self.is_muted(kind.fingerprint)
    }

    /// Mutes `fingerprint` until `until` (a press here): its window ends
    /// without a tally. The alert as this process held it, if it did.
    pub(crate) fn mute(&mut self, fingerprint: u64, until: Instant) -> Option<Tally> {
        let alert = self.dedup.forget(fingerprint);
        let kept = alert.as_ref().and_then(|tally| tally.delivered.clone());
        self.interactive.muted.insert(fingerprint, (until, kept));
        alert
    }

    /// Ends a mute (a press here); the alert as it stood when muted, if
    /// this process muted it.
    pub(crate) fn unmute(&mut self, fingerprint: u64) -> Option<Delivered> {
        self.interactive
            .muted
            .remove(&fingerprint)
            .and_then(|(_, delivered)| delivered)
    }

    /// The alert of `fingerprint` as this process holds it (in its dedup
    /// window, or muted here) and its count so far.
    pub(crate) fn known_alert(&self, fingerprint: u64) -> Option<(Delivered, u64)> {
        if let Some(tally) = self.dedup.current(fingerprint) {
            return Some((tally.delivered?, tally.total));
        }
        let (_, kept) = self.interactive.muted.get(&fingerprint)?;
        Some((kept.clone()?, 1))
    }

    /// The dedup window (an alert's notes are kept in the fleet as long).
    pub(crate) fn dedup_window(&self) -> std::time::Duration {
        self.config.dedup.window
    }

    /// When the next mute ends (the worker wakes then, to close its kind at
    /// the gate, so that the next record is alerted anew).
    pub(crate) fn next_mute_end(&self) -> Option<Instant> {
        self.interactive
            .muted
            .values()
            .map(|(until, _)| *until)
            .min()
    }

    /// Keeps what chat members added to an alert, for its later edits.
    pub(crate) fn set_notes(&mut self, delivered: &Delivered) {
        self.dedup
            .set_notes(delivered.fingerprint, &delivered.notes);
        if let Some((_, Some(kept))) = self.interactive.muted.get_mut(&delivered.fingerprint) {
            kept.notes = delivered.notes.clone();
        }
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
