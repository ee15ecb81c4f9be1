//! The pipeline: the worker's synchronous stages, from a record to the
//! messages that report it.
//!
//! In: a [`Record`] (with the fleet's [`Claim`] on its fingerprint), counts
//! from the repeat gate, and the clock's ticks. Out: [`Message`]s addressed
//! and ready for delivery, [`Tally`]s for the worker to complete with the
//! fleet's totals, and closed digest windows. Each stage
//! is one function that returns what it produced; nothing is kept for the
//! worker to collect later.
//!
//! The stages, in order:
//! 1. [`fingerprint`]: the record's dedup key (computed once; the worker
//!    asks the fleet about the same key before the record comes in).
//! 2. [`hook`]: the user's `before_send`, which may edit or drop it.
//! 3. [`dedup`]: a repeat inside its window is counted (and tallied at
//!    10, 100, 1 000 …), not sent; from then on the layer may count its
//!    repeats at the gate, which [`settle`] settles (the gate is `crate::gate`).
//! 4. [`enrich`]: the backtrace resolved.
//! 5. sanitize (`crate::sanitize`): secrets redacted from every text.
//! 6. [`digest`]: warnings and all but the first slow span of a key are
//!    only counted for the periodic digest (percentiles by [`histogram`]).
//! 7. render (`crate::render`) and address: the pages of the alert.
//!
//! [`notices`] holds what the pipeline says besides alerts: notices, hook
//! panics, the dark notice, and where messages go. Between 6 and 7, a new
//! kind may be named in an incident instead of alerting on its own
//! ([`incident`], and `outbreak` for the stage and its messages); a
//! callsite with many different messages is folded into one kind
//! ([`fold`], decided at the gate).

pub(crate) mod address;
mod dedup;
pub(crate) mod digest;
pub(crate) mod enrich;
mod escalate;
pub(crate) mod fingerprint;
pub(crate) mod fold;
mod heading;
pub(crate) mod histogram;
pub(crate) mod history;
pub(crate) mod hook;
pub(crate) mod incident;
pub(crate) mod mutes;
pub(crate) mod notices;
mod outbreak;
mod quieting;
mod reports;
mod resolve;
mod routed_digests;
pub(crate) mod settle;
pub(crate) mod spread;
mod tally;

use std::sync::Arc;
use std::time::Instant;

use crate::channel::drops::DropTally;
use crate::chat::{Routes, Target};
use crate::clock::Clock;
use crate::delivery::{Delivered, Message};
use crate::fleet::claim::Claim;
use crate::gate::{FleetHeadings, OpenKind, OpenKinds, RepeatGate};
use crate::hooks::BeforeSend;
use crate::quiet::QuietHours;
use crate::record::http::span_key;
use crate::record::{Occurrence, Record};
use crate::render::alert::{slow_message, slow_title};
use crate::render::{render_record, Identity, Limits, RenderContext};
use crate::report::Reporter;
use crate::sanitize::Sanitizer;
use crate::stats::{Counters, Outcome};

pub(crate) use dedup::DedupConfig;
pub(crate) use digest::{ClosedWindow, DigestConfig, DigestData};
pub(crate) use incident::IncidentConfig;
pub(crate) use tally::Tally;

pub(crate) use heading::{messages_for, silent, title_of, Heading};

use dedup::{Dedup, Verdict};
use digest::{Digest, Route, Totals};
use fold::Folds;
use heading::name_response;
use hook::HookVerdict;
use incident::{Admission, FleetAdmission, Incidents};

/// What the pipeline is configured with: each stage's own configuration
/// (the builder holds it as options are set).
#[derive(Debug, Clone, Default)]
pub(crate) struct PipelineConfig {
    /// The service, environment and version shown in every message.
    pub(crate) identity: Identity,
    /// What an alert shows at most.
    pub(crate) limits: Limits,
    pub(crate) dedup: DedupConfig,
    /// When many new kinds at once make one incident message.
    pub(crate) incidents: IncidentConfig,
    pub(crate) digest: DigestConfig,
    pub(crate) sanitizer: Sanitizer,
    pub(crate) before_send: Option<BeforeSend>,
    /// `https://…/{trace_id}`: links each alert's trace (checked when built).
    pub(crate) trace_link: Option<String>,
    /// When alerts below Critical are sent without a sound.
    pub(crate) quiet_hours: Option<QuietHours>,
}

impl PipelineConfig {
    /// What rendering needs to know about the service and the limits.
    fn render_context(&self, dropped_since_last: u64) -> RenderContext<'_> {
        let (identity, limits) = (&self.identity, &self.limits);
        RenderContext {
            service: &identity.service,
            environment: &identity.environment,
            max_traceback_lines: limits.max_traceback_lines,
            max_field_len: limits.max_field_len,
            max_fields: limits.max_fields,
            dropped_since_last,
            max_messages: 1 + limits.max_continuation_messages,
            trace_link: self.trace_link.as_deref(),
            past: None,
        }
    }
}

/// Where messages go: each level's destination, the digest's, and the
/// fallback chat told when the main one goes dark (resolved from the
/// configured chats by the builder).
#[derive(Debug, Clone)]
pub(crate) struct Addresses {
    pub(crate) routes: Routes,
    pub(crate) digest: Target,
    pub(crate) fallback: Option<Target>,
    /// Where unacknowledged alerts are escalated besides their own chat.
    pub(crate) escalation: Option<Target>,
}

/// What one record produced.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    /// The alert's pages, if it is sent.
    pub(crate) messages: Vec<Message>,
    /// Tallies due (thresholds crossed, entries evicted for room).
    pub(crate) tallies: Vec<Tally>,
}

/// What the periodic work produced.
#[derive(Debug, Default)]
pub(crate) struct Ticked {
    /// Tallies of dedup windows that closed.
    pub(crate) tallies: Vec<Tally>,
    /// The digest window, if it closed.
    pub(crate) window: Option<ClosedWindow>,
}

/// The worker's processing state before delivery.
#[derive(Debug)]
pub(crate) struct Pipeline {
    config: PipelineConfig,
    addresses: Addresses,
    clock: Clock,
    dedup: Dedup,
    /// The kinds whose repeats the layer counts at the gate (the dedup
    /// stage's side of the repeat gate, see [`settle`]).
    open_kinds: OpenKinds,
    /// Headings of kinds other processes alerted (see `crate::gate`).
    fleet_headings: FleetHeadings,
    /// Callsites folded at the gate: their alerts' words, and when they end.
    folds: Folds,
    /// Many new kinds at once: one message for them (see [`incident`]).
    incidents: Incidents,
    digest: Digest,
    counters: Arc<Counters>,
    reporter: Arc<Reporter>,
    /// What the full queue dropped, by kind (filled by the producer).
    drops: Arc<DropTally>,
    /// `Counters::dropped_for_room` when the last message was rendered.
    dropped_reported: u64,
    /// When a hook's panic was last alerted (once per digest window).
    hook_alerted_at: Option<Instant>,
    /// The last alert rendered: its title (sanitized) and when.
    last_alert: Option<(std::time::SystemTime, String)>,
    /// Interactive alerts: the buttons they carry, and the kinds chat
    /// members muted (see [`mutes`]).
    interactive: mutes::Interactive,
    /// Full reports for the 📄 button (see [`reports`]).
    reports: reports::Reports,
    /// Alerts waiting to be acknowledged (see [`escalate`]).
    escalations: escalate::Escalations,
    /// What each kind's earlier alerts were (see [`history`]).
    history: history::History,
    /// What varies across each kind's repeats (see [`spread`]).
    spreads: spread::Spreads,
    /// Whether a fleet shares this process's state (then mutes are the
    /// fleet's, and only briefly trusted here).
    shared: bool,
}

/// What the pipeline shares with the rest of the crate.
#[derive(Debug)]
pub(crate) struct Links {
    /// The repeat gate the layer counts at.
    pub(crate) gate: Arc<RepeatGate>,
    /// What the full queue dropped, by kind (filled by the producer).
    pub(crate) drops: Arc<DropTally>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) reporter: Arc<Reporter>,
}

impl Pipeline {
    /// A pipeline; `shared` when a fleet shares its dedup (then every
    /// closing window is tallied: other processes may have counted repeats).
    pub(crate) fn new(
        config: PipelineConfig,
        addresses: Addresses,
        clock: Clock,
        shared: bool,
        links: Links,
    ) -> Self {
        let Links {
            gate,
            drops,
            counters,
            reporter,
        } = links;
        let digest = Digest::new(
            config.digest.window,
            config.digest.slow_batch,
            clock.now(),
            clock.wall(),
        );
        let capacity = config.dedup.capacity;
        let spreads = spread::Spreads::new(config.dedup.field_distribution);
        let mut dedup = Dedup::new(config.dedup.window, capacity);
        dedup.set_clock(clock.clone());
        let incidents = config.incidents;
        if shared {
            dedup.tally_every_entry();
        }
        // In a fleet a resolution is checked against the fleet's last
        // occurrence before it is sent (see `resolve`).
        dedup.resolve_after(config.dedup.quiet_period());
        Pipeline {
            config,
            addresses,
            clock,
            dedup,
            folds: Folds::new(Arc::clone(&gate)),
            incidents: Incidents::new(incidents),
            open_kinds: OpenKinds::new(gate),
            fleet_headings: FleetHeadings::default(),
            digest,
            counters,
            reporter,
            drops,
            dropped_reported: 0,
            hook_alerted_at: None,
            last_alert: None,
            interactive: mutes::Interactive::default(),
            history: history::History::new(capacity),
            spreads,
            escalations: escalate::Escalations::default(),
            reports: reports::Reports::default(),
            shared,
        }
    }

    /// Stage 1: the dedup key of a record that dedup applies to. Taken
    /// before the hook and sanitizing change anything.
    pub(crate) fn dedup_key(&self, record: &Record) -> Option<u64> {
        (self.dedup.enabled() && record.occurrence == Occurrence::Alert)
            .then(|| fingerprint::routed(fingerprint::fingerprint(record), record))
    }

    /// Runs the stages on one record whose dedup key is `key` (from
    /// [`dedup_key`](Pipeline::dedup_key)) and which the fleet `claim`ed.
    pub(crate) fn prepare(
        &mut self,
        mut record: Record,
        key: Option<u64>,
        (claim, incident): (Claim, Option<FleetAdmission>),
    ) -> Prepared {
        if let Some(dropped) = self.run_hook(&mut record) {
            return dropped;
        }
        name_response(&mut record);
        self.folds.arrive(&mut record, key, self.clock.now());
        let mut prepared = Prepared::default();
        let fingerprint_of_new = match key {
            Some(fp) => match self.deduplicate(&record, fp, claim, &mut prepared) {
                Some(new) => Some(new),
                None => return prepared,
            },
            None => None,
        };
        if record.occurrence == Occurrence::Alert {
            self.folds.alerted(&mut record);
        }
        enrich::resolve_backtrace(&mut record, self.frames_kept());
        self.config.sanitizer.sanitize_record(&mut record);
        if let Some(fp) = fingerprint_of_new {
            self.keep_report(fp, &record);
        }
        if !self.route(&mut record) {
            return prepared;
        }
        prepared.messages = match self.admit_to_incident(&record, fingerprint_of_new, incident) {
            Admission::Own => self.render_alert(&record, fingerprint_of_new),
            Admission::Opened(id) => self.render_incident(id),
            Admission::Joined(_) => {
                // Named in the incident, like a repeat in its tally.
                self.counters.settle(Outcome::Deduplicated, 1);
                self.incident_edits()
            }
            Admission::Elsewhere => {
                // Named in another process's incident.
                self.counters.settle(Outcome::Deduplicated, 1);
                Vec::new()
            }
        };
        prepared
    }

    /// Stage 2: `before_send`; what the record produced instead if the hook
    /// dropped it (nothing, or the report of the hook's panic).
    fn run_hook(&mut self, record: &mut Record) -> Option<Prepared> {
        let hook = self.config.before_send.as_ref()?;
        match hook.run(record) {
            HookVerdict::Keep => None,
            HookVerdict::Drop => {
                self.counters.filter();
                Some(Prepared::default())
            }
            // Fail closed: the hook may be the user's redaction, so what it
            // was given is not sent.
            HookVerdict::Panicked(payload) => {
                self.counters.filter();
                let messages = self.hook_panicked("before_send", &payload);
                Some(Prepared {
                    messages,
                    ..Prepared::default()
                })
            }
        }
    }

    /// Stage 3: dedup. The fingerprint if the record is new (to be sent);
    /// `None` if it was counted as a repeat. Tallies due go into `out`; the
    /// record's kind is opened at the gate once its window is held.
    fn deduplicate(
        &mut self,
        record: &Record,
        fp: u64,
        claim: Claim,
        out: &mut Prepared,
    ) -> Option<u64> {
        if let Some(opening) = self.muted(record, fp, claim) {
            if let Some(kind) = opening {
                self.open_kinds.open(kind);
            }
            return None;
        }
        let (verdict, opening) = self.admit(record, fp, claim, out);
        if let Some(kind) = opening {
            self.open_kinds.open(kind);
        }
        verdict
    }

    /// The dedup decision, and the kind whose repeats the layer may count
    /// from now on.
    fn admit(
        &mut self,
        record: &Record,
        fp: u64,
        claim: Claim,
        out: &mut Prepared,
    ) -> (Option<u64>, Option<OpenKind>) {
        // Repeats are only counted: they are not sanitized or resolved, and
        // what dedup keeps of them (the title) is sanitized on its own.
        let title = self.safe_title(record);
        let target = self.target_of(record);
        if let Claim::Repeat { total, crossed } = claim {
            // Another alert of the fleet (maybe ours) covers it.
            self.counters.settle(Outcome::Deduplicated, 1);
            self.note_values(fp, record, true);
            let _ = self.dedup.add_repeats(fp, 1, self.clock.now());
            let heading = (title.as_str(), record.level, &target);
            if crossed {
                out.tallies.push(self.dedup.fleet_tally(fp, total, heading));
            }
            // Later crossings are found when the batched counts reach Redis.
            self.fleet_headings.remember(fp, heading);
            return (None, opening(record, fp, true, title, target));
        }
        if claim == Claim::First {
            // The fleet's window ended before this process's (a mute ended
            // it): this process's ends too, and the kind is alerted anew.
            out.tallies.extend(self.dedup.end_fleet_window(fp));
        }
        let heading = (title.as_str(), record.level, &target);
        let verdict = self
            .dedup
            .admit(fp, self.clock.now(), heading, &mut out.tallies);
        if claim == Claim::First && verdict == Verdict::Alert {
            self.dedup.claimed(fp);
        }
        self.counters.set_dedup_evictions(self.dedup.evictions());
        // From here the layer may count this kind's repeats at the gate
        // instead of queuing them. Where those counts go depends on who
        // holds the window: this process alone (`Claim::Local`: its own
        // tally), or the fleet (any other claim: Redis's tally, so that the
        // one alert shows the fleet's total).
        let fleet = claim != Claim::Local;
        let opening = opening(record, fp, fleet, title, target);
        if verdict == Verdict::Alert {
            self.spreads.restart(fp);
        }
        self.note_values(fp, record, fleet);
        match verdict {
            Verdict::Alert => (Some(fp), opening),
            Verdict::Repeat { tally_due } => {
                self.counters.settle(Outcome::Deduplicated, 1);
                self.note_repeat_fields(fp, record);
                out.tallies
                    .extend(tally_due.then(|| self.dedup.tally(fp)).flatten());
                (None, opening)
            }
        }
    }

    /// Stage 6: the digest. `false` if the record is only counted there; a
    /// slow span alerted now gets its title and message.
    fn route(&mut self, record: &mut Record) -> bool {
        let slow_key = match (&record.occurrence, record.metadata()) {
            (Occurrence::Slow(_), Some(metadata)) => Some(span_key(
                metadata.target(),
                metadata.name(),
                Some(&record.fields),
            )),
            _ => None,
        };
        let now = self.clock.now();
        if self.digest.route(record, slow_key.as_deref(), now) == Route::Batched {
            self.counters.settle(Outcome::Batched, 1);
            return false;
        }
        if let (Occurrence::Slow(slow), Some(key)) = (&record.occurrence, slow_key) {
            record.title = Some(slow_title(&key));
            record.message = slow_message(slow).into();
        }
        true
    }

    /// Stage 7: the alert's pages, addressed; the first carries the
    /// fingerprint of a new alert (so that its tallies can edit it).
    fn render_alert(&mut self, record: &Record, fingerprint: Option<u64>) -> Vec<Message> {
        let dropped_total = self.counters.dropped_for_room();
        let dropped_since_last = dropped_total.saturating_sub(self.dropped_reported);
        self.dropped_reported = dropped_total;
        let target = self.target_of(record);
        let (past, reply_to) = match fingerprint {
            Some(fp) => self.past_of(fp, &target),
            None => (None, None),
        };
        let mut context = self.render_context(dropped_since_last);
        context.past = past.as_deref();
        let pages = render_record(record, &context);
        let title = title_of(record);
        self.last_alert = Some((std::time::SystemTime::now(), title.clone()));
        let heading = Heading::new(record.level, &title);
        let silent = self.is_silent(record.level);
        let mut alert = messages_for(pages, &target, heading, silent, 1);
        if let Some(first) = alert.first_mut() {
            first.fingerprint = fingerprint;
            first.keyboard = fingerprint.and_then(|fp| self.keyboard(fp, &Default::default()));
            first.reply_to = reply_to;
        }
        alert
    }

    /// Remembers where a deduplicated alert or an incident landed; the
    /// incident's edit, if it changed meanwhile.
    pub(crate) fn delivered(&mut self, delivered: Delivered) -> Vec<Message> {
        if Incidents::is_incident(delivered.fingerprint) {
            if self
                .incidents
                .delivered(delivered.fingerprint, delivered.message_id)
            {
                return self.incident_edits();
            }
            return Vec::new();
        }
        self.await_ack(&delivered);
        self.dedup.delivered(delivered);
        Vec::new()
    }

    /// When periodic work is next due (on the configured clock): the digest
    /// window closing, or a dedup window closing.
    pub(crate) fn next_wake(&self) -> Instant {
        let digest = self.digest.due_at();
        let folds = self.folds.next_expiry(self.config.dedup.window);
        let resolution = self.dedup.next_resolution();
        [
            self.dedup.next_expiry(),
            self.next_mute_end(),
            folds,
            resolution,
        ]
        .into_iter()
        .flatten()
        .fold(digest, Instant::min)
    }

    /// The periodic work that is due: tallies of closed dedup windows, and
    /// the digest window if it closed.
    pub(crate) fn tick(&mut self) -> Ticked {
        let now = self.clock.now();
        let mut ticked = Ticked::default();
        self.dedup.expire(now, &mut ticked.tallies);
        self.dedup.resolve(now, &mut ticked.tallies);
        self.folds.expire(now, self.config.dedup.window);
        self.expire_mutes();
        self.expire_reports();
        if now >= self.digest.due_at() {
            ticked.window = Some(self.close_window());
        }
        ticked
    }

    /// Every pending tally (shutdown).
    pub(crate) fn drain_tallies(&mut self) -> Vec<Tally> {
        let mut tallies = Vec::new();
        self.dedup.drain(&mut tallies);
        tallies
    }

    /// Closes the digest window (on time, or at shutdown), with the kinds
    /// of what a full queue dropped.
    pub(crate) fn close_window(&mut self) -> ClosedWindow {
        let (dropped, _unnamed) = self.drops.take();
        for kind in dropped {
            let message = self.config.sanitizer.sanitize(&kind.message);
            self.digest.add_dropped(&kind.target, &message, kind.count);
        }
        let totals = Totals {
            dropped: self.counters.dropped_for_room(),
            deduplicated: self.counters.deduplicated(),
        };
        self.digest.close(self.clock.now(), totals)
    }

    pub(crate) fn render_context(&self, dropped_since_last: u64) -> RenderContext<'_> {
        self.config.render_context(dropped_since_last)
    }

    /// Counts the values of a record of `fingerprint` (what varies across
    /// its repeats); `fleet` when the fleet adds them up.
    fn note_values(&mut self, fingerprint: u64, record: &Record, fleet: bool) {
        let values = crate::gate::spread::values_of(&record.fields);
        let sanitizer = &self.config.sanitizer;
        self.spreads
            .add_record(fingerprint, &values, (fleet, sanitizer));
    }

    /// The counts of what varies across fleet kinds' repeats since the last
    /// call (for the fleet's store).
    pub(crate) fn take_fleet_spread(&mut self) -> Vec<(u64, Vec<spread::FleetCount>)> {
        self.spreads.take_fleet()
    }

    /// The record's title, sanitized (for what dedup keeps of it).
    fn safe_title(&self, record: &Record) -> String {
        self.config
            .sanitizer
            .sanitize(&title_of(record))
            .into_owned()
    }
}

/// The gate kind of a record that carried a gate key.
fn opening(
    record: &Record,
    fingerprint: u64,
    fleet: bool,
    title: String,
    target: Target,
) -> Option<OpenKind> {
    let key = record.gate_key?;
    Some(OpenKind {
        key,
        fingerprint,
        fleet,
        muted: false,
        title,
        level: record.level,
        target,
    })
}
