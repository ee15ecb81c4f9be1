//! Validation: every option checked once, before any thread or runtime
//! starts, and split into the config of each part.

use std::time::Duration;

use crate::alert::AlertLevel;
use crate::capture::skip::SkipRules;
use crate::capture::slow::SlowRules;
use crate::capture::{CaptureConfig, PanicConfig};
use crate::chat::{Routes, Target};
use crate::clock::Clock;
use crate::delivery::DeliveryConfig;
use crate::error::Error;
use crate::fleet::FleetConfig;
use crate::pipeline::PipelineConfig;
use crate::sanitize::Sanitizer;
use crate::worker::WorkerConfig;

use super::Builder;

/// The validated configuration: one config per part, and what the builder
/// itself wires with.
#[derive(Debug)]
pub(super) struct Parts {
    pub(super) capture: CaptureConfig,
    /// `None`: no panic hook.
    pub(super) panics: Option<PanicConfig>,
    pub(super) pipeline: PipelineConfig,
    pub(super) delivery: DeliveryConfig,
    /// `None`: this process alone.
    pub(super) fleet: Option<FleetConfig>,
    pub(super) worker: WorkerConfig,
    /// The sanitizer every text and stderr line goes through (the token
    /// included).
    pub(super) sanitizer: Sanitizer,
    pub(super) clock: Clock,
    /// Whether repeats may be counted at the gate: only when repeats are
    /// deduplicated, and no `before_send` hook has to see every record.
    pub(super) gate: bool,
    pub(super) queue_capacity: usize,
    pub(super) drop_timeout: Duration,
}

impl Builder {
    /// Checks every option; the per-part configs, or an error naming the
    /// first option at fault.
    pub(super) fn validate(self) -> Result<Parts, Error> {
        let token = self.token.ok_or(Error::Missing {
            option: "bot_token",
        })?;
        if !token.is_well_formed() {
            return Err(Error::invalid_token("bot_token"));
        }
        let chat_id = self.chat_id.ok_or(Error::Missing { option: "chat_id" })?;
        let routes = Routes::new(
            Target {
                chat_id,
                thread_id: self.thread_id,
            },
            &self.routes,
        );
        for chat_id in routes.chats() {
            chat_id.validate("chat_id")?;
        }
        self.pacing.validate()?;
        self.retry.validate()?;
        let api_url = validate_api_url("api_url", &self.api_url)?;
        let fleet = match &self.redis_url {
            Some(url) => Some(fleet_config(
                "redis_url",
                url,
                &self.redis_key_prefix,
                self.redis_timeout,
            )?),
            None => None,
        };
        if self.redis_key_prefix.is_empty() || self.redis_key_prefix.contains(char::is_whitespace) {
            return Err(Error::invalid(
                "redis_key_prefix",
                &self.redis_key_prefix,
                "a non-empty prefix without spaces",
            ));
        }
        require_positive("redis_timeout", self.redis_timeout)?;
        require_positive("slow_threshold", self.slow_threshold)?;
        require_positive("slow_batch_window", self.slow_batch)?;
        require_positive("batch_window", self.batch_window)?;
        require_positive("connect_timeout", self.connect_timeout)?;
        require_positive("request_timeout", self.request_timeout)?;
        if self.queue_capacity == 0 {
            return Err(Error::invalid("queue_capacity", "0", "at least 1"));
        }
        for (name, threshold) in &self.slow_thresholds {
            if *threshold == Some(Duration::ZERO) {
                return Err(Error::invalid(
                    "slow_threshold_for",
                    name,
                    "a duration greater than zero",
                ));
            }
        }
        let digest_target = match &self.digest_destination {
            Some(destination) => routes.resolve(destination),
            None => routes.target(AlertLevel::Info),
        };
        digest_target.chat_id.validate("route_digests")?;
        let sanitizer = self.sanitizer.with_token(token.expose());
        let slow = SlowRules {
            default: self.slow_spans.then_some(self.slow_threshold),
            by_name: if self.slow_spans {
                self.slow_thresholds
            } else {
                Default::default()
            },
            judge_busy: self.judge_busy,
        };
        let capture = CaptureConfig {
            min_level: self.min_level,
            digest_level: self.digest_level,
            skip: SkipRules::new(&self.ignored_paths, self.skip_targets),
            slow,
            capture_backtrace: self.capture_backtrace && self.max_traceback_lines > 0,
        };
        let panics = self.capture_panics.then_some(PanicConfig {
            flush_timeout: self.panic_flush_timeout,
            max_frames: self.max_traceback_lines,
        });
        let gate = !self.rate_limit.is_zero() && self.before_send.is_none();
        let pipeline = PipelineConfig {
            service: self.service.unwrap_or_else(executable_name),
            environment: self.environment,
            service_version: self.service_version,
            routes,
            digest_target,
            rate_limit: self.rate_limit,
            dedup_capacity: self.dedup_capacity.max(1),
            batch_window: self.batch_window,
            slow_batch: self.slow_batch,
            digest_top: self.digest_top.max(1),
            max_traceback_lines: self.max_traceback_lines,
            max_field_len: self.max_field_len.max(1),
            max_fields: self.max_fields,
            max_continuation_messages: self.max_continuation_messages.min(20),
            sanitizer: sanitizer.clone(),
            before_send: self.before_send,
        };
        let delivery = DeliveryConfig {
            token,
            api_url,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            pacing: self.pacing,
            retry: self.retry,
            max_retry_after: self.max_retry_after,
            protect_content: self.protect_content,
            on_sent: self.on_sent,
            outbox_capacity: self.queue_capacity,
        };
        let worker = WorkerConfig {
            startup_notice: self.startup_notice,
            shutdown_notice: self.shutdown_notice,
        };
        Ok(Parts {
            capture,
            panics,
            pipeline,
            delivery,
            fleet,
            worker,
            sanitizer,
            clock: self.clock,
            gate,
            queue_capacity: self.queue_capacity,
            drop_timeout: self.drop_timeout,
        })
    }
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
    const EXPECTED: &str = "a redis://, rediss:// or redis+unix:// URL the Redis client accepts";
    let (shown, scheme_ok) = match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Infallible for URLs with a host, which are the only ones
                // that can carry a password; ignore the result either way.
                let _ = parsed.set_password(Some("***"));
            }
            let scheme_ok = matches!(parsed.scheme(), "redis" | "rediss" | "redis+unix" | "unix");
            (parsed.to_string(), scheme_ok)
        }
        Err(_) => ("<unparseable URL>".to_owned(), false),
    };
    if !scheme_ok {
        return Err(Error::invalid(option, &shown, EXPECTED));
    }
    FleetConfig::new(url, prefix, timeout)
        .map_err(|why| Error::invalid(option, &format!("{shown} ({why})"), EXPECTED))
}

fn require_positive(option: &'static str, value: Duration) -> Result<(), Error> {
    if value.is_zero() {
        return Err(Error::invalid(option, "0s", "a duration greater than zero"));
    }
    Ok(())
}

fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown-service".to_owned())
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
        let parts = builder.clone().validate().unwrap();
        for text in [format!("{builder:?}"), format!("{parts:?}")] {
            assert!(!text.contains("AAHdqTcv"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
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
