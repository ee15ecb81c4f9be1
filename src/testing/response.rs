//! The Bot API's answer envelope: `{"ok": true, "result": …}`, or an
//! error with its code, description and parameters.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub(super) fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

pub(super) fn api_error(
    status: StatusCode,
    description: &str,
    parameters: Option<Value>,
) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(parameters) = parameters {
        body["parameters"] = parameters;
    }
    (status, Json(body)).into_response()
}
