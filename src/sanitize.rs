//! Redaction of secrets before anything is rendered.
//!
//! Every record passes through [`Sanitizer::sanitize_record`] before it is
//! rendered, and every error text kept in [`Stats`](crate::Stats) through
//! [`Sanitizer::scrub`]. Today the only rule is the crate's own secret: the
//! configured bot token (whole, or its secret half) is replaced wherever it
//! appears. The general credential rules of `SECRETS.md` plug in here.

use std::borrow::Cow;
use std::sync::Arc;

use crate::record::{FieldValue, Record};

/// What a redacted bot token is replaced with.
pub(crate) const REDACTED_TOKEN: &str = "[redacted bot token]";

/// Removes known secrets from record text.
#[derive(Debug, Clone)]
pub(crate) struct Sanitizer {
    /// Exact strings that must never leave the process, longest first.
    known_secrets: Vec<String>,
}

impl Sanitizer {
    /// A sanitizer that removes `token` and its secret half.
    pub(crate) fn new(token: &str) -> Self {
        let mut known_secrets = vec![token.to_owned()];
        if let Some((_, secret)) = token.split_once(':') {
            if !secret.is_empty() {
                known_secrets.push(secret.to_owned());
            }
        }
        Sanitizer { known_secrets }
    }

    /// `text` with every known secret replaced.
    pub(crate) fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for secret in &self.known_secrets {
            if text.contains(secret.as_str()) {
                text = Cow::Owned(text.replace(secret.as_str(), REDACTED_TOKEN));
            }
        }
        text
    }

    /// Sanitizes every text of a record in place: title, message, field
    /// values, error chains and span fields.
    pub(crate) fn sanitize_record(&self, record: &mut Record) {
        if let Some(title) = &mut record.title {
            self.scrub_in_place(title);
        }
        self.scrub_in_place(&mut record.message);
        for (_, value) in &mut record.fields {
            self.scrub_value(value);
        }
        for span in &mut record.spans {
            let Some(fields) = &mut span.fields else {
                continue;
            };
            let dirty = fields
                .iter()
                .any(|(_, value)| self.value_needs_scrub(value));
            if dirty {
                // Copy-on-write: the span's own copy stays with the span.
                for (_, value) in Arc::make_mut(fields) {
                    self.scrub_value(value);
                }
            }
        }
    }

    fn scrub_in_place(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.scrub(text) {
            *text = clean;
        }
    }

    fn scrub_value(&self, value: &mut FieldValue) {
        match value {
            FieldValue::Str(text) | FieldValue::Text(text) => self.scrub_in_place(text),
            FieldValue::Error { message, sources } => {
                self.scrub_in_place(message);
                for source in sources {
                    self.scrub_in_place(source);
                }
            }
            _ => {}
        }
    }

    fn value_needs_scrub(&self, value: &FieldValue) -> bool {
        let dirty = |text: &str| matches!(self.scrub(text), Cow::Owned(_));
        match value {
            FieldValue::Str(text) | FieldValue::Text(text) => dirty(text),
            FieldValue::Error { message, sources } => {
                dirty(message) || sources.iter().any(|source| dirty(source))
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_the_token_and_its_secret_half() {
        let sanitizer = Sanitizer::new("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
        let text = "GET /bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage \
                    secret=AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
        let clean = sanitizer.scrub(text);
        assert!(!clean.contains("AAHdqTcv"), "{clean}");
        assert_eq!(clean.matches(REDACTED_TOKEN).count(), 2);
        assert!(matches!(sanitizer.scrub("nothing here"), Cow::Borrowed(_)));
    }
}
