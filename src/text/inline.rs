//! `ShortText` and `Text`: text kept inline when it is short.
//!
//! Most span and event field values are short (`GET`, `/orders/77`, a
//! provider name, an id). Copying each into its own `String` costs an
//! allocation when the span or event is captured and a free when it is
//! dropped, on the application's thread, for every span. Up to
//! [`ShortText::CAPACITY`] bytes live inside the value instead; only longer
//! text goes to the heap (see [`Text`], which also holds event messages).

use std::fmt;

/// Text of up to `N` bytes (at most 255), stored inline: one type for the
/// field values below and the repeat gate's message buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct InlineText<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

/// Text of up to [`ShortText::CAPACITY`] bytes: sized so that `FieldValue`
/// does not grow (its largest variants are 48 bytes).
pub(crate) type ShortText = InlineText<38>;

impl<const N: usize> InlineText<N> {
    pub(crate) const CAPACITY: usize = N;
    /// The length is kept in a byte.
    const FITS: () = assert!(N <= u8::MAX as usize, "InlineText holds at most 255 bytes");

    /// No text.
    pub(crate) fn empty() -> Self {
        let () = Self::FITS;
        InlineText {
            len: 0,
            bytes: [0; N],
        }
    }

    /// `text` inline, or `None` if it is too long.
    pub(crate) fn new(text: &str) -> Option<Self> {
        let mut inline = Self::empty();
        inline.push(text).then_some(inline)
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `text` if it fits; `false` (and nothing appended) if not.
    fn push(&mut self, text: &str) -> bool {
        let start = usize::from(self.len);
        let end = start + text.len();
        let Some(room) = self.bytes.get_mut(start..end) else {
            return false;
        };
        room.copy_from_slice(text.as_bytes());
        // `end <= N <= 255` (see `FITS`), so it fits in a byte.
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
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl<const N: usize> Default for InlineText<N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const N: usize> fmt::Debug for InlineText<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Appends while the text fits; an error (with nothing of that piece
/// appended) once it does not.
impl<const N: usize> fmt::Write for InlineText<N> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.push(text) {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

/// Text kept inline while it fits in a [`ShortText`], in a `String` beyond.
/// Written with `write!`, it formats a value in one pass with one allocation
/// at most (none for short text). Reads as a `str`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Text {
    Short(ShortText),
    Long(String),
}

impl Default for Text {
    fn default() -> Self {
        Text::Short(ShortText::empty())
    }
}

impl Text {
    /// `text`, copied inline if it fits.
    pub(crate) fn new(text: &str) -> Self {
        ShortText::new(text).map_or_else(|| Text::Long(text.to_owned()), Text::Short)
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Text::Short(short) => short.as_str(),
            Text::Long(long) => long,
        }
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text::Long(text)
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        match self {
            Text::Short(short) => {
                if !short.push(text) {
                    let mut long = String::with_capacity(ShortText::CAPACITY * 2 + text.len());
                    long.push_str(short.as_str());
                    long.push_str(text);
                    *self = Text::Long(long);
                }
            }
            Text::Long(long) => long.push_str(text),
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

        let mut writer = Text::default();
        write!(writer, "{:?}", "/orders/77").unwrap();
        assert!(matches!(&writer, Text::Short(s) if s.as_str() == "\"/orders/77\""));
        let mut writer = Text::default();
        let long = "é".repeat(40); // 80 bytes, written in pieces by Debug
        write!(writer, "{long:?}").unwrap();
        assert!(matches!(&writer, Text::Long(s) if *s == format!("{long:?}")));
        assert!(matches!(Text::new("payment failed"), Text::Short(_)));
        assert_eq!(&*Text::new(&"x".repeat(50)), "x".repeat(50));
    }
}
