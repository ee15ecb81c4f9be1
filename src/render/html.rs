//! The HTML writer: escaping, page layout, and the 4096 UTF-16 unit limit.
//!
//! Every piece of dynamic text goes through [`HtmlWriter::text`], which
//! escapes it and charges its visible length (in UTF-16 units, as Telegram
//! counts) against a budget. Text is cut *before* it is escaped, at a `char`
//! boundary, so a cut can never split a tag, an entity or a surrogate pair;
//! tags cost nothing visible and are always closed by the code that opened
//! them.

use std::time::SystemTime;

use super::time::format_utc;

/// Telegram's limit on a message's visible text, in UTF-16 code units.
pub(crate) const MAX_MESSAGE_UNITS: usize = 4096;

/// Kept back for the footer (time and truncation marker) so that they always fit.
const FOOTER_RESERVE: usize = 64;

/// Accumulates HTML pages while tracking each page's visible length
/// against Telegram's limit.
///
/// Text that does not fit on the current page continues on a new one (open
/// tags are closed at the break and reopened after it) until `max_pages` is
/// reached; then it is cut and marked as truncated.
#[derive(Debug)]
pub(crate) struct HtmlWriter {
    pages: Vec<String>,
    out: String,
    /// Visible UTF-16 units still available on the current page.
    remaining: usize,
    truncated: bool,
    /// Tags open on the current page (with their attributes).
    open_tags: Vec<&'static str>,
    max_pages: usize,
    /// Plain text that starts every continuation page.
    continuation: String,
}

impl HtmlWriter {
    pub(crate) fn new(max_pages: usize, continuation: String) -> Self {
        HtmlWriter {
            pages: Vec::new(),
            out: String::with_capacity(1024),
            remaining: PAGE_BUDGET,
            truncated: false,
            open_tags: Vec::new(),
            max_pages: max_pages.max(1),
            continuation,
        }
    }

    /// Visible units still available on the current page.
    pub(crate) fn remaining(&self) -> usize {
        self.remaining
    }

    /// Writes as much of `text` as the budget allows, escaped.
    pub(crate) fn text(&mut self, text: &str) {
        self.text_capped(text, usize::MAX);
    }

    /// Writes at most `cap` visible units of `text`, continuing on new pages
    /// while there are pages left, and ending a cut text with `…`.
    pub(crate) fn text_capped(&mut self, text: &str, cap: usize) {
        let mut rest = text;
        let mut cap_left = cap;
        while self.remaining < cap_left && self.pages.len() + 1 < self.max_pages {
            let (kept, cut) = cut_exact(rest, self.remaining);
            let used = escape_into(&mut self.out, kept);
            self.remaining -= used.min(self.remaining);
            if !cut {
                return;
            }
            cap_left -= used;
            rest = &rest[kept.len()..];
            self.new_page();
        }
        let limit = cap_left.min(self.remaining);
        let (kept, cut) = cut_to_units(rest, limit);
        let mut used = escape_into(&mut self.out, kept);
        if cut {
            self.truncated = true;
            if used < limit {
                self.out.push('…');
                used += 1;
            }
        }
        self.remaining -= used.min(self.remaining);
    }

    /// `<tag>text</tag>`, with the text capped at `cap` units.
    pub(crate) fn tagged(&mut self, tag: &'static str, text: &str, cap: usize) {
        self.open(tag);
        self.text_capped(text, cap);
        self.close();
    }

    /// `<a href="href">text</a>` when the text fits on this page whole (a
    /// link is never split across pages); otherwise the text alone. `href`
    /// must need no escaping but `&` (checked where it is made).
    pub(crate) fn link(&mut self, href: &str, text: &str) {
        let units: usize = text.chars().map(visible_units).sum();
        if units > self.remaining {
            return self.text(text);
        }
        self.out.push_str("<a href=\"");
        self.out.push_str(&href.replace('&', "&amp;"));
        self.out.push_str("\">");
        self.remaining -= escape_into(&mut self.out, text).min(self.remaining);
        self.out.push_str("</a>");
    }

    /// An opening tag (`tag` may carry attributes); costs no visible units.
    pub(crate) fn open(&mut self, tag: &'static str) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self.open_tags.push(tag);
    }

    /// Closes the innermost open tag.
    pub(crate) fn close(&mut self) {
        if let Some(tag) = self.open_tags.pop() {
            push_end_tag(&mut self.out, tag);
        }
    }

    /// Ends the current page (closing its open tags) and starts the next one
    /// (reopening them).
    fn new_page(&mut self) {
        for tag in self.open_tags.iter().rev() {
            push_end_tag(&mut self.out, tag);
        }
        // Fits in the reserve that every page keeps back.
        self.out.push_str("\n⤵️ continued in the next message");
        self.pages.push(std::mem::take(&mut self.out));
        self.remaining = PAGE_BUDGET;
        let header = format!("{} · part {}\n\n", self.continuation, self.pages.len() + 1);
        let (header, _) = cut_to_units(&header, 200);
        self.remaining -= escape_into(&mut self.out, header);
        for tag in &self.open_tags {
            self.out.push('<');
            self.out.push_str(tag);
            self.out.push('>');
        }
    }

    /// The HTML written so far, without a footer (one short page).
    pub(crate) fn into_html(mut self) -> String {
        while !self.open_tags.is_empty() {
            self.close();
        }
        self.out
    }

    /// Writes the footer into the reserved budget and returns the pages.
    pub(crate) fn finish(mut self, timestamp: SystemTime) -> Vec<String> {
        while !self.open_tags.is_empty() {
            self.close();
        }
        self.remaining += FOOTER_RESERVE;
        self.max_pages = self.pages.len() + 1; // the footer never starts a page
        let truncated = self.truncated;
        self.text("\n🕒 ");
        self.text(&format_utc(timestamp));
        if truncated {
            self.text("\n");
            self.tagged("i", "✂️ truncated to fit Telegram's limit", 48);
        }
        self.pages.push(self.out);
        self.pages
    }
}

/// Visible units each page may fill before its footer.
const PAGE_BUDGET: usize = MAX_MESSAGE_UNITS - FOOTER_RESERVE;

fn push_end_tag(out: &mut String, tag: &str) {
    let name = tag.split(' ').next().unwrap_or(tag);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// The longest prefix of `text` whose escaped form fits in `limit` units
/// (no room kept for an ellipsis), and whether anything was left out.
fn cut_exact(text: &str, limit: usize) -> (&str, bool) {
    let mut units = 0;
    for (index, c) in text.char_indices() {
        units += visible_units(c);
        if units > limit {
            return (&text[..index], true);
        }
    }
    (text, false)
}

/// The visible text of HTML this module rendered: tags removed, entities
/// decoded. Used to resend a message as plain text when Telegram rejects its
/// markup.
pub(crate) fn html_to_plain(html: &str) -> String {
    let mut plain = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(['<', '&']) {
        plain.push_str(&rest[..start]);
        rest = &rest[start..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(end) => rest = &rest[end + 1..],
                None => break,
            }
            continue;
        }
        let decoded = [
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&amp;", '&'),
            ("&quot;", '"'),
        ]
        .into_iter()
        .find(|(entity, _)| rest.starts_with(entity));
        match decoded {
            Some((entity, c)) => {
                plain.push(c);
                rest = &rest[entity.len()..];
            }
            None => {
                plain.push('&');
                rest = &rest[1..];
            }
        }
    }
    plain.push_str(rest);
    plain
}

/// The longest prefix of `text` that fits in `limit` UTF-16 units once
/// escaped, leaving room for a `…` if it has to be cut. Cuts only at `char`
/// boundaries, so a surrogate pair is never split.
fn cut_to_units(text: &str, limit: usize) -> (&str, bool) {
    let mut units = 0;
    let mut fits_whole = true;
    let mut cut_at_with_ellipsis = 0;
    for (index, c) in text.char_indices() {
        let width = visible_units(c);
        if units + width > limit {
            fits_whole = false;
            break;
        }
        units += width;
        if units < limit {
            cut_at_with_ellipsis = index + c.len_utf8();
        }
    }
    if fits_whole {
        (text, false)
    } else {
        (&text[..cut_at_with_ellipsis], true)
    }
}

/// How many UTF-16 units a char shows as after [`escape_into`].
fn visible_units(c: char) -> usize {
    match c {
        '\r' => 0,
        c if is_unsafe_char(c) => 1, // replaced by U+FFFD
        c => c.len_utf16(),
    }
}

/// Control and bidirectional-override characters: they would garble or
/// disguise the text, so they are shown as U+FFFD.
fn is_unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Appends `text` escaped for Telegram HTML; returns its visible units.
pub(crate) fn escape_into(out: &mut String, text: &str) -> usize {
    let mut units = 0;
    for c in text.chars() {
        units += visible_units(c);
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => {}
            c if is_unsafe_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn escapes_and_replaces_unsafe_chars() {
        let mut out = String::new();
        let units = escape_into(&mut out, "<a href=\"x\">&\u{7}\u{202E}\r\n");
        assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;&amp;\u{FFFD}\u{FFFD}\n");
        assert_eq!(units, 16); // 17 chars, and the dropped \r costs nothing
    }

    #[test]
    fn cuts_never_split_surrogate_pairs() {
        let text = "ab😀cd";
        // 😀 is two UTF-16 units: with a limit of 4 the ellipsis needs one.
        assert_eq!(cut_to_units(text, 4), ("ab", true));
        assert_eq!(cut_to_units(text, 5), ("ab😀", true));
        assert_eq!(cut_to_units(text, 6), (text, false));
        assert_eq!(cut_to_units("", 0), ("", false));
        assert_eq!(cut_to_units("x", 0), ("", true));
    }

    #[test]
    fn writer_never_exceeds_its_budget() {
        let mut w = HtmlWriter::new(1, String::new());
        w.remaining = 10;
        w.tagged("b", "0123456789abcdef", 100);
        w.text("more");
        assert_eq!(w.out, "<b>012345678…</b>");
        assert_eq!(w.remaining, 0);
        assert!(w.truncated);
    }

    #[test]
    fn long_text_continues_on_new_pages_with_balanced_tags() {
        let mut w = HtmlWriter::new(3, "🔴 ERROR · svc".into());
        w.tagged("pre", &"z".repeat(9000), usize::MAX);
        let pages = w.finish(UNIX_EPOCH);
        assert_eq!(pages.len(), 3);
        for page in &pages {
            assert_eq!(page.matches("<pre>").count(), 1, "{page}");
            assert_eq!(page.matches("</pre>").count(), 1, "{page}");
            assert!(html_to_plain(page).encode_utf16().count() <= MAX_MESSAGE_UNITS);
        }
        assert!(pages[1].starts_with("🔴 ERROR · svc · part 2\n\n<pre>"));
        let zs: usize = pages.iter().map(|p| p.matches('z').count()).sum();
        assert_eq!(zs, 9000, "nothing lost between pages");
        assert!(!pages[2].contains("truncated"));
    }

    #[test]
    fn html_to_plain_inverts_escaping() {
        let mut html = String::from("<b>");
        escape_into(&mut html, "a < b && c > \"d\"");
        html.push_str("</b>");
        assert_eq!(html_to_plain(&html), "a < b && c > \"d\"");
        assert_eq!(html_to_plain("AT&T <i>x"), "AT&T x");
    }
}
