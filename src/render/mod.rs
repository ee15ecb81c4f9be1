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
pub(crate) mod incident;
pub(crate) mod lifecycle;
pub(crate) mod notice;
pub(crate) mod report;
pub(crate) mod tally;
pub(crate) mod time;
pub(crate) mod trace;

pub(crate) use alert::render_record;
pub(crate) use digest::render_digest;
pub(crate) use html::html_to_plain;
pub(crate) use notice::render_notice;
pub(crate) use tally::render_tally;

/// Who the messages speak for: shown in every message.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) service: String,
    pub(crate) environment: String,
    /// Shown in the startup notice.
    pub(crate) version: Option<String>,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            service: "unknown-service".to_owned(),
            environment: "development".to_owned(),
            version: None,
        }
    }
}

/// How much of an alert is shown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Span-trace lines and backtrace frames; 0 shows none.
    pub(crate) max_traceback_lines: usize,
    /// Longest field value shown, in characters.
    pub(crate) max_field_len: usize,
    /// Most fields shown.
    pub(crate) max_fields: usize,
    /// Extra messages a long alert may take.
    pub(crate) max_continuation_messages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_traceback_lines: 15,
            max_field_len: 500,
            max_fields: 30,
            max_continuation_messages: 3,
        }
    }
}

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
    /// `https://…/{trace_id}`: links an alert's trace id (see [`trace`]).
    pub(crate) trace_link: Option<&'a str>,
    /// What an alert says of its kind's past (see [`lifecycle`]).
    pub(crate) past: Option<&'a str>,
}
