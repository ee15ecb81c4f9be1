//! Redaction of secrets before anything is rendered.
//!
//! Every record passes through [`Sanitizer::sanitize_record`] in the worker
//! before it is rendered: message, title, field values, error chains and span
//! fields. Error texts kept in [`Stats`](crate::Stats), and every line the reporter
//! prints on stderr, go through
//! [`Sanitizer::sanitize`] too.
//!
//! Three kinds of rules run, in this order:
//! 1. exact known secrets (the configured bot token);
//! 2. the built-in credential patterns (the prefixed tokens of widely used
//!    services in [`services`], then the `BUILT_IN` table below; see the
//!    table in `SECURITY.md`), plus the user's own [`Sanitizer::redact`] rules;
//! 3. field-name rules: a field whose name looks sensitive (`password`,
//!    `api_key`, `x-api-key`, `session`, …) has its value replaced whatever
//!    it looks like.
//!
//! The patterns are compiled once for the process, and one `RegexSet` pass
//! decides which of them can match at all, so text without secrets costs a
//! single scan. Replacements keep context: `postgres://billing:***@db:5432`,
//! `password=***`, `card ****4242`, `ghp_***`.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, LazyLock};

use regex::{Captures, Regex, RegexSet};

use crate::record::{FieldValue, Record};

mod services;

/// What a redacted configured bot token is replaced with.
pub(crate) const REDACTED_TOKEN: &str = "[redacted bot token]";

/// What a redacted value is replaced with.
pub const REDACTED: &str = "***";

/// Field names (normalised: lower case, without `_`, `-`, `.`) whose values
/// are always redacted; a name that *ends* with one of them counts too
/// (`db_password`, `x-api-key`, `user.session`).
const SENSITIVE_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "setcookie",
    "session",
    "creditcard",
    "cardnumber",
    "cvv",
    "cvc",
    "privatekey",
    "clientsecret",
    "accesskey",
    "secretkey",
];

/// Builds the replacement for one match of a rule.
type Replace = fn(&Captures<'_>) -> String;

/// A built-in redaction rule.
struct BuiltIn {
    /// What it catches, for documentation and tests.
    name: &'static str,
    pattern: &'static str,
    replace: Replace,
}

/// The built-in rules, most specific first (an earlier rule's replacement
/// never matches a later rule's pattern).
const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        name: "private key block",
        pattern: r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
        replace: |_| "-----BEGIN PRIVATE KEY-----***-----END PRIVATE KEY-----".to_owned(),
    },
    BuiltIn {
        name: "URL credentials",
        pattern: r"(?i)((?-u:\b)[a-z][a-z0-9+.-]{1,20}://)([^\s/:@]*):([^\s/@]+)@",
        replace: |c| format!("{}{}:{REDACTED}@", &c[1], &c[2]),
    },
    BuiltIn {
        name: "Telegram bot token",
        pattern: r"([0-9]{5,16}):[A-Za-z0-9_-]{35}(?-u:\b)",
        replace: |c| format!("{}:{REDACTED}", &c[1]),
    },
    BuiltIn {
        name: "AWS access key id",
        pattern: r"(?-u:\b)(A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?-u:\b)",
        replace: |c| format!("{}{REDACTED}", &c[1]),
    },
    BuiltIn {
        name: "GitHub token",
        pattern: r"(?-u:\b)(gh[pousr]_)[A-Za-z0-9]{36}(?-u:\b)",
        replace: |c| format!("{}{REDACTED}", &c[1]),
    },
    BuiltIn {
        name: "GitHub fine-grained token",
        pattern: r"(?-u:\b)github_pat_[A-Za-z0-9_]{82}(?-u:\b)",
        replace: |_| format!("github_pat_{REDACTED}"),
    },
    BuiltIn {
        name: "GitLab token",
        pattern: r"(?-u:\b)glpat-[A-Za-z0-9_-]{20}(?-u:\b)",
        replace: |_| format!("glpat-{REDACTED}"),
    },
    BuiltIn {
        name: "Slack token",
        pattern: r"(?-u:\b)(xox[baprse]-)[A-Za-z0-9-]{10,}",
        replace: |c| format!("{}{REDACTED}", &c[1]),
    },
    BuiltIn {
        name: "Slack webhook",
        pattern: r"hooks\.slack\.com/services/[A-Za-z0-9/_-]+",
        replace: |_| format!("hooks.slack.com/services/{REDACTED}"),
    },
    BuiltIn {
        name: "Stripe key",
        pattern: r"(?-u:\b)([sr]k_(?:live|test|prod)_)[A-Za-z0-9]{10,99}(?-u:\b)",
        replace: |c| format!("{}{REDACTED}", &c[1]),
    },
    BuiltIn {
        name: "Google API key",
        pattern: r"(?-u:\b)AIza[A-Za-z0-9_-]{35}",
        replace: |_| format!("AIza{REDACTED}"),
    },
    BuiltIn {
        name: "OpenAI / Anthropic key",
        pattern: r"(?-u:\b)(sk-(?:ant-|proj-|svcacct-)?)[A-Za-z0-9_-]{20,}",
        replace: |c| format!("{}{REDACTED}", &c[1]),
    },
    BuiltIn {
        name: "JWT",
        pattern: r"(?-u:\b)eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
        replace: |_| format!("eyJ{REDACTED}"),
    },
    BuiltIn {
        name: "Authorization header",
        pattern: r#"(?i)((?-u:\b)(?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(bearer|basic|digest|token|bot)\s+)?[^\s"',;]+"#,
        replace: |c| match c.get(2) {
            Some(scheme) => format!("{}{} {REDACTED}", &c[1], scheme.as_str()),
            None => format!("{}{REDACTED}", &c[1]),
        },
    },
    BuiltIn {
        name: "bearer token",
        pattern: r"(?i)((?-u:\b)bearer\s+)[A-Za-z0-9._~+/=-]{16,}",
        replace: |c| format!("{}{REDACTED}", &c[1]),
    },
    BuiltIn {
        // `Cookie: a=b; c=d` as a header line, and `"cookie": "a=b; c=d"`
        // as a `HeaderMap` (or any map) prints it with `{:?}`.
        name: "cookie header",
        pattern: r#"(?im)((?-u:\b)(?:set-)?cookie["']?\s*:\s*)(?:"[^"]*"|'[^']*'|[^\r\n]+)"#,
        replace: redact_value,
    },
    BuiltIn {
        name: "key = value secret",
        pattern: r#"(?i)((?-u:\b)[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|credentials?|(?:api|access|secret|private|auth|encryption|signing|master)[_-]?key)["']?\s*(?:=>|=|:)\s*(?:Some\()?)(?:"[^"]*"|'[^']*'|[^\s"',;&)}\]]+)"#,
        replace: redact_value,
    },
    BuiltIn {
        name: "payment card number (Luhn-valid)",
        pattern: r"(?-u:\b)[2-6](?:[ -]?[0-9]){12,18}(?-u:\b)",
        replace: |c| {
            let digits: Vec<u32> = c[0].chars().filter_map(|ch| ch.to_digit(10)).collect();
            if luhn_valid(&digits) {
                let last4: String = digits[digits.len() - 4..]
                    .iter()
                    .filter_map(|d| char::from_digit(*d, 10))
                    .collect();
                format!("****{last4}")
            } else {
                c[0].to_owned()
            }
        },
    },
];

/// A value after its name (group 1) redacted, its quotes kept.
fn redact_value(c: &regex::Captures<'_>) -> String {
    let value_start = c[1].len();
    match c[0][value_start..].chars().next() {
        Some(q @ ('"' | '\'')) => format!("{}{q}{REDACTED}{q}", &c[1]),
        _ => format!("{}{REDACTED}", &c[1]),
    }
}

/// The e-mail rule, off unless [`Sanitizer::redact_emails`] is set.
const EMAIL: BuiltIn = BuiltIn {
    name: "e-mail address",
    pattern: r"(?-u:\b)([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?-u:\b)",
    replace: |c| format!("{}{REDACTED}@{}", &c[1], &c[2]),
};

/// The compiled built-in rules and their pre-filter (the e-mail rule last).
struct Compiled {
    rules: Vec<(Regex, Replace)>,
    set: RegexSet,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    // The services' prefixed tokens first: the generic rules after them
    // (`key = value`, bearer tokens) would keep less context.
    let all: Vec<&BuiltIn> = services::SERVICES
        .iter()
        .chain(BUILT_IN)
        .chain(std::iter::once(&EMAIL))
        .collect();
    // The patterns are constants covered by this module's tests: compiling
    // them cannot fail at run time.
    let rules = all
        .iter()
        .map(|rule| {
            (
                Regex::new(rule.pattern).expect("built-in rule compiles"),
                rule.replace,
            )
        })
        .collect();
    let set = RegexSet::new(all.iter().map(|rule| rule.pattern)).expect("built-in rules compile");
    Compiled { rules, set }
});

fn luhn_valid(digits: &[u32]) -> bool {
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if !i.is_multiple_of(2) {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A user-supplied rule.
#[derive(Clone)]
struct CustomRule {
    pattern: Regex,
    replacement: String,
}

/// Redacts secrets from text (see the module docs for the rules).
///
/// The layer uses one internally, configured through the builder's
/// `redact*` and `sensitive_fields` options; it is public so that your own
/// tests can check what would reach the chat.
///
/// ```
/// use tracing_telegram::Sanitizer;
///
/// let sanitizer = Sanitizer::new();
/// assert_eq!(
///     sanitizer.sanitize("connect postgres://billing:s3cr3t@db:5432/app failed"),
///     "connect postgres://billing:***@db:5432/app failed"
/// );
/// assert_eq!(sanitizer.sanitize("token bucket refilled"), "token bucket refilled");
/// assert!(sanitizer.is_sensitive_field("X-Api-Key"));
/// ```
#[derive(Clone, Default)]
pub struct Sanitizer {
    /// Exact strings that must never leave the process (the bot token).
    known_secrets: Vec<String>,
    custom: Vec<CustomRule>,
    emails: bool,
    extra_sensitive_names: Vec<String>,
}

impl fmt::Debug for Sanitizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sanitizer")
            .field("known_secrets", &self.known_secrets.len())
            .field(
                "custom_rules",
                &self
                    .custom
                    .iter()
                    .map(|r| r.pattern.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("emails", &self.emails)
            .field("extra_sensitive_names", &self.extra_sensitive_names)
            .finish()
    }
}

impl Sanitizer {
    /// The built-in rules, e-mail redaction off.
    pub fn new() -> Self {
        Sanitizer::default()
    }

    /// The names of the built-in rules, in the order they run (the e-mail
    /// rule, when on, runs last).
    pub fn built_in_rules() -> impl Iterator<Item = &'static str> {
        services::SERVICES
            .iter()
            .chain(BUILT_IN)
            .map(|rule| rule.name)
    }

    /// Also replaces every match of `pattern` with `***`.
    pub fn redact(self, pattern: Regex) -> Self {
        self.redact_with(pattern, REDACTED)
    }

    /// Also replaces every match of `pattern` with `replacement`, which may
    /// refer to capture groups (`$1`, `${name}`) as in
    /// [`Regex::replace_all`].
    pub fn redact_with(mut self, pattern: Regex, replacement: impl Into<String>) -> Self {
        self.custom.push(CustomRule {
            pattern,
            replacement: replacement.into(),
        });
        self
    }

    /// Redacts e-mail addresses (`j***@example.com`). Off by default.
    pub fn redact_emails(mut self, on: bool) -> Self {
        self.emails = on;
        self
    }

    /// Treats fields named `name` (case, `_`, `-` and `.` ignored) as
    /// sensitive, in addition to the built-in list.
    pub fn sensitive_field(mut self, name: &str) -> Self {
        self.extra_sensitive_names.push(normalize_name(name));
        self
    }

    /// [`sensitive_field`](Self::sensitive_field) for each of `names`.
    pub fn sensitive_fields<I, N>(self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        names.into_iter().fold(self, |sanitizer, name| {
            sanitizer.sensitive_field(name.as_ref())
        })
    }

    /// Removes `secret` wherever it appears, whatever it looks like.
    fn known_secret(mut self, secret: &str) -> Self {
        if secret.len() >= 8 {
            self.known_secrets.push(secret.to_owned());
        }
        self
    }

    /// Adds the bot token (and its secret half) as known secrets.
    pub(crate) fn with_token(self, token: &str) -> Self {
        let secret_half = token.split_once(':').map_or("", |(_, secret)| secret);
        self.known_secret(token).known_secret(secret_half)
    }

    /// Whether a field of this name has its value redacted.
    pub fn is_sensitive_field(&self, name: &str) -> bool {
        // Runs for every field of every record: compare in place, no allocation.
        SENSITIVE_NAMES
            .iter()
            .any(|s| ends_with_normalized(name, s))
            || self
                .extra_sensitive_names
                .iter()
                .any(|s| ends_with_normalized(name, s))
    }

    /// `text` with every secret the rules know replaced.
    ///
    /// Sanitizing its own output changes nothing. One rule's replacement can
    /// expose another rule's pattern (a card number inside a URL password:
    /// `u:****4242@`), so the rules run again on changed text until nothing
    /// changes (in practice one extra pass, bounded at four).
    pub fn sanitize<'a>(&self, text: &'a str) -> Cow<'a, str> {
        const MAX_PASSES: usize = 4;
        let mut text = match self.pass(text) {
            Cow::Borrowed(unchanged) => return Cow::Borrowed(unchanged),
            Cow::Owned(changed) => changed,
        };
        for _ in 1..MAX_PASSES {
            match self.pass(&text) {
                Cow::Borrowed(_) => break,
                Cow::Owned(changed) => text = changed,
            }
        }
        Cow::Owned(text)
    }

    /// One application of every rule.
    fn pass<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for secret in &self.known_secrets {
            if text.contains(secret.as_str()) {
                text = Cow::Owned(text.replace(secret.as_str(), REDACTED_TOKEN));
            }
        }
        let compiled = &*COMPILED;
        let email_rule = compiled.rules.len() - 1;
        let matches = compiled.set.matches(&text);
        if matches.matched_any() {
            for index in matches.iter() {
                if index == email_rule && !self.emails {
                    continue;
                }
                let (regex, replace) = &compiled.rules[index];
                let replaced = regex.replace_all(&text, |c: &Captures<'_>| replace(c));
                // The card rule may "replace" a match with itself (Luhn-invalid).
                if let Cow::Owned(replaced) = replaced {
                    if replaced != *text {
                        text = Cow::Owned(replaced);
                    }
                }
            }
        }
        for rule in &self.custom {
            if let Cow::Owned(replaced) = rule.pattern.replace_all(&text, rule.replacement.as_str())
            {
                if replaced != *text {
                    text = Cow::Owned(replaced);
                }
            }
        }
        text
    }

    /// Sanitizes every text of a record in place: title, message, field
    /// values (sensitive names redacted whole), error chains and span fields.
    pub(crate) fn sanitize_record(&self, record: &mut Record) {
        if let Some(title) = &mut record.title {
            self.sanitize_in_place(title);
        }
        // Inline (short) text is only replaced, by a `String`, if it changes.
        if let Cow::Owned(clean) = self.sanitize(&record.message) {
            record.message = clean.into();
        }
        for (name, value) in &mut record.fields {
            self.sanitize_field(name, value);
        }
        for frame in &mut record.frames {
            self.sanitize_in_place(frame);
        }
        for span in record.spans.iter_mut() {
            let Some(fields) = &mut span.fields else {
                continue;
            };
            // Copy-on-write: the span's own copy stays untouched.
            let mut copy = (**fields).clone();
            let mut changed = false;
            for (name, value) in &mut copy {
                let before = value.clone();
                self.sanitize_field(name, value);
                changed |= *value != before;
            }
            if changed {
                *fields = Arc::new(copy);
            }
        }
    }

    fn sanitize_field(&self, name: &str, value: &mut FieldValue) {
        if self.is_sensitive_field(name) {
            *value = FieldValue::Str(REDACTED.to_owned());
            return;
        }
        match value {
            FieldValue::Str(text) | FieldValue::Text(text) => self.sanitize_in_place(text),
            FieldValue::Short(short) => {
                if let Cow::Owned(clean) = self.sanitize(short.as_str()) {
                    *value = FieldValue::Str(clean);
                }
            }
            FieldValue::Error { message, sources } => {
                self.sanitize_in_place(message);
                for source in sources {
                    self.sanitize_in_place(source);
                }
            }
            _ => {}
        }
    }

    fn sanitize_in_place(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.sanitize(text) {
            *text = clean;
        }
    }
}

/// Whether `name`, normalised (see [`normalize_name`]), ends with `suffix`
/// (already normalised, ASCII).
fn ends_with_normalized(name: &str, suffix: &str) -> bool {
    let mut tail = name
        .chars()
        .rev()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .map(|c| c.to_ascii_lowercase());
    suffix
        .chars()
        .rev()
        .all(|expected| tail.next() == Some(expected))
}

/// Lower case without `_`, `-`, `.` and spaces.
fn normalize_name(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_rules_compile_and_are_documented_in_order() {
        let built_in = services::SERVICES.len() + BUILT_IN.len();
        assert_eq!(COMPILED.rules.len(), built_in + 1);
        assert_eq!(Sanitizer::built_in_rules().count(), built_in);
        assert_eq!(EMAIL.name, "e-mail address");
    }

    #[test]
    fn short_inline_values_are_sanitized_like_strings() {
        use crate::text::ShortText;
        let sanitizer = Sanitizer::new();
        let short = |text: &str| FieldValue::Short(ShortText::new(text).unwrap());
        let mut card = short("card 4242424242424242");
        sanitizer.sanitize_field("note", &mut card);
        assert_eq!(card.to_string(), "card ****4242");
        let mut clean = short("GET /orders/77");
        sanitizer.sanitize_field("note", &mut clean);
        assert_eq!(clean, short("GET /orders/77"), "clean text stays inline");
        let mut named = short("hunter2");
        sanitizer.sanitize_field("password", &mut named);
        assert_eq!(named.to_string(), REDACTED);
    }

    #[test]
    fn removes_the_token_and_its_secret_half() {
        let sanitizer = Sanitizer::new().with_token("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
        let text = "GET /bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage \
                    secret half AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
        let clean = sanitizer.sanitize(text);
        assert!(!clean.contains("AAHdqTcv"), "{clean}");
        assert_eq!(clean.matches(REDACTED_TOKEN).count(), 2);
        assert!(matches!(
            sanitizer.sanitize("nothing here"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn luhn() {
        let digits = |s: &str| s.chars().filter_map(|c| c.to_digit(10)).collect::<Vec<_>>();
        assert!(luhn_valid(&digits("4242 4242 4242 4242")));
        assert!(luhn_valid(&digits("378282246310005")));
        assert!(!luhn_valid(&digits("4242 4242 4242 4241")));
        assert!(!luhn_valid(&digits("4242")));
    }

    #[test]
    fn sensitive_names_ignore_case_and_separators() {
        let sanitizer = Sanitizer::new().sensitive_field("ssn");
        for name in [
            "password",
            "DB_PASSWORD",
            "x-api-key",
            "user.session",
            "Set-Cookie",
            "client_secret",
            "customer_ssn",
        ] {
            assert!(sanitizer.is_sensitive_field(name), "{name}");
        }
        for name in ["user", "max_tokens", "session_id", "path", "order_id"] {
            assert!(!sanitizer.is_sensitive_field(name), "{name}");
        }
    }
}
