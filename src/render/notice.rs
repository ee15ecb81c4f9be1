//! One-line notices (startup, shutdown) and the configuration check's
//! greeting.

use std::time::{Duration, SystemTime};

use crate::stats::Stats;

use super::html::HtmlWriter;
use super::time::{format_duration, format_utc};
use super::RenderContext;

/// A one-line notice: `🟢 service · env` and the text.
pub(crate) fn render_notice(emoji: &str, text: &str, ctx: &RenderContext<'_>) -> Vec<String> {
    let mut w = HtmlWriter::new(1, String::new());
    w.text(emoji);
    w.text(" ");
    w.tagged("b", ctx.service, 64);
    w.text(" · ");
    w.tagged("i", ctx.environment, 64);
    w.text("\n");
    w.text_capped(text, 1000);
    w.text("\n");
    w.finish(SystemTime::now())
}

/// The startup notice: "started v1.2 on host web-3".
pub(crate) fn startup_text(version: Option<&str>, host: &str) -> String {
    let version = version
        .map(|v| format!(" v{}", v.trim_start_matches('v')))
        .unwrap_or_default();
    format!("started{version} on host {host}")
}

/// The shutdown notice, with the final counters.
pub(crate) fn stop_text(stats: &Stats) -> String {
    format!(
        "stopping: {} records, {} sent, {} in digests, {} deduplicated, {} dropped, {} failed",
        stats.accepted, stats.sent, stats.batched, stats.deduplicated, stats.dropped, stats.failed
    )
}

/// The test message the configuration check posts (plain text).
pub(crate) fn check_greeting(service: &str, environment: &str) -> String {
    format!("✅ tracing-telegram check: {service} ({environment}) can post here.")
}

/// The fallback chat's notice when nothing reaches the main chat any more.
pub(crate) fn dark_text(reason: &str) -> String {
    format!(
        "alerts no longer reach the main chat: {reason}. Every alert is lost until this is fixed and the service restarted."
    )
}

/// A process of the fleet that vanished, as its notice names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VanishedProcess<'a> {
    /// `None`: its presence entry was gone (only its id is known).
    pub(crate) service: Option<&'a str>,
    pub(crate) host: &'a str,
    pub(crate) pid: u32,
    pub(crate) version: Option<&'a str>,
    pub(crate) last_seen: SystemTime,
    pub(crate) up: Option<Duration>,
    pub(crate) last_alert: Option<(&'a str, SystemTime)>,
}

/// "billing@host-3 · pid 4411 · v1.4.2 vanished at … without shutting down
/// (up 3 h 12 min; last alert: payment failed at …)".
pub(crate) fn vanished_text(process: &VanishedProcess<'_>) -> String {
    let who = match process.service {
        Some(service) => format!("{service}@{} · pid {}", process.host, process.pid),
        None => "a process of the fleet".to_owned(),
    };
    let version = process
        .version
        .map(|v| format!(" · v{}", v.trim_start_matches('v')))
        .unwrap_or_default();
    let mut details = Vec::new();
    if let Some(up) = process.up {
        details.push(format!("up {}", format_duration(up)));
    }
    details.push(match process.last_alert {
        Some((title, at)) => format!("last alert: {title} at {}", format_utc(at)),
        None => "no alert before".to_owned(),
    });
    format!(
        "{who}{version} vanished at {} without shutting down ({})",
        format_utc(process.last_seen),
        details.join("; ")
    )
}

/// This process had been reported vanished (its refreshes lapsed) and is
/// still running.
pub(crate) fn back_text(host: &str, pid: u32) -> String {
    format!(
        "pid {pid} on {host} is still running: its presence had lapsed (a pause, or Redis out of reach) and it was reported vanished"
    )
}
