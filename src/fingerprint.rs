//! Fingerprints: which records are "the same alert".
//!
//! Level + target + callsite + the message with its volatile parts
//! normalised (numbers, UUIDs, hex ids, quoted values, durations), hashed
//! with FNV-1a so that every process of a fleet computes the same value.
//! `"db timeout after 130 ms"` and `"db timeout after 4127 ms"` share one.
//! An explicit `telegram.fingerprint = "..."` field replaces all of that.

use crate::record::{Origin, Record};

/// The fingerprint of a record.
pub(crate) fn fingerprint(record: &Record) -> u64 {
    let mut hash = Fnv::default();
    if let Some(explicit) = &record.fingerprint {
        hash.write(b"explicit\0");
        hash.write(explicit.as_bytes());
        return hash.finish();
    }
    hash.write(record.level.label().as_bytes());
    match record.origin {
        Origin::Event(metadata) => {
            hash.write(metadata.target().as_bytes());
            hash.write(metadata.file().unwrap_or("").as_bytes());
            hash.write(&metadata.line().unwrap_or(0).to_le_bytes());
            hash.write(metadata.name().as_bytes());
        }
        Origin::Manual => {
            hash.write(b"manual\0");
            normalized(record.title.as_deref().unwrap_or(""), |piece| {
                hash.write(piece.as_bytes())
            });
        }
    }
    hash.write(b"\0");
    normalized(&record.message, |piece| hash.write(piece.as_bytes()));
    hash.finish()
}

/// `retry 3 of "user-77" after 130ms (id 550e8400-e29b-…)` →
/// `retry # of ? after #ms (id #)`.
#[cfg(test)]
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::new();
    normalized(text, |piece| out.push_str(piece));
    out
}

/// Feeds the normalised form of `text` to `emit`, piece by piece, without
/// building it (the fingerprint hashes the pieces as they come).
pub(crate) fn normalized(text: &str, mut emit: impl FnMut(&str)) {
    let text = match text.char_indices().nth(2048) {
        Some((cut, _)) => &text[..cut],
        None => text,
    };
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '"' | '\'' | '`' => {
                // A quoted value: skip to the closing quote (or give up at 200 chars).
                let body = &rest[1..];
                let close = body
                    .char_indices()
                    .take(201)
                    .find(|(_, inner)| *inner == c)
                    .map(|(i, _)| i);
                emit("?");
                match close {
                    Some(i) => rest = &body[i + c.len_utf8()..],
                    None => return,
                }
            }
            c if c.is_ascii_hexdigit() => {
                let end = rest
                    .bytes()
                    .position(|b| !(b.is_ascii_hexdigit() || matches!(b, b'-' | b'.' | b'_')))
                    .unwrap_or(rest.len());
                let token = &rest[..end];
                let has_digit = token.bytes().any(|b| b.is_ascii_digit());
                let volatile = has_digit
                    && (token
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'_')
                        || token.len() >= 8);
                emit(if volatile { "#" } else { token });
                rest = &rest[end..];
            }
            c => {
                let end = rest
                    .char_indices()
                    .find(|(_, next)| matches!(next, '"' | '\'' | '`') || next.is_ascii_hexdigit())
                    .map_or(rest.len(), |(i, _)| i.max(c.len_utf8()));
                emit(&rest[..end]);
                rest = &rest[end..];
            }
        }
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
    fn volatile_parts_are_normalised() {
        assert_eq!(
            normalize("db timeout after 130 ms"),
            normalize("db timeout after 4127 ms")
        );
        assert_eq!(
            normalize("user 'alice' order 550e8400-e29b-41d4-a716-446655440000 took 1.5s"),
            "user ? order # took #s"
        );
        assert_eq!(normalize("hash deadbeef12 vs cafe"), "hash # vs cafe");
        assert_ne!(normalize("payment failed"), normalize("payment refused"));
    }

    #[test]
    fn fnv_is_stable() {
        let mut hash = Fnv::default();
        hash.write(b"a");
        assert_eq!(hash.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
