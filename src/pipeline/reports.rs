//! Full reports of recent alerts, kept for the 📄 button (interactive
//! alerts): each new alert's report (see `render::report`), with the
//! distinct field sets of its later repeats that reached the worker.
//! Bounded: at most [`MAX_REPORTS`] reports and [`MAX_BYTES`] in all (the
//! oldest dropped first), each dropped when its dedup window ends; a press
//! after that is told the report expired. In a fleet the process that sent
//! the alert also keeps the report in Redis for the window, so whichever
//! process answers the press can send it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::chat::Target;
use crate::delivery::{Document, Message};
use crate::record::Record;
use crate::render::report::{cut, fields_line, full_report, MAX_REPORT_BYTES};

use super::heading::{title_of, Heading};
use super::Pipeline;

/// Most reports kept.
const MAX_REPORTS: usize = 256;
/// Most bytes of reports kept.
const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Backtrace frames a report shows at most.
const REPORT_FRAMES: usize = 128;
/// Distinct field sets of later repeats kept per report.
const MAX_FIELD_SETS: usize = 5;

/// The reports kept.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    on: bool,
    by_kind: HashMap<u64, Report>,
    /// Oldest first (with when it was made, to tell a stale slot).
    order: VecDeque<(u64, Instant)>,
    bytes: usize,
    /// Reports made since the worker last took them (for the fleet).
    fresh: Vec<(u64, String)>,
}

#[derive(Debug)]
struct Report {
    text: String,
    field_sets: VecDeque<String>,
    made: Instant,
}

impl Report {
    fn size(&self) -> usize {
        self.text.len() + self.field_sets.iter().map(String::len).sum::<usize>()
    }

    /// The report with its repeats' field sets.
    fn whole(&self) -> String {
        if self.field_sets.is_empty() {
            return self.text.clone();
        }
        let mut text = self.text.clone();
        text.push_str("\nLater repeats' fields (distinct, most recent last)\n");
        for set in &self.field_sets {
            text.push_str("  ");
            text.push_str(set);
            text.push('\n');
        }
        cut(&mut text, MAX_REPORT_BYTES);
        text
    }
}

impl Reports {
    fn keep(&mut self, fingerprint: u64, text: String, now: Instant) {
        self.forget(fingerprint);
        self.fresh.push((fingerprint, text.clone()));
        let report = Report {
            text,
            field_sets: VecDeque::new(),
            made: now,
        };
        self.bytes += report.size();
        self.by_kind.insert(fingerprint, report);
        self.order.push_back((fingerprint, now));
        while self.by_kind.len() > MAX_REPORTS || self.bytes > MAX_BYTES {
            let Some((oldest, _)) = self.order.pop_front() else {
                break;
            };
            self.forget(oldest);
        }
    }

    fn forget(&mut self, fingerprint: u64) {
        if let Some(report) = self.by_kind.remove(&fingerprint) {
            self.bytes -= report.size();
        }
    }

    fn repeat(&mut self, fingerprint: u64, fields: String) {
        let Some(report) = self.by_kind.get_mut(&fingerprint) else {
            return;
        };
        if fields.is_empty() || report.field_sets.contains(&fields) {
            return;
        }
        self.bytes += fields.len();
        report.field_sets.push_back(fields);
        if report.field_sets.len() > MAX_FIELD_SETS {
            if let Some(dropped) = report.field_sets.pop_front() {
                self.bytes -= dropped.len();
            }
        }
    }

    /// Drops the reports whose dedup window (`window`) has ended at `now`.
    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some(&(fingerprint, made)) = self.order.front() {
            if now.saturating_duration_since(made) < window {
                break;
            }
            self.order.pop_front();
            if self
                .by_kind
                .get(&fingerprint)
                .is_some_and(|r| r.made == made)
            {
                self.forget(fingerprint);
            }
        }
    }
}

impl Pipeline {
    /// Backtrace frames resolved: the alert shows `max_traceback_lines`,
    /// the report (if kept) up to [`REPORT_FRAMES`].
    pub(super) fn frames_kept(&self) -> usize {
        let shown = self.config.limits.max_traceback_lines;
        match self.reports.on && shown > 0 {
            true => shown.max(REPORT_FRAMES),
            false => shown,
        }
    }

    /// Alerts carry a 📄 button: their reports are kept.
    #[cfg_attr(not(feature = "interactive"), allow(dead_code))] // used with the `interactive` feature
    pub(crate) fn keep_reports(&mut self) {
        self.reports.on = true;
    }

    /// Keeps the full report of a new alert (after the sanitizer ran).
    pub(super) fn keep_report(&mut self, fingerprint: u64, record: &Record) {
        if !self.reports.on {
            return;
        }
        let text = full_report(record, &title_of(record), &self.render_context(0));
        let now = self.clock.now();
        self.reports.keep(fingerprint, text, now);
    }

    /// Notes the fields of a repeat (not sanitized yet: sanitized here).
    pub(super) fn note_repeat_fields(&mut self, fingerprint: u64, record: &Record) {
        if !self.reports.on || !self.reports.by_kind.contains_key(&fingerprint) {
            return;
        }
        let fields = self
            .config
            .sanitizer
            .sanitize(&fields_line(record))
            .into_owned();
        self.reports.repeat(fingerprint, fields);
    }

    /// Drops the reports whose window ended.
    pub(super) fn expire_reports(&mut self) {
        let (now, window) = (self.clock.now(), self.config.dedup.window);
        self.reports.expire(now, window);
    }

    /// The reports made since the last call (for the fleet to keep).
    pub(crate) fn take_fresh_reports(&mut self) -> Vec<(u64, String)> {
        std::mem::take(&mut self.reports.fresh)
    }

    /// The report of `fingerprint`, if this process keeps it.
    pub(crate) fn report(&self, fingerprint: u64) -> Option<String> {
        self.reports.by_kind.get(&fingerprint).map(Report::whole)
    }

    /// The message that sends `report` as a file, in reply to the alert
    /// `message_id` of `chat`.
    pub(crate) fn report_message(
        &self,
        fingerprint: u64,
        report: String,
        (chat, message_id): (Target, i64),
    ) -> Message {
        let heading = Heading::new(crate::alert::AlertLevel::Info, "Full report");
        let caption = "📄 Full report".to_owned();
        Message {
            silent: true,
            reply_to: Some(message_id),
            document: Some(Document {
                file_name: format!("report-{fingerprint:016x}.txt"),
                content: report,
            }),
            ..Message::page(heading.level, heading.title, &chat, caption)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_bounded_and_end_with_their_window() {
        let start = Instant::now();
        let mut reports = Reports::default();
        for fp in 0..(MAX_REPORTS as u64 + 10) {
            reports.keep(fp, "report".to_owned(), start);
        }
        assert_eq!(reports.by_kind.len(), MAX_REPORTS);
        assert!(!reports.by_kind.contains_key(&0), "the oldest went first");
        reports.repeat(100, "shard=3".to_owned());
        reports.repeat(100, "shard=3".to_owned());
        reports.repeat(100, "shard=7".to_owned());
        assert_eq!(reports.by_kind[&100].field_sets.len(), 2, "distinct sets");
        assert!(reports.by_kind[&100].whole().contains("shard=7"));
        reports.expire(start + Duration::from_secs(600), Duration::from_secs(600));
        assert!(reports.by_kind.is_empty());
        assert_eq!(reports.bytes, 0);
    }
}
