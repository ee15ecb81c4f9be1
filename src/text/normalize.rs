//! The one normaliser: a message with its volatile parts (numbers, ids,
//! UUIDs, hex, quoted values) folded, so that occurrences of one failure
//! read alike. Fingerprints, the repeat gate's key and the digest's warning
//! kinds all use it, so they agree on what "the same message" is.

/// `retry 3 of "user-77" after 130ms (id 550e8400-e29b-…)` →
/// `retry # of ? after #ms (id #)`.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::new();
    normalized(text, |piece| out.push_str(&String::from_utf8_lossy(piece)));
    out
}

/// The longest text normalised, in characters (the rest is ignored).
const MAX_NORMALIZED_CHARS: usize = 2048;

/// The longest quoted value skipped as one, in characters.
const MAX_QUOTED_CHARS: usize = 200;

/// Feeds the normalised form of `text` to `emit`, piece by piece, without
/// building it (the fingerprint hashes the pieces as they come). Text that
/// stays as it is goes out in runs as long as possible.
///
/// It works on bytes: everything it looks for (quotes, hex digits) is
/// ASCII, and no byte of a multi-byte UTF-8 character is ASCII, so every
/// cut falls on a character boundary. This runs on the application's
/// thread for each repeat the gate counts, so pieces go out as bytes (the
/// hashes take bytes; no UTF-8 check is needed).
pub(crate) fn normalized(text: &str, emit: impl FnMut(&[u8])) {
    normalized_bytes(text.as_bytes(), emit);
}

/// [`normalized`] for bytes that are known to be UTF-8.
#[inline]
pub(crate) fn normalized_bytes(bytes: &[u8], mut emit: impl FnMut(&[u8])) {
    let bytes = first_chars(bytes, MAX_NORMALIZED_CHARS);
    // Only digits and quotes change anything (a token of hex letters alone
    // is never volatile): most messages have neither and go out whole.
    if !may_change(bytes) {
        emit_run(bytes, 0, bytes.len(), &mut emit);
        return;
    }
    // Start of the run of text not yet emitted.
    let mut literal = 0;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let class = BYTE_CLASS[usize::from(byte)];
        if class == PLAIN {
            i += 1;
        } else if class == QUOTE {
            // A quoted value: skip to the closing quote (or give up). A
            // quoted phrase (with a space) is an error's text, kept with its
            // numbers and ids folded: "order store unavailable" and
            // "payment upstream down" are two failures.
            emit_run(bytes, literal, i, &mut emit);
            let Some(close) = closing_quote(bytes, i + 1, byte) else {
                return;
            };
            let inside = &bytes[i + 1..close];
            if inside.contains(&b' ') {
                emit(&bytes[i..=i]);
                fold_tokens(inside, &mut emit);
                emit(&bytes[close..=close]);
            } else {
                emit(b"?");
            }
            i = close + 1;
            literal = i;
        } else {
            let (end, volatile) = scan_token(bytes, i);
            if volatile {
                emit_run(bytes, literal, i, &mut emit);
                emit(b"#");
                literal = end;
            }
            i = end;
        }
    }
    emit_run(bytes, literal, bytes.len(), &mut emit);
}

/// The inside of a quoted phrase: numbers and ids folded, quotes of
/// another kind kept as they are.
fn fold_tokens(bytes: &[u8], emit: &mut impl FnMut(&[u8])) {
    let (mut literal, mut i) = (0, 0);
    while let Some(&byte) = bytes.get(i) {
        if BYTE_CLASS[usize::from(byte)] != HEX_DIGIT {
            i += 1;
            continue;
        }
        let (end, volatile) = scan_token(bytes, i);
        if volatile {
            emit_run(bytes, literal, i, emit);
            emit(b"#");
            literal = end;
        }
        i = end;
    }
    emit_run(bytes, literal, bytes.len(), emit);
}

/// Whether `bytes` holds a digit or a quote (`"`, `'`, `` ` ``), read eight
/// bytes at a time: this runs for every repeat the gate counts.
fn may_change(bytes: &[u8]) -> bool {
    let word_at = |at: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    if bytes.len() < 8 {
        // Padded with zero bytes (neither a digit nor a quote).
        let mut word = [0; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        return word_may_change(u64::from_le_bytes(word));
    }
    // Whole words, then the last eight bytes (overlapping the last word:
    // for "is there one" that is harmless, and it needs no copy).
    (0..bytes.len() / 8).any(|i| word_may_change(word_at(i * 8)))
        || word_may_change(word_at(bytes.len() - 8))
}

/// Whether any byte of `word` is a digit or a quote. The tests are the
/// exact "some byte is zero" and "some byte is below n" tests of bit
/// twiddling (a borrow only ever crosses from a byte that matched, so the
/// answer for the word is exact, whatever the other bytes are).
fn word_may_change(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // High bit of a byte set where that byte of `x` is below `n` (at least
    // one such byte is marked whenever there is one, and none otherwise).
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x;
    let digits = below(word ^ (ONES * u64::from(b'0')), 10);
    let quotes = below(word ^ (ONES * u64::from(b'"')), 1)
        | below(word ^ (ONES * u64::from(b'\'')), 1)
        | below(word ^ (ONES * u64::from(b'`')), 1);
    (digits | quotes) & HIGHS != 0
}

/// Byte classes: most bytes of a message are plain text, told apart from
/// the two that start something by one table lookup.
const PLAIN: u8 = 0;
const QUOTE: u8 = 1;
const HEX_DIGIT: u8 = 2;

const BYTE_CLASS: [u8; 256] = {
    let mut classes = [PLAIN; 256];
    let mut byte = 0;
    while byte < 256 {
        // `byte < 256`, so the cast keeps its value.
        let b = byte as u8;
        classes[byte] = if b == b'"' || b == b'\'' || b == b'`' {
            QUOTE
        } else if b.is_ascii_hexdigit() {
            HEX_DIGIT
        } else {
            PLAIN
        };
        byte += 1;
    }
    classes
};

/// The end of the token of hex digits and separators (`-`, `.`, `_`) that
/// starts at `start`, and whether it is volatile: a number, or an id of 8 or
/// more characters with a digit in it. One pass, as this is the hot loop.
fn scan_token(bytes: &[u8], start: usize) -> (usize, bool) {
    let mut has_digit = false;
    let mut numeric = true;
    let mut end = start;
    while let Some(&byte) = bytes.get(end) {
        match byte {
            b'0'..=b'9' => has_digit = true,
            b'.' | b'_' => {}
            b'a'..=b'f' | b'A'..=b'F' | b'-' => numeric = false,
            _ => break,
        }
        end += 1;
    }
    (end, has_digit && (numeric || end - start >= 8))
}

/// Where the quote opened before `from` closes, within
/// `MAX_QUOTED_CHARS + 1` characters.
fn closing_quote(bytes: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut chars = 0;
    for (offset, byte) in bytes.get(from..)?.iter().enumerate() {
        // Count characters by their first bytes (continuation bytes are 10xxxxxx).
        if byte & 0xC0 != 0x80 {
            if chars > MAX_QUOTED_CHARS {
                return None;
            }
            chars += 1;
        }
        if *byte == quote {
            return Some(from + offset);
        }
    }
    None
}

/// Emits `bytes[start..end]` unless it is empty (both are positions of
/// ASCII bytes, so the run is whole characters).
fn emit_run(bytes: &[u8], start: usize, end: usize, emit: &mut impl FnMut(&[u8])) {
    if let Some(run) = bytes.get(start..end).filter(|run| !run.is_empty()) {
        emit(run);
    }
}

/// The first `limit` characters of UTF-8 `bytes`.
fn first_chars(bytes: &[u8], limit: usize) -> &[u8] {
    if bytes.len() <= limit {
        return bytes; // fewer bytes than the limit, so fewer characters
    }
    // A character starts at every byte that is not a continuation (10xxxxxx).
    let cut = bytes
        .iter()
        .enumerate()
        .filter(|(_, byte)| *byte & 0xC0 != 0x80)
        .nth(limit)
        .map_or(bytes.len(), |(at, _)| at);
    &bytes[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_word_test_finds_digits_and_quotes_anywhere() {
        let plain = |bytes: &[u8]| {
            !bytes
                .iter()
                .any(|b| b.is_ascii_digit() || BYTE_CLASS[usize::from(*b)] == QUOTE)
        };
        // Every byte value at every position of a word of plain text.
        for at in 0..8 {
            for byte in 0..=255u8 {
                let mut bytes = *b"payments";
                bytes[at] = byte;
                assert_eq!(may_change(&bytes), !plain(&bytes), "{byte:#x} at {at}");
            }
        }
        assert!(!may_change("ошибка оплаты: сервис недоступен".as_bytes()));
        assert!(may_change("ошибка 5".as_bytes()));
    }

    /// The first, char-by-char implementation: what the byte-wise one must
    /// agree with.
    fn reference(text: &str, mut emit: impl FnMut(&str)) {
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
                    let Some(i) = close else {
                        return;
                    };
                    let inside = &body[..i];
                    if inside.contains(' ') {
                        emit(&rest[..c.len_utf8()]);
                        reference_tokens(inside, &mut emit);
                        emit(&rest[..c.len_utf8()]);
                    } else {
                        emit("?");
                    }
                    rest = &body[i + c.len_utf8()..];
                }
                c if c.is_ascii_hexdigit() => rest = reference_hex(rest, &mut emit),
                c => {
                    let end = rest
                        .char_indices()
                        .find(|(_, next)| {
                            matches!(next, '"' | '\'' | '`') || next.is_ascii_hexdigit()
                        })
                        .map_or(rest.len(), |(i, _)| i.max(c.len_utf8()));
                    emit(&rest[..end]);
                    rest = &rest[end..];
                }
            }
        }
    }

    /// A token of hex digits and separators at the start of `rest`: `#` if
    /// volatile, else as it is; the text after it.
    fn reference_hex<'a>(rest: &'a str, emit: &mut impl FnMut(&str)) -> &'a str {
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
        &rest[end..]
    }

    /// The inside of a quoted phrase, as [`reference`] reads text, quotes
    /// taken as plain characters.
    fn reference_tokens(text: &str, emit: &mut impl FnMut(&str)) {
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if c.is_ascii_hexdigit() {
                rest = reference_hex(rest, emit);
            } else {
                emit(&rest[..c.len_utf8()]);
                rest = &rest[c.len_utf8()..];
            }
        }
    }

    fn reference_normalize(text: &str) -> String {
        let mut out = String::new();
        reference(text, |piece| out.push_str(piece));
        out
    }

    #[test]
    fn long_quotes_and_long_texts_are_cut_where_the_reference_cuts_them() {
        for inside in [199, 200, 201, 202] {
            for filler in ["x", "é", "🔥"] {
                let text = format!("key '{}' after 12 ms", filler.repeat(inside));
                assert_eq!(
                    normalize(&text),
                    reference_normalize(&text),
                    "{inside} {filler}"
                );
            }
        }
        for length in [2047, 2048, 2049, 3000] {
            let text = format!("{}7", "é".repeat(length));
            assert_eq!(normalize(&text), reference_normalize(&text), "{length}");
        }
    }

    proptest! {
        #[test]
        fn the_byte_wise_normalisation_agrees_with_the_reference(
            text in "([a-fA-F0-9 ._:/-]|[g-zG-Z]{1,4}|[\"'`]|é|日|🔥){0,40}"
        ) {
            prop_assert_eq!(normalize(&text), reference_normalize(&text));
        }
    }

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
    fn quoted_phrases_stay_apart_and_quoted_ids_fold() {
        // actix-web's `ErrorInternalServerError("…")`, as its Debug quotes it.
        assert_ne!(
            normalize(r#"Internal("order store unavailable")"#),
            normalize(r#"Internal("payment upstream down")"#)
        );
        assert_eq!(
            normalize(r#"Internal("order 42 not found")"#),
            r#"Internal("order # not found")"#
        );
        assert_eq!(
            normalize(r#"no user "u-550e8400-e29b" in 'eu-1'"#),
            "no user ? in ?"
        );
    }
}
