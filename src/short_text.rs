//! `ShortText`: a field's text kept inline when it is short.
//!
//! Most span and event field values are short (`GET`, `/orders/77`, a
//! provider name, an id). Copying each into its own `String` costs an
//! allocation when the span or event is captured and a free when it is
//! dropped, on the application's thread, for every span. Up to
//! [`ShortText::CAPACITY`] bytes live inside the value instead; only longer
//! text goes to the heap (see [`TextWriter`]).

use std::fmt;

/// Text of up to [`ShortText::CAPACITY`] bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShortText {
    len: u8,
    bytes: [u8; ShortText::CAPACITY],
}

impl ShortText {
    /// Sized so that `FieldValue` does not grow (its largest variants are
    /// 48 bytes).
    pub(crate) const CAPACITY: usize = 38;

    /// `text` inline, or `None` if it is too long.
    pub(crate) fn new(text: &str) -> Option<Self> {
        let mut short = ShortText {
            len: 0,
            bytes: [0; Self::CAPACITY],
        };
        short.push(text).then_some(short)
    }

    /// Appends `text` if it fits; `false` (and nothing appended) if not.
    fn push(&mut self, text: &str) -> bool {
        let start = usize::from(self.len);
        let end = start + text.len();
        let Some(room) = self.bytes.get_mut(start..end) else {
            return false;
        };
        room.copy_from_slice(text.as_bytes());
        // `end <= CAPACITY < 256`, so it fits in a byte.
        self.len = end as u8;
        true
    }

    /// The text's bytes (UTF-8).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `str`s are ever appended, so the bytes are UTF-8; the
        // fallback is unreachable.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Formats a value inline while it fits, moving to a `String` when it does
/// not: one pass over the value's `Debug`/`Display`, one allocation at most.
pub(crate) enum TextWriter {
    Short(ShortText),
    Long(String),
}

impl Default for TextWriter {
    fn default() -> Self {
        TextWriter::Short(ShortText {
            len: 0,
            bytes: [0; ShortText::CAPACITY],
        })
    }
}

impl fmt::Write for TextWriter {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        match self {
            TextWriter::Short(short) => {
                if !short.push(text) {
                    let mut long = String::with_capacity(ShortText::CAPACITY * 2 + text.len());
                    long.push_str(short.as_str());
                    long.push_str(text);
                    *self = TextWriter::Long(long);
                }
            }
            TextWriter::Long(long) => long.push_str(text),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn short_text_stays_inline_and_long_text_moves_to_the_heap() {
        assert_eq!(ShortText::new("GET").unwrap().as_str(), "GET");
        let full = "x".repeat(ShortText::CAPACITY);
        assert_eq!(ShortText::new(&full).unwrap().as_str(), full);
        assert!(ShortText::new(&format!("{full}y")).is_none());

        let mut writer = TextWriter::default();
        write!(writer, "{:?}", "/orders/77").unwrap();
        assert!(matches!(&writer, TextWriter::Short(s) if s.as_str() == "\"/orders/77\""));
        let mut writer = TextWriter::default();
        let long = "é".repeat(40); // 80 bytes, written in pieces by Debug
        write!(writer, "{long:?}").unwrap();
        assert!(matches!(&writer, TextWriter::Long(s) if *s == format!("{long:?}")));
    }
}
