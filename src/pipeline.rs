//! The worker's synchronous stages, in order: `before_send` → sanitize →
//! dedup → digest → render. What comes out is a list of [`Message`]s for the
//! [`Courier`](crate::delivery::Courier) to deliver.

use std::sync::Arc;

use crate::alert::{Alert, AlertLevel};
use crate::builder::{BeforeSend, Config};
use crate::dedup::{crosses_threshold, Claim, Dedup, Delivered, Tally, Verdict};
use crate::digest::{Digest, DigestData, Route, Totals};
use crate::fingerprint::fingerprint;
use crate::outbox::Message;
use crate::record::{FieldValue, Kind, Record};
use crate::render::{
    format_duration, render_digest, render_notice, render_record, render_tally, RenderContext,
};
use crate::repeat_gate::OpenKind;
use crate::route::Target;
use crate::span_key::span_key;
use crate::stats::{Counters, Outcome};

/// The worker's processing state before delivery.
#[derive(Debug)]
pub(crate) struct Pipeline {
    config: Arc<Config>,
    dedup: Dedup,
    digest: Digest,
    counters: Arc<Counters>,
    /// `Counters::dropped_for_room` when the last message was rendered.
    dropped_reported: u64,
    /// Tallies waiting for the worker (which may ask the fleet for totals).
    pending_tallies: Vec<Tally>,
    /// With a fleet: closed digest windows for the worker to push, as
    /// `(window id, data)`.
    pending_windows: Vec<(u64, DigestData)>,
    /// Kinds of alert now inside their dedup window whose records carried a
    /// repeat-gate key: the worker opens the gate for them.
    openings: Vec<OpenKind>,
}

impl Pipeline {
    pub(crate) fn new(config: Arc<Config>, counters: Arc<Counters>) -> Self {
        let digest = Digest::new(
            config.batch_window,
            config.slow_batch,
            config.digest_top,
            config.clock.now(),
            config.clock.wall(),
        );
        let mut dedup = Dedup::new(config.rate_limit, config.dedup_capacity);
        if config.redis_url.is_some() {
            dedup.tally_every_entry();
        }
        Pipeline {
            dedup,
            config,
            digest,
            counters,
            dropped_reported: 0,
            pending_tallies: Vec::new(),
            pending_windows: Vec::new(),
            openings: Vec::new(),
        }
    }

    /// Closed digest windows waiting to be pushed to the fleet.
    pub(crate) fn take_windows(&mut self) -> Vec<(u64, DigestData)> {
        std::mem::take(&mut self.pending_windows)
    }

    /// Renders a digest from (merged) window data.
    pub(crate) fn render_window(&self, data: DigestData) -> Vec<Message> {
        let Some(report) = data.into_report(self.config.digest_top, self.config.batch_window)
        else {
            return Vec::new();
        };
        self.digest_messages(&report)
    }

    /// The dedup key of a record that dedup applies to.
    pub(crate) fn dedup_key(&self, record: &Record) -> Option<u64> {
        (self.dedup.enabled() && record.kind == Kind::Alert).then(|| fingerprint(record))
    }

    /// The tallies produced since the last call.
    pub(crate) fn take_tallies(&mut self) -> Vec<Tally> {
        std::mem::take(&mut self.pending_tallies)
    }

    /// When periodic work is next due (on the configured clock): the digest
    /// window closing, or a dedup window closing.
    pub(crate) fn next_wake(&self) -> std::time::Instant {
        let digest = self.digest.due_at();
        self.dedup
            .next_expiry()
            .map_or(digest, |expiry| expiry.min(digest))
    }

    /// The periodic work that is due: tallies of closed dedup windows, and
    /// the digest.
    pub(crate) fn tick(&mut self) -> Vec<Message> {
        let now = self.config.clock.now();
        let mut tallies = Vec::new();
        self.dedup.expire(now, &mut tallies);
        let mut messages = self.stash_tallies(tallies);
        if now >= self.digest.due_at() {
            messages.extend(self.take_digest());
        }
        messages
    }

    /// Remembers where a deduplicated alert landed.
    pub(crate) fn delivered(&mut self, delivered: Delivered) {
        self.dedup.delivered(delivered);
    }

    /// Every pending tally (shutdown); they are taken with `take_tallies`.
    pub(crate) fn drain_tallies(&mut self) -> Vec<Message> {
        let mut tallies = Vec::new();
        self.dedup.drain(&mut tallies);
        self.stash_tallies(tallies)
    }

    /// Asks the worker to open the repeat gate for the record's kind.
    fn open_gate(
        &mut self,
        record: &Record,
        fingerprint: u64,
        fleet: bool,
        title: String,
        target: Target,
    ) {
        if let Some(key) = record.gate_key {
            self.openings.push(OpenKind {
                key,
                fingerprint,
                fleet,
                title,
                level: record.level,
                target,
            });
        }
    }

    /// The kinds to open the gate for (see `openings`).
    pub(crate) fn take_openings(&mut self) -> Vec<OpenKind> {
        std::mem::take(&mut self.openings)
    }

    /// Whether this process's dedup window for `fingerprint` is open.
    pub(crate) fn holds(&self, fingerprint: u64) -> bool {
        self.dedup.holds(fingerprint)
    }

    /// Settles `repeats` counted at the gate for `kind`, as the same number
    /// of repeat records would have been: counted, added to the tally, and
    /// a threshold tally when one is crossed. `fleet_total` is the fleet's
    /// count after them, for a fleet kind.
    pub(crate) fn gate_repeats(&mut self, kind: &OpenKind, repeats: u64, fleet_total: Option<u64>) {
        self.counters.accept_repeats(repeats);
        self.counters.settle(Outcome::Deduplicated, repeats);
        let fp = kind.fingerprint;
        let crossed = |total: u64| crosses_threshold(total, repeats);
        let mut tallies = Vec::new();
        match fleet_total {
            Some(total) => {
                let _ = self.dedup.add_repeats(fp, repeats);
                if crossed(total) {
                    let heading = (kind.title.as_str(), kind.level, &kind.target);
                    tallies.push(self.dedup.fleet_tally(fp, total, heading));
                }
            }
            None => {
                // `None`: the entry is gone (evicted for room); the repeats
                // are counted above but no longer tallied.
                if let Some(total) = self.dedup.add_repeats(fp, repeats) {
                    if crossed(total) {
                        tallies.extend(self.dedup.tally(fp));
                    }
                }
            }
        }
        self.stash_tallies(tallies);
    }

    /// Keeps tallies for the worker; returns no messages (yet).
    fn stash_tallies(&mut self, tallies: Vec<Tally>) -> Vec<Message> {
        self.pending_tallies.extend(tallies);
        Vec::new()
    }

    /// The messages that report `tallies`.
    pub(crate) fn render_tallies(&self, tallies: Vec<Tally>) -> Vec<Message> {
        let mut messages = Vec::new();
        for tally in tallies {
            let (edit, text, fallback) = render_tally(&tally, &self.config.service);
            let mut message = messages_for(
                vec![text],
                &tally.target,
                Heading::new(AlertLevel::Info, &tally.title),
                true,
                0,
            );
            for m in &mut message {
                m.edit = edit;
                m.fallback = fallback.clone();
            }
            messages.extend(message);
        }
        messages
    }

    /// Closes the digest window: the digest's messages, if it has anything
    /// to say.
    pub(crate) fn take_digest(&mut self) -> Vec<Message> {
        let totals = Totals {
            dropped: self.counters.dropped_for_room(),
            deduplicated: self.counters.deduplicated(),
        };
        let now = self.config.clock.now();
        if self.config.redis_url.is_some() {
            // A fleet merges windows first: the worker pushes this one.
            let window_id = self.digest.window_id();
            let (_, data) = self.digest.take_data(now, totals);
            self.pending_windows.push((window_id, data));
            return Vec::new();
        }
        let Some(report) = self.digest.take(now, totals) else {
            return Vec::new();
        };
        self.digest_messages(&report)
    }

    fn digest_messages(&self, report: &crate::digest::DigestReport) -> Vec<Message> {
        let pages = render_digest(report, &self.render_context(0));
        // The records a digest reports were settled as batched already.
        messages_for(
            pages,
            &self.config.digest_target,
            Heading::new(AlertLevel::Info, "Digest"),
            true,
            0,
        )
    }

    fn render_context(&self, dropped_since_last: u64) -> RenderContext<'_> {
        RenderContext {
            service: &self.config.service,
            environment: &self.config.environment,
            max_traceback_lines: self.config.max_traceback_lines,
            max_field_len: self.config.max_field_len,
            max_fields: self.config.max_fields,
            dropped_since_last,
            max_messages: 1 + self.config.max_continuation_messages,
        }
    }

    /// Runs the stages on one record and returns the messages to send: none
    /// (refused by `before_send`), one, or several pages of a long alert
    /// (the last page settles the record).
    pub(crate) fn prepare(&mut self, mut record: Record, claim: Claim) -> Vec<Message> {
        // Before the hook and sanitizing change anything: the same key the
        // worker asked the fleet about.
        let dedup_key = self.dedup_key(&record);
        if let Some(hook) = &self.config.before_send {
            // A panic in the user's hook must not kill the worker: the alert
            // then goes out as it was (and is still sanitized below).
            let keep = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_hook(hook, &mut record)
            }));
            match keep {
                Ok(true) => {}
                Ok(false) => {
                    self.counters.filter();
                    return Vec::new();
                }
                Err(_) => eprintln!(
                    "tracing-telegram: the before_send hook panicked; the alert is sent unchanged"
                ),
            }
        }
        // Repeats are only counted: they are not sanitized or resolved, and
        // what dedup keeps of them (the title) is sanitized on its own.
        let mut tallies = Vec::new();
        let mut fingerprint_of_new = None;
        if let Some(fp) = dedup_key {
            if let Claim::Repeat { total } = claim {
                // Another alert of the fleet (maybe ours) covers it.
                self.counters.settle(Outcome::Deduplicated, 1);
                let _ = self.dedup.add_repeats(fp, 1);
                let title = self.safe_title(&record);
                let target = self.config.routes.target(record.level);
                if crosses_threshold(total, 1) {
                    tallies.push(self.dedup.fleet_tally(
                        fp,
                        total,
                        (&title, record.level, &target),
                    ));
                }
                self.open_gate(&record, fp, true, title, target);
                return self.stash_tallies(tallies);
            }
            let title = self.safe_title(&record);
            let target = self.config.routes.target(record.level);
            let gate_info = (claim == Claim::Local).then(|| (title.clone(), target.clone()));
            let verdict = self.dedup.admit(
                fp,
                self.config.clock.now(),
                (&title, record.level, &target),
                &mut tallies,
            );
            self.counters.set_dedup_evictions(self.dedup.evictions());
            // Held in this process's window: later repeats may be counted at
            // the gate. (A fleet's first alert waits for its first repeat,
            // which makes the fleet's tally known here.)
            if let Some((title, target)) = gate_info {
                self.open_gate(&record, fp, false, title, target);
            }
            match verdict {
                Verdict::Alert => fingerprint_of_new = Some(fp),
                Verdict::Repeat { tally_due } => {
                    self.counters.settle(Outcome::Deduplicated, 1);
                    tallies.extend(tally_due.then(|| self.dedup.tally(fp)).flatten());
                    return self.stash_tallies(tallies);
                }
            }
        }
        let mut messages = self.stash_tallies(tallies);
        if let Some(mut backtrace) = record.backtrace.take() {
            record.frames = crate::frames::resolve(&mut backtrace, self.config.max_traceback_lines);
        }
        self.config.sanitizer.sanitize_record(&mut record);
        let slow_key = match (&record.kind, record.metadata()) {
            (Kind::Slow(_), Some(metadata)) => Some(span_key(
                metadata.target(),
                metadata.name(),
                Some(&record.fields),
            )),
            _ => None,
        };
        let now = self.config.clock.now();
        if self.digest.route(&record, slow_key.as_deref(), now) == Route::Batched {
            self.counters.settle(Outcome::Batched, 1);
            return messages;
        }
        if let (Kind::Slow(slow), Some(key)) = (&record.kind, slow_key) {
            record.title = Some(format!("Slow: {key}"));
            record.message = if slow.judged_busy {
                format!(
                    "took {} (threshold {}; busy {})",
                    format_duration(slow.total),
                    format_duration(slow.threshold),
                    format_duration(slow.busy)
                )
                .into()
            } else {
                format!(
                    "took {} (threshold {})",
                    format_duration(slow.total),
                    format_duration(slow.threshold)
                )
                .into()
            };
        }
        let dropped_total = self.counters.dropped_for_room();
        let dropped_since_last = dropped_total.saturating_sub(self.dropped_reported);
        self.dropped_reported = dropped_total;
        let pages = render_record(&record, &self.render_context(dropped_since_last));
        let target = self.config.routes.target(record.level);
        let heading = Heading::new(record.level, &title_of(&record));
        let mut alert = messages_for(pages, &target, heading, record.level.is_silent(), 1);
        if let Some(first) = alert.first_mut() {
            first.fingerprint = fingerprint_of_new;
        }
        messages.extend(alert);
        messages
    }

    /// A one-line silent notice (startup, shutdown) to where Info goes.
    pub(crate) fn notice(&self, emoji: &str, text: &str) -> Vec<Message> {
        let mut context = self.render_context(0);
        context.max_messages = 1;
        let pages = render_notice(emoji, text, &context);
        let target = self.config.routes.target(AlertLevel::Info);
        messages_for(
            pages,
            &target,
            Heading::new(AlertLevel::Info, text),
            true,
            0,
        )
    }

    /// The record's title, sanitized (for what dedup keeps of it).
    fn safe_title(&self, record: &Record) -> String {
        self.config
            .sanitizer
            .sanitize(&title_of(record))
            .into_owned()
    }

    /// Every distinct destination, for the configuration check.
    pub(crate) fn targets(&self) -> Vec<Target> {
        let mut targets: Vec<Target> = Vec::new();
        let levels = [
            AlertLevel::Critical,
            AlertLevel::Error,
            AlertLevel::Warning,
            AlertLevel::Info,
        ];
        let all = levels
            .iter()
            .map(|level| self.config.routes.target(*level))
            .chain(std::iter::once(self.config.digest_target.clone()));
        for target in all {
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        targets
    }
}

/// What the `on_sent` hook is told about a message.
struct Heading {
    level: AlertLevel,
    title: String,
}

impl Heading {
    fn new(level: AlertLevel, title: &str) -> Self {
        let title = match title.char_indices().nth(200) {
            Some((cut, _)) => format!("{}…", &title[..cut]),
            None => title.to_owned(),
        };
        Heading { level, title }
    }
}

/// A record's short title: its explicit title, or its message's first line.
fn title_of(record: &Record) -> String {
    record
        .title
        .clone()
        .unwrap_or_else(|| record.message.lines().next().unwrap_or_default().to_owned())
}

/// The messages for an alert's pages: only the first may notify, and the
/// last settles `records`.
fn messages_for(
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

/// Shows the record to the user's hook as an [`Alert`] and applies what it
/// changed. Fields the hook left as they were keep their original values
/// (error chains included).
fn run_hook(hook: &BeforeSend, record: &mut Record) -> bool {
    let mut alert = Alert {
        level: record.level,
        title: record.title.clone().unwrap_or_default(),
        message: Some(record.message.to_string()).filter(|m| !m.is_empty()),
        details: record
            .fields
            .iter()
            .map(|(name, value)| (name.clone(), value.to_string()))
            .collect(),
    };
    if !(hook.0)(&mut alert) {
        return false;
    }
    record.level = alert.level;
    record.title = Some(alert.title).filter(|t| !t.is_empty());
    record.message = alert.message.unwrap_or_default().into();
    let mut original = std::mem::take(&mut record.fields);
    record.fields = alert
        .details
        .into_iter()
        .map(|(name, text)| {
            let kept = original
                .iter()
                .position(|(n, v)| *n == name && v.to_string() == text)
                .map(|i| original.swap_remove(i).1);
            let value = kept.unwrap_or(FieldValue::Str(text));
            (name, value)
        })
        .collect();
    true
}
