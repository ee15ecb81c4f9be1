//! The configuration check ([`TelegramGuard::check`](crate::TelegramGuard::check)):
//! the token, and a test message to every destination.

use crate::chat::Target;
use crate::check::{CheckProblem, CheckReport};
use crate::health::Health;

use super::client::{Failure, LinkPreviewOptions, SendMessage};
use super::Courier;

impl Courier {
    /// Checks the token and every destination with a test message.
    pub(crate) async fn check(&self, targets: &[Target], greeting: &str) -> CheckReport {
        let mut report = CheckReport::default();
        if let Health::Dark { reason, since } = self.counters.health.get() {
            report
                .problems
                .push(CheckProblem::DeliveryStopped { reason, since });
        }
        match self.client.get_me().await {
            Ok(bot) => report.bot_username = bot.username.or(Some(bot.id.to_string())),
            Err(error) => {
                report.problems.push(match error.classify() {
                    Failure::Unauthorized => CheckProblem::InvalidToken,
                    _ => CheckProblem::ApiUnreachable {
                        reason: self.reporter.scrub(&error.to_string()),
                    },
                });
                return report;
            }
        }
        for target in targets {
            let destination = match target.thread_id {
                Some(thread) => format!("chat {} topic {thread}", target.chat_id),
                None => format!("chat {}", target.chat_id),
            };
            let request = SendMessage {
                chat_id: &target.chat_id,
                text: greeting,
                parse_mode: None,
                message_thread_id: target.thread_id,
                disable_notification: true,
                protect_content: self.protect_content,
                link_preview_options: LinkPreviewOptions { is_disabled: true },
                reply_markup: None,
                reply_parameters: None,
            };
            let Err(error) = self.client.send_message(&request).await else {
                report.reachable.push(destination);
                continue;
            };
            let reason = self.reporter.scrub(&error.to_string());
            report
                .problems
                .push(match (error.classify(), target.thread_id) {
                    (Failure::Unauthorized, _) => CheckProblem::InvalidToken,
                    (Failure::Transient | Failure::RateLimited(_), _) => {
                        CheckProblem::ApiUnreachable { reason }
                    }
                    (Failure::ChatUnavailable, _) => CheckProblem::ChatUnreachable {
                        chat: target.chat_id.to_string(),
                        reason,
                    },
                    (_, Some(thread_id)) if reason.contains("thread not found") => {
                        CheckProblem::TopicMissing {
                            chat: target.chat_id.to_string(),
                            thread_id,
                        }
                    }
                    _ => CheckProblem::Rejected {
                        destination,
                        reason,
                    },
                });
        }
        report
    }
}
