//! What the pipeline says about itself and the service: startup and
//! shutdown notices, a user hook's panic, the fallback chat's notice when
//! delivery goes dark, the configuration check's greeting, and where
//! messages go.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::alert::AlertLevel;
use crate::chat::{ChatId, Target};
use crate::delivery::Message;
use crate::fleet::watch::Vanished;
use crate::record::{Captured, Occurrence, Origin, Record};
use crate::render::notice::{
    back_text, check_greeting, dark_text, startup_text, stop_text, vanished_text, VanishedProcess,
};
use crate::render::{render_notice, render_record};
use crate::stats::Stats;

use super::{messages_for, title_of, Heading, Pipeline};

impl Pipeline {
    /// A user hook (`before_send`, `on_sent`) panicked with `payload`. The
    /// first time in a digest window, a Critical alert says so — built
    /// here, passing through no hook and settling no record, so a hook that
    /// always panics cannot loop; later panics in the window are counted in
    /// the digest.
    pub(crate) fn hook_panicked(&mut self, hook: &'static str, payload: &str) -> Vec<Message> {
        let now = self.clock.now();
        let message = format!("the {hook} hook panicked: {payload}");
        let mut record = Record::new(
            AlertLevel::Critical,
            Occurrence::Alert,
            Origin::Manual,
            message.into(),
            Captured {
                title: Some(format!("The {hook} hook panicked")),
                ..Captured::default()
            },
        );
        self.config.sanitizer.sanitize_record(&mut record);
        let window = self.config.digest.window;
        let recent = self
            .hook_alerted_at
            .is_some_and(|at| now.saturating_duration_since(at) < window);
        if recent {
            record.occurrence = Occurrence::DigestOnly;
            record.level = AlertLevel::Warning;
            let _ = self.digest.route(&record, None, now);
            return Vec::new();
        }
        self.hook_alerted_at = Some(now);
        self.reporter.notice(&record.message);
        let pages = render_record(&record, &self.render_context(0));
        let target = self.target_of(&record);
        let heading = Heading::new(record.level, &title_of(&record));
        messages_for(pages, &target, heading, false, 0)
    }

    /// The startup notice ("started v1.2 on host web-3").
    pub(crate) fn startup_notice(&self, host: &str) -> Vec<Message> {
        let version = self.config.identity.version.as_deref();
        self.notice("🟢", &startup_text(version, host))
    }

    /// The shutdown notice, with the final counters.
    pub(crate) fn stop_notice(&self, stats: &Stats) -> Vec<Message> {
        self.notice("⏹", &stop_text(stats))
    }

    /// The notice for the fallback chat when delivery to the main one has
    /// stopped (none without a fallback chat). It notifies, and settles no
    /// record.
    pub(crate) fn dark_notice(&self, reason: &str) -> Vec<Message> {
        let Some(target) = &self.addresses.fallback else {
            return Vec::new();
        };
        let mut context = self.render_context(0);
        context.max_messages = 1;
        let text = dark_text(reason);
        let pages = render_notice("🔴", &text, &context);
        let heading = Heading::new(AlertLevel::Critical, "Alerting is dark");
        messages_for(pages, target, heading, false, 0)
    }

    /// A process of the fleet vanished without shutting down: a notice
    /// that rings, to where Critical alerts go.
    pub(crate) fn vanished_notice(&self, vanished: &Vanished) -> Vec<Message> {
        let presence = vanished.presence.as_ref();
        let at = |millis: u64| UNIX_EPOCH + Duration::from_millis(millis);
        let process = VanishedProcess {
            service: presence.map(|p| p.service.as_str()),
            host: presence.map_or("", |p| p.host.as_str()),
            pid: presence.map_or(0, |p| p.pid),
            version: presence.and_then(|p| p.version.as_deref()),
            last_seen: at(vanished.last_seen_ms),
            up: presence
                .map(|p| Duration::from_millis(vanished.last_seen_ms.saturating_sub(p.started_ms))),
            last_alert: presence
                .and_then(|p| p.last_alert.as_ref())
                .map(|(millis, title)| (title.as_str(), at(*millis))),
        };
        let text = vanished_text(&process);
        let text = self.config.sanitizer.sanitize(&text);
        self.ringing_notice("💀", &text)
    }

    /// This process was reported vanished, and is not.
    pub(crate) fn back_notice(&self, host: &str) -> Vec<Message> {
        self.ringing_notice("🩹", &back_text(host, std::process::id()))
    }

    fn ringing_notice(&self, emoji: &str, text: &str) -> Vec<Message> {
        let mut context = self.render_context(0);
        context.max_messages = 1;
        let pages = render_notice(emoji, text, &context);
        let target = self.addresses.routes.target(AlertLevel::Critical);
        let heading = Heading::new(AlertLevel::Critical, text);
        messages_for(pages, &target, heading, false, 0)
    }

    /// The title of the last alert this process rendered (sanitized), and
    /// when: what its presence tells the fleet.
    pub(crate) fn last_alert(&self) -> Option<&(SystemTime, String)> {
        self.last_alert.as_ref()
    }

    /// The test message the configuration check posts.
    pub(crate) fn check_greeting(&self) -> String {
        let identity = &self.config.identity;
        check_greeting(&identity.service, &identity.environment)
    }

    /// The service and version, for the fleet's once-per-deploy notice.
    pub(crate) fn deploy(&self) -> (&str, Option<&str>) {
        let identity = &self.config.identity;
        (&identity.service, identity.version.as_deref())
    }

    /// A one-line silent notice (startup, shutdown) to where Info goes.
    fn notice(&self, emoji: &str, text: &str) -> Vec<Message> {
        let mut context = self.render_context(0);
        context.max_messages = 1;
        let pages = render_notice(emoji, text, &context);
        let target = self.addresses.routes.target(AlertLevel::Info);
        messages_for(
            pages,
            &target,
            Heading::new(AlertLevel::Info, text),
            true,
            0,
        )
    }

    /// The chat errors go to: losing it makes delivery dark.
    pub(crate) fn main_chat(&self) -> ChatId {
        self.addresses.routes.target(AlertLevel::Error).chat_id
    }

    /// The chats alerts go to (where their buttons may be pressed).
    #[cfg_attr(not(feature = "interactive"), allow(dead_code))] // used with the `interactive` feature
    pub(crate) fn alert_chats(&self) -> Vec<ChatId> {
        let mut chats = Vec::new();
        for target in self.targets() {
            if !chats.contains(&target.chat_id) {
                chats.push(target.chat_id);
            }
        }
        chats
    }

    /// Every distinct destination, for the configuration check.
    pub(crate) fn targets(&self) -> Vec<Target> {
        let mut targets: Vec<Target> = Vec::new();
        let levels = [
            AlertLevel::Critical,
            AlertLevel::Error,
            AlertLevel::Warning,
            AlertLevel::Info,
        ];
        let all = levels
            .iter()
            .map(|level| self.addresses.routes.target(*level))
            .chain(self.addresses.routes.specific_targets().cloned())
            .chain(std::iter::once(self.addresses.digest.clone()))
            .chain(self.addresses.fallback.clone());
        for target in all {
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        targets
    }
}
