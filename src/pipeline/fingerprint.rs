//! Fingerprints: which records are "the same alert".
//!
//! Level + target + callsite + the message with its volatile parts
//! normalised (numbers, UUIDs, hex ids, quoted values, durations), hashed
//! with FNV-1a so that every process of a fleet computes the same value.
//! `"db timeout after 130 ms"` and `"db timeout after 4127 ms"` share one.
//! The values of error-carrying fields (`error`, `status`, …) count too,
//! normalised the same way (status codes as they are), so that a callsite
//! failing in two ways makes two alerts. An event inside an HTTP request
//! span is grouped by that request too (method and route, or the path with
//! its ids folded): one failure on two routes is two problems. An explicit
//! `telegram.fingerprint = "..."` field replaces all of that. A record of
//! a folded callsite (see `fold`) has its callsite's fingerprint: level and
//! location only, the same for all its variants and in every process.

use crate::record::http::write_request_key;
use crate::record::{first_line, is_error_field, FieldValue, Origin, Record};
use crate::text::normalize::normalized;

/// The fingerprint of a record.
/// `fingerprint` of a record a target or field route sends elsewhere, made
/// its destination's own: one failure routed to two teams is two alerts.
/// (Unrouted records keep their fingerprint as it was.)
pub(crate) fn routed(fingerprint: u64, record: &Record) -> u64 {
    let Some(target) = &record.routed else {
        return fingerprint;
    };
    let mut hash = Fnv::default();
    hash.write(&fingerprint.to_le_bytes());
    hash.write(b"\0routed=");
    hash.write(target.chat_id.to_string().as_bytes());
    hash.write(&target.thread_id.unwrap_or(0).to_le_bytes());
    hash.finish()
}

pub(crate) fn fingerprint(record: &Record) -> u64 {
    if record.family.is_some_and(|family| family.folded) {
        return callsite_fingerprint(record);
    }
    let mut hash = Fnv::default();
    if let Some(explicit) = &record.fingerprint {
        hash.write(b"explicit\0");
        hash.write(explicit.as_bytes());
        return hash.finish();
    }
    write_callsite(&mut hash, record);
    if let Origin::Manual = record.origin {
        normalized(record.title.as_deref().unwrap_or(""), |piece| {
            hash.write(piece)
        });
    }
    hash.write(b"\0");
    normalized(&record.message, |piece| hash.write(piece));
    // The request it happened in: the same failure on two routes is two
    // problems (and a response's status on two routes, two failures).
    if let Some(fields) = record
        .request_span()
        .and_then(|span| span.fields.as_deref())
    {
        hash.write(b"\0request=");
        write_request_key(fields, &mut |piece| hash.write(piece));
    }
    for (name, value) in &record.fields {
        if is_error_field(name) {
            hash.write(b"\0");
            hash.write(name.as_bytes());
            hash.write(b"=");
            write_error_value(&mut hash, value);
        }
    }
    hash.finish()
}

/// The fingerprint of the record's callsite alone (level and location):
/// a folded callsite's, and what counts as one problem towards an
/// incident; the same in every process.
pub(crate) fn callsite_fingerprint(record: &Record) -> u64 {
    let mut hash = Fnv::default();
    hash.write(b"folded\0");
    write_callsite(&mut hash, record);
    hash.finish()
}

/// The level and where the record happened (a bridged `log` record's own
/// location: its event's is `log`); a manual alert's mark.
fn write_callsite(hash: &mut Fnv, record: &Record) {
    hash.write(record.level.label().as_bytes());
    match record.origin {
        Origin::Event(metadata) => {
            let location = record.location();
            let target = location.map_or(metadata.target(), |l| l.target);
            hash.write(target.as_bytes());
            hash.write(location.and_then(|l| l.file).unwrap_or("").as_bytes());
            hash.write(&location.and_then(|l| l.line).unwrap_or(0).to_le_bytes());
            hash.write(metadata.name().as_bytes());
        }
        Origin::Manual => hash.write(b"manual\0"),
    }
}

/// An error-carrying value: integers (status codes) as they are, text by
/// its first line normalised, an error by its own and its sources' first
/// lines.
fn write_error_value(hash: &mut Fnv, value: &FieldValue) {
    match value {
        FieldValue::I64(n) => hash.write(n.to_string().as_bytes()),
        FieldValue::U64(n) => hash.write(n.to_string().as_bytes()),
        FieldValue::Error { message, sources } => {
            normalized(first_line(message), |piece| hash.write(piece));
            for source in sources {
                hash.write(b"\0");
                normalized(first_line(source), |piece| hash.write(piece));
            }
        }
        other => match other.as_text() {
            Some(text) => normalized(first_line(text), |piece| hash.write(piece)),
            None => hash.write(other.to_string().as_bytes()),
        },
    }
}

/// FNV-1a, 64 bit: tiny, and the same in every process and release.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable() {
        let mut hash = Fnv::default();
        hash.write(b"a");
        assert_eq!(hash.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
