//! Digests per destination: what a target or field route sends to a team's
//! chat is summed up there too — its warnings and slow spans — in a section
//! of the window's data of its own, so that the fleet shares and merges a
//! window as one value, and the digest of each destination goes where its
//! alerts go. Totals (dropped, deduplicated) and the fleet's census stay
//! in the main digest.

use std::collections::BTreeMap;

use crate::chat::Target;
use crate::delivery::Message;

use super::digest::{ClosedWindow, DigestData, RoutedData};
use super::heading::{messages_for, Heading};
use super::Pipeline;
use crate::alert::AlertLevel;
use crate::render::render_digest;

/// Most destinations a window keeps apart (routes are configured, so this
/// only bounds a window merged from processes configured differently).
const MAX_DESTINATIONS: usize = 64;

fn key_of(target: &Target) -> String {
    format!("{}/{}", target.chat_id, target.thread_id.unwrap_or(0))
}

impl DigestData {
    /// The part of the window for records routed to `target` (`None`, or
    /// too many destinations: the main one).
    pub(super) fn for_target(&mut self, target: Option<&Target>) -> &mut DigestData {
        let Some(target) = target else {
            return self;
        };
        let key = key_of(target);
        if !self.routed.contains_key(&key) && self.routed.len() >= MAX_DESTINATIONS {
            return self;
        }
        let routed = self.routed.entry(key).or_insert_with(|| RoutedData {
            chat_id: target.chat_id.clone(),
            thread_id: target.thread_id,
            data: DigestData::default(),
        });
        &mut routed.data
    }

    /// Adds another process's routed parts.
    pub(super) fn merge_routed(&mut self, other: BTreeMap<String, RoutedData>) {
        for (key, part) in other {
            let room = self.routed.len() < MAX_DESTINATIONS;
            match self.routed.get_mut(&key) {
                Some(mine) => mine.data.merge(part.data),
                None if room => {
                    self.routed.insert(key, part);
                }
                None => self.merge(part.data),
            }
        }
    }
}

impl ClosedWindow {
    /// The window for the main digest, and one per routed destination.
    fn split(mut self) -> (ClosedWindow, Vec<(Target, ClosedWindow)>) {
        let routed = std::mem::take(&mut self.data.routed);
        let parts = routed
            .into_values()
            .map(|part| {
                let target = Target {
                    chat_id: part.chat_id,
                    thread_id: part.thread_id,
                };
                let window = ClosedWindow {
                    id: self.id,
                    period: self.period,
                    data: part.data,
                };
                (target, window)
            })
            .collect();
        (self, parts)
    }
}

impl Pipeline {
    /// The digests of a (possibly merged) window that have something to
    /// say: the main one, and each routed destination's in its chat.
    pub(crate) fn render_window(&self, window: ClosedWindow) -> Vec<Message> {
        let (main, routed) = window.split();
        let mut messages = self.render_digest_to(main, &self.addresses.digest);
        for (target, window) in routed {
            messages.extend(self.render_digest_to(window, &target));
        }
        messages
    }

    fn render_digest_to(&self, window: ClosedWindow, target: &Target) -> Vec<Message> {
        let Some(report) = window.into_report(self.config.digest.top) else {
            return Vec::new();
        };
        let pages = render_digest(&report, &self.render_context(0));
        // The records a digest reports were settled as batched already.
        let heading = Heading::new(AlertLevel::Info, "Digest");
        messages_for(pages, target, heading, true, 0)
    }
}
