//! The Metalink 3.0 document (spec section 9.2) and its failure form (9.3).

use std::io::Write;

use super::urls::{for_each_kept, push_url, UrlPolicy};
use crate::select::Chosen;
use crate::snapshot::model::{ArchivedDirectory, ArchivedFileDetails};
use crate::snapshot::Snapshot;

fn head(out: &mut Vec<u8>, pubdate: &str) {
    out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<metalink version=\"3.0\" xmlns=\"http://www.metalinker.org/\" type=\"dynamic\" pubdate=\"");
    out.extend_from_slice(pubdate.as_bytes());
    out.extend_from_slice(
        b"\" generator=\"mirrormanager\" xmlns:mm0=\"http://fedorahosted.org/mirrormanager\">\n",
    );
}

/// The failure document: the header, then `message` in a comment.
pub fn failure(pubdate: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(320 + message.len());
    head(&mut out, pubdate);
    out.extend_from_slice(b"<!-- ");
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(b"\n-->\n</metalink>\n");
    out
}

/// The details of `file` in `dir`, newest first, if the directory has any.
pub fn details<'d>(dir: &'d ArchivedDirectory, file: &str) -> Option<&'d [ArchivedFileDetails]> {
    dir.files
        .binary_search_by(|f| f.name.as_str().cmp(file))
        .ok()
        .and_then(|i| dir.files.get(i))
        .map(|f| f.details.as_slice())
        .filter(|d| !d.is_empty())
}

fn describe(out: &mut Vec<u8>, d: &ArchivedFileDetails, indent: &str) {
    let ts = d.timestamp.to_native();
    if ts != 0 {
        let _ = writeln!(out, "{indent}<mm0:timestamp>{ts}</mm0:timestamp>");
    }
    let size = d.size.to_native();
    if size != 0 {
        let _ = writeln!(out, "{indent}<size>{size}</size>");
    }
    let _ = writeln!(out, "{indent}<verification>");
    for (kind, value) in [
        ("md5", &d.md5),
        ("sha1", &d.sha1),
        ("sha256", &d.sha256),
        ("sha512", &d.sha512),
    ] {
        if !value.is_empty() {
            let _ = write!(out, "{indent} <hash type=\"{kind}\">");
            escape_into(out, value.as_str());
            out.extend_from_slice(b"</hash>\n");
        }
    }
    let _ = writeln!(out, "{indent}</verification>");
}

/// The success document for `file` with the given details and hosts.
#[allow(clippy::too_many_arguments)]
pub fn metalink(
    snapshot: &Snapshot,
    pubdate: &str,
    dir: &ArchivedDirectory,
    file: &str,
    versions: &[ArchivedFileDetails],
    hosts: &[Chosen<'_>],
    policy: UrlPolicy<'_>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 + hosts.len() * 3 * 200);
    head(&mut out, pubdate);
    out.extend_from_slice(b" <files>\n  <file name=\"");
    escape_into(&mut out, file);
    out.extend_from_slice(b"\">\n");
    if let Some((current, older)) = versions.split_first() {
        describe(&mut out, current, "   ");
        if !older.is_empty() {
            out.extend_from_slice(b"   <mm0:alternates>\n");
            for d in older {
                out.extend_from_slice(b"    <mm0:alternate>\n");
                describe(&mut out, d, "      ");
                out.extend_from_slice(b"    </mm0:alternate>\n");
            }
            out.extend_from_slice(b"   </mm0:alternates>\n");
        }
    }
    out.extend_from_slice(b"   <resources maxconnections=\"1\">\n");
    let mut preference: u32 = 100;
    let mut url = Vec::with_capacity(256);
    for chosen in hosts {
        let location = snapshot
            .host(chosen.host)
            .map_or("", |h| h.country.as_str());
        let private = !chosen.entry.public;
        let kept = for_each_kept(snapshot, chosen.entry, policy, |base| {
            let scheme = base.split_once(':').map_or(base, |(s, _)| s);
            out.extend_from_slice(b"    <url protocol=\"");
            escape_into(&mut out, scheme);
            out.extend_from_slice(b"\" type=\"");
            escape_into(&mut out, scheme);
            out.extend_from_slice(b"\" location=\"");
            escape_into(&mut out, location);
            out.extend_from_slice(b"\" preference=\"");
            push_decimal(&mut out, preference);
            out.push(b'"');
            if private {
                out.extend_from_slice(b" mm0:private=\"True\"");
            }
            out.push(b'>');
            url.clear();
            push_url(&mut url, base, dir, Some(file));
            escape_bytes_into(&mut out, &url);
            out.extend_from_slice(b"</url>\n");
        });
        if kept > 0 {
            preference = preference.saturating_sub(1).max(1);
        }
    }
    out.extend_from_slice(b"   </resources>\n  </file>\n </files>\n</metalink>\n");
    out
}

/// Appends `n` in decimal (what `write!(out, "{n}")` writes, without the formatter).
fn push_decimal(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn escape_into(out: &mut Vec<u8>, text: &str) {
    escape_bytes_into(out, text.as_bytes());
}

/// XML-escapes `& < > " '` (decision 7); everything else is copied, in runs between the
/// characters that need escaping (one copy for the usual text that has none).
fn escape_bytes_into(out: &mut Vec<u8>, text: &[u8]) {
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
    fn failure_document_matches_the_production_layout() {
        let doc = failure("Mon, 23 Nov 2026 13:07:54 GMT", "repo disabled");
        let text = String::from_utf8(doc).unwrap();
        assert!(text.ends_with("<!-- repo disabled\n-->\n</metalink>\n"));
        assert_eq!(text.len(), 265, "reference 58 is 265 bytes");
    }

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
        ] {
            let mut out = b"pre".to_vec();
            escape_into(&mut out, text);
            assert_eq!(out, format!("pre{want}").as_bytes(), "{text:?}");
        }
    }

    #[test]
    fn decimals_match_the_formatter() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u32::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
