//! A tally: what the chat is told about a kind's repeats (and, once it
//! stopped, that it was resolved), and the counts at which it is told
//! before its window closes.

use std::time::{Duration, SystemTime};

use crate::alert::AlertLevel;
use crate::chat::Target;
use crate::delivery::Delivered;
use crate::delivery::Message;
use crate::render::render_tally;
use crate::render::tally::TallyText;

use super::heading::{messages_for, Heading};
use super::spread::FleetCount;
use super::Pipeline;

/// A kind that stopped: when it was last seen and how long it had lasted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Resolved {
    pub(crate) quiet_since: SystemTime,
    pub(crate) lasted: Duration,
}

/// Counts at which the original alert is updated before its window closes.
pub(crate) const TALLY_THRESHOLDS: &[u64] = &[10, 100, 1_000, 10_000, 100_000];

/// Whether `added` occurrences that brought the count to `total` crossed a
/// tally threshold (one record at a time, or a batch from the repeat gate).
pub(crate) fn crosses_threshold(total: u64, added: u64) -> bool {
    let before = total.saturating_sub(added);
    TALLY_THRESHOLDS
        .iter()
        .any(|threshold| before < *threshold && *threshold <= total)
}

/// A tally to report: how often an alert happened in its window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tally {
    pub(crate) fingerprint: u64,
    pub(crate) title: String,
    pub(crate) level: AlertLevel,
    pub(crate) target: Target,
    /// Occurrences in the window, the original included.
    pub(crate) total: u64,
    pub(crate) window: Duration,
    pub(crate) last_seen: SystemTime,
    pub(crate) delivered: Option<Delivered>,
    /// The total the last tally already showed (1: none yet).
    pub(crate) shown: u64,
    /// A threshold update (dropped if the original cannot be found), not
    /// the window's final word.
    pub(crate) threshold: bool,
    /// `total` is the fleet's own count (a crossing Redis reported), so it
    /// need not be read again.
    pub(crate) fleet_total_known: bool,
    /// The kind has been quiet long enough: the alert says it stopped.
    pub(crate) resolved: Option<Resolved>,
    /// What varies across the fleet's repeats (read from Redis; `None`:
    /// this process's own counts are shown).
    pub(crate) fleet_spread: Option<Vec<FleetCount>>,
}

impl Tally {
    /// Whether `added` occurrences that brought a count to `total` crossed
    /// a tally threshold (for the fleet, on Redis' own count).
    pub(crate) fn crossed(total: u64, added: u64) -> bool {
        crosses_threshold(total, added)
    }

    /// What the tally message says.
    pub(crate) fn text(&self) -> TallyText<'_> {
        TallyText {
            total: self.total,
            window: self.window,
            last_seen: self.last_seen,
            title: &self.title,
            original: self
                .delivered
                .as_ref()
                .filter(|delivered| !delivered.plain)
                .map(|delivered| (delivered.message_id, delivered.html.as_str())),
            notes: self.delivered.as_ref().map(|delivered| &delivered.notes),
            variants: None,
            resolved: self
                .resolved
                .map(|resolved| (resolved.quiet_since, resolved.lasted)),
            spread: &[],
        }
    }

    /// Whether it has anything to say: news since the last tally, and (for a
    /// threshold update) an original to edit.
    pub(crate) fn is_news(&self) -> bool {
        if self.resolved.is_some() {
            return self.delivered.is_some();
        }
        self.total > self.shown && !(self.threshold && self.delivered.is_none())
    }
}

impl Pipeline {
    /// The messages that report `tallies` (those with news).
    pub(crate) fn render_tallies(&mut self, tallies: Vec<Tally>) -> Vec<Message> {
        let mut messages = Vec::new();
        // A kind named in an incident counts there; one that has no message
        // of its own lives only there.
        let tallies: Vec<Tally> = tallies
            .into_iter()
            .filter(|tally| self.incidents.tally(tally.fingerprint, tally.total) != Some(true))
            .collect();
        let news = tallies.iter().filter(|tally| tally.is_news());
        for tally in news.filter(|tally| !self.tally_muted(tally)) {
            let spread = match &tally.fleet_spread {
                Some(counts) => self.spreads.fleet_lines(counts),
                None => self.spreads.lines(tally.fingerprint),
            };
            let mut text = tally.text();
            text.variants = self.folds.variants(tally.fingerprint);
            text.spread = &spread;
            let (edit, text, fallback) = render_tally(&text, &self.config.identity.service);
            let heading = Heading::new(AlertLevel::Info, &tally.title);
            let mut pages = messages_for(vec![text], &tally.target, heading, true, 0);
            let keyboard = edit.and_then(|_| self.tally_keyboard(tally));
            for page in &mut pages {
                page.edit = edit;
                page.fallback = fallback.clone();
                page.keyboard = keyboard.clone();
            }
            messages.extend(pages);
        }
        messages.extend(self.incident_edits());
        messages
    }
}
