//! The Bot API client: `sendMessage` and `getMe`, and the classification of
//! what Telegram answers.
//!
//! The token is a path segment of every request URL, so no URL ever leaves
//! this module: transport errors are stripped with `without_url()` and the
//! client's `Debug` shows only the base URL.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::interact::actions::Keyboard;
use crate::interact::updates::Update;

use crate::chat::{BotToken, ChatId};

use super::DeliveryConfig;
use crate::error::Error;

/// The largest answer read: Bot API answers to the methods used here are a
/// few hundred bytes (`getUpdates`, ten presses, a few kilobytes).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// A client for one bot.
pub(crate) struct BotClient {
    http: reqwest::Client,
    /// Bounds every request, whoever built the client.
    request_timeout: Duration,
    /// `{api_url}/bot{token}/`: secret, never printed.
    method_base: String,
    api_url: String,
}

impl fmt::Debug for BotClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BotClient")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// The `sendMessage` request body.
#[derive(Debug, Serialize)]
pub(crate) struct SendMessage<'a> {
    pub(crate) chat_id: &'a ChatId,
    pub(crate) text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) parse_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message_thread_id: Option<i64>,
    pub(crate) disable_notification: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) protect_content: bool,
    pub(crate) link_preview_options: LinkPreviewOptions,
    /// The buttons of an interactive alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reply_markup: Option<&'a Keyboard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reply_parameters: Option<ReplyParameters>,
}

/// A reply to an earlier message of the same chat; sent as a plain message
/// if that one was deleted meanwhile (a reply is context, not a condition).
#[derive(Debug, Serialize)]
pub(crate) struct ReplyParameters {
    pub(crate) message_id: i64,
    pub(crate) allow_sending_without_reply: bool,
}

impl ReplyParameters {
    pub(crate) fn to(message_id: Option<i64>) -> Option<Self> {
        message_id.map(|message_id| ReplyParameters {
            message_id,
            allow_sending_without_reply: true,
        })
    }
}

/// A `sendDocument` request: a text file, in reply to a message.
#[derive(Debug)]
pub(crate) struct SendDocument<'a> {
    pub(crate) chat_id: &'a ChatId,
    pub(crate) message_thread_id: Option<i64>,
    pub(crate) reply_to: Option<i64>,
    pub(crate) caption: &'a str,
    pub(crate) file_name: &'a str,
    pub(crate) content: &'a str,
}

impl SendDocument<'_> {
    /// The request as `multipart/form-data`: its content type (with the
    /// boundary) and body. The boundary is one no report contains.
    fn multipart(&self) -> (String, Vec<u8>) {
        let mut boundary = String::from("tracing-telegram-report");
        while self.content.contains(&boundary) || self.caption.contains(&boundary) {
            boundary.push('x');
        }
        let mut body = Vec::new();
        let mut part = |name: &str, value: &str| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        };
        part("chat_id", &self.chat_id.to_string());
        if let Some(thread) = self.message_thread_id {
            part("message_thread_id", &thread.to_string());
        }
        if let Some(message_id) = self.reply_to {
            let reply = serde_json::json!({
                "message_id": message_id,
                "allow_sending_without_reply": true,
            });
            part("reply_parameters", &reply.to_string());
        }
        part("caption", self.caption);
        part("disable_notification", "true");
        let file_name: String = self
            .file_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"{file_name}\"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(self.content.as_bytes());
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }
}

/// The `editMessageText` request body.
#[derive(Debug, Serialize)]
pub(crate) struct EditMessageText<'a> {
    pub(crate) chat_id: &'a ChatId,
    pub(crate) message_id: i64,
    pub(crate) text: &'a str,
    pub(crate) parse_mode: &'static str,
    pub(crate) link_preview_options: LinkPreviewOptions,
    /// The buttons after the edit (an edit without them removes them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reply_markup: Option<&'a Keyboard>,
}

/// Most presses one `getUpdates` call returns.
const MAX_UPDATES_PER_POLL: u32 = 10;

/// Link previews are always off: alert text is not an invitation to fetch URLs.
#[derive(Debug, Serialize)]
pub(crate) struct LinkPreviewOptions {
    pub(crate) is_disabled: bool,
}

/// What Telegram answers to every method.
#[derive(Debug, Deserialize)]
struct ApiResponse<T> {
    ok: bool,
    result: Option<T>,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<ResponseParameters>,
}

#[derive(Debug, Deserialize)]
struct ResponseParameters {
    retry_after: Option<u64>,
    migrate_to_chat_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct SentMessageResult {
    message_id: i64,
}

/// The identity `getMe` returns.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BotIdentity {
    pub(crate) id: i64,
    pub(crate) username: Option<String>,
}

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    /// The request never got an answer: connect error, timeout, broken body.
    Transport(String),
    /// What came back was not a Bot API answer (a proxy's error page,
    /// `ok: false` without an error code, a body over the size cap): a
    /// glitch on the way, retried like a network error.
    NotBotApi(String),
    /// Telegram answered `ok: false`.
    Rejected {
        code: u16,
        description: String,
        retry_after: Option<Duration>,
        migrate_to: Option<i64>,
    },
}

/// What a failed request means for the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// 429: wait this long (if Telegram said), then resend.
    RateLimited(Option<Duration>),
    /// Network error, timeout or 5xx: retry with backoff.
    Transient,
    /// 400 "can't parse entities": resend as plain text.
    Markup,
    /// 400 with `migrate_to_chat_id`: the group became this supergroup.
    Migrated(i64),
    /// 401: the token is invalid or revoked; nothing can be sent.
    Unauthorized,
    /// 403, or "chat not found": nothing can be sent to this chat.
    ChatUnavailable,
    /// Any other rejection: this message cannot be sent.
    Permanent,
}

impl Failure {
    /// Whether the same request may succeed later.
    pub(crate) fn is_retryable(self) -> bool {
        matches!(self, Failure::Transient | Failure::RateLimited(_))
    }
}

impl ApiError {
    /// Editing to the same text: Telegram calls it an error, it is a success.
    pub(crate) fn is_not_modified(&self) -> bool {
        matches!(self, ApiError::Rejected { code: 400, description, .. }
            if description.contains("message is not modified"))
    }

    /// Classifies the error (see [`Failure`]).
    pub(crate) fn classify(&self) -> Failure {
        let ApiError::Rejected {
            code,
            description,
            retry_after,
            migrate_to,
        } = self
        else {
            return Failure::Transient;
        };
        if let (400, Some(new_id)) = (code, migrate_to) {
            return Failure::Migrated(*new_id);
        }
        match code {
            429 => Failure::RateLimited(*retry_after),
            401 => Failure::Unauthorized,
            403 => Failure::ChatUnavailable,
            500..=599 => Failure::Transient,
            400 if description.contains("can't parse entities") => Failure::Markup,
            400 if description.contains("chat not found") => Failure::ChatUnavailable,
            _ => Failure::Permanent,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Transport(e) => write!(f, "transport error: {e}"),
            ApiError::NotBotApi(e) => write!(f, "not a Bot API answer: {e}"),
            ApiError::Rejected {
                code, description, ..
            } => write!(f, "Bot API error {code}: {description}"),
        }
    }
}

impl BotClient {
    /// A client for the configured Bot API; fails only if the TLS stack
    /// cannot be set up.
    pub(crate) fn new(config: &DeliveryConfig, token: &BotToken) -> Result<Self, Error> {
        let http = match &config.http_client {
            Some(client) => client.clone(),
            None => reqwest::Client::builder()
                .connect_timeout(config.connect_timeout)
                .user_agent(concat!("tracing-telegram/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::HttpClient(e.without_url().to_string()))?,
        };
        Ok(BotClient {
            http,
            request_timeout: config.request_timeout,
            method_base: format!("{}/bot{}/", config.api_url, token.expose()),
            api_url: config.api_url.clone(),
        })
    }

    /// Sends a message and returns its `message_id`.
    pub(crate) async fn send_message(&self, message: &SendMessage<'_>) -> Result<i64, ApiError> {
        let sent: SentMessageResult = self.call("sendMessage", message).await?;
        Ok(sent.message_id)
    }

    /// Replaces a message's text.
    pub(crate) async fn edit_message_text(
        &self,
        edit: &EditMessageText<'_>,
    ) -> Result<(), ApiError> {
        let _edited: serde_json::Value = self.call("editMessageText", edit).await?;
        Ok(())
    }

    /// Validates the token.
    pub(crate) async fn get_me(&self) -> Result<BotIdentity, ApiError> {
        self.call("getMe", &serde_json::json!({})).await
    }

    /// Button presses after `offset`, waiting up to `wait` for one (long
    /// polling; the request may take that long plus the usual timeout).
    pub(crate) async fn get_updates(
        &self,
        offset: i64,
        wait: Duration,
    ) -> Result<Vec<Update>, ApiError> {
        // A few presses at a time: the worker carries each out before it
        // listens to anything else again.
        let body = serde_json::json!({
            "offset": offset,
            "limit": MAX_UPDATES_PER_POLL,
            "timeout": wait.as_secs(),
            "allowed_updates": ["callback_query"],
        });
        self.call_within("getUpdates", &body, wait + self.request_timeout)
            .await
    }

    /// Answers a press with a toast (Telegram shows a spinner until then).
    pub(crate) async fn answer_callback_query(&self, id: &str, text: &str) -> Result<(), ApiError> {
        let body = serde_json::json!({"callback_query_id": id, "text": text});
        let _answered: serde_json::Value = self.call("answerCallbackQuery", &body).await?;
        Ok(())
    }

    async fn call<B, T>(&self, method: &str, body: &B) -> Result<T, ApiError>
    where
        B: Serialize + ?Sized,
        T: for<'de> Deserialize<'de>,
    {
        self.call_within(method, body, self.request_timeout).await
    }

    async fn call_within<B, T>(
        &self,
        method: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<T, ApiError>
    where
        B: Serialize + ?Sized,
        T: for<'de> Deserialize<'de>,
    {
        let url = format!("{}{method}", self.method_base);
        self.answer(self.http.post(url).timeout(timeout).json(body))
            .await
    }

    /// Sends a file (`sendDocument`, multipart) and returns its `message_id`.
    pub(crate) async fn send_document(&self, document: &SendDocument<'_>) -> Result<i64, ApiError> {
        let url = format!("{}sendDocument", self.method_base);
        let (content_type, body) = document.multipart();
        let request = self
            .http
            .post(url)
            .timeout(self.request_timeout)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        let sent: SentMessageResult = self.answer(request).await?;
        Ok(sent.message_id)
    }

    /// Sends `request` and reads what Telegram answers.
    async fn answer<T>(&self, request: reqwest::RequestBuilder) -> Result<T, ApiError>
    where
        T: for<'de> Deserialize<'de>,
    {
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let header_retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = read_capped(response).await?;
        let Ok(parsed) = serde_json::from_slice::<ApiResponse<T>>(&bytes) else {
            // A 429 is Telegram's (or a proxy's) "later", whatever the body.
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err(ApiError::Rejected {
                    code: 429,
                    description: format!("HTTP {status}"),
                    retry_after: header_retry_after,
                    migrate_to: None,
                });
            }
            return Err(ApiError::NotBotApi(describe_body(status, &bytes)));
        };
        match (parsed.ok, parsed.result, parsed.error_code) {
            (true, Some(result), _) => Ok(result),
            (true, None, _) => Err(ApiError::NotBotApi(format!(
                "HTTP {status}, `ok: true` without a result"
            ))),
            (false, _, None) => Err(ApiError::NotBotApi(format!(
                "HTTP {status}, `ok: false` without an error code"
            ))),
            (false, _, Some(code)) => {
                let parameters = parsed.parameters;
                Err(ApiError::Rejected {
                    code,
                    description: parsed
                        .description
                        .unwrap_or_else(|| format!("HTTP {status}")),
                    retry_after: parameters
                        .as_ref()
                        .and_then(|p| p.retry_after)
                        .map(Duration::from_secs)
                        .or(header_retry_after),
                    migrate_to: parameters.and_then(|p| p.migrate_to_chat_id),
                })
            }
        }
    }
}

/// The body of an answer, read up to [`MAX_ANSWER_BYTES`]: a larger one
/// (declared, or found while reading) is cut off unread, never buffered.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, ApiError> {
    let status = response.status();
    if let Some(length) = response
        .content_length()
        .filter(|length| *length > MAX_ANSWER_BYTES as u64)
    {
        return Err(ApiError::NotBotApi(format!(
            "HTTP {status}, a body of {length} bytes (over the 1 MiB cap: not read)"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ApiError::NotBotApi(format!(
                "HTTP {status}, a body over the 1 MiB cap (cut off unread)"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What an unreadable body was, in a few words: its status, size and start
/// (a proxy's page says who answered), on one line.
fn describe_body(status: reqwest::StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let start: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(80)
        .collect();
    format!("HTTP {status}, {} bytes: {start:?}", body.len())
}

/// A transport error without the request URL (which holds the token).
fn transport_error(error: reqwest::Error) -> ApiError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let error = error.without_url();
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    ApiError::Transport(text)
}
