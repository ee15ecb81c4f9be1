//! Escalation: an Error or Critical alert nobody acknowledged (or muted)
//! within its level's deadline is escalated once — a notifying reply to the
//! alert that mentions the people on call, and/or a message to an
//! escalation chat that links to it. What is configured, and what the chat
//! then reads.

use std::time::Duration;

use crate::alert::AlertLevel;
use crate::chat::{ChatId, Destination};
use crate::render::html::escape_into;
use crate::render::time::format_span;

/// How alerts are escalated (part of [`InteractConfig`](super::InteractConfig)).
#[derive(Debug, Clone, Default)]
pub(crate) struct EscalationConfig {
    /// How long an Error alert may go unacknowledged (`None`: never escalated).
    pub(crate) error: Option<Duration>,
    /// The same for Critical alerts.
    pub(crate) critical: Option<Duration>,
    /// Whom an escalation mentions, as configured (`@name` or a user id;
    /// checked by [`OnCall::parse`] before the layer is built).
    pub(crate) on_call: Vec<String>,
    /// Where an escalation is also sent (besides the reply to the alert).
    pub(crate) to: Option<Destination>,
}

impl EscalationConfig {
    /// The deadline of an alert of `level`, if its level is escalated.
    pub(crate) fn deadline(&self, level: AlertLevel) -> Option<Duration> {
        match level {
            AlertLevel::Error => self.error,
            AlertLevel::Critical => self.critical,
            _ => None,
        }
    }

    /// Whether any level is escalated.
    pub(crate) fn is_on(&self) -> bool {
        self.error.is_some() || self.critical.is_some()
    }

    /// The people on call (each checked when the layer was built).
    pub(crate) fn people(&self) -> Vec<OnCall> {
        self.on_call
            .iter()
            .filter_map(|person| OnCall::parse(person).ok())
            .collect()
    }
}

/// A person on call: a Telegram `@username`, or a user id (mentioned by a
/// link, for users without a username).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OnCall {
    Username(String),
    Id(i64),
}

impl OnCall {
    /// `@name` (5 to 32 letters, digits or `_`) or a positive user id; the
    /// reason otherwise.
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim();
        if let Some(name) = text.strip_prefix('@') {
            let valid = (5..=32).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return match valid {
                true => Ok(OnCall::Username(name.to_owned())),
                false => Err("an @username of 5 to 32 letters, digits or _"),
            };
        }
        match text.parse::<i64>() {
            Ok(id) if id > 0 => Ok(OnCall::Id(id)),
            _ => Err("an @username or a positive Telegram user id"),
        }
    }

    fn mention_into(&self, html: &mut String) {
        match self {
            OnCall::Username(name) => {
                html.push('@');
                escape_into(html, name);
            }
            OnCall::Id(id) => html.push_str(&format!("<a href=\"tg://user?id={id}\">on call</a>")),
        }
    }
}

/// What an escalation says about its alert.
pub(crate) struct EscalationText<'a> {
    pub(crate) level: AlertLevel,
    pub(crate) service: &'a str,
    /// The alert's title (sanitized).
    pub(crate) title: &'a str,
    /// How long it went unacknowledged.
    pub(crate) after: Duration,
    pub(crate) on_call: &'a [OnCall],
}

impl EscalationText<'_> {
    /// The reply to the alert: `⏰ Not acknowledged for 15 min · @alice`.
    pub(crate) fn reply(&self) -> String {
        let mut html = format!("⏰ <b>Not acknowledged for {}</b>", format_span(self.after));
        self.mentions_into(&mut html);
        html
    }

    /// The message to the escalation chat: the alert's level, service and
    /// title, a link to it where Telegram has one, and the mentions.
    pub(crate) fn forwarded(&self, chat: &ChatId, message_id: i64) -> String {
        let mut html = format!("⏰ {} <b>{}</b> · ", self.level.emoji(), self.level.label());
        escape_into(&mut html, self.service);
        html.push_str(&format!(
            " · not acknowledged for {}\n",
            format_span(self.after)
        ));
        html.push_str("<b>");
        escape_into(&mut html, self.title);
        html.push_str("</b>");
        if let Some(link) = message_link(chat, message_id) {
            html.push_str(&format!("\n<a href=\"{link}\">the alert</a>"));
        }
        self.mentions_into(&mut html);
        html
    }

    fn mentions_into(&self, html: &mut String) {
        for (index, person) in self.on_call.iter().enumerate() {
            html.push_str(if index == 0 { "\n" } else { " " });
            person.mention_into(html);
        }
    }
}

/// A link to a message, where the chat has public ones: a supergroup or
/// channel (`-100…`, `t.me/c/…`) or a public username.
fn message_link(chat: &ChatId, message_id: i64) -> Option<String> {
    match chat {
        ChatId::Id(id) => {
            let internal = id.to_string().strip_prefix("-100")?.to_owned();
            Some(format!("https://t.me/c/{internal}/{message_id}"))
        }
        ChatId::Username(name) => {
            let name = name.trim_start_matches('@');
            let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            plain.then(|| format!("https://t.me/{name}/{message_id}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_call_people_are_usernames_or_ids() {
        assert_eq!(
            OnCall::parse("@alice_ops"),
            Ok(OnCall::Username("alice_ops".to_owned()))
        );
        assert_eq!(OnCall::parse(" 4242 "), Ok(OnCall::Id(4242)));
        assert!(OnCall::parse("@bob").is_err(), "too short");
        assert!(OnCall::parse("@a<b>cde").is_err());
        assert!(OnCall::parse("-5").is_err());
        assert!(OnCall::parse("alice").is_err());
    }

    #[test]
    fn an_escalation_mentions_and_links() {
        let on_call = [OnCall::Username("alice_ops".to_owned()), OnCall::Id(42)];
        let text = EscalationText {
            level: AlertLevel::Critical,
            service: "billing<1>",
            title: "db <down>",
            after: Duration::from_secs(15 * 60),
            on_call: &on_call,
        };
        assert_eq!(
            text.reply(),
            "⏰ <b>Not acknowledged for 15 min</b>\n@alice_ops <a href=\"tg://user?id=42\">on call</a>"
        );
        let forwarded = text.forwarded(&ChatId::Id(-1001234567890), 77);
        assert!(forwarded.contains("billing&lt;1&gt;"), "{forwarded}");
        assert!(forwarded.contains("<b>db &lt;down&gt;</b>"), "{forwarded}");
        assert!(
            forwarded.contains("https://t.me/c/1234567890/77"),
            "{forwarded}"
        );
        assert_eq!(
            message_link(&ChatId::Id(42), 1),
            None,
            "a private chat has no link"
        );
    }
}
