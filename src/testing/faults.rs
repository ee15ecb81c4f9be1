//! Answers that are not Bot API answers, as a proxy or a bad network gives
//! them: an HTML error page, `ok: false` without a code, a huge body, a
//! body cut short, a body that drips. Streamed, so the mock never holds a
//! huge body in memory itself.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// A proxy's error page, served with status 200 as some proxies do.
const PROXY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Chunks of a huge body.
const CHUNK: usize = 64 * 1024;

/// 200 with an HTML page.
pub(super) fn html_page() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html")],
        PROXY_PAGE,
    )
        .into_response()
}

/// 200 with `{"ok": false}` and nothing else.
pub(super) fn not_ok() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"ok":false}"#,
    )
        .into_response()
}

/// 200 with a body of `bytes` bytes, streamed without a length.
pub(super) fn huge(bytes: usize) -> Response {
    streamed(Fault::Huge { left: bytes })
}

/// 200 with the start of an answer, then the connection broken.
pub(super) fn truncated() -> Response {
    streamed(Fault::Truncated { sent: false })
}

/// 200 with a body that comes one byte a second, forever.
pub(super) fn drip() -> Response {
    streamed(Fault::Drip { sleep: None })
}

fn streamed(fault: Fault) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(fault),
    )
        .into_response()
}

enum Fault {
    Huge {
        left: usize,
    },
    Truncated {
        sent: bool,
    },
    Drip {
        sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    },
}

impl futures_core::Stream for Fault {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut() {
            Fault::Huge { left } => {
                if *left == 0 {
                    return Poll::Ready(None);
                }
                let n = (*left).min(CHUNK);
                *left -= n;
                Poll::Ready(Some(Ok(Bytes::from(vec![b' '; n]))))
            }
            Fault::Truncated { sent } => {
                if *sent {
                    return Poll::Ready(Some(Err(std::io::Error::other("cut short"))));
                }
                *sent = true;
                Poll::Ready(Some(Ok(Bytes::from_static(br#"{"ok":true,"resu"#))))
            }
            Fault::Drip { sleep } => {
                let timer = sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_secs(1))));
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                *sleep = None;
                Poll::Ready(Some(Ok(Bytes::from_static(b" "))))
            }
        }
    }
}
