//! gRPC status codes: their names, and which are the server's failures.
//!
//! A gRPC call answers HTTP 200 whatever happened; the outcome is its
//! `grpc-status`. tower-http's `GrpcErrorsAsFailures` reports a failed call
//! with `classification = "Code: 14"`; OpenTelemetry-named spans carry
//! `rpc.grpc.status_code = 14`. Server failures (`Internal`,
//! `Unavailable`, `Unknown`, `DataLoss`, …) are alerts; client errors
//! (`NotFound`, `InvalidArgument`, …) are the caller's business and only
//! counted in the digest.

/// The name of a gRPC status code.
pub(crate) fn code_name(code: u64) -> Option<&'static str> {
    Some(match code {
        0 => "OK",
        1 => "Cancelled",
        2 => "Unknown",
        3 => "InvalidArgument",
        4 => "DeadlineExceeded",
        5 => "NotFound",
        6 => "AlreadyExists",
        7 => "PermissionDenied",
        8 => "ResourceExhausted",
        9 => "FailedPrecondition",
        10 => "Aborted",
        11 => "OutOfRange",
        12 => "Unimplemented",
        13 => "Internal",
        14 => "Unavailable",
        15 => "DataLoss",
        16 => "Unauthenticated",
        _ => return None,
    })
}

/// Whether a gRPC status code is the server's failure.
pub(crate) fn is_server_error(code: u64) -> bool {
    matches!(code, 2 | 4 | 8 | 13 | 14 | 15)
}

/// The code of tower-http's gRPC classification (`Code: 14`), if it is one.
pub(crate) fn classified_code(text: &str) -> Option<u64> {
    text.trim_matches('"')
        .strip_prefix("Code: ")?
        .trim()
        .parse()
        .ok()
}

/// Whether an event reports a gRPC call that failed on the caller's side
/// (tower-http's `classification = "Code: 5"`): counted, not alerted.
pub(crate) fn is_client_error_report(fields: &crate::record::Fields) -> bool {
    fields.iter().any(|(name, value)| {
        name == "classification"
            && value
                .as_text()
                .and_then(classified_code)
                .is_some_and(|code| !is_server_error(code))
    })
}

/// `Unavailable (gRPC 14)`, or the code alone if it has no name.
pub(crate) fn describe(code: u64) -> String {
    match code_name(code) {
        Some(name) => format!("{name} (gRPC {code})"),
        None => format!("gRPC {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_named_and_told_apart() {
        assert_eq!(classified_code("Code: 14"), Some(14));
        assert_eq!(classified_code("Status code: 500"), None);
        assert_eq!(describe(14), "Unavailable (gRPC 14)");
        assert!(is_server_error(13) && is_server_error(14) && is_server_error(2));
        assert!(!is_server_error(5) && !is_server_error(3) && !is_server_error(0));
    }
}
