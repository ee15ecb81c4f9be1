//! One-line notices (startup, shutdown) and the configuration check's
//! greeting.

use std::time::SystemTime;

use crate::stats::Stats;

use super::html::HtmlWriter;
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
