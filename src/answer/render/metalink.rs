//! The Metalink 3.0 document (docs/protocol.md section 9.2) and its failure form (9.3).

use super::kept;
use super::urls::{for_each_ranked, Ranked, UrlPolicy, UrlTail};
use crate::answer::select::Chosen;
use crate::snapshot::model::{ArchivedDirectory, ArchivedFileDetails, HostIdx};
use crate::snapshot::Snapshot;
use rkyv::rend::u32_le;

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
    comment_into(&mut out, message);
    out.extend_from_slice(b"\n-->\n</metalink>\n");
    out
}

/// Copies `message` as the text of an XML comment (also used by the Metalink 4 failure
/// document).
pub(super) fn comment_into(out: &mut Vec<u8>, message: &str) {
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
    let indent = indent.as_bytes();
    let ts = d.timestamp.to_native();
    if ts != 0 {
        out.extend_from_slice(indent);
        out.extend_from_slice(b"<mm0:timestamp>");
        push_decimal(out, ts);
        out.extend_from_slice(b"</mm0:timestamp>\n");
    }
    let size = d.size.to_native();
    if size != 0 {
        out.extend_from_slice(indent);
        out.extend_from_slice(b"<size>");
        push_decimal(out, size);
        out.extend_from_slice(b"</size>\n");
    }
    out.extend_from_slice(indent);
    out.extend_from_slice(b"<verification>\n");
    for (kind, value) in [
        ("md5", &d.md5),
        ("sha1", &d.sha1),
        ("sha256", &d.sha256),
        ("sha512", &d.sha512),
    ] {
        if !value.is_empty() {
            out.extend_from_slice(indent);
            out.extend_from_slice(b" <hash type=\"");
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(b"\">");
            escape_into(out, value.as_str());
            out.extend_from_slice(b"</hash>\n");
        }
    }
    out.extend_from_slice(indent);
    out.extend_from_slice(b"</verification>\n");
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
    metalink_kept_or_not(snapshot, pubdate, dir, file, versions, hosts, policy, true)
}

/// [`metalink`], with `keep` false making every element from its parts (for the test that
/// they agree).
#[allow(clippy::too_many_arguments)]
fn metalink_kept_or_not(
    snapshot: &Snapshot,
    pubdate: &str,
    dir: &ArchivedDirectory,
    file: &str,
    versions: &[ArchivedFileDetails],
    hosts: &[Chosen<'_>],
    policy: UrlPolicy<'_>,
    keep: bool,
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
    // With every URL (the default), each host's elements as this thread kept them for the
    // directory, the preference written between their pieces; otherwise made from parts.
    let pieces = match policy {
        UrlPolicy::All if keep => kept::metalink_urls(snapshot, dir, file),
        _ => None,
    };
    let mut elements = None;
    for chosen in hosts {
        let listed = match &pieces {
            Some(kept) => kept.push(&mut out, chosen.at, preference),
            None => elements
                .get_or_insert_with(|| UrlElements::new(snapshot, dir, file, policy))
                .push(
                    &mut out,
                    chosen.host,
                    chosen.entry.public,
                    chosen.urls,
                    |out| push_decimal(out, preference),
                ),
        };
        if listed > 0 {
            preference = preference.saturating_sub(1).max(1);
        }
    }
    out.extend_from_slice(b"   </resources>\n  </file>\n </files>\n</metalink>\n");
    out
}

/// What the `<url>` elements of one answer (or of one directory's hosts) share, made once:
/// the escaped `/subpath/file` and closing tag, and the opening `<url protocol="S" type="S`
/// of each scheme.
pub(super) struct UrlElements<'s> {
    snapshot: &'s Snapshot,
    tail: UrlTail,
    ranked: Ranked<'s>,
    /// By the snapshot's scheme index, and for the odd base URL without one, by scheme text.
    heads: Vec<Option<Vec<u8>>>,
    other_heads: Vec<(&'s str, Vec<u8>)>,
    /// `" location="CC" preference="`, then what follows the preference: the same for all
    /// URLs of a host.
    before_preference: Vec<u8>,
    after_preference: Vec<u8>,
}

impl<'s> UrlElements<'s> {
    pub(super) fn new(
        snapshot: &'s Snapshot,
        dir: &ArchivedDirectory,
        file: &str,
        policy: UrlPolicy<'s>,
    ) -> UrlElements<'s> {
        // Every URL ends with the same escaped `/subpath/file`; escaping goes byte by byte,
        // so escaping the base and the tail apart is escaping the URL. The closing tag goes
        // with it.
        let tail = UrlTail::new(dir, Some(file)).map(|raw, out| {
            escape_bytes_into(out, raw);
            out.extend_from_slice(b"</url>\n");
        });
        UrlElements {
            snapshot,
            tail,
            ranked: Ranked::new(snapshot, policy),
            heads: vec![None; snapshot.schemes().len()],
            other_heads: Vec::new(),
            before_preference: Vec::with_capacity(48),
            after_preference: Vec::with_capacity(32),
        }
    }

    /// Appends the elements of `host`'s URLs (`urls`) that the policy keeps, calling
    /// `preference` where each one's preference value goes; returns how many.
    pub(super) fn push(
        &mut self,
        out: &mut Vec<u8>,
        host: HostIdx,
        public: bool,
        urls: &[u32_le],
        mut preference: impl FnMut(&mut Vec<u8>),
    ) -> usize {
        let snapshot = self.snapshot;
        let location = snapshot.host(host).map_or("", |h| h.country.as_str());
        self.before_preference.clear();
        self.before_preference.extend_from_slice(b"\" location=\"");
        escape_into(&mut self.before_preference, location);
        self.before_preference
            .extend_from_slice(b"\" preference=\"");
        self.after_preference.clear();
        self.after_preference.push(b'"');
        if !public {
            self.after_preference
                .extend_from_slice(b" mm0:private=\"True\"");
        }
        self.after_preference.push(b'>');
        let Self {
            tail,
            ranked,
            heads,
            other_heads,
            before_preference,
            after_preference,
            ..
        } = self;
        for_each_ranked(snapshot, urls, ranked, |at, base| {
            let head = match snapshot.base_url_scheme(at) {
                Some(id) => heads[usize::from(id)]
                    .get_or_insert_with(|| url_head(&snapshot.schemes()[usize::from(id)])),
                None => {
                    // The text before the first `:`, or all of it.
                    let scheme = base.split_once(':').map_or(base, |(s, _)| s);
                    match other_heads.iter().position(|(s, _)| *s == scheme) {
                        Some(i) => &other_heads[i].1,
                        None => {
                            other_heads.push((scheme, url_head(scheme)));
                            &other_heads[other_heads.len() - 1].1
                        }
                    }
                }
            };
            // Markup in base URLs is looked for once, at load.
            let plain = !snapshot.base_url_has_markup(at);
            out.extend_from_slice(head);
            out.extend_from_slice(before_preference);
            preference(out);
            out.extend_from_slice(after_preference);
            escape_unless(out, base, plain);
            out.extend_from_slice(tail.after(base));
        })
    }
}

/// `    <url protocol="S" type="S`.
fn url_head(scheme: &str) -> Vec<u8> {
    let mut head = b"    <url protocol=\"".to_vec();
    escape_into(&mut head, scheme);
    head.extend_from_slice(b"\" type=\"");
    escape_into(&mut head, scheme);
    head
}

/// Appends `n` in decimal (what `write!(out, "{n}")` writes, without the formatter).
pub(super) fn push_decimal(out: &mut Vec<u8>, n: impl Into<u64>) {
    let mut n: u64 = n.into();
    let mut digits = [0u8; 20];
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

/// Copies `text`, escaped unless it is known to need none.
pub(super) fn escape_unless(out: &mut Vec<u8>, text: &str, plain: bool) {
    if plain {
        out.extend_from_slice(text.as_bytes());
    } else {
        escape_into(out, text);
    }
}

pub(super) fn escape_into(out: &mut Vec<u8>, text: &str) {
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
pub(super) fn escape_bytes_into(out: &mut Vec<u8>, text: &[u8]) {
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
    fn failure_comment_cannot_be_closed_by_the_message() {
        let doc = failure("Mon, 23 Nov 2026 13:07:54 GMT", "# repo = x--><evil/> ---");
        let text = String::from_utf8(doc).unwrap();
        let comment = text.split("<!-- ").nth(1).unwrap();
        assert_eq!(comment, "# repo = x-%2D><evil/> -%2D-\n-->\n</metalink>\n");
        assert_eq!(
            text.matches("--").count(),
            2,
            "only the comment's own delimiters"
        );
    }

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

    /// The `<url>` lines as first written: one URL at a time, escaped byte by byte.
    fn straightforward_urls(
        snapshot: &Snapshot,
        dir: &ArchivedDirectory,
        file: &str,
        hosts: &[Chosen<'_>],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut preference: u32 = 100;
        for chosen in hosts {
            let location = snapshot
                .host(chosen.host)
                .map_or("", |h| h.country.as_str());
            let mut kept = 0;
            for u in chosen.urls.iter() {
                let base = snapshot.base_url(u.to_native());
                let scheme = base.split_once(':').map_or(base, |(s, _)| s);
                let naive = |text: &[u8], out: &mut Vec<u8>| {
                    for &b in text {
                        match b {
                            b'&' => out.extend_from_slice(b"&amp;"),
                            b'<' => out.extend_from_slice(b"&lt;"),
                            b'>' => out.extend_from_slice(b"&gt;"),
                            b'"' => out.extend_from_slice(b"&quot;"),
                            b'\'' => out.extend_from_slice(b"&apos;"),
                            _ => out.push(b),
                        }
                    }
                };
                out.extend_from_slice(b"    <url protocol=\"");
                naive(scheme.as_bytes(), &mut out);
                out.extend_from_slice(b"\" type=\"");
                naive(scheme.as_bytes(), &mut out);
                out.extend_from_slice(b"\" location=\"");
                naive(location.as_bytes(), &mut out);
                out.extend_from_slice(format!("\" preference=\"{preference}\"").as_bytes());
                if !chosen.entry.public {
                    out.extend_from_slice(b" mm0:private=\"True\"");
                }
                out.push(b'>');
                let mut url = Vec::new();
                crate::answer::render::urls::push_url(&mut url, base, dir, Some(file));
                naive(&url, &mut out);
                out.extend_from_slice(b"</url>\n");
                kept += 1;
            }
            if kept > 0 {
                preference = preference.saturating_sub(1).max(1);
            }
        }
        out
    }

    #[test]
    fn urls_match_the_straightforward_rendering() {
        use crate::answer::select::Group;
        use crate::snapshot::model::{Directory, Host, SnapshotData};
        let bases = [
            "https://a.example/pub",
            "http://b.example/x&y/",
            "ftp://c'd.example",
            "rsync://e\"f.example/0123456789abcdef<",
            "no-scheme",
            "<x>:y/",
            "",
            "/",
        ];
        let countries = ["US", "A&B", "", "<'>"];
        let hosts: Vec<Host> = (0..countries.len())
            .map(|i| Host {
                country: countries[i].into(),
                weight: 1,
                ..Host::default()
            })
            .collect();
        let by_host: Vec<(u32, bool, Vec<u32>)> = vec![
            (0, true, vec![0, 1, 2]),
            (1, false, vec![3, 4]),
            (2, true, vec![]),
            (3, true, vec![5, 6, 7, 0]),
        ];
        for (subpath, file) in ["", "s/u\"b", "a&b/"]
            .into_iter()
            .flat_map(|s| ["repomd.xml", "a<b>'c", ""].map(|f| (s, f)))
        {
            let data = SnapshotData {
                hosts: hosts.clone(),
                base_urls: bases.iter().map(|b| b.to_string()).collect(),
                directories: vec![Directory {
                    name: "d".into(),
                    subpath: subpath.into(),
                    ..Directory::default()
                }
                .with_hosts(by_host.clone())],
                ..SnapshotData::default()
            };
            let snapshot = Snapshot::from_data(&data).unwrap();
            let dir = snapshot.directory("d").unwrap();
            let chosen: Vec<Chosen<'_>> = dir
                .by_host
                .iter()
                .enumerate()
                .rev()
                .map(|(at, entry)| Chosen {
                    host: entry.host.to_native(),
                    group: Group::Global,
                    entry,
                    at,
                    urls: dir.urls_of(entry),
                })
                .collect();
            // A new snapshot each time: what this thread keeps is for this file. Asked
            // twice: the first makes the kept elements, the second reads them.
            let want = String::from_utf8(straightforward_urls(&snapshot, dir, file, &chosen));
            let want = want.unwrap();
            let by_parts = metalink_kept_or_not(
                &snapshot,
                "date",
                dir,
                file,
                &[],
                &chosen,
                UrlPolicy::All,
                false,
            );
            for _ in 0..2 {
                let doc = metalink(&snapshot, "date", dir, file, &[], &chosen, UrlPolicy::All);
                assert_eq!(doc, by_parts, "{subpath:?} {file:?}");
                let text = String::from_utf8(doc).unwrap();
                assert!(
                    text.contains(&want),
                    "{subpath:?} {file:?}:\n{text}\nwant:\n{want}"
                );
            }
            assert!(kept::metalink_urls(&snapshot, dir, file).is_some());
        }
    }

    #[test]
    fn decimals_match_the_formatter() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
