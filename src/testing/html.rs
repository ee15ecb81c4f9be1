//! Telegram's HTML rules, as the mock enforces them: the tag whitelist,
//! nesting, and entities.

/// Tags Telegram's HTML parse mode accepts.
const ALLOWED_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "tg-spoiler",
    "span",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

/// Parses `text` as Telegram would in `parse_mode=HTML` and returns the
/// visible text, or a description of the first error (the part Telegram puts
/// after "can't parse entities: ").
///
/// It enforces the tag whitelist and attributes, proper nesting and closing,
/// no entities inside `pre`/`code` (other than `<pre><code>`), no nested
/// blockquotes, and that every `<`, `>` and `&` outside a tag is escaped.
pub fn parse_html(text: &str) -> Result<String, String> {
    let mut visible = String::with_capacity(text.len());
    let mut open: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let offset = text.len() - rest.len();
        match c {
            '<' => {
                let end = rest
                    .find('>')
                    .ok_or_else(|| format!("Unclosed start tag at byte offset {offset}"))?;
                check_tag(&rest[1..end], &mut open, offset)?;
                rest = &rest[end + 1..];
            }
            '&' => {
                let (decoded, len) = decode_entity(rest).ok_or_else(|| {
                    format!("Can't find end of the entity starting at byte offset {offset}")
                })?;
                visible.push(decoded);
                rest = &rest[len..];
            }
            '>' => return Err(format!("Unescaped '>' at byte offset {offset}")),
            c => {
                visible.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    match open.last() {
        Some(tag) => Err(format!(
            "Can't find end tag corresponding to start tag \"{tag}\""
        )),
        None => Ok(visible),
    }
}

fn check_tag(tag: &str, open: &mut Vec<String>, offset: usize) -> Result<(), String> {
    if let Some(name) = tag.strip_prefix('/') {
        let name = name.trim();
        return match open.pop() {
            Some(top) if top == name => Ok(()),
            Some(top) => Err(format!(
                "Can't find end tag corresponding to start tag \"{top}\" (found \"/{name}\" at byte offset {offset})"
            )),
            None => Err(format!("Unexpected end tag \"{name}\" at byte offset {offset}")),
        };
    }
    let (name, attributes) = match tag.split_once(char::is_whitespace) {
        Some((name, attributes)) => (name, attributes.trim()),
        None => (tag, ""),
    };
    if !ALLOWED_TAGS.contains(&name) {
        return Err(format!(
            "Unsupported start tag \"{name}\" at byte offset {offset}"
        ));
    }
    let attributes_ok = match name {
        "a" => attributes.starts_with("href=\"") && attributes.ends_with('"'),
        "span" => attributes == "class=\"tg-spoiler\"",
        "code" => attributes.is_empty() || attributes.starts_with("class=\"language-"),
        "blockquote" => attributes.is_empty() || attributes == "expandable",
        "tg-emoji" => attributes.starts_with("emoji-id=\""),
        _ => attributes.is_empty(),
    };
    if !attributes_ok {
        return Err(format!(
            "Unsupported attributes {attributes:?} of tag \"{name}\" at byte offset {offset}"
        ));
    }
    let inside_pre_or_code = open.iter().any(|t| t == "pre" || t == "code");
    let code_in_pre = name == "code" && open.last().is_some_and(|t| t == "pre");
    if inside_pre_or_code && !code_in_pre {
        return Err(format!(
            "Entities inside pre or code at byte offset {offset}"
        ));
    }
    if name == "blockquote" && open.iter().any(|t| t == "blockquote") {
        return Err(format!("Nested blockquotes at byte offset {offset}"));
    }
    open.push(name.to_owned());
    Ok(())
}

/// Decodes the entity at the start of `text` (`&lt;`, `&#123;`, `&#x1F600;`):
/// the character and the entity's length in bytes.
fn decode_entity(text: &str) -> Option<(char, usize)> {
    let end = text.char_indices().take(12).find(|(_, c)| *c == ';')?.0;
    let name = &text[1..end];
    let decoded = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((decoded, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_rules_match_telegrams() {
        assert_eq!(
            parse_html("<b>a &amp; b</b> &lt;x&gt; &#128512;").unwrap(),
            "a & b <x> 😀"
        );
        assert_eq!(
            parse_html("<blockquote expandable>x</blockquote><pre><code class=\"language-rust\">y</code></pre>").unwrap(),
            "xy"
        );
        for bad in [
            "<script>x</script>",
            "<b>x",
            "<b><i>x</b></i>",
            "a & b",
            "a > b",
            "<code><b>x</b></code>",
            "<blockquote><blockquote>x</blockquote></blockquote>",
            "<b class=\"x\">y</b>",
            "&bogus;",
            "<b",
        ] {
            assert!(parse_html(bad).is_err(), "{bad} should be rejected");
        }
    }
}
