//! The environment variables: one table, read by [`Builder::from_env`] and
//! by [`Settings`](super::Settings) (whose keys are the same names in lower
//! case), so the two cannot drift apart.
//!
//! Every variable in the table really works, and a malformed value is an
//! [`Error`] that names the variable — never a silent default.

use std::time::Duration;

use crate::chat::Destination;
use crate::fleet;
use crate::interact::escalation::OnCall;
use crate::quiet::QuietHours;

use super::validate::{fleet_config, validate_api_url};
use super::values::{
    parse_bool, parse_chat_id, parse_count, parse_deadline, parse_destination, parse_list,
    parse_minutes, parse_paths, parse_seconds, parse_thread_id, parse_u32, parse_user_id,
    split_route, ROUTE_FIELD,
};
use super::Builder;
use crate::error::Error;

/// One variable: its name, and what its value does to the builder.
pub(crate) struct Variable {
    pub(crate) name: &'static str,
    /// Whether an empty value means something (an empty list) rather than
    /// "not set".
    empty_is_a_value: bool,
    apply: fn(Builder, &'static str, &str) -> Result<Builder, Error>,
}

const fn var(
    name: &'static str,
    apply: fn(Builder, &'static str, &str) -> Result<Builder, Error>,
) -> Variable {
    Variable {
        name,
        empty_is_a_value: false,
        apply,
    }
}

/// Every variable, in the order they are applied (`TELEGRAM_REDIS_URL`
/// before `REDIS_URL`, which only applies when the former is not set).
pub(crate) const VARIABLES: &[Variable] = &[
    var("TELEGRAM_BOT_TOKEN", |b, _, v| Ok(b.bot_token(v))),
    var("TELEGRAM_CHAT_ID", |b, n, v| {
        Ok(b.chat_id(parse_chat_id(n, v)?))
    }),
    var("TELEGRAM_THREAD_ID", |b, n, v| {
        Ok(b.thread_id(parse_thread_id(n, v)?))
    }),
    var("TELEGRAM_API_URL", |b, n, v| {
        Ok(b.api_url(validate_api_url(n, v)?))
    }),
    var("MONITORING_ENABLED", |b, n, v| {
        Ok(b.enabled(parse_bool(n, v)?))
    }),
    var("MONITORING_ENV", |b, _, v| Ok(b.environment(v.trim()))),
    var("MONITORING_SERVICE", |b, _, v| Ok(b.service(v.trim()))),
    Variable {
        name: "MONITORING_IGNORED_PATHS",
        empty_is_a_value: true,
        apply: |b, n, v| {
            let paths = parse_paths(n, v)?;
            Ok(b.capture(|c| c.ignored_paths(paths)))
        },
    },
    var("ALERT_MAX_TRACEBACK_LINES", |b, n, v| {
        let lines = parse_count(n, v)?;
        Ok(b.limits(|l| l.traceback_lines(lines)))
    }),
    var("ALERT_CAPTURE_BACKTRACE", |b, n, v| {
        let on = parse_bool(n, v)?;
        Ok(b.capture(|c| c.backtraces(on)))
    }),
    var("ALERT_RATE_LIMIT_MINUTES", |b, n, v| {
        let window = parse_minutes(n, v, 0)?;
        Ok(b.dedup(|d| d.window(window)))
    }),
    var("ALERT_RESOLVE_AFTER_MINUTES", |b, n, v| {
        let quiet = parse_minutes(n, v, 0)?;
        Ok(b.dedup(|d| d.resolve_after(quiet)))
    }),
    var("ALERT_FIELD_DISTRIBUTION", |b, n, v| {
        let on = parse_bool(n, v)?;
        Ok(b.dedup(|d| d.field_distribution(on)))
    }),
    var("ALERT_FOLD_AFTER_VARIANTS", |b, n, v| {
        let variants = parse_u32(n, v)?;
        Ok(b.storms(|s| s.fold_after(variants)))
    }),
    var("ALERT_FOLD_WINDOW_SECONDS", |b, n, v| {
        let window = parse_seconds(n, v)?;
        Ok(b.storms(|s| s.fold_window(window)))
    }),
    var("ALERT_INCIDENT_AFTER_KINDS", |b, n, v| {
        let kinds = parse_u32(n, v)?;
        Ok(b.storms(|s| s.incident_after(kinds)))
    }),
    var("ALERT_INCIDENT_WINDOW_SECONDS", |b, n, v| {
        let window = parse_seconds(n, v)?;
        Ok(b.storms(|s| s.incident_window(window)))
    }),
    var("BATCH_WINDOW_MINUTES", |b, n, v| {
        let interval = parse_minutes(n, v, 1)?;
        Ok(b.digest(|d| d.interval(interval)))
    }),
    var("SLOW_REQUEST_THRESHOLD_SECONDS", |b, n, v| {
        let threshold = parse_seconds(n, v)?;
        Ok(b.slow_spans(|s| s.threshold(threshold)))
    }),
    var("SLOW_REQUESTS_BATCH_MINUTES", |b, n, v| {
        let window = parse_minutes(n, v, 1)?;
        Ok(b.slow_spans(|s| s.alert_once_per(window)))
    }),
    var("TELEGRAM_REDIS_URL", apply_redis_url),
    var("REDIS_URL", apply_app_redis_url),
    var("REDIS_KEY_PREFIX", |b, _, v| {
        Ok(b.fleet(|f| f.key_prefix(v.trim())))
    }),
    var("TELEGRAM_QUIET_HOURS", |b, n, v| {
        let hours = QuietHours::parse_for(n, v)?;
        Ok(b.delivery(|d| d.quiet_hours(hours)))
    }),
    var("TELEGRAM_WATCH_FLEET", |b, n, v| {
        let on = parse_bool(n, v)?;
        Ok(b.fleet(|f| f.watch_fleet(on)))
    }),
    var("TELEGRAM_WATCH_INTERVAL_SECONDS", |b, n, v| {
        let interval = parse_seconds(n, v)?;
        Ok(b.fleet(|f| f.watch_interval(interval)))
    }),
    var("TELEGRAM_ROUTE_TARGETS", |b, n, v| {
        let routes = parse_list(n, v, |item| {
            let (prefix, destination) = split_route(n, item)?;
            Ok((prefix.to_owned(), parse_destination(n, destination)?))
        })?;
        Ok(b.routes(|mut r| {
            for (prefix, destination) in routes {
                r = r.target(prefix, destination);
            }
            r
        }))
    }),
    var("TELEGRAM_ROUTE_FIELDS", |b, n, v| {
        let routes = parse_list(n, v, |item| {
            let (field, destination) = split_route(n, item)?;
            let Some((name, value)) = field.split_once(':') else {
                return Err(Error::invalid(n, item, ROUTE_FIELD));
            };
            let destination = parse_destination(n, destination)?;
            Ok((name.trim().to_owned(), value.trim().to_owned(), destination))
        })?;
        Ok(b.routes(|mut r| {
            for (name, value, destination) in routes {
                r = r.field(name, value, destination);
            }
            r
        }))
    }),
    var("TELEGRAM_INTERACTIVE", |b, n, v| {
        let on = parse_bool(n, v)?;
        Ok(b.interactive(|i| i.enabled(on)))
    }),
    var("TELEGRAM_MUTE_MINUTES", |b, n, v| {
        let minutes = parse_list(n, v, |m| parse_minutes(n, m, 1))?;
        Ok(b.interactive(|i| i.mute_options(minutes)))
    }),
    var("TELEGRAM_ALLOWED_USERS", |b, n, v| {
        let users = parse_list(n, v, |id| parse_user_id(n, id))?;
        Ok(b.interactive(|i| i.allowed_users(users)))
    }),
    var("TELEGRAM_ESCALATE_AFTER_MINUTES", |b, n, v| {
        let deadlines = parse_list(n, v, |item| parse_deadline(n, item))?;
        Ok(b.interactive(|mut i| {
            for (levels, after) in deadlines {
                for level in levels {
                    i = i.escalate_after(*level, after);
                }
            }
            i
        }))
    }),
    var("TELEGRAM_ON_CALL", |b, n, v| {
        let people = parse_list(n, v, |person| {
            OnCall::parse(person).map_err(|expected| Error::invalid(n, person, expected))?;
            Ok(person.trim().to_owned())
        })?;
        Ok(b.interactive(|i| i.on_call(people)))
    }),
    var("TELEGRAM_ESCALATION_CHAT_ID", |b, n, v| {
        let chat = parse_chat_id(n, v)?;
        Ok(b.interactive(|i| i.escalate_to(Destination::chat(chat))))
    }),
];

/// The variable called `name`, if the table has it.
pub(crate) fn variable(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|variable| variable.name == name)
}

/// Applies every variable that is set to `builder`; the token and chat are
/// required unless `MONITORING_ENABLED` is false.
pub(crate) fn read(
    mut builder: Builder,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Builder, Error> {
    for variable in VARIABLES {
        let value = lookup(variable.name)
            .filter(|value| variable.empty_is_a_value || !value.trim().is_empty());
        if let Some(value) = value {
            builder = (variable.apply)(builder, variable.name, &value)?;
        }
    }
    if builder.enabled && builder.token.is_none() {
        return Err(Error::Missing {
            option: "TELEGRAM_BOT_TOKEN",
        });
    }
    if builder.enabled && builder.chat_id.is_none() {
        return Err(Error::Missing {
            option: "TELEGRAM_CHAT_ID",
        });
    }
    Ok(builder)
}

/// `TELEGRAM_REDIS_URL`, checked as `build` will check it, so that the
/// error names the variable.
fn apply_redis_url(builder: Builder, name: &'static str, url: &str) -> Result<Builder, Error> {
    fleet_config(name, url.trim(), "check", Duration::from_secs(1))?;
    Ok(builder.fleet(|f| f.redis_url(url.trim())))
}

/// `REDIS_URL`, unless `TELEGRAM_REDIS_URL` was set. It is often set for
/// the application's own cache (hosting platforms do): in a build without
/// the `redis` feature it is ignored, with a note, rather than refused.
fn apply_app_redis_url(
    mut builder: Builder,
    name: &'static str,
    url: &str,
) -> Result<Builder, Error> {
    if builder.fleet.url.is_some() {
        return Ok(builder);
    }
    if !fleet::AVAILABLE {
        builder.notes.push(
            "REDIS_URL is set but this build has the `redis` feature off: \
             deduplicating in this process's memory"
                .to_owned(),
        );
        return Ok(builder);
    }
    apply_redis_url(builder, name, url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ChatId;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Builder, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        read(Builder::default(), &|name: &str| vars.get(name).cloned())
    }

    const REQUIRED: [(&str, &str); 2] = [
        (
            "TELEGRAM_BOT_TOKEN",
            "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        ),
        ("TELEGRAM_CHAT_ID", "-1001234567890"),
    ];

    #[test]
    fn every_variable_is_applied() {
        let mut vars = REQUIRED.to_vec();
        vars.extend([
            ("TELEGRAM_THREAD_ID", "42"),
            ("TELEGRAM_API_URL", "http://127.0.0.1:8081/"),
            ("MONITORING_ENABLED", "yes"),
            ("MONITORING_ENV", "production"),
            ("MONITORING_SERVICE", "checkout"),
            ("MONITORING_IGNORED_PATHS", "/health, /auth,/payment"),
            ("ALERT_MAX_TRACEBACK_LINES", "5"),
            ("ALERT_CAPTURE_BACKTRACE", "on"),
            ("ALERT_RATE_LIMIT_MINUTES", "0"),
            ("ALERT_FOLD_AFTER_VARIANTS", "8"),
            ("ALERT_FOLD_WINDOW_SECONDS", "90"),
            ("ALERT_INCIDENT_AFTER_KINDS", "4"),
            ("ALERT_INCIDENT_WINDOW_SECONDS", "10"),
            ("BATCH_WINDOW_MINUTES", "30"),
            ("SLOW_REQUEST_THRESHOLD_SECONDS", "0.5"),
            ("SLOW_REQUESTS_BATCH_MINUTES", "5"),
            ("REDIS_URL", "rediss://user:pw@redis.internal:6380/0"),
            ("REDIS_KEY_PREFIX", "shop-prod"),
            ("TELEGRAM_INTERACTIVE", "true"),
            ("TELEGRAM_MUTE_MINUTES", "30, 240"),
            ("TELEGRAM_ALLOWED_USERS", "42,1001"),
            ("TELEGRAM_ESCALATE_AFTER_MINUTES", "30, critical=5"),
            ("TELEGRAM_ON_CALL", "@alice_ops, 4242"),
            ("TELEGRAM_ESCALATION_CHAT_ID", "-1009876543210"),
            (
                "TELEGRAM_ROUTE_TARGETS",
                "billing=-1001111/12, search=@search_alerts",
            ),
            ("TELEGRAM_ROUTE_FIELDS", "team:payments=-1002222"),
        ]);
        let b = from(&vars).unwrap();
        assert!(b.interactive.0.enabled);
        assert_eq!(
            b.interactive.0.mute_options,
            [Duration::from_secs(30 * 60), Duration::from_secs(4 * 3600)]
        );
        assert_eq!(b.interactive.0.allowed_users, [42, 1001]);
        let routes = &b.routes.0;
        assert_eq!(routes.targets.len(), 2);
        assert_eq!(routes.targets[0].0, "billing");
        assert_eq!(
            routes.targets[0].1,
            Destination::chat(-1001111_i64).in_thread(12)
        );
        assert_eq!(
            routes.targets[1].1,
            Destination::chat(ChatId::Username("@search_alerts".into()))
        );
        assert_eq!(routes.fields[0].0, "team");
        assert_eq!(routes.fields[0].1, "payments");
        let escalation = &b.interactive.0.escalation;
        assert_eq!(escalation.error, Some(Duration::from_secs(30 * 60)));
        assert_eq!(escalation.critical, Some(Duration::from_secs(5 * 60)));
        assert_eq!(escalation.on_call, ["@alice_ops", "4242"]);
        assert_eq!(
            escalation.to.as_ref().and_then(|d| d.chat_id.clone()),
            Some(ChatId::Id(-1009876543210))
        );
        assert!(b.enabled);
        assert_eq!(b.token.as_ref().unwrap().expose(), REQUIRED[0].1);
        assert_eq!(b.chat_id, Some(ChatId::Id(-1001234567890)));
        assert_eq!(b.thread_id, Some(42));
        assert_eq!(b.api_url, "http://127.0.0.1:8081");
        assert_eq!(b.identity.environment, "production");
        assert_eq!(b.identity.service, "checkout");
        assert_eq!(
            b.capture.skip.ignored_paths(),
            ["/health", "/auth", "/payment"]
        );
        assert_eq!(b.limits.render.max_traceback_lines, 5);
        assert!(b.capture.backtraces);
        assert_eq!(b.dedup.0.window, Duration::ZERO);
        assert_eq!(b.storms.fold.after, 8);
        assert_eq!(b.storms.fold.window, Duration::from_secs(90));
        assert_eq!(b.storms.incidents.after, 4);
        assert_eq!(b.storms.incidents.window, Duration::from_secs(10));
        assert_eq!(b.digest.config.window, Duration::from_secs(30 * 60));
        assert_eq!(b.slow.rules.threshold, Duration::from_millis(500));
        assert_eq!(b.slow.alert_once_per, Duration::from_secs(5 * 60));
        assert_eq!(
            b.fleet.url.as_deref(),
            Some("rediss://user:pw@redis.internal:6380/0")
        );
    }

    #[test]
    fn defaults_match_the_documented_table() {
        let b = from(&REQUIRED).unwrap();
        assert_eq!(b.api_url, "https://api.telegram.org");
        assert_eq!(b.identity.environment, "development");
        assert_eq!(b.capture.skip.ignored_paths(), ["/health", "/metrics"]);
        assert_eq!(b.limits.render.max_traceback_lines, 15);
        assert_eq!(b.dedup.0.window, Duration::from_secs(600));
        assert_eq!(b.storms.fold.after, 3);
        assert_eq!(b.storms.fold.window, Duration::from_secs(60));
        assert_eq!(b.storms.incidents.after, 2);
        assert_eq!(b.storms.incidents.window, Duration::from_secs(30));
        assert_eq!(b.digest.config.window, Duration::from_secs(900));
        assert_eq!(b.slow.rules.threshold, Duration::from_secs(3));
        assert_eq!(b.slow.alert_once_per, Duration::from_secs(900));
        assert_eq!(b.thread_id, None);
        assert_eq!(b.fleet.url, None);
    }

    #[test]
    fn channel_usernames_are_accepted() {
        let b = from(&[REQUIRED[0], ("TELEGRAM_CHAT_ID", "@ops_alerts")]).unwrap();
        assert_eq!(b.chat_id, Some(ChatId::Username("@ops_alerts".into())));
    }

    #[test]
    fn malformed_values_name_their_variable() {
        let cases = [
            ("TELEGRAM_CHAT_ID", "ops-chat"),
            ("TELEGRAM_THREAD_ID", "topic"),
            ("TELEGRAM_THREAD_ID", "-3"),
            ("TELEGRAM_API_URL", "api.telegram.org"),
            ("MONITORING_ENABLED", "maybe"),
            ("ALERT_CAPTURE_BACKTRACE", "sometimes"),
            ("MONITORING_IGNORED_PATHS", "/health,metrics"),
            ("ALERT_MAX_TRACEBACK_LINES", "-1"),
            ("ALERT_RATE_LIMIT_MINUTES", "ten"),
            ("BATCH_WINDOW_MINUTES", "0"),
            ("BATCH_WINDOW_MINUTES", "1.5"),
            ("SLOW_REQUEST_THRESHOLD_SECONDS", "0"),
            ("SLOW_REQUEST_THRESHOLD_SECONDS", "NaN"),
            ("SLOW_REQUESTS_BATCH_MINUTES", "soon"),
            ("REDIS_URL", "http://user:hunter2@redis:6379"),
        ];
        for (var, value) in cases {
            let mut vars = REQUIRED.to_vec();
            vars.push((var, value));
            let err = from(&vars).expect_err(var).to_string();
            assert!(err.contains(var), "{var}={value}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn required_variables_are_required_only_when_enabled() {
        let err = from(&[REQUIRED[1]]).unwrap_err().to_string();
        assert!(err.contains("TELEGRAM_BOT_TOKEN"), "{err}");
        let err = from(&[REQUIRED[0]]).unwrap_err().to_string();
        assert!(err.contains("TELEGRAM_CHAT_ID"), "{err}");
        let b = from(&[("MONITORING_ENABLED", "false")]).unwrap();
        assert!(!b.enabled);
    }

    #[test]
    fn a_malformed_token_is_rejected_without_echoing_it() {
        let vars = [("TELEGRAM_BOT_TOKEN", "hunter2-not-a-token"), REQUIRED[1]];
        let err = from(&vars)
            .unwrap()
            .build::<tracing_subscriber::Registry>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("bot_token"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn telegram_redis_url_wins_and_a_plain_redis_url_needs_the_feature() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = REQUIRED.to_vec();
            vars.extend_from_slice(extra);
            from(&vars)
        };
        let ours = "redis://fleet.internal:6379/2";
        let theirs = "redis://app-cache:6379/0";
        let both = with(&[("TELEGRAM_REDIS_URL", ours), ("REDIS_URL", theirs)]);
        let app_cache = with(&[("REDIS_URL", theirs)]).unwrap();
        if fleet::AVAILABLE {
            assert_eq!(both.unwrap().fleet.url.as_deref(), Some(ours));
            assert_eq!(app_cache.fleet.url.as_deref(), Some(theirs));
            assert!(app_cache.notes.is_empty());
        } else {
            let err = both.unwrap_err().to_string();
            assert!(err.contains("TELEGRAM_REDIS_URL"), "{err}");
            assert!(err.contains("`redis` feature"), "{err}");
            // The application's own cache: ignored, with a note.
            assert_eq!(app_cache.fleet.url, None);
            assert_eq!(app_cache.notes.len(), 1, "{:?}", app_cache.notes);
        }
    }
}
