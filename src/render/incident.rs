//! An incident: many problems at once, named in one message that is edited
//! as more arrive and as they repeat.

use std::time::SystemTime;

use crate::alert::AlertLevel;

use super::html::HtmlWriter;
use super::time::format_utc;
use super::RenderContext;

/// Longest problem title shown in the list.
const MAX_LINE_TITLE: usize = 90;

/// One problem of an incident.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IncidentLine<'a> {
    pub(crate) level: AlertLevel,
    /// The problem's title, sanitized.
    pub(crate) title: &'a str,
    /// Occurrences so far.
    pub(crate) count: u64,
    /// It has a message of its own above (it alerted before the incident).
    pub(crate) own_message: bool,
}

/// What an incident message says.
#[derive(Debug, Clone)]
pub(crate) struct IncidentText<'a> {
    /// The most severe level among its problems.
    pub(crate) level: AlertLevel,
    pub(crate) started: SystemTime,
    pub(crate) lines: Vec<IncidentLine<'a>>,
}

/// Renders an incident as one `parse_mode=HTML` message: the problems it
/// names, most occurrences first, as many as fit; the rest counted.
pub(crate) fn render_incident(incident: &IncidentText<'_>, ctx: &RenderContext<'_>) -> String {
    let mut w = HtmlWriter::new(1, String::new());
    w.text(incident.level.emoji());
    w.text(" ");
    w.tagged("b", "INCIDENT", 16);
    w.text(" · ");
    w.tagged("b", ctx.service, 64);
    w.text(" · ");
    w.tagged("i", ctx.environment, 64);
    w.text("\n\n");
    let total: u64 = incident.lines.iter().map(|line| line.count).sum();
    w.tagged(
        "b",
        &format!(
            "{} problems at once · {} occurrences",
            incident.lines.len(),
            total
        ),
        80,
    );
    w.text(&format!(
        "\nsince {} (one message for all of them)\n",
        format_utc(incident.started)
    ));
    let mut lines: Vec<&IncidentLine<'_>> = incident.lines.iter().collect();
    lines.sort_by(|a, b| b.count.cmp(&a.count).then(a.title.cmp(b.title)));
    // Room for the closing lines; a list that does not fit says how much
    // is left out.
    let mut shown = 0;
    for line in &lines {
        if w.remaining() < 200 {
            break;
        }
        w.text("\n");
        w.text(line.level.emoji());
        w.text(" ");
        w.text_capped(line.title, MAX_LINE_TITLE);
        w.text(" · ");
        w.tagged("b", &format!("×{}", line.count), 24);
        if line.own_message {
            w.text(" ↑");
        }
        shown += 1;
    }
    if shown < lines.len() {
        w.text("\n");
        w.tagged(
            "i",
            &format!("… and {} more problems", lines.len() - shown),
            48,
        );
    }
    if lines.iter().any(|line| line.own_message) {
        w.text("\n\n↑ also alerted on its own above");
    }
    w.into_html()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::html::html_to_plain;

    fn ctx() -> RenderContext<'static> {
        RenderContext {
            service: "shop",
            environment: "prod",
            max_traceback_lines: 10,
            max_field_len: 100,
            max_fields: 10,
            dropped_since_last: 0,
            max_messages: 1,
            trace_link: None,
            past: None,
        }
    }

    #[test]
    fn names_every_problem_that_fits_and_counts_the_rest() {
        let titles: Vec<String> = (0..400)
            .map(|n| format!("component {n} <failed> & gave up"))
            .collect();
        let lines = titles
            .iter()
            .enumerate()
            .map(|(n, title)| IncidentLine {
                level: AlertLevel::Error,
                title,
                count: 25,
                own_message: n < 2,
            })
            .collect();
        let html = render_incident(
            &IncidentText {
                level: AlertLevel::Error,
                started: SystemTime::UNIX_EPOCH,
                lines,
            },
            &ctx(),
        );
        crate::testing::parse_html(&html).unwrap();
        let plain = html_to_plain(&html);
        assert!(
            plain.contains("400 problems at once · 10000 occurrences"),
            "{plain}"
        );
        assert!(
            plain.contains("component 0 <failed> & gave up · ×25 ↑"),
            "{plain}"
        );
        assert!(plain.contains("more problems"), "{plain}");
    }
}
