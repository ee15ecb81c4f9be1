//! Validation: every option checked once, before any thread or runtime
//! starts, and split into the config of each part.

use std::time::Duration;

use crate::alert::AlertLevel;
use crate::capture::{CaptureConfig, PanicConfig};
use crate::chat::{BotToken, Routes, Target};
use crate::clock::Clock;
use crate::delivery::DeliveryConfig;
use crate::error::Error;
use crate::fleet::FleetConfig;
use crate::gate::FoldConfig;
use crate::interact::escalation::{EscalationConfig, OnCall};
use crate::interact::{InteractConfig, MAX_MUTE, MAX_MUTE_OPTIONS};
use crate::pipeline::{Addresses, PipelineConfig};
use crate::render::trace::valid_link_template;
use crate::worker::WorkerConfig;

use super::Builder;

/// The validated configuration: one config per stage, and what the builder
/// itself wires with.
#[derive(Debug)]
pub(super) struct Validated {
    pub(super) capture: CaptureConfig,
    /// `None`: no panic hook.
    pub(super) panics: Option<PanicConfig>,
    pub(super) pipeline: PipelineConfig,
    pub(super) addresses: Addresses,
    pub(super) token: BotToken,
    pub(super) delivery: DeliveryConfig,
    /// `None`: this process alone.
    pub(super) fleet: Option<FleetConfig>,
    /// The fleet watches itself, refreshing presences this often.
    pub(super) watch: Option<Duration>,
    pub(super) worker: WorkerConfig,
    pub(super) clock: Clock,
    /// Whether repeats may be counted at the repeat gate: only when repeats
    /// are deduplicated, and no `before_send` hook has to see every record.
    pub(super) gate: bool,
    /// When a callsite's variants fold into one kind (at the gate).
    pub(super) fold: FoldConfig,
    pub(super) queue_capacity: usize,
    pub(super) drop_timeout: Duration,
    /// Notes from reading the configuration, for the reporter.
    pub(super) notes: Vec<String>,
    /// Interactive alerts (`None`: off).
    #[cfg_attr(not(feature = "interactive"), allow(dead_code))]
    // used with the `interactive` feature
    pub(super) interactive: Option<InteractConfig>,
}

impl Builder {
    /// Checks every option; each stage's config, or an error naming the
    /// first option at fault.
    pub(super) fn validate(mut self) -> Result<Validated, Error> {
        let token = self.token.take().ok_or(Error::Missing {
            option: "bot_token",
        })?;
        if !token.is_well_formed() {
            return Err(Error::invalid_token("bot_token"));
        }
        let addresses = self.addresses()?;
        self.check_delivery()?;
        let fleet = self.check_fleet()?;
        self.check_durations()?;
        if let Some(template) = &self.trace_link {
            if !valid_link_template(template) {
                return Err(Error::invalid(
                    "trace_link",
                    template,
                    "an http(s) URL containing {trace_id}, without spaces or quotes",
                ));
            }
        }
        if self.interactive.0.enabled {
            validate_interactive(&self.interactive.0, self.dedup.0.window)?;
        } else if self.interactive.0.escalation.is_on() {
            return Err(Error::invalid(
                "interactive.escalate_after",
                "a deadline",
                "interactive alerts on (interactive.enabled): only an alert with an Ack button can be acknowledged",
            ));
        }
        if self.limits.queue_capacity == 0 {
            return Err(Error::invalid("limits.queue_capacity", "0", "at least 1"));
        }
        Ok(self.into_stages(token, addresses, fleet))
    }

    /// The chats: the main one, each level's route, the digest's, the
    /// fallback.
    fn addresses(&mut self) -> Result<Addresses, Error> {
        let chat_id = self
            .chat_id
            .take()
            .ok_or(Error::Missing { option: "chat_id" })?;
        let routes = Routes::new(
            Target {
                chat_id,
                thread_id: self.thread_id,
            },
            &self.routes.0,
        );
        for chat_id in routes.chats() {
            chat_id.validate("chat_id")?;
        }
        let digest = match &self.digest.destination {
            Some(destination) => routes.resolve(destination),
            None => routes.target(AlertLevel::Info),
        };
        digest.chat_id.validate("digest.destination")?;
        let fallback = match self.delivery.fallback_chat.take() {
            Some(chat_id) => {
                chat_id.validate("delivery.fallback_chat")?;
                Some(Target {
                    chat_id,
                    thread_id: None,
                })
            }
            None => None,
        };
        let escalation = match &self.interactive.0.escalation.to {
            Some(destination) => {
                let target = routes.resolve(destination);
                target.chat_id.validate("interactive.escalate_to")?;
                Some(target)
            }
            None => None,
        };
        Ok(Addresses {
            routes,
            digest,
            fallback,
            escalation,
        })
    }

    fn check_delivery(&mut self) -> Result<(), Error> {
        let delivery = &mut self.delivery.config;
        delivery.pacing.validate()?;
        delivery.retry.validate()?;
        delivery.api_url = validate_api_url("api_url", &self.api_url)?;
        require_positive("delivery.connect_timeout", delivery.connect_timeout)?;
        require_positive("delivery.request_timeout", delivery.request_timeout)
    }

    fn check_fleet(&self) -> Result<Option<FleetConfig>, Error> {
        let fleet = &self.fleet;
        if fleet.key_prefix.is_empty() || fleet.key_prefix.contains(char::is_whitespace) {
            return Err(Error::invalid(
                "fleet.key_prefix",
                &fleet.key_prefix,
                "a non-empty prefix without spaces",
            ));
        }
        require_positive("fleet.timeout", fleet.timeout)?;
        if fleet.watch && fleet.url.is_none() {
            return Err(Error::invalid(
                "fleet.watch_fleet",
                "true",
                "a fleet with fleet.redis_url set (the watch lives in Redis)",
            ));
        }
        if fleet.watch_interval < Duration::from_millis(100) {
            return Err(Error::invalid(
                "fleet.watch_interval",
                &format!("{:?}", fleet.watch_interval),
                "at least 100 ms",
            ));
        }
        fleet
            .url
            .as_deref()
            .map(|url| fleet_config("fleet.redis_url", url, &fleet.key_prefix, fleet.timeout))
            .transpose()
    }

    fn check_durations(&self) -> Result<(), Error> {
        require_positive("slow_spans.threshold", self.slow.rules.threshold)?;
        require_positive("slow_spans.alert_once_per", self.slow.alert_once_per)?;
        require_positive("digest.interval", self.digest.config.window)?;
        require_positive("storms.fold_window", self.storms.fold.window)?;
        require_positive("storms.incident_window", self.storms.incidents.window)?;
        for (name, threshold) in &self.slow.rules.by_name {
            if *threshold == Some(Duration::ZERO) {
                return Err(Error::invalid(
                    "slow_spans.threshold_for",
                    name,
                    "a duration greater than zero",
                ));
            }
        }
        Ok(())
    }

    /// The checked parts as each stage's configuration, with the bounds
    /// that keep odd values harmless (at least one row, at most 20 extra
    /// messages, …).
    fn into_stages(
        self,
        token: BotToken,
        addresses: Addresses,
        fleet: Option<FleetConfig>,
    ) -> Validated {
        let mut limits = self.limits.render;
        limits.max_field_len = limits.max_field_len.max(1);
        limits.max_continuation_messages = limits.max_continuation_messages.min(20);
        let mut dedup = self.dedup.0;
        dedup.capacity = dedup.capacity.max(1);
        let mut digest = self.digest.config;
        digest.top = digest.top.max(1);
        digest.slow_batch = self.slow.alert_once_per;
        let hooks = self.hooks;
        let user_hooks = hooks.any();
        // Repeats are counted at the repeat gate only when they are
        // deduplicated, no `before_send` hook has to see every record, and
        // no field route may send two records of one kind (the gate's key:
        // callsite and message) to two chats.
        let gate = !dedup.window.is_zero()
            && hooks.before_send.is_none()
            && self.routes.0.fields.is_empty();
        let capture = CaptureConfig {
            min_level: self.min_level,
            digest_level: self.digest.level,
            span_level: self.capture.span_level,
            skip: self.capture.skip,
            slow: self.slow.rules,
            capture_backtrace: self.capture.backtraces && limits.max_traceback_lines > 0,
        };
        let mut panics = self.panics.0;
        panics.max_frames = limits.max_traceback_lines;
        let quiet_hours = self.delivery.quiet_hours;
        let mut delivery = self.delivery.config;
        delivery.on_sent = hooks.on_sent;
        delivery.on_failure = hooks.on_failure;
        let pipeline = PipelineConfig {
            identity: self.identity,
            limits,
            dedup,
            incidents: self.storms.incidents,
            digest,
            sanitizer: self.sanitizer.with_token(token.expose()),
            before_send: hooks.before_send,
            trace_link: self.trace_link,
            quiet_hours,
        };
        Validated {
            capture,
            panics: (panics.report || user_hooks).then_some(panics),
            pipeline,
            addresses,
            token,
            delivery,
            watch: (self.fleet.watch && fleet.is_some()).then_some(self.fleet.watch_interval),
            fleet,
            worker: self.notices.0,
            clock: self.clock,
            gate,
            fold: self.storms.fold,
            queue_capacity: self.limits.queue_capacity,
            drop_timeout: self.limits.drop_timeout,
            notes: self.notes,
            interactive: self.interactive.0.enabled.then_some(self.interactive.0),
        }
    }
}

/// Interactive alerts need deduplication (buttons act on a kind), and
/// mute options that fit a button and its signed data.
fn validate_interactive(config: &InteractConfig, dedup_window: Duration) -> Result<(), Error> {
    if !cfg!(feature = "interactive") {
        return Err(Error::invalid(
            "interactive.enabled",
            "true",
            "the `interactive` cargo feature (a default feature, turned off in this build)",
        ));
    }
    if dedup_window.is_zero() {
        return Err(Error::invalid(
            "interactive.enabled",
            "true",
            "deduplication on (dedup.window > 0): buttons act on an alert's kind",
        ));
    }
    let options = &config.mute_options;
    if options.is_empty() || options.len() > MAX_MUTE_OPTIONS {
        return Err(Error::invalid(
            "interactive.mute_options",
            &format!("{} durations", options.len()),
            "1 to 4 durations",
        ));
    }
    for option in options {
        let whole_minutes = option.as_secs() % 60 == 0 && option.subsec_nanos() == 0;
        if !whole_minutes || *option < Duration::from_secs(60) || *option > MAX_MUTE {
            return Err(Error::invalid(
                "interactive.mute_options",
                &format!("{option:?}"),
                "whole minutes, from 1 minute to 7 days",
            ));
        }
    }
    check_escalation(&config.escalation)?;
    let poll = config.poll_timeout;
    if poll < Duration::from_secs(1) || poll > Duration::from_secs(50) {
        return Err(Error::invalid(
            "interactive.poll_timeout",
            &format!("{poll:?}"),
            "from 1 s to 50 s",
        ));
    }
    Ok(())
}

/// Escalation's deadlines (Error and Critical only, 1 s to 7 days) and
/// the people on call.
fn check_escalation(config: &EscalationConfig) -> Result<(), Error> {
    for after in [config.error, config.critical].into_iter().flatten() {
        if after < Duration::from_secs(1) || after > MAX_MUTE {
            return Err(Error::invalid(
                "interactive.escalate_after",
                &format!("{after:?}"),
                "from 1 second to 7 days",
            ));
        }
    }
    for person in &config.on_call {
        OnCall::parse(person)
            .map_err(|expected| Error::invalid("interactive.on_call", person, expected))?;
    }
    Ok(())
}

/// Checks an `http(s)://host[:port][/path]` URL and strips a trailing `/`.
pub(super) fn validate_api_url(option: &'static str, url: &str) -> Result<String, Error> {
    const EXPECTED: &str = "an http:// or https:// URL without query or fragment";
    let parsed =
        reqwest::Url::parse(url.trim()).map_err(|_| Error::invalid(option, url, EXPECTED))?;
    let usable = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some()
        && parsed.query().is_none()
        && parsed.fragment().is_none()
        && parsed.username().is_empty()
        && parsed.password().is_none();
    if !usable {
        return Err(Error::invalid(option, url, EXPECTED));
    }
    Ok(url.trim().trim_end_matches('/').to_owned())
}

/// The one check of a Redis URL: its scheme, then the Redis client's own
/// parser (so that what passes here also connects later). Errors show the
/// URL with its password masked, and the client's reason.
pub(super) fn fleet_config(
    option: &'static str,
    url: &str,
    prefix: &str,
    timeout: Duration,
) -> Result<FleetConfig, Error> {
    const EXPECTED: &str = "a redis://, rediss://, redis+unix:// redis+cluster://host:port,host:port or redis+sentinel://host:port,host:port/service URL the Redis client accepts";
    let cluster = ["redis+cluster://", "rediss+cluster://", "redis+sentinel://"]
        .into_iter()
        .find_map(|scheme| url.strip_prefix(scheme).map(|rest| (scheme, rest)));
    let (shown, scheme_ok) = match cluster {
        // A list of nodes is not one URL: shown with its password masked.
        Some((scheme, rest)) => (format!("{scheme}{}", mask_password(rest)), true),
        None => match reqwest::Url::parse(url) {
            Ok(mut parsed) => {
                if parsed.password().is_some() {
                    // Infallible for URLs with a host, which are the only ones
                    // that can carry a password; ignore the result either way.
                    let _ = parsed.set_password(Some("***"));
                }
                let scheme_ok =
                    matches!(parsed.scheme(), "redis" | "rediss" | "redis+unix" | "unix");
                (parsed.to_string(), scheme_ok)
            }
            Err(_) => ("<unparseable URL>".to_owned(), false),
        },
    };
    if !scheme_ok {
        return Err(Error::invalid(option, &shown, EXPECTED));
    }
    FleetConfig::new(url, prefix, timeout)
        .map_err(|why| Error::invalid(option, &format!("{shown} ({why})"), EXPECTED))
}

/// `user:secret@hosts` → `user:***@hosts`.
fn mask_password(rest: &str) -> String {
    match rest.rsplit_once('@') {
        Some((credentials, hosts)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{user}:***@{hosts}"),
            None => format!("{credentials}@{hosts}"),
        },
        None => rest.to_owned(),
    }
}

fn require_positive(option: &'static str, value: Duration) -> Result<(), Error> {
    if value.is_zero() {
        return Err(Error::invalid(option, "0s", "a duration greater than zero"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ChatId;

    const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

    #[test]
    fn token_shape_is_checked_without_echoing_it() {
        let err = Builder::new()
            .bot_token("not-a-token-secret")
            .chat_id(1)
            .validate()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bot_token"), "{text}");
        assert!(!text.contains("not-a-token-secret"), "{text}");
    }

    #[test]
    fn debug_output_redacts_the_token() {
        let builder = Builder::new().bot_token(TOKEN).chat_id(-100);
        let validated = builder.clone().validate().unwrap();
        for text in [format!("{builder:?}"), format!("{validated:?}")] {
            assert!(!text.contains("AAHdqTcv"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }

    #[test]
    fn watching_the_fleet_needs_redis_and_a_sane_interval() {
        let base = || Builder::new().bot_token(TOKEN).chat_id(-100);
        let err = base()
            .fleet(|f| f.watch_fleet(true))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("fleet.watch_fleet"), "{err}");
        assert!(err.contains("redis_url"), "{err}");
        if crate::fleet::AVAILABLE {
            let with_redis = || base().fleet(|f| f.redis_url("redis://127.0.0.1:6379/"));
            let err = with_redis()
                .fleet(|f| {
                    f.watch_fleet(true)
                        .watch_interval(Duration::from_millis(10))
                })
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.contains("fleet.watch_interval"), "{err}");
            let validated = with_redis()
                .fleet(|f| f.watch_fleet(true))
                .validate()
                .unwrap();
            assert_eq!(validated.watch, Some(Duration::from_secs(5)));
            let off = with_redis().validate().unwrap();
            assert_eq!(off.watch, None, "off by default");
        }
    }

    #[test]
    fn interactive_alerts_need_their_feature() {
        let validated = Builder::new()
            .bot_token(TOKEN)
            .chat_id(-100)
            .interactive(|i| i.enabled(true))
            .validate();
        let with_feature = cfg!(feature = "interactive");
        match validated {
            Ok(validated) => {
                assert!(with_feature, "buttons turned on without the feature");
                assert!(validated.interactive.is_some());
            }
            Err(err) => {
                assert!(!with_feature, "{err}");
                let text = err.to_string();
                assert!(text.contains("interactive.enabled"), "{text}");
                assert!(text.contains("`interactive` cargo feature"), "{text}");
            }
        }
    }

    #[test]
    fn a_zero_fold_window_is_an_error_naming_it() {
        let err = Builder::new()
            .bot_token(TOKEN)
            .chat_id(1)
            .storms(|s| s.fold_window(Duration::ZERO))
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("storms.fold_window"), "{err}");
        let off = Builder::new()
            .bot_token(TOKEN)
            .chat_id(1)
            .storms(|s| s.fold_after(0))
            .validate();
        assert!(off.is_ok_and(|parts| parts.fold.after == 0));
    }

    #[test]
    fn chat_ids_are_validated() {
        assert_eq!(ChatId::from("-1001234567890"), ChatId::Id(-1001234567890));
        assert!(ChatId::from("@my_channel").validate("chat_id").is_ok());
        let err = ChatId::from("my channel").validate("chat_id").unwrap_err();
        assert!(err.to_string().contains("chat_id"));
        assert!(ChatId::Id(0).validate("chat_id").is_err());
    }

    #[test]
    fn api_url_must_be_http() {
        assert_eq!(
            validate_api_url("api_url", "http://127.0.0.1:8081/").unwrap(),
            "http://127.0.0.1:8081"
        );
        for bad in ["ftp://x", "not a url", "http://u:p@host", "https://h/?q=1"] {
            assert!(validate_api_url("api_url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redis_url_errors_hide_the_password() {
        let check = |url| fleet_config("REDIS_URL", url, "p", Duration::from_secs(1));
        let err = check("http://u:hunter2@host").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(
            check("rediss://u:p@host:6380/0").is_ok(),
            cfg!(feature = "redis")
        );
    }
}
