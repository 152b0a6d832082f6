//! The Metalink 4 document (RFC 5854) and its failure form: an addition beyond MirrorManager
//! (issue 13, decisions 18-20), sent only when the request's `Accept` asks for it
//! ([`Version::V4`]); the version 3 document of [`super::metalink`] stays the default, byte for
//! byte what librepo reads.
//!
//! ```text
//! <?xml version="1.0" encoding="utf-8"?>
//! <metalink xmlns="urn:ietf:params:xml:ns:metalink">
//!  <published>2026-01-01T00:00:00Z</published>
//!  <generator>mirrorlist/0.1.0</generator>
//!  <file name="repomd.xml">
//!   <size>…</size>
//!   <hash type="sha-256">…</hash>
//!   <url location="de" priority="1">https://…/repodata/repomd.xml</url>
//!  </file>
//! </metalink>
//! ```

use super::decimal::push_decimal;
use super::urls::{for_each_ranked, Ranked, UrlPolicy, UrlTail};
use super::xml::{comment_into, escape_bytes_into, escape_into, escape_unless};
use crate::answer::select::Chosen;
use crate::snapshot::model::{ArchivedDirectory, ArchivedFileDetails};
use crate::snapshot::Snapshot;

/// The media type of RFC 5854 section 7.
pub const CONTENT_TYPE: &str = "application/metalink4+xml";
/// The namespace of RFC 5854 section 4.
pub const NAMESPACE: &str = "urn:ietf:params:xml:ns:metalink";

/// Which metalink document a `/metalink` request gets (the server works it out from `Accept`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Version {
    /// Metalink 3.0 with MirrorManager's extensions (`application/metalink+xml`): the default.
    #[default]
    V3,
    /// RFC 5854 (`application/metalink4+xml`).
    V4,
}

impl Version {
    /// The content type of the document.
    pub fn content_type(self) -> &'static str {
        match self {
            Version::V3 => "application/metalink+xml",
            Version::V4 => CONTENT_TYPE,
        }
    }
}

const HEAD: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">\n";

/// The generator named in every document.
const GENERATOR: &str = concat!("mirrorlist/", env!("CARGO_PKG_VERSION"));

/// The failure document: an empty `<metalink>` with `message` in a comment, escaped as the
/// version 3 failure comment is (a `--` cannot appear).
pub fn failure(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD.len() + 32 + message.len());
    out.extend_from_slice(HEAD);
    out.extend_from_slice(b"<!-- ");
    comment_into(&mut out, message);
    out.extend_from_slice(b"\n-->\n</metalink>\n");
    out
}

/// The hashes of a file, under their IANA "Hash Function Textual Names", strongest first.
fn hashes(d: &ArchivedFileDetails) -> [(&'static str, &str); 4] {
    [
        ("sha-256", d.sha256.as_str()),
        ("sha-512", d.sha512.as_str()),
        ("sha-1", d.sha1.as_str()),
        ("md5", d.md5.as_str()),
    ]
}

/// The v4 `priority` of the host the v3 document gives `preference` (100 first, one less per
/// host, never below 1): 1 first, one more per host, at most 100, so equal priorities are
/// exactly the v3 ties. Always within RFC 5854's 1..=999999.
pub fn priority_of(preference: u32) -> u32 {
    101u32.saturating_sub(preference).clamp(1, 999_999)
}

/// The success document for `file`: the newest of `versions` (older ones have no v4 form and
/// are left out) and the URLs of `hosts` in answer order.
#[allow(clippy::too_many_arguments)]
pub fn metalink(
    snapshot: &Snapshot,
    published: u64,
    dir: &ArchivedDirectory,
    file: &str,
    versions: &[ArchivedFileDetails],
    hosts: &[Chosen<'_>],
    policy: UrlPolicy<'_>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 + hosts.len() * 3 * 160);
    out.extend_from_slice(HEAD);
    out.extend_from_slice(b" <published>");
    out.extend_from_slice(rfc3339(published).as_bytes());
    out.extend_from_slice(b"</published>\n <generator>");
    out.extend_from_slice(GENERATOR.as_bytes());
    out.extend_from_slice(b"</generator>\n <file name=\"");
    escape_into(&mut out, file);
    out.extend_from_slice(b"\">\n");
    if let Some(current) = versions.first() {
        let size = current.size.to_native();
        if size != 0 {
            out.extend_from_slice(b"  <size>");
            push_decimal(&mut out, size);
            out.extend_from_slice(b"</size>\n");
        }
        for (kind, value) in hashes(current) {
            if !value.is_empty() {
                out.extend_from_slice(b"  <hash type=\"");
                out.extend_from_slice(kind.as_bytes());
                out.extend_from_slice(b"\">");
                escape_into(&mut out, value);
                out.extend_from_slice(b"</hash>\n");
            }
        }
    }
    let tail = UrlTail::new(dir, Some(file)).map(|raw, out| {
        escape_bytes_into(out, raw);
        out.extend_from_slice(b"</url>\n");
    });
    let ranked = Ranked::new(snapshot, policy);
    let mut preference: u32 = 100;
    let mut host_part = Vec::with_capacity(48);
    for chosen in hosts {
        let country = snapshot
            .host(chosen.host)
            .map_or("", |h| h.country.as_str());
        host_part.clear();
        host_part.extend_from_slice(b"  <url");
        // RFC 5854 4.2.16.2: an ISO 3166-1 alpha-2 code; none when the country is unknown.
        if !country.is_empty() {
            host_part.extend_from_slice(b" location=\"");
            escape_into(&mut host_part, &country.to_ascii_lowercase());
            host_part.push(b'"');
        }
        host_part.extend_from_slice(b" priority=\"");
        push_decimal(&mut host_part, priority_of(preference));
        host_part.extend_from_slice(b"\">");
        let kept = for_each_ranked(snapshot, chosen.urls(dir), &ranked, |at, base| {
            out.extend_from_slice(&host_part);
            escape_unless(&mut out, base, !snapshot.base_url_has_markup(at));
            out.extend_from_slice(tail.after(base));
        });
        if kept > 0 {
            preference = preference.saturating_sub(1).max(1);
        }
    }
    out.extend_from_slice(b" </file>\n</metalink>\n");
    out
}

/// Unix seconds as an RFC 3339 date-time in UTC: `2026-01-01T00:00:00Z`.
pub fn rfc3339(secs: u64) -> String {
    let rest = secs % 86_400;
    let (y, m, d) = crate::clock::utc_date_of(secs);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::model::{Directory, FileDetails, FileEntry, Host, SnapshotData};
    use std::time::{Duration, SystemTime};

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3_723), "2000-02-29T01:02:03Z");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        for secs in [0, 86_399, 86_400, 1_795_439_232, 4_102_444_800] {
            let day = crate::answer::utc_date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
            assert!(rfc3339(secs).starts_with(&day), "{secs}");
        }
    }

    #[test]
    fn priorities_mirror_the_v3_preferences() {
        assert_eq!(priority_of(100), 1);
        assert_eq!(priority_of(99), 2);
        assert_eq!(priority_of(1), 100);
        assert_eq!(priority_of(0), 101);
        assert_eq!(priority_of(500), 1);
    }

    #[test]
    fn failure_comment_is_escaped_like_v3() {
        let text = String::from_utf8(failure("# repo = x--><evil/>")).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">\n<!-- # repo = x-%2D><evil/>\n-->\n</metalink>\n"
        );
    }

    #[test]
    fn document_lists_hashes_urls_and_priorities() {
        let hosts = vec![
            Host {
                country: "DE".into(),
                weight: 1,
                ..Host::default()
            },
            Host {
                country: "".into(),
                weight: 1,
                ..Host::default()
            },
            Host {
                country: "U&".into(),
                weight: 1,
                ..Host::default()
            },
        ];
        let data = SnapshotData {
            hosts,
            base_urls: vec![
                "https://a.example/pub".into(),
                "http://a.example/pub".into(),
                "https://b.example/x&y".into(),
            ],
            directories: vec![Directory {
                name: "d/repodata".into(),
                subpath: "d/repodata".into(),
                files: vec![FileEntry {
                    name: "repomd.xml".into(),
                    details: vec![
                        FileDetails {
                            timestamp: 5,
                            size: 42,
                            md5: "m".into(),
                            sha1: "".into(),
                            sha256: "ab<".into(),
                            sha512: "c".into(),
                        },
                        FileDetails {
                            timestamp: 4,
                            size: 41,
                            sha256: "older".into(),
                            ..FileDetails::default()
                        },
                    ],
                }],
                ..Directory::default()
            }
            .with_hosts([
                (0, true, vec![0, 1]),
                (1, false, vec![]),
                (2, true, vec![2]),
            ])],
            ..SnapshotData::default()
        };
        let snapshot = Snapshot::from_data(&data).unwrap();
        let dir = snapshot.directory("d/repodata").unwrap();
        let chosen = Chosen::every_host(dir);
        let versions = super::super::metalink::details(dir, "repomd.xml").unwrap();
        let doc = metalink(
            &snapshot,
            1_767_225_600,
            dir,
            "repomd.xml",
            versions,
            &chosen,
            UrlPolicy::All,
        );
        let want = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>
<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">
 <published>2026-01-01T00:00:00Z</published>
 <generator>{GENERATOR}</generator>
 <file name=\"repomd.xml\">
  <size>42</size>
  <hash type=\"sha-256\">ab&lt;</hash>
  <hash type=\"sha-512\">c</hash>
  <hash type=\"md5\">m</hash>
  <url location=\"de\" priority=\"1\">https://a.example/pub/d/repodata/repomd.xml</url>
  <url location=\"de\" priority=\"1\">http://a.example/pub/d/repodata/repomd.xml</url>
  <url location=\"u&amp;\" priority=\"2\">https://b.example/x&amp;y/d/repodata/repomd.xml</url>
 </file>
</metalink>
"
        );
        assert_eq!(String::from_utf8(doc).unwrap(), want);
    }
}
