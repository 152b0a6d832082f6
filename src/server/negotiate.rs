//! The HTTP side of issue 13 (decisions 18 and 20): which metalink version a request's
//! `Accept` asks for, and the headers that follow from an answer: `Vary: Accept` on every
//! `/metalink` answer, and on a redirect the RFC 6249 `Link`s and the RFC 9530 `Repr-Digest`
//! that `answer` worked out, plus the `rel=describedby` link to the metalink of the same
//! request.

use hyper::header::{HeaderMap, HeaderName, HeaderValue, LINK, VARY};

use crate::answer::render::links::RedirectLinks;
use crate::answer::render::metalink4::{Version, CONTENT_TYPE as METALINK4};
use crate::answer::request::Mode;

const METALINK3: &str = "application/metalink+xml";
const REPR_DIGEST: HeaderName = HeaderName::from_static("repr-digest");

/// The metalink version the `Accept` header values ask for: version 4 only when
/// `application/metalink4+xml` is listed by name with a q-value above 0 and not lower than
/// that of `application/metalink+xml` (0 when that is not listed). Wildcards (`*/*`,
/// `application/*`) count for neither, so librepo's `*/*` keeps getting version 3. A media
/// range with a malformed q-value is ignored; so is a header value that is not UTF-8.
pub fn metalink_version<'a>(accept: impl IntoIterator<Item = &'a [u8]>) -> Version {
    // Quality in thousandths; None while not listed.
    let (mut v4, mut v3): (Option<u16>, Option<u16>) = (None, None);
    for value in accept {
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim();
            let slot = if media.eq_ignore_ascii_case(METALINK4) {
                &mut v4
            } else if media.eq_ignore_ascii_case(METALINK3) {
                &mut v3
            } else {
                continue;
            };
            let mut q = Some(1000);
            for param in parts {
                let (name, value) = param.split_once('=').unwrap_or((param, ""));
                if name.trim().eq_ignore_ascii_case("q") {
                    q = qvalue(value.trim());
                    // Parameters after `q` are accept-extensions (RFC 7231), not ours.
                    break;
                }
            }
            if let Some(q) = q {
                *slot = Some(slot.map_or(q, |old| old.max(q)));
            }
        }
    }
    match v4 {
        Some(q4) if q4 > 0 && q4 >= v3.unwrap_or(0) => Version::V4,
        _ => Version::V3,
    }
}

/// An RFC 9110 qvalue (`0`, `0.5`, `1.000`...) in thousandths; `None` if malformed.
fn qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The `Link` to the version 4 metalink of a redirect request: its path with `/mirrorlist`
/// made `/metalink`, its query without the `redirect` parameter, as a relative reference.
pub fn describedby(path: &str, query: &str) -> String {
    let base = path.strip_suffix("mirrorlist").unwrap_or(path);
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("redirect"))
        .collect();
    let mut target = format!("{base}metalink");
    if !kept.is_empty() {
        target.push('?');
        target.push_str(&kept.join("&"));
    }
    let target = target.replace('<', "%3C").replace('>', "%3E");
    format!("<{target}>; rel=describedby; type=\"{METALINK4}\"")
}

/// Adds the headers of issue 13 to a response of `mode` to the request for `path?query`.
/// A value that cannot be a header (never for data `build` accepted) is left out and logged.
pub fn add_headers(
    headers: &mut HeaderMap,
    mode: Mode,
    links: Option<&RedirectLinks>,
    path: &str,
    query: &str,
) {
    if mode == Mode::Metalink {
        headers.insert(VARY, HeaderValue::from_static("Accept"));
    }
    let Some(links) = links else {
        return;
    };
    let described = links.described.then(|| describedby(path, query));
    for value in links.duplicates.iter().chain(described.as_ref()) {
        match HeaderValue::try_from(value.as_str()) {
            Ok(v) => {
                headers.append(LINK, v);
            }
            Err(_) => tracing::warn!(link = %value, "Link value is not a valid header; left out"),
        }
    }
    if let Some(digest) = links
        .repr_digest
        .as_deref()
        .and_then(|d| HeaderValue::try_from(d).ok())
    {
        headers.insert(REPR_DIGEST, digest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(accept: &[&str]) -> Version {
        metalink_version(accept.iter().map(|a| a.as_bytes()))
    }

    #[test]
    fn negotiates_as_the_issue_says() {
        use Version::{V3, V4};
        for (accept, want) in [
            (&[][..], V3),
            (&["*/*"][..], V3), // dnf / librepo
            (
                &["*/*,application/metalink4+xml,application/metalink+xml"],
                V4,
            ), // aria2 1.36
            (&["application/metalink4+xml"], V4),
            (
                &["application/metalink4+xml;q=0.5, application/metalink+xml"],
                V3,
            ),
            (&["application/metalink4+xml;q=0.5"], V4),
            (&["application/metalink4+xml;q=0"], V3),
            (&["application/metalink4+xml; q=0.000"], V3),
            (
                &["application/metalink+xml;q=0.9, application/metalink4+xml;q=0.9"],
                V4,
            ),
            (
                &["application/metalink+xml;q=0.91, application/metalink4+xml;q=0.9"],
                V3,
            ),
            (
                &["application/metalink+xml;q=0, application/metalink4+xml;q=0.001"],
                V4,
            ),
            (&["  Application/Metalink4+XML ; Q=1.0 ,*/*;q=0.1"], V4),
            (
                &["application/metalink+xml", "application/metalink4+xml"],
                V4,
            ),
            (&["application/metalink+xml"], V3),
            (&["application/*"], V3),
            (&["application/metalink4+xml;q=2"], V3),
            (&["application/metalink4+xml;q=abc"], V3),
            (&["application/metalink4+xml;q=0.1234"], V3),
            (&["application/metalink4+xml;q="], V3),
            (&["application/metalink4+xml;charset=utf-8"], V4),
            (
                &["application/metalink4+xml;q=0.5;ext=x, application/metalink+xml;q=0.4"],
                V4,
            ),
            (&["application/metalink4+xmlx"], V3),
            (
                &["text/html, application/metalink4+xml;q=0.2, application/metalink4+xml"],
                V4,
            ),
        ] {
            assert_eq!(version(accept), want, "{accept:?}");
        }
        assert_eq!(
            metalink_version([&b"application/metalink4+xml\xff"[..]]),
            V3
        );
    }

    #[test]
    fn qvalues_parse_to_thousandths() {
        for (text, want) in [
            ("0", Some(0)),
            ("1", Some(1000)),
            ("1.", Some(1000)),
            ("1.000", Some(1000)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.123", Some(123)),
            ("1.001", None),
            (".5", None),
            ("-0", None),
            ("0.5x", None),
            ("", None),
        ] {
            assert_eq!(qvalue(text), want, "{text:?}");
        }
    }

    #[test]
    fn describedby_drops_redirect_and_names_the_metalink() {
        assert_eq!(
            describedby("/mirrorlist", "path=a/b/f.rpm&redirect=1&country=de"),
            "</metalink?path=a/b/f.rpm&country=de>; rel=describedby; type=\"application/metalink4+xml\""
        );
        assert_eq!(
            describedby("/x/mirrorlist", "redirect&path=p&redirect=0"),
            "</x/metalink?path=p>; rel=describedby; type=\"application/metalink4+xml\""
        );
        assert_eq!(
            describedby("/mirrorlist", "redirect=1"),
            "</metalink>; rel=describedby; type=\"application/metalink4+xml\""
        );
    }

    #[test]
    fn headers_follow_the_reply() {
        let links = RedirectLinks {
            duplicates: vec![
                "<http://a/f>; rel=duplicate; pri=2".into(),
                "bad\nvalue".into(),
            ],
            described: true,
            repr_digest: Some("sha-256=:AA==:".into()),
        };
        let mut headers = HeaderMap::new();
        add_headers(
            &mut headers,
            Mode::Mirrorlist,
            Some(&links),
            "/mirrorlist",
            "path=f&redirect=1",
        );
        let all: Vec<_> = headers.get_all(LINK).iter().collect();
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0], "<http://a/f>; rel=duplicate; pri=2");
        assert!(all[1].to_str().unwrap().contains("rel=describedby"));
        assert_eq!(headers[REPR_DIGEST], "sha-256=:AA==:");
        assert!(headers.get(VARY).is_none());
        let mut headers = HeaderMap::new();
        add_headers(&mut headers, Mode::Metalink, None, "/metalink", "");
        assert_eq!(headers[VARY], "Accept");
        assert_eq!(headers.len(), 1);
    }
}
