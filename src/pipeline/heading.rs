//! What a message is called and whether it rings: a record's title (an
//! HTTP response's or a failing request's heading first), the messages of
//! an alert's pages with the heading the `on_sent` hook is told, and the
//! quiet hours' rule.

use crate::alert::AlertLevel;
use crate::chat::Target;
use crate::delivery::Message;
use crate::record::Record;
use crate::render::alert::response_title;

use super::Pipeline;

/// An HTTP response event gets a title naming the request it answered and
/// its status (unless it has one of its own).
/// An event inside a request that failed with a server error gets the
/// request and status ahead of its own first line (the on-call person sees
/// which endpoint and how it failed in the notification).
pub(super) fn name_response(record: &mut Record) {
    if record.title.is_some() {
        return;
    }
    if let Some((request, status)) = record.http_response() {
        record.title = Some(response_title(&request, &status));
    } else if let Some((request, status)) = record.failing_request() {
        let heading = response_title(&request, &status);
        if record.message.trim().is_empty() {
            // No message (`#[instrument(err)]`): the heading and the error.
            record.title = Some(format!("{heading} · {}", title_of(record)));
        } else {
            // Ahead of the message's first line, which stays the title.
            record.message = format!("{heading} · {}", record.message).into();
        }
    }
}

/// What the `on_sent` hook is told about a message.
pub(crate) struct Heading {
    pub(super) level: AlertLevel,
    pub(super) title: String,
}

impl Heading {
    pub(crate) fn new(level: AlertLevel, title: &str) -> Self {
        let title = match title.char_indices().nth(200) {
            Some((cut, _)) => format!("{}…", &title[..cut]),
            None => title.to_owned(),
        };
        Heading { level, title }
    }
}

/// A record's short title: its explicit title, or its message's first line
/// (for an event without a message, such as `#[instrument(err)]` records,
/// what the alert's headline says: `charge failed: …`).
pub(crate) fn title_of(record: &Record) -> String {
    if let Some(title) = &record.title {
        return title.clone();
    }
    match record.message.lines().next().map(str::trim) {
        Some(line) if !line.is_empty() => line.to_owned(),
        _ => crate::render::alert::untitled(record),
    }
}

/// The messages for an alert's pages: only the first may notify, and the
/// last settles `records`.
pub(crate) fn messages_for(
    pages: Vec<String>,
    target: &Target,
    heading: Heading,
    silent: bool,
    records: u64,
) -> Vec<Message> {
    let last = pages.len().saturating_sub(1);
    pages
        .into_iter()
        .enumerate()
        .map(|(index, text)| Message {
            silent: silent || index > 0,
            records: if index == last { records } else { 0 },
            ..Message::page(heading.level, heading.title.clone(), target, text)
        })
        .collect()
}

/// Whether an alert of `level` goes without a sound (`quiet`: during the
/// quiet hours, when only Critical rings).
pub(crate) fn silent(level: AlertLevel, quiet: bool) -> bool {
    level.is_silent() || (quiet && level != AlertLevel::Critical)
}

impl Pipeline {
    /// Whether an alert of `level` is sent without a sound now: Info always,
    /// below Critical during the quiet hours.
    pub(crate) fn is_silent(&self, level: AlertLevel) -> bool {
        silent(level, self.in_quiet_hours())
    }

    /// Whether it is quiet hours now.
    pub(crate) fn in_quiet_hours(&self) -> bool {
        self.config
            .quiet_hours
            .as_ref()
            .is_some_and(|hours| hours.contains(self.clock.wall()))
    }
}
