//! Chats and credentials: the bot token, chat ids, and where each alert
//! level is posted (a chat and/or a forum topic).
//!
//! Plain types, validated by the builder and read by delivery.

use std::fmt;

use serde::Serialize;

use crate::alert::AlertLevel;
use crate::error::Error;

/// A Telegram chat: a numeric id (groups and channels are negative, and can
/// exceed 32 bits) or a public channel's `@username`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ChatId {
    /// A numeric chat id, e.g. `-1001234567890`.
    Id(i64),
    /// A public channel's username, including the leading `@`.
    Username(String),
}

impl ChatId {
    /// Whether this chat is a group, supergroup or channel (negative id or a
    /// channel username), which Telegram limits to about 20 messages a minute.
    pub fn is_group(&self) -> bool {
        match self {
            ChatId::Id(id) => *id < 0,
            ChatId::Username(_) => true,
        }
    }

    pub(crate) fn validate(&self, option: &'static str) -> Result<(), Error> {
        const EXPECTED: &str = "an integer chat id or @channelname (5–32 of A-Z, a-z, 0-9, _)";
        match self {
            ChatId::Id(0) => Err(Error::invalid(option, "0", EXPECTED)),
            ChatId::Id(_) => Ok(()),
            ChatId::Username(name) => {
                let body = name.strip_prefix('@').unwrap_or("");
                let valid = (5..=32).contains(&body.len())
                    && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if valid {
                    Ok(())
                } else {
                    Err(Error::invalid(option, name, EXPECTED))
                }
            }
        }
    }
}

impl fmt::Debug for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatId::Id(id) => write!(f, "{id}"),
            ChatId::Username(name) => f.write_str(name),
        }
    }
}

impl From<i64> for ChatId {
    fn from(id: i64) -> Self {
        ChatId::Id(id)
    }
}

impl From<&str> for ChatId {
    /// A numeric string becomes [`ChatId::Id`]; anything else is kept as a
    /// username and checked by [`Builder::build`](crate::Builder::build).
    fn from(text: &str) -> Self {
        let text = text.trim();
        match text.parse::<i64>() {
            Ok(id) => ChatId::Id(id),
            Err(_) => ChatId::Username(text.to_owned()),
        }
    }
}

impl From<String> for ChatId {
    fn from(text: String) -> Self {
        ChatId::from(text.as_str())
    }
}

/// The bot token. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct BotToken(String);

impl BotToken {
    /// The token as given, without surrounding whitespace.
    pub(crate) fn new(token: &str) -> Self {
        BotToken(token.trim().to_owned())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `<digits>:<secret>`, the shape every Bot API token has.
    pub(crate) fn is_well_formed(&self) -> bool {
        let Some((id, secret)) = self.0.split_once(':') else {
            return false;
        };
        (1..=20).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_digit())
            && (20..=128).contains(&secret.len())
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A place to post to: another chat, another forum topic of the default
/// chat, or both.
///
/// ```
/// use tracing_telegram::{AlertLevel, Destination, TelegramLayer};
///
/// let builder = TelegramLayer::builder()
///     .chat_id(-1001234567890_i64)
///     .routes(|r| {
///         r.level(AlertLevel::Critical, Destination::thread(7)) // criticals to topic 7
///             .level(AlertLevel::Info, Destination::chat(-1009876543210_i64))
///             .target("billing", Destination::thread(12)) // billing's code to its topic
///     });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Destination {
    pub(crate) chat_id: Option<ChatId>,
    pub(crate) thread_id: Option<i64>,
}

impl Destination {
    /// Another chat (its general topic).
    pub fn chat(chat_id: impl Into<ChatId>) -> Self {
        Destination {
            chat_id: Some(chat_id.into()),
            thread_id: None,
        }
    }

    /// A forum topic of the default chat.
    pub fn thread(thread_id: i64) -> Self {
        Destination {
            chat_id: None,
            thread_id: Some(thread_id),
        }
    }

    /// This destination, in the forum topic `thread_id`.
    pub fn in_thread(mut self, thread_id: i64) -> Self {
        self.thread_id = Some(thread_id);
        self
    }
}

/// A resolved destination: always a chat, maybe a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) chat_id: ChatId,
    pub(crate) thread_id: Option<i64>,
}

/// The routes as configured: by level, by target (a module path prefix,
/// whole segments), by field (a field of the event or of an enclosing span
/// with a given value).
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteTable {
    pub(crate) levels: Vec<(AlertLevel, Destination)>,
    pub(crate) targets: Vec<(String, Destination)>,
    pub(crate) fields: Vec<(String, String, Destination)>,
}

/// The default destination and the routes that override it.
#[derive(Debug, Clone)]
pub(crate) struct Routes {
    default: Target,
    by_level: [Option<Destination>; 4],
    /// Longest prefix first.
    by_target: Vec<(String, Target)>,
    by_field: Vec<(String, String, Target)>,
}

impl Routes {
    pub(crate) fn new(default: Target, table: &RouteTable) -> Self {
        let mut routes = Routes {
            default,
            by_level: Default::default(),
            by_target: Vec::new(),
            by_field: Vec::new(),
        };
        for (level, destination) in &table.levels {
            routes.by_level[index(*level)] = Some(destination.clone());
        }
        for (prefix, destination) in &table.targets {
            let target = routes.resolve(destination);
            routes.by_target.push((prefix.clone(), target));
        }
        routes
            .by_target
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        for (name, value, destination) in &table.fields {
            let target = routes.resolve(destination);
            routes.by_field.push((name.clone(), value.clone(), target));
        }
        routes
    }

    /// Where a record goes if a target or field route claims it: the first
    /// field route whose field (`has_field(name, value)`) the record or an
    /// enclosing span carries, else the longest target prefix of `target`
    /// (whole `::` segments); `None`: its level decides.
    pub(crate) fn specific(
        &self,
        target: Option<&str>,
        has_field: impl Fn(&str, &str) -> bool,
    ) -> Option<&Target> {
        let by_field = self
            .by_field
            .iter()
            .find(|(name, value, _)| has_field(name, value));
        if let Some((_, _, routed)) = by_field {
            return Some(routed);
        }
        let target = target?;
        self.by_target
            .iter()
            .find(|(prefix, _)| is_segment_prefix(prefix, target))
            .map(|(_, routed)| routed)
    }

    /// The targets of the target and field routes.
    pub(crate) fn specific_targets(&self) -> impl Iterator<Item = &Target> {
        let targets = self.by_target.iter().map(|(_, target)| target);
        targets.chain(self.by_field.iter().map(|(_, _, target)| target))
    }

    /// Where alerts of `level` go.
    pub(crate) fn target(&self, level: AlertLevel) -> Target {
        match &self.by_level[index(level)] {
            None => self.default.clone(),
            Some(destination) => self.resolve(destination),
        }
    }

    /// A destination made concrete: one without a chat uses the default
    /// chat; one without a topic uses the default chat's topic only if it
    /// also uses the default chat.
    pub(crate) fn resolve(&self, destination: &Destination) -> Target {
        match destination {
            Destination {
                chat_id: None,
                thread_id,
            } => Target {
                chat_id: self.default.chat_id.clone(),
                thread_id: thread_id.or(self.default.thread_id),
            },
            Destination {
                chat_id: Some(chat_id),
                thread_id,
            } => Target {
                chat_id: chat_id.clone(),
                thread_id: *thread_id,
            },
        }
    }

    /// Every chat id in use, for validation.
    pub(crate) fn chats(&self) -> impl Iterator<Item = &ChatId> {
        let by_level = self.by_level.iter().flatten();
        std::iter::once(&self.default.chat_id)
            .chain(by_level.filter_map(|d| d.chat_id.as_ref()))
            .chain(self.specific_targets().map(|target| &target.chat_id))
    }
}

/// Whether `prefix` is `target` or its leading `::` segments
/// (`billing` matches `billing` and `billing::invoices`, not `billing_ext`).
fn is_segment_prefix(prefix: &str, target: &str) -> bool {
    match target.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with("::"),
        None => false,
    }
}

fn index(level: AlertLevel) -> usize {
    match level {
        AlertLevel::Critical => 0,
        AlertLevel::Error => 1,
        AlertLevel::Warning => 2,
        AlertLevel::Info => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_resolve_against_the_default() {
        let routes = Routes::new(
            Target {
                chat_id: ChatId::Id(-1),
                thread_id: Some(5),
            },
            &RouteTable {
                levels: vec![
                    (AlertLevel::Critical, Destination::thread(7)),
                    (AlertLevel::Info, Destination::chat(-2)),
                ],
                ..RouteTable::default()
            },
        );
        assert_eq!(routes.target(AlertLevel::Critical).thread_id, Some(7));
        assert_eq!(routes.target(AlertLevel::Critical).chat_id, ChatId::Id(-1));
        assert_eq!(
            routes.target(AlertLevel::Info),
            Target {
                chat_id: ChatId::Id(-2),
                thread_id: None
            }
        );
        assert_eq!(routes.target(AlertLevel::Error).thread_id, Some(5));
        assert_eq!(routes.chats().count(), 2);
    }

    #[test]
    fn a_field_route_beats_a_target_route_and_the_longest_prefix_wins() {
        let routes = Routes::new(
            Target {
                chat_id: ChatId::Id(-1),
                thread_id: None,
            },
            &RouteTable {
                targets: vec![
                    ("billing".to_owned(), Destination::thread(1)),
                    ("billing::refunds".to_owned(), Destination::thread(2)),
                ],
                fields: vec![("team".into(), "search".into(), Destination::thread(3))],
                ..RouteTable::default()
            },
        );
        let thread = |target: &str, team: &str| {
            routes
                .specific(Some(target), |name, value| name == "team" && value == team)
                .and_then(|t| t.thread_id)
        };
        assert_eq!(thread("billing::invoices", ""), Some(1));
        assert_eq!(thread("billing::refunds::card", ""), Some(2));
        assert_eq!(thread("billing_ext", ""), None, "whole segments");
        assert_eq!(thread("billing", "search"), Some(3), "the field wins");
        assert_eq!(routes.chats().count(), 4);
    }
}
