//! The Metalink 3.0 document (docs/protocol.md section 9.2) and its failure form (9.3).

use super::decimal::push_decimal;
use super::kept;
use super::url_elements::UrlElements;
use super::urls::UrlPolicy;
use super::xml::{comment_into, escape_into};
use crate::answer::select::Chosen;
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
    comment_into(&mut out, message);
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
                    chosen.urls(dir),
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
            for u in chosen.urls(dir).iter() {
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
            let mut chosen = Chosen::every_host(dir);
            chosen.reverse();
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

    /// A directory of 160 hosts (120 with URLs) answered in full: places 1 (preference 100), 2 to 91 (two
    /// digits), 92 to 99 (one) and past 100 (1 again) take the kept elements' three ways of
    /// writing a preference, each of which must give what the elements made from parts give.
    #[test]
    fn kept_elements_match_at_every_width_of_preference() {
        use crate::snapshot::model::{Directory, Host, SnapshotData};
        let hosts: Vec<Host> = (0..160)
            .map(|i| Host {
                country: ["DE", "A&B", ""][i % 3].into(),
                weight: 1,
                ..Host::default()
            })
            .collect();
        let base_urls: Vec<String> = (0..160 * 3)
            .map(|u| format!("{}://m{u}.example/p", ["https", "http", "rsync"][u % 3]))
            .collect();
        // Hosts with none, one, two and three URLs; some private.
        let by_host: Vec<(u32, bool, Vec<u32>)> = (0..160u32)
            .map(|h| (h, h % 7 != 0, (0..h % 4).map(|k| h * 3 + k % 3).collect()))
            .collect();
        let data = SnapshotData {
            hosts,
            base_urls,
            directories: vec![Directory {
                name: "d".into(),
                subpath: "s/d".into(),
                ..Directory::default()
            }
            .with_hosts(by_host)],
            ..SnapshotData::default()
        };
        let snapshot = Snapshot::from_data(&data).unwrap();
        let dir = snapshot.directory("d").unwrap();
        let mut chosen = Chosen::every_host(dir);
        for round in 0..3 {
            // Another order each round: the first places go to hosts with and without URLs.
            chosen.rotate_left(37 * round + 1);
            let render = |keep| {
                let (file, policy) = ("repomd.xml", UrlPolicy::All);
                metalink_kept_or_not(&snapshot, "date", dir, file, &[], &chosen, policy, keep)
            };
            // Made from parts, then from the kept elements (`metalink` keeps).
            let (by_parts, kept) = (render(false), render(true));
            let text = String::from_utf8(kept.clone()).unwrap();
            for preference in ["100", "57", "10", "9", "2", "1"] {
                assert!(
                    text.contains(&format!(" preference=\"{preference}\"")),
                    "round {round}: no preference {preference}"
                );
            }
            assert_eq!(text, String::from_utf8(by_parts).unwrap(), "round {round}");
        }
        assert!(kept::metalink_urls(&snapshot, dir, "repomd.xml").is_some());
    }
}
