//! The periodic digest: slow spans with their percentiles, warning kinds,
//! and what was dropped or suppressed.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::html::HtmlWriter;
use super::time::format_duration;
use super::RenderContext;

/// One row of slow-span statistics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SlowRow {
    pub(crate) key: String,
    pub(crate) count: u64,
    pub(crate) p50: Duration,
    pub(crate) p95: Duration,
    pub(crate) max: Duration,
    pub(crate) threshold: Duration,
}

/// One row of grouped warnings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WarningRow {
    pub(crate) count: u64,
    pub(crate) target: String,
    pub(crate) message: String,
}

/// What one digest says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DigestReport {
    /// How long the window lasted.
    pub(crate) period: Duration,
    pub(crate) ended: SystemTime,
    /// The top slow keys, most frequent first.
    pub(crate) slow: Vec<SlowRow>,
    /// Slow keys not shown (beyond the top N), and occurrences of keys over
    /// the tracking cap.
    pub(crate) slow_more_keys: usize,
    pub(crate) slow_untracked: u64,
    pub(crate) warnings: Vec<WarningRow>,
    pub(crate) warnings_more_kinds: usize,
    pub(crate) warnings_untracked: u64,
    pub(crate) dropped: u64,
    /// The kinds of what was dropped, most first (what could be told apart).
    pub(crate) dropped_kinds: Vec<WarningRow>,
    pub(crate) dropped_more_kinds: usize,
    /// Kinds a chat member muted, with their records, most first.
    pub(crate) muted_kinds: Vec<WarningRow>,
    pub(crate) muted_more_kinds: usize,
    pub(crate) deduplicated: u64,
    /// The fleet's processes, when it watches itself.
    pub(crate) fleet: Option<FleetCensus>,
}

/// The fleet in a digest window (with `fleet.watch_fleet`): processes alive
/// when it closed, and those that started and vanished in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FleetCensus {
    pub(crate) alive: u64,
    pub(crate) started: u64,
    pub(crate) vanished: u64,
}

impl FleetCensus {
    /// Whether the window saw the fleet change.
    pub(crate) fn changed(&self) -> bool {
        self.started + self.vanished > 0
    }
}

/// Renders a digest as silent `parse_mode=HTML` messages.
pub(crate) fn render_digest(report: &DigestReport, ctx: &RenderContext<'_>) -> Vec<String> {
    let mut w = HtmlWriter::new(ctx.max_messages, format!("📊 DIGEST · {}", ctx.service));
    w.text("📊 ");
    w.tagged("b", "DIGEST", 16);
    w.text(" · ");
    w.tagged("b", ctx.service, 64);
    w.text(" · ");
    w.tagged("i", ctx.environment, 64);
    w.text("\n");
    w.tagged("i", &format!("last {}", format_duration(report.period)), 64);
    w.text("\n");
    write_slow_rows(&mut w, report);
    write_warning_rows(&mut w, report);
    write_dropped_rows(&mut w, report);
    write_muted_rows(&mut w, report);
    if let Some(census) = &report.fleet {
        w.text(&format!("\n{}\n", census_line(census)));
    }
    let mut notices = Vec::new();
    if report.dropped > 0 {
        notices.push(format!("{} record(s) dropped (queue full)", report.dropped));
    }
    if report.deduplicated > 0 {
        notices.push(format!("{} repeat(s) suppressed", report.deduplicated));
    }
    if !notices.is_empty() {
        w.text(&format!(
            "\n⚠️ {} since the last digest\n",
            notices.join(", ")
        ));
    }
    w.finish(report.ended)
}

/// `🫀 Fleet: 3 processes alive · 1 started · 1 vanished without shutting down`.
fn census_line(census: &FleetCensus) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut line = format!(
        "🫀 Fleet: {} alive",
        plural(census.alive, "process", "processes")
    );
    if census.started > 0 {
        line.push_str(&format!(" · {} started", census.started));
    }
    if census.vanished > 0 {
        line.push_str(&format!(
            " · {} vanished without shutting down",
            census.vanished
        ));
    }
    line
}

fn write_slow_rows(w: &mut HtmlWriter, report: &DigestReport) {
    if report.slow.is_empty() && report.slow_untracked == 0 {
        return;
    }
    w.text("\n");
    w.tagged("b", "🐢 Slow spans", 32);
    w.text("\n");
    for row in &report.slow {
        w.text("• ");
        w.tagged("code", &row.key, 200);
        w.text(&format!(
            " ×{} · p50 {} · p95 {} · max {} (threshold {})\n",
            row.count,
            format_duration(row.p50),
            format_duration(row.p95),
            format_duration(row.max),
            format_duration(row.threshold)
        ));
    }
    if report.slow_more_keys > 0 {
        w.text(&format!("…and {} more\n", report.slow_more_keys));
    }
    if report.slow_untracked > 0 {
        w.text(&format!(
            "…and {} occurrence(s) of other keys (too many to track)\n",
            report.slow_untracked
        ));
    }
}

fn write_warning_rows(w: &mut HtmlWriter, report: &DigestReport) {
    if report.warnings.is_empty() && report.warnings_untracked == 0 {
        return;
    }
    write_kind_rows(
        w,
        "🟠 Warnings",
        "",
        &report.warnings,
        report.warnings_more_kinds,
    );
    if report.warnings_untracked > 0 {
        w.text(&format!(
            "…and {} more warning(s) (too many kinds to track)\n",
            report.warnings_untracked
        ));
    }
}

fn write_dropped_rows(w: &mut HtmlWriter, report: &DigestReport) {
    if report.dropped_kinds.is_empty() {
        return;
    }
    let (rows, more) = (&report.dropped_kinds, report.dropped_more_kinds);
    write_kind_rows(w, "🗑 Dropped (queue full)", "", rows, more);
}

fn write_muted_rows(w: &mut HtmlWriter, report: &DigestReport) {
    if report.muted_kinds.is_empty() {
        return;
    }
    let (rows, more) = (&report.muted_kinds, report.muted_more_kinds);
    write_kind_rows(w, "🔕 Muted", "muted ", rows, more);
}

/// A section of kinds with their counts: `• ×N target: message` (the
/// count after `label`).
fn write_kind_rows(
    w: &mut HtmlWriter,
    heading: &str,
    label: &str,
    rows: &[WarningRow],
    more: usize,
) {
    w.text("\n");
    w.tagged("b", heading, 40);
    w.text("\n");
    for row in rows {
        w.text(&format!("• {label}×{} ", row.count));
        w.tagged("code", &row.target, 100);
        w.text(": ");
        w.text_capped(row.message.trim(), 200);
        w.text("\n");
    }
    if more > 0 {
        w.text(&format!("…and {more} more kinds\n"));
    }
}
