//! A tally: how often an alert repeated, as an edit of the original alert
//! or as a follow-up message.

use std::time::{Duration, SystemTime};

use super::html::{escape_into, html_to_plain, HtmlWriter, MAX_MESSAGE_UNITS};
use super::time::{format_duration, format_utc};
use crate::interact::actions::AlertNotes;

/// What a tally says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TallyText<'a> {
    /// Occurrences in the window, the original included.
    pub(crate) total: u64,
    pub(crate) window: Duration,
    pub(crate) last_seen: SystemTime,
    /// The alert's title, sanitized.
    pub(crate) title: &'a str,
    /// The original alert's message id and HTML, when it can be edited (it
    /// was sent as HTML).
    pub(crate) original: Option<(i64, &'a str)>,
    /// Who acknowledged or muted it (interactive alerts).
    pub(crate) notes: Option<&'a AlertNotes>,
    /// For a folded callsite: about how many different messages it had.
    pub(crate) variants: Option<u64>,
    /// The kind stopped: quiet since, and how long it had lasted.
    pub(crate) resolved: Option<(SystemTime, Duration)>,
    /// What varies across its repeats, a line per field.
    pub(crate) spread: &'a [SpreadLine],
}

/// One field's values across a kind's repeats, as a tally shows them:
/// `shard: 3 ×40 · 7 ×2 · others ×5` (the values sanitized).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpreadLine {
    pub(crate) field: String,
    /// The most frequent values, most frequent first.
    pub(crate) top: Vec<(String, u64)>,
    /// The repeats with any other value.
    pub(crate) others: u64,
}

impl SpreadLine {
    fn text(&self) -> String {
        let mut line = format!("{}: ", self.field);
        for (i, (value, n)) in self.top.iter().enumerate() {
            if i > 0 {
                line.push_str(" · ");
            }
            line.push_str(&format!("{value} ×{n}"));
        }
        if self.others > 0 {
            line.push_str(&format!(" · others ×{}", self.others));
        }
        line
    }
}

/// A tally: the edit of the original alert `(Some(message_id), html, None)`
/// when it can be edited, with a follow-up as fallback; else only the
/// follow-up `(None, html, None)`.
pub(crate) fn render_tally(
    tally: &TallyText<'_>,
    service: &str,
) -> (Option<i64>, String, Option<String>) {
    let mut line = format!(
        "🔁 ×{} in the last {}, last seen at {}",
        tally.total,
        format_duration(tally.window),
        format_utc(tally.last_seen)
    );
    if let Some(variants) = tally.variants.filter(|v| *v > 1) {
        line.push_str(&format!(
            " · ≈{} different messages",
            two_significant_digits(variants)
        ));
    }
    for spread in tally.spread {
        line.push('\n');
        line.push_str(&spread.text());
    }
    // A kind that stopped says so below its count (alone if it never
    // repeated): "✅ quiet since … · ×N in …".
    if let Some((quiet_since, lasted)) = tally.resolved {
        let resolved = format!(
            "✅ quiet since {} · ×{} in {}",
            format_utc(quiet_since),
            tally.total,
            format_duration(lasted)
        );
        line = match tally.total {
            1 => resolved,
            _ => format!("{line}\n{resolved}"),
        };
    }
    let mut follow_up = HtmlWriter::new(1, String::new());
    let mark = if tally.resolved.is_some() {
        "✅"
    } else {
        "🔁"
    };
    follow_up.text(&format!("{mark} {service} · "));
    follow_up.tagged("b", &format!("×{}", tally.total), 32);
    follow_up.text(" · ");
    follow_up.text_capped(tally.title, 300);
    follow_up.text("\n");
    follow_up.text(&line);
    let follow_up = follow_up.into_html();
    let Some((message_id, html)) = tally.original else {
        return (None, follow_up, None);
    };
    let mut edited = html.to_owned();
    // An alert a chat member acted on before it repeated shows no tally.
    if tally.total > 1 || tally.resolved.is_some() {
        edited.push_str("\n\n");
        let line_units = escape_into(&mut edited, &line);
        let original_units = html_to_plain(html).encode_utf16().count();
        if original_units + 2 + line_units > MAX_MESSAGE_UNITS {
            return (None, follow_up, None);
        }
    }
    if let Some(notes) = tally.notes {
        // Notes that do not fit are left out (the buttons still say it).
        let _fits = notes.append_to(&mut edited);
    }
    (Some(message_id), edited, Some(follow_up))
}

/// An estimate shown without false precision: 150 481 → 150 000.
fn two_significant_digits(n: u64) -> u64 {
    let mut scale = 1;
    while n / scale >= 100 {
        scale *= 10;
    }
    (n + scale / 2) / scale * scale
}
