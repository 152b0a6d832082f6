//! XML text for the metalink documents: escaping (decision 7) and comment text.

/// Copies `message` as the text of an XML comment (both metalink versions' failure documents).
pub(crate) fn comment_into(out: &mut Vec<u8>, message: &str) {
    // The message may echo the client's repo or arch; `--` cannot stand inside an XML
    // comment (and `-->` would end it), so the second `-` of a pair is written as `%2D`.
    let mut after_dash = false;
    for &b in message.as_bytes() {
        if b == b'-' && after_dash {
            out.extend_from_slice(b"%2D");
            after_dash = false;
            continue;
        }
        after_dash = b == b'-';
        out.push(b);
    }
}

/// Copies `text`, escaped unless it is known to need none.
pub(crate) fn escape_unless(out: &mut Vec<u8>, text: &str, plain: bool) {
    if plain {
        out.extend_from_slice(text.as_bytes());
    } else {
        escape_into(out, text);
    }
}

pub(crate) fn escape_into(out: &mut Vec<u8>, text: &str) {
    escape_bytes_into(out, text.as_bytes());
}

fn special(b: u8) -> bool {
    matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'')
}

/// Whether a block has a byte to escape, written without branches so that it compiles to a
/// few vector compares.
#[inline(always)]
fn block_has_special(block: &[u8; 16]) -> bool {
    let mut hit = 0u8;
    for &b in block {
        hit |= ((b == b'&') | (b == b'<') | (b == b'>') | (b == b'"') | (b == b'\'')) as u8;
    }
    hit != 0
}

/// Whether `text` has a byte [`escape_bytes_into`] replaces, 16 bytes at a time.
fn needs_escape(text: &[u8]) -> bool {
    if text.len() < 16 {
        return text.iter().any(|&b| special(b));
    }
    let mut blocks = text.chunks_exact(16);
    for block in &mut blocks {
        if block.try_into().is_ok_and(block_has_special) {
            return true;
        }
    }
    // The last, partial block: the last 16 bytes, some of them checked twice.
    !blocks.remainder().is_empty()
        && text[text.len() - 16..]
            .try_into()
            .is_ok_and(block_has_special)
}

/// XML-escapes `& < > " '` (decision 7); everything else is copied, in runs between the
/// characters that need escaping (one copy for the usual text that has none).
pub(crate) fn escape_bytes_into(out: &mut Vec<u8>, text: &[u8]) {
    if !needs_escape(text) {
        out.extend_from_slice(text);
        return;
    }
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        let entity: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\'' => b"&apos;",
            _ => continue,
        };
        out.extend_from_slice(&text[start..i]);
        out.extend_from_slice(entity);
        start = i + 1;
    }
    out.extend_from_slice(&text[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_xml() {
        let mut out = Vec::new();
        escape_into(&mut out, "a&b<c>\"d'");
        assert_eq!(out, b"a&amp;b&lt;c&gt;&quot;d&apos;");
        for (text, want) in [
            ("", ""),
            ("plain", "plain"),
            ("&", "&amp;"),
            ("x&", "x&amp;"),
            ("&x", "&amp;x"),
            ("''", "&apos;&apos;"),
            ("é<ü>", "é&lt;ü&gt;"),
            ("0123456789abcdef", "0123456789abcdef"),
            ("0123456789abcde&", "0123456789abcde&amp;"),
            ("0123456789abcdef'", "0123456789abcdef&apos;"),
            (
                "https://mirror.example.org/pub/a\"b",
                "https://mirror.example.org/pub/a&quot;b",
            ),
        ] {
            let mut out = b"pre".to_vec();
            escape_into(&mut out, text);
            assert_eq!(out, format!("pre{want}").as_bytes(), "{text:?}");
        }
    }

    #[test]
    fn finds_every_special_byte_at_every_place() {
        for len in 0..50 {
            let clean = vec![b'a'; len];
            assert!(!needs_escape(&clean), "{len}");
            for at in 0..len {
                for b in [b'&', b'<', b'>', b'"', b'\''] {
                    let mut text = clean.clone();
                    text[at] = b;
                    assert!(needs_escape(&text), "{len} {at} {b}");
                }
            }
        }
    }
}
