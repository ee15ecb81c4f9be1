//! The configuration check: is the token valid, can the bot post to every
//! configured chat and topic? Run it before deploying
//! ([`TelegramGuard::check`](crate::TelegramGuard::check), or
//! `cargo run --example check`).

use std::fmt;

/// What [`TelegramGuard::check`](crate::TelegramGuard::check) found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CheckReport {
    /// The bot's `@username`, if the token was accepted.
    pub bot_username: Option<String>,
    /// Destinations (`chat` or `chat/topic`) that received the test message.
    pub reachable: Vec<String>,
    /// Everything that is wrong, each saying what to fix.
    pub problems: Vec<CheckProblem>,
}

impl CheckReport {
    /// `true` if the token works and every destination received the test message.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.bot_username.is_some()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.bot_username {
            Some(bot) => writeln!(f, "✅ token valid: the bot is @{bot}")?,
            None => writeln!(f, "❌ the bot could not be identified")?,
        }
        for destination in &self.reachable {
            writeln!(f, "✅ test message delivered to {destination}")?;
        }
        for problem in &self.problems {
            writeln!(f, "❌ {problem}")?;
        }
        Ok(())
    }
}

/// One thing the check found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckProblem {
    /// Telegram rejected the token (401).
    InvalidToken,
    /// Delivery has stopped (revoked token, bot removed from the main chat):
    /// see [`Health::Dark`](crate::Health::Dark).
    DeliveryStopped {
        /// Why, without the token.
        reason: String,
        /// When it stopped.
        since: std::time::SystemTime,
    },
    /// The Bot API could not be reached (network, DNS, TLS, timeout).
    ApiUnreachable {
        /// What went wrong, without the token.
        reason: String,
    },
    /// The bot cannot post to this chat (not a member, kicked, wrong id).
    ChatUnreachable {
        /// The chat id.
        chat: String,
        /// What Telegram said.
        reason: String,
    },
    /// The chat has no forum topic with this id.
    TopicMissing {
        /// The chat id.
        chat: String,
        /// The configured `message_thread_id`.
        thread_id: i64,
    },
    /// Telegram refused the test message for another reason.
    Rejected {
        /// The destination.
        destination: String,
        /// What Telegram said.
        reason: String,
    },
    /// The worker did not finish the check in time.
    Timeout,
}

impl fmt::Display for CheckProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckProblem::InvalidToken => f.write_str(
                "the bot token is invalid or revoked: check TELEGRAM_BOT_TOKEN (ask @BotFather for the current one)",
            ),
            CheckProblem::DeliveryStopped { reason, .. } => write!(
                f,
                "delivery has stopped ({reason}): alerts are lost until this is fixed and the service restarted"
            ),
            CheckProblem::ApiUnreachable { reason } => {
                write!(f, "the Bot API could not be reached ({reason}): check TELEGRAM_API_URL and the network")
            }
            CheckProblem::ChatUnreachable { chat, reason } => write!(
                f,
                "the bot cannot post to chat {chat} ({reason}): add the bot to the chat (as an admin for channels) and check TELEGRAM_CHAT_ID"
            ),
            CheckProblem::TopicMissing { chat, thread_id } => write!(
                f,
                "chat {chat} has no forum topic {thread_id}: check TELEGRAM_THREAD_ID (topics must be enabled in the group)"
            ),
            CheckProblem::Rejected { destination, reason } => {
                write!(f, "Telegram refused the test message to {destination}: {reason}")
            }
            CheckProblem::Timeout => f.write_str("the check did not finish in time"),
        }
    }
}
