//! Render: every text the chat sees, as Telegram HTML.
//!
//! In: a sanitized [`Record`](crate::record::Record), a digest report, a
//! tally, a notice. Out: pages of HTML (`Vec<String>`), each a complete,
//! balanced document within Telegram's limit, for the pipeline to address
//! and delivery to send. Nothing here knows chats, queues or the network.
//!
//! Every piece of dynamic text goes through the [`HtmlWriter`](html::HtmlWriter),
//! which escapes it and charges its visible length; text is cut *before* it
//! is escaped, at a `char` boundary (see [`html`]).

pub(crate) mod alert;
pub(crate) mod digest;
pub(crate) mod html;
pub(crate) mod notice;
pub(crate) mod tally;
pub(crate) mod time;

pub(crate) use alert::render_record;
pub(crate) use digest::render_digest;
pub(crate) use html::html_to_plain;
pub(crate) use notice::render_notice;
pub(crate) use tally::render_tally;

/// What the renderer needs besides the record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RenderContext<'a> {
    pub(crate) service: &'a str,
    pub(crate) environment: &'a str,
    /// 0 hides the span trace.
    pub(crate) max_traceback_lines: usize,
    /// Longest field value shown.
    pub(crate) max_field_len: usize,
    /// Most fields shown.
    pub(crate) max_fields: usize,
    /// Records dropped at a full queue since the last message.
    pub(crate) dropped_since_last: u64,
    /// Messages an alert may take: 1 + continuation messages.
    pub(crate) max_messages: usize,
}
