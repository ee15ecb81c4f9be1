//! Nothing secret reaches the chat: the credential corpus, ordinary text
//! that must survive, field-name rules, custom rules, `before_send`, and
//! skipping.

use crate::common;

use std::time::Duration;

use common::corpus::{corpus, leaks, Case};
use common::{assert_accounted, builder, run_with};
use regex::Regex;
use tracing::{error, info_span};
use tracing_telegram::testing::MockTelegram;
use tracing_telegram::{AlertLevel, Sanitizer};

#[test]
fn every_corpus_secret_is_gone_from_the_rendered_message() {
    let cases = corpus();
    let kinds: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.kind.as_str()).collect();
    assert!(
        cases.len() >= 100 && kinds.len() >= 25,
        "{} cases, {} kinds",
        cases.len(),
        kinds.len()
    );
    for emails in [false, true] {
        let mock = MockTelegram::start().unwrap();
        let (layer, guard) = builder(&mock)
            .sanitizer(|s| s.redact_emails(emails))
            .build()
            .unwrap();
        let selected: Vec<&Case> = cases.iter().filter(|c| c.emails == emails).collect();
        let stats = run_with(layer, guard, || {
            for case in &selected {
                // Once as the message, once as a field value.
                error!("{}", case.text);
                error!(detail = %case.text, "corpus case");
            }
        });
        let messages = mock.messages();
        assert_eq!(messages.len(), selected.len() * 2, "{stats:?}");
        for (i, case) in selected.iter().enumerate() {
            for message in &messages[2 * i..2 * i + 2] {
                let text = message.plain_text();
                if let Some(part) = leaks(&case.secret, &text) {
                    panic!("{} leaked {part:?} in:\n{text}", case.kind);
                }
            }
        }
        assert_accounted(&stats);
    }
}

#[test]
fn replacements_keep_context() {
    let sanitizer = Sanitizer::new();
    for (input, expected) in [
        (
            "connect postgres://billing:s3cr3t@db:5432/app",
            "connect postgres://billing:***@db:5432/app",
        ),
        (
            "login password=hunter2 user=bob",
            "login password=*** user=bob",
        ),
        (r#"{"password": "hunter2"}"#, r#"{"password": "***"}"#),
        (
            "charge card 4242 4242 4242 4242 declined",
            "charge card ****4242 declined",
        ),
        (
            "token ghp_0123456789abcdefghijABCDEFGHIJ012345 revoked",
            "token ghp_*** revoked",
        ),
        (
            "Authorization: Bearer abcdefghijklmnopqrstuvwxyz",
            "Authorization: Bearer ***",
        ),
        ("key AKIAIOSFODNN7EXAMPLE denied", "key AKIA*** denied"),
    ] {
        assert_eq!(sanitizer.sanitize(input), expected, "{input}");
    }
}

/// Prefixed service credentials are recognised by their format alone: a
/// generic rule (`token = …`) is not what catches them.
#[test]
fn prefixed_service_credentials_are_caught_on_their_own() {
    let sanitizer = Sanitizer::new();
    let bare: Vec<Case> = corpus().into_iter().filter(|c| c.bare).collect();
    assert!(bare.len() >= 50, "{} formats", bare.len());
    for case in bare {
        let clean = sanitizer.sanitize(&case.secret);
        // What is left is the format's prefix (kept as context), then the
        // marker; the prefix is the lesser part of the secret.
        let kept = clean.strip_suffix("***").unwrap_or_else(|| {
            panic!("{}: not redacted: {clean}", case.kind);
        });
        assert!(
            case.secret.starts_with(kept) && kept.len() * 2 < case.secret.len(),
            "{}: kept {kept:?} of {}",
            case.kind,
            case.secret
        );
    }
}

/// Look-alikes of the prefixed formats that must survive (one per line).
#[test]
fn look_alikes_of_service_credentials_survive() {
    let sanitizer = Sanitizer::new().redact_emails(false);
    let lines = include_str!("../corpus/not_secrets.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty());
    for line in lines {
        assert_eq!(sanitizer.sanitize(line), line, "changed: {line}");
    }
}

#[test]
fn ordinary_text_survives_unchanged() {
    let sanitizer = Sanitizer::new().redact_emails(false);
    for text in [
        "request 550e8400-e29b-41d4-a716-446655440000 failed",
        "order ORD-2024-000123 and order 1234567890123 not found",
        "at 2026-11-28T09:01:02Z (epoch 1795856462, 1795856462123 ms)",
        "commit da39a3ee5e6b4b0d3255bfef95601890afd80709 deployed",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "took 1234 ms (p95 850ms, timeout PT15M)",
        "listening on 127.0.0.1:6379 and [::1]:8080, upstream localhost:5432",
        "token bucket refilled; password reset page rendered",
        "api key rotation scheduled; session started for bob",
        "max_tokens=4096 token_count: 12 sort_key=created_at",
        "basic information about the bearer of bad news",
        "Authorization failed for user bob",
        "trace id 4bf92f3577b34da6a3ce929d0e0e4736, span 00f067aa0ba902b7",
        "phone +1 415 555 0100, zip 94103, card ending 4242",
        "https://example.com/path?query=1&page=2",
        "user jane.doe@example.com signed in",
    ] {
        assert_eq!(sanitizer.sanitize(text), text, "changed: {text}");
    }
}

/// A `HeaderMap` logged with `?headers`, as services do when a call fails:
/// every credential in it is redacted, cookies included (their values in the
/// map's Debug shape), while the harmless headers stay readable.
#[test]
fn a_logged_header_map_keeps_no_credential() {
    use axum::http::{HeaderMap, HeaderValue};
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = common::default_builder(&mock).build().unwrap();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set("cookie", "session=b712f1c9d8e7a6; theme=dark");
    set("set-cookie", "refresh=9f8e7d6c5b4a; HttpOnly");
    set(
        "authorization",
        "Bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl",
    );
    set("x-api-key", "k_live_83ba7c0d2e");
    set("user-agent", "billing-client/1.4");
    run_with(layer, guard, || {
        error!(?headers, "upstream rejected the request");
    });
    let text = mock.messages()[0].plain_text();
    for secret in [
        "b712f1c9d8e7a6",
        "theme=dark",
        "9f8e7d6c5b4a",
        "eyJzdWIiOiIx",
        "83ba7c0d2e",
    ] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains(r#""cookie": "***""#), "{text}");
    assert!(text.contains("billing-client/1.4"), "{text}");
}

#[test]
fn sensitive_field_names_are_redacted_whatever_the_value() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .sanitizer(|s| s.sensitive_fields(["ssn"]))
        .build()
        .unwrap();
    run_with(layer, guard, || {
        let _span = info_span!("login", user = "bob", session = "plain-looking-value").entered();
        error!(
            password = "hunter2",
            x_api_key = 1234567,
            customer_ssn = "078-05-1120",
            order_id = 77,
            "login failed"
        );
    });
    let text = mock.messages()[0].plain_text();
    for secret in ["hunter2", "1234567", "078-05-1120", "plain-looking-value"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("password: ***"), "{text}");
    assert!(text.contains("order_id: 77"), "{text}");
    assert!(text.contains("login{user=bob, session=***}"), "{text}");
}

#[test]
fn custom_rules_and_emails_are_applied() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .sanitizer(|s| s.redact(Regex::new(r"ACME-[0-9]{6}").unwrap()))
        .sanitizer(|s| s.redact_with(Regex::new(r"tenant-(\w+)").unwrap(), "tenant-[$1 hidden]"))
        .sanitizer(|s| s.redact_emails(true))
        .build()
        .unwrap();
    run_with(layer, guard, || {
        error!(
            contact = "jane.doe@example.com",
            "license ACME-123456 for tenant-globex invalid"
        );
    });
    let text = mock.messages()[0].plain_text();
    assert!(
        text.contains("license *** for tenant-[globex hidden] invalid"),
        "{text}"
    );
    assert!(text.contains("contact: j***@example.com"), "{text}");
}

#[test]
fn before_send_can_edit_or_drop_alerts() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .hooks(|h| {
            h.before_send(|alert| {
                if alert.text().is_some_and(|m| m.contains("noisy")) {
                    return false;
                }
                alert.set_level(AlertLevel::Critical);
                alert.details_mut().retain(|(key, _)| key != "internal");
                alert.details_mut().push(("team".into(), "payments".into()));
                true
            })
        })
        .build()
        .unwrap();
    let stats = run_with(layer, guard, || {
        error!("noisy retry");
        error!(internal = "x", order_id = 7, "payment failed");
    });
    let messages = mock.messages();
    assert_eq!(messages.len(), 1);
    let text = messages[0].plain_text();
    assert!(text.starts_with("🚨 CRITICAL"), "{text}");
    assert!(text.contains("order_id: 7\n• team: payments"), "{text}");
    assert!(!text.contains("internal"), "{text}");
    assert_eq!(
        (stats.sent, stats.dropped, stats.filtered),
        (1, 1, 1),
        "{stats:?}"
    );
    assert_accounted(&stats);
    assert!(
        !text.contains("dropped"),
        "a filtered alert is not a queue drop"
    );
}

#[test]
fn a_skipped_span_hides_its_errors_children_and_fields() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock).build().unwrap();
    let stats = run_with(layer, guard, || {
        let outer = info_span!("request", path = "/orders");
        let _outer = outer.enter();
        info_span!("charge_card", telegram.skip = true, card = "4242").in_scope(|| {
            error!("card declined");
            info_span!("call_gateway", api_key = "k").in_scope(|| error!("gateway timeout"));
        });
        error!("order failed");
    });
    let messages = mock.messages();
    assert_eq!(messages.len(), 1);
    let text = messages[0].plain_text();
    assert!(text.contains("order failed"), "{text}");
    assert!(
        !text.contains("charge_card") && !text.contains("4242"),
        "{text}"
    );
    assert_eq!(stats.accepted, 1);
}

#[test]
fn skip_targets_hide_events_and_spans_of_those_modules() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .capture(|c| c.skip_targets(["billing::vault"]))
        .build()
        .unwrap();
    run_with(layer, guard, || {
        error!(target: "billing::vault", "vault unsealed with key");
        error!(target: "billing::vault::kms", "kms said no");
        info_span!(target: "billing::vault", "unseal").in_scope(|| {
            error!(target: "billing::api", "inside a skipped span");
        });
        error!(target: "billing::vaults", "a different module");
    });
    let messages = mock.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].plain_text().contains("a different module"));
}

#[tokio::test(flavor = "current_thread")]
async fn ignored_paths_skip_tower_http_request_spans() {
    use axum::routing::get;
    use tower::ServiceExt;
    use tower_http::trace::TraceLayer;
    use tracing_subscriber::prelude::*;

    async fn failing() -> &'static str {
        error!("handler failed");
        "ok"
    }

    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .capture(|c| c.ignored_paths(["/health", "/internal/"]))
        .build()
        .unwrap();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let app = axum::Router::new()
        .route("/health/live", get(failing))
        .route("/internal/debug", get(failing))
        .route("/orders/77", get(failing))
        .layer(TraceLayer::new_for_http());
    for path in ["/health/live", "/internal/debug", "/orders/77"] {
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert!(response.status().is_success());
    }
    let stats = guard.shutdown(Duration::from_secs(5));
    let messages = mock.messages();
    assert_eq!(messages.len(), 1, "{stats:?}");
    let text = messages[0].plain_text();
    assert!(text.contains("handler failed"), "{text}");
    assert!(text.contains("uri=/orders/77"), "{text}");
}

#[test]
fn max_traceback_lines_zero_removes_span_fields_entirely() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .limits(|l| l.traceback_lines(0))
        .build()
        .unwrap();
    run_with(layer, guard, || {
        info_span!("checkout", customer = "alice").in_scope(|| error!("failed"));
    });
    let text = mock.messages()[0].plain_text();
    assert!(
        !text.contains("alice") && !text.contains("checkout"),
        "{text}"
    );
}

#[test]
fn field_values_and_field_counts_are_limited() {
    let mock = MockTelegram::start().unwrap();
    let (layer, guard) = builder(&mock)
        .limits(|l| l.field_len(10))
        .limits(|l| l.fields(2))
        .build()
        .unwrap();
    run_with(layer, guard, || {
        error!(a = "0123456789abcdef", b = 2, c = 3, d = 4, "limited");
    });
    let text = mock.messages()[0].plain_text();
    assert!(text.contains("a: 012345678…"), "{text}");
    assert!(text.contains("b: 2\n… and 2 more fields"), "{text}");
    assert!(!text.contains("c: 3"), "{text}");
}
