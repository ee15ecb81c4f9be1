//! The crate's error type: what can go wrong while building a layer.

use std::fmt;

/// Why a layer could not be built.
///
/// Every variant names the option or environment variable at fault, so a
/// misconfigured deployment fails with a message that says what to fix. The
/// bot token is never part of an error: a bad token is reported as
/// `<redacted>`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A required option was not set (for example `bot_token` or
    /// `TELEGRAM_CHAT_ID`).
    Missing {
        /// The builder option or environment variable that is missing.
        option: &'static str,
    },
    /// An option or environment variable holds a value that cannot be used.
    Invalid {
        /// The builder option or environment variable at fault.
        option: &'static str,
        /// The offending value, already made safe to print (never a token).
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// The worker thread could not be spawned or its runtime not started.
    Worker(std::io::Error),
    /// The HTTP client could not be created (for example the TLS backend
    /// failed to initialise).
    HttpClient(String),
}

impl Error {
    /// Builds an [`Error::Invalid`], cutting an overlong value so that the
    /// message stays readable.
    pub(crate) fn invalid(option: &'static str, value: &str, expected: &'static str) -> Self {
        const MAX_SHOWN: usize = 80;
        let value = match value.char_indices().nth(MAX_SHOWN) {
            Some((cut, _)) => format!("{}…", &value[..cut]),
            None => value.to_owned(),
        };
        Error::Invalid {
            option,
            value,
            expected,
        }
    }

    /// An invalid token: the value itself is never kept.
    pub(crate) fn invalid_token(option: &'static str) -> Self {
        Error::Invalid {
            option,
            value: "<redacted>".to_owned(),
            expected: "a bot token of the form <digits>:<secret>",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Missing { option } => write!(f, "{option} is required but not set"),
            Error::Invalid {
                option,
                value,
                expected,
            } => write!(f, "invalid {option} {value:?}: expected {expected}"),
            Error::Worker(e) => write!(f, "could not start the tracing-telegram worker: {e}"),
            Error::HttpClient(e) => write!(f, "could not create the HTTP client: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Worker(e) => Some(e),
            _ => None,
        }
    }
}
